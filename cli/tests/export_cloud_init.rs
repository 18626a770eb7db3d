//! `kbundle export cloud-init` on the lab's real control plane (see `cluster.rs` and
//! docs/lab.md): three control-plane nodes behind haproxy and a worker, each given its own
//! user-data as a machine at first boot would be. cloud-init's own `write_files` module
//! (Debian's cloud-init, run on the node) writes the node's files from it, then every node runs
//! what the user-data's `runcmd` runs, all at once, nothing ordering them. The first
//! control-plane node finishes the cluster once its API server answers; the others place
//! kube-controller-manager once the Nodes have their ranges. Every node turns Ready on its
//! planned range, kube-controller-manager runs on every control-plane node, the addons are in,
//! and `kbundle apply` afterwards finds every node installed exactly as it would install it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kbundle_tests::kubernetes::{
    ClusterLab, ClusterShape, node_logs, real_kubelet_verdict, shell_quote,
};
use kbundle_tests::lab::SUDO_USER;

const KBUNDLE: &str = env!("CARGO_BIN_EXE_kbundle");

/// cloud-init's `write_files` module, as cloud-init runs it at first boot: the user-data's
/// `write_files`, decoded and written with their permissions and owner.
const WRITE_FILES: &str = r#"
import sys, yaml
from cloudinit.config.cc_write_files import write_files
config = yaml.safe_load(open(sys.argv[1]))
write_files("write_files", config["write_files"], "root:root")
"#;

/// Where each node logs what its user-data's `runcmd` ran.
const BOOT_LOG: &str = "/var/log/kbundle-boot.log";

