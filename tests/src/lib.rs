//! End-to-end suites for kbundle and the fixture clusters they share (`fixtures/clusters/`).
//! The suites live in `tests/tests/`; this library only locates the shared files.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tests/fixtures/clusters`.
pub fn cluster_fixtures() -> PathBuf {
    repository_root().join("tests/fixtures/clusters")
}
