//! Fuzz target `generate`: cluster.yaml text → as `config`, then the bundle of a valid small ECDSA cluster.
//! The work and its invariants are in `kbundle_tests::fuzz::config`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kbundle_tests::fuzz::config::run_generate(data));
