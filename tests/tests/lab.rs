//! The SSH test-node lab (`kbundle_tests::lab`) proven against real sshd, sudo and ssh: nodes
//! come up with strict host-key checking, key login, passwordless and password sudo; wrong or
//! missing host keys are refused; a node's writes stay on that node and are readable from the
//! host; service-manager and kernel calls are recorded, not made; a cut link times out and a
//! restored one works; labs run side by side with the same addresses; nothing is left after
//! drop. Prints bring-up and teardown times for 3 and 20 nodes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kbundle_tests::lab::{CONNECT_TIMEOUT, Lab, PASSWORD_SUDO_USER, SUDO_USER};
use kbundle_tests::programs::{self, Finished};

/// Names of the network namespaces that exist now.
fn namespaces_now() -> String {
    let mut list = programs::command("ip");
    list.args(["netns", "list"]);
    programs::run(list, Duration::from_secs(10))
        .expect_success()
        .to_owned()
}

/// Drops `lab` and checks it left no namespace and no scratch dir behind.
fn drop_and_check_gone(lab: Lab) {
    let namespaces = lab.namespaces().to_vec();
    let scratch = lab.scratch_dir().to_path_buf();
    drop(lab);
    let now = namespaces_now();
    for netns in &namespaces {
        assert!(
            !now.split_whitespace().any(|name| name == netns),
            "{netns} survived the lab:\n{now}"
        );
    }
    assert!(!scratch.exists(), "{} survived the lab", scratch.display());
}

/// An ssh refusal: exit status 255 (ssh's own failure) with `needle` in its output.
fn expect_ssh_refusal(finished: &Finished, needle: &str) {
    assert_eq!(
        finished.status.and_then(|status| status.code()),
        Some(255),
        "expected ssh to fail:\n{finished}"
    );
    assert!(
        finished.stderr.contains(needle),
        "expected `{needle}`:\n{finished}"
    );
}

#[test]
fn three_nodes_serve_key_login_and_sudo_with_strict_host_keys() {
    let lab = Lab::new("basic", 3);
    // The root namespace has no way to the nodes: only the guard route (asking sends nothing).
    let mut route = programs::command("ip");
    route.args(["route", "get", &lab.node_address(1).to_string()]);
    let finished = programs::run(route, Duration::from_secs(10));
    assert!(
        finished
            .expect_failure()
            .stderr
            .contains("No route to host"),
        "{finished}"
    );
    for index in 1..=3 {
        let finished = lab.ssh(index, SUDO_USER, "hostname; sudo id -u");
        assert_eq!(
            finished.expect_success(),
            format!("node{index}\n0\n"),
            "{finished}"
        );
    }

    // Password sudo: refused without a password, granted with the node's own, refused with
    // another node's (after PAM's delay of about 2 s).
    let finished = lab.ssh(1, PASSWORD_SUDO_USER, "sudo -n true");
    assert!(
        finished
            .expect_failure()
            .stderr
            .contains("a password is required"),
        "{finished}"
    );
    let right = format!("{}\n", lab.sudo_password(1));
    let finished = lab.ssh_with_input(1, PASSWORD_SUDO_USER, "sudo -S -p '' id -u", &right);
    assert_eq!(finished.expect_success(), "0\n", "{finished}");
    let finished = lab.ssh_with_input(2, PASSWORD_SUDO_USER, "sudo -S -p '' id -u", &right);
    assert!(
        finished
            .expect_failure()
            .stderr
            .contains("incorrect password"),
        "{finished}"
    );

    // sshd's effective configuration: keys only, no root.
    let finished = lab.ssh(1, SUDO_USER, "sudo /usr/sbin/sshd -T");
    let config = finished.expect_success();
    for line in [
        "permitrootlogin no",
        "passwordauthentication no",
        "pubkeyauthentication yes",
    ] {
        assert!(
            config.lines().any(|seen| seen == line),
            "no `{line}`:\n{finished}"
        );
    }
    let finished = lab.ssh(1, "root", "true");
    expect_ssh_refusal(&finished, "Permission denied");

    // Host keys: an empty known_hosts and a wrong key are both refused.
    let empty = lab.scratch_dir().join("empty_known_hosts");
    std::fs::write(&empty, "").expect("write empty known_hosts");
    let mut ssh = lab.command("ssh");
    ssh.args(lab.ssh_options_with_known_hosts(&empty))
        .arg(format!("{SUDO_USER}@{}", lab.node_address(1)))
        .arg("true");
    let finished = programs::run(ssh, Duration::from_secs(20));
    expect_ssh_refusal(&finished, "Host key verification failed");
    let wrong = lab.scratch_dir().join("wrong_known_hosts");
    std::fs::write(
        &wrong,
        format!("{} {}\n", lab.node_address(1), lab.host_key(2)),
    )
    .expect("write wrong known_hosts");
    let mut ssh = lab.command("ssh");
    ssh.args(lab.ssh_options_with_known_hosts(&wrong))
        .arg(format!("{SUDO_USER}@{}", lab.node_address(1)))
        .arg("true");
    let finished = programs::run(ssh, Duration::from_secs(20));
    expect_ssh_refusal(&finished, "REMOTE HOST IDENTIFICATION HAS CHANGED");

    // Any node can be the jump host.
    let mut via = lab.ssh_command_via(3, SUDO_USER, 1, SUDO_USER);
    via.arg("hostname");
    let finished = programs::run(via, Duration::from_secs(20));
    assert_eq!(finished.expect_success(), "node3\n", "{finished}");

    drop_and_check_gone(lab);
}

