#!/usr/bin/env python3
"""REFI-QDA exchange at the size of a real project, in one run: the
benchmark corpus (../shared/bench/gen_corpus.py, 100 transcripts of 12,000
words) as a study with a dictionary stage, exported as a .qdpx, imported into
a fresh study (each coder a `coder` stage), exported again, and the two
coders compared; beside the time the Python peers take only to code the same
corpus (peer_aho.py, peer_re.py), as ratios. Best of three.

Checks on the way that the second export holds the same codings as the first.

  python3 bench/refi.py [--peer-dir ../shared/bench] [--reps 3] [--transcripts 100]
"""
import os
import re
import shutil
import sys
import zipfile

from run import Best, arguments, corpus, release_binary, timed_output


def study(out, source):
    path = os.path.join(out, "refi-study")
    if os.path.isdir(path):
        shutil.rmtree(path)
    shutil.copytree(os.path.join(source, "transcripts"), os.path.join(path, "transcripts"))
    shutil.copy(os.path.join(source, "codebook.csv"), os.path.join(path, "codebook.csv"))
    with open(os.path.join(path, "thematic.toml"), "w") as f:
        f.write('[study]\nname = "REFI-QDA benchmark"\n\n[[codebooks]]\nname = "book"\nfile = "codebook.csv"\n\n'
                '[[stages]]\nname = "dictionary"\nkind = "coding"\nstrategy = "dictionary"\ncodebook = "book"\n')
    return path


def selections(qdpx):
    """The project's codings, without what differs between studies (GUIDs of sets, the project line)."""
    with zipfile.ZipFile(qdpx) as z:
        xml = z.read("project.qde").decode()
    return sorted(re.findall(r'<PlainTextSelection [^>]*>', xml))


def main():
    a = arguments(reps=3, transcripts=True)
    binary = release_binary()
    source = corpus(a.peer_dir, a.out, a.transcripts)
    path = study(a.out, source)
    first = os.path.join(a.out, "refi-first.qdpx")
    second = os.path.join(a.out, "refi-second.qdpx")
    fresh = os.path.join(a.out, "refi-fresh")
    beside = os.path.join(a.out, "refi-beside")

    best = Best()
    keep = best.keep
    for _ in range(a.reps):
        best.peers(a.peer_dir, source)
        keep("export qdpx (code + write)", timed_output([binary, "export", "qdpx", path, "-o", first])[0])
        for folder in (fresh, beside):
            if os.path.isdir(folder):
                shutil.rmtree(folder)
        keep("import qdpx into a new study", timed_output([binary, "import", "qdpx", first, fresh])[0])
        keep("export qdpx of the imported study", timed_output([binary, "export", "qdpx", fresh, "-o", second])[0])
        # Into a copy of the study: the import's coder stands beside the strategy that made it.
        shutil.copytree(path, beside)
        timed_output([binary, "import", "qdpx", first, beside])
        took, table = timed_output([binary, "agree", beside, "--coders", "dictionary,dictionary (imported)"])
        if "| pooled: the codes both may apply |" not in table:
            sys.exit(f"agree printed no pooled row: {table}")
        keep("agree (the strategy against the imported coder)", took)

    same = selections(first) == selections(second)
    size = os.path.getsize(first)
    count = len(selections(first))
    best.print_table(f"Step ({a.transcripts} transcripts × 12,000 words, {count:,} coded selections, "
                     f".qdpx {size / 1e6:.1f} MB), best of {a.reps}")
    print(f"  second export holds the same codings as the first: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
