//! Validation tests: every kind of bad input gets an error naming its field, all errors are
//! collected, and defaults fill what is left out.

use super::*;
use crate::config::example::ExampleKind;

const MINIMAL: &str = "\
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata:
  name: demo
spec:
  nodes:
    - name: cp1
      address: 192.0.2.11
      roles: [control-plane, worker]
";

/// The errors for `yaml`, as `path: message` lines.
fn errors(yaml: &str) -> Vec<String> {
    match ClusterConfig::from_yaml(yaml) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.errors().map(ToString::to_string).collect(),
    }
}

fn warnings(yaml: &str) -> Vec<String> {
    match ClusterConfig::from_yaml(yaml) {
        Ok(validated) => validated.warnings.iter().map(ToString::to_string).collect(),
        Err(diagnostics) => diagnostics.warnings().map(ToString::to_string).collect(),
    }
}

fn assert_error(yaml: &str, expected: &str) {
    let errors = errors(yaml);
    assert!(
        errors.iter().any(|error| error.contains(expected)),
        "expected an error containing {expected:?}, got {errors:#?}"
    );
}

fn with_networking(networking: &str) -> String {
    format!("{MINIMAL}  networking: {networking}\n")
}

#[test]
fn minimal_config_gets_kubeadm_defaults() {
    let config = ClusterConfig::from_yaml(MINIMAL).expect("valid").config;
    assert_eq!(config.kubernetes_version.to_string(), "v1.37.1");
    let primary = config.networking.primary();
    assert_eq!(primary.pod_subnet.to_string(), "10.244.0.0/16");
    assert_eq!(primary.service_subnet.to_string(), "10.96.0.0/12");
    assert_eq!(primary.node_mask, 24);
    assert_eq!(config.networking.dns_domain, "cluster.local");
    assert_eq!(config.networking.dns_service_ip.to_string(), "10.96.0.10");
    assert_eq!(config.networking.max_pods_per_node, 110);
    assert_eq!(config.networking.cni, Cni::Flannel);
    assert_eq!(config.networking.kube_proxy_mode, KubeProxyMode::Iptables);
    assert_eq!(
        config.container_runtime.socket,
        "/run/containerd/containerd.sock"
    );
    assert_eq!(
        config.container_runtime.cgroup_driver,
        CgroupDriver::Systemd
    );
    assert_eq!(config.registry.image_repository, "registry.k8s.io");
    assert_eq!(config.certificates.key_algorithm, KeyAlgorithm::EcdsaP256);
    assert_eq!(config.certificates.validity_hours, 8760);
    assert_eq!(config.certificates.ca_validity_hours, 87600);
    // kubeadm's token lifetime, not the certificates': an old bundle cannot add nodes (#14).
    assert_eq!(config.certificates.bootstrap_token_ttl_hours, 24);
    assert_eq!(config.high_availability, HighAvailability::SingleNode);
    let node = &config.nodes[0];
    assert_eq!(node.ssh.user, "root");
    assert_eq!(node.ssh.port, 22);
    // Stacked etcd on the control-plane node, as kubeadm does.
    assert!(node.roles.etcd);
}

#[test]
fn node_ssh_overrides_merge_with_defaults() {
    let yaml = MINIMAL.replace(
        "spec:\n",
        "spec:\n  ssh: {user: ubuntu, port: 2222, identityFile: ~/.ssh/id_ed25519, jumpHosts: [bastion]}\n",
    ) + "      ssh: {user: admin}\n";
    let config = ClusterConfig::from_yaml(&yaml).expect("valid").config;
    let ssh = &config.nodes[0].ssh;
    assert_eq!(ssh.user, "admin");
    assert_eq!(ssh.port, 2222);
    assert_eq!(ssh.identity_file.as_deref(), Some("~/.ssh/id_ed25519"));
    assert_eq!(ssh.jump_hosts, ["bastion"]);
}

#[test]
fn reports_malformed_yaml_with_line_and_column() {
    let diagnostics = ClusterConfig::from_yaml("spec:\n  nodes: [\n").expect_err("malformed");
    let error = &diagnostics.0[0];
    assert!(error.location.is_some(), "{error:?}");
    assert!(error.to_string().starts_with("line "), "{error}");
}

#[test]
fn reports_unknown_fields_with_their_path() {
    let yaml = MINIMAL.replace("      address:", "      adress: x\n      address:");
    let diagnostics = ClusterConfig::from_yaml(&yaml).expect_err("unknown field");
    let error = &diagnostics.0[0];
    assert_eq!(error.path, "spec.nodes[0].adress");
    assert!(error.message.contains("unknown field `adress`"), "{error}");
    assert_eq!(error.location.map(|l| l.line), Some(8));
}