#[test]
fn node_writes_stay_on_the_node_and_calls_to_the_host_kernel_are_recorded() {
    let lab = Lab::new("files", 2);
    let marker = format!("/opt/kbundle-lab-marker-{}", std::process::id());
    assert!(
        !PathBuf::from(&marker).exists(),
        "{marker} exists on the host"
    );

    let script = format!(
        "sudo sh -c 'echo x > {marker}' && sudo mkdir -p /etc/kubernetes/pki && \
         echo CA | sudo tee /etc/kubernetes/pki/ca.crt >/dev/null && sudo rm /etc/hostname"
    );
    lab.ssh(1, SUDO_USER, &script).expect_success();
    assert_eq!(lab.read_node_file(1, &marker).as_deref(), Some("x\n"));
    let ca = lab.node_root(1).join("etc/kubernetes/pki/ca.crt");
    assert_eq!(
        std::fs::read_to_string(&ca).expect("ca.crt from node 1"),
        "CA\n"
    );
    assert_eq!(lab.node_file(1, "/etc/kubernetes/pki/ca.crt"), ca);
    assert_eq!(
        lab.read_node_file(1, "/etc/hostname"),
        None,
        "a deleted file reads as absent"
    );
    assert_eq!(
        lab.read_node_file(2, "/etc/hostname").as_deref(),
        Some("node2\n")
    );
    assert!(
        !lab.node_file(2, &marker).exists(),
        "node 2 holds node 1's marker"
    );
    assert!(
        !PathBuf::from(&marker).exists(),
        "node 1's marker reached the host"
    );
    let finished = lab.ssh(2, SUDO_USER, &format!("test -e {marker}"));
    finished.expect_failure();
    let finished = lab.ssh(1, SUDO_USER, &format!("cat {marker}"));
    assert_eq!(finished.expect_success(), "x\n");

    // The stand-ins record, whatever path or user calls them, and run nothing.
    let unit = format!("kbundle-lab-unit-{}", std::process::id());
    let script = format!(
        "sudo systemctl daemon-reload && sudo systemctl enable --now {unit} && \
         systemctl is-active {unit} && sudo /usr/bin/systemctl restart {unit} && \
         sudo /bin/systemctl stop {unit} && sudo modprobe br_netfilter && \
         sudo /usr/sbin/sysctl --system && sudo swapoff -a && \
         sudo ctr -n k8s.io images import /tmp/pause.tar"
    );
    lab.ssh(1, SUDO_USER, &script).expect_success();
    assert_eq!(
        lab.service_calls(1),
        [
            "daemon-reload".to_owned(),
            format!("enable --now {unit}"),
            format!("is-active {unit}"),
            format!("restart {unit}"),
            format!("stop {unit}"),
        ]
    );
    let uids: Vec<u32> = lab
        .recorded_calls(1, "systemctl")
        .iter()
        .map(|call| call.uid)
        .collect();
    assert_eq!(uids[..2], [0, 0]);
    assert_ne!(uids[2], 0, "is-active ran as the plain user");
    for (tool, args) in [
        ("modprobe", "br_netfilter"),
        ("sysctl", "--system"),
        ("swapoff", "-a"),
        ("ctr", "-n k8s.io images import /tmp/pause.tar"),
    ] {
        let calls = lab.recorded_calls(1, tool);
        assert_eq!(calls.len(), 1, "{tool}: {calls:?}");
        assert_eq!((calls[0].uid, calls[0].args.as_str()), (0, args));
    }
    assert!(lab.service_calls(2).is_empty(), "node 2 saw node 1's calls");
    let host_log = std::fs::read_to_string("/var/log/systemctl-calls.log").unwrap_or_default();
    assert!(
        !host_log.contains(&unit),
        "a call reached the host's /var/log"
    );

    // Global kernel settings are read-only on a node (rewriting the current value would be
    // harmless even if it were not).
    let finished = lab.ssh(
        1,
        SUDO_USER,
        "sudo sh -c 'cat /proc/sys/vm/swappiness > /proc/sys/vm/swappiness'",
    );
    assert!(
        finished
            .expect_failure()
            .stderr
            .contains("Read-only file system"),
        "{finished}"
    );

    drop_and_check_gone(lab);
}

