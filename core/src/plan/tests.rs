//! Plan tests: table tests on known clusters and property tests of the plan's invariants.

use std::net::IpAddr;

use proptest::prelude::*;

use super::*;
use crate::config::{ClusterConfig, ExampleKind, example_yaml};

fn plan_of(yaml: &str) -> NetworkPlan {
    let validated = ClusterConfig::from_yaml(yaml).expect("test config validates");
    NetworkPlan::new(&validated.config)
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

#[test]
fn plans_the_old_guide_cluster() {
    let plan = plan_of(include_str!("../../../examples/old-guide.yaml"));
    assert_eq!(plan.apiserver_service_ip, ip("192.168.3.1"));
    assert_eq!(plan.dns_service_ip, ip("192.168.3.10"));
    let ranges: Vec<String> = plan
        .nodes
        .iter()
        .map(|n| n.pod_cidrs[0].to_string())
        .collect();
    assert_eq!(ranges, ["172.16.0.0/24", "172.16.1.0/24"]);
    assert_eq!(plan.nodes[1].gateways, [ip("172.16.1.1")]);
    assert_eq!(plan.max_nodes, 256);
    assert_eq!(plan.max_pods_per_node, 110);
    assert_eq!(plan.pod_addresses_per_node, 253);
    assert_eq!(plan.control_plane_endpoint, "https://10.47.136.60:6443");
}

#[test]
fn plans_dual_stack_with_primary_family_first() {
    let plan = plan_of(include_str!(
        "../../../tests/fixtures/clusters/dual-stack.yaml"
    ));
    assert_eq!(plan.ip_families, [IpFamily::V4, IpFamily::V6]);
    assert_eq!(
        plan.apiserver_service_ips,
        [ip("10.96.0.1"), ip("fd00:10:96::1")]
    );
    assert_eq!(plan.dns_service_ip, ip("10.96.0.10"));
    let cp2 = &plan.nodes[1];
    // Addresses are reordered to the cluster's family order whatever order they were written in.
    assert_eq!(cp2.addresses, [ip("192.0.2.12"), ip("2001:db8::12")]);
    assert_eq!(
        cp2.pod_cidrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.244.1.0/24", "fd00:10:244:1::/64"]
    );
    assert_eq!(plan.max_nodes, 256);
    assert_eq!(plan.control_plane_endpoint, "https://[2001:db8::100]:6443");
    assert_eq!(plan.flannel_net_conf["IPv6Network"], "fd00:10:244::/56");
    assert_eq!(plan.flannel_net_conf["EnableIPv4"], true);
}

#[test]
fn plans_ipv6_single_stack() {
    let plan = plan_of(
        "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {name: six}\nspec:\n  nodes:\n    - {name: a, address: \"2001:db8::1\", roles: [control-plane, worker]}\n  networking: {podSubnet: \"fd00:1::/48\", serviceSubnet: \"fd00:2::/112\"}\n",
    );
    assert_eq!(plan.apiserver_service_ip, ip("fd00:2::1"));
    assert_eq!(plan.dns_service_ip, ip("fd00:2::a"));
    assert_eq!(plan.nodes[0].pod_cidrs[0].to_string(), "fd00:1::/64");
    assert_eq!(plan.max_nodes, 65536);
    assert_eq!(plan.max_pods_per_node, 110);
}

#[test]
fn no_proxy_covers_every_path_cluster_traffic_takes() {
    let mut yaml = example_yaml(ExampleKind::HighAvailability);
    yaml.push_str("  proxy:\n    http: http://proxy.example.com:3128\n    noProxy: [.corp.example.com, localhost]\n");
    let plan = plan_of(&yaml);
    for expected in [
        "localhost",
        "127.0.0.1",
        "::1",
        "192.0.2.100",
        "cp1",
        "192.0.2.11",
        "worker2",
        "192.0.2.22",
        "10.244.0.0/16",
        "10.96.0.0/12",
        ".svc",
        ".cluster.local",
        "kubernetes.default",
        ".corp.example.com",
    ] {
        assert!(
            plan.no_proxy.iter().any(|e| e == expected),
            "NO_PROXY lacks {expected}"
        );
    }
    let localhost = plan.no_proxy.iter().filter(|e| *e == "localhost").count();
    assert_eq!(localhost, 1, "entries are not repeated");
    assert!(
        plan.no_proxy_value()
            .starts_with("localhost,127.0.0.1,::1,")
    );
}

#[test]
fn json_has_the_contract_keys() {
    let plan = plan_of(&example_yaml(ExampleKind::Basic));
    let json = serde_json::to_value(&plan).expect("plan serialises");
    for key in [
        "apiserver_service_ip",
        "dns_service_ip",
        "no_proxy",
        "max_nodes",
        "max_pods_per_node",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["nodes"][0]["name"], "cp1");
    assert_eq!(json["nodes"][2]["pod_cidrs"][0], "10.244.2.0/24");
    assert_eq!(json["apiserver_service_ip"], "10.96.0.1");
}

/// A cluster of `nodes` nodes on documentation addresses with the given ranges.
fn cluster_yaml(pods: &str, services: &str, masks: &str, nodes: usize, dual: bool) -> String {
    let mut yaml = String::from(
        "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {name: prop}\nspec:\n  controlPlaneEndpoint: 203.0.113.100\n  nodes:\n",
    );
    for index in 0..nodes {
        let v4 = format!("198.51.{}.{}", 100 + index / 250, 1 + index % 250);
        let address = if dual {
            format!("{v4},2001:db8::{:x}", index + 1)
        } else {
            v4
        };
        let roles = if index == 0 {
            "[control-plane, worker]"
        } else {
            "[worker]"
        };
        yaml.push_str(&format!(
            "    - {{name: n{index}, address: \"{address}\", roles: {roles}}}\n"
        ));
    }
    yaml.push_str(&format!(
        "  networking: {{podSubnet: \"{pods}\", serviceSubnet: \"{services}\", nodeCIDRMaskSize: \"{masks}\"}}\n"
    ));
    yaml
}

/// An aligned IPv4 range inside 10.0.0.0/8.
fn v4_range(prefix: u8, slot: u32) -> String {
    let step = 1u32 << (32 - prefix);
    let slots = 1u32 << (prefix - 8);
    let start = (10u32 << 24) + (slot % slots) * step;
    format!("{}/{prefix}", std::net::Ipv4Addr::from(start))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn planned_ranges_are_inside_disjoint_and_clear_of_services(
        pod_prefix in 8u8..=22,
        extra_bits in 0u8..=8,
        pod_slot in any::<u32>(),
        service_prefix in 12u8..=24,
        service_slot in any::<u32>(),
        nodes in 1usize..=60,
        dual in any::<bool>(),
    ) {
        let mask = (pod_prefix + extra_bits).min(24);
        let v6_mask = 64u8;
        let v6_pod_prefix = 64 - extra_bits;
        let (pods, services, masks) = if dual {
            (
                format!("{},fd00:10:244::/{v6_pod_prefix}", v4_range(pod_prefix, pod_slot)),
                format!("{},fd00:10:96::/112", v4_range(service_prefix, service_slot)),
                format!("{mask},{v6_mask}"),
            )
        } else {
            (v4_range(pod_prefix, pod_slot), v4_range(service_prefix, service_slot), mask.to_string())
        };
        let yaml = cluster_yaml(&pods, &services, &masks, nodes, dual);
        let Ok(validated) = ClusterConfig::from_yaml(&yaml) else {
            // Overlapping or too small ranges are refused; the invariants are about the rest.
            return Ok(());
        };
        let plan = NetworkPlan::new(&validated.config);
        prop_assert_eq!(plan.nodes.len(), nodes);
        prop_assert!(plan.max_nodes >= nodes as u64);
        for (family_index, family) in validated.config.networking.families.iter().enumerate() {
            prop_assert!(!net::overlaps(family.pod_subnet, family.service_subnet));
            prop_assert!(family.service_subnet.contains(plan.apiserver_service_ips[family_index]));
            let mut ranges: Vec<IpNetwork> = Vec::new();
            for node in &plan.nodes {
                prop_assert_eq!(node.pod_cidrs.len(), validated.config.networking.families.len());
                let range = node.pod_cidrs[family_index];
                prop_assert_eq!(range.prefix(), family.node_mask);
                prop_assert!(family.pod_subnet.contains(range.network()));
                prop_assert!(family.pod_subnet.contains(net::nth_address(range, net::size(range) - 1).unwrap()));
                prop_assert!(!net::overlaps(range, family.service_subnet));
                prop_assert!(range.contains(node.gateways[family_index]));
                ranges.push(range);
            }
            ranges.sort_by_key(|range| net::to_u128(range.network()));
            for pair in ranges.windows(2) {
                prop_assert!(!net::overlaps(pair[0], pair[1]), "{} overlaps {}", pair[0], pair[1]);
            }
        }
        let primary_services = validated.config.networking.primary().service_subnet;
        prop_assert!(primary_services.contains(plan.dns_service_ip));
        prop_assert_ne!(plan.dns_service_ip, plan.apiserver_service_ip);
        for node in &plan.nodes {
            prop_assert!(plan.no_proxy.contains(&node.name));
            for address in &node.addresses {
                prop_assert!(plan.no_proxy.contains(&address.to_string()));
            }
        }
    }
}
