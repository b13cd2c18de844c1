#!/usr/bin/env python3
"""Benchmark `thematic code` against the Python peers, in one run, as ratios.

Generates corpora with ../shared/bench/gen_corpus.py (10, 100 and 500
transcripts of 12,000 words), builds the release binary, checks that
`thematic code` gives exactly the JSON of peer_re.py (and of peer_aho.py),
then times whole processes, alternating tools so that machine noise falls on
both alike. Prints a Markdown table for docs/benchmarks.md.

  python3 bench/run.py [--peer-dir ../shared/bench] [--reps 11]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_pyahocorasick():
    try:
        import ahocorasick  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pyahocorasick"], check=True)


def corpus(peer_dir, out, n):
    path = os.path.join(out, f"corpus-{n}")
    if not os.path.isdir(os.path.join(path, "transcripts")):
        subprocess.run([sys.executable, os.path.join(peer_dir, "gen_corpus.py"), "--out", path,
                        "--transcripts", str(n), "--words", "12000"], check=True)
    return path


def thematic_cmd(binary, path):
    return [binary, "code", os.path.join(path, "transcripts"), "--codebook", os.path.join(path, "codebook.csv")]


def peer_cmd(peer_dir, peer, path, json_out=None):
    cmd = [sys.executable, os.path.join(peer_dir, peer), path]
    return cmd + (["--json", json_out] if json_out else [])


def output_json(cmd, json_out=None):
    result = subprocess.run(cmd, check=True, capture_output=True, text=True)
    if json_out:
        with open(json_out) as f:
            return json.load(f)
    return json.loads(result.stdout)


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def timed_output(cmd, ok=(0,)):
    """Seconds `cmd` took and what it printed; a failure ends the benchmark with its stderr."""
    start = time.perf_counter()
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - start
    if result.returncode not in ok:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return took, result.stdout


class Best:
    """The best time of each step over repetitions, in the order first timed,
    beside the fastest peer's coding of the same corpus."""

    PEER = "peer_aho.py (coding only)"

    def __init__(self):
        self.times = {}

    def keep(self, name, took):
        self.times[name] = min(self.times.get(name, float("inf")), took)

    def peers(self, peer_dir, corpus_path):
        """Times both Python peers coding the corpus."""
        for peer in ("peer_aho.py", "peer_re.py"):
            self.keep(f"{peer} (coding only)", timed_output([sys.executable, os.path.join(peer_dir, peer), corpus_path])[0])

    def print_table(self, heading):
        """A Markdown table: each step's time and its ratio to the fastest peer's."""
        aho = self.times[self.PEER]
        print(f"| {heading} | Time | Beside peer_aho.py coding alone |")
        print("|---|---:|---:|")
        for name, took in self.times.items():
            print(f"| {name} | {took * 1000:.0f} ms | {took / aho:.2f}× |")


def arguments(reps=None, transcripts=False):
    """The options the benchmarks share: where the peers are and where to
    write (made here), and, where a benchmark takes them, repetitions and
    the corpus size."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer-dir", default=os.path.join(ROOT, "..", "shared", "bench"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    if reps:
        ap.add_argument("--reps", type=int, default=reps)
    if transcripts:
        ap.add_argument("--transcripts", type=int, default=100)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    return a


def release_binary():
    """Builds thematic for release and returns the binary's path."""
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "thematic")


