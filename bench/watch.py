#!/usr/bin/env python3
"""Incremental runs and watch mode on a large study (issue 5's benchmark).

A study of 1,000 generated transcripts (12,000 words each), shaped like the
demo (a dictionary stage over participants' turns, twelve themes of which
four hold sub-themes, three discussion areas, every default output), is timed:
  - a cold `thematic run` (empty store) and a `thematic run` after one
    transcript changed, as a share of the cold run;
  - `thematic watch` with its default debounce: the time from a new
    transcript being renamed into place to the batch's line (printed once the
    reports are on disk and the run is stored), p50 and p95 over 20 arrivals;
  - a burst of 500 transcripts copied in at once: batches, and whether each
    file was added exactly once.

    python3 bench/watch.py [--peer-dir ../shared/bench] [--out bench/out]
"""
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

from run import arguments, release_binary, themes_and_areas, timed

STUDY_SIZE, ARRIVALS, BURST = 1000, 20, 500

# The demo study's shape: participants' turns coded, themes (some with
# sub-themes) reviewed across participants, discussion areas, every default
# output (report.md, report.html, CSV and JSON).
CONFIG = """[study]
name = "watch benchmark"
[transcripts]
include = ["transcripts/*.txt"]
roles = { Interviewer = "interviewer" }
[participants]
file = "participants.csv"
[[codebooks]]
name = "book"
file = "codebook.csv"
[[stages]]
name = "code"
kind = "coding"
strategy = "dictionary"
codebook = "book"
[[stages]]
name = "themes"
kind = "themes"
strategy = "defined"
min_participants = 4
extracts = 3
[[stages]]
name = "areas"
kind = "areas"
strategy = "defined"

""" + themes_and_areas(subthemes=True)


def corpus(peer_dir, out):
    path = os.path.join(out, "corpus-watch")
    if not os.path.isdir(os.path.join(path, "transcripts")):
        subprocess.run([sys.executable, os.path.join(peer_dir, "gen_corpus.py"), "--out", path,
                        "--transcripts", str(STUDY_SIZE + ARRIVALS + BURST), "--words", "12000"], check=True)
    return path


def fresh_study(source, out):
    study = os.path.join(out, "study-watch")
    shutil.rmtree(study, ignore_errors=True)
    os.makedirs(os.path.join(study, "transcripts"))
    for i in range(1, STUDY_SIZE + 1):
        shutil.copy(os.path.join(source, "transcripts", f"P{i}.txt"), os.path.join(study, "transcripts"))
    for name in ("codebook.csv", "participants.csv"):
        shutil.copy(os.path.join(source, name), study)
    with open(os.path.join(study, "thematic.toml"), "w") as f:
        f.write(CONFIG)
    return study


class Watch:
    """A running `thematic watch` and the lines it prints."""

    def __init__(self, binary, study, more=()):
        self.process = subprocess.Popen([binary, "watch", study, *more], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.held = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put((time.perf_counter(), line.rstrip("\n")))

    def next(self, timeout):
        if self.held:
            line, self.held = self.held, None
            return line
        return self.lines.get(timeout=timeout)

    def batch(self, timeout=600):
        """(time of the batch line, the batch line, the summary lines after it)."""
        while True:
            at, line = self.next(timeout)
            if line.startswith("batch "):
                break
        summary = []
        while True:
            try:
                when, more = self.next(0.3)
            except queue.Empty:
                break
            if more.startswith("batch "):
                self.held = (when, more)
                break
            summary.append(more)
        return at, line, summary

    def stop(self):
        self.process.kill()
        self.process.wait()


def added(summary):
    for line in summary:
        if line.startswith("  transcripts added: "):
            return line[len("  transcripts added: "):].split(", ")
    return []


def arrive(watch, source, transcripts, i):
    """Renames transcript P`i` of `source` into place under the running `watch`;
    returns the seconds to its batch's line, which must add it alone."""
    scratch = os.path.join(transcripts, f".P{i}.txt.tmp")
    shutil.copy(os.path.join(source, "transcripts", f"P{i}.txt"), scratch)
    start = time.perf_counter()
    os.rename(scratch, os.path.join(transcripts, f"P{i}.txt"))
    at, line, summary = watch.batch()
    if added(summary) != [f"transcripts/P{i}.txt"]:
        sys.exit(f"arrival P{i}: unexpected batch: {line} {summary}")
    time.sleep(0.3)
    return at - start


def main():
    a = arguments()
    binary = release_binary()
    source = corpus(a.peer_dir, a.out)
    study = fresh_study(source, a.out)
    transcripts = os.path.join(study, "transcripts")

    cold = timed([binary, "run", study])
    shares = []
    for i in range(1, 4):
        with open(os.path.join(transcripts, f"P{i}.txt"), "a") as f:
            f.write(f"P{i}: one more thing, said later.\n")
        shares.append(timed([binary, "run", study]) / cold)
    print(f"cold run of {STUDY_SIZE} transcripts: {cold:.2f} s; a run after one transcript changed: "
          f"{statistics.median(shares) * 100:.1f}% of it (aim: under 3%)")

    watch = Watch(binary, study)
    watch.batch()
    latencies = []
    for i in range(STUDY_SIZE + 1, STUDY_SIZE + ARRIVALS + 1):
        latencies.append(arrive(watch, source, transcripts, i))
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
    print(f"arrival to updated report, {ARRIVALS} arrivals, default debounce: p50 {p50 * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms (aim: p50 under 150 ms)")

    first = STUDY_SIZE + ARRIVALS + 1
    start = time.perf_counter()
    for i in range(first, first + BURST):
        shutil.copy(os.path.join(source, "transcripts", f"P{i}.txt"), transcripts)
    seen, batches, coded = [], 0, 0
    while len(seen) < BURST:
        at, line, summary = watch.batch()
        batches += 1
        seen.extend(added(summary))
        coded += sum(int(m.group(1)) for m in (re.match(r"  coding: (\d+) segments? coded", s) for s in summary) if m)
    took = at - start
    watch.stop()
    once = len(seen) == len(set(seen)) == BURST
    print(f"burst of {BURST} copied in: {batches} batch(es), {len(set(seen))} transcripts added"
          f"{', each exactly once' if once else ', NOT each once'}, {coded} segments coded, "
          f"{took:.1f} s to the last batch")
    if not once:
        sys.exit(1)


if __name__ == "__main__":
    main()