// 100,000 nested `[` (200 KB) kept the YAML scanner busy for minutes, its cost growing with the
// square of the depth (found by fuzzing, issue #17): refused before it is parsed, wherever the
// closing brackets hide.
#[test]
fn refuses_flow_nesting_deeper_than_a_config_needs_before_parsing_it() {
    for deep in [
        format!(
            "{MINIMAL}  networking: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
        format!("{MINIMAL}  networking: {}\n", "{a: ".repeat(100_000)),
        format!("{MINIMAL}  networking: {}\n", "[ ']' ".repeat(1_000)),
        format!("{MINIMAL}  networking:\n{}", "    [ # ]\n".repeat(1_000)),
    ] {
        let diagnostics = ClusterConfig::from_yaml(&deep).expect_err("too deep");
        let error = &diagnostics.0[0];
        assert!(
            error.message.contains("nested more than 64 deep"),
            "{error}"
        );
        assert!(error.location.is_some_and(|l| l.line >= 10), "{error}");
    }
    // Brackets in comments and closed ones in quotes cost nothing.
    let commented = format!(
        "{MINIMAL}{}  networking: {{podSubnet: \"10.244.0.0/16\"}} # [[[\n",
        "# roles: [[[[control-plane]]]]\n".repeat(100)
    );
    assert!(errors(&commented).is_empty(), "{:?}", errors(&commented));
}

// A key that is a mapping (`? {…}`) has no name; the finding names the mapping that holds it
// rather than `?`, a path that exists nowhere (found by fuzzing, issue #17).
#[test]
fn reports_a_key_that_is_a_mapping_on_the_mapping_that_holds_it() {
    let at_top = format!("{MINIMAL}? proxy:\n    http: x\n");
    let diagnostics = ClusterConfig::from_yaml(&at_top).expect_err("complex key");
    assert_eq!(diagnostics.0[0].path, "");
    assert!(diagnostics.0[0].location.is_some());
    let in_spec = MINIMAL.replace("spec:\n", "spec:\n  ? [a, b]\n  : c\n");
    let diagnostics = ClusterConfig::from_yaml(&in_spec).expect_err("complex key");
    assert_eq!(diagnostics.0[0].path, "spec");
}

#[test]
fn reports_wrong_types_with_their_path() {
    let yaml = MINIMAL.replace("spec:\n", "spec:\n  ssh: {port: 99999}\n");
    let diagnostics = ClusterConfig::from_yaml(&yaml).expect_err("bad port");
    assert_eq!(diagnostics.0[0].path, "spec.ssh.port");
}

#[test]
fn refuses_empty_documents() {
    assert_error("", "the cluster config is empty");
    assert_error("# only a comment\n", "the cluster config is empty");
}

#[test]
fn names_a_bad_address_like_the_contract_example() {
    let yaml = format!(
        "{MINIMAL}    - {{name: w1, address: 192.0.2.12, roles: [worker]}}\n    - {{name: w2, address: 10.0.0.300, roles: [worker]}}\n"
    );
    assert_error(
        &yaml,
        "spec.nodes[2].address: `10.0.0.300` is not an IP address",
    );
}

#[test]
fn collects_every_error_at_once() {
    let yaml = "\
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata: {name: Demo}
spec:
  kubernetesVersion: \"1.20\"
  nodes:
    - {name: a, address: 192.0.2.300, roles: [master]}
  networking: {podSubnet: 10.244.0.0/33}
";
    let errors = errors(yaml);
    for expected in [
        "metadata.name: `Demo` is not a valid cluster name",
        "spec.kubernetesVersion: `1.20` is not a supported Kubernetes version",
        "spec.nodes[0].address: `192.0.2.300` is not an IP address",
        "spec.nodes[0].roles[0]: `master` is not a role\n  hint: use `control-plane`",
        "spec.networking.podSubnet: `10.244.0.0/33` is not a CIDR range",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "missing {expected:?} in {errors:#?}"
        );
    }
}

#[test]
fn rejects_wrong_header() {
    assert_error(
        &MINIMAL.replace("kbundle.dev/v1alpha1", "v1"),
        "apiVersion: `v1` is not an API version",
    );
    assert_error(
        &MINIMAL.replace("kind: Cluster", "kind: Pod"),
        "kind: `Pod` is not a kind",
    );
    assert_error(
        &MINIMAL.replace("apiVersion: kbundle.dev/v1alpha1\n", ""),
        "apiVersion: is missing",
    );
}

