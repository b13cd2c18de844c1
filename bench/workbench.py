#!/usr/bin/env python3
"""The workbench of `thematic watch --serve` on a large study (issue 20's benchmark).

The study of bench/watch.py (1,000 generated transcripts of 12,000 words, a
dictionary stage, twelve themes of which four hold sub-themes, three
discussion areas, every default output) is analysed once, then served by
`thematic watch --serve --coder bench` and driven in headless Chromium over
WebDriver (Debian's chromium and chromium-driver), as a person would use it:
  - opening a transcript: a click on it in the list to the transcript drawn
    with every coding of it;
  - applying a code: words selected, a code typed in the picker and Enter,
    to the decision saved in coders/bench.csv and the page drawn again with
    it; one decision a second, so the watch passes each decision starts
    (the first adds a coder stage to thematic.toml) run while the next is made.
The page itself times each step from the person's action to the next frame
drawn (`data-opened-in-ms`, `data-saved-in-ms` on <body>).

The peer, in the same browser and run: a page that does the least the same
steps need, served by Python's http.server: it fetches the transcript's text
from the study folder and shows it a paragraph a line; applying a code posts
one row, which the server appends to a CSV written atomically as thematic
does (a temporary file synced and renamed over it), and the page then fetches
and draws the text again.

    python3 bench/workbench.py [--peer-dir ../shared/bench] [--out bench/out]
"""
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from run import arguments, release_binary, timed
from watch import STUDY_SIZE, Watch, corpus, fresh_study

OPENS, DECISIONS = 21, 21
PATIENCE = 120


