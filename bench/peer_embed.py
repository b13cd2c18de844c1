#!/usr/bin/env python3
"""The reference sentence embedder: a BERT sentence-transformers model's
forward pass written out in NumPy, from the model folder's own
`model.safetensors`, `tokenizer.json`, `config.json` and
`1_Pooling/config.json` (mean pooling over the attention mask, then L2
normalisation). thematic's Rust embeddings are held to it in a test and timed
against it in `bench/embed.py`.

    peer_embed.py MODEL_DIR SENTENCES.json OUT.npy [--batch N]

SENTENCES.json is a JSON list of strings; OUT.npy gets one float32 row per
sentence, in their order. It prints a JSON line: sentences, seconds (the
forward passes only, the model loaded), sentences per second.

Needs numpy, safetensors and tokenizers (pip); nothing else. Matrix products
go through NumPy's BLAS (OpenBLAS in the wheels), on every core it allows.
"""

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def erf(x):
    """erf to within 1.2e-7 (Numerical Recipes' erfc by Chebyshev fit), as
    NumPy has none and the model's GELU is the exact one."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0).astype(x.dtype)


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class Bert:
    def __init__(self, folder):
        folder = Path(folder)
        self.config = json.loads((folder / "config.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise SystemExit(f"{folder}: only mean pooling is implemented")
        self.w = load_file(str(folder / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.heads = self.config["num_attention_heads"]
        self.eps = self.config["layer_norm_eps"]

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def norm(self, x, name):
        return layer_norm(x, self.w[name + ".weight"], self.w[name + ".bias"], self.eps)

    def forward(self, ids, mask):
        """ids, mask: (batch, length) int arrays; returns (batch, hidden) pooled, normalised."""
        batch, length = ids.shape
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = self.norm(x, "embeddings.LayerNorm")
        hidden = x.shape[-1]
        head = hidden // self.heads
        # Padding keys get a large negative score, as in BERT.
        bias = ((1.0 - mask[:, None, None, :].astype(np.float32)) * -1e4).astype(np.float32)
        for i in range(self.config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def split(t):
                return t.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)

            q = split(self.linear(x, p + "attention.self.query"))
            k = split(self.linear(x, p + "attention.self.key"))
            v = split(self.linear(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(head)) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
            x = self.norm(self.linear(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            inner = gelu(self.linear(x, p + "intermediate.dense"))
            x = self.norm(self.linear(inner, p + "output.dense") + x, p + "output.LayerNorm")
        weights = mask[:, :, None].astype(np.float32)
        pooled = (x * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)

    def embed(self, sentences, batch_size=32):
        """Every sentence's embedding, batched by length (less padding) and put back in order."""
        encodings = self.tokenizer.encode_batch(sentences)
        order = sorted(range(len(sentences)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(sentences), self.config["hidden_size"]), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            length = max(len(encodings[i].ids) for i in chosen)
            ids = np.zeros((len(chosen), length), dtype=np.int64)
            mask = np.zeros((len(chosen), length), dtype=np.int64)
            for row, i in enumerate(chosen):
                piece_ids = encodings[i].ids
                ids[row, :len(piece_ids)] = piece_ids
                mask[row, :len(piece_ids)] = 1
            out[chosen] = self.forward(ids, mask)
        return out


def main():
    args = sys.argv[1:]
    batch = 32
    if "--batch" in args:
        at = args.index("--batch")
        batch = int(args[at + 1])
        del args[at:at + 2]
    if len(args) != 3:
        raise SystemExit(__doc__)
    folder, sentences_file, out_file = args
    model = Bert(folder)
    sentences = json.loads(Path(sentences_file).read_text())
    started = time.perf_counter()
    embeddings = model.embed(sentences, batch)
    seconds = time.perf_counter() - started
    np.save(out_file, embeddings)
    print(json.dumps({
        "sentences": len(sentences),
        "seconds": seconds,
        "sentences_per_second": len(sentences) / seconds if seconds else None,
    }))


if __name__ == "__main__":
    main()
