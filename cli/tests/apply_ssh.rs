//! `kbundle apply` against real sshd test nodes (`kbundle_tests::lab`), for what crosses SSH:
//! every file lands on each node with its mode and checksum, and only there; etcd, started from
//! its installed manifest with the real etcd, gives the wait phase a real quorum; host keys are
//! checked; sudo with and without a password; a jump host; a node whose link is cut mid-apply; a
//! second apply changes nothing; with --artifacts, the binaries are checked before any
//! connection, placed, imported, and a re-apply with the same folder is a no-op.
//!
//! The nodes run the lab's real components (`kbundle_tests::kubernetes::install_node_runtime`:
//! the real kubelet on PATH, static pods run with the real binaries when the kubelet starts;
//! containerd and crictl are the only stand-ins). These suites are about the transport, so the
//! phases after the API server comes up (wait-apiserver, prune, node-ranges, controller-manager,
//! addons, validate) are left out by name on the command line: `cli/tests/cluster.rs` runs
//! every phase against the real control plane. The lab's ctr records image imports; among the
//! artifacts, kubelet and kubectl are the real binaries, containerd, runc, the CNI plugins and
//! crictl small scripts (none can run here), and the images fake tarballs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kbundle_core::bundle::Bundle;
use kbundle_core::config::RawClusterConfig;
use kbundle_core::pki::PkiInputs;
use kbundle_tests::kubernetes;
use kbundle_tests::lab::{Lab, PASSWORD_SUDO_USER, SUDO_USER};

const NEEDS_AN_API_SERVER: &str =
    "wait-apiserver,prune,node-ranges,controller-manager,addons,kube-vip,validate";

fn cluster_yaml(lab: &Lab, user: &str, control_planes: usize) -> String {
    let mut yaml = format!(
        "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: lab}}\nspec:\n  kubernetesVersion: \"{version}\"\n  ssh: {{user: {user}, port: 22, identityFile: {}}}\n  nodes:\n",
        lab.client_key().display(),
        version = kubernetes::KUBERNETES_VERSION.trim_start_matches('v'),
    );
    if control_planes > 1 {
        yaml = yaml.replace(
            "  ssh:",
            "  controlPlaneEndpoint: 198.51.100.250:6443\n  ssh:",
        );
    }
    for index in 1..=lab.node_count() {
        let roles = if index <= control_planes {
            "[control-plane, etcd]"
        } else {
            "[worker]"
        };
        yaml.push_str(&format!(
            "    - {{name: {}, address: {}, roles: {roles}}}\n",
            lab.node_name(index),
            lab.node_address(index)
        ));
    }
    yaml
}

/// Keys per cluster name: two bundles of one cluster share their keys (they differ only where
/// their configs do), another cluster has its own CA.
fn cluster_seed(name: &str) -> [u8; 32] {
    let mut seed = [4u8; 32];
    for (index, byte) in name.bytes().enumerate() {
        seed[index % 32] ^= byte;
    }
    seed
}

fn write_bundle(lab: &Lab, yaml: &str, name: &str) -> (Bundle, PathBuf) {
    let raw = RawClusterConfig::from_yaml(yaml).expect("cluster parses");
    // The start of today: valid now, and the same for every bundle a test writes, so that two
    // bundles of one cluster differ only where their configs do.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let issued_at = now - now % 86_400;
    let bundle = Bundle::generate(
        &raw,
        &PkiInputs {
            seed: cluster_seed(raw.metadata.name.as_deref().unwrap_or_default()),
            issued_at,
            existing_cas: Vec::new(),
        },
    )
    .expect("bundle");
    let path = lab.scratch_dir().join(name);
    std::fs::write(&path, bundle.to_zip().expect("zip")).expect("write bundle");
    (bundle, path)
}

/// Makes every node run the lab's real components (as the sudo user).
fn install_fixtures(lab: &Lab) {
    let kbundle = Path::new(env!("CARGO_BIN_EXE_kbundle"));
    kubernetes::install_node_runtime(
        lab,
        &kubernetes::Binaries::locate(),
        &kubernetes::lab_kubelet(kbundle),
    );
}

/// Runs kbundle inside the lab namespace.
fn kbundle(lab: &Lab, args: &[&str], limit: Duration) -> Output {
    let mut command: Command = lab.command(env!("CARGO_BIN_EXE_kbundle"));
    command.args(args).current_dir(lab.scratch_dir());
    let started = Instant::now();
    let output = command.output().expect("kbundle runs");
    assert!(
        started.elapsed() < limit,
        "kbundle {} took {:?}, more than {limit:?}\n{}",
        args.join(" "),
        started.elapsed(),
        text(&output)
    );
    output
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn apply_args<'a>(bundle: &'a str, known_hosts: &'a str, log: &'a str) -> Vec<&'a str> {
    vec![
        "apply",
        bundle,
        "--ssh-config",
        "/dev/null",
        "--known-hosts",
        known_hosts,
        "--skip-phase",
        NEEDS_AN_API_SERVER,
        "--wait-timeout",
        "60",
        "--connect-timeout",
        "3",
        "--command-timeout",
        "60",
        "--log",
        log,
        // The nodes have the lab's binaries, or lack them on purpose: nothing is downloaded
        // (the tests of fetching and of --artifacts take this out).
        "--no-fetch",
    ]
}

/// Every file of every node landed with its contents and mode, and no node got another's.
fn assert_files_landed(lab: &Lab, bundle: &Bundle) {
    use std::os::unix::fs::MetadataExt;
    for index in 1..=lab.node_count() {
        let name = lab.node_name(index);
        let files = bundle.node_files(name);
        assert!(!files.is_empty());
        for file in &files {
            let on_node = lab.node_file(index, &file.path);
            let contents = std::fs::read_to_string(&on_node)
                .unwrap_or_else(|_| panic!("{name}: {} did not land", file.path));
            // kube-vip's manifest is adapted to the node: the VIP on eth0, the interface that
            // holds the node's address (the first node's kube-vip keeps super-admin.conf until
            // the API phases, skipped here).
            let expected = file.contents.replace("@NODE_INTERFACE@", "eth0");
            let contents = if file.path.ends_with("/kube-vip.yaml") && index == 1 {
                contents.replace(
                    "path: /etc/kubernetes/super-admin.conf",
                    "path: /etc/kubernetes/admin.conf",
                )
            } else {
                contents
            };
            assert_eq!(contents, expected, "{name}: {} differs", file.path);
            let mode = std::fs::metadata(&on_node).expect("metadata").mode() & 0o7777;
            assert_eq!(mode, file.mode, "{name}: {} has mode {mode:o}", file.path);
        }
        for other in (1..=lab.node_count()).filter(|other| *other != index) {
            for file in bundle.node_files(lab.node_name(other)) {
                let mine = files.iter().any(|f| f.path == file.path);
                if !mine {
                    assert!(
                        !lab.node_file(index, &file.path).exists(),
                        "{name} got {} which only {} should have",
                        file.path,
                        lab.node_name(other)
                    );
                }
            }
        }
    }
}

