//! Fuzz target `form`: the web page's form model → the checked document the page shows.
//! The work and its invariants are in `kbundle_tests::fuzz::form`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kbundle_tests::fuzz::form::run(data));
