//! Node configuration tests: the behaviour each file must have (taints, addresses, proxy, secrets,
//! registry hosts, sysctls) as unit tests, and every file of a few fixture clusters as insta
//! snapshots (`snapshots/`), reviewed by reading them.

use super::*;
use crate::config::ClusterConfig;

const SINGLE_NODE: &str = include_str!("../../../examples/cluster.yaml");
const HIGH_AVAILABILITY: &str = include_str!("../../../examples/cluster-ha.yaml");
const DUAL_STACK: &str = include_str!("../../../tests/fixtures/clusters/dual-stack.yaml");
const REGISTRY_PROXY: &str = include_str!("../../../tests/fixtures/clusters/registry-proxy.yaml");

fn config(yaml: &str) -> ClusterConfig {
    ClusterConfig::from_yaml(yaml)
        .expect("test config validates")
        .config
}

/// The files of node `name` of the cluster described by `yaml`.
fn render_node(yaml: &str, name: &str) -> Vec<RenderedFile> {
    let config = config(yaml);
    let plan = NetworkPlan::new(&config);
    let node = config
        .nodes
        .iter()
        .find(|node| node.name == name)
        .expect("node exists");
    node_files(&config, &plan, node)
}

fn file<'a>(files: &'a [RenderedFile], path: &str) -> &'a RenderedFile {
    files
        .iter()
        .find(|file| file.path == path)
        .unwrap_or_else(|| panic!("{path} is rendered"))
}

fn paths(files: &[RenderedFile]) -> Vec<&str> {
    files.iter().map(|file| file.path.as_str()).collect()
}

/// The `--flag=` value on kubelet's command line, if the flag is there.
fn kubelet_flag(files: &[RenderedFile], flag: &str) -> Option<String> {
    let prefix = format!("--{flag}=");
    file(files, KUBELET_DROP_IN)
        .contents
        .lines()
        .map(|line| line.trim().trim_end_matches(" \\"))
        .find_map(|argument| argument.strip_prefix(&prefix).map(str::to_owned))
}

/// A cluster of one control-plane node and one worker, with `spec` lines added under `spec:`.
fn cluster_with(spec: &str) -> String {
    format!(
        "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: t}}\nspec:\n  kubernetesVersion: \"1.36\"\n  nodes:\n    - {{name: cp1, address: 192.0.2.11, roles: [control-plane, etcd]}}\n    - {{name: w1, address: 192.0.2.21, roles: [worker]}}\n{spec}"
    )
}