fn known_hosts(lab: &Lab) -> String {
    lab.known_hosts().display().to_string()
}

fn path(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn applies_to_three_nodes_and_a_second_apply_changes_nothing() {
    let lab = Lab::new("apply3", 3);
    install_fixtures(&lab);
    let (bundle, zip) = write_bundle(&lab, &cluster_yaml(&lab, SUDO_USER, 1), "lab.zip");
    let (zip, hosts, log) = (
        path(&zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("apply.log")),
    );
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(120),
    );
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("wait-etcd ok"),
        "the wait phase saw etcd: {stderr}"
    );
    assert_files_landed(&lab, &bundle);
    assert!(
        lab.service_calls(1)
            .iter()
            .any(|call| call.contains("restart kubelet")),
        "{:?}",
        lab.service_calls(1)
    );
    let log_text = std::fs::read_to_string(&log).expect("log file");
    assert!(log_text.contains("node1") && !log_text.contains("PRIVATE KEY"));

    // Again: nothing changes, nothing restarts.
    let calls_before: Vec<usize> = (1..=3).map(|i| lab.service_calls(i).len()).collect();
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("already installed: nothing changed").count(),
        3,
        "{stderr}"
    );
    for index in 1..=3 {
        let calls = lab.service_calls(index);
        let new: Vec<&String> = calls[calls_before[index - 1]..].iter().collect();
        assert!(
            new.iter().all(|call| !call.contains("restart")),
            "node{index} restarted: {new:?}"
        );
    }

    let status = kbundle(
        &lab,
        &[
            "status",
            &zip,
            "--ssh-config",
            "/dev/null",
            "--known-hosts",
            &hosts,
            "--log",
            &log,
        ],
        Duration::from_secs(30),
    );
    // containerd and kubelet are stand-ins (the recording systemctl says nothing for
    // is-active), so status reports them inactive and fails; the files are the part it can
    // prove here, on every node.
    let report = String::from_utf8_lossy(&status.stderr);
    for index in 1..=3 {
        assert!(
            report.contains(&format!("node{index}: status FAILED"))
                || report.contains(&format!("node{index}: status ok")),
            "{report}"
        );
        assert!(
            report.lines().any(
                |l| l.contains(&format!("node{index}: status")) && l.contains("files=in-place")
            ),
            "{report}"
        );
    }
    assert_ne!(
        status.status.code(),
        Some(0),
        "inactive services make status fail: {report}"
    );
    // A file changed on a node behind kbundle's back shows.
    let tampered = lab.ssh(
        2,
        SUDO_USER,
        "echo '# changed' | sudo tee -a /etc/kubernetes/kubelet.conf >/dev/null",
    );
    assert!(tampered.success(), "{tampered}");
    let status = kbundle(
        &lab,
        &[
            "status",
            &zip,
            "--ssh-config",
            "/dev/null",
            "--known-hosts",
            &hosts,
            "--log",
            &log,
        ],
        Duration::from_secs(30),
    );
    let report = String::from_utf8_lossy(&status.stderr);
    assert!(
        report
            .lines()
            .any(|l| l.contains("node2: status") && l.contains("files=differ-or-missing")),
        "{report}"
    );
}

#[test]
fn unknown_and_changed_host_keys_are_refused() {
    let lab = Lab::new("hostkeys", 1);
    let (_, zip) = write_bundle(&lab, &cluster_yaml(&lab, SUDO_USER, 1), "lab.zip");
    let empty = lab.scratch_dir().join("empty_known_hosts");
    std::fs::write(&empty, "").expect("write");
    let log = path(&lab.scratch_dir().join("log"));
    let output = kbundle(
        &lab,
        &apply_args(&path(&zip), &path(&empty), &log),
        Duration::from_secs(30),
    );
    assert_ne!(output.status.code(), Some(0));
    assert!(
        text(&output).contains("host key is not in known_hosts"),
        "{}",
        text(&output)
    );
    let other = Lab::new("hostkeys2", 1);
    let output = kbundle(
        &lab,
        &apply_args(&path(&zip), &known_hosts(&other), &log),
        Duration::from_secs(30),
    );
    assert_ne!(output.status.code(), Some(0));
    assert!(
        text(&output).contains("differs from the one in known_hosts"),
        "{}",
        text(&output)
    );
    assert!(
        lab.read_node_file(1, "/etc/kubernetes/pki/ca.crt")
            .is_none(),
        "nothing was installed"
    );
}

#[test]
fn password_sudo_works_with_the_right_password_and_fails_with_a_wrong_one() {
    let lab = Lab::new("sudopw", 1);
    install_fixtures(&lab);
    let (_, zip) = write_bundle(&lab, &cluster_yaml(&lab, PASSWORD_SUDO_USER, 1), "lab.zip");
    let (zip, hosts, log) = (
        path(&zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("log")),
    );
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(30),
    );
    assert_ne!(output.status.code(), Some(0));
    assert!(
        text(&output).contains("--ask-become-pass"),
        "{}",
        text(&output)
    );
    let wrong = lab.scratch_dir().join("wrong");
    std::fs::write(&wrong, "not-the-password\n").expect("write");
    let mut args = apply_args(&zip, &hosts, &log);
    let wrong = path(&wrong);
    args.extend(["--become-pass-file", wrong.as_str()]);
    let output = kbundle(&lab, &args, Duration::from_secs(30));
    assert_ne!(output.status.code(), Some(0));
    assert!(
        text(&output).contains("sudo refused the password"),
        "{}",
        text(&output)
    );
    assert!(
        !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("not-the-password")
    );
    let right = lab.scratch_dir().join("right");
    std::fs::write(&right, format!("{}\n", lab.sudo_password(1))).expect("write");
    let right = path(&right);
    let mut args = apply_args(&zip, &hosts, &log);
    args.extend(["--become-pass-file", right.as_str()]);
    let output = kbundle(&lab, &args, Duration::from_secs(60));
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        lab.read_node_file(1, "/etc/kubernetes/pki/ca.key")
            .is_some()
    );
}

