//! A node's `install.sh`, run for real (as root, with `sh`) into a scratch root directory:
//! the first run installs every file with its mode, the second changes nothing, a changed
//! bundle changes only what changed, and a tampered bundle is refused. Every script passes
//! shellcheck.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use kbundle_core::bundle::Bundle;
use kbundle_core::config::{ExampleKind, RawClusterConfig, example_yaml};
use kbundle_core::pki::PkiInputs;
use kbundle_tests::programs::{require_program, require_root};

fn bundle(kind: ExampleKind, seed: u8) -> Bundle {
    let raw = RawClusterConfig::from_yaml(&example_yaml(kind)).expect("example");
    let inputs = PkiInputs {
        seed: [seed; 32],
        issued_at: 1_790_000_000,
        existing_cas: Vec::new(),
    };
    Bundle::generate(&raw, &inputs).expect("bundle")
}

/// Unpacks the bundle the way `unzip` does: every entry with its mode.
fn unpack(bundle: &Bundle, directory: &Path) {
    for entry in &bundle.entries {
        let path = directory.join(&entry.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
        std::fs::write(&path, &entry.contents).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(entry.mode)).expect("mode");
    }
}

fn scratch(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("kbundle-install-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch");
    directory
}

fn install(unpacked: &Path, node: &str, root: &Path) -> (bool, String) {
    let output = Command::new("sh")
        .arg(unpacked.join(format!("nodes/{node}/install.sh")))
        .env("KBUNDLE_ROOT", root)
        .output()
        .expect("sh runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// (path, mode, modification time in ns) of every file under `root`.
fn snapshot(root: &Path) -> Vec<(String, u32, i64)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(directory) = stack.pop() {
        for entry in std::fs::read_dir(&directory).expect("list") {
            let path = entry.expect("entry").path();
            let metadata = std::fs::metadata(&path).expect("metadata");
            if metadata.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .expect("inside")
                    .display()
                    .to_string();
                files.push((
                    relative,
                    metadata.mode() & 0o7777,
                    metadata.mtime() * 1_000_000_000 + metadata.mtime_nsec(),
                ));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn second_run_changes_nothing_and_a_new_bundle_changes_only_what_changed() {
    require_root();
    require_program("sha256sum");
    let work = scratch("idempotent");
    let (unpacked, root) = (work.join("bundle"), work.join("root"));
    let first = bundle(ExampleKind::HighAvailability, 1);
    unpack(&first, &unpacked);

    let (ok, log) = install(&unpacked, "cp2", &root);
    assert!(ok, "{log}");
    assert!(
        log.contains("would run: systemctl restart kubelet"),
        "{log}"
    );
    let installed = snapshot(&root);
    let expected = first.node_files("cp2");
    assert_eq!(installed.len(), expected.len(), "{installed:#?}");
    for file in &expected {
        let on_disk = root.join(file.path.trim_start_matches('/'));
        assert_eq!(
            std::fs::read_to_string(&on_disk).expect("installed"),
            file.contents
        );
        assert_eq!(
            std::fs::metadata(&on_disk).expect("metadata").mode() & 0o7777,
            file.mode,
            "{}",
            file.path
        );
    }

    let (ok, log) = install(&unpacked, "cp2", &root);
    assert!(ok, "{log}");
    assert!(log.contains("already installed: nothing changed"), "{log}");
    assert!(
        !log.contains("would run"),
        "a second run restarted something: {log}"
    );
    assert_eq!(snapshot(&root), installed, "a second run rewrote files");

    // A new bundle of the same cluster with other keys: certificates change, the units and
    // containerd's config do not, so only the kubelet restarts (its kubeconfig changed).
    std::fs::remove_dir_all(&unpacked).expect("clean");
    unpack(&bundle(ExampleKind::HighAvailability, 2), &unpacked);
    let (ok, log) = install(&unpacked, "cp2", &root);
    assert!(ok, "{log}");
    assert!(
        log.contains("installed /etc/kubernetes/pki/apiserver.crt"),
        "{log}"
    );
    assert!(
        !log.contains("installed /etc/containerd/config.toml"),
        "{log}"
    );
    assert!(!log.contains("restart containerd"), "{log}");
    assert!(log.contains("restart kubelet"), "{log}");
    // The replaced files are kept, as they were.
    let backups: Vec<PathBuf> = std::fs::read_dir(root.join("var/lib/kbundle/backup"))
        .expect("a backup folder")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let kept = backups[0].join("etc/kubernetes/pki/apiserver.crt");
    assert_eq!(
        std::fs::read_to_string(kept).expect("the old certificate was kept"),
        first
            .node_files("cp2")
            .iter()
            .find(|f| f.path == "/etc/kubernetes/pki/apiserver.crt")
            .expect("in the bundle")
            .contents
    );
    assert!(
        !backups[0].join("etc/containerd/config.toml").exists(),
        "only what was replaced is kept"
    );
    std::fs::remove_dir_all(&work).expect("clean up");
}

#[test]
fn a_tampered_bundle_is_refused_before_anything_is_installed() {
    require_root();
    let work = scratch("tampered");
    let (unpacked, root) = (work.join("bundle"), work.join("root"));
    unpack(&bundle(ExampleKind::Basic, 3), &unpacked);
    let victim = unpacked.join("nodes/worker1/rootfs/etc/kubernetes/kubelet.conf");
    let mut contents = std::fs::read_to_string(&victim).expect("read");
    contents.push_str("# sneaky\n");
    std::fs::write(&victim, contents).expect("write");
    let (ok, log) = install(&unpacked, "worker1", &root);
    assert!(!ok, "a tampered bundle installed: {log}");
    assert!(log.contains("checksums do not match"), "{log}");
    assert!(
        !root.exists() || snapshot(&root).is_empty(),
        "files were installed"
    );
    std::fs::remove_dir_all(&work).expect("clean up");
}

#[test]
fn every_install_script_passes_shellcheck() {
    require_program("shellcheck");
    let work = scratch("shellcheck");
    let bundle = bundle(ExampleKind::HighAvailability, 4);
    unpack(&bundle, &work);
    let scripts: Vec<PathBuf> = bundle
        .manifest
        .nodes
        .iter()
        .map(|node| work.join(format!("nodes/{}/install.sh", node.name)))
        .collect();
    assert_eq!(scripts.len(), 5);
    let output = Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style"])
        .args(&scripts)
        .output()
        .expect("shellcheck runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // The control: shellcheck does flag a real mistake.
    let bad = work.join("bad.sh");
    std::fs::write(&bad, "#!/bin/sh\nrm -rf $1/*\n").expect("write");
    let output = Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style"])
        .arg(&bad)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    std::fs::remove_dir_all(&work).expect("clean up");
}

#[test]
fn a_held_static_pod_waits_for_a_run_without_the_hold() {
    require_root();
    let work = scratch("hold");
    let (unpacked, root) = (work.join("bundle"), work.join("root"));
    unpack(&bundle(ExampleKind::Basic, 5), &unpacked);
    let manifest = root.join("etc/kubernetes/manifests/kube-controller-manager.yaml");
    let output = Command::new("sh")
        .arg(unpacked.join("nodes/cp1/install.sh"))
        .env("KBUNDLE_ROOT", &root)
        .env("KBUNDLE_HOLD", "kube-controller-manager.yaml")
        .output()
        .expect("sh runs");
    let log = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("holding /etc/kubernetes/manifests/kube-controller-manager.yaml back"),
        "{log}"
    );
    assert!(!manifest.exists(), "the held manifest was placed");
    assert!(
        root.join("etc/kubernetes/manifests/kube-apiserver.yaml")
            .exists()
    );
    let (ok, log) = install(&unpacked, "cp1", &root);
    assert!(ok, "{log}");
    assert!(
        log.contains("done: 1 files changed"),
        "only the held manifest is left to place: {log}"
    );
    assert!(manifest.exists());
    std::fs::remove_dir_all(&work).expect("clean up");
}
