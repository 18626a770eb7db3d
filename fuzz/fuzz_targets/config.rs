//! Fuzz target `config`: cluster.yaml text → parse, validate, plan (no bundle: see `generate`).
//! The work and its invariants are in `kbundle_tests::fuzz::config`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kbundle_tests::fuzz::config::run(data));