#[test]
fn a_link_cut_during_apply_fails_that_node_only_and_nothing_hangs() {
    let lab = Lab::new("cutlink", 3);
    install_fixtures(&lab);
    let (_, zip) = write_bundle(&lab, &cluster_yaml(&lab, SUDO_USER, 1), "lab.zip");
    let (zip, hosts, log) = (
        path(&zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("log")),
    );
    let mut command: Command = lab.command(env!("CARGO_BIN_EXE_kbundle"));
    command
        .args(apply_args(&zip, &hosts, &log))
        .current_dir(lab.scratch_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let child = command.spawn().expect("kbundle starts");
    // Cut node3's link once every node is connected: its master connection is open, so the cut
    // hits it in the middle of the run.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("connect ok")
        .count()
        < 3
    {
        assert!(Instant::now() < deadline, "the nodes never connected");
        std::thread::sleep(Duration::from_millis(20));
    }
    lab.cut_link(3);
    let output = child.wait_with_output().expect("kbundle ends");
    let took = started.elapsed();
    lab.restore_link(3);
    assert!(took < Duration::from_secs(90), "apply hung for {took:?}");
    assert_ne!(output.status.code(), Some(0), "{}", text(&output));
    let all = text(&output);
    assert!(all.contains("node3  FAILED in "), "{all}");
    assert!(all.contains("failed on node3"), "{all}");
    assert!(all.contains("node2  ok"), "{all}");
    assert!(
        lab.read_node_file(2, "/etc/kubernetes/kubelet.conf")
            .is_some()
    );

    // The link is back: the same apply again completes, node3 catching up, the others untouched.
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(90),
    );
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains("node2: install ok")
            && stderr.contains("already installed: nothing changed"),
        "{stderr}"
    );
    assert!(
        lab.read_node_file(3, "/etc/kubernetes/kubelet.conf")
            .is_some(),
        "node3 caught up"
    );
}

#[test]
fn applies_to_twenty_nodes() {
    let lab = Lab::new("apply20", 20);
    install_fixtures(&lab);
    let (bundle, zip) = write_bundle(&lab, &cluster_yaml(&lab, SUDO_USER, 3), "lab.zip");
    let (zip, hosts, log) = (
        path(&zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("log")),
    );
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(180),
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("wait-etcd ok"),
        "three etcd members reached quorum"
    );
    assert_files_landed(&lab, &bundle);
}

#[test]
fn reaches_nodes_through_a_jump_host() {
    let lab = Lab::new("jump", 2);
    install_fixtures(&lab);
    // node2 is reached only through node1.
    let yaml = cluster_yaml(&lab, SUDO_USER, 1).replace(
        &format!(
            "{{name: {}, address: {}, roles: [worker]}}",
            lab.node_name(2),
            lab.node_address(2)
        ),
        &format!(
            "{{name: {}, address: {}, roles: [worker], ssh: {{jumpHosts: [\"{SUDO_USER}@{}\"]}}}}",
            lab.node_name(2),
            lab.node_address(2),
            lab.node_address(1)
        ),
    );
    assert!(yaml.contains("jumpHosts"));
    let (bundle, zip) = write_bundle(&lab, &yaml, "lab.zip");
    // ssh -J reads the jump host's options from the config file: write one for the lab.
    let config = lab.scratch_dir().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host *\n  IdentityFile {}\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  IdentitiesOnly yes\n",
            lab.client_key().display(),
            lab.known_hosts().display()
        ),
    )
    .expect("write");
    let (zip, hosts, log, config) = (
        path(&zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("log")),
        path(&config),
    );
    let mut args = apply_args(&zip, &hosts, &log);
    args[3] = config.as_str();
    let output = kbundle(&lab, &args, Duration::from_secs(90));
    assert!(output.status.success(), "{}", text(&output));
    assert_files_landed(&lab, &bundle);
}

