#!/usr/bin/env python3
"""How well coding strategies code by meaning, on the evaluation set
`bench/eval/semantic.csv` (sentences in the voice of interview participants
across the demo codebook's codes: paraphrases sharing no word with the code's
terms, plain sentences, terms used negated or in another sense, and sentences
carrying no code), written for this project.

The sentences become a study (one sentence a turn, 40 turns a transcript);
their labels a person's codings (a `coder` stage, `truth`); beside it the
demo codebook's `dictionary` stage and a `semantic` stage with the reference
model. `thematic agree --coders truth,STAGE` then gives, per code, the
segment-level (here: sentence-level) agreement and Cohen's kappa, printed
as it comes, with the macro kappa (the mean over codes) after each table.

    python3 bench/quality.py [--out bench/out] [--min-similarity 0.35]
"""
import argparse
import csv
import os
import random
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PER_TRANSCRIPT = 40


def build_study(study, rows, model, min_similarity):
    shutil.rmtree(study, ignore_errors=True)
    os.makedirs(os.path.join(study, "transcripts"))
    os.makedirs(os.path.join(study, "coders"))
    os.makedirs(os.path.join(study, "models"))
    os.symlink(model, os.path.join(study, "models", "all-MiniLM-L6-v2"))
    shutil.copy(os.path.join(ROOT, "demo", "codebook.toml"), study)
    codings = ["transcript,code,start,end"]
    where = {}
    for first in range(0, len(rows), PER_TRANSCRIPT):
        name = f"E{first // PER_TRANSCRIPT + 1:02d}"
        transcript = f"transcripts/{name}.txt"
        text = ""
        for row in rows[first:first + PER_TRANSCRIPT]:
            text += f"{name}: "
            start = len(text)
            text += row["sentence"]
            where[row["id"]] = (transcript, start, len(text))
            if row["code"]:
                codings.append(f"{transcript},{row['code']},{start},{len(text)}")
            text += "\n\n"
        with open(os.path.join(study, transcript), "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(study, "coders", "truth.csv"), "w", encoding="utf-8") as f:
        f.write("\n".join(codings) + "\n")
    with open(os.path.join(study, "thematic.toml"), "w", encoding="utf-8") as f:
        f.write(f"""[study]
name = "evaluation set"
[transcripts]
include = ["transcripts/*.txt"]
[[codebooks]]
name = "leadership"
file = "codebook.toml"
[[stages]]
name = "truth"
kind = "coding"
strategy = "coder"
codings = "coders/truth.csv"
codebook = "leadership"
[[stages]]
name = "dictionary"
kind = "coding"
strategy = "dictionary"
codebook = "leadership"
[[stages]]
name = "meaning"
kind = "coding"
strategy = "semantic"
codebook = "leadership"
model = "all-MiniLM-L6-v2"
params = {{ min_similarity = {min_similarity} }}
[outputs]
formats = ["json"]
""")


def agreement(binary, study, stage):
    """`thematic agree`'s table of `truth` against `stage`, and its codes' mean kappa."""
    out = subprocess.run([binary, "agree", study, "--coders", f"truth,{stage}"], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(out.stderr)
    kappas = []
    for line in out.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and not cells[0].startswith("pooled") and re.fullmatch(r"-?[0-9.]+", cells[3]):
            kappas.append(float(cells[3]))
    return out.stdout, sum(kappas) / len(kappas) if kappas else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    ap.add_argument("--min-similarity", default="0.35")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    model = os.path.abspath(os.path.join(a.out, "all-MiniLM-L6-v2"))
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "reference-model.sh"), model], check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "thematic")
    with open(os.path.join(ROOT, "bench", "eval", "semantic.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # Mixed, so that every transcript holds coded sentences (a person decides only on what they coded
    # in) and the negated, other-sense and uncoded sentences are among them.
    random.Random(19).shuffle(rows)
    study = os.path.join(a.out, "study-quality")
    build_study(study, rows, model, a.min_similarity)
    run = subprocess.run([binary, "run", study], capture_output=True, text=True)
    if run.returncode not in (0, 1):
        sys.exit(run.stderr)
    for stage in ("dictionary", "meaning"):
        text, macro = agreement(binary, study, stage)
        print(f"## truth against {stage} (min_similarity {a.min_similarity})\n")
        print(text)
        print(f"macro kappa (mean over codes): {macro:.3f}\n")


if __name__ == "__main__":
    main()
