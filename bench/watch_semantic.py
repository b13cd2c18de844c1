#!/usr/bin/env python3
"""Watch mode with a `semantic` stage (issue 19's benchmark).

The study of bench/watch.py (the demo's shape: a dictionary stage, twelve
themes, four with sub-themes, three discussion areas, every default output)
at 100 generated transcripts of 12,000 words, with a `semantic` stage
(the reference model, all-MiniLM-L6-v2) beside the dictionary one:
  - a cold `thematic run` (empty store and embedding cache);
  - `thematic watch`: from a new 12,000-word transcript renamed into place to
    the batch's line (reports on disk, run stored), over 5 arrivals; every
    sentence of the study already embedded, the new transcript's not.
The generated transcripts share few sentences, so each arrival embeds
nearly all of its own (about 600).

    python3 bench/watch_semantic.py [--peer-dir ../shared/bench] [--out bench/out]
"""
import os
import shutil
import statistics
import subprocess
import sys

from run import ROOT, arguments, release_binary, timed
from watch import CONFIG, Watch, arrive

STUDY_SIZE, ARRIVALS = 100, 5

SEMANTIC = """[[stages]]
name = "meaning"
kind = "coding"
strategy = "semantic"
codebook = "book"
model = "all-MiniLM-L6-v2"

[[stages]]
name = "themes"
"""


def main():
    a = arguments()
    binary = release_binary()
    model = os.path.abspath(os.path.join(a.out, "all-MiniLM-L6-v2"))
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "reference-model.sh"), model], check=True)
    source = os.path.join(a.out, "corpus-semantic")
    if not os.path.isdir(os.path.join(source, "transcripts")):
        subprocess.run([sys.executable, os.path.join(a.peer_dir, "gen_corpus.py"), "--out", source,
                        "--transcripts", str(STUDY_SIZE + ARRIVALS), "--words", "12000"], check=True)
    study = os.path.join(a.out, "study-watch-semantic")
    shutil.rmtree(study, ignore_errors=True)
    os.makedirs(os.path.join(study, "transcripts"))
    os.makedirs(os.path.join(study, "models"))
    os.symlink(model, os.path.join(study, "models", "all-MiniLM-L6-v2"))
    for i in range(1, STUDY_SIZE + 1):
        shutil.copy(os.path.join(source, "transcripts", f"P{i}.txt"), os.path.join(study, "transcripts"))
    for name in ("codebook.csv", "participants.csv"):
        shutil.copy(os.path.join(source, name), study)
    with open(os.path.join(study, "thematic.toml"), "w") as f:
        f.write(CONFIG.replace('[[stages]]\nname = "themes"\n', SEMANTIC, 1))

    cold = timed([binary, "run", study])
    print(f"cold run of {STUDY_SIZE} transcripts with a semantic stage: {cold:.1f} s")

    transcripts = os.path.join(study, "transcripts")
    watch = Watch(binary, study)
    watch.batch()
    latencies = []
    for i in range(STUDY_SIZE + 1, STUDY_SIZE + ARRIVALS + 1):
        latencies.append(arrive(watch, source, transcripts, i))
        print(f"  P{i}: {latencies[-1]:.2f} s")
    watch.stop()
    print(f"arrival to updated report, {ARRIVALS} arrivals: p50 {statistics.median(latencies):.2f} s, "
          f"max {max(latencies):.2f} s (aim: p50 under 2 s)")


if __name__ == "__main__":
    main()