#[test]
fn preflight_refuses_a_node_that_is_not_ready_and_names_why() {
    let lab = Lab::new("preflight", 2);
    install_fixtures(&lab);

    // The real kubelet v1.37 is newer than a 1.34 bundle's API server: refused everywhere,
    // before anything is installed.
    let old = cluster_yaml(&lab, SUDO_USER, 1)
        .replace("metadata: {name: lab}", "metadata: {name: old}")
        .replace(
            &format!(
                "kubernetesVersion: \"{}\"",
                kubernetes::KUBERNETES_VERSION.trim_start_matches('v')
            ),
            "kubernetesVersion: \"1.34\"",
        );
    let (_, old_zip) = write_bundle(&lab, &old, "old.zip");
    let (old_zip, hosts, log) = (
        path(&old_zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("log")),
    );
    let output = kbundle(
        &lab,
        &apply_args(&old_zip, &hosts, &log),
        Duration::from_secs(60),
    );
    assert_ne!(output.status.code(), Some(0));
    let all = text(&output);
    assert!(
        all.contains("kubelet-version: kubelet v1.37.2 (/usr/local/bin/kubelet) is outside the version skew policy for Kubernetes 1.34")
            && all.contains("install kubelet 1.34"),
        "{all}"
    );
    assert!(
        lab.read_node_file(1, "/etc/kubernetes/kubelet.conf")
            .is_none()
    );

    // node2: no kubelet, containerd 1.7, no runc, a CNI plugin missing, and something already
    // listening on the kubelet's port. node1: the kubeadm package's drop-in (a warning only).
    let broken = lab.ssh(
        2,
        SUDO_USER,
        "sudo rm /usr/local/bin/kubelet /usr/local/sbin/runc /opt/cni/bin/portmap && \
         printf '#!/bin/sh\\necho containerd github.com/containerd/containerd v1.7.24 88bf19b2\\n' | sudo tee /usr/local/bin/containerd >/dev/null && \
         (setsid python3 -m http.server 10250 --bind 0.0.0.0 >/dev/null 2>&1 < /dev/null &) && sleep 0.5",
    );
    assert!(broken.success(), "{broken}");
    let kubeadm_drop_in = lab.ssh(
        1,
        SUDO_USER,
        "sudo mkdir -p /etc/systemd/system/kubelet.service.d && printf '[Service]\\nExecStart=\\nExecStart=/usr/bin/kubelet $KUBELET_KUBEADM_ARGS\\n' | sudo tee /etc/systemd/system/kubelet.service.d/10-kubeadm.conf >/dev/null",
    );
    assert!(kubeadm_drop_in.success(), "{kubeadm_drop_in}");
    let (_, zip) = write_bundle(&lab, &cluster_yaml(&lab, SUDO_USER, 1), "lab.zip");
    let zip = path(&zip);
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(60),
    );
    assert_ne!(output.status.code(), Some(0));
    let all = text(&output);
    assert!(all.contains("node2  FAILED in preflight"), "{all}");
    for needle in [
        "kubelet: kubelet is not installed",
        "port-10250: port 10250 is already in use",
        "containerd-version: containerd v1.7.24 (/usr/local/bin/containerd) is too old: the bundle's config.toml is version 3",
        "runc: runc is not installed",
        "cni-plugins: the CNI plugins portmap are missing from /opt/cni/bin",
        "warning: kubelet-drop-ins: another kubelet drop-in sets ExecStart and may replace kbundle's command line: /etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    ] {
        assert!(all.contains(needle), "{needle}:\n{all}");
    }
    assert!(
        lab.read_node_file(2, "/etc/kubernetes/kubelet.conf")
            .is_none(),
        "nothing installed on node2"
    );
    assert!(
        lab.read_node_file(1, "/etc/kubernetes/kubelet.conf")
            .is_some(),
        "node1 went on (a warning is not a failure)"
    );
    // kbundle's drop-in (99-kbundle.conf) outranks the kubeadm package's: the real kubelet ran
    // with kbundle's command line and accepted it.
    let verdict = kubernetes::real_kubelet_verdict(&lab, 1, Duration::from_secs(60));
    assert!(verdict.starts_with("passed"), "node1's kubelet: {verdict}");
    // --ignore-preflight lets it through.
    let mut args = apply_args(&zip, &hosts, &log);
    args.extend([
        "--ignore-preflight",
        "kubelet,port-10250,containerd-version,runc,cni-plugins",
    ]);
    let output = kbundle(&lab, &args, Duration::from_secs(60));
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn one_apply_at_a_time_and_never_over_another_cluster() {
    let lab = Lab::new("locks", 2);
    install_fixtures(&lab);
    let (_, zip) = write_bundle(&lab, &cluster_yaml(&lab, SUDO_USER, 1), "lab.zip");
    let (zip, hosts, log) = (
        path(&zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("log")),
    );
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "{}", text(&output));
    let journal = lab
        .read_node_file(2, "/var/lib/kbundle/journal")
        .expect("journal written");
    assert!(journal.contains("cluster=lab\ncluster_id="), "{journal}");
    assert!(
        !lab.node_file(1, "/var/lib/kbundle/lock").exists(),
        "the lock was released"
    );

    // Another run holds node2's lock: refused, the holder named, nothing changed anywhere.
    let held = lab.ssh(2, SUDO_USER, "sudo mkdir /var/lib/kbundle/lock && echo 'host=elsewhere pid=42 started=0 cluster=lab' | sudo tee /var/lib/kbundle/lock/owner >/dev/null");
    assert!(held.success(), "{held}");
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(60),
    );
    assert_ne!(output.status.code(), Some(0));
    let all = text(&output);
    assert!(
        all.contains("another apply holds the node's lock (host=elsewhere pid=42"),
        "{all}"
    );
    assert!(all.contains("nothing was changed on any node"), "{all}");
    assert!(
        !lab.node_file(1, "/var/lib/kbundle/lock").exists(),
        "node1's lock was released"
    );
    assert!(
        lab.node_file(2, "/var/lib/kbundle/lock").exists(),
        "the other run's lock is left alone"
    );
    // A lock left by a run of this machine that is gone is stale: taken over without asking.
    let mut gone = Command::new("true").spawn().expect("true runs");
    let dead = gone.id();
    gone.wait().expect("true ends");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let stale = lab.ssh(2, SUDO_USER, &format!("echo 'host={} pid={dead} started=0 cluster=lab' | sudo tee /var/lib/kbundle/lock/owner >/dev/null", host.trim()));
    assert!(stale.success());
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "{}", text(&output));

    // Two runs at once: exactly one goes on.
    let runs: Vec<_> = (0..2)
        .map(|run| {
            let log = path(&lab.scratch_dir().join(format!("race{run}.log")));
            let mut command: Command = lab.command(env!("CARGO_BIN_EXE_kbundle"));
            command
                .args(apply_args(&zip, &hosts, &log))
                .current_dir(lab.scratch_dir());
            command
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            command.spawn().expect("kbundle starts")
        })
        .collect();
    let outcomes: Vec<Output> = runs
        .into_iter()
        .map(|run| run.wait_with_output().expect("ends"))
        .collect();
    let winners = outcomes.iter().filter(|o| o.status.success()).count();
    let refused = outcomes
        .iter()
        .filter(|o| text(o).contains("holds the node's lock"))
        .count();
    assert!(
        winners >= 1,
        "{}\n{}",
        text(&outcomes[0]),
        text(&outcomes[1])
    );
    assert_eq!(
        winners + refused,
        2,
        "{}\n{}",
        text(&outcomes[0]),
        text(&outcomes[1])
    );

    // A bundle of another cluster is refused, unless --force.
    let other = cluster_yaml(&lab, SUDO_USER, 1).replace("name: lab", "name: other");
    let (_, other_zip) = write_bundle(&lab, &other, "other.zip");
    let other_zip = path(&other_zip);
    let output = kbundle(
        &lab,
        &apply_args(&other_zip, &hosts, &log),
        Duration::from_secs(60),
    );
    assert_ne!(output.status.code(), Some(0));
    assert!(
        text(&output).contains("the node belongs to another cluster (lab)"),
        "{}",
        text(&output)
    );
    // The first cluster's control plane and kubelet still listen there (reset would stop
    // them): preflight says so.
    let mut forced = apply_args(&other_zip, &hosts, &log);
    // Its etcd would not start while the first cluster's still runs: wait-etcd is left out,
    // and so is the rolling restart's health gate (`rollout`), which would wait for it too.
    forced.extend([
        "--force",
        "--ignore-preflight",
        "port-2379,port-2380,port-6443,port-10250,port-10257,port-10259",
        "--skip-phase",
        "wait-etcd,rollout",
    ]);
    let output = kbundle(&lab, &forced, Duration::from_secs(60));
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn dry_run_shows_what_would_change_and_changes_nothing() {
    let lab = Lab::new("dryrun", 2);
    install_fixtures(&lab);
    let (_, zip) = write_bundle(&lab, &cluster_yaml(&lab, SUDO_USER, 1), "lab.zip");
    let (zip, hosts, log) = (
        path(&zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("log")),
    );
    let mut dry = apply_args(&zip, &hosts, &log);
    dry.push("--dry-run");
    // Before anything is installed: every file is new.
    let output = kbundle(&lab, &dry, Duration::from_secs(60));
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("new       /etc/kubernetes/kubelet.conf"),
        "{}",
        text(&output)
    );
    assert!(
        lab.read_node_file(2, "/etc/kubernetes/kubelet.conf")
            .is_none(),
        "a dry run installed something"
    );
    assert!(
        lab.service_calls(2).is_empty(),
        "a dry run called systemctl: {:?}",
        lab.service_calls(2)
    );

    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "{}", text(&output));
    let output = kbundle(&lab, &dry, Duration::from_secs(60));
    assert_eq!(
        text(&output).matches("nothing would change").count(),
        2,
        "{}",
        text(&output)
    );

    // A bundle with another maxPods: the kubelet config's diff, the restart, and never a key.
    let changed = cluster_yaml(&lab, SUDO_USER, 1).replace(
        "  nodes:\n",
        "  networking: {maxPodsPerNode: 100}\n  nodes:\n",
    );
    let (_, new_zip) = write_bundle(&lab, &changed, "new.zip");
    let new_zip = path(&new_zip);
    let mut dry = apply_args(&new_zip, &hosts, &log);
    dry.push("--dry-run");
    let output = kbundle(&lab, &dry, Duration::from_secs(60));
    let all = text(&output);
    assert!(
        all.contains("changed   /var/lib/kubelet/config.yaml"),
        "{all}"
    );
    assert!(all.contains("+maxPods: 100"), "{all}");
    assert!(all.contains("would restart kubelet"), "{all}");
    assert!(!all.contains("PRIVATE KEY"), "{all}");
    let installed = lab
        .read_node_file(2, "/var/lib/kubelet/config.yaml")
        .expect("installed");
    assert!(
        installed.contains("maxPods: 110"),
        "the dry run changed the node"
    );
}

