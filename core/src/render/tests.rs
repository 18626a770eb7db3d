//! Rendering tests: what the static pods and addons say for fixture clusters, flag parity with
//! kubeadm, and snapshots of every rendered manifest.

use super::*;
use crate::config::{ClusterConfig, ExampleKind, example_yaml};
use crate::pki::PkiInputs;

const ISSUED_AT: i64 = 1_790_000_000;

pub(crate) fn fixture(yaml: &str) -> (ClusterConfig, NetworkPlan, Pki) {
    let config = ClusterConfig::from_yaml(yaml)
        .expect("fixture validates")
        .config;
    let plan = NetworkPlan::new(&config);
    let pki = Pki::issue(
        &config,
        &PkiInputs {
            seed: [3; 32],
            issued_at: ISSUED_AT,
            existing_cas: Vec::new(),
        },
    )
    .expect("PKI");
    (config, plan, pki)
}

fn file<'a>(rendered: &'a Rendered, node: &str, path: &str) -> &'a RenderedFile {
    rendered
        .nodes
        .iter()
        .find(|n| n.node == node)
        .and_then(|n| n.files.iter().find(|f| f.path == path))
        .unwrap_or_else(|| panic!("{node} has no {path}"))
}

fn has_file(rendered: &Rendered, node: &str, path: &str) -> bool {
    rendered
        .nodes
        .iter()
        .any(|n| n.node == node && n.files.iter().any(|f| f.path == path))
}

#[test]
fn control_plane_nodes_get_the_four_static_pods_and_workers_none() {
    let (config, plan, pki) = fixture(&example_yaml(ExampleKind::Basic));
    let rendered = render(&config, &plan, &pki, ISSUED_AT);
    for pod in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        let path = format!("/etc/kubernetes/manifests/{pod}.yaml");
        assert_eq!(file(&rendered, "cp1", &path).mode, 0o600);
        assert!(!has_file(&rendered, "worker1", &path));
    }
    assert!(!has_file(
        &rendered,
        "cp1",
        "/etc/kubernetes/manifests/kube-vip.yaml"
    ));
}

#[test]
fn etcd_members_list_every_member_and_use_their_certificates() {
    let (config, plan, pki) = fixture(&example_yaml(ExampleKind::HighAvailability));
    let rendered = render(&config, &plan, &pki, ISSUED_AT);
    let etcd = &file(&rendered, "cp2", "/etc/kubernetes/manifests/etcd.yaml").contents;
    assert!(etcd.contains("--initial-cluster=cp1=https://192.0.2.11:2380,cp2=https://192.0.2.12:2380,cp3=https://192.0.2.13:2380"));
    assert!(etcd.contains("--listen-client-urls=https://127.0.0.1:2379,https://192.0.2.12:2379"));
    assert!(etcd.contains("--name=cp2"));
    assert!(etcd.contains("image: registry.k8s.io/etcd:3.7.0-0"));
    let apiserver = &file(
        &rendered,
        "cp2",
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
    )
    .contents;
    assert!(apiserver.contains("--advertise-address=192.0.2.12"));
    assert!(apiserver.contains("--etcd-servers=https://127.0.0.1:2379"));
    assert!(apiserver.contains("host: 192.0.2.12"));
    assert!(apiserver.contains("image: registry.k8s.io/kube-apiserver:v1.37.1"));
}

#[test]
fn ha_with_a_vip_runs_kube_vip_on_every_control_plane_node() {
    let (config, plan, pki) = fixture(&example_yaml(ExampleKind::HighAvailability));
    let rendered = render(&config, &plan, &pki, ISSUED_AT);
    let first = &file(&rendered, "cp1", "/etc/kubernetes/manifests/kube-vip.yaml").contents;
    assert!(first.contains("192.0.2.100"));
    // Every node's manifest mounts admin.conf and names the placeholder install.sh fills in
    // with the interface of the node's address; install.sh starts the first node's kube-vip
    // with super-admin.conf (bundle::install).
    assert!(first.contains("path: /etc/kubernetes/admin.conf"));
    assert!(first.contains("value: '@NODE_INTERFACE@'"), "{first}");
    let second = &file(&rendered, "cp2", "/etc/kubernetes/manifests/kube-vip.yaml").contents;
    assert!(second.contains("path: /etc/kubernetes/admin.conf"));
    assert!(!has_file(
        &rendered,
        "worker1",
        "/etc/kubernetes/manifests/kube-vip.yaml"
    ));
}

