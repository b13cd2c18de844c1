#!/usr/bin/env python3
"""What the HTML report and its live page cost at the size of a real study,
in one run: the benchmark corpus (../shared/bench/gen_corpus.py, 100
transcripts of 12,000 words) as a study with a dictionary stage, twelve
themes of four codes and three discussion areas. Timed, best of N:

- a run after `[outputs]` changed (every transcript read again, its codings
  taken from the store) writing report.md only, and
  writing report.md and report.html (the difference is the page);
- `export xlsx` and `export dot`;
- `watch --serve`: from a new transcript saved to the served page's `/run`
  naming the new run (an open page asks once a second, so it shows the new
  report within a second after that).

Beside the time the Python peers take only to code the same corpus
(peer_aho.py, peer_re.py), as ratios.

  python3 bench/report.py [--peer-dir ../shared/bench] [--reps 5] [--transcripts 100]
"""
import json
import os
import shutil
import subprocess
import time
import urllib.request

from run import Best, arguments, corpus, release_binary, themes_and_areas, timed_output

CODES_PER_THEME = 4
THEMES = 12


def study(out, source, formats):
    path = os.path.join(out, "report-study")
    if os.path.isdir(path):
        shutil.rmtree(path)
    shutil.copytree(os.path.join(source, "transcripts"), os.path.join(path, "transcripts"))
    shutil.copy(os.path.join(source, "codebook.csv"), os.path.join(path, "codebook.csv"))
    shape = themes_and_areas(THEMES, CODES_PER_THEME)
    write_config(path, shape, formats)
    return path, shape


def write_config(path, shape, formats):
    with open(os.path.join(path, "thematic.toml"), "w") as f:
        f.write('[study]\nname = "Report benchmark"\n\n[[codebooks]]\nname = "book"\nfile = "codebook.csv"\n\n'
                '[[stages]]\nname = "dictionary"\nkind = "coding"\nstrategy = "dictionary"\ncodebook = "book"\n\n'
                '[[stages]]\nname = "themes"\nkind = "themes"\nstrategy = "defined"\n\n'
                '[[stages]]\nname = "areas"\nkind = "areas"\nstrategy = "defined"\n\n'
                + shape + f"[outputs]\nformats = {json.dumps(formats)}\n")


def live_latency(binary, path, source, reps):
    """Seconds from a new transcript saved to the live page's /run naming the new run, best of `reps`."""
    watch = subprocess.Popen([binary, "watch", path, "--serve", "--port", "0"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        url = None
        for line in watch.stdout:
            if line.startswith("serving the report at "):
                url = line.split()[4]
            if line.startswith("batch 1 "):
                break
        best = float("inf")
        text = open(os.path.join(source, "transcripts", "P1.txt")).read()
        for rep in range(reps):
            run = json.load(urllib.request.urlopen(url + "run"))["run"]
            name = os.path.join(path, "transcripts", f"New{rep}.txt")
            start = time.perf_counter()
            with open(name + ".part", "w") as f:
                f.write(text.replace("\nP1:", f"\nN{rep}:"))
            os.rename(name + ".part", name)
            while json.load(urllib.request.urlopen(url + "run"))["run"] == run:
                time.sleep(0.002)
            best = min(best, time.perf_counter() - start)
            for line in watch.stdout:
                if line.startswith("batch "):
                    break
        return best
    finally:
        watch.kill()
        watch.wait()


def main():
    a = arguments(reps=5, transcripts=True)
    binary = release_binary()
    source = corpus(a.peer_dir, a.out, a.transcripts)
    path, shape = study(a.out, source, ["markdown"])
    timed_output([binary, "run", path])  # codes everything once; the runs below reuse the store

    best = Best()
    keep = best.keep
    for _ in range(a.reps):
        best.peers(a.peer_dir, source)
        write_config(path, shape, ["markdown"])
        keep("run after [outputs] changed (codings from the store): report.md", timed_output([binary, "run", path])[0])
        write_config(path, shape, ["markdown", "html"])
        keep("run after [outputs] changed (codings from the store): report.md + report.html", timed_output([binary, "run", path])[0])
        keep("export xlsx", timed_output([binary, "export", "xlsx", path, "-o", os.path.join(a.out, "report.xlsx")])[0])
        keep("export dot", timed_output([binary, "export", "dot", path, "-o", os.path.join(a.out, "report.dot")])[0])
    keep("watch --serve: a new transcript to the page's /run", live_latency(binary, path, source, a.reps))

    page = os.path.getsize(os.path.join(path, "reports", "report.html"))
    best.print_table(f"Step ({a.transcripts} transcripts × 12,000 words, {THEMES} themes; "
                     f"report.html {page / 1e3:.0f} kB), best of {a.reps}")


if __name__ == "__main__":
    main()