#[test]
fn rejects_bad_cidrs() {
    assert_error(
        &with_networking("{podSubnet: 10.244.0.0}"),
        "is an address, not a range",
    );
    assert_error(
        &with_networking("{podSubnet: 10.244.1.0/16}"),
        "has host bits set\n  hint: did you mean `10.244.0.0/16`?",
    );
    assert_error(
        &with_networking("{serviceSubnet: banana}"),
        "spec.networking.serviceSubnet: `banana` is not a CIDR range",
    );
    assert_error(
        &with_networking("{podSubnet: \"10.1.0.0/16,10.2.0.0/16\"}"),
        "two ranges of the same IP family",
    );
}

#[test]
fn rejects_duplicate_names_and_addresses() {
    let yaml = format!("{MINIMAL}    - {{name: cp1, address: 192.0.2.11, roles: [worker]}}\n");
    assert_error(
        &yaml,
        "spec.nodes[1].name: `cp1` is already used by spec.nodes[0]",
    );
    assert_error(
        &yaml,
        "spec.nodes[1].address: `192.0.2.11` is already used by spec.nodes[0]",
    );
}

#[test]
fn requires_a_control_plane_node() {
    let yaml = MINIMAL.replace("[control-plane, worker]", "[worker]");
    assert_error(&yaml, "spec.nodes: has no node with the control-plane role");
    assert_error(&MINIMAL.replace("  nodes:\n    - name: cp1\n      address: 192.0.2.11\n      roles: [control-plane, worker]\n", ""), "spec.nodes: lists no nodes");
}

#[test]
fn warns_about_an_even_number_of_etcd_members() {
    let yaml = format!(
        "{}    - {{name: cp2, address: 192.0.2.12, roles: [control-plane, worker]}}\n",
        MINIMAL.replace("spec:\n", "spec:\n  controlPlaneEndpoint: 192.0.2.100\n")
    );
    let warnings = warnings(&yaml);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("even number of etcd members (2)")),
        "{warnings:#?}"
    );
    assert!(errors(&yaml).is_empty());
}

#[test]
fn requires_an_endpoint_with_several_control_planes() {
    let yaml = format!(
        "{MINIMAL}    - {{name: cp2, address: 192.0.2.12, roles: [control-plane]}}\n    - {{name: cp3, address: 192.0.2.13, roles: [control-plane]}}\n"
    );
    assert_error(
        &yaml,
        "spec.controlPlaneEndpoint: is required with 3 control-plane nodes",
    );
}

#[test]
fn warns_when_the_endpoint_is_one_of_the_nodes() {
    let yaml = format!(
        "{}    - {{name: cp2, address: 192.0.2.12, roles: [control-plane]}}\n    - {{name: cp3, address: 192.0.2.13, roles: [control-plane]}}\n",
        MINIMAL.replace(
            "spec:\n",
            "spec:\n  controlPlaneEndpoint: 192.0.2.11:6443\n"
        )
    );
    assert!(
        warnings(&yaml)
            .iter()
            .any(|w| w.contains("is the address of node `cp1`"))
    );
}

#[test]
fn parses_endpoint_forms() {
    let endpoint = |text: &str| validate::parse_endpoint(text).map(|e| e.to_string());
    assert_eq!(endpoint("192.0.2.100"), Some("192.0.2.100:6443".into()));
    assert_eq!(
        endpoint("192.0.2.100:8443"),
        Some("192.0.2.100:8443".into())
    );
    assert_eq!(
        endpoint("api.example.com"),
        Some("api.example.com:6443".into())
    );
    assert_eq!(
        endpoint("[2001:db8::1]:443"),
        Some("[2001:db8::1]:443".into())
    );
    assert_eq!(endpoint("2001:db8::1"), Some("[2001:db8::1]:6443".into()));
    assert_eq!(endpoint("api.example.com:http"), None);
    assert_eq!(endpoint("Bad Host"), None);
    assert_eq!(endpoint("192.0.2.1:0"), None);
}

#[test]
fn refuses_kube_vip_with_a_dns_name() {
    let yaml = MINIMAL.replace(
        "spec:\n",
        "spec:\n  controlPlaneEndpoint: api.example.com\n  highAvailability: {mode: kube-vip}\n",
    );
    assert_error(
        &yaml,
        "spec.highAvailability.mode: `kube-vip` needs an IP address",
    );
}

