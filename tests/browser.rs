//! The HTML report in a real browser: headless Chromium driven over
//! WebDriver by chromedriver (Debian's packages chromium and chromium-driver,
//! which `.ci/run` installs when they are missing), and the live report of
//! `thematic watch --serve` taking a new transcript without a reload.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// Longest wait for the browser, the driver or a watch pass.
const PATIENCE: Duration = Duration::from_secs(60);

/// A child process killed when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless Chromium under chromedriver, with one WebDriver session.
struct Browser {
    _driver: Killed,
    session: String,
    base: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut driver = Killed(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver: install Debian's chromium and chromium-driver (.ci/run does)"),
        );
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(PATIENCE))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ready = agent
                .get(format!("{base}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|status| status["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(
                driver.0.try_wait().unwrap().is_none(),
                "chromedriver ended (port {port} taken?)"
            );
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut options = json!({
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1600",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        });
        if Path::new("/usr/bin/chromium").is_file() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let mut browser = Browser {
            _driver: driver,
            session: String::new(),
            base,
            agent,
            _profile: profile,
        };
        let created = browser.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": options,
                "goog:loggingPrefs": {"browser": "ALL"},
            }}}),
        );
        browser.session = created["sessionId"].as_str().expect("a session").to_string();
        browser
    }

    /// A WebDriver command; its `value`, or a panic with the driver's error.
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = match method {
            "POST" => self.agent.post(&url).send_json(&body),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self.agent.get(&url).call(),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let reply: Value = response.body_mut().read_json().unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {reply}");
        reply["value"].clone()
    }

    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn go(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url }));
    }

    fn eval(&self, script: &str) -> Value {
        self.command("POST", "/execute/sync", json!({ "script": script, "args": [] }))
    }

    fn count(&self, selector: &str) -> u64 {
        let script = format!("return document.querySelectorAll({}).length", json!(selector));
        self.eval(&script).as_u64().unwrap()
    }

    /// The WebDriver id of the element `selector` finds.
    fn element(&self, selector: &str) -> String {
        let found = self.command("POST", "/element", json!({"using": "css selector", "value": selector}));
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {selector}"))
            .to_string()
    }

    /// Types `keys` into the element `selector` finds, as a person would.
    fn type_into(&self, selector: &str, keys: &str) {
        let element = self.element(selector);
        self.command("POST", &format!("/element/{element}/value"), json!({ "text": keys }));
    }

    /// Presses `key` with the focus where it is.
    fn press(&self, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}
        ]}]});
        self.command("POST", "/actions", actions);
    }

    /// Waits until `script` returns true.
    fn wait_for(&self, script: &str, what: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.eval(script) != true {
            assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the page wrote to the console at level error (SEVERE) since last asked.
    fn console_errors(&self) -> Vec<String> {
        let entries = self.command("POST", "/se/log", json!({ "type": "browser" }));
        entries
            .as_array()
            .unwrap()
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(format!("{}/session/{}", self.base, self.session))
                .call();
        }
    }
}

