#!/usr/bin/env bash
# Runs every check kbundle has: formatting, clippy (native and wasm32), the wasm32 build of core,
# the web configurator's build, short benchmark runs (they print figures), a short run of every
# fuzz target (scripts/fuzz.sh, docs/fuzzing.md) and the whole test
# suite, browser end-to-end tests included.
# Installs what it needs first (scripts/install-test-deps.sh), so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

echo "== fmt"
cargo fmt --all -- --check
echo "== clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== clippy (wasm32: kbundle-core)"
cargo clippy -p kbundle-core --target wasm32-unknown-unknown --locked -- -D warnings
echo "== clippy (wasm32: kbundle-web)"
cargo clippy -p kbundle-web --target wasm32-unknown-unknown --locked -- -D warnings
echo "== build (wasm32: kbundle-core)"
cargo build -p kbundle-core --target wasm32-unknown-unknown --release --locked
echo "== build (the web configurator: dist/index.html)"
scripts/build-web.sh
echo "== benchmarks (short runs; full: cargo bench -p kbundle-core)"
KBUNDLE_BENCH_MS=${KBUNDLE_BENCH_MS:-200} cargo bench -p kbundle-core --bench plan --locked
KBUNDLE_BENCH_QUICK=1 cargo bench -p kbundle-core --bench pki --locked
cargo bench -p kbundle-core --bench render --locked
cargo bench -p kbundle-core --bench bundle --locked
# The lab kubelet runs the real Kubernetes components on the lab nodes of the apply and cluster
# benchmarks, which are built in the release profile.
cargo build --release -p kbundle-tests --bin kbundle-lab-kubelet --locked
cargo bench -p kbundle-cli --bench apply --locked
KBUNDLE_BENCH_QUICK=1 cargo bench -p kbundle-cli --bench cluster --locked
KBUNDLE_BENCH_QUICK=1 cargo bench -p kbundle-cli --bench export --locked
node tests/web/bench.mjs dist/index.html target/web-bindgen/kbundle_bg.wasm 3
echo "== fuzz (smoke: each target a few seconds on its kept corpus; longer: docs/fuzzing.md)"
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
scripts/fuzz.sh smoke
echo "== tests"
# insta: fail on any snapshot that does not match instead of writing a new one.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
INSTA_UPDATE=no CI=true cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$log"
