//! A node's `install.sh`, run for real (as root, with `sh`) into a scratch root directory:
//! the first run installs every file with its mode, the second changes nothing, a changed
//! bundle changes only what changed, and a tampered bundle is refused. `join/install.sh` places
//! the join files and a kubelet drop-in naming the node and its address, and refuses bad names
//! and addresses before writing anything. Every script passes shellcheck.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use kbundle_core::bundle::Bundle;
use kbundle_core::config::{ExampleKind, RawClusterConfig, example_yaml};
use kbundle_core::pki::PkiInputs;
use kbundle_tests::programs::{require_program, require_root};

fn bundle(kind: ExampleKind, seed: u8) -> Bundle {
    bundle_of(&example_yaml(kind), seed)
}

fn bundle_of(yaml: &str, seed: u8) -> Bundle {
    let raw = RawClusterConfig::from_yaml(yaml).expect("a valid cluster");
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

fn join(unpacked: &Path, arguments: &[&str], root: &Path) -> (Option<i32>, String) {
    let output = Command::new("sh")
        .arg(unpacked.join("join/install.sh"))
        .args(arguments)
        .env("KBUNDLE_ROOT", root)
        .output()
        .expect("sh runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
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

    // cp2 runs kube-vip, which goes on the interface holding the node's address.
    let install = |unpacked: &Path, root: &Path| {
        install_on_machine(unpacked, "cp2", root, &["192.0.2.12"], false)
    };
    let (ok, log) = install(&unpacked, &root);
    assert!(ok, "{log}");
    assert!(
        log.contains("would run: systemctl restart kubelet"),
        "{log}"
    );
    let installed = snapshot(&root);
    let expected = first.node_files("cp2");
    // Beside the files, the record of what was placed.
    assert_eq!(installed.len(), expected.len() + 1, "{installed:#?}");
    for file in &expected {
        let on_disk = root.join(file.path.trim_start_matches('/'));
        assert_eq!(
            std::fs::read_to_string(&on_disk).expect("installed"),
            file.contents.replace("@NODE_INTERFACE@", "kbnode0")
        );
        assert_eq!(
            std::fs::metadata(&on_disk).expect("metadata").mode() & 0o7777,
            file.mode,
            "{}",
            file.path
        );
    }

    let (ok, log) = install(&unpacked, &root);
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
    let (ok, log) = install(&unpacked, &root);
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

const DROP_IN: &str = "etc/systemd/system/kubelet.service.d/99-kbundle.conf";

#[test]
fn join_places_the_join_files_and_a_drop_in_naming_the_node_and_starts_its_services() {
    require_root();
    require_program("sha256sum");
    let work = scratch("join");
    let (unpacked, root) = (work.join("bundle"), work.join("root"));
    let bundle = bundle(ExampleKind::HighAvailability, 6);
    unpack(&bundle, &unpacked);

    let (code, log) = join(&unpacked, &["worker9.example", "192.0.2.31"], &root);
    assert_eq!(code, Some(0), "{log}");
    let installed = snapshot(&root);
    let expected = bundle.join_files();
    // Beside the files: the drop-in it writes and the record of what was placed.
    assert_eq!(installed.len(), expected.len() + 2, "{installed:#?}");
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
    assert_eq!(
        std::fs::metadata(root.join("etc/kubernetes/bootstrap-kubelet.conf"))
            .expect("the bootstrap kubeconfig")
            .mode()
            & 0o7777,
        0o600
    );
    assert!(!root.join("etc/kubernetes/kubelet.conf").exists());
    let drop_in = root.join(DROP_IN);
    assert_eq!(
        std::fs::metadata(&drop_in).expect("the drop-in").mode() & 0o7777,
        0o644
    );
    assert_eq!(
        std::fs::read_to_string(&drop_in).expect("the drop-in"),
        "# Written by kbundle; changes are overwritten on the next apply.
[Service]
# Clears the ExecStart of kubelet.service: a drop-in must reset it before replacing it.
ExecStart=
ExecStart=kubelet \\
    --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\
    --kubeconfig=/etc/kubernetes/kubelet.conf \\
    --config=/var/lib/kubelet/config.yaml \\
    --node-ip=192.0.2.31 \\
    --hostname-override=worker9.example
"
    );
    let services = [
        "would run: systemctl daemon-reload",
        "would run: systemctl enable containerd",
        "would run: systemctl restart containerd",
        "would run: systemctl enable kubelet",
        "would run: systemctl restart kubelet",
    ];
    for action in services {
        assert!(log.contains(action), "{action} missing: {log}");
    }
    assert!(
        !log.contains(&bundle_token(&bundle)),
        "the token was echoed: {log}"
    );

    // Again: nothing is rewritten, and the services still start (a first run may have stopped
    // before them).
    let (code, log) = join(&unpacked, &["worker9.example", "192.0.2.31"], &root);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("already installed: nothing changed"), "{log}");
    assert!(
        log.contains("would run: systemctl restart kubelet"),
        "{log}"
    );
    assert_eq!(snapshot(&root), installed, "a second run rewrote files");

    // Another name: only the drop-in changes, and the old one is kept.
    let (code, log) = join(&unpacked, &["worker10", "192.0.2.32"], &root);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("done: 1 files changed"), "{log}");
    assert!(
        std::fs::read_to_string(&drop_in)
            .expect("the drop-in")
            .contains("--node-ip=192.0.2.32 \\\n    --hostname-override=worker10\n")
    );
    let backups: Vec<PathBuf> = std::fs::read_dir(root.join("var/lib/kbundle/backup"))
        .expect("a backup folder")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(
        std::fs::read_to_string(backups[0].join(DROP_IN))
            .expect("the old drop-in was kept")
            .contains("--hostname-override=worker9.example\n")
    );
    std::fs::remove_dir_all(&work).expect("clean up");
}

/// `<id>.<secret>` as the bootstrap kubeconfig holds it.
fn bundle_token(bundle: &Bundle) -> String {
    let conf = bundle
        .entry("join/rootfs/etc/kubernetes/bootstrap-kubelet.conf")
        .expect("the bootstrap kubeconfig");
    String::from_utf8_lossy(&conf.contents)
        .lines()
        .find_map(|line| line.trim().strip_prefix("token: "))
        .expect("a token")
        .to_owned()
}

#[test]
fn join_on_dual_stack_takes_both_addresses_in_the_clusters_order() {
    require_root();
    let work = scratch("join-dual");
    let (unpacked, root) = (work.join("bundle"), work.join("root"));
    let yaml = std::fs::read_to_string(kbundle_tests::cluster_fixtures().join("dual-stack.yaml"))
        .expect("the dual-stack fixture");
    unpack(&bundle_of(&yaml, 7), &unpacked);
    let (code, log) = join(&unpacked, &["worker9", "192.0.2.31"], &root);
    assert_eq!(code, Some(2), "one family of two was accepted: {log}");
    assert!(log.contains("has no IPv6 address"), "{log}");
    let (code, log) = join(&unpacked, &["worker9", "2001:db8::31,192.0.2.31"], &root);
    assert_eq!(code, Some(0), "{log}");
    let drop_in = std::fs::read_to_string(root.join(DROP_IN)).expect("the drop-in");
    assert!(
        drop_in.contains("    --node-ip=192.0.2.31,2001:db8::31 \\\n"),
        "{drop_in}"
    );
    std::fs::remove_dir_all(&work).expect("clean up");
}

#[test]
fn join_refuses_bad_names_and_addresses_before_writing_anything() {
    require_root();
    let work = scratch("join-refused");
    let (unpacked, root) = (work.join("bundle"), work.join("root"));
    unpack(&bundle(ExampleKind::Basic, 8), &unpacked);
    let cases: [(&[&str], &str); 13] = [
        (&[], "give the node's name and address"),
        (&["worker9"], "give the node's name and address"),
        (
            &["worker9", "192.0.2.31", "extra"],
            "give the node's name and address",
        ),
        (&["Worker_9", "192.0.2.31"], "is not a valid node name"),
        (&["-worker9", "192.0.2.31"], "is not a valid node name"),
        (&["worker..9", "192.0.2.31"], "is not a valid node name"),
        (&["worker9\n", "192.0.2.31"], "is not a valid node name"),
        (&["worker1", "192.0.2.31"], "is a node of the plan"),
        (&["worker9", "192.0.2.300"], "is not an IP address"),
        (&["worker9", "192.0.2.31; reboot"], "is not an IP address"),
        (&["worker9", "2001:db8::31"], "has no IPv4 address"),
        (
            &["worker9", "192.0.2.31,192.0.2.32"],
            "lists two IPv4 addresses",
        ),
        (
            &["worker9", "127.0.0.1"],
            "not an address other machines can reach",
        ),
    ];
    for (arguments, reason) in cases {
        let (code, log) = join(&unpacked, arguments, &root);
        assert_eq!(code, Some(2), "{arguments:?} was not refused: {log}");
        assert!(log.contains(reason), "{arguments:?}: {log}");
        assert!(log.contains("usage: sh "), "{arguments:?}: {log}");
        assert!(
            !root.exists() || snapshot(&root).is_empty(),
            "{arguments:?}: files were written"
        );
    }
    // And a tampered join folder is refused before anything is placed.
    let victim = unpacked.join("join/rootfs/etc/kubernetes/bootstrap-kubelet.conf");
    let mut contents = std::fs::read_to_string(&victim).expect("read");
    contents.push_str("# sneaky\n");
    std::fs::write(&victim, contents).expect("write");
    let (code, log) = join(&unpacked, &["worker9", "192.0.2.31"], &root);
    assert_ne!(code, Some(0), "a tampered join folder installed: {log}");
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
    let mut scripts: Vec<PathBuf> = bundle
        .manifest
        .nodes
        .iter()
        .map(|node| work.join(format!("nodes/{}/install.sh", node.name)))
        .collect();
    scripts.push(work.join("join/install.sh"));
    assert_eq!(scripts.len(), 6);
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

#[test]
fn etcd_data_is_private_an_older_drop_in_is_retired_and_ipvs_modules_load() {
    require_root();
    let work = scratch("node-requirements");
    let (unpacked, root) = (work.join("bundle"), work.join("root"));
    let yaml =
        example_yaml(ExampleKind::Basic).replace("kubeProxyMode: iptables", "kubeProxyMode: ipvs");
    assert!(yaml.contains("kubeProxyMode: ipvs"), "{yaml}");
    unpack(&bundle_of(&yaml, 6), &unpacked);
    // What an older bundle left: its kubelet drop-in under the name a packaged 10-kubeadm.conf
    // outranks.
    let legacy = root.join("etc/systemd/system/kubelet.service.d/10-kbundle.conf");
    std::fs::create_dir_all(legacy.parent().expect("parent")).expect("folder");
    std::fs::write(&legacy, "[Service]\nExecStart=\nExecStart=kubelet --old\n").expect("write");

    let (ok, log) = install(&unpacked, "cp1", &root);
    assert!(ok, "{log}");
    let etcd = std::fs::metadata(root.join("var/lib/etcd")).expect("/var/lib/etcd");
    assert_eq!(
        etcd.mode() & 0o777,
        0o700,
        "etcd's data folder is root's only"
    );
    assert!(!legacy.exists(), "the older drop-in is gone: {log}");
    assert!(
        root.join("var/lib/kbundle/backup")
            .read_dir()
            .expect("a backup")
            .flatten()
            .any(|run| run
                .path()
                .join("etc/systemd/system/kubelet.service.d/10-kbundle.conf")
                .exists()),
        "and kept in the backup"
    );
    assert!(root.join(DROP_IN).exists());
    for module in [
        "overlay",
        "br_netfilter",
        "ip_vs",
        "ip_vs_rr",
        "ip_vs_wrr",
        "ip_vs_sh",
        "nf_conntrack",
    ] {
        assert!(
            log.contains(&format!("would run: modprobe {module}\n")),
            "{module}: {log}"
        );
    }
    // A worker runs no etcd: no data folder there.
    let (ok, log) = install(&unpacked, "worker1", &work.join("worker-root"));
    assert!(ok, "{log}");
    assert!(!work.join("worker-root/var/lib/etcd").exists());
    std::fs::remove_dir_all(&work).expect("clean up");
}

/// Runs `node`'s install.sh into `root` inside a network namespace of its own (gone when the
/// script ends: no clean-up), where an interface `kbnode0` holds `addresses` (and takes
/// router advertisements, accept_ra 1), or holds nothing when `addresses` is empty.
fn install_on_machine(
    unpacked: &Path,
    node: &str,
    root: &Path,
    addresses: &[&str],
    rbac_ready: bool,
) -> (bool, String) {
    let mut setup = String::from(
        "set -e; ip link add kbnode0 type veth peer name kbpeer0; ip link set kbnode0 up; ",
    );
    for address in addresses {
        let prefix = if address.contains(':') { 64 } else { 24 };
        setup.push_str(&format!("ip addr add {address}/{prefix} dev kbnode0; "));
    }
    setup.push_str("echo 1 > /proc/sys/net/ipv6/conf/kbnode0/accept_ra; exec sh \"$1\"");
    let mut command = Command::new("unshare");
    command
        .args(["--net", "sh", "-c", &setup, "sh"])
        .arg(unpacked.join(format!("nodes/{node}/install.sh")))
        .env("KBUNDLE_ROOT", root);
    if rbac_ready {
        command.env("KBUNDLE_RBAC_READY", "1");
    }
    let output = command.output().expect("unshare runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn the_machine_adapts_dns_router_advertisements_and_kube_vip() {
    require_root();
    require_program("unshare");
    require_program("ip");
    let work = scratch("adapted");
    let (unpacked, root) = (work.join("bundle"), work.join("root"));
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/clusters/dual-stack.yaml"),
    )
    .expect("fixture");
    unpack(&bundle_of(&yaml, 8), &unpacked);
    // An Ubuntu-like resolver: systemd-resolved's stub in /etc/resolv.conf.
    std::fs::create_dir_all(root.join("run/systemd/resolve")).expect("folder");
    std::fs::create_dir_all(root.join("etc")).expect("folder");
    std::fs::write(
        root.join("run/systemd/resolve/resolv.conf"),
        "nameserver 192.0.2.53\n",
    )
    .expect("write");
    std::fs::write(
        root.join("etc/resolv.conf"),
        "nameserver 127.0.0.53\noptions edns0 trust-ad\n",
    )
    .expect("write");
    let kube_vip = root.join("etc/kubernetes/manifests/kube-vip.yaml");
    let read = |path: &Path| std::fs::read_to_string(path).expect("installed");
    let cp1 = ["192.0.2.11", "2001:db8::11"];

    // A machine that holds none of the node's addresses is refused before anything is placed.
    let (ok, log) = install_on_machine(&unpacked, "cp1", &root, &[], false);
    assert!(!ok, "{log}");
    assert!(
        log.contains("no network interface holds this node's address (192.0.2.11 2001:db8::11)"),
        "{log}"
    );
    assert!(!root.join("var/lib/kubelet/config.yaml").exists(), "{log}");

    let (ok, log) = install_on_machine(&unpacked, "cp1", &root, &cp1, false);
    assert!(ok, "{log}");
    let kubelet = read(&root.join("var/lib/kubelet/config.yaml"));
    assert!(
        kubelet.ends_with("\nresolvConf: /run/systemd/resolve/resolv.conf\n"),
        "{kubelet}"
    );
    let sysctl = read(&root.join("etc/sysctl.d/99-kubernetes.conf"));
    assert!(
        sysctl.contains("net.ipv6.conf.all.forwarding = 1\n"),
        "{sysctl}"
    );
    assert!(
        sysctl.ends_with("net/ipv6/conf/kbnode0/accept_ra = 2\n"),
        "{sysctl}"
    );
    let manifest = read(&kube_vip);
    assert!(
        manifest.contains("- name: vip_interface\n      value: 'kbnode0'\n"),
        "{manifest}"
    );
    assert!(
        manifest.contains("path: /etc/kubernetes/super-admin.conf\n"),
        "the first control-plane node's kube-vip starts with super-admin.conf: {manifest}"
    );
    // The record lists what was placed, as placed.
    let check = Command::new("sha256sum")
        .args(["--strict", "-c", "var/lib/kbundle/installed.sha256"])
        .current_dir(&root)
        .output()
        .expect("sha256sum");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    let (ok, log) = install_on_machine(&unpacked, "cp1", &root, &cp1, false);
    assert!(
        ok && log.contains("already installed: nothing changed"),
        "{log}"
    );
    // Once admin.conf has its rights: only kube-vip's manifest changes, and stays so.
    let (ok, log) = install_on_machine(&unpacked, "cp1", &root, &cp1, true);
    assert!(ok && log.contains("done: 1 files changed"), "{log}");
    assert!(read(&kube_vip).contains("path: /etc/kubernetes/admin.conf\n"));
    let (ok, log) = install_on_machine(&unpacked, "cp1", &root, &cp1, false);
    assert!(
        ok && log.contains("already installed: nothing changed"),
        "{log}"
    );
    assert!(read(&kube_vip).contains("path: /etc/kubernetes/admin.conf\n"));

    // Another control-plane node: admin.conf from the start. A plain resolver: no resolvConf.
    let other = work.join("cp2-root");
    let (ok, log) = install_on_machine(&unpacked, "cp2", &other, &["2001:db8::12"], false);
    assert!(ok, "{log}");
    let manifest = read(&other.join("etc/kubernetes/manifests/kube-vip.yaml"));
    assert!(
        manifest.contains("path: /etc/kubernetes/admin.conf\n"),
        "{manifest}"
    );
    assert!(manifest.contains("value: 'kbnode0'\n"), "{manifest}");
    assert!(!read(&other.join("var/lib/kubelet/config.yaml")).contains("resolvConf"));
    std::fs::remove_dir_all(&work).expect("clean up");
}
