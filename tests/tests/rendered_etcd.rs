//! The etcd static pods kbundle renders, run for real: each member's command line is taken from
//! its rendered `etcd.yaml` and run with the etcd that Kubernetes 1.37 pins (v3.7.0, built from
//! the Go module proxy by scripts/build-kubernetes.sh) on its own test host with the generated
//! certificates. The three members form a healthy cluster. Paths are moved under the test's
//! scratch root; every flag runs verbatim.

use std::net::IpAddr;
use std::time::Duration;

use kbundle_core::plan::NetworkPlan;
use kbundle_core::render::render;
use kbundle_tests::kubernetes::Binaries;
use kbundle_tests::netns::TestNetwork;
use kbundle_tests::pki_files::{self, SEED, node_path};
use kbundle_tests::programs;

const CLUSTER: &str = r#"
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata: {name: rendered-etcd}
spec:
  controlPlaneEndpoint: "198.51.100.100:6443"
  nodes:
    - {name: cp1, address: 198.51.100.31, roles: [control-plane, etcd]}
    - {name: cp2, address: 198.51.100.32, roles: [control-plane, etcd]}
    - {name: cp3, address: 198.51.100.33, roles: [control-plane, etcd]}
"#;

#[derive(serde::Deserialize)]
struct Pod {
    spec: PodSpec,
}

#[derive(serde::Deserialize)]
struct PodSpec {
    containers: Vec<Container>,
}

#[derive(serde::Deserialize)]
struct Container {
    command: Vec<String>,
}

#[test]
fn rendered_etcd_command_lines_form_a_healthy_cluster() {
    let binaries = Binaries::locate();
    let etcd = binaries.etcd.join("etcd");
    let etcdctl = binaries.etcd.join("etcdctl");
    let config = pki_files::cluster(CLUSTER);
    let pki = pki_files::issue(&config, SEED);
    let plan = NetworkPlan::new(&config);
    let rendered = render(&config, &plan, &pki, pki_files::now());
    let hosts: Vec<(&str, Vec<IpAddr>)> = config
        .nodes
        .iter()
        .map(|node| (node.name.as_str(), node.addresses.clone()))
        .collect();
    let mut network = TestNetwork::new("rendered-etcd", &hosts);
    let scratch = tempfile::tempdir().expect("temp dir");
    let root = scratch.path();
    pki_files::write_node_files(root, &pki, &config);

    let mut logs = Vec::new();
    for node in &rendered.nodes {
        let manifest = node
            .files
            .iter()
            .find(|file| file.path == "/etc/kubernetes/manifests/etcd.yaml")
            .unwrap_or_else(|| panic!("{} has no etcd.yaml", node.node));
        let pod: Pod = serde_yaml::from_str(&manifest.contents).expect("etcd.yaml parses");
        let mut command = pod.spec.containers[0].command.clone();
        assert_eq!(command[0], "etcd");
        let arguments: Vec<String> = command
            .drain(1..)
            .map(|argument| match argument.split_once('=') {
                Some((flag, path)) if path.starts_with('/') => {
                    format!("{flag}={}", node_path(root, &node.node, path).display())
                }
                _ => argument,
            })
            .collect();
        let log = root.join(format!("etcd-{}.log", node.node));
        let mut process = network.command(&node.node, &etcd);
        process.args(&arguments);
        network.spawn(&node.node, process, &log);
        logs.push((node.node.clone(), log));
    }
    for (name, log) in &logs {
        network.wait_for_log(
            name,
            log,
            "ready to serve client requests",
            Duration::from_secs(30),
        );
    }

    let file = |name: &str| node_path(root, "cp1", &format!("/etc/kubernetes/pki/{name}"));
    let endpoints: Vec<String> = config
        .nodes
        .iter()
        .map(|node| format!("https://{}:2379", node.primary_address()))
        .collect();
    let mut health = network.command("cp1", &etcdctl);
    health
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .arg(format!("--cacert={}", file("etcd/ca.crt").display()))
        .arg(format!(
            "--cert={}",
            file("etcd/healthcheck-client.crt").display()
        ))
        .arg(format!(
            "--key={}",
            file("etcd/healthcheck-client.key").display()
        ))
        .args(["--dial-timeout=5s", "endpoint", "health", "--cluster"]);
    let finished = programs::run(health, Duration::from_secs(20));
    let output = finished.expect_success().to_owned();
    let combined = format!("{output}{}", finished.output());
    for endpoint in &endpoints {
        assert!(
            combined.contains(&format!("{endpoint} is healthy")),
            "{endpoint} unhealthy:\n{combined}"
        );
    }
    // The local listener the API server uses (`--etcd-servers=https://127.0.0.1:2379`).
    let mut local = network.command("cp2", &etcdctl);
    let file2 = |name: &str| node_path(root, "cp2", &format!("/etc/kubernetes/pki/{name}"));
    local
        .env("ETCDCTL_API", "3")
        .arg("--endpoints=https://127.0.0.1:2379")
        .arg(format!("--cacert={}", file2("etcd/ca.crt").display()))
        .arg(format!(
            "--cert={}",
            file2("apiserver-etcd-client.crt").display()
        ))
        .arg(format!(
            "--key={}",
            file2("apiserver-etcd-client.key").display()
        ))
        .args(["--dial-timeout=5s", "put", "/kbundle/rendered", "yes"]);
    programs::run(local, Duration::from_secs(20)).expect_success();
}
