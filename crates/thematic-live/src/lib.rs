//! The live report of `thematic watch --serve`: report.html over HTTP on
//! 127.0.0.1 only, under a secret path, with a small script that asks each
//! second whether a newer run has finished and, when one has, puts the new
//! report in place of the old without a reload, outlines the heat-map cells
//! that changed and lists what the runs changed. The report file on disk
//! stays script-free. Beside it, under `work`, the workbench (see
//! [`workbench`]), where a person codes and reviews.

mod workbench;

pub use workbench::Workbench;

use std::collections::VecDeque;
use std::fmt::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use anyhow::{anyhow, Context, Result};
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::workbench::{failure, Tokens, MOST_BODY_BYTES};

/// What the page shows until the first run finishes; it reloads into the report then.
const WAITING_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>thematic</title>\n</head>\n<body>\n<main>\n<p>The first run is under way; the report appears here when it finishes.</p>\n</main>\n</body>\n</html>\n";

/// Runs whose changes are kept for pages that missed some.
const RUNS_KEPT: usize = 100;

/// Requests answered at once; more wait to be accepted. Pages ask once a
/// second, so only a misbehaving client comes near it.
const MOST_REQUESTS_IN_FLIGHT: usize = 32;

/// The banner's look, put with the banner before the served page's `</body>`.
const LIVE_STYLE: &str = "<style>
#live { position: fixed; right: 1rem; bottom: 1rem; max-width: 28rem; background: #fffbea; border: 1px solid #d69e2e; border-radius: 0.4rem; padding: 0.5rem 0.75rem; font-size: 0.9rem; box-shadow: 0 2px 6px rgba(0,0,0,.15); }
#live:empty { display: none; }
#live ul { margin: 0.25rem 0 0; padding-left: 1.2rem; }
#live button { float: right; margin-left: 0.5rem; }
td.changed { outline: 3px solid #d69e2e; outline-offset: -3px; }
@media print { #live { display: none; } }
</style>
";

/// The script that keeps the page current. It never changes (the run the
/// page shows is in the banner's `data-run`), so the Content-Security-Policy
/// allows exactly this script by its hash.
const LIVE_SCRIPT: &str = r#"
(() => {
  const live = document.getElementById("live");
  let shown = Number(live.dataset.run);
  let failure = null;
  let dismissed = false;
  let misses = 0;
  const cells = (root) => {
    const found = new Map();
    for (const cell of root.querySelectorAll("table.heatmap td[title]")) {
      const title = cell.getAttribute("title");
      found.set(title.slice(0, title.lastIndexOf(":")), cell);
    }
    return found;
  };
  const say = (heading, lines) => {
    live.replaceChildren();
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "×";
    close.setAttribute("aria-label", "Dismiss");
    close.addEventListener("click", () => {
      live.replaceChildren();
      dismissed = true;
    });
    const head = document.createElement("strong");
    head.textContent = heading;
    live.append(close, head);
    if (lines.length) {
      const list = document.createElement("ul");
      for (const line of lines) {
        const item = document.createElement("li");
        item.textContent = line;
        list.append(item);
      }
      live.append(list);
    }
  };
  const sayFailure = (changes) => say(shown === 0 ? "The first run failed" : "The last run failed; this is the report before it", [failure].concat(changes));
  const refresh = async () => {
    const info = await (await fetch("run", { cache: "no-store" })).json();
    if (misses >= 3) live.replaceChildren();
    misses = 0;
    if (info.run === shown) {
      if (info.error !== failure || (failure && !live.hasChildNodes() && !dismissed)) {
        failure = info.error;
        if (failure) sayFailure([]);
      }
      return;
    }
    if (shown === 0) {
      // From the waiting page: load the report whole, with its styles.
      location.reload();
      return;
    }
    const update = await (await fetch("update?since=" + shown, { cache: "no-store" })).json();
    const next = new DOMParser().parseFromString(update.html, "text/html");
    const main = next.querySelector("main");
    if (!main || !document.querySelector("main")) {
      location.reload();
      return;
    }
    const before = cells(document);
    let marked = 0;
    for (const [key, cell] of cells(next)) {
      const old = before.get(key);
      if (!old || old.textContent !== cell.textContent) {
        cell.classList.add("changed");
        marked += 1;
      }
    }
    document.querySelector("main").replaceWith(document.adoptNode(main));
    const header = next.querySelector("header");
    if (header && document.querySelector("header")) document.querySelector("header").replaceWith(document.adoptNode(header));
    const style = next.querySelector("head style");
    if (style && document.querySelector("head style")) document.querySelector("head style").textContent = style.textContent;
    document.title = next.title;
    const runs = update.run - shown;
    shown = update.run;
    failure = update.error;
    dismissed = false;
    const outlined = marked && before.size ? [marked + " heat-map cell" + (marked === 1 ? "" : "s") + " changed (outlined)"] : [];
    const changes = update.changes.concat(outlined);
    if (failure) {
      sayFailure(changes);
      return;
    }
    say("Updated at " + new Date(update.at).toLocaleTimeString() + (runs > 1 ? " (" + runs + " runs)" : ""), changes);
  };
  const poll = () => refresh().then(
    () => setTimeout(poll, 1000),
    () => {
      misses += 1;
      if (misses === 3) say("thematic watch has stopped; this is the last report it served", []);
      setTimeout(poll, misses < 3 ? 1000 : 5000);
    });
  setTimeout(poll, 1000);
})();
"#;

/// The Content-Security-Policy of every answer: nothing from elsewhere, the
/// page's own inline styles, and of scripts only the live script and the workbench's.
static POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = script_hash(LIVE_SCRIPT);
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}' 'sha256-{}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        *workbench::SCRIPT_HASH
    )
});