/// Every file one after another, as a reviewer reads them.
fn transcript(files: &[RenderedFile]) -> String {
    files
        .iter()
        .map(|file| {
            format!(
                "==> {} ({:04o}) <==\n{}",
                file.path, file.mode, file.contents
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn files_are_sorted_by_path_and_start_with_the_header() {
    for (yaml, node) in [
        (SINGLE_NODE, "cp1"),
        (REGISTRY_PROXY, "worker1"),
        (DUAL_STACK, "cp2"),
    ] {
        let files = render_node(yaml, node);
        let mut sorted = paths(&files);
        sorted.sort_unstable();
        assert_eq!(paths(&files), sorted);
        for file in &files {
            assert!(file.path.starts_with('/'), "{}", file.path);
            assert!(
                file.contents.starts_with(HEADER),
                "{} lacks the header",
                file.path
            );
            assert!(file.contents.ends_with('\n'), "{}", file.path);
        }
    }
}

#[test]
fn renders_the_base_files_without_registry_or_proxy() {
    assert_eq!(
        paths(&render_node(SINGLE_NODE, "worker1")),
        [
            CONTAINERD_CONFIG,
            MODULES_LOAD,
            SYSCTL,
            CONTAINERD_UNIT,
            KUBELET_UNIT,
            KUBELET_DROP_IN,
            KUBELET_CONFIG,
        ]
    );
}

#[test]
fn kubelet_config_has_what_kubeadm_enforces() {
    let files = render_node(SINGLE_NODE, "cp1");
    let kubelet: serde_json::Value =
        crate::yaml::from_yaml(&file(&files, KUBELET_CONFIG).contents).expect("kubelet YAML");
    assert_eq!(kubelet["apiVersion"], "kubelet.config.k8s.io/v1beta1");
    assert_eq!(kubelet["kind"], "KubeletConfiguration");
    assert_eq!(kubelet["staticPodPath"], "/etc/kubernetes/manifests");
    assert_eq!(kubelet["clusterDNS"], serde_json::json!(["10.96.0.10"]));
    assert_eq!(kubelet["clusterDomain"], "cluster.local");
    assert_eq!(
        kubelet["authentication"]["x509"]["clientCAFile"],
        "/etc/kubernetes/pki/ca.crt"
    );
    assert_eq!(kubelet["authentication"]["anonymous"]["enabled"], false);
    assert_eq!(kubelet["authentication"]["webhook"]["enabled"], true);
    assert_eq!(kubelet["authorization"]["mode"], "Webhook");
    assert_eq!(kubelet["healthzBindAddress"], "127.0.0.1");
    assert_eq!(kubelet["healthzPort"], 10248);
    assert_eq!(kubelet["readOnlyPort"], 0);
    assert_eq!(kubelet["rotateCertificates"], true);
    // kubelet's default (false), left out as kubeadm leaves it out.
    assert!(kubelet.get("serverTLSBootstrap").is_none());
    assert_eq!(kubelet["cgroupDriver"], "systemd");
    assert_eq!(
        kubelet["containerRuntimeEndpoint"],
        "unix:///run/containerd/containerd.sock"
    );
    assert_eq!(kubelet["maxPods"], 110);
    assert!(kubelet.get("resolvConf").is_none());
}

#[test]
fn kubelet_and_containerd_share_socket_and_cgroup_driver() {
    let yaml = cluster_with(
        "  networking: {maxPodsPerNode: 60}\n  containerRuntime: {socket: \"unix:///run/k8s/containerd.sock\", cgroupDriver: cgroupfs}\n",
    );
    let files = render_node(&yaml, "w1");
    let kubelet = &file(&files, KUBELET_CONFIG).contents;
    assert!(kubelet.contains("containerRuntimeEndpoint: unix:///run/k8s/containerd.sock\n"));
    assert!(kubelet.contains("cgroupDriver: cgroupfs\n"));
    assert!(kubelet.contains("maxPods: 60\n"));
    let containerd = &file(&files, CONTAINERD_CONFIG).contents;
    assert!(containerd.contains("[grpc]\naddress = '/run/k8s/containerd.sock'\n"));
    assert!(containerd.contains("SystemdCgroup = false\n"));

    let files = files_for_default();
    assert!(
        file(&files, CONTAINERD_CONFIG)
            .contents
            .contains("SystemdCgroup = true\n")
    );
}

fn files_for_default() -> Vec<RenderedFile> {
    render_node(SINGLE_NODE, "worker1")
}

#[test]
fn control_plane_only_node_gets_the_control_plane_taint() {
    let files = render_node(SINGLE_NODE, "cp1");
    assert_eq!(
        kubelet_flag(&files, "register-with-taints").as_deref(),
        Some("node-role.kubernetes.io/control-plane:NoSchedule")
    );
}

#[test]
fn workers_and_control_plane_workers_get_no_control_plane_taint() {
    assert_eq!(
        kubelet_flag(&render_node(SINGLE_NODE, "worker1"), "register-with-taints"),
        None
    );
    // Every dual-stack fixture node is control-plane and worker.
    assert_eq!(
        kubelet_flag(&render_node(DUAL_STACK, "cp1"), "register-with-taints"),
        None
    );
}

#[test]
fn node_taints_come_first_and_the_control_plane_taint_is_not_doubled() {
    let yaml = "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  nodes:\n    - name: cp1\n      address: 192.0.2.11\n      roles: [control-plane]\n      taints: [\"dedicated=infra:NoExecute\", \"gpu:PreferNoSchedule\"]\n    - name: cp2\n      address: 192.0.2.12\n      roles: [control-plane]\n      taints: [\"node-role.kubernetes.io/control-plane:NoSchedule\"]\n  controlPlaneEndpoint: 192.0.2.100\n";
    assert_eq!(
        kubelet_flag(&render_node(yaml, "cp1"), "register-with-taints").as_deref(),
        Some(
            "dedicated=infra:NoExecute,gpu:PreferNoSchedule,node-role.kubernetes.io/control-plane:NoSchedule"
        )
    );
    assert_eq!(
        kubelet_flag(&render_node(yaml, "cp2"), "register-with-taints").as_deref(),
        Some("node-role.kubernetes.io/control-plane:NoSchedule")
    );
}

#[test]
fn nodes_that_only_run_etcd_keep_workloads_off() {
    let yaml = "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  controlPlaneEndpoint: 192.0.2.100\n  nodes:\n    - {name: cp1, address: 192.0.2.11, roles: [control-plane]}\n    - {name: cp2, address: 192.0.2.12, roles: [control-plane]}\n    - {name: e1, address: 192.0.2.21, roles: [etcd]}\n    - {name: e2, address: 192.0.2.22, roles: [etcd]}\n    - {name: e3, address: 192.0.2.23, roles: [etcd, worker]}\n    - {name: w1, address: 192.0.2.31, roles: [worker]}\n";
    assert_eq!(
        kubelet_flag(&render_node(yaml, "e1"), "register-with-taints").as_deref(),
        Some("node-role.kubernetes.io/etcd:NoSchedule")
    );
    assert_eq!(
        kubelet_flag(&render_node(yaml, "e3"), "register-with-taints"),
        None,
        "an etcd member that also takes workloads is not tainted"
    );
    // The Node objects carry the taint and the role label (which a kubelet may not set).
    let config = config(yaml);
    let plan = crate::plan::NetworkPlan::new(&config);
    let nodes = super::super::addons::nodes(&config, &plan);
    let e1 = nodes
        .iter()
        .find(|node| node["metadata"]["name"] == "e1")
        .expect("e1");
    assert_eq!(
        e1["spec"]["taints"],
        serde_json::json!([{"key": "node-role.kubernetes.io/etcd", "effect": "NoSchedule"}])
    );
    assert_eq!(e1["metadata"]["labels"]["node-role.kubernetes.io/etcd"], "");
    let w1 = nodes
        .iter()
        .find(|node| node["metadata"]["name"] == "w1")
        .expect("w1");
    assert!(w1["spec"]["taints"].is_null());
}

#[test]
fn node_ip_lists_the_primary_family_first() {
    // cp2 is written "IPv6,IPv4" in the fixture; the cluster's primary family is IPv4.
    let files = render_node(DUAL_STACK, "cp2");
    assert_eq!(
        kubelet_flag(&files, "node-ip").as_deref(),
        Some("192.0.2.12,2001:db8::12")
    );
    assert_eq!(
        kubelet_flag(&files, "hostname-override").as_deref(),
        Some("cp2")
    );
}

#[test]
fn kubelet_uses_the_issued_kubeconfig_without_bootstrap() {
    let files = render_node(SINGLE_NODE, "worker1");
    let drop_in = &file(&files, KUBELET_DROP_IN).contents;
    assert!(drop_in.contains("--kubeconfig=/etc/kubernetes/kubelet.conf"));
    assert!(drop_in.contains("--config=/var/lib/kubelet/config.yaml"));
    assert!(!drop_in.contains("bootstrap"));
    assert!(drop_in.contains("ExecStart=\nExecStart=kubelet \\\n"));
}

#[test]
fn a_joining_workers_drop_in_is_a_workers_with_the_bootstrap_kubeconfig_first() {
    let worker = file(&render_node(SINGLE_NODE, "worker1"), KUBELET_DROP_IN).clone();
    let joining = join_kubelet_drop_in("worker1", "192.0.2.21");
    assert_eq!(joining.path, worker.path);
    assert_eq!(joining.mode, worker.mode);
    assert_eq!(
        joining.contents,
        worker.contents.replace(
            "ExecStart=kubelet \\\n",
            "ExecStart=kubelet \\\n    --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \\\n"
        )
    );
}

#[test]
fn a_joining_worker_shares_every_file_but_the_drop_in() {
    let config = config(REGISTRY_PROXY);
    let plan = NetworkPlan::new(&config);
    let mut worker = render_node(REGISTRY_PROXY, "worker1");
    worker.retain(|file| file.path != KUBELET_DROP_IN);
    assert_eq!(shared_files(&config, &plan), worker);
}

#[test]
fn only_labels_kubelet_may_set_are_passed() {
    let files = render_node(REGISTRY_PROXY, "worker1");
    assert_eq!(
        kubelet_flag(&files, "node-labels").as_deref(),
        Some("disk=ssd")
    );
    assert!(kubelet_may_set_label("disk"));
    assert!(kubelet_may_set_label("example.com/team"));
    assert!(kubelet_may_set_label("notkubernetes.io/x"));
    assert!(!kubelet_may_set_label("kubernetes.io/role"));
    assert!(!kubelet_may_set_label("topology.kubernetes.io/zone"));
    assert!(!kubelet_may_set_label("node-role.kubernetes.io/worker"));
    assert!(!kubelet_may_set_label("k8s.io/x"));
    assert!(!kubelet_may_set_label("beta.k8s.io/x"));
    // A node without labels gets no flag at all.
    assert_eq!(kubelet_flag(&files_for_default(), "node-labels"), None);
}

#[test]
fn kubelet_unit_restarts_forever_after_the_network_and_containerd() {
    let files = files_for_default();
    let unit = &file(&files, KUBELET_UNIT).contents;
    for line in [
        "Wants=network-online.target",
        "After=network-online.target containerd.service",
        "ExecStart=kubelet",
        "Restart=always",
        "StartLimitInterval=0",
        "RestartSec=10",
        "WantedBy=multi-user.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
}

#[test]
fn sandbox_image_comes_from_the_image_repository_with_the_release_pause_tag() {
    let files = render_node(REGISTRY_PROXY, "cp1");
    assert!(
        file(&files, CONTAINERD_CONFIG)
            .contents
            .contains("sandbox = 'registry.example.com/k8s/pause:3.10.2'\n")
    );
    let files = files_for_default();
    let containerd = &file(&files, CONTAINERD_CONFIG).contents;
    assert!(containerd.starts_with(&format!("{HEADER}version = 3\n")));
    assert!(containerd.contains("sandbox = 'registry.k8s.io/pause:3.10.2'\n"));
    assert!(containerd.contains("config_path = '/etc/containerd/certs.d'\n"));
    assert_eq!(file(&files, CONTAINERD_CONFIG).mode, MODE_PUBLIC);
}

#[test]
fn credentials_are_only_in_the_0600_containerd_config() {
    let files = render_node(REGISTRY_PROXY, "worker1");
    let holding: Vec<&RenderedFile> = files
        .iter()
        .filter(|file| file.contents.contains("example-password"))
        .collect();
    assert_eq!(holding.len(), 1);
    assert_eq!(holding[0].path, CONTAINERD_CONFIG);
    assert_eq!(holding[0].mode, MODE_SECRET);
    assert!(holding[0].contents.contains(
        "[plugins.'io.containerd.cri.v1.images'.registry.configs.'registry.example.com'.auth]\nusername = 'puller'\npassword = 'example-password'\n"
    ));
}

#[test]
fn docker_hub_credentials_are_keyed_by_the_host_containerd_contacts() {
    let yaml = cluster_with(
        "  registry:\n    credentials:\n      - {registry: docker.io, username: me, password: \"it's \\\"secret\\\"\"}\n      - {registry: docker.io, username: other, password: ignored}\n",
    );
    let files = render_node(&yaml, "w1");
    let containerd = &file(&files, CONTAINERD_CONFIG).contents;
    assert!(containerd.contains(
        "registry.configs.'registry-1.docker.io'.auth]\nusername = 'me'\npassword = \"it's \\\"secret\\\"\"\n"
    ));
    // A second table for the same host would make the file invalid TOML.
    assert_eq!(containerd.matches(".auth]").count(), 1);
}

#[test]
fn one_hosts_toml_per_mirrored_registry() {
    let files = render_node(REGISTRY_PROXY, "cp1");
    let hosts = file(&files, "/etc/containerd/certs.d/docker.io/hosts.toml");
    assert_eq!(hosts.mode, MODE_PUBLIC);
    assert_eq!(
        hosts.contents,
        format!(
            "{HEADER}server = \"https://registry-1.docker.io\"\n\n[host.\"https://mirror.example.com\"]\ncapabilities = [\"pull\", \"resolve\"]\n\n[host.\"https://mirror2.example.com:5000\"]\ncapabilities = [\"pull\", \"resolve\"]\n"
        )
    );

    let yaml = cluster_with(
        "  registry:\n    mirrors:\n      - {registry: quay.io, endpoints: [\"https://a.example.com\"]}\n      - {registry: \"registry.example.com:5000\", endpoints: [\"http://b.example.com\"]}\n      - {registry: quay.io, endpoints: [\"https://c.example.com\", \"https://a.example.com\"]}\n",
    );
    let files = render_node(&yaml, "w1");
    let hosts: Vec<&RenderedFile> = files
        .iter()
        .filter(|file| file.path.ends_with("/hosts.toml"))
        .collect();
    assert_eq!(
        hosts
            .iter()
            .map(|file| file.path.as_str())
            .collect::<Vec<_>>(),
        [
            "/etc/containerd/certs.d/quay.io/hosts.toml",
            "/etc/containerd/certs.d/registry.example.com:5000/hosts.toml",
        ]
    );
    assert!(hosts[0].contents.contains("server = \"https://quay.io\"\n"));
    assert_eq!(hosts[0].contents.matches("[host.").count(), 2);
    let a = hosts[0].contents.find("a.example.com").expect("a");
    let c = hosts[0].contents.find("c.example.com").expect("c");
    assert!(a < c, "mirrors keep their config order");
    assert!(
        hosts[1]
            .contents
            .contains("server = \"https://registry.example.com:5000\"\n")
    );
}

#[test]
fn no_proxy_files_without_a_proxy() {
    for (yaml, node) in [(SINGLE_NODE, "cp1"), (HIGH_AVAILABILITY, "worker2")] {
        assert!(render_node(yaml, node).iter().all(
            |file| !file.path.ends_with("http-proxy.conf") && !file.contents.contains("PROXY")
        ));
    }
}

#[test]
fn proxy_drop_ins_carry_the_plans_no_proxy() {
    let config = config(REGISTRY_PROXY);
    let plan = NetworkPlan::new(&config);
    let files = node_files(&config, &plan, &config.nodes[0]);
    let no_proxy = plan.no_proxy_value();
    assert!(no_proxy.contains("10.96.0.0/12") && no_proxy.contains(".example.com"));
    for path in [CONTAINERD_PROXY_DROP_IN, KUBELET_PROXY_DROP_IN] {
        let drop_in = file(&files, path);
        assert_eq!(drop_in.mode, MODE_PUBLIC);
        let lines: Vec<&str> = drop_in.contents.lines().collect();
        assert_eq!(lines[1], "[Service]");
        for name in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"] {
            assert!(
                lines.contains(
                    &format!("Environment=\"{name}=http://proxy.example.com:3128\"").as_str()
                ),
                "{path}: {name}"
            );
        }
        for name in ["NO_PROXY", "no_proxy"] {
            assert!(lines.contains(&format!("Environment=\"{name}={no_proxy}\"").as_str()));
        }
    }
    // Never system-wide.
    assert!(
        files
            .iter()
            .all(|file| !file.path.starts_with("/etc/environment")
                && !file.path.starts_with("/etc/profile"))
    );
}

#[test]
fn proxy_with_a_password_is_written_0600_and_escaped() {
    let yaml = cluster_with("  proxy: {https: \"http://me:p%40ss@proxy.example.com:3128\"}\n");
    let files = render_node(&yaml, "w1");
    for path in [CONTAINERD_PROXY_DROP_IN, KUBELET_PROXY_DROP_IN] {
        let drop_in = file(&files, path);
        assert_eq!(drop_in.mode, MODE_SECRET);
        // `%` is a systemd specifier, so it is doubled; no HTTP_PROXY when only https is set.
        assert!(
            drop_in
                .contents
                .contains("Environment=\"HTTPS_PROXY=http://me:p%%40ss@proxy.example.com:3128\"\n")
        );
        assert!(!drop_in.contents.contains("HTTP_PROXY="));
    }
    assert!(has_userinfo("http://user@proxy.example.com"));
    assert!(!has_userinfo("http://proxy.example.com/@path"));
    assert!(!has_userinfo("http://proxy.example.com:3128"));
}

#[test]
fn sysctl_forwards_ipv6_only_with_ipv6() {
    let ipv4_files = files_for_default();
    let ipv4 = &file(&ipv4_files, SYSCTL).contents;
    assert!(ipv4.contains("net.ipv4.ip_forward = 1\n"));
    assert!(ipv4.contains("net.bridge.bridge-nf-call-iptables = 1\n"));
    assert!(ipv4.contains("net.bridge.bridge-nf-call-ip6tables = 1\n"));
    assert!(!ipv4.contains("net.ipv6.conf.all.forwarding"));
    let dual_files = render_node(DUAL_STACK, "cp1");
    let dual = &file(&dual_files, SYSCTL).contents;
    assert!(dual.contains("net.ipv6.conf.all.forwarding = 1\n"));
    let modules = &file(&ipv4_files, MODULES_LOAD).contents;
    assert_eq!(modules, &format!("{HEADER}overlay\nbr_netfilter\n"));
}

#[test]
fn systemd_arguments_are_quoted_and_escaped() {
    assert_eq!(
        exec_argument("--node-ip=192.0.2.1,2001:db8::1"),
        "--node-ip=192.0.2.1,2001:db8::1"
    );
    assert_eq!(exec_argument("--x=50%"), "--x=50%%");
    assert_eq!(exec_argument("--x=$HOME"), "--x=$$HOME");
    assert_eq!(exec_argument("--x=a b"), "\"--x=a b\"");
    assert_eq!(exec_argument("--x=\"q\"\\"), "\"--x=\\\"q\\\"\\\\\"");
    assert_eq!(exec_argument(""), "\"\"");
    assert_eq!(
        environment_assignment("HTTP_PROXY", "http://a%20b$c\"d"),
        "\"HTTP_PROXY=http://a%%20b$c\\\"d\""
    );
}

#[test]
fn toml_strings_are_literal_when_possible_and_escaped_otherwise() {
    assert_eq!(
        toml_string("registry.k8s.io/pause:3.10.2"),
        "'registry.k8s.io/pause:3.10.2'"
    );
    assert_eq!(toml_string("a\\b\"c"), "'a\\b\"c'");
    assert_eq!(toml_string("it's"), "\"it's\"");
    assert_eq!(toml_string("x\ny"), "\"x\\ny\"");
    assert_eq!(toml_basic_string("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"");
}

fn snapshot(name: &str, yaml: &str, node: &str) {
    insta::assert_snapshot!(name, transcript(&render_node(yaml, node)));
}

#[test]
fn snapshot_single_node_cluster() {
    snapshot("single-node-cp1", SINGLE_NODE, "cp1");
    snapshot("single-node-worker1", SINGLE_NODE, "worker1");
}

#[test]
fn snapshot_high_availability_cluster() {
    snapshot("ha-cp2", HIGH_AVAILABILITY, "cp2");
    snapshot("ha-worker1", HIGH_AVAILABILITY, "worker1");
}

#[test]
fn snapshot_dual_stack_cluster() {
    snapshot("dual-stack-cp2", DUAL_STACK, "cp2");
}

#[test]
fn snapshot_registry_and_proxy_cluster() {
    snapshot("registry-proxy-cp1", REGISTRY_PROXY, "cp1");
    snapshot("registry-proxy-worker1", REGISTRY_PROXY, "worker1");
}