#[test]
fn dual_stack_passes_both_ranges_and_per_family_masks() {
    let (config, plan, pki) = fixture(include_str!(
        "../../../tests/fixtures/clusters/dual-stack.yaml"
    ));
    let rendered = render(&config, &plan, &pki, ISSUED_AT);
    let kcm = &file(
        &rendered,
        "cp1",
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
    )
    .contents;
    assert!(kcm.contains("--cluster-cidr=10.244.0.0/16,fd00:10:244::/56"));
    assert!(kcm.contains("--node-cidr-mask-size-ipv4=24"));
    assert!(kcm.contains("--node-cidr-mask-size-ipv6=64"));
    assert!(kcm.contains("--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112"));
}

#[test]
fn node_objects_carry_the_planned_pod_ranges() {
    let (config, plan, pki) = fixture(include_str!(
        "../../../tests/fixtures/clusters/dual-stack.yaml"
    ));
    let rendered = render(&config, &plan, &pki, ISSUED_AT);
    let nodes = &rendered.addons[0];
    assert_eq!(nodes.name, "00-nodes.yaml");
    for node in &plan.nodes {
        for cidr in &node.pod_cidrs {
            assert!(
                nodes.contents.contains(&format!("- {cidr}")),
                "{} lacks {cidr}",
                node.name
            );
        }
    }
    let objects = addons::nodes(&config, &plan);
    assert_eq!(
        objects[2]["spec"]["podCIDRs"],
        serde_json::json!(["10.244.193.0/24", "fd00:10:244:c1::/64"])
    );
    assert_eq!(objects[2]["spec"]["podCIDR"], "10.244.193.0/24");
}

#[test]
fn control_plane_only_nodes_are_tainted_and_labelled() {
    let (config, plan, _) = fixture(&example_yaml(ExampleKind::Basic));
    let objects = addons::nodes(&config, &plan);
    assert_eq!(
        objects[0]["spec"]["taints"][0]["key"],
        "node-role.kubernetes.io/control-plane"
    );
    assert_eq!(
        objects[0]["metadata"]["labels"]["node-role.kubernetes.io/control-plane"],
        ""
    );
    assert!(objects[1]["spec"].get("taints").is_none());
}

#[test]
fn coredns_service_sits_at_the_planned_dns_ip_and_kube_proxy_uses_the_endpoint() {
    let (config, plan, pki) = fixture(&example_yaml(ExampleKind::HighAvailability));
    let rendered = render(&config, &plan, &pki, ISSUED_AT);
    let coredns = rendered
        .addons
        .iter()
        .find(|a| a.name == "40-coredns.yaml")
        .unwrap();
    assert!(coredns.contents.contains("clusterIP: 10.96.0.10"));
    let kube_proxy = rendered
        .addons
        .iter()
        .find(|a| a.name == "30-kube-proxy.yaml")
        .unwrap();
    assert!(
        kube_proxy
            .contents
            .contains("server: https://192.0.2.100:6443")
    );
    assert!(kube_proxy.contents.contains("clusterCIDR: 10.244.0.0/16"));
    let bootstrap = rendered
        .addons
        .iter()
        .find(|a| a.name == "20-bootstrap.yaml")
        .unwrap();
    assert!(bootstrap.is_secret);
    let encoded = |text: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(text)
    };
    assert!(
        bootstrap
            .contents
            .contains(&encoded(&pki.bootstrap_token.secret))
    );
    assert!(
        bootstrap
            .contents
            // The issue time plus bootstrapTokenTTL's 24 hours, not the certificates' year.
            .contains(&encoded("2026-09-22T14:13:20Z"))
    );
}

#[test]
fn private_registry_images_and_pull_secret() {
    let yaml = example_yaml(ExampleKind::Basic).replace(
        "  certificates:\n",
        "  registry:\n    imageRepository: registry.example.com/k8s\n    credentials: [{registry: registry.example.com, username: puller, password: hunter2}]\n  certificates:\n",
    );
    let (config, plan, pki) = fixture(&yaml);
    let rendered = render(&config, &plan, &pki, ISSUED_AT);
    let apiserver = &file(
        &rendered,
        "cp1",
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
    )
    .contents;
    assert!(apiserver.contains("image: registry.example.com/k8s/kube-apiserver:v1.37.1"));
    let coredns = rendered
        .addons
        .iter()
        .find(|a| a.name == "40-coredns.yaml")
        .unwrap();
    assert!(
        coredns
            .contents
            .contains("image: registry.example.com/k8s/coredns:v1.14.6")
    );
    let secret = rendered
        .addons
        .iter()
        .find(|a| a.name == "60-registry-credentials.yaml")
        .unwrap();
    assert!(secret.is_secret);
    assert!(secret.contents.contains("namespace: default"));
    assert!(
        secret
            .contents
            .contains("type: kubernetes.io/dockerconfigjson")
    );
}