#[test]
fn reset_removes_what_the_bundle_installed_and_a_fresh_apply_works() {
    let lab = Lab::new("reset", 2);
    install_fixtures(&lab);
    let (bundle, zip) = write_bundle(&lab, &cluster_yaml(&lab, SUDO_USER, 1), "lab.zip");
    let (zip, hosts, log) = (
        path(&zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("log")),
    );
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        lab.read_node_file(1, "/var/lib/etcd/member/snap/db")
            .is_some()
            || lab.node_file(1, "/var/lib/etcd").exists()
    );

    let reset = [
        "reset",
        zip.as_str(),
        "--ssh-config",
        "/dev/null",
        "--known-hosts",
        hosts.as_str(),
        "--log",
        log.as_str(),
        "--wipe-data",
    ];
    let output = kbundle(&lab, &reset, Duration::from_secs(60));
    assert!(output.status.success(), "{}", text(&output));
    for index in 1..=2 {
        for file in bundle.node_files(lab.node_name(index)) {
            assert!(
                lab.read_node_file(index, &file.path).is_none(),
                "node{index} still has {}",
                file.path
            );
        }
        assert!(
            lab.read_node_file(index, "/var/lib/kbundle/journal")
                .is_none()
        );
        assert!(
            lab.service_calls(index)
                .iter()
                .any(|call| call.contains("stop kubelet")),
            "{:?}",
            lab.service_calls(index)
        );
    }
    assert!(
        text(&output).contains("backup=/var/lib/kbundle/backup/"),
        "{}",
        text(&output)
    );
    let backups = lab.node_file(1, "/var/lib/kbundle/backup");
    let kept = std::fs::read_dir(&backups)
        .expect("a backup folder")
        .next()
        .expect("one backup")
        .expect("entry")
        .path();
    assert!(
        kept.join("etc/kubernetes/pki/ca.key").exists(),
        "the removed files are kept"
    );
    assert!(
        !lab.node_file(1, "/var/lib/etcd/member").exists(),
        "--wipe-data removed etcd's data"
    );

    // Ready for a fresh apply: ports free (etcd stopped), no journal, no staging.
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("wait-etcd ok"));
}

#[test]
fn a_node_that_already_runs_the_bundle_is_not_touched_but_drift_is_repaired() {
    let lab = Lab::new("noop", 2);
    install_fixtures(&lab);
    let (_, zip) = write_bundle(&lab, &cluster_yaml(&lab, SUDO_USER, 1), "lab.zip");
    let (zip, hosts, log) = (
        path(&zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("log")),
    );
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "{}", text(&output));
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // The worker runs this very bundle: upload and install are skipped outright.
    assert!(
        stderr.contains("node2: lock ok") && stderr.contains("the node already runs this bundle"),
        "{stderr}"
    );
    assert!(
        stderr.contains("node2: upload ok") && stderr.contains("already uploaded"),
        "{stderr}"
    );
    // A file changed by hand (or a mode) is drift: the node is no longer up to date and the
    // next apply puts the bundle's version back.
    let drift = lab.ssh(2, SUDO_USER, "sudo chmod 644 /etc/kubernetes/kubelet.conf");
    assert!(drift.success(), "{drift}");
    let output = kbundle(
        &lab,
        &apply_args(&zip, &hosts, &log),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("node2: install ok") && stderr.contains("done: 1 files changed"),
        "{stderr}"
    );
    use std::os::unix::fs::MetadataExt;
    let mode = std::fs::metadata(lab.node_file(2, "/etc/kubernetes/kubelet.conf"))
        .expect("file")
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

/// The architecture of this machine, and so of the lab nodes, as artifacts name it.
fn lab_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    }
}

/// A `.tar.gz` of `(name, contents)`, every file executable.
fn targz(files: &[(&str, String)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o755);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, contents.as_bytes())
            .expect("tar entry");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

/// The file upstream publishes for the artifact `name` (placed at `install_path`), as the lab
/// stands in for it: the real kubelet and kubectl, and small stand-ins for what cannot run here:
/// shell scripts for runc, archives of them for containerd, the CNI plugins and crictl. What it
/// places on a node is added to `placed` (absolute path, contents).
fn fake_binary(
    real: &kubernetes::Binaries,
    name: &str,
    install_path: &str,
    placed: &mut Vec<(String, Vec<u8>)>,
) -> Vec<u8> {
    let script = |name: &str| {
        format!(
            "#!/bin/sh\n# kbundle test fixture: stands in for {name}, placed by apply --artifacts\nexit 0\n"
        )
    };
    let members: Vec<(&str, String)> = match name {
        "containerd" => vec![
            ("bin/containerd", CONTAINERD_2.to_owned()),
            (
                "bin/containerd-shim-runc-v2",
                script("containerd-shim-runc-v2"),
            ),
        ],
        "cni-plugins" => FLANNEL_CNI_PLUGINS
            .iter()
            .map(|plugin| (*plugin, script(plugin)))
            .collect(),
        "crictl" => vec![("crictl", script("crictl"))],
        _ => Vec::new(),
    };
    if members.is_empty() {
        // The Kubernetes binaries are the real ones (the lab kubelet runs the placed
        // kubelet); what cannot run here is a script.
        let contents = match name {
            "kubelet" | "kubectl" => std::fs::read(real.component(name)).expect("the real binary"),
            _ => script(name).into_bytes(),
        };
        placed.push((install_path.to_owned(), contents.clone()));
        contents
    } else {
        for (member, contents) in &members {
            placed.push((
                format!("{install_path}/{}", member.trim_start_matches("./")),
                contents.clone().into_bytes(),
            ));
        }
        targz(&members)
    }
}