#[test]
fn a_cut_link_times_out_a_restored_one_works_and_a_killed_node_refuses() {
    let mut lab = Lab::new("links", 2);
    lab.ssh(1, SUDO_USER, "true").expect_success();

    lab.cut_link(1);
    let started = Instant::now();
    let finished = lab.ssh(1, SUDO_USER, "true");
    let took = started.elapsed();
    expect_ssh_refusal(&finished, "timed out");
    assert!(
        took >= CONNECT_TIMEOUT - Duration::from_millis(500)
            && took <= CONNECT_TIMEOUT + Duration::from_secs(2),
        "the cut link failed after {took:?}, not after about {CONNECT_TIMEOUT:?}"
    );
    lab.ssh(2, SUDO_USER, "true").expect_success();
    lab.restore_link(1);
    let finished = lab.ssh(1, SUDO_USER, "hostname");
    assert_eq!(finished.expect_success(), "node1\n");

    lab.kill_node(2);
    let started = Instant::now();
    let finished = lab.ssh(2, SUDO_USER, "true");
    expect_ssh_refusal(&finished, "Connection refused");
    assert!(started.elapsed() < CONNECT_TIMEOUT, "{finished}");
    lab.ssh(1, SUDO_USER, "true").expect_success();

    drop_and_check_gone(lab);
}

#[test]
fn two_labs_run_side_by_side_with_the_same_addresses() {
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| Lab::new("side-a", 2));
        let second = scope.spawn(|| Lab::new("side-b", 2));
        (
            first.join().expect("lab side-a came up"),
            second.join().expect("lab side-b came up"),
        )
    });
    assert_eq!(first.node_address(1), second.node_address(1));
    assert_ne!(first.netns(), second.netns());
    assert_ne!(first.host_key(1), second.host_key(1));

    first
        .ssh(1, SUDO_USER, "sudo sh -c 'echo a > /srv/which-lab'")
        .expect_success();
    second
        .ssh(1, SUDO_USER, "sudo sh -c 'echo b > /srv/which-lab'")
        .expect_success();
    assert_eq!(
        first.read_node_file(1, "/srv/which-lab").as_deref(),
        Some("a\n")
    );
    assert_eq!(
        second.read_node_file(1, "/srv/which-lab").as_deref(),
        Some("b\n")
    );
    let finished = second.ssh(1, SUDO_USER, "cat /srv/which-lab");
    assert_eq!(finished.expect_success(), "b\n");

    // The same address in the other lab is another machine: its host key does not match.
    let mut ssh = second.command("ssh");
    ssh.args(second.ssh_options_with_known_hosts(&first.known_hosts()))
        .arg(format!("{SUDO_USER}@{}", second.node_address(1)))
        .arg("true");
    let finished = programs::run(ssh, Duration::from_secs(20));
    expect_ssh_refusal(&finished, "REMOTE HOST IDENTIFICATION HAS CHANGED");

    drop_and_check_gone(first);
    second.ssh(2, SUDO_USER, "true").expect_success();
    drop_and_check_gone(second);
}

#[test]
fn a_panicking_test_leaves_nothing_behind() {
    let mut made = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::new("panics", 1);
        made = Some((lab.namespaces().to_vec(), lab.scratch_dir().to_path_buf()));
        panic!("deliberate panic with a lab up (expected in this test's output)");
    }));
    assert!(outcome.is_err(), "the closure panics");
    let (namespaces, scratch) = made.expect("the lab came up before the panic");
    let now = namespaces_now();
    for netns in &namespaces {
        assert!(
            !now.split_whitespace().any(|name| name == netns),
            "{netns} survived the panic:\n{now}"
        );
    }
    assert!(
        !scratch.exists(),
        "{} survived the panic",
        scratch.display()
    );
}

#[test]
fn bring_up_and_teardown_timings() {
    for nodes in [3, 20] {
        let started = Instant::now();
        let lab = Lab::new(&format!("timing{nodes}"), nodes);
        let up = started.elapsed();
        let finished = lab.ssh(nodes, SUDO_USER, "sudo id -u");
        assert_eq!(finished.expect_success(), "0\n");
        let started = Instant::now();
        drop_and_check_gone(lab);
        let down = started.elapsed();
        println!(
            "lab of {nodes:>2} nodes: up {up:.2?} (until every sshd listens), down {down:.2?}"
        );
    }
}
