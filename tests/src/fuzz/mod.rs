//! What the fuzz targets run (`fuzz/`, [docs/fuzzing.md](../../../docs/fuzzing.md)), kept here
//! so that every input the fuzzer ever found is replayed by a plain `#[test]`
//! (`tests/tests/fuzz_regressions.rs`) through exactly the same code, on the stable toolchain.
//!
//! Each door of kbundle has one module: [`config`] (`cluster.yaml` text), [`bundle`] (bundle
//! zip bytes), [`form`] (the web page's form model) and [`diff`] (`kbundle diff`). Each takes
//! the fuzzer's bytes and panics only when kbundle panics or breaks one of the invariants
//! checked there; a refusal with a clear error is a pass.
//!
//! Most targets read their input two ways: as the raw thing (text, zip bytes), or, when the
//! first byte is [`EDIT_MODE`], as a recipe of a few edits to a valid input (one field of a
//! fixture changed, one entry of a real bundle altered). Random bytes almost never get past a
//! YAML parser or a zip checksum; edits of valid inputs reach the checks behind them.

pub mod bundle;
pub mod config;
pub mod diff;
pub mod form;
mod paths;
pub mod samples;

/// First byte of an input that is a recipe of edits rather than the raw thing. `0xFF` never
/// starts UTF-8 text, so no cluster.yaml is lost to it.
pub const EDIT_MODE: u8 = 0xFF;

/// The fixed issue time of every bundle the targets make (2026-09-21), so that runs repeat.
pub const ISSUED_AT: i64 = 1_790_000_000;

/// Splits an input into its mode and the rest.
fn split_mode(data: &[u8]) -> (bool, &[u8]) {
    match data.split_first() {
        Some((&EDIT_MODE, rest)) => (true, rest),
        _ => (false, data),
    }
}
