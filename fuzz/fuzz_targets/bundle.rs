//! Fuzz target `bundle`: bundle zip bytes → read under every limit, with no and a wrong passphrase, verify.
//! The work and its invariants are in `kbundle_tests::fuzz::bundle`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kbundle_tests::fuzz::bundle::run(data));