fn demo_study() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("demo");
    let output = run(&["init", "--demo", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    (dir, study)
}

/// Heat-map cells the page shows, and the rows and participant columns they make.
const HEAT_MAP_SHAPE: &str = "const map = document.querySelector('table.heatmap');
return [map.querySelectorAll('td.heat').length, map.querySelectorAll('tbody th').length,
        map.querySelectorAll('thead th').length - 2];";

#[test]
fn the_demo_report_renders_in_chromium_with_a_cell_per_theme_and_participant() {
    let (_dir, study) = demo_study();
    let output = run(&["run", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = study.join("reports/report.html");
    let browser = Browser::start();
    browser.go(&format!("file://{}", page.display()));
    // 8 kept themes and 2 kept sub-themes by 7 participants.
    assert_eq!(browser.eval(HEAT_MAP_SHAPE), json!([70, 10, 7]));
    assert_eq!(browser.count("svg[role=img] title"), 1, "the map has a title");
    let drawn = browser.eval("return document.querySelector('svg[role=img]').getBoundingClientRect().height");
    assert!(drawn.as_f64().unwrap() > 100.0, "the thematic map is drawn: {drawn}");
    let overflowing = browser.eval(
        "const out = [];
         for (const g of document.querySelectorAll('svg[role=img] g')) {
           const area = g.querySelector('rect.area').getBBox();
           for (const text of g.querySelectorAll('text')) {
             const box = text.getBBox();
             if (box.x + box.width > area.x + area.width - 8) out.push(text.textContent);
           }
         }
         return out;",
    );
    assert_eq!(overflowing, json!([]), "map text runs out of its box");
    assert_eq!(browser.count("script"), 0);
    assert_eq!(browser.console_errors(), Vec::<String>::new());
    // On a phone's width the page does not run off the side: wide tables scroll in place.
    browser.command("POST", "/window/rect", json!({"width": 420, "height": 900}));
    let too_wide = browser.eval(
        "return [...document.querySelectorAll('body *')]
           .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > window.innerWidth)
           .map(e => e.outerHTML.slice(0, 80));",
    );
    assert_eq!(too_wide, json!([]), "wider than the screen");
}

/// `thematic watch --serve` on a free port (and `--open` with `browser` as
/// `$BROWSER`): the process, the page's address, and the lines it prints from then on.
fn watch_serving(study: &Path, browser: Option<&Path>) -> (Killed, String, mpsc::Receiver<String>) {
    watch_serving_with(study, browser, &[])
}

/// [`watch_serving`] with more arguments to `thematic watch`.
fn watch_serving_with(study: &Path, browser: Option<&Path>, more: &[&str]) -> (Killed, String, mpsc::Receiver<String>) {
    let mut command = thematic();
    command.args(["watch", study.to_str().unwrap(), "--serve", "--port", "0"]);
    command.args(more);
    if let Some(browser) = browser {
        command.arg("--open").env("BROWSER", browser);
    }
    let mut watch = Killed(command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap());
    let (sender, lines) = mpsc::channel();
    let stdout = watch.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let url = next_line(&lines, "serving the report at ");
    let url = url.split_whitespace().nth(4).expect("an address").to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    next_line(&lines, "batch 1 ");
    (watch, url, lines)
}

/// The next line starting with `start`, within [`PATIENCE`].
fn next_line(lines: &mpsc::Receiver<String>, start: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no line starting {start:?} within {PATIENCE:?}"));
        if line.starts_with(start) {
            return line;
        }
    }
}

const LIVE_SAYS: &str = "return document.getElementById('live').textContent";

#[test]
fn in_watch_mode_the_open_page_follows_runs_without_a_reload_by_hand() {
    let (_dir, study) = demo_study();
    let config = study.join("thematic.toml");
    let good = fs::read_to_string(&config).unwrap();
    fs::write(&config, format!("{good}\n[[stages]]\nname = 1\n")).unwrap();
    let (_watch, url, _lines) = watch_serving(&study, None);

    // Opened while no run has succeeded: the page waits, and says why.
    let browser = Browser::start();
    browser.go(&url);
    browser.wait_for(
        &format!("{LIVE_SAYS}.startsWith('×The first run failed')"),
        "the page says the first run failed",
    );
    assert_eq!(browser.count("table.heatmap"), 0);
    // The configuration mended, the page becomes the report.
    fs::write(&config, &good).unwrap();
    browser.wait_for(
        "return document.querySelector('table.heatmap') !== null",
        "the report arrives",
    );
    assert_eq!(browser.eval(HEAT_MAP_SHAPE), json!([70, 10, 7]));
    assert_eq!(
        browser.eval("return getComputedStyle(document.body).maxWidth"),
        "1152px",
        "the report's styles apply (72rem)"
    );
    browser.eval("window.stillTheSamePage = true;");

    // An eighth interview arrives.
    let first = fs::read_to_string(study.join("transcripts/P1.txt")).unwrap();
    let eighth = first.replace("\nP1:", "\nP8:");
    assert_ne!(eighth, first);
    fs::write(study.join("transcripts/P8.txt"), eighth).unwrap();
    browser.wait_for(
        "return document.querySelector('table.heatmap thead').textContent.includes('P8')",
        "the page takes the new participant",
    );
    assert_eq!(
        browser.eval("return window.stillTheSamePage === true"),
        true,
        "no reload"
    );
    let shape = browser.eval(HEAT_MAP_SHAPE);
    let rows = shape[1].as_u64().unwrap();
    assert_eq!(shape, json!([rows * 8, rows, 8]));
    let written = fs::read_to_string(study.join("reports/report.html")).unwrap();
    assert_eq!(
        written.matches("<td class=\"heat").count() as u64,
        rows * 8,
        "the page shows what the report file holds"
    );
    // The banner may follow the page by a poll.
    browser.wait_for(
        &format!("{LIVE_SAYS}.includes('transcripts added: transcripts/P8.txt')"),
        "the page says what the run changed",
    );
    let said = browser.eval(LIVE_SAYS);
    let said = said.as_str().unwrap();
    assert!(said.starts_with("×Updated at "), "{said}");
    assert!(said.contains("heat-map cells changed"), "{said}");
    assert!(
        browser.count("td.changed") >= rows,
        "the new column at least is outlined"
    );

    // A save that breaks the study: the page keeps the report and says so.
    fs::write(&config, format!("{good}\n[[stages]]\nname = 1\n")).unwrap();
    browser.wait_for(
        &format!("{LIVE_SAYS}.startsWith('×The last run failed')"),
        "the page says the last run failed",
    );
    assert_eq!(browser.eval(HEAT_MAP_SHAPE), shape, "the last good report stays");
    assert_eq!(
        browser.eval("return window.stillTheSamePage === true"),
        true,
        "no reload"
    );
    assert_eq!(browser.console_errors(), Vec::<String>::new());
}

#[test]
fn the_live_report_answers_only_requests_that_name_this_machine_at_its_secret_address() {
    let (_dir, study) = demo_study();
    let (_watch, url, _lines) = watch_serving(&study, None);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut run = agent.get(format!("{url}run")).call().unwrap();
    assert_eq!(run.status(), 200);
    let run: Value = run.body_mut().read_json().unwrap();
    assert_eq!(run, json!({"run": 1, "error": null}));
    let mut update = agent.get(format!("{url}update?since=0")).call().unwrap();
    let update: Value = update.body_mut().read_json().unwrap();
    assert!(
        update["changes"][0].as_str().unwrap().starts_with("7 transcripts"),
        "{update}"
    );
    assert!(update["html"].as_str().unwrap().contains("<table class=\"heatmap\">"));
    // Named as localhost, in any case, it answers.
    let port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
    let named = agent
        .get(&url)
        .header("Host", format!("LocalHost:{port}"))
        .call()
        .unwrap();
    assert_eq!(named.status(), 200);
    // A page elsewhere that points its own name at 127.0.0.1 gets nothing.
    let rebound = agent.get(&url).header("Host", "attacker.example").call().unwrap();
    assert_eq!(rebound.status(), 403);
    // Without the secret part of the address, nothing either.
    let root = format!("http://127.0.0.1:{port}/");
    assert_eq!(agent.get(&root).call().unwrap().status(), 404);
    assert_eq!(agent.get(format!("{root}run")).call().unwrap().status(), 404);
    let page = agent.get(&url).call().unwrap();
    let policy = page.headers().get("content-security-policy").unwrap().to_str().unwrap();
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    assert!(
        policy.contains("script-src 'sha256-"),
        "only the live script runs: {policy}"
    );
}

#[test]
fn watch_open_hands_the_browser_a_private_file_not_the_secret_address() {
    let (dir, study) = demo_study();
    // A stand-in browser that notes its argument, what the file holds and who may read it.
    let noted = dir.path().join("noted.txt");
    let browser = dir.path().join("browser.sh");
    let script = format!(
        "#!/bin/sh\n{{ echo \"$1\"; stat -c %a \"$1\"; cat \"$1\"; }} > '{0}.part' && mv '{0}.part' '{0}'\n",
        noted.display()
    );
    fs::write(&browser, script).unwrap();
    fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (_watch, url, _lines) = watch_serving(&study, Some(&browser));
    let deadline = Instant::now() + PATIENCE;
    while !noted.is_file() {
        assert!(Instant::now() < deadline, "the browser was not started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let noted = fs::read_to_string(&noted).unwrap();
    let mut lines = noted.lines();
    let argument = lines.next().unwrap();
    assert!(
        !argument.contains(&url),
        "the address is not on the command line: {argument}"
    );
    assert!(argument.ends_with(".html"), "{argument}");
    assert_eq!(lines.next(), Some("600"), "only this user may read it");
    let page: String = lines.collect();
    assert!(page.contains(&format!("content=\"0;url={url}\"")), "{page}");
}

/// Selects `words` where they first occur in the shown transcript (across
/// the pieces codings cut it into), as a mouse would: the selection made and
/// the mouse let go over it.
fn select_words(browser: &Browser, words: &str) {
    let script = format!(
        "const words = {};
         for (const turn of document.querySelectorAll('#transcript .turn p')) {{
           const nodes = [...turn.querySelectorAll('.piece')].map((p) => p.firstChild).filter(Boolean);
           const whole = nodes.map((n) => n.data).join('');
           const at = whole.indexOf(words);
           if (at < 0) continue;
           // The text node and offset of a point of the turn's text.
           const point = (offset) => {{
             for (const node of nodes) {{
               if (offset <= node.data.length) return [node, offset];
               offset -= node.data.length;
             }}
           }};
           const range = document.createRange();
           range.setStart(...point(at));
           range.setEnd(...point(at + words.length));
           getSelection().removeAllRanges();
           getSelection().addRange(range);
           turn.dispatchEvent(new MouseEvent('mouseup', {{ bubbles: true }}));
           return true;
         }}
         return false;",
        json!(words)
    );
    assert_eq!(browser.eval(&script), true, "{words:?} is in the shown transcript");
}

/// The rows of a decisions file after its header, or none while it is not there.
fn rows_of(file: &Path) -> Vec<String> {
    fs::read_to_string(file)
        .map(|text| {
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .skip(1)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `file` holds `rows` rows.
fn wait_for_rows(file: &Path, rows: usize) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = rows_of(file);
        if found.len() == rows {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{} has {found:?}, not {rows} rows",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A POST to `work/decide` from the workbench page itself, with `headers`: its status and answer.
fn post_from_page(browser: &Browser, headers: Value, body: Value) -> Value {
    post_to_from_page(browser, "work/decide", headers, body)
}

/// A POST to `path` from the workbench page itself, with `headers`: its status and answer.
fn post_to_from_page(browser: &Browser, path: &str, headers: Value, body: Value) -> Value {
    let script = format!(
        "const done = arguments[0];
         fetch('{path}', {{ method: 'POST', headers: {headers}, body: JSON.stringify({body}) }})
           .then(async (r) => done([r.status, await r.text()]), (e) => done([0, String(e)]));"
    );
    browser.command("POST", "/execute/async", json!({ "script": script, "args": [] }))
}

#[test]
fn in_the_workbench_a_person_codes_selected_words_reviews_suggestions_and_sees_agreement() {
    let (_dir, study) = demo_study();
    let (_watch, url, _lines) = watch_serving_with(&study, None, &["--coder", "Ana"]);
    let browser = Browser::start();
    browser.go(&format!("{url}work"));
    browser.wait_for(
        "return document.querySelectorAll('#transcripts button').length === 7",
        "the transcripts are listed",
    );
    browser.eval("document.querySelector('#transcripts button[data-id=\"transcripts/P1.txt\"]').click()");
    browser.wait_for(
        "return document.body.dataset.shown === 'transcripts/P1.txt'",
        "the transcript opens",
    );
    assert_eq!(browser.count("#transcript .turn"), 20, "a section per turn");
    let suggested = browser.count("#review .coding");
    assert!(
        suggested > 10,
        "the dictionary's codings are offered for review: {suggested}"
    );

    // Words selected and a code typed: the coding is saved in the person's file, at code points.
    let codings = study.join("coders/ana.csv");
    select_words(&browser, "weak practice");
    browser.wait_for(
        "return !document.getElementById('picker').hidden",
        "the code picker opens",
    );
    browser.type_into("#pick-code", "ownership\u{E007}");
    let rows = wait_for_rows(&codings, 1);
    let text = fs::read_to_string(study.join("transcripts/P1.txt")).unwrap();
    let start = text[..text.find("weak practice").unwrap()].chars().count();
    let hash = sha256_hex(text.as_bytes());
    assert_eq!(
        rows,
        [format!(
            "transcripts/P1.txt,ownership,{start},{},{hash},weak practice",
            start + 13
        )]
    );
    browser.wait_for(
        "return [...document.querySelectorAll('.piece.own')].map(p => p.textContent).join('') === 'weak practice'",
        "the page shows the coding",
    );
    assert!(
        fs::read_to_string(study.join("thematic.toml"))
            .unwrap()
            .contains("codings = \"coders/ana.csv\""),
        "a stage reading the person's codings is added, so the next run takes them in"
    );

    // Reviewing with keys: the first suggestion rejected, the next accepted.
    let first = browser.eval("return document.querySelector('#review .coding.focused strong').textContent");
    browser.press("r");
    let rejected = wait_for_rows(&study.join("coders/ana.rejected.csv"), 1);
    assert!(
        rejected[0].starts_with(&format!("transcripts/P1.txt,{},", first.as_str().unwrap())),
        "{rejected:?}"
    );
    assert!(rejected[0].ends_with(",code-questions"), "{rejected:?}");
    browser.wait_for(
        &format!(
            "return document.querySelectorAll('#review .coding').length === {}",
            suggested - 1
        ),
        "the rejected suggestion leaves the queue",
    );
    browser.press("j");
    browser.press("a");
    wait_for_rows(&codings, 2);

    // The loop closes: agreement between the dictionary and the person shows once asked for.
    let config = study.join("thematic.toml");
    let mut toml = fs::read_to_string(&config).unwrap();
    toml.push_str("\n[[agreement]]\ncoders = [\"code-questions\", \"Ana\"]\n");
    fs::write(&config, toml).unwrap();
    browser.wait_for(
        "return document.querySelector('#agreement table caption')?.textContent.startsWith('code-questions and Ana') === true",
        "the page shows the agreement the next run measured",
    );

    // Writes without the page's token, or naming something outside the study, are refused and written nowhere.
    let before = fs::read_to_string(&codings).unwrap();
    let decision =
        json!({"kind": "code", "transcript": "transcripts/P1.txt", "code": "ownership", "start": 0, "end": 3});
    let answer = post_from_page(&browser, json!({"Content-Type": "application/json"}), decision.clone());
    assert_eq!(answer[0], 403, "{answer}");
    let token = browser.eval("return document.querySelector('meta[name=thematic-token]').content");
    let with_token = json!({"Content-Type": "application/json", "X-Thematic-Token": token});
    let mut outside = decision.clone();
    outside["transcript"] = json!("../thematic.toml");
    let answer = post_from_page(&browser, with_token.clone(), outside);
    assert_eq!(answer[0], 404, "{answer}");
    let mut unknown = decision.clone();
    unknown["code"] = json!("no-such-code");
    assert_eq!(post_from_page(&browser, with_token.clone(), unknown)[0], 404);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let elsewhere = agent
        .post(format!("{url}work/decide"))
        .header("X-Thematic-Token", token.as_str().unwrap())
        .header("Origin", "http://attacker.example")
        .send_json(&decision)
        .unwrap();
    assert_eq!(elsewhere.status(), 403, "another origin, even with a token");
    assert_eq!(
        fs::read_to_string(&codings).unwrap(),
        before,
        "nothing refused was written"
    );

    // A hand-edited line that cannot be read: named, the file left as it is, and the page says why.
    let broken = format!("{before}transcripts/P1.txt,ownership,9,x,{hash}\n");
    fs::write(&codings, &broken).unwrap();
    browser.wait_for(
        "return document.getElementById('problem').textContent.includes('coders/ana.csv:5: end `x` is not a whole number')",
        "the page says which line of the person's file is bad",
    );
    let answer = post_from_page(&browser, with_token, decision);
    assert_eq!(answer[0], 422, "{answer}");
    assert_eq!(
        fs::read_to_string(&codings).unwrap(),
        broken,
        "the bad file is left untouched"
    );
    let errors = browser.console_errors();
    assert!(
        errors
            .iter()
            .all(|e| e.contains("work/decide - Failed to load resource")),
        "only the refused requests, as the browser logs them: {errors:?}"
    );
}

/// Chooses what the memo is about (`this`, `study`, `theme:ID`, `code:ID`) in the workbench.
fn choose_memo(browser: &Browser, value: &str) {
    let script = format!(
        "const select = document.getElementById('memo-about');
         select.value = {};
         select.dispatchEvent(new Event('change'));
         return select.value;",
        json!(value)
    );
    assert_eq!(browser.eval(&script), json!(value), "{value} is offered");
}

/// Waits until `file` holds `text`.
fn wait_for_text(file: &Path, text: &str) {
    let deadline = Instant::now() + PATIENCE;
    while fs::read_to_string(file).ok().as_deref() != Some(text) {
        assert!(Instant::now() < deadline, "{} does not hold {text:?}", file.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn in_the_workbench_memos_are_written_to_the_study_reported_and_never_written_over_a_newer_one() {
    let (_dir, study) = demo_study();
    let (_watch, url, _lines) = watch_serving_with(&study, None, &["--coder", "Ana"]);
    let browser = Browser::start();
    browser.go(&format!("{url}work#transcripts%2FP1.txt"));
    browser.wait_for(
        "return document.body.dataset.shown === 'transcripts/P1.txt'",
        "the transcript the address names is shown",
    );

    // A memo on the transcript shown, then one on a theme: each a file where its place says what it is about.
    browser.type_into("#memo-text", "First read: *ownership* comes up early.");
    browser.eval("document.getElementById('memo-save').click()");
    let transcript_memo = study.join("memos/transcripts/P1.md");
    wait_for_text(&transcript_memo, "First read: *ownership* comes up early.\n");
    choose_memo(&browser, "theme:T1");
    browser.type_into("#memo-text", "T1 may fold into T2.");
    browser.eval("document.getElementById('memo-save').click()");
    wait_for_text(&study.join("memos/themes/T1.md"), "T1 may fold into T2.\n");
    browser.wait_for(
        "return document.getElementById('status').textContent === 'Saved to memos/themes/T1.md: saved the memo'",
        "the page says where the memo went",
    );

    // The next pass reports them: the theme's beside it, the transcript's among the memos.
    let deadline = Instant::now() + PATIENCE;
    let report = study.join("reports/report.md");
    loop {
        let text = fs::read_to_string(&report).unwrap_or_default();
        if text.contains("T1 may fold") && text.contains("First read") {
            assert!(
                text.contains("Memo (memos/themes/T1.md):\n\n> T1 may fold into T2.\n"),
                "{text}"
            );
            assert!(
                text.contains("## Memos\n\n### On transcript transcripts/P1.txt (memos/transcripts/P1.md)\n\n> First read: *ownership* comes up early.\n"),
                "{text}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the memos did not reach report.md");
        std::thread::sleep(Duration::from_millis(100));
    }
    let html = fs::read_to_string(study.join("reports/report.html")).unwrap();
    assert!(html.contains("<div class=\"memo\"><p>Memo (memos/themes/T1.md)</p><div>T1 may fold into T2.</div></div>"));

    // The journal begun in the page while someone changes it by hand: the page's text is refused, the hand's kept.
    choose_memo(&browser, "study");
    browser.type_into("#memo-text", "Week 1: coded P1.");
    let journal = study.join("memos/journal.md");
    fs::write(&journal, "Written by hand meanwhile.\n").unwrap();
    browser.eval("document.getElementById('memo-save').click()");
    browser.wait_for(
        "return document.getElementById('status').textContent.startsWith('Not saved: memos/journal.md was changed since you opened it')",
        "the page says the journal changed meanwhile",
    );
    assert_eq!(fs::read_to_string(&journal).unwrap(), "Written by hand meanwhile.\n");
    browser.wait_for(
        "const v = document.getElementById('memo-text').value; return v.startsWith('Week 1: coded P1.') && v.endsWith('Written by hand meanwhile.\\n');",
        "the person's text stays, the one saved meanwhile under it to merge",
    );
    browser.eval("document.getElementById('memo-save').click()");
    browser.wait_for(
        "return document.getElementById('status').textContent === 'Saved to memos/journal.md: saved the memo'",
        "saved over the version now read",
    );
    let merged = fs::read_to_string(&journal).unwrap();
    assert!(
        merged.starts_with("Week 1: coded P1.") && merged.ends_with("Written by hand meanwhile.\n"),
        "{merged}"
    );

    // Writes the page did not make, or about nothing the study has, are refused and write nothing.
    let memo = json!({"about": {"kind": "code", "id": "no-such-code"}, "text": "x", "was": ""});
    let token = browser.eval("return document.querySelector('meta[name=thematic-token]').content");
    let with_token = json!({"Content-Type": "application/json", "X-Thematic-Token": token});
    assert_eq!(
        post_to_from_page(&browser, "work/memo", with_token.clone(), memo)[0],
        404
    );
    let outside = json!({"about": {"kind": "transcript", "id": "../../etc/passwd"}, "text": "x", "was": ""});
    assert_eq!(post_to_from_page(&browser, "work/memo", with_token, outside)[0], 404);
    let journal_memo = json!({"about": {"kind": "study"}, "text": "x", "was": ""});
    let no_token = json!({"Content-Type": "application/json"});
    assert_eq!(post_to_from_page(&browser, "work/memo", no_token, journal_memo)[0], 403);
    assert_eq!(fs::read_to_string(&journal).unwrap(), merged);
    assert!(!study.join("memos/codes").exists(), "no memo on an unknown code");

    // Emptied, a memo is taken away.
    choose_memo(&browser, "this");
    browser.wait_for(
        "return document.getElementById('memo-text').value.startsWith('First read')",
        "the transcript's memo is shown again",
    );
    browser.eval("const t = document.getElementById('memo-text'); t.value = ''; t.dispatchEvent(new Event('input'));");
    browser.eval("document.getElementById('memo-save').click()");
    let deadline = Instant::now() + PATIENCE;
    while transcript_memo.exists() {
        assert!(Instant::now() < deadline, "the emptied memo is still there");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Fills the workbench's form `form` (`(selector, value)` for each input or
/// select) and submits it; the page's status line after it is saved or refused.
fn submit_form(browser: &Browser, form: &str, fields: &[(&str, &str)]) -> String {
    let before = browser.eval("return document.getElementById('status').textContent");
    for (field, value) in fields {
        let script = format!(
            "const field = document.querySelector({});
             field.value = {};
             return field.value;",
            json!(field),
            json!(value)
        );
        assert_eq!(browser.eval(&script), json!(value), "{field} takes {value}");
    }
    browser.eval(&format!("document.getElementById({}).requestSubmit()", json!(form)));
    let status = "return document.getElementById('status').textContent";
    browser.wait_for(
        &format!("const said = document.getElementById('status').textContent; return said !== 'Saving…' && said !== {before};"),
        "the page says what became of the change",
    );
    browser.eval(status).as_str().unwrap().to_string()
}

#[test]
fn in_the_workbench_themes_are_shaped_in_thematic_toml_with_its_comments_kept() {
    let (_dir, study) = demo_study();
    let config = study.join("thematic.toml");
    let (_watch, url, _lines) = watch_serving_with(&study, None, &["--coder", "Ana"]);
    let browser = Browser::start();
    browser.go(&format!("{url}work"));
    browser.wait_for(
        "return document.querySelectorAll('#themes li').length >= 11",
        "the themes are listed",
    );
    browser.eval("document.querySelector('#shape summary').click()");

    let said = submit_form(
        &browser,
        "new-theme",
        &[
            ("#theme-id", "T10"),
            ("#theme-name", "Trust in managers"),
            ("#theme-parent", ""),
        ],
    );
    assert_eq!(said, "Saved to thematic.toml: added theme `T10`, “Trust in managers”");
    let said = submit_form(
        &browser,
        "move-code",
        &[("#move-code-which", "trust"), ("#move-code-to", "T10")],
    );
    assert_eq!(said, "Saved to thematic.toml: moved code `trust` into theme `T10`");
    let said = submit_form(
        &browser,
        "move-theme",
        &[("#move-theme-which", "T10"), ("#move-theme-to", "A2")],
    );
    assert_eq!(said, "Saved to thematic.toml: moved theme `T10` into area `A2`");
    let said = submit_form(
        &browser,
        "new-theme",
        &[
            ("#theme-id", "T10a"),
            ("#theme-name", "Earned"),
            ("#theme-parent", "T10"),
        ],
    );
    assert_eq!(
        said,
        "Saved to thematic.toml: added sub-theme `T10a`, “Earned”, under `T10`"
    );
    let said = submit_form(
        &browser,
        "rename-theme",
        &[("#rename-which", "T5"), ("#rename-name", "Experiences of anger")],
    );
    assert_eq!(
        said,
        "Saved to thematic.toml: renamed theme `T5` to “Experiences of anger”"
    );

    let text = fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("id = \"T5\"\nname = \"Experiences of anger\"\ncodes = [\"anger\"]\n"),
        "{text}"
    );
    assert!(
        text.contains("codes = [\"workload\", \"paperwork\"]\n\n[[themes]]\nid = \"T10\"\nname = \"Trust in managers\"\ncodes = [\"trust\"]\n\n[[themes.subthemes]]\nid = \"T10a\""),
        "the new theme after the last, its sub-theme under it: {text}"
    );
    assert!(text.contains("themes = [\"T4\", \"T5\", \"T10\"]"), "{text}");
    assert!(
        text.contains("# A candidate theme carried by only two participants"),
        "comments kept"
    );
    // The page lists the change before the pass it starts, and the pass reports it.
    browser.wait_for(
        "const t = document.querySelector('#themes li[data-theme=T10]'); return !!t && t.textContent.includes('trust');",
        "the new theme with its code",
    );
    let report = study.join("reports/report.md");
    let deadline = Instant::now() + PATIENCE;
    while !fs::read_to_string(&report)
        .unwrap_or_default()
        .contains("Trust in managers")
    {
        assert!(Instant::now() < deadline, "the new theme did not reach report.md");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A change that cannot be made is refused with why, and thematic.toml is left as it was.
    let said = submit_form(
        &browser,
        "new-theme",
        &[("#theme-id", "T1"), ("#theme-name", "Again"), ("#theme-parent", "")],
    );
    assert_eq!(said, "Not saved: a theme `T1` is already there");
    let said = submit_form(&browser, "new-area", &[("#area-id", "A 4"), ("#area-name", "Spaced")]);
    assert!(said.starts_with("Not saved: `A 4` cannot be an area's id"), "{said}");
    assert_eq!(fs::read_to_string(&config).unwrap(), text);
}

#[test]
fn in_the_workbench_codings_are_recoded_and_removed_at_code_points_and_what_cannot_be_saved_is_said() {
    let (_dir, study) = demo_study();
    // A turn with characters outside the Basic Multilingual Plane, which the page counts twice.
    let transcript = study.join("transcripts/P1.txt");
    let mut text = fs::read_to_string(&transcript).unwrap();
    text.push_str("\nP1: Honestly 🙂 the ownership was 🎉 ours, in the end.\n");
    fs::write(&transcript, &text).unwrap();
    let (_watch, url, _lines) = watch_serving_with(&study, None, &["--coder", "Ana"]);
    let browser = Browser::start();
    browser.go(&format!("{url}work#transcripts%2FP1.txt"));
    browser.wait_for(
        "return document.body.dataset.shown === 'transcripts/P1.txt'",
        "the transcript opens",
    );

    // A study where the person's file cannot be written (a file where the folder would be): nothing saved, and said.
    let blocker = study.join("coders");
    fs::write(&blocker, "in the way\n").unwrap();
    select_words(&browser, "the ownership was 🎉 ours");
    browser.type_into("#pick-code", "ownership\u{E007}");
    browser.wait_for(
        "const said = document.getElementById('status').textContent; return said.startsWith('Not saved: ') && said.includes('coders');",
        "the page says the coding was not saved",
    );
    assert_eq!(fs::read_to_string(&blocker).unwrap(), "in the way\n", "nothing written");
    fs::remove_file(&blocker).unwrap();

    // Coded at the code points thematic counts, whatever the page counts.
    select_words(&browser, "the ownership was 🎉 ours");
    browser.type_into("#pick-code", "ownership\u{E007}");
    let codings = study.join("coders/ana.csv");
    let rows = wait_for_rows(&codings, 1);
    let start = text[..text.find("the ownership was").unwrap()].chars().count();
    let hash = sha256_hex(text.as_bytes());
    assert_eq!(
        rows,
        [format!(
            "transcripts/P1.txt,ownership,{start},{},{hash},the ownership was 🎉 ours",
            start + 24
        )]
    );

    // Recoded, then removed, from the person's list.
    browser.wait_for(
        "return document.querySelectorAll('#own .coding').length === 1",
        "the coding is listed",
    );
    browser.eval("[...document.querySelectorAll('#own .coding button')].find(b => b.textContent === 'Recode').click()");
    browser.type_into("#pick-code", "wider-system\u{E007}");
    browser.wait_for(
        "return document.getElementById('status').textContent.includes('to `wider-system`')",
        "the page says it was recoded",
    );
    assert_eq!(
        rows_of(&codings),
        [format!(
            "transcripts/P1.txt,wider-system,{start},{},{hash},the ownership was 🎉 ours",
            start + 24
        )]
    );
    browser.eval("[...document.querySelectorAll('#own .coding button')].find(b => b.textContent === 'Remove').click()");
    wait_for_rows(&codings, 0);

    // Coded again, then the transcript corrected above it: the coding is shown at its words, and can still be removed.
    select_words(&browser, "the ownership was 🎉 ours");
    browser.type_into("#pick-code", "ownership\u{E007}");
    wait_for_rows(&codings, 1);
    fs::write(
        &transcript,
        text.replace("Where to start.", "Where to start, I wonder."),
    )
    .unwrap();
    browser.wait_for(
        "return [...document.querySelectorAll('#own .coding')].some(c => c.textContent.includes('found again at the same words'))",
        "the coding made on the earlier text is found again",
    );
    assert_eq!(
        browser.eval("return [...document.querySelectorAll('.piece.own')].map(p => p.textContent).join('')"),
        "the ownership was 🎉 ours"
    );
    browser.eval("[...document.querySelectorAll('#own .coding button')].find(b => b.textContent === 'Remove').click()");
    wait_for_rows(&codings, 0);

    // A decision made on a text that has changed since is refused (409) and the page shows the text as it is now.
    let token = browser.eval("return document.querySelector('meta[name=thematic-token]').content");
    let with_token = json!({"Content-Type": "application/json", "X-Thematic-Token": token});
    let stale = json!({"kind": "code", "transcript": "transcripts/P1.txt", "code": "ownership",
                       "start": start, "end": start + 24, "text_sha256": "0".repeat(64)});
    let answer = post_from_page(&browser, with_token, stale);
    assert_eq!(answer[0], 409, "{answer}");
    assert!(rows_of(&codings).is_empty());
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
