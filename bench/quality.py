#!/usr/bin/env python3
"""How well coding strategies code by meaning, on the evaluation set
`bench/eval/semantic.csv` (sentences in the voice of interview participants
across the demo codebook's codes: paraphrases sharing no word with the code's
terms, plain sentences, terms used negated or in another sense, and sentences
carrying no code), written for this project.

The sentences become a study (one sentence a turn, 40 turns a transcript);
their labels a person's codings (a `coder` stage, `truth`). Beside it: the
demo codebook's `dictionary` stage, a zero-shot `semantic` stage with the
reference model, and for each of 5, 10 and 20 examples per code a `semantic`
stage learning (`learn_from`) from a second person's codings of other
transcripts, made from `bench/eval/semantic-train.csv` (that many sentences
per code, drawn at random once and nested, and all its uncoded sentences).
No learnt stage sees a sentence of the evaluation set.

Every stage's codings come out of `thematic export qdpx`; per code, over the
evaluation set's sentences, precision, recall and Cohen's kappa against the
labels, and the macro figures (means over codes). The kappas are those
`thematic agree --coders truth,STAGE` gives (the dictionary's is printed
both ways as a check). The learnt stages' own report (agreement with the
person they learnt from, by cross-validation) is printed beside.

    python3 bench/quality.py [--out bench/out] [--min-similarity 0.35] [--per-code]
"""
import argparse
import csv
import os
import random
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PER_TRANSCRIPT = 40
SHOTS = (5, 10, 20)
QDA = "{urn:QDA-XML:project:1.0}"


def write_transcripts(study, folder, label, rows, where, codings):
    """Writes `rows` as transcripts `folder/LABELnn.txt`, a sentence a turn; notes each
    sentence's place in `where` and its label in `codings`."""
    os.makedirs(os.path.join(study, folder), exist_ok=True)
    for first in range(0, len(rows), PER_TRANSCRIPT):
        name = f"{label}{first // PER_TRANSCRIPT + 1:02d}"
        transcript = f"{folder}/{name}.txt"
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


def examples(train, shots):
    """`shots` sentences per code of the training set (the same draw, nested), and all uncoded ones."""
    by_code = {}
    for row in train:
        by_code.setdefault(row["code"], []).append(row)
    chosen = [row for row in by_code.pop("", [])]
    for code in sorted(by_code):
        rows = by_code[code][:]
        random.Random(code).shuffle(rows)
        chosen += rows[:shots]
    random.Random(shots).shuffle(chosen)
    return chosen


def stage(name, strategy, extra=""):
    return f"""[[stages]]
name = "{name}"
kind = "coding"
strategy = "{strategy}"
codebook = "leadership"
{extra}
"""


def build_study(study, rows, train, model, min_similarity):
    """The study; returns where each evaluation sentence is: id to (transcript, start, end)."""
    shutil.rmtree(study, ignore_errors=True)
    os.makedirs(os.path.join(study, "coders"))
    os.makedirs(os.path.join(study, "models"))
    os.symlink(model, os.path.join(study, "models", "all-MiniLM-L6-v2"))
    shutil.copy(os.path.join(ROOT, "demo", "codebook.toml"), study)
    where = {}
    truth = ["transcript,code,start,end"]
    write_transcripts(study, "transcripts", "E", rows, where, truth)
    with open(os.path.join(study, "coders", "truth.csv"), "w", encoding="utf-8") as f:
        f.write("\n".join(truth) + "\n")
    stages = [
        stage("truth", "coder", 'codings = "coders/truth.csv"'),
        stage("dictionary", "dictionary"),
        stage("meaning", "semantic", f'model = "all-MiniLM-L6-v2"\nparams = {{ min_similarity = {min_similarity} }}'),
    ]
    for shots in SHOTS:
        taught = ["transcript,code,start,end"]
        write_transcripts(study, f"transcripts/taught{shots}", f"T{shots}-", examples(train, shots), {}, taught)
        with open(os.path.join(study, "coders", f"examples{shots}.csv"), "w", encoding="utf-8") as f:
            f.write("\n".join(taught) + "\n")
        stages.append(stage(f"examples{shots}", "coder", f'codings = "coders/examples{shots}.csv"'))
        stages.append(stage(f"learnt{shots}", "semantic", f'model = "all-MiniLM-L6-v2"\nlearn_from = "examples{shots}"'))
    with open(os.path.join(study, "thematic.toml"), "w", encoding="utf-8") as f:
        f.write(f"""[study]
name = "evaluation set"
[transcripts]
include = ["transcripts/**/*.txt"]
[[codebooks]]
name = "leadership"
file = "codebook.toml"
{"".join(stages)}
[outputs]
formats = ["markdown"]
""")
    return where