/// A script's SHA-256 as a Content-Security-Policy names it (base64).
fn script_hash(script: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script.as_bytes()))
}

/// What one run changed, for pages that have not shown it yet.
struct RunChanges {
    run: u64,
    at: String,
    changes: Vec<String>,
}

/// The latest report and what the runs before it changed.
struct Latest {
    /// Counts the runs that succeeded; a page compares it with the one it shows.
    run: u64,
    html: Arc<str>,
    runs: VecDeque<RunChanges>,
    /// Why the last run failed; `html` is still the last good run's report.
    error: Option<String>,
}

pub struct LiveReport {
    latest: Arc<Mutex<Latest>>,
    address: SocketAddr,
    /// The secret first part of every path: another user of this machine,
    /// who can reach its loopback address too, cannot guess it.
    token: String,
}

/// What every request is answered from.
struct Serving {
    latest: Arc<Mutex<Latest>>,
    port: u16,
    /// `/SECRET/`.
    prefix: String,
    workbench: Option<Arc<dyn Workbench>>,
    tokens: Tokens,
}

/// 128 random bits in hexadecimal.
fn random_hex() -> Result<String> {
    let mut secret = [0u8; 16];
    getrandom::fill(&mut secret).map_err(|error| anyhow!("drawing a secret: {error}"))?;
    Ok(secret.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    }))
}

