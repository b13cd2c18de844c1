//! The live report of `thematic watch --serve`: report.html over HTTP on
//! 127.0.0.1 only, with a small script that asks each second whether a newer
//! run has finished and, when one has, puts the new report in place of the
//! old without a reload, marks the heat-map cells that changed and says what
//! the run changed. The report file on disk stays script-free.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{anyhow, Result};
use serde::Serialize;
use tiny_http::{Header, Method, Request, Response, Server};

/// What the page shows until the first run finishes.
const WAITING_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>thematic</title>\n</head>\n<body>\n<main>\n<p>The first run is under way; the report appears here when it finishes.</p>\n</main>\n</body>\n</html>\n";

/// Put before `</body>` of the served page: the live banner and the script
/// that keeps the page current.
const LIVE_PART: &str = r#"<div id="live" role="status" aria-live="polite"></div>
<style>
#live { position: fixed; right: 1rem; bottom: 1rem; max-width: 28rem; background: #fffbea; border: 1px solid #d69e2e; border-radius: 0.4rem; padding: 0.5rem 0.75rem; font-size: 0.9rem; box-shadow: 0 2px 6px rgba(0,0,0,.15); }
#live:empty { display: none; }
#live ul { margin: 0.25rem 0 0; padding-left: 1.2rem; }
#live button { float: right; margin-left: 0.5rem; }
td.changed { outline: 3px solid #d69e2e; outline-offset: -3px; }
@media print { #live { display: none; } }
</style>
<script>
(() => {
  let shown = __RUN__;
  let failure = null;
  const live = document.getElementById("live");
  const cells = (root) => {
    const found = new Map();
    for (const cell of root.querySelectorAll("table.heatmap td[title]")) {
      const title = cell.getAttribute("title");
      found.set(title.slice(0, title.lastIndexOf(":")), cell);
    }
    return found;
  };
  const say = (info, marked) => {
    live.replaceChildren();
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "×";
    close.setAttribute("aria-label", "Dismiss");
    close.addEventListener("click", () => live.replaceChildren());
    const head = document.createElement("strong");
    head.textContent = info.error ? "The last run failed; this is the report before it" : "Updated by run " + info.run + " at " + new Date(info.at).toLocaleTimeString();
    live.append(close, head);
    const lines = info.error ? [info.error] : info.changes.concat(marked ? [marked + " heat-map cell" + (marked === 1 ? "" : "s") + " changed (outlined)"] : []);
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
  const refresh = async () => {
    const info = await (await fetch("/run", { cache: "no-store" })).json();
    if (info.run === shown) {
      if (info.error && info.error !== failure) say(info, 0);
      failure = info.error;
      return;
    }
    failure = null;
    const text = await (await fetch("/", { cache: "no-store" })).text();
    const next = new DOMParser().parseFromString(text, "text/html");
    const before = cells(document);
    let marked = 0;
    for (const [key, cell] of cells(next)) {
      const old = before.get(key);
      if (!old || old.textContent !== cell.textContent) {
        cell.classList.add("changed");
        marked += 1;
      }
    }
    document.querySelector("main").replaceWith(document.adoptNode(next.querySelector("main")));
    document.title = next.title;
    shown = info.run;
    say(info, before.size ? marked : 0);
  };
  const poll = () => refresh().catch(() => {}).finally(() => setTimeout(poll, 1000));
  setTimeout(poll, 1000);
})();
</script>
"#;

/// The latest report and what its run changed.
#[derive(Serialize)]
struct Latest {
    /// Counts finished runs; the page compares it with the one it shows.
    run: u64,
    at: String,
    changes: Vec<String>,
    /// Why the last run failed, while the report is still the run's before.
    error: Option<String>,
    #[serde(skip)]
    html: String,
}

pub struct LiveReport {
    latest: Arc<Mutex<Latest>>,
    address: SocketAddr,
}

impl LiveReport {
    /// Listens on 127.0.0.1:`port` (0: any free port) and answers in the background.
    pub fn start(port: u16) -> Result<LiveReport> {
        let server = Server::http((Ipv4Addr::LOCALHOST, port)).map_err(|error| {
            anyhow!("serving the report on 127.0.0.1:{port}: {error} (choose another port with --port)")
        })?;
        let address = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow!("serving the report: not listening on an IP address"))?;
        let latest = Arc::new(Mutex::new(Latest {
            run: 0,
            at: String::new(),
            changes: Vec::new(),
            error: None,
            html: WAITING_PAGE.to_string(),
        }));
        let shared = Arc::clone(&latest);
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                answer(request, &shared, address);
            }
        });
        Ok(LiveReport { latest, address })
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// A run finished: its report and what it changed.
    pub fn publish(&self, html: String, at: String, changes: Vec<String>) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        latest.run += 1;
        latest.at = at;
        latest.changes = changes;
        latest.error = None;
        latest.html = html;
    }

    /// A run failed: the page keeps the last report and says why.
    pub fn failed(&self, error: String) {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner).error = Some(error);
    }
}

fn answer(request: Request, latest: &Mutex<Latest>, address: SocketAddr) {
    // A page elsewhere could reach this server through a host name it points
    // at 127.0.0.1 (DNS rebinding); only requests naming this server itself
    // are answered, so the study's text stays on this machine.
    let host = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str().to_string());
    let ours = [
        format!("127.0.0.1:{}", address.port()),
        format!("localhost:{}", address.port()),
    ];
    let response = if !host.is_some_and(|host| ours.contains(&host)) {
        text(
            403,
            "text/plain",
            "thematic serves the report only as http://127.0.0.1 or http://localhost\n".into(),
        )
    } else if *request.method() != Method::Get && *request.method() != Method::Head {
        text(405, "text/plain", "only GET\n".into())
    } else {
        let latest = latest.lock().unwrap_or_else(PoisonError::into_inner);
        match request.url() {
            "/" | "/report.html" => text(200, "text/html", with_live_part(&latest.html, latest.run)),
            "/run" => text(
                200,
                "application/json",
                serde_json::to_string(&*latest).unwrap_or_default(),
            ),
            _ => text(404, "text/plain", "not found; the report is at /\n".into()),
        }
    };
    if let Err(error) = request.respond(response) {
        tracing::debug!(%error, "answering a request for the live report");
    }
}

/// The report with the live part before its closing `</body>`.
fn with_live_part(html: &str, run: u64) -> String {
    let live = LIVE_PART.replace("__RUN__", &run.to_string());
    match html.rfind("</body>") {
        Some(at) => format!("{}{live}{}", &html[..at], &html[at..]),
        None => format!("{html}{live}"),
    }
}

fn text(status: u16, content_type: &str, body: String) -> Response<std::io::Cursor<Vec<u8>>> {
    let header = |name: &str, value: &str| Header::from_bytes(name.as_bytes(), value.as_bytes()).ok();
    let headers = [
        header("Content-Type", &format!("{content_type}; charset=utf-8")),
        header("Cache-Control", "no-store"),
        header("X-Content-Type-Options", "nosniff"),
        // Nothing but this server: no fetch elsewhere, no frame around the page.
        header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'",
        ),
    ];
    headers.into_iter().flatten().fold(
        Response::from_string(body).with_status_code(status),
        Response::with_header,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_part_goes_before_the_closing_body_tag() {
        let page = with_live_part("<html><body><main>x</main></body></html>", 3);
        assert!(page.starts_with("<html><body><main>x</main><div id=\"live\""), "{page}");
        assert!(page.ends_with("</script>\n</body></html>"), "{page}");
        assert!(page.contains("let shown = 3;"));
    }
}
