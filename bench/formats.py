#!/usr/bin/env python3
"""Parsing throughput of transcript formats: Word (.docx) and WebVTT (and SRT)
beside plain text, in MB/s of files on disk, in one run.

Takes the benchmark corpus (../shared/bench/gen_corpus.py, 100 transcripts of
12,000 words, 6.5 MB), writes each transcript again as a WebVTT caption file
(a cue of about twelve words every three seconds, `<v Speaker>` voice tags), as
SRT (`Speaker: ` in each cue) and as a Word document in the
transcription-service layout (a `Speaker  00:01:02` line above each turn's
paragraph), then times `thematic check` (reads, decodes and segments every
transcript; no coding) on a study of each, alternating formats, best of five.

  python3 bench/formats.py [--peer-dir ../shared/bench] [--reps 5]
"""
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from xml.sax.saxutils import escape

from run import arguments, corpus, release_binary

LABEL = re.compile(r"^([^\W\d_][\w .'-]{0,40}): (.*)$", re.S)


def turns(text):
    """(speaker, words) per turn of a generated transcript: a labelled
    paragraph and the unlabelled ones after it, as thematic reads text."""
    speaker, words = None, []
    for block in text.split("\n\n"):
        block = block.strip()
        if not block:
            continue
        m = LABEL.match(block)
        if m:
            if words:
                yield speaker, words
            speaker, words = m.group(1), m.group(2).split()
        else:
            words += block.split()
    if words:
        yield speaker, words


def clock(ms, sep):
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02}:{m:02}:{s:02}{sep}{ms:03}"


def cues(text):
    """(start ms, end ms, speaker, cue text): about twelve words each, three seconds apart."""
    at = 0
    for speaker, words in turns(text):
        for i in range(0, len(words), 12):
            yield at, at + 2900, speaker, " ".join(words[i:i + 12])
            at += 3000


def as_vtt(text):
    out = ["WEBVTT", ""]
    for start, end, speaker, said in cues(text):
        voice = f"<v {speaker}>" if speaker else ""
        out += [f"{clock(start, '.')} --> {clock(end, '.')}", voice + escape(said), ""]
    return "\n".join(out)


def as_srt(text):
    out = []
    for n, (start, end, speaker, said) in enumerate(cues(text), 1):
        label = f"{speaker}: " if speaker else ""
        out += [str(n), f"{clock(start, ',')} --> {clock(end, ',')}", label + said, ""]
    return "\n".join(out)


def as_docx(text, path):
    paragraphs = []
    at = 0
    for speaker, words in turns(text):
        if speaker:
            paragraphs.append(f"{speaker}  {clock(at, '.')[:8]}")
        paragraphs.append(" ".join(words))
        at += 3000 * (len(words) // 12 + 1)
    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(p)}</w:t></w:r></w:p>' for p in paragraphs)
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           f'<w:body>{body}</w:body></w:document>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
        z.writestr("word/document.xml", xml)


def study(out, source, extension):
    path = os.path.join(out, f"formats-{extension}")
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(os.path.join(path, "transcripts"))
    with open(os.path.join(path, "thematic.toml"), "w") as f:
        f.write(f'[study]\nname = "formats: {extension}"\n[transcripts]\ninclude = ["transcripts/*.{extension}"]\n')
    for name in sorted(os.listdir(os.path.join(source, "transcripts"))):
        with open(os.path.join(source, "transcripts", name), encoding="utf-8") as f:
            text = f.read()
        target = os.path.join(path, "transcripts", name[:-len(".txt")] + "." + extension)
        if extension == "txt":
            shutil.copy(os.path.join(source, "transcripts", name), target)
        elif extension == "docx":
            as_docx(text, target)
        else:
            with open(target, "w", encoding="utf-8") as f:
                f.write(as_vtt(text) if extension == "vtt" else as_srt(text))
    size = sum(os.path.getsize(os.path.join(path, "transcripts", n)) for n in os.listdir(os.path.join(path, "transcripts")))
    return path, size


def timed(cmd):
    start = time.perf_counter()
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    took = time.perf_counter() - start
    if result.returncode != 0 or " ok " not in result.stdout:
        sys.exit(f"{' '.join(cmd)} failed: {result.stdout}")
    return took, result.stdout


def main():
    a = arguments(reps=5)
    binary = release_binary()
    source = corpus(a.peer_dir, a.out, 100)
    studies = {ext: study(a.out, source, ext) for ext in ["txt", "vtt", "srt", "docx"]}
    best = {ext: float("inf") for ext in studies}
    said = {}
    for _ in range(a.reps):
        for ext, (path, _) in studies.items():
            took, said[ext] = timed([binary, "check", path])
            best[ext] = min(best[ext], took)
    # Files differ in size for the same words (markup, timings, compression):
    # the last columns count the transcripts' text, the same in every format.
    text = studies["txt"][1]
    print("| Format | Files (100 transcripts) | `thematic check`, best of", a.reps,
          "| Files read | Transcript text read | Beside .txt |")
    print("|---|---:|---:|---:|---:|---:|")
    for ext, (path, size) in studies.items():
        print(f"| .{ext} | {size / 1e6:.1f} MB | {best[ext] * 1000:.0f} ms | {size / best[ext] / 1e6:.0f} MB/s "
              f"| {text / best[ext] / 1e6:.0f} MB/s | {best['txt'] / best[ext]:.2f}× |")
    for ext in studies:
        segments = re.search(r"\((\d+) segments?\)", said[ext])
        print(f"  .{ext}: {segments.group(1) if segments else '?'} segments")


if __name__ == "__main__":
    main()