def coded_sentences(qdpx, where):
    """Per stage, the (sentence id, code) pairs it coded among the evaluation set's sentences."""
    with zipfile.ZipFile(qdpx) as z:
        project = ET.fromstring(z.read("project.qde"))
    users = {u.get("guid"): u.get("name") for u in project.iter(f"{QDA}User")}
    sentence_at = {}
    for sid, (transcript, start, end) in where.items():
        sentence_at.setdefault(transcript, []).append((start, end, sid))
    coded = {}
    for source in project.iter(f"{QDA}TextSource"):
        sentences = sentence_at.get(source.get("name"), [])
        for selection in source.iter(f"{QDA}PlainTextSelection"):
            start = int(selection.get("startPosition"))
            for s_start, s_end, sid in sentences:
                if s_start <= start < s_end:
                    coded.setdefault(users[selection.get("creatingUser")], set()).add((sid, selection.get("name")))
    return coded


def figures(coded, rows, codes):
    """Per code (tp, fp, fn, tn, precision, recall, kappa) over the evaluation set's sentences."""
    out = {}
    for code in codes:
        tp = fp = fn = tn = 0
        for row in rows:
            truth, said = row["code"] == code, (row["id"], code) in coded
            tp += truth and said
            fp += said and not truth
            fn += truth and not said
            tn += not truth and not said
        n = tp + fp + fn + tn
        po = (tp + tn) / n
        pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
        kappa = (po - pe) / (1 - pe) if pe < 1 else float("nan")
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        out[code] = (tp, fp, fn, tn, precision, recall, kappa)
    return out


def mean(values):
    values = [v for v in values if v == v]
    return sum(values) / len(values) if values else float("nan")


def agree_macro(binary, study, stage):
    """`thematic agree --coders truth,STAGE`'s mean kappa over codes, as a check."""
    out = subprocess.run([binary, "agree", study, "--coders", f"truth,{stage}"], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(out.stderr)
    kappas = []
    for line in out.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and not cells[0].startswith("pooled") and re.fullmatch(r"-?[0-9.]+", cells[3]):
            kappas.append(float(cells[3]))
    return mean(kappas)


def cross_validated(report, stage):
    """The macro kappa, precision and recall a learnt stage's report gives against the person it learnt from."""
    section = report[report.find(f"### `{stage}`, learnt from"):]
    section = section[:section.find("\n#", 4)] if "\n#" in section[4:] else section
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"-?[0-9.]+", cells[3]):
            rows.append([float(c) if re.fullmatch(r"-?[0-9.]+", c) else float("nan") for c in cells[3:]])
    return tuple(mean([r[i] for r in rows]) for i in range(3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    ap.add_argument("--min-similarity", default="0.35")
    ap.add_argument("--per-code", action="store_true", help="print every stage's figures per code")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    model = os.path.abspath(os.path.join(a.out, "all-MiniLM-L6-v2"))
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "reference-model.sh"), model], check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "thematic")
    read = lambda name: list(csv.DictReader(open(os.path.join(ROOT, "bench", "eval", name), encoding="utf-8")))
    rows, train = read("semantic.csv"), read("semantic-train.csv")
    # Mixed, so that every transcript holds coded sentences (a person decides only on what they coded
    # in) and the negated, other-sense and uncoded sentences are among them.
    random.Random(19).shuffle(rows)
    study = os.path.join(a.out, "study-quality")
    where = build_study(study, rows, train, model, a.min_similarity)
    run = subprocess.run([binary, "run", study], capture_output=True, text=True)
    if run.returncode not in (0, 1):
        sys.exit(run.stderr)
    qdpx = os.path.join(a.out, "study-quality.qdpx")
    subprocess.run([binary, "export", "qdpx", study, "-o", qdpx], check=True, capture_output=True)
    coded = coded_sentences(qdpx, where)
    codes = sorted({row["code"] for row in rows if row["code"]})
    report = open(os.path.join(study, "reports", "report.md"), encoding="utf-8").read()
    stages = [("dictionary", "dictionary (the codes' terms)"),
              ("meaning", f"semantic, zero-shot, min_similarity {a.min_similarity}")]
    stages += [(f"learnt{k}", f"semantic, learnt from {k} examples per code") for k in SHOTS]
    print(f"{len(rows)} evaluation sentences, {len(codes)} codes\n")
    print("| Strategy | Macro kappa | Macro precision | Macro recall | Against its teacher (cross-validated kappa, precision, recall) |")
    print("|---|---:|---:|---:|---|")
    for name, label in stages:
        per_code = figures(coded.get(name, set()), rows, codes)
        macro = [mean([f[i] for f in per_code.values()]) for i in (6, 4, 5)]
        teacher = "–"
        if name.startswith("learnt"):
            teacher = "{:.3f}, {:.3f}, {:.3f}".format(*cross_validated(report, name))
        print(f"| {label} | {macro[0]:.3f} | {macro[1]:.3f} | {macro[2]:.3f} | {teacher} |")
        if a.per_code:
            for code, (tp, fp, fn, tn, p, r, k) in per_code.items():
                print(f"|   {code} | {k:.3f} | {p:.3f} | {r:.3f} | tp {tp} fp {fp} fn {fn} |")
    print(f"\ncheck: `thematic agree --coders truth,dictionary` macro kappa {agree_macro(binary, study, 'dictionary'):.3f}")


if __name__ == "__main__":
    main()