impl LiveReport {
    /// Listens on 127.0.0.1:`port` (0: any free port) and answers in the
    /// background; with a `workbench`, serves the workbench page too.
    pub fn start(port: u16, workbench: Option<Arc<dyn Workbench>>) -> Result<LiveReport> {
        let token = random_hex().context("making the report's address")?;
        let server = Server::http((Ipv4Addr::LOCALHOST, port)).map_err(|error| {
            anyhow!("serving the report on 127.0.0.1:{port}: {error} (choose another port with --port)")
        })?;
        let address = server
            .server_addr()
            .to_ip()
            .context("serving the report: not listening on an IP address")?;
        let latest = Arc::new(Mutex::new(Latest {
            run: 0,
            html: Arc::from(WAITING_PAGE),
            runs: VecDeque::new(),
            error: None,
        }));
        let serving = Arc::new(Serving {
            latest: Arc::clone(&latest),
            port: address.port(),
            prefix: format!("/{token}/"),
            workbench,
            tokens: Tokens::default(),
        });
        std::thread::spawn(move || {
            let in_flight = Arc::new(AtomicUsize::new(0));
            for request in server.incoming_requests() {
                while in_flight.load(Ordering::Acquire) >= MOST_REQUESTS_IN_FLIGHT {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                in_flight.fetch_add(1, Ordering::AcqRel);
                let (serving, count) = (Arc::clone(&serving), Arc::clone(&in_flight));
                // A thread per request: a page that stops reading holds up no other.
                let started = std::thread::Builder::new().spawn(move || {
                    answer(request, &serving);
                    count.fetch_sub(1, Ordering::AcqRel);
                });
                if let Err(error) = started {
                    // The request is dropped unanswered; the page asks again.
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    tracing::warn!(%error, "no thread to answer a request for the live report");
                }
            }
        });
        Ok(LiveReport { latest, address, token })
    }

    pub fn url(&self) -> String {
        format!("http://{}/{}/", self.address, self.token)
    }

    /// Opens the report in the browser through a file only this user can
    /// read that sends the browser on to the address: the address itself on
    /// the browser's command line would show the secret to every user of the
    /// machine. The file must be kept until the browser has read it.
    pub fn open_in_browser(&self) -> Result<tempfile::NamedTempFile> {
        let mut doorway = tempfile::Builder::new()
            .prefix("thematic-live-report-")
            .suffix(".html")
            .tempfile()
            .context("making a file to open the report through")?;
        let url = self.url();
        std::io::Write::write_all(
            &mut doorway,
            format!("<!DOCTYPE html>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"refresh\" content=\"0;url={url}\">\n<title>thematic</title>\n<a href=\"{url}\">The live report</a>\n").as_bytes(),
        )
        .context("writing a file to open the report through")?;
        opener::open_browser(doorway.path()).context("opening the report in a browser")?;
        Ok(doorway)
    }

    /// A run finished: its report and what it changed.
    pub fn publish(&self, html: String, at: String, changes: Vec<String>) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        latest.run += 1;
        let run = latest.run;
        latest.runs.push_back(RunChanges { run, at, changes });
        if latest.runs.len() > RUNS_KEPT {
            latest.runs.pop_front();
        }
        latest.error = None;
        latest.html = Arc::from(html);
    }

    /// A run failed: the page keeps the last report and says why.
    pub fn failed(&self, error: String) {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner).error = Some(error);
    }
}

/// What `update` answers: the report and everything changed since the run a page shows.
#[derive(Serialize)]
struct Update<'a> {
    run: u64,
    at: &'a str,
    changes: Vec<&'a str>,
    error: Option<&'a str>,
    html: &'a str,
}

fn answer(mut request: Request, serving: &Serving) {
    let response = respond(&mut request, serving);
    if let Err(error) = request.respond(response) {
        tracing::debug!(%error, "answering a request for the live report");
    }
}

fn respond(request: &mut Request, serving: &Serving) -> Response<std::io::Cursor<Vec<u8>>> {
    let host = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str().to_string());
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let prefix = serving.prefix.as_str();
    if !host
        .as_deref()
        .is_some_and(|host| names_this_server(host, serving.port))
    {
        // A page elsewhere could reach this server through a host name it
        // points at 127.0.0.1 (DNS rebinding): only requests naming this
        // server itself are answered.
        return reply(
            403,
            "text/plain",
            "thematic serves the report only as http://127.0.0.1 or http://localhost\n".into(),
        );
    }
    let asked = match path.get(..prefix.len()) {
        Some(head) if same_secret(head, prefix) => Some(&path[prefix.len()..]),
        _ => None,
    };
    let workbench = serving.workbench.as_deref();
    match (request.method(), asked, workbench) {
        (Method::Post, Some(write), Some(workbench)) if WRITES.contains(&write) => match checked_body(request, serving)
        {
            Ok(body) => match write {
                "work/memo" => taken(&body, "memo", |change| workbench.write_memo(change)),
                "work/themes" => taken(&body, "change to the themes", |change| workbench.shape_themes(change)),
                _ => taken(&body, "decision", |decision| workbench.decide(decision)),
            },
            Err(refusal) => refusal,
        },
        (Method::Get | Method::Head, Some(asked), _) => read(asked, query, serving),
        (Method::Get | Method::Head, None, _) => not_found(),
        (_, Some(write), Some(_)) if WRITES.contains(&write) => {
            reply(405, "text/plain", "only POST\n".into()).with_header(header("Allow", "POST"))
        }
        _ => reply(405, "text/plain", "only GET and HEAD\n".into()).with_header(header("Allow", "GET, HEAD")),
    }
}

