//! Replays, through the harness the fuzz targets run (`kbundle_tests::fuzz`, docs/fuzzing.md),
//! every input a fuzz target once failed on (`tests/fixtures/fuzz-regressions/<target>/`, one
//! file per bug, named after it) and every kept seed (`fuzz/seeds/<target>/`, and the fixture
//! clusters and examples for the cluster.yaml targets). Each must now pass: no panic, and
//! every invariant the target checks holds.

use std::path::{Path, PathBuf};

use kbundle_tests::fuzz;
use kbundle_tests::repository_root;

/// The files under `folders` (recursively, as libFuzzer reads a corpus), sorted.
fn inputs(folders: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(folder: &Path, out: &mut Vec<PathBuf>) {
        let Ok(read) = std::fs::read_dir(folder) else {
            return;
        };
        for entry in read.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for folder in folders {
        walk(folder, &mut out);
    }
    out.sort();
    out
}

/// Runs `target` on each input of `folders`, naming the input if it fails.
fn replay(target: &str, folders: &[&str], run: fn(&[u8])) {
    let root = repository_root();
    let mut folders: Vec<PathBuf> = folders.iter().map(|folder| root.join(folder)).collect();
    folders.push(root.join("tests/fixtures/fuzz-regressions").join(target));
    folders.push(root.join("fuzz/seeds").join(target));
    let inputs = inputs(&folders);
    assert!(!inputs.is_empty(), "no inputs for `{target}`");
    for input in inputs {
        let bytes = std::fs::read(&input).expect("read an input");
        let outcome = std::panic::catch_unwind(|| run(&bytes));
        assert!(
            outcome.is_ok(),
            "fuzz target `{target}` fails on {}",
            input.display()
        );
    }
}

#[test]
fn config_inputs_pass() {
    replay(
        "config",
        &["tests/fixtures/clusters", "examples"],
        fuzz::config::run,
    );
}

#[test]
fn generate_inputs_pass() {
    replay("generate", &[], fuzz::config::run_generate);
}

#[test]
fn bundle_inputs_pass() {
    replay("bundle", &[], fuzz::bundle::run);
}

#[test]
fn form_inputs_pass() {
    replay("form", &[], fuzz::form::run);
}

#[test]
fn diff_inputs_pass() {
    replay("diff", &[], fuzz::diff::run);
}