class Browser:
    """Headless Chromium under chromedriver, one WebDriver session."""

    def __init__(self, port):
        self.driver = subprocess.Popen(["chromedriver", f"--port={port}"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{port}"
        self.profile = tempfile.mkdtemp(prefix="workbench-bench-")
        deadline = time.time() + PATIENCE
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                sys.exit("chromedriver did not start (install Debian's chromium and chromium-driver)")
            time.sleep(0.1)
        options = {"args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                            "--disable-background-networking", "--disable-component-update",
                            "--disable-sync", "--window-size=1280,1600",
                            f"--user-data-dir={self.profile}"]}
        if os.path.isfile("/usr/bin/chromium"):
            options["binary"] = "/usr/bin/chromium"
        created = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}})
        self.session = created["sessionId"]

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=PATIENCE) as response:
            return json.load(response)["value"]

    def command(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def go(self, url):
        self.command("POST", "/url", {"url": url})

    def eval(self, script, *args):
        return self.command("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script, what, *args):
        deadline = time.time() + PATIENCE
        while True:
            value = self.eval(script, *args)
            if value:
                return value
            if time.time() > deadline:
                sys.exit(f"{what}: not within {PATIENCE} s")
            time.sleep(0.01)

    def type_into(self, selector, keys):
        found = self.command("POST", "/element", {"using": "css selector", "value": selector})
        element = next(iter(found.values()))
        self.command("POST", f"/element/{element}/value", {"text": keys})

    def stop(self):
        try:
            self.command("DELETE", "")
        finally:
            self.driver.kill()
            self.driver.wait()
            shutil.rmtree(self.profile, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The peer page: the least a page showing a transcript and saving a coding does.
PEER_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>peer</title></head>
<body><main id="text"></main><script>
const drawn = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
const timed = (what, started) => {
  document.body.dataset[what + "InMs"] = String(Math.round(performance.now() - started));
  document.body.dataset[what] = String(Number(document.body.dataset[what] || 0) + 1);
};
let shown = null;
const show = async (id) => {
  const text = await (await fetch("text?id=" + encodeURIComponent(id), { cache: "no-store" })).text();
  document.getElementById("text").replaceChildren(...text.split("\\n").map((line) => {
    const p = document.createElement("p");
    p.textContent = line;
    return p;
  }));
  shown = id;
  await drawn();
};
window.openTranscript = async (id) => { const started = performance.now(); await show(id); timed("opened", started); };
window.save = async (row) => {
  const started = performance.now();
  await fetch("save", { method: "POST", headers: { "Content-Type": "text/csv" }, body: row });
  await show(shown);
  timed("saved", started);
};
</script></body></html>
"""


def peer_server(study):
    """Serves the peer page over `study`; returns (server, its address)."""
    codings = os.path.join(study, "coders", "peer.csv")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, body, kind):
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path == "/text":
                name = urllib.parse.parse_qs(url.query)["id"][0]
                with open(os.path.join(study, name), "rb") as f:
                    self.answer(f.read(), "text/plain; charset=utf-8")
            else:
                self.answer(PEER_PAGE.encode(), "text/html; charset=utf-8")

        def do_POST(self):
            row = self.rfile.read(int(self.headers["Content-Length"]))
            os.makedirs(os.path.dirname(codings), exist_ok=True)
            old = open(codings, "rb").read() if os.path.exists(codings) else b""
            fd, temp = tempfile.mkstemp(dir=os.path.dirname(codings))
            with os.fdopen(fd, "wb") as f:
                f.write(old + row + b"\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, codings)
            folder = os.open(os.path.dirname(codings), os.O_RDONLY)
            os.fsync(folder)
            os.close(folder)
            self.answer(b"{}", "application/json")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class Serving(Watch):
    """`thematic watch --serve`, its address and the lines it prints."""

    def __init__(self, binary, study):
        super().__init__(binary, study, ["--serve", "--port", "0", "--coder", "bench"])
        while True:
            _, line = self.next(PATIENCE)
            if line.startswith("serving the report at "):
                self.url = line.split()[4]
                break


def step_count(browser, what):
    return int(browser.eval(f"return Number(document.body.dataset.{what} || 0)"))


def wait_step(browser, what, before):
    """Waits for the page's step `what` after `before` of them; its time in ms."""
    browser.wait_for(f"return Number(document.body.dataset.{what} || 0) > {before}", what)
    return int(browser.eval(f"return Number(document.body.dataset.{what}InMs)"))


def open_in_workbench(browser, transcript):
    before = step_count(browser, "opened")
    browser.eval("document.querySelector('#transcripts button[data-id=\"' + arguments[0] + '\"]').click()", transcript)
    return wait_step(browser, "opened", before)


def open_in_peer(browser, transcript):
    before = step_count(browser, "opened")
    browser.eval("openTranscript(arguments[0])", transcript)
    return wait_step(browser, "opened", before)


# Selects the `n`th word of four letters or more in the shown transcript not
# yet coded by the person, as a mouse would, and lets go of the mouse.
SELECT_WORD = """
const pieces = [...document.querySelectorAll('#transcript .piece:not(.own)')];
let seen = 0;
for (const piece of pieces) {
  const text = piece.firstChild;
  if (!text) continue;
  for (const word of text.data.matchAll(/[A-Za-z]{4,}/g)) {
    if (seen++ < arguments[0]) continue;
    const range = document.createRange();
    range.setStart(text, word.index);
    range.setEnd(text, word.index + word[0].length);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    piece.dispatchEvent(new MouseEvent('mouseup', { bubbles: true }));
    return word[0];
  }
}
return null;
"""


def code_in_workbench(browser, n, code):
    if not browser.eval(SELECT_WORD, n * 37):
        sys.exit("no word left to code in the shown transcript")
    browser.wait_for("return !document.getElementById('picker').hidden", "the code picker")
    before = step_count(browser, "saved")
    browser.type_into("#pick-code", code + "\ue007")
    took = wait_step(browser, "saved", before)
    said = browser.eval("return document.getElementById('status').textContent")
    if not said.startswith("Saved to coders/bench.csv"):
        sys.exit(f"the workbench did not save: {said}")
    return took


def code_in_peer(browser, transcript, n, code):
    before = step_count(browser, "saved")
    browser.eval("save(arguments[0])", f"{transcript},{code},{n * 100},{n * 100 + 9},")
    return wait_step(browser, "saved", before)


def percentile(values, share):
    values = sorted(values)
    return values[min(len(values) - 1, round(share * len(values)) - 1)]


def first_code(study):
    with open(os.path.join(study, "codebook.csv")) as f:
        next(f)
        return next(f).split(",")[0]


def main():
    a = arguments()
    binary = release_binary()
    source = corpus(a.peer_dir, a.out)
    study = fresh_study(source, a.out)
    code = first_code(study)
    cold = timed([binary, "run", study])
    print(f"{STUDY_SIZE} transcripts analysed (cold run {cold:.1f} s)")

    serving = Serving(binary, study)
    serving.batch()
    peer, peer_url = peer_server(study)
    browser = Browser(free_port())
    try:
        browser.go(serving.url + "work")
        browser.wait_for(f"return document.querySelectorAll('#transcripts button').length === {STUDY_SIZE}",
                         "the workbench lists the transcripts")
        words = browser.wait_for("return document.body.dataset.shown && "
                                 "document.getElementById('transcript').textContent.split(/\\s+/).length",
                                 "the first transcript shown")
        codings = browser.eval("return document.querySelectorAll('#review .coding').length")
        ours, theirs = [], []
        for i in range(OPENS):
            transcript = f"transcripts/P{101 + i}.txt"
            ours.append(open_in_workbench(browser, transcript))
            browser.go(peer_url)
            theirs.append(open_in_peer(browser, transcript))
            browser.go(serving.url + "work#" + urllib.parse.quote(transcript))
            browser.wait_for("return document.body.dataset.shown", "the workbench again")
        print(f"opening a transcript ({words} words, {codings} suggestions to review), median of {OPENS}: "
              f"workbench {statistics.median(ours)} ms (p95 {percentile(ours, 0.95)}), "
              f"peer page {statistics.median(theirs)} ms, "
              f"{statistics.median(ours) / max(1, statistics.median(theirs)):.1f}x (aim: under 500 ms)")

        transcript = "transcripts/P1.txt"
        browser.go(serving.url + "work#" + urllib.parse.quote(transcript))
        browser.wait_for(f"return document.body.dataset.shown === '{transcript}'", "P1 shown")
        saves, peer_saves = [], []
        for n in range(DECISIONS):
            saves.append(code_in_workbench(browser, n, code))
            time.sleep(1)
        passes = []
        while True:
            try:
                at, line, _ = serving.batch(timeout=5)
                passes.append(line)
            except Exception:
                break
        browser.go(peer_url)
        browser.wait_for("return typeof openTranscript === 'function'", "the peer page")
        open_in_peer(browser, transcript)
        for n in range(DECISIONS):
            peer_saves.append(code_in_peer(browser, transcript, n, code))
        print(f"applying a code to the page drawn with it, {DECISIONS} decisions a second apart while the "
              f"passes they start run: workbench p50 {statistics.median(saves)} ms, p95 {percentile(saves, 0.95)} ms; "
              f"peer page p50 {statistics.median(peer_saves)} ms; "
              f"{statistics.median(saves) / max(1, statistics.median(peer_saves)):.1f}x (aim: p50 under 300 ms)")
        print(f"watch passes while deciding: {len(passes)}; the last: {passes[-1] if passes else 'none'}")
        rows = sum(1 for line in open(os.path.join(study, "coders", "bench.csv")) if not line.startswith("#")) - 1
        if rows != DECISIONS:
            sys.exit(f"coders/bench.csv holds {rows} rows, not {DECISIONS}")
    finally:
        browser.stop()
        peer.shutdown()
        serving.stop()


if __name__ == "__main__":
    main()