#[test]
fn version_specific_details_follow_kubeadm() {
    let mut yaml = example_yaml(ExampleKind::Basic);
    yaml = yaml.replace("kubernetesVersion: \"1.37\"", "kubernetesVersion: \"1.35\"");
    let (config, plan, pki) = fixture(&yaml);
    let rendered = render(&config, &plan, &pki, ISSUED_AT);
    let kcm = &file(
        &rendered,
        "cp1",
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
    )
    .contents;
    assert!(
        kcm.contains("flexvolume-dir"),
        "1.35 still mounts the flexvolume dir"
    );
    let rbac = rendered
        .addons
        .iter()
        .find(|a| a.name == "10-rbac.yaml")
        .unwrap();
    assert!(!rbac.contents.contains("kubeadm:apiserver-kubelet-client"));
    let (config, plan, pki) = fixture(&example_yaml(ExampleKind::Basic));
    let rendered = render(&config, &plan, &pki, ISSUED_AT);
    let kcm = &file(
        &rendered,
        "cp1",
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
    )
    .contents;
    assert!(!kcm.contains("flexvolume-dir"));
    let rbac = rendered
        .addons
        .iter()
        .find(|a| a.name == "10-rbac.yaml")
        .unwrap();
    assert!(rbac.contents.contains("kubeadm:apiserver-kubelet-client"));
}

#[test]
fn rendering_is_deterministic() {
    let (config, plan, pki) = fixture(&example_yaml(ExampleKind::HighAvailability));
    assert_eq!(
        render(&config, &plan, &pki, ISSUED_AT),
        render(&config, &plan, &pki, ISSUED_AT)
    );
}

/// Replaces long base64 runs (embedded certificates, keys, tokens) so that snapshots show the
/// shape of what is rendered, not key material.
fn redact_blobs(text: &str) -> String {
    text.lines()
        .map(|line| {
            let value = line
                .rsplit_once(": ")
                .map_or(line.trim_start_matches("- "), |(_, v)| v);
            let is_token = line.contains("token-secret:") || line.contains("token-id:");
            let is_blob = is_token
                || value.len() >= 40
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
            if is_blob {
                line.replace(value, "<base64>")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn snapshots_of_static_pods_and_addons() {
    let fixtures = [
        ("single", example_yaml(ExampleKind::Basic)),
        ("ha", example_yaml(ExampleKind::HighAvailability)),
        (
            "dual-stack",
            include_str!("../../../tests/fixtures/clusters/dual-stack.yaml").to_owned(),
        ),
        (
            "registry-proxy",
            include_str!("../../../tests/fixtures/clusters/registry-proxy.yaml").to_owned(),
        ),
    ];
    for (label, yaml) in fixtures {
        let (config, plan, pki) = fixture(&yaml);
        let rendered = render(&config, &plan, &pki, ISSUED_AT);
        let first_control_plane = &config
            .control_plane_nodes()
            .next()
            .expect("a control plane")
            .name;
        let node = rendered
            .nodes
            .iter()
            .find(|n| &n.node == first_control_plane)
            .expect("node");
        for file in node
            .files
            .iter()
            .filter(|f| f.path.starts_with("/etc/kubernetes/manifests/"))
        {
            let name = file.path.rsplit('/').next().unwrap_or_default();
            insta::assert_snapshot!(format!("{label}-{}-{name}", node.node), file.contents);
        }
        for addon in &rendered.addons {
            let shown =
                redact_blobs(&addon.contents).replace(&pki.bootstrap_token.id, "<token-id>");
            insta::assert_snapshot!(format!("{label}-addons-{}", addon.name), shown);
        }
    }
}

#[test]
fn the_bootstrap_token_expires_after_its_ttl_not_with_the_certificates() {
    // See: issue #14, item 6: an old bundle must not mint node certificates for a year.
    let yaml =
        example_yaml(ExampleKind::Basic).replace("bootstrapTokenTTL: 24h", "bootstrapTokenTTL: 2h");
    let config = ClusterConfig::from_yaml(&yaml).unwrap().config;
    assert_eq!(config.certificates.bootstrap_token_ttl_hours, 2);
    let issued_at = 1_790_000_000;
    assert_eq!(
        crate::render::addons::bootstrap_token_expires_at(&config, issued_at),
        issued_at + 2 * 3600
    );
    assert_eq!(
        crate::render::addons::bootstrap_token_expiration(&config, issued_at),
        "2026-09-21T16:13:20Z"
    );
}
