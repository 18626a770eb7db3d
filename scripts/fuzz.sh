#!/usr/bin/env bash
# Runs kbundle's fuzz targets (fuzz/, docs/fuzzing.md) with cargo-fuzz on the stable toolchain.
#
#   scripts/fuzz.sh smoke [SECONDS]          every target for SECONDS (default 12) each: what CI runs
#   scripts/fuzz.sh run TARGET SECONDS [ARGS] one target for longer; ARGS go to libFuzzer
#
# Each target starts from the kept corpus: its seeds (fuzz/seeds/TARGET), every input it ever
# failed on (tests/fixtures/fuzz-regressions/TARGET) and, for the cluster.yaml targets, the
# fixture clusters and examples. What a run discovers goes to a scratch corpus in the target
# folder, never into the checkout; a failing input is saved under fuzz/artifacts/TARGET/.
#
# Stable toolchain: cargo-fuzz passes nightly-only flags (-Z...), which RUSTC_BOOTSTRAP=1 lets
# stable rustc take, so CI needs no nightly. No sanitizer: core forbids unsafe code, so the
# fuzzer is after panics and broken invariants (debug assertions and overflow checks stay on),
# and AddressSanitizer would halve the inputs per second. `--sanitizer address` works on stable
# too, for the unsafe code of the zip and deflate crates (docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(config generate bundle form diff)
# Per-input time limits, in seconds: far above what an input takes (a cluster.yaml is answered
# in well under a millisecond; a bundle generated, zipped, read and verified in tens), so that
# only a slow path, never a busy CI machine, trips them.
declare -A timeout=([config]=2 [generate]=10 [bundle]=5 [form]=2 [diff]=5)

export RUSTC_BOOTSTRAP=1
target_dir=${CARGO_TARGET_DIR:-$PWD/target}/fuzz
fuzz=(cargo fuzz)

corpora() {
  local target=$1
  local folders=("$target_dir/corpus/$target" "fuzz/seeds/$target" "tests/fixtures/fuzz-regressions/$target")
  case $target in
    config | generate) folders+=(tests/fixtures/clusters examples) ;;
  esac
  mkdir -p "${folders[0]}"
  # A target without a regression yet has no folder for it (git keeps no empty folder), and
  # libFuzzer stops at a corpus folder that does not exist.
  for folder in "${folders[@]}"; do
    if [ -d "$folder" ]; then
      printf '%s\n' "$folder"
    fi
  done
}

build() {
  # The fuzz workspace's lock file must be current, as --locked checks for the main one.
  cargo metadata --manifest-path fuzz/Cargo.toml --locked --format-version 1 >/dev/null
  "${fuzz[@]}" build --sanitizer none --target-dir "$target_dir"
}

run() {
  local target=$1 seconds=$2
  shift 2
  local folders
  mapfile -t folders < <(corpora "$target")
  "${fuzz[@]}" run --sanitizer none --target-dir "$target_dir" "$target" "${folders[@]}" -- \
    -max_total_time="$seconds" -timeout="${timeout[$target]}" -print_final_stats=1 "$@"
}

case ${1:-smoke} in
  smoke)
    seconds=${2:-12}
    build
    for target in "${targets[@]}"; do
      echo "== fuzz $target (${seconds}s)"
      # -jobs=1 in the foreground; libFuzzer's own output is long, its final stats say enough.
      if ! run "$target" "$seconds" >"$target_dir/$target.log" 2>&1; then
        tail -n 80 "$target_dir/$target.log"
        echo "fuzz target $target failed: see fuzz/artifacts/$target/ and docs/fuzzing.md" >&2
        exit 1
      fi
      grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$target_dir/$target.log" || true
    done
    ;;
  run)
    target=${2:?target}
    seconds=${3:?seconds}
    shift 3
    build
    run "$target" "$seconds" "$@"
    ;;
  *)
    echo "usage: $0 smoke [SECONDS] | run TARGET SECONDS [LIBFUZZER ARGS]" >&2
    exit 2
    ;;
esac