#[test]
fn rejects_unsupported_versions_with_the_supported_list() {
    assert_error(
        &MINIMAL.replace("spec:\n", "spec:\n  kubernetesVersion: \"1.29\"\n"),
        "supported versions: 1.34, 1.35, 1.36, 1.37",
    );
    assert_error(
        &MINIMAL.replace("spec:\n", "spec:\n  kubernetesVersion: latest\n"),
        "`latest` is not a Kubernetes version",
    );
    let warnings = warnings(&MINIMAL.replace("spec:\n", "spec:\n  kubernetesVersion: \"1.34\"\n"));
    assert!(
        warnings.iter().any(|w| w.contains("end of life")),
        "{warnings:#?}"
    );
}

#[test]
fn rejects_overlapping_pod_and_service_ranges() {
    assert_error(
        &with_networking("{podSubnet: 10.96.0.0/16}"),
        "spec.networking.podSubnet: `10.96.0.0/16` overlaps the service range 10.96.0.0/12",
    );
}

#[test]
fn rejects_ranges_over_the_docker_bridge() {
    assert_error(
        &with_networking("{podSubnet: 172.16.0.0/12}"),
        "overlaps Docker's default bridge 172.17.0.0/16",
    );
    assert_error(
        &with_networking("{serviceSubnet: 172.17.0.0/16}"),
        "spec.networking.serviceSubnet: `172.17.0.0/16` overlaps Docker's default bridge",
    );
}

#[test]
fn rejects_node_addresses_inside_cluster_ranges() {
    let yaml = format!("{MINIMAL}    - {{name: w1, address: 10.244.3.7, roles: [worker]}}\n");
    assert_error(
        &yaml,
        "spec.nodes[1].address: `10.244.3.7` lies inside the pod range 10.244.0.0/16",
    );
    let yaml = MINIMAL.replace("spec:\n", "spec:\n  controlPlaneEndpoint: 10.96.0.5\n");
    assert_error(
        &yaml,
        "spec.controlPlaneEndpoint: `10.96.0.5` lies inside the service range",
    );
}

#[test]
fn rejects_ranges_too_small_for_the_nodes() {
    let yaml = format!(
        "{MINIMAL}    - {{name: w1, address: 192.0.2.12, roles: [worker]}}\n    - {{name: w2, address: 192.0.2.13, roles: [worker]}}\n  networking: {{podSubnet: 10.244.0.0/23}}\n"
    );
    assert_error(
        &yaml,
        "spec.networking.podSubnet: `10.244.0.0/23` has room for 2 node ranges of /24 but 3 nodes are configured\n  hint: use a podSubnet of /22 or larger",
    );
}

#[test]
fn rejects_node_ranges_too_small_for_the_pods() {
    assert_error(
        &with_networking("{nodeCIDRMaskSize: 26}"),
        "gives each node 61 IPv4 pod addresses, fewer than maxPodsPerNode (110)\n  hint: use a shorter mask such as /25",
    );
    assert!(
        errors(&with_networking(
            "{nodeCIDRMaskSize: 26, maxPodsPerNode: 60}"
        ))
        .is_empty()
    );
    assert_error(
        &with_networking("{nodeCIDRMaskSize: 15}"),
        "is shorter than the IPv4 podSubnet prefix /16",
    );
    assert_error(
        &with_networking("{podSubnet: 10.0.0.0/8, nodeCIDRMaskSize: 25, maxPodsPerNode: 100}"),
        "more than 16 bits longer",
    );
}

// More pods than IPv4 has addresses made the hint's mask arithmetic overflow (found by fuzzing,
// issue #17); more than the kubelet's 32-bit maxPods would be refused on the node.
#[test]
fn rejects_more_pods_per_node_than_an_address_space_or_the_kubelet_holds() {
    assert_error(
        &with_networking("{maxPodsPerNode: 4294967295}"),
        "hint: lower spec.networking.maxPodsPerNode: no IPv4 node range holds 4294967295 pods",
    );
    assert_error(
        &with_networking("{maxPodsPerNode: 2147483648}"),
        "spec.networking.maxPodsPerNode: `2147483648` is more than the kubelet's maxPods holds",
    );
}

