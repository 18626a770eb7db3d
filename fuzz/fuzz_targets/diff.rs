//! Fuzz target `diff`: two bundles → `kbundle diff`.
//! The work and its invariants are in `kbundle_tests::fuzz::diff`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kbundle_tests::fuzz::diff::run(data));