fn not_found() -> Response<std::io::Cursor<Vec<u8>>> {
    reply(
        404,
        "text/plain",
        "not found: the report's address is the one thematic watch printed\n".into(),
    )
}

/// What a GET under the secret path asks for.
fn read(asked: &str, query: &str, serving: &Serving) -> Response<std::io::Cursor<Vec<u8>>> {
    let latest = &serving.latest;
    match (asked, serving.workbench.as_deref()) {
        ("", _) => {
            let (html, run) = {
                let latest = latest.lock().unwrap_or_else(PoisonError::into_inner);
                (Arc::clone(&latest.html), latest.run)
            };
            reply(
                200,
                "text/html",
                with_live_part(&html, run, serving.workbench.is_some()),
            )
        }
        ("run", _) => {
            let latest = latest.lock().unwrap_or_else(PoisonError::into_inner);
            let body = serde_json::json!({ "run": latest.run, "error": latest.error }).to_string();
            reply(200, "application/json", body)
        }
        ("update", _) => {
            let since: u64 = query_value(query, "since").and_then(|n| n.parse().ok()).unwrap_or(0);
            let latest = latest.lock().unwrap_or_else(PoisonError::into_inner);
            reply(200, "application/json", update(&latest, since))
        }
        ("work", Some(_)) => match serving.tokens.issue() {
            Ok(token) => reply(200, "text/html", workbench::page(&token)),
            Err(error) => reply(500, "text/plain", format!("no token for the page: {error}\n")),
        },
        ("work/outline", Some(workbench)) => as_json(Ok(workbench.outline())),
        ("work/transcript", Some(workbench)) => {
            let id = query_value(query, "id").unwrap_or_default();
            as_json(workbench.transcript(&id))
        }
        _ => not_found(),
    }
}

/// What the page writes with, each a POST of JSON: its decisions, its memos, changes to the themes.
const WRITES: [&str; 3] = ["work/decide", "work/memo", "work/themes"];

/// The answer to a write of `body`, read as a `what` and handed to `write`.
fn taken<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
    write: impl FnOnce(T) -> Result<thematic_model::Saved, thematic_model::DeskError>,
) -> Response<std::io::Cursor<Vec<u8>>> {
    match serde_json::from_slice(body) {
        Ok(asked) => as_json(write(asked)),
        Err(error) => refused(400, &format!("not a {what} the workbench knows: {error}")),
    }
}

/// A write's answer when it is refused: its status and why, as JSON.
fn refused(status: u16, why: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    reply(
        status,
        "application/json",
        serde_json::json!({ "error": why }).to_string(),
    )
}

/// The body of a write the page sends (a decision, a memo): refused, and
/// written nowhere, unless it carries a token this server issued and comes
/// as JSON from this server's own origin.
fn checked_body(request: &mut Request, serving: &Serving) -> Result<Vec<u8>, Response<std::io::Cursor<Vec<u8>>>> {
    let field = |name: &'static str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    if !field("X-Thematic-Token").is_some_and(|token| serving.tokens.knows(&token)) {
        return Err(refused(
            403,
            "this page's token is missing or has lapsed: reload the workbench",
        ));
    }
    if field("Origin").is_some_and(|origin| !is_this_origin(&origin, serving.port)) {
        return Err(refused(
            403,
            "decisions are taken only from the workbench this server serves",
        ));
    }
    if !field("Content-Type").is_some_and(|kind| {
        kind.split(';')
            .next()
            .is_some_and(|k| k.trim().eq_ignore_ascii_case("application/json"))
    }) {
        return Err(refused(415, "a decision is sent as application/json"));
    }
    let mut body = Vec::new();
    let read = std::io::Read::read_to_end(
        &mut std::io::Read::take(request.as_reader(), MOST_BODY_BYTES as u64 + 1),
        &mut body,
    );
    if read.is_err() || body.len() > MOST_BODY_BYTES {
        return Err(refused(413, "the decision could not be read whole"));
    }
    Ok(body)
}