def themes_and_areas(themes=12, codes_per_theme=4, subthemes=False):
    """`[[themes]]` over a generated codebook's codes (code_000, ...) and
    `[[areas]]` of four themes each; with `subthemes`, every third theme
    holds its codes in two sub-themes, as the demo's inspection theme does."""
    def codes(first, n):
        return "[" + ", ".join(f'"code_{c:03d}"' for c in range(first, first + n)) + "]"

    text = ""
    for t in range(themes):
        first = t * codes_per_theme
        if subthemes and t % 3 == 2:
            half = codes_per_theme // 2
            text += f'[[themes]]\nid = "T{t + 1}"\nname = "Theme {t + 1}"\ncodes = []\n\n'
            for s, (start, n) in enumerate([(first, half), (first + half, codes_per_theme - half)]):
                text += (f'[[themes.subthemes]]\nid = "T{t + 1}{"ab"[s]}"\nname = "Sub-theme {t + 1}{"ab"[s]}"\n'
                         f'codes = {codes(start, n)}\n\n')
        else:
            text += f'[[themes]]\nid = "T{t + 1}"\nname = "Theme {t + 1}"\ncodes = {codes(first, codes_per_theme)}\n\n'
    for a in range(themes // 4):
        members = ", ".join(f'"T{t + 1}"' for t in range(a * 4, a * 4 + 4))
        text += f'[[areas]]\nid = "A{a + 1}"\nname = "Area {a + 1}"\nthemes = [{members}]\n\n'
    return text


STAGES = {
    "none": None,
    "dictionary": 'strategy = "dictionary"\ncodebook = "book"',
    "lua-dictionary": 'strategy = "lua"\nscript = "scripts/research_questions.lua"\ncodebook = "book"',
    "lua-noop": 'strategy = "lua"\nscript = "scripts/noop.lua"',
    "plugin-dictionary": 'strategy = "plugin"\nplugin = "plugins/dictionary.so"\ncodebook = "book"',
    "plugin-dictionary-isolated": 'strategy = "plugin"\nplugin = "plugins/dictionary.so"\nisolation = "process"\ncodebook = "book"',
    "lua-keywords": 'strategy = "lua"\nscript = "scripts/keywords.lua"\ncodebook = "book"',
}


def study_for(corpus_path, out, stage):
    """A study over a generated corpus whose one coding stage is `stage`, every turn coded."""
    study = os.path.join(out, "study-" + os.path.basename(corpus_path))
    os.makedirs(os.path.join(study, "scripts"), exist_ok=True)
    link = os.path.join(study, "transcripts")
    if not os.path.exists(link):
        os.symlink(os.path.abspath(os.path.join(corpus_path, "transcripts")), link)
    shutil.copy(os.path.join(corpus_path, "codebook.csv"), study)
    for name in ("research_questions.lua", "codings.lua"):
        shutil.copy(os.path.join(ROOT, "scripts", name), os.path.join(study, "scripts"))
    for name in ("noop.lua", "keywords.lua"):
        shutil.copy(os.path.join(ROOT, "bench", "lua", name), os.path.join(study, "scripts"))
    os.makedirs(os.path.join(study, "plugins"), exist_ok=True)
    library = {"linux": "libdictionary_plugin.so", "darwin": "libdictionary_plugin.dylib"}.get(sys.platform, "libdictionary_plugin.so")
    shutil.copy(os.path.join(ROOT, "target", "release", library), os.path.join(study, "plugins", "dictionary.so"))
    config = '[study]\nname = "bench"\n[transcripts]\ninclude = ["transcripts/*.txt"]\nroles = {}\n'
    config += '[[codebooks]]\nname = "book"\nfile = "codebook.csv"\n[outputs]\nformats = ["json"]\n'
    if STAGES[stage]:
        config += '[[stages]]\nname = "code"\nkind = "coding"\n' + STAGES[stage]
        config += '\nroles = ["participant", "interviewer", "preamble"]\n'
    with open(os.path.join(study, "thematic.toml"), "w") as f:
        f.write(config)
    return study


def timed_run(binary, study):
    """A whole `thematic run` on an empty store, every transcript coded."""
    shutil.rmtree(os.path.join(study, ".thematic"), ignore_errors=True)
    return timed([binary, "run", study])


def lua_benchmark(binary, corpus_path, out, reps):
    """Lua coding stages beside the builtin dictionary, whole runs on one corpus."""
    times, matrices = {}, {}
    for rep in range(reps):
        for stage in STAGES:
            study = study_for(corpus_path, out, stage)
            times.setdefault(stage, []).append(timed_run(binary, study))
            if rep == 0:
                with open(os.path.join(study, "reports", "code-document-matrix.json")) as f:
                    matrices[stage] = json.load(f)
    if matrices["lua-dictionary"] != matrices["dictionary"]:
        sys.exit("the Lua dictionary script and the builtin dictionary disagree")
    for plugin in ("plugin-dictionary", "plugin-dictionary-isolated"):
        if matrices[plugin] != matrices["dictionary"]:
            sys.exit(f"{plugin} and the builtin dictionary disagree")
    median = {stage: statistics.median(t) for stage, t in times.items()}
    segments = matrices["dictionary"]["segments"]
    print("\n| Coding stage (whole `thematic run`, empty store) | s | Coding time (s, run less a run without the stage) | vs builtin |")
    print("|---|---:|---:|---:|")
    builtin = median["dictionary"] - median["none"]
    for stage in ("dictionary", "plugin-dictionary", "plugin-dictionary-isolated", "lua-dictionary", "lua-keywords", "lua-noop"):
        coding = median[stage] - median["none"]
        print(f"| {stage} | {median[stage]:.3f} | {coding:.3f} | {builtin / coding:.2f}× |")
    overhead = (median["lua-noop"] - median["none"]) / segments * 1e6
    print(f"\n{segments} segments; a call into a script costs {overhead:.1f} µs (lua-noop).")
    transcripts = len(matrices["dictionary"]["coded_segments"])
    isolation = (median["plugin-dictionary-isolated"] - median["plugin-dictionary"]) / transcripts * 1e3
    print(f"{transcripts} transcripts; process isolation adds {isolation:.2f} ms per transcript "
          f"(isolated less in-process plugin run), children started included.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer-dir", default=os.path.join(ROOT, "..", "shared", "bench"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    ap.add_argument("--reps", type=int, default=11, help="runs of thematic per corpus (peers get fewer)")
    ap.add_argument("--stages-only", action="store_true", help="only the coding-stage comparison (Lua, plugins)")
    a = ap.parse_args()
    ensure_pyahocorasick()
    os.makedirs(a.out, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--workspace"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "thematic")

    if a.stages_only:
        lua_benchmark(binary, corpus(a.peer_dir, a.out, 100), a.out, max(3, a.reps // 4))
        return
    rows = []
    for n, peers in [(10, ["peer_re.py", "peer_aho.py"]), (100, ["peer_aho.py"]), (500, ["peer_aho.py"])]:
        path = corpus(a.peer_dir, a.out, n)
        ours = output_json(thematic_cmd(binary, path))
        reference = "peer_re.py" if n == 10 else "peer_aho.py"
        theirs = output_json(peer_cmd(a.peer_dir, reference, path, os.path.join(a.out, "peer.json")), os.path.join(a.out, "peer.json"))
        if ours != theirs:
            sys.exit(f"corpus {n}: thematic code and {reference} disagree")
        size = sum(os.path.getsize(os.path.join(path, "transcripts", f)) for f in os.listdir(os.path.join(path, "transcripts")))
        times = {"thematic": []}
        times.update({p: [] for p in peers})
        for rep in range(a.reps):
            times["thematic"].append(timed(thematic_cmd(binary, path)))
            for p in peers:
                if rep < (1 if p == "peer_re.py" else 5):
                    times[p].append(timed(peer_cmd(a.peer_dir, p, path)))
        ours_median = statistics.median(times["thematic"])
        for p in peers:
            peer_median = statistics.median(times[p])
            rows.append((n, size, reference == p, p, peer_median, ours_median, peer_median / ours_median))
        print(f"corpus {n}: same counts as {reference}; " + ", ".join(
            f"{k} {statistics.median(v) * 1000:.1f} ms" for k, v in times.items()), file=sys.stderr)

    lua_benchmark(binary, corpus(a.peer_dir, a.out, 100), a.out, max(3, a.reps // 4))
    print()
    print("| Transcripts | MB | Peer | Peer (s) | thematic code (s) | Speed-up |")
    print("|---:|---:|---|---:|---:|---:|")
    for n, size, _, peer, theirs, ours, ratio in rows:
        print(f"| {n} | {size / 1e6:.1f} | {peer} | {theirs:.3f} | {ours:.3f} | {ratio:.1f}× |")


if __name__ == "__main__":
    main()