#[test]
fn rejects_service_ranges_the_api_server_refuses() {
    assert_error(
        &with_networking("{serviceSubnet: 10.0.0.0/8, podSubnet: 100.64.0.0/16}"),
        "spec.networking.serviceSubnet: `10.0.0.0/8` is larger than kube-apiserver accepts (/12 at most for IPv4)",
    );
    assert_error(
        &with_networking("{serviceSubnet: 10.96.0.0/29}"),
        "is too small for the API server and DNS service IPs",
    );
}

#[test]
fn rejects_dns_ip_outside_the_service_range() {
    assert_error(
        &with_networking("{dnsServiceIP: 10.244.0.10}"),
        "spec.networking.dnsServiceIP: `10.244.0.10` is outside the primary service range 10.96.0.0/12",
    );
    assert_error(
        &with_networking("{dnsServiceIP: 10.96.0.1}"),
        "is the API server's service IP",
    );
    assert_error(
        &with_networking("{dnsServiceIP: 10.96.0.0}"),
        "network or broadcast address",
    );
    let config = ClusterConfig::from_yaml(&with_networking("{dnsServiceIP: 10.96.0.53}"))
        .expect("valid")
        .config;
    assert_eq!(config.networking.dns_service_ip.to_string(), "10.96.0.53");
}

#[test]
fn checks_dual_stack_consistency() {
    let dual = "{podSubnet: \"10.244.0.0/16,fd00:10:244::/56\", serviceSubnet: \"10.96.0.0/16,fd00:10:96::/112\", nodeCIDRMaskSize: \"24,64\"}";
    assert_error(
        &with_networking(dual),
        "spec.nodes[0].address: `192.0.2.11` has no IPv6 address but the cluster networks use IPv6",
    );
    assert_error(
        &with_networking("{podSubnet: \"10.244.0.0/16,fd00:10:244::/56\"}"),
        "spec.networking.serviceSubnet: `10.96.0.0/12` has the families IPv4 but podSubnet has IPv4,IPv6",
    );
    let yaml = with_networking(
        "{podSubnet: \"10.244.0.0/16,fd00:10:244::/56\", serviceSubnet: \"10.96.0.0/16,fd00:10:96::/112\", nodeCIDRMaskSize: 24}",
    );
    assert_error(&yaml, "gives 1 mask but podSubnet has 2 families");
    let yaml = MINIMAL.replace("192.0.2.11", "\"192.0.2.11,2001:db8::11\"");
    assert_error(
        &yaml,
        "has an address of a family the cluster networks do not use",
    );
    assert_error(
        &with_networking("{serviceSubnet: \"fd00::/100\", podSubnet: \"fd01::/56\"}"),
        "larger than kube-apiserver accepts (/108 at most for IPv6)",
    );
}

#[test]
fn rejects_bad_roles_labels_and_taints() {
    let yaml = MINIMAL.replace(
        "      roles: [control-plane, worker]\n",
        "      roles: [control-plane, worker, ai]\n      labels: {\"-bad\": x, disk: \"not ok\"}\n      taints: [\"a=b:Sometimes\", \"dedicated=gpu:NoSchedule\"]\n",
    );
    assert_error(
        &yaml,
        "spec.nodes[0].roles[2]: `ai` is not a role\n  hint: use `[control-plane, worker]`",
    );
    assert_error(
        &yaml,
        "spec.nodes[0].labels.-bad: `-bad` is not a valid label key",
    );
    assert_error(
        &yaml,
        "spec.nodes[0].labels.disk: `not ok` is not a valid label value",
    );
    assert_error(
        &yaml,
        "spec.nodes[0].taints[0]: `a=b:Sometimes` has an unknown taint effect",
    );
}

#[test]
fn rejects_bad_runtime_registry_proxy_and_certificates() {
    let yaml = format!(
        "{MINIMAL}  containerRuntime: {{socket: containerd.sock, cgroupDriver: hybrid}}\n  registry:\n    imageRepository: https://registry.example.com\n    mirrors: [{{registry: docker.io, endpoints: [mirror.example.com]}}]\n    credentials: [{{registry: registry.example.com, username: u}}]\n  proxy: {{http: \"proxy:3128\", https: \"http://user:hunter2@bad host\"}}\n  certificates: {{keyAlgorithm: DSA, validity: 2w, caValidity: 1y, extraSANs: [\"not valid!\"]}}\n"
    );
    let errors = errors(&yaml);
    for expected in [
        "spec.containerRuntime.socket: `containerd.sock` is not an absolute socket path",
        "spec.containerRuntime.cgroupDriver: `hybrid` is not a cgroup driver",
        "spec.registry.imageRepository: `https://registry.example.com` is not an image repository",
        "spec.registry.mirrors[0].endpoints[0]: `mirror.example.com` is not an http(s) URL",
        "spec.registry.credentials[0].password: is missing",
        "spec.proxy.http: `proxy:3128` is not a proxy URL",
        "spec.certificates.keyAlgorithm: `DSA` is not a supported key algorithm",
        "spec.certificates.validity: `2w` is not a duration",
        "spec.certificates.extraSANs[0]: `not valid!` is neither an IP address nor a DNS name",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "missing {expected:?} in {errors:#?}"
        );
    }
    assert!(
        !errors.iter().any(|e| e.contains("hunter2")),
        "a proxy password leaked: {errors:#?}"
    );
}