/// The `runcmd` of `user_data`: the command line cloud-init runs.
fn runcmd(user_data: &str) -> String {
    let parsed: serde_json::Value = serde_yaml::from_str(user_data).expect("user-data is YAML");
    let commands = parsed["runcmd"].as_array().expect("runcmd");
    assert_eq!(commands.len(), 1, "{commands:?}");
    commands[0]
        .as_array()
        .expect("one command as a list")
        .iter()
        .map(|word| shell_quote(word.as_str().expect("a word")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_node_installs_itself_from_its_user_data_and_the_cluster_comes_up() {
    let shape = ClusterShape::new("cloudinit", 3, 1);
    let mut cluster = ClusterLab::new(shape, 4, &PathBuf::from(KBUNDLE));
    cluster.start_load_balancer();
    let zip = cluster.generate(&cluster.shape.cluster_yaml(&cluster.lab), "cloudinit");
    let export = cluster.lab.scratch_dir().join("user-data");
    let run = cluster.kbundle_run(&[
        "export",
        "cloud-init",
        &zip.display().to_string(),
        "-o",
        &export.display().to_string(),
    ]);
    assert!(run.success(), "{run}");

    // First boot, on every machine at once.
    for index in cluster.shape.nodes() {
        let node = cluster.lab.node_name(index).to_owned();
        let user_data = std::fs::read_to_string(export.join(format!("user-data/{node}.yaml")))
            .expect("user-data");
        let written = cluster.lab.ssh_with_input(
            index,
            SUDO_USER,
            &format!(
                "cat >/tmp/user-data.yaml && sudo /usr/bin/python3 -c {} /tmp/user-data.yaml",
                shell_quote(WRITE_FILES)
            ),
            &user_data,
        );
        assert!(
            written.success(),
            "{node}: cloud-init's write_files: {written}"
        );
        let started = cluster.root(
            index,
            &format!(
                "setsid sh -c {} </dev/null >/dev/null 2>&1 &",
                shell_quote(&format!(
                    "{{ {}; echo \"runcmd exit $?\"; }} >{BOOT_LOG} 2>&1",
                    runcmd(&user_data)
                ))
            ),
        );
        assert!(started.success(), "{node}: {started}");
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    for index in cluster.shape.nodes() {
        let outcome = loop {
            let log = cluster
                .lab
                .read_node_file(index, BOOT_LOG)
                .unwrap_or_default();
            if let Some(line) = log.lines().find(|line| line.starts_with("runcmd exit ")) {
                break (line.to_owned(), log);
            }
            if Instant::now() > deadline {
                let logs: String = cluster
                    .shape
                    .nodes()
                    .map(|i| node_logs(&cluster.lab, i))
                    .collect();
                panic!("node{index} did not finish its first boot:\n{log}\n{logs}");
            }
            std::thread::sleep(Duration::from_secs(1));
        };
        assert_eq!(outcome.0, "runcmd exit 0", "node{index}:\n{}", outcome.1);
    }

    // The cluster is up as the bundle plans it.
    let admin = cluster.extract(&zip, "admin.conf");
    cluster.wait_ready(&admin, Duration::from_secs(180));
    let bundle = cluster.bundle(&zip);
    let plan = bundle.pod_ranges().expect("plan.json");
    let nodes = cluster.kubectl(&admin, &["get", "nodes", "-o", "json"]);
    let nodes: serde_json::Value = serde_json::from_str(nodes.expect_success()).expect("json");
    for node in nodes["items"].as_array().expect("items") {
        let name = node["metadata"]["name"].as_str().expect("name");
        let planned: Vec<String> = plan[name]
            .iter()
            .map(|range| kbundle_core::net::canonical(*range))
            .collect();
        assert_eq!(
            node["spec"]["podCIDRs"],
            serde_json::json!(planned),
            "{name}"
        );
    }
    for index in 1..=3 {
        assert!(
            cluster
                .static_pod_pid(index, "kube-controller-manager")
                .is_some(),
            "node{index} placed kube-controller-manager"
        );
    }
    for index in cluster.shape.nodes() {
        let verdict = real_kubelet_verdict(&cluster.lab, index, Duration::from_secs(60));
        assert!(verdict.starts_with("passed"), "node{index}: {verdict}");
    }
    for addon in bundle
        .manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("addons/"))
    {
        let file = cluster.extract(&zip, &addon.path).display().to_string();
        let listed = cluster.kubectl(&admin, &["get", "-f", &file, "-o", "name"]);
        assert!(listed.success(), "{}: {listed}", addon.path);
    }

    // What cloud-init installed is what apply installs: apply finds nothing to change.
    let run = cluster.apply(&zip, &["--wait-timeout", "120"]);
    assert!(run.success(), "{run}");
    assert_eq!(
        run.stderr
            .matches("already installed: nothing changed")
            .count(),
        4,
        "{run}"
    );
    // kube-controller-manager waited for the ranges: on the first control-plane node, which
    // gave them, and on the others, which waited for them.
    assert_boot_log_in_order(
        &cluster.lab.node_root(1),
        &[
            "holding /etc/kubernetes/manifests/kube-controller-manager.yaml back",
            "is ready",
            "Node objects carry their planned pod ranges",
            "installed /etc/kubernetes/manifests/kube-controller-manager.yaml",
            "addons in place",
        ],
    );
    for index in 2..=3 {
        assert_boot_log_in_order(
            &cluster.lab.node_root(index),
            &[
                "holding /etc/kubernetes/manifests/kube-controller-manager.yaml back",
                "every Node has its planned pod range",
                "installed /etc/kubernetes/manifests/kube-controller-manager.yaml",
            ],
        );
    }
}

/// A node's boot log shows `steps`, in this order.
fn assert_boot_log_in_order(node_root: &Path, steps: &[&str]) {
    let log = std::fs::read_to_string(node_root.join(BOOT_LOG.trim_start_matches('/')))
        .expect("boot log");
    let mut at = 0;
    for step in steps {
        let found = log[at..].find(step).unwrap_or_else(|| {
            panic!("`{step}` is not in the boot log after the steps before it:\n{log}")
        });
        at += found;
    }
}
