#!/usr/bin/env python3
"""Sentence embeddings: thematic's forward pass (Rust, on the CPU: its AVX-512 kernel, or gemm's)
against the NumPy reference peer `peer_embed.py` (its matrix products on
OpenBLAS), on the sentences of 10 generated transcripts (12,000 words each),
in the same run on the same machine, with the same model (all-MiniLM-L6-v2
from PyPI, fetched by scripts/reference-model.sh).

Reports, for each: sentences per second (embedding only, the model loaded),
the useful arithmetic done per second (GFLOP/s over the real word pieces,
padding left out), peak memory; beside them the machine's matrix-multiply
peak (a large float32 NumPy matmul), and the two embeddings' least cosine.

    python3 bench/embed.py [--peer-dir ../shared/bench] [--out bench/out] [--reps 2]
"""
import json
import os
import subprocess
import sys
import time

from run import ROOT, arguments

TRANSCRIPTS = 10
WORDS = 12000


def timed_child(cmd, env=None):
    """What `cmd` printed as JSON, and its peak resident memory in MB."""
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({status})")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def matmul_peak(env):
    """GFLOP/s of a 4096² float32 NumPy matmul on this machine, best of three."""
    code = ("import numpy as np, time\n"
            "a = np.random.rand(4096, 4096).astype(np.float32); b = a.copy(); a @ b\n"
            "best = min((lambda t: (a @ b, time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3))\n"
            "print(2 * 4096 ** 3 / best / 1e9)\n")
    return float(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                capture_output=True, text=True).stdout)


def least_cosine(ours_file, peer_file, env, dimension):
    code = ("import numpy as np, sys\n"
            f"ours = np.fromfile(sys.argv[1], dtype='<f4').reshape(-1, {dimension}); peer = np.load(sys.argv[2])\n"
            "print(float(((ours * peer).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(peer, axis=1)).min()))\n")
    return float(subprocess.run([sys.executable, "-c", code, ours_file, peer_file], env=env, check=True,
                                capture_output=True, text=True).stdout)


def main():
    a = arguments(reps=2)
    model = os.path.join(a.out, "all-MiniLM-L6-v2")
    peers = os.path.join(a.out, "embed-peer-python")
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "reference-model.sh"), model, peers], check=True)
    env = dict(os.environ, PYTHONPATH=peers)
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "thematic-embed", "--example", "embed"],
                   cwd=ROOT, check=True)
    embed = os.path.join(ROOT, "target", "release", "examples", "embed")
    corpus = os.path.join(a.out, "corpus-embed")
    if not os.path.isdir(os.path.join(corpus, "transcripts")):
        subprocess.run([sys.executable, os.path.join(a.peer_dir, "gen_corpus.py"), "--out", corpus,
                        "--transcripts", str(TRANSCRIPTS), "--words", str(WORDS)], check=True)
    sentences = os.path.join(a.out, "embed-sentences.json")
    subprocess.run([embed, "sentences-of", os.path.join(corpus, "transcripts"), sentences], check=True)
    ours_file, peer_file = os.path.join(a.out, "embed-ours.f32"), os.path.join(a.out, "embed-peer.npy")

    best = {}
    for _ in range(a.reps):
        for name, cmd, cmd_env in (
                ("thematic (Rust)", [embed, model, sentences, ours_file], None),
                ("peer_embed.py (NumPy, OpenBLAS)",
                 [sys.executable, os.path.join(ROOT, "bench", "peer_embed.py"), model, sentences, peer_file], env)):
            result, peak_mb = timed_child(cmd, cmd_env)
            if name not in best or result["seconds"] < best[name][0]["seconds"]:
                best[name] = (result, peak_mb)
    peak = matmul_peak(env)
    ours = best["thematic (Rust)"][0]
    gflop = ours["gflop"]
    cosine = least_cosine(ours_file, peer_file, env, 384)

    print(f"{ours['sentences']} sentences ({ours['pieces']:.0f} word pieces, {gflop:.0f} GFLOP of useful "
          f"arithmetic) from {TRANSCRIPTS} generated transcripts of {WORDS:,} words; best of {a.reps}; "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| Embedder | Sentences/s | GFLOP/s (useful) | Peak memory | Against the peer |")
    print("|---|---:|---:|---:|---:|")
    peer_rate = best["peer_embed.py (NumPy, OpenBLAS)"][0]["sentences_per_second"]
    for name, (result, peak_mb) in best.items():
        rate = result["sentences_per_second"]
        print(f"| {name} | {rate:.1f} | {gflop / result['seconds']:.1f} | {peak_mb:.0f} MB | {rate / peer_rate:.2f}× |")
    print(f"| machine peak: 4096² float32 NumPy matmul | – | {peak:.0f} | – | – |")
    print(f"\nThe Rust forward pass reaches {gflop / ours['seconds'] / peak:.0%} of the matmul peak "
          f"(aim: half); least cosine between the two embeddings of a sentence: {cosine:.6f}.")


if __name__ == "__main__":
    main()