#[test]
fn bootstrap_token_ttl_takes_durations_and_stays_within_the_validity() {
    // See: issue #14, item 6.
    let ttl = |certificates: &str| {
        ClusterConfig::from_yaml(&format!("{MINIMAL}  certificates: {certificates}\n"))
            .map(|validated| validated.config.certificates.bootstrap_token_ttl_hours)
            .map_err(|diagnostics| {
                diagnostics
                    .errors()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            })
    };
    assert_eq!(ttl("{bootstrapTokenTTL: 1h}"), Ok(1));
    assert_eq!(ttl("{bootstrapTokenTTL: 7d}"), Ok(168));
    assert_eq!(
        ttl("{bootstrapTokenTTL: 1y}"),
        Ok(8760),
        "as long as the validity"
    );
    // Certificates shorter than a day: the default follows them instead of being refused.
    assert_eq!(ttl("{validity: 12h}"), Ok(12));
    assert_error(
        &format!("{MINIMAL}  certificates: {{bootstrapTokenTTL: 0h}}\n"),
        "spec.certificates.bootstrapTokenTTL: `0h` must be longer than zero",
    );
    assert_error(
        &format!("{MINIMAL}  certificates: {{bootstrapTokenTTL: 30m}}\n"),
        "spec.certificates.bootstrapTokenTTL: `30m` is not a duration",
    );
    assert_error(
        &format!("{MINIMAL}  certificates: {{validity: 30d, bootstrapTokenTTL: 31d}}\n"),
        "spec.certificates.bootstrapTokenTTL: `31d` is longer than the certificates' validity",
    );
    let errors = errors(&format!(
        "{MINIMAL}  certificates: {{validity: 30d, bootstrapTokenTTL: 31d}}\n"
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("hint: "), "{errors:?}");
    assert!(
        errors[0].contains("shorten bootstrapTokenTTL"),
        "{errors:?}"
    );
}

#[test]
fn refuses_leaf_validity_longer_than_the_ca() {
    let yaml = format!("{MINIMAL}  certificates: {{validity: 20y, caValidity: 10y}}\n");
    assert_error(
        &yaml,
        "spec.certificates.validity: `20y` is longer than the CA's validity",
    );
}

#[test]
fn credentials_never_show_in_debug_output() {
    let yaml = format!(
        "{MINIMAL}  registry:\n    credentials: [{{registry: registry.example.com, username: u, password: hunter2}}]\n"
    );
    let config = ClusterConfig::from_yaml(&yaml).expect("valid").config;
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn raw_config_round_trips_through_yaml() {
    let raw =
        RawClusterConfig::from_yaml(&example_yaml(ExampleKind::HighAvailability)).expect("parses");
    let again = RawClusterConfig::from_yaml(&raw.to_yaml()).expect("re-parses");
    assert_eq!(raw, again);
}

#[test]
fn existing_cas_need_both_files() {
    let yaml = format!(
        "{MINIMAL}  certificates:\n    existingCAs:\n      cluster: {{certFile: ca.crt, keyFile: ca.key}}\n      etcd: {{certFile: etcd-ca.crt}}\n"
    );
    assert_error(
        &yaml,
        "spec.certificates.existingCAs.etcd.keyFile: is missing",
    );
    let yaml = format!(
        "{MINIMAL}  certificates:\n    existingCAs:\n      frontProxy: {{certFile: fp.crt, keyFile: fp.key}}\n"
    );
    let config = ClusterConfig::from_yaml(&yaml).expect("valid").config;
    assert_eq!(
        config.certificates.existing_cas,
        [ExistingCaFiles {
            kind: crate::pki::CaKind::FrontProxy,
            certificate_file: "fp.crt".into(),
            key_file: "fp.key".into(),
        }]
    );
}