/// The CNI plugins flannel's configuration calls, and loopback.
const FLANNEL_CNI_PLUGINS: [&str; 4] = ["./bridge", "./host-local", "./portmap", "./loopback"];

/// containerd as the lab has it: a stand-in that answers `--version` as 2.x does.
const CONTAINERD_2: &str = "#!/bin/sh\n# kbundle test fixture: stands in for containerd 2\nif [ \"$1\" = --version ]; then echo 'containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376'; fi\nexit 0\n";

/// Fills `directory` the way `kbundle artifacts fetch BUNDLE -o DIR --arch <lab arch> --mirror …`
/// lays it out (`binaries/<arch>/<last part of the url>`, `images/<reference with / and : as
/// _>.tar`, the record `artifacts-fetched.json`): the real kubelet and kubectl, and small
/// stand-ins for what cannot run here: shell scripts for runc, archives of them for containerd,
/// the CNI plugins and crictl, and fake image tarballs (the lab's ctr only records). Returns every file placed on a control-plane node:
/// (absolute path, contents).
fn fetch_fake_artifacts(bundle: &Bundle, directory: &Path) -> Vec<(String, Vec<u8>)> {
    let real = kubernetes::Binaries::locate();
    let listed: serde_json::Value = serde_json::from_slice(
        &bundle
            .entry(kbundle_core::bundle::layout::ARTIFACTS_JSON)
            .expect("artifacts.json")
            .contents,
    )
    .expect("JSON");
    let mut record = Vec::new();
    let mut placed = Vec::new();
    for binary in listed["binaries"].as_array().expect("binaries") {
        if binary["arch"] != lab_arch() {
            continue;
        }
        let field = |key: &str| binary[key].as_str().expect(key).to_owned();
        let bytes = fake_binary(&real, &field("name"), &field("install_path"), &mut placed);
        let url = field("url");
        let file = format!(
            "binaries/{}/{}",
            lab_arch(),
            url.rsplit('/').next().expect("a file name")
        );
        std::fs::create_dir_all(directory.join(&file).parent().expect("a folder")).expect("mkdir");
        std::fs::write(directory.join(&file), &bytes).expect("write");
        record.push(serde_json::json!({
            "name": field("name"), "version": field("version"), "arch": lab_arch(), "file": file,
            "sha256": kbundle_core::bundle::sha256_hex(&bytes), "install_path": field("install_path"),
            "nodes": field("nodes"),
        }));
    }
    std::fs::create_dir_all(directory.join("images")).expect("mkdir");
    for image in listed["images"].as_array().expect("images") {
        let image = image.as_str().expect("an image");
        let file = format!("images/{}.tar", image.replace(['/', ':'], "_"));
        let bytes = format!("kbundle test fixture: not really the image {image}\n");
        std::fs::write(directory.join(&file), &bytes).expect("write");
        record.push(serde_json::json!({
            "name": image, "version": "", "arch": "", "file": file,
            "sha256": kbundle_core::bundle::sha256_hex(bytes.as_bytes()),
            "install_path": "image", "nodes": "all",
        }));
    }
    std::fs::write(
        directory.join("artifacts-fetched.json"),
        serde_json::to_string_pretty(&record).expect("JSON"),
    )
    .expect("write");
    placed
}

/// Accepted ssh logins on node `index` so far (sshd runs with -e: its log is the node's).
fn logins(lab: &Lab, index: usize) -> usize {
    lab.node_log(index).matches("Accepted publickey").count()
}

