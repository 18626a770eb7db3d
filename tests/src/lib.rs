//! End-to-end suites for kbundle and the fixture clusters they share (`fixtures/clusters/`).
//! The suites live in `tests/tests/`; this library locates the shared files and holds the
//! helpers the suites that run real programs share: [`programs`] (finding and running them),
//! [`netns`] (isolated network namespaces), [`lab`] (SSH test nodes for `kbundle apply`),
//! [`ansible`] (ansible-playbook against them) and [`pki_files`] (a generated PKI on disk). It
//! also holds what the fuzz targets run ([`fuzz`]), so that the inputs they found are replayed
//! as plain tests.

use std::path::{Path, PathBuf};

pub mod ansible;
pub mod fuzz;
pub mod kubernetes;
pub mod lab;
pub mod netns;
pub mod pki_files;
pub mod programs;

/// The repository root.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tests/fixtures/clusters`.
pub fn cluster_fixtures() -> PathBuf {
    repository_root().join("tests/fixtures/clusters")
}