/// Whether an `Origin` header is this server's own: http, 127.0.0.1 or localhost, at its port.
fn is_this_origin(origin: &str, port: u16) -> bool {
    origin
        .strip_prefix("http://")
        .is_some_and(|host| names_this_server(host, port))
}

/// The value of `name` in a query string, percent-decoded.
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| {
            let value = value.replace('+', " ");
            percent_encoding::percent_decode_str(&value)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// A workbench answer as JSON, or its error with the status that fits it.
fn as_json<T: Serialize>(answer: Result<T, thematic_model::DeskError>) -> Response<std::io::Cursor<Vec<u8>>> {
    let (status, body) = match answer {
        Ok(value) => (200, serde_json::to_string(&value).unwrap_or_default()),
        Err(error) => failure(&error),
    };
    reply(status, "application/json", body)
}

/// The report and what every run after `since` changed, as JSON.
fn update(latest: &Latest, since: u64) -> String {
    let mut changes: Vec<&str> = Vec::new();
    if latest.runs.front().is_some_and(|oldest| oldest.run > since + 1) {
        changes.push("(what runs before these changed is no longer kept)");
    }
    let newer = latest.runs.iter().filter(|r| r.run > since);
    changes.extend(newer.flat_map(|r| r.changes.iter().map(String::as_str)));
    let update = Update {
        run: latest.run,
        at: latest.runs.back().map_or("", |r| r.at.as_str()),
        changes,
        error: latest.error.as_deref(),
        html: &latest.html,
    };
    serde_json::to_string(&update).unwrap_or_default()
}

/// Whether `given` is the secret part of the address, compared in time that
/// does not depend on where they differ.
fn same_secret(given: &str, secret: &str) -> bool {
    given.len() == secret.len()
        && given
            .bytes()
            .zip(secret.bytes())
            .fold(0, |differ, (a, b)| differ | (a ^ b))
            == 0
}

/// Whether a `Host` header names this server: 127.0.0.1 or localhost (in any
/// case) at its port, which a browser leaves out when it is 80.
fn names_this_server(host: &str, port: u16) -> bool {
    let (name, given) = match host.rsplit_once(':') {
        Some((name, given)) => (name, given.parse::<u16>().ok()),
        None => (host, Some(80)),
    };
    given == Some(port) && (name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost"))
}

/// The report with the banner, a way to the workbench where there is one,
/// and the live script before its closing `</body>`.
fn with_live_part(html: &str, run: u64, workbench: bool) -> String {
    let way = if workbench {
        "<p id=\"to-workbench\"><a href=\"work\">Open the workbench</a>: code, review suggestions</p>\n"
    } else {
        ""
    };
    let live = format!(
        "{way}<div id=\"live\" role=\"status\" aria-live=\"polite\" data-run=\"{run}\"></div>\n{LIVE_STYLE}<script>{LIVE_SCRIPT}</script>\n"
    );
    match html.rfind("</body>") {
        Some(at) => format!("{}{live}{}", &html[..at], &html[at..]),
        None => format!("{html}{live}"),
    }
}

fn reply(status: u16, content_type: &str, body: String) -> Response<std::io::Cursor<Vec<u8>>> {
    let headers = [
        header("Content-Type", &format!("{content_type}; charset=utf-8")),
        header("Cache-Control", "no-store"),
        header("X-Content-Type-Options", "nosniff"),
        header("Referrer-Policy", "no-referrer"),
        header("Content-Security-Policy", &POLICY),
    ];
    headers.into_iter().fold(
        Response::from_string(body).with_status_code(status),
        Response::with_header,
    )
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("header names and values are ASCII")
}

/// The first inline script of a page, for tests that hold it to the policy.
#[cfg(test)]
fn inline_script(page: &str) -> &str {
    let after = page.split_once("<script>").map_or("", |(_, after)| after);
    after.split_once("</script>").map_or(after, |(script, _)| script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_part_goes_before_the_closing_body_tag() {
        let page = with_live_part("<html><body><main>x</main></body></html>", 3, false);
        assert!(page.starts_with("<html><body><main>x</main><div id=\"live\""), "{page}");
        assert!(page.contains("data-run=\"3\""));
        assert!(page.ends_with("</script>\n</body></html>"), "{page}");
    }

    #[test]
    fn only_this_machine_by_its_own_names_at_this_port_is_answered() {
        assert!(names_this_server("127.0.0.1:7878", 7878));
        assert!(names_this_server("LOCALHOST:7878", 7878));
        assert!(names_this_server("localhost", 80));
        assert!(!names_this_server("localhost", 7878));
        assert!(!names_this_server("127.0.0.1:7879", 7878));
        assert!(!names_this_server("attacker.example:7878", 7878));
        assert!(!names_this_server("127.0.0.1.attacker.example:7878", 7878));
        assert!(!names_this_server("", 7878));
        assert!(!names_this_server("[::1]:7878", 7878), "not listening there");
    }

    #[test]
    fn the_policy_allows_the_script_the_page_carries_by_its_hash() {
        let page = with_live_part("<html><body></body></html>", 1, true);
        let hash = script_hash(inline_script(&page));
        assert!(POLICY.contains(&format!("script-src 'sha256-{hash}' ")), "{}", *POLICY);
        assert!(page.contains("<a href=\"work\">Open the workbench</a>"));
        assert!(
            !POLICY.contains("script-src 'unsafe-inline'"),
            "no inline script but this one"
        );
    }

    #[test]
    fn a_page_that_missed_runs_gets_all_their_changes_and_is_told_of_forgotten_ones() {
        let mut latest = Latest {
            run: 0,
            html: Arc::from("<main></main>"),
            runs: VecDeque::new(),
            error: None,
        };
        for run in 1..=3 {
            latest.run = run;
            latest.runs.push_back(RunChanges {
                run,
                at: format!("t{run}"),
                changes: vec![format!("change {run}")],
            });
        }
        let answer: serde_json::Value = serde_json::from_str(&update(&latest, 1)).unwrap();
        assert_eq!(answer["changes"], serde_json::json!(["change 2", "change 3"]));
        assert_eq!(answer["at"], "t3");
        latest.runs.pop_front();
        latest.runs.pop_front();
        let answer: serde_json::Value = serde_json::from_str(&update(&latest, 0)).unwrap();
        assert_eq!(
            answer["changes"][0],
            "(what runs before these changed is no longer kept)"
        );
        assert_eq!(answer["changes"][1], "change 3");
    }

    #[test]
    fn only_this_servers_own_origin_may_send_decisions() {
        assert!(is_this_origin("http://127.0.0.1:7878", 7878));
        assert!(is_this_origin("http://localhost:7878", 7878));
        assert!(!is_this_origin("https://127.0.0.1:7878", 7878));
        assert!(!is_this_origin("http://127.0.0.1:7879", 7878));
        assert!(!is_this_origin("null", 7878));
        assert!(!is_this_origin("http://attacker.example:7878", 7878));
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            query_value("a=1&id=transcripts%2FP%C3%A9+1.txt", "id").as_deref(),
            Some("transcripts/Pé 1.txt")
        );
        assert_eq!(query_value("a=1", "id"), None);
    }

    #[test]
    fn the_secret_is_compared_whole() {
        assert!(same_secret("/abc/", "/abc/"));
        assert!(!same_secret("/abd/", "/abc/"));
        assert!(!same_secret("/ab/", "/abc/"));
    }
}