#[test]
fn artifacts_are_checked_before_any_connection_placed_imported_and_reapplied_as_a_no_op() {
    use std::os::unix::fs::MetadataExt;
    let lab = Lab::new("artifacts", 2);
    install_fixtures(&lab);
    // No containerd, kubelet or kubectl on the nodes: they come from the artifacts.
    for index in 1..=2 {
        let removed = lab.ssh(
            index,
            SUDO_USER,
            "sudo rm /usr/local/bin/containerd /usr/local/bin/kubelet /usr/local/bin/kubectl /usr/local/bin/crictl",
        );
        assert!(removed.success(), "{removed}");
    }
    let (bundle, zip) = write_bundle(&lab, &cluster_yaml(&lab, SUDO_USER, 1), "lab.zip");
    let directory = lab.scratch_dir().join("artifacts");
    let placed = fetch_fake_artifacts(&bundle, &directory);
    let (zip, hosts, log, dir) = (
        path(&zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("log")),
        path(&directory),
    );
    let mut args = apply_args(&zip, &hosts, &log);
    args.retain(|arg| *arg != "--no-fetch");
    args.extend(["--artifacts", dir.as_str()]);

    // (a) One byte of the kubelet changed: refused before any connection, nothing installed.
    let kubelet = directory.join(format!("binaries/{}/kubelet", lab_arch()));
    let good = std::fs::read(&kubelet).expect("kubelet");
    let mut bad = good.clone();
    bad[20] ^= 0x01;
    std::fs::write(&kubelet, &bad).expect("write");
    let logins_before: Vec<usize> = (1..=2).map(|index| logins(&lab, index)).collect();
    assert!(
        logins_before.iter().all(|count| *count > 0),
        "sshd logs the fixtures' logins, so a login by kbundle would show"
    );
    let output = kbundle(&lab, &args, Duration::from_secs(30));
    let all = text(&output);
    assert_eq!(output.status.code(), Some(2), "{all}");
    for needle in [
        format!("`binaries/{}/kubelet` does not match", lab_arch()),
        format!(
            "expected sha256 {}",
            kbundle_core::bundle::sha256_hex(&good)
        ),
        format!("found {}", kbundle_core::bundle::sha256_hex(&bad)),
        "kbundle artifacts fetch".to_owned(),
        "no node was contacted".to_owned(),
    ] {
        assert!(all.contains(&needle), "{needle}: {all}");
    }
    for index in 1..=2 {
        assert_eq!(
            logins(&lab, index),
            logins_before[index - 1],
            "node{index} was contacted"
        );
        for untouched in ["/var/lib/kbundle", "/home/kube/.kbundle", "/etc/kubernetes"] {
            assert!(
                !lab.node_file(index, untouched).exists(),
                "node{index} has {untouched}"
            );
        }
    }

    // (b) The folder as fetched: every binary lands with its checksum and mode, every image is
    // imported on every node.
    std::fs::write(&kubelet, &good).expect("write");
    let output = kbundle(&lab, &args, Duration::from_secs(120));
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(stderr.contains("wait-etcd ok"), "{stderr}");
    let images: Vec<String> = std::fs::read_dir(directory.join("images"))
        .expect("images")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(images.len() > 3, "{images:?}");
    for index in 1..=2 {
        for (file, contents) in &placed {
            let on_node = lab.node_file(index, file);
            if file.ends_with("/kubectl") && index == 2 {
                assert!(!on_node.exists(), "kubectl is for control-plane nodes only");
                continue;
            }
            let landed = std::fs::read(&on_node)
                .unwrap_or_else(|_| panic!("node{index}: {file} did not land"));
            assert_eq!(
                kbundle_core::bundle::sha256_hex(&landed),
                kbundle_core::bundle::sha256_hex(contents),
                "node{index}: {file}"
            );
            let mode = std::fs::metadata(&on_node).expect("metadata").mode() & 0o7777;
            assert_eq!(mode, 0o755, "node{index}: {file} has mode {mode:o}");
        }
        let imports: Vec<String> = lab
            .recorded_calls(index, "ctr")
            .into_iter()
            .map(|call| {
                assert_eq!(call.uid, 0, "ctr ran as root");
                call.args
            })
            .collect();
        for image in &images {
            let count = imports
                .iter()
                .filter(|args| {
                    args.starts_with("-n k8s.io images import /")
                        && args.ends_with(&format!("/images/{image}"))
                })
                .count();
            assert_eq!(count, 1, "node{index}: {image} in {imports:#?}");
        }
        assert_eq!(imports.len(), images.len(), "{imports:#?}");
        assert!(
            !lab.node_file(index, "/home/kube/.kbundle/lab.artifacts/binaries")
                .exists(),
            "the uploads are removed once placed"
        );
    }

    // (c) Again with the same folder: nothing rewritten, restarted or imported.
    let stamp = |index: usize| -> Vec<(u64, i64, i64)> {
        placed
            .iter()
            .filter_map(|(file, _)| std::fs::metadata(lab.node_file(index, file)).ok())
            .map(|m| (m.ino(), m.mtime(), m.mtime_nsec()))
            .collect()
    };
    let before: Vec<_> = (1..=2)
        .map(|index| {
            (
                stamp(index),
                lab.service_calls(index).len(),
                lab.recorded_calls(index, "ctr").len(),
            )
        })
        .collect();
    let output = kbundle(&lab, &args, Duration::from_secs(60));
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.matches("already in place").count(), 2, "{stderr}");
    assert_eq!(
        stderr.matches("images already imported").count(),
        2,
        "{stderr}"
    );
    for index in 1..=2 {
        let (files, services, imports) = &before[index - 1];
        assert_eq!(&stamp(index), files, "node{index}: a file was rewritten");
        let calls = lab.service_calls(index);
        let new = &calls[*services..];
        assert!(
            new.iter().all(|call| !call.contains("restart")),
            "node{index} restarted: {new:?}"
        );
        assert_eq!(
            lab.recorded_calls(index, "ctr").len(),
            *imports,
            "node{index} imported again"
        );
    }

    // A binary changed on a node by hand is put back (swapped by rename) and its service
    // restarted if it runs; nothing else is touched.
    let drift = lab.ssh(
        2,
        SUDO_USER,
        "echo '# changed' | sudo tee -a /usr/local/bin/kubelet >/dev/null",
    );
    assert!(drift.success(), "{drift}");
    let output = kbundle(&lab, &args, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("node2: artifacts ok")
            && stderr.contains(&format!("1 files placed for {} (kubelet)", lab_arch()))
            && stderr.contains("restarted kubelet"),
        "{stderr}"
    );
    assert!(
        lab.service_calls(2)
            .iter()
            .any(|call| call == "try-restart kubelet"),
        "{:?}",
        lab.service_calls(2)
    );
    let kubelet_on_node =
        std::fs::read(lab.node_file(2, "/usr/local/bin/kubelet")).expect("kubelet");
    assert_eq!(kubelet_on_node, good);
}

/// Files placed on a node: (absolute path, contents).
type Placed = Vec<(String, Vec<u8>)>;

/// Lays out, under `directory`, a copy of the upstream layout (`<host>/<path>`, as `--mirror`
/// and `--artifacts-mirror` read it) of every binary the bundle lists for the lab's
/// architecture, each with its published checksum file. Returns every file placed on a
/// control-plane node (absolute path, contents) and where the mirror holds each binary (name,
/// file).
fn fake_mirror(bundle: &Bundle, directory: &Path) -> (Placed, Vec<(String, PathBuf)>) {
    let real = kubernetes::Binaries::locate();
    let listed: serde_json::Value = serde_json::from_slice(
        &bundle
            .entry(kbundle_core::bundle::layout::ARTIFACTS_JSON)
            .expect("artifacts.json")
            .contents,
    )
    .expect("JSON");
    let mut placed = Vec::new();
    let mut served = Vec::new();
    for binary in listed["binaries"].as_array().expect("binaries") {
        if binary["arch"] != lab_arch() {
            continue;
        }
        let field = |key: &str| binary[key].as_str().expect(key).to_owned();
        let bytes = fake_binary(&real, &field("name"), &field("install_path"), &mut placed);
        let (url, sums) = (field("url"), field("checksum_url"));
        let file = directory.join(url.trim_start_matches("https://"));
        served.push((field("name"), file.clone()));
        std::fs::create_dir_all(file.parent().expect("a folder")).expect("mkdir");
        std::fs::write(&file, &bytes).expect("write");
        let name = url.rsplit('/').next().expect("a file name");
        let sums = directory.join(sums.trim_start_matches("https://"));
        std::fs::create_dir_all(sums.parent().expect("a folder")).expect("mkdir");
        std::fs::write(
            &sums,
            format!("{}  {name}\n", kbundle_core::bundle::sha256_hex(&bytes)),
        )
        .expect("write");
    }
    (placed, served)
}

/// Python's plain HTTP server serving `directory` on loopback inside the lab's operator
/// namespace, where kbundle runs (so its traffic never leaves the lab); its log counts the
/// requests. Ended, by its pid, when dropped.
struct Mirror {
    url: String,
    log: PathBuf,
    server: std::process::Child,
}

