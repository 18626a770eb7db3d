#!/usr/bin/env bash
# Builds the browser configurator into dist/index.html: one self-contained page (styles, scripts
# and the wasm module inlined) that runs from file:// or any static host. Works offline once the
# crates are fetched; installs the matching wasm-bindgen command-line tool from the crate
# registry the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

# Must equal the wasm-bindgen version pinned in web/Cargo.toml (and so in Cargo.lock).
wasm_bindgen_version=0.2.130

if command -v rustup >/dev/null; then
  rustup target list --installed | grep -qx wasm32-unknown-unknown ||
    rustup target add wasm32-unknown-unknown
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wasm_bindgen_version\$"; then
  echo "== installing wasm-bindgen-cli $wasm_bindgen_version (once, about 3 minutes)"
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version"
fi

echo "== building kbundle-web for wasm32"
cargo build -p kbundle-web --target wasm32-unknown-unknown --profile web --locked
# cargo writes where CARGO_TARGET_DIR says, when set; what the page is made of stays in the
# checkout's target/ (the benchmark and the tests read it there).
built=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/web/kbundle_web.wasm
bindgen_out=target/web-bindgen
rm -rf "$bindgen_out"
wasm-bindgen --target no-modules --no-typescript --remove-name-section \
  --remove-producers-section --out-dir "$bindgen_out" --out-name kbundle \
  "$built"
python3 scripts/assemble-web.py "$bindgen_out" dist
