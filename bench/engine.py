#!/usr/bin/env python3
"""Code once, read many (issue 18's benchmark).

A study of 1,000 generated transcripts (12,000 words each) shaped like the
demo (themes with sub-themes, discussion areas, every default output) with
three coding stages — the builtin dictionary, a Lua script using the host's
dictionary (scripts/research_questions.lua) and the dictionary plugin in
processes of its own — and an [[agreement]] of the builtin and the plugin.
Timed in one run on the same machine:

  - a cold `thematic run` (empty store);
  - after it, with nothing changed: a second `thematic run`, `export qdpx`,
    `export xlsx` and `agree`, each as a share of the cold run (aim: at most
    15%), best of --reps;
  - `thematic watch`: one transcript changed (renamed into place) to the
    batch's line, p50 and p95 over 20 changes (aim: p50 under 150 ms), with
    the stages started again and the processes started, counted.

    python3 bench/engine.py [--peer-dir ../shared/bench] [--out bench/out] [--reps 3]
"""
import os
import shutil
import statistics
import subprocess
import sys
import time

from run import ROOT, arguments, release_binary, themes_and_areas, timed_output
from watch import STUDY_SIZE, Watch, corpus

CHANGES = 20

CONFIG = """[study]
name = "engine benchmark"
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
name = "script"
kind = "coding"
strategy = "lua"
script = "scripts/research_questions.lua"
codebook = "book"
[[stages]]
name = "plugin"
kind = "coding"
strategy = "plugin"
plugin = "plugins/dictionary.so"
isolation = "process"
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
[[agreement]]
coders = ["code", "plugin"]

""" + themes_and_areas(subthemes=True)


def fresh_study(source, out):
    study = os.path.join(out, "study-engine")
    shutil.rmtree(study, ignore_errors=True)
    os.makedirs(os.path.join(study, "transcripts"))
    for i in range(1, STUDY_SIZE + 1):
        shutil.copy(os.path.join(source, "transcripts", f"P{i}.txt"), os.path.join(study, "transcripts"))
    for name in ("codebook.csv", "participants.csv"):
        shutil.copy(os.path.join(source, name), study)
    os.makedirs(os.path.join(study, "scripts"))
    for name in ("research_questions.lua", "codings.lua"):
        shutil.copy(os.path.join(ROOT, "scripts", name), os.path.join(study, "scripts"))
    os.makedirs(os.path.join(study, "plugins"))
    library = {"darwin": "libdictionary_plugin.dylib"}.get(sys.platform, "libdictionary_plugin.so")
    shutil.copy(os.path.join(ROOT, "target", "release", library), os.path.join(study, "plugins", "dictionary.so"))
    with open(os.path.join(study, "thematic.toml"), "w") as f:
        f.write(CONFIG)
    return study


def children(pid):
    """The processes whose parent is `pid` (Linux)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def main():
    a = arguments(reps=3)
    binary = release_binary()
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "dictionary-plugin"], cwd=ROOT, check=True)
    source = corpus(a.peer_dir, a.out)
    study = fresh_study(source, a.out)

    cold, _ = timed_output([binary, "run", study])
    steps = {
        "second `thematic run`": [binary, "run", study],
        "`export qdpx`": [binary, "export", "qdpx", study, "-o", os.path.join(a.out, "engine.qdpx")],
        "`export xlsx`": [binary, "export", "xlsx", study, "-o", os.path.join(a.out, "engine.xlsx")],
        "`agree`": [binary, "agree", study, "--coders", "code,plugin"],
    }
    best = {name: float("inf") for name in steps}
    for _ in range(a.reps):
        for name, cmd in steps.items():
            best[name] = min(best[name], timed_output(cmd)[0])
    print(f"| After a run of {STUDY_SIZE} transcripts, nothing changed | Time | Share of the cold run (aim: ≤ 15%) |")
    print("|---|---:|---:|")
    print(f"| cold `thematic run` (empty store) | {cold:.2f} s | 100% |")
    for name, took in best.items():
        print(f"| {name} | {took * 1000:.0f} ms | {took / cold * 100:.1f}% |")

    watch = Watch(binary, study)
    watch.batch()
    processes = children(watch.process.pid)
    latencies, restarted, new_processes = [], 0, 0
    transcripts = os.path.join(study, "transcripts")
    for i in range(1, CHANGES + 1):
        path = os.path.join(transcripts, f"P{i}.txt")
        with open(path) as f:
            text = f.read()
        scratch = os.path.join(transcripts, f".P{i}.txt.tmp")
        with open(scratch, "w") as f:
            f.write(text + f"\nP{i}: one more thing, said later.\n")
        start = time.perf_counter()
        os.rename(scratch, path)
        at, line, summary = watch.batch()
        if not any(s.startswith("  transcripts changed: ") for s in summary):
            sys.exit(f"change {i}: unexpected batch: {line} {summary}")
        restarted += sum(1 for s in summary if s.startswith("  stages started again"))
        now = children(watch.process.pid)
        new_processes += len(now - processes)
        processes = now
        latencies.append(at - start)
        time.sleep(0.3)
    watch.stop()
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
    print(f"\nwatch, one transcript changed, {CHANGES} changes: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
          f"(aim: p50 under 150 ms); batches that started a stage again: {restarted}; processes started: {new_processes}")


if __name__ == "__main__":
    main()