impl Mirror {
    fn serve(lab: &Lab, directory: &Path) -> Self {
        let log = lab.scratch_dir().join("mirror.log");
        let file = std::fs::File::create(&log).expect("the mirror's log");
        let server = lab
            .command("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "18080",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(directory)
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("python3 runs");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !std::fs::read_to_string(&log).is_ok_and(|text| text.contains("Serving HTTP")) {
            assert!(Instant::now() < deadline, "the mirror did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            url: "http://127.0.0.1:18080".into(),
            log,
            server,
        }
    }

    /// Requests answered so far.
    fn requests(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches("\"GET /")
            .count()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[test]
fn what_nodes_lack_is_fetched_once_into_the_cache_and_installed_and_wrong_versions_are_refused() {
    use std::os::unix::fs::MetadataExt;
    let lab = Lab::new("fetch", 2);
    install_fixtures(&lab);
    // node2 has nothing: no containerd, runc, CNI plugins, crictl, kubelet or kubectl.
    let bare = lab.ssh(
        2,
        SUDO_USER,
        "sudo rm -f /usr/local/bin/containerd /usr/local/sbin/runc /usr/local/bin/crictl /usr/local/bin/kubelet /usr/local/bin/kubectl /opt/cni/bin/*",
    );
    assert!(bare.success(), "{bare}");
    // node1 has a distribution's containerd 1.7.
    let old = lab.ssh(
        1,
        SUDO_USER,
        "printf '#!/bin/sh\\necho containerd github.com/containerd/containerd 1.7.24 1.7.24~ds1\\n' | sudo tee /usr/local/bin/containerd >/dev/null",
    );
    assert!(old.success(), "{old}");
    let (bundle, zip) = write_bundle(&lab, &cluster_yaml(&lab, SUDO_USER, 1), "lab.zip");
    let served = lab.scratch_dir().join("mirror");
    let (placed, files) = fake_mirror(&bundle, &served);
    let mirror = Mirror::serve(&lab, &served);
    let cache = lab.scratch_dir().join("cache");
    let (zip, hosts, log, cache_dir) = (
        path(&zip),
        known_hosts(&lab),
        path(&lab.scratch_dir().join("log")),
        path(&cache),
    );
    let mut args = apply_args(&zip, &hosts, &log);
    args.retain(|arg| *arg != "--no-fetch");
    args.extend([
        "--artifacts-cache",
        cache_dir.as_str(),
        "--artifacts-mirror",
        mirror.url.as_str(),
    ]);

    // (a) A wrong version is refused with the fix; on the first control-plane node that stops
    // the run before anything is fetched or installed anywhere. What is merely missing is not
    // a failure.
    let output = kbundle(&lab, &args, Duration::from_secs(60));
    let all = text(&output);
    assert!(!output.status.success(), "{all}");
    assert!(
        all.contains("containerd 1.7.24 (/usr/local/bin/containerd) is too old")
            && all.contains("apt-get remove containerd")
            && all.contains("kbundle installs containerd v2.1.4 itself"),
        "{all}"
    );
    assert!(
        all.contains(
            "missing, to be installed by kbundle: containerd, runc, kubelet, cni-plugins, crictl"
        ),
        "{all}"
    );
    assert_eq!(
        mirror.requests(),
        0,
        "nothing is fetched for a run that stops"
    );
    for index in 1..=2 {
        assert!(
            !lab.node_file(index, "/etc/kubernetes").exists(),
            "node{index}"
        );
    }
    assert!(!lab.node_file(2, "/usr/local/bin/kubelet").exists());

    // (b) The mirror serves a damaged kubelet: refused naming both checksums, nothing placed.
    let fixed = lab.ssh(
        1,
        SUDO_USER,
        &format!(
            "printf '%s' {} | sudo tee /usr/local/bin/containerd >/dev/null",
            kubernetes::shell_quote(CONTAINERD_2)
        ),
    );
    assert!(fixed.success(), "{fixed}");
    let kubelet = &files
        .iter()
        .find(|(name, _)| name == "kubelet")
        .expect("the served kubelet")
        .1;
    let good = std::fs::read(kubelet).expect("the served kubelet");
    let mut bad = good.clone();
    bad[100] ^= 1;
    std::fs::write(kubelet, &bad).expect("write");
    let output = kbundle(&lab, &args, Duration::from_secs(120));
    let all = text(&output);
    assert!(!output.status.success(), "{all}");
    assert!(
        all.contains(&format!(
            "sha256 {} is not the published {}",
            kbundle_core::bundle::sha256_hex(&bad),
            kbundle_core::bundle::sha256_hex(&good)
        )),
        "{all}"
    );
    assert!(!lab.node_file(2, "/usr/local/bin/kubelet").exists());

    // (c) As served: node2 gets every binary it lacked, with its checksum; node1, which lacks
    // nothing, gets nothing.
    std::fs::write(kubelet, &good).expect("write");
    let before = mirror.requests();
    let output = kbundle(&lab, &args, Duration::from_secs(180));
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert!(
        all.contains("node2: artifacts ok") && all.contains("installed what the node lacked: "),
        "{all}"
    );
    assert!(
        all.lines().any(|line| line.contains("node1: artifacts ok")
            && line.contains("nothing missing: the node's own binaries are used")),
        "{all}"
    );
    let fetched = mirror.requests() - before;
    for (file, contents) in &placed {
        if file.ends_with("/kubectl") {
            assert!(
                !lab.node_file(2, file).exists(),
                "kubectl is for control-plane nodes only"
            );
            continue;
        }
        let landed = std::fs::read(lab.node_file(2, file))
            .unwrap_or_else(|_| panic!("node2: {file} did not land\n{all}"));
        assert_eq!(
            kbundle_core::bundle::sha256_hex(&landed),
            kbundle_core::bundle::sha256_hex(contents),
            "node2: {file}"
        );
        let mode = std::fs::metadata(lab.node_file(2, file))
            .expect("metadata")
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o755, "node2: {file}");
    }
    assert!(
        std::fs::read_link(lab.node_file(1, "/usr/local/bin/kubelet")).is_ok(),
        "node1 keeps its own kubelet"
    );

    // (d) The cache is reused: a node that lacks its kubelet again gets it with no download.
    let again = lab.ssh(
        2,
        SUDO_USER,
        "sudo rm /usr/local/bin/kubelet /var/lib/kbundle/journal",
    );
    assert!(again.success(), "{again}");
    let before = mirror.requests();
    let output = kbundle(&lab, &args, Duration::from_secs(120));
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert!(
        all.contains("installed what the node lacked: kubelet "),
        "{all}"
    );
    assert_eq!(mirror.requests(), before, "fetched again: {all}");
    assert!(fetched > 0);
}
