#!/usr/bin/env bash
# Remakes docs/report.png, the screenshot of the demo study's report.html
# the README shows: the demo study run into a scratch folder, then the page
# taken by headless Chromium (Debian's package chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cargo build --release --quiet
target/release/thematic init --demo "$scratch/demo" >/dev/null
target/release/thematic run "$scratch/demo" >/dev/null
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$scratch/profile" --hide-scrollbars --window-size=1100,1900 \
  --screenshot="$PWD/docs/report.png" "file://$scratch/demo/reports/report.html" 2>/dev/null
echo "wrote docs/report.png"
