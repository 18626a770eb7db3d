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
    // Placed by name (see `the_name_hash_never_changes`), listed in config order.
    assert_eq!(ranges, ["172.16.204.0/24", "172.16.1.0/24"]);
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
        ["10.244.160.0/24", "fd00:10:244:a0::/64"]
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
    assert_eq!(plan.nodes[0].pod_cidrs[0].to_string(), "fd00:1:0:20f8::/64");
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
    assert_eq!(json["nodes"][2]["pod_cidrs"][0], "10.244.152.0/24");
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

/// A cluster of the named nodes (the first one the control plane) on documentation addresses.
fn named_cluster(names: &[&str], pods: &str, masks: &str) -> ClusterConfig {
    let dual = pods.contains(',');
    let mut yaml = String::from(
        "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {name: names}\nspec:\n  controlPlaneEndpoint: 203.0.113.100\n  nodes:\n",
    );
    for (index, name) in names.iter().enumerate() {
        let v4 = format!("198.51.100.{}", index + 1);
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
            "    - {{name: {name}, address: \"{address}\", roles: {roles}}}\n"
        ));
    }
    let services = if dual {
        "10.96.0.0/16,fd00:10:96::/112"
    } else {
        "10.96.0.0/16"
    };
    yaml.push_str(&format!(
        "  networking: {{podSubnet: \"{pods}\", serviceSubnet: \"{services}\", nodeCIDRMaskSize: \"{masks}\"}}\n"
    ));
    ClusterConfig::from_yaml(&yaml)
        .expect("test config validates")
        .config
}

/// Each node's ranges as text, by name.
fn ranges_by_name(plan: &NetworkPlan) -> std::collections::BTreeMap<String, String> {
    plan.nodes
        .iter()
        .map(|node| {
            let cidrs: Vec<String> = node.pod_cidrs.iter().map(ToString::to_string).collect();
            (node.name.clone(), cidrs.join(","))
        })
        .collect()
}

#[test]
fn the_name_hash_never_changes() {
    // These values place the ranges of every bundle made without --from: a change would
    // move them, and the API server refuses to move a Node's range.
    assert_eq!(ranges::name_hash(""), 0xf52a_15e9_a9b5_e89b);
    assert_eq!(ranges::name_hash("cp1"), 0xf7f3_2f77_e644_5c4a);
    assert_eq!(ranges::name_hash("worker1"), 0x61a1_36f6_1bfe_2ac2);
}

#[test]
fn a_node_inserted_at_the_top_moves_no_one() {
    let before = NetworkPlan::new(&named_cluster(&["cp1", "w1", "w2"], "10.244.0.0/16", "24"));
    let after = NetworkPlan::new(&named_cluster(
        &["new", "cp1", "w1", "w2"],
        "10.244.0.0/16",
        "24",
    ));
    let after_ranges = ranges_by_name(&after);
    for (name, range) in ranges_by_name(&before) {
        assert_eq!(after_ranges[&name], range, "{name} moved");
    }
    // The plan lists nodes in config order; only the ranges ignore it.
    let names: Vec<&str> = after.nodes.iter().map(|node| node.name.as_str()).collect();
    assert_eq!(names, ["new", "cp1", "w1", "w2"]);
}

#[test]
fn dual_stack_nodes_take_the_same_slot_in_both_families() {
    let plan = NetworkPlan::new(&named_cluster(
        &["cp1", "w1", "w2", "w3"],
        "10.244.0.0/16,fd00:10:244::/56",
        "24,64",
    ));
    for node in &plan.nodes {
        let v4 = net::to_u128(node.pod_cidrs[0].network()) - net::to_u128(ip("10.244.0.0"));
        let v6 = net::to_u128(node.pod_cidrs[1].network()) - net::to_u128(ip("fd00:10:244::"));
        assert_eq!(v4 >> 8, v6 >> 64, "{}: {:?}", node.name, node.pod_cidrs);
    }
}

#[test]
fn a_full_pod_subnet_still_gives_every_node_its_own_range() {
    // Four ranges for four nodes: probing wraps around to find the last free ones.
    let plan = NetworkPlan::new(&named_cluster(&["a", "b", "c", "d"], "10.244.0.0/22", "24"));
    let mut ranges: Vec<String> = plan
        .nodes
        .iter()
        .map(|node| node.pod_cidrs[0].to_string())
        .collect();
    ranges.sort();
    assert_eq!(
        ranges,
        [
            "10.244.0.0/24",
            "10.244.1.0/24",
            "10.244.2.0/24",
            "10.244.3.0/24"
        ]
    );
}

#[test]
fn previous_ranges_are_kept_and_new_nodes_go_around_them() {
    // Ranges an older kbundle gave in config order: kept exactly, whatever the names hash to.
    let previous: PreviousRanges = [
        ("cp1", "10.244.0.0/24"),
        ("w1", "10.244.1.0/24"),
        ("w2", "10.244.2.0/24"),
    ]
    .into_iter()
    .map(|(name, cidr)| (name.to_owned(), vec![cidr.parse().unwrap()]))
    .collect();
    let config = named_cluster(&["w0", "cp1", "w1", "w2"], "10.244.0.0/22", "24");
    let plan = NetworkPlan::with_previous(&config, &previous).expect("previous ranges fit");
    let ranges = ranges_by_name(&plan);
    assert_eq!(ranges["cp1"], "10.244.0.0/24");
    assert_eq!(ranges["w1"], "10.244.1.0/24");
    assert_eq!(ranges["w2"], "10.244.2.0/24");
    // One range is left, and the new node takes it wherever its name hashes.
    assert_eq!(ranges["w0"], "10.244.3.0/24");
}

#[test]
fn a_new_node_without_a_free_range_is_refused_by_name() {
    let previous: PreviousRanges = [("cp1", "10.244.0.0/24"), ("w1", "10.244.1.0/24")]
        .into_iter()
        .map(|(name, cidr)| (name.to_owned(), vec![cidr.parse().unwrap()]))
        .collect();
    // Validation allows two nodes in a /23 of /24s; a third node is refused there already, so
    // the only way to run out is a previous range that blocks a slot of the smaller family.
    let config = named_cluster(&["cp1", "w1"], "10.244.0.0/23", "24");
    assert!(NetworkPlan::with_previous(&config, &previous).is_ok());
    let dual_previous: PreviousRanges = [(
        "cp1",
        vec![
            "10.244.0.0/24".parse().unwrap(),
            "fd00:10:244:1::/64".parse().unwrap(),
        ],
    )]
    .into_iter()
    .map(|(name, cidrs)| (name.to_owned(), cidrs))
    .collect();
    let config = named_cluster(&["cp1", "w1"], "10.244.0.0/23,fd00:10:244::/56", "24,64");
    let error = NetworkPlan::with_previous(&config, &dual_previous).unwrap_err();
    let text = error.0[0].to_string();
    assert!(
        text.starts_with("spec.nodes[1].name: `w1` gets no pod range"),
        "{text}"
    );
}

#[test]
fn a_previous_range_that_no_longer_fits_is_refused_naming_node_range_and_fix() {
    let previous =
        NetworkPlan::new(&named_cluster(&["cp1", "w1"], "10.244.0.0/16", "24")).pod_ranges();
    let old_w1 = previous["w1"][0].to_string();
    // Another pod subnet.
    let config = named_cluster(&["cp1", "w1"], "10.245.0.0/16", "24");
    let error = NetworkPlan::with_previous(&config, &previous).unwrap_err();
    assert_eq!(error.0.len(), 2, "{error:?}");
    let text = error.0[1].to_string();
    assert!(
        text.starts_with(&format!(
            "spec.nodes[1].name: `w1` had the pod range `{old_w1}` in the previous bundle, which is not a /24 range inside the pod subnet `10.245.0.0/16`"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "hint: keep spec.networking.podSubnet and nodeCIDRMaskSize as in the previous bundle"
        ),
        "{text}"
    );
    // Another node mask.
    let config = named_cluster(&["cp1", "w1"], "10.244.0.0/16", "25");
    let error = NetworkPlan::with_previous(&config, &previous).unwrap_err();
    assert!(
        error.0[0].to_string().contains("is not a /25 range"),
        "{error:?}"
    );
    // A second family: the API server cannot add a range to a Node either.
    let config = named_cluster(&["cp1", "w1"], "10.244.0.0/16,fd00:10:244::/56", "24,64");
    let error = NetworkPlan::with_previous(&config, &previous).unwrap_err();
    assert!(
        error.0[0]
            .to_string()
            .contains("too few for the cluster's 2 IP families"),
        "{error:?}"
    );
}

#[test]
fn a_range_held_twice_in_the_previous_bundle_is_refused() {
    let previous: PreviousRanges = [("cp1", "10.244.5.0/24"), ("w1", "10.244.5.0/24")]
        .into_iter()
        .map(|(name, cidr)| (name.to_owned(), vec![cidr.parse().unwrap()]))
        .collect();
    let config = named_cluster(&["cp1", "w1"], "10.244.0.0/16", "24");
    let error = NetworkPlan::with_previous(&config, &previous).unwrap_err();
    assert_eq!(
        error.0[0].to_string().lines().next(),
        Some(
            "spec.nodes[1].name: `w1` had the pod range `10.244.5.0/24` in the previous bundle, and so had node `cp1`"
        )
    );
}

/// Distinct node names, in an arbitrary order.
fn names_strategy(max: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::btree_set("[a-z][a-z0-9-]{0,5}[a-z0-9]", 1..=max)
        .prop_map(|set| set.into_iter().collect::<Vec<_>>())
        .prop_shuffle()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn ranges_depend_only_on_the_set_of_names(
        names in names_strategy(40),
        seed in any::<u64>(),
        small in any::<bool>(),
    ) {
        // A small pod subnet makes collisions (and so probing) common.
        let pods = if small { "10.244.0.0/18" } else { "10.244.0.0/16" };
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let plan = NetworkPlan::new(&named_cluster(&refs, pods, "24"));
        let mut shuffled = refs.clone();
        // A second order, derived from the seed.
        shuffled.sort_by_key(|name| ranges::name_hash(&format!("{seed}{name}")));
        let reordered = NetworkPlan::new(&named_cluster(&shuffled, pods, "24"));
        prop_assert_eq!(ranges_by_name(&plan), ranges_by_name(&reordered));
        let subnet: IpNetwork = pods.parse().unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for node in &plan.nodes {
            prop_assert!(subnet.contains(node.pod_cidrs[0].network()));
            prop_assert_eq!(node.pod_cidrs[0].prefix(), 24);
            prop_assert!(seen.insert(node.pod_cidrs[0]), "{} given twice", node.pod_cidrs[0]);
        }
    }

    #[test]
    fn inserting_a_node_anywhere_moves_only_nodes_it_sorts_before(
        names in names_strategy(30),
        new_name in "[a-z][a-z0-9]{0,6}",
        position in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!names.contains(&new_name));
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let before = ranges_by_name(&NetworkPlan::new(&named_cluster(&refs, "10.244.0.0/18", "24")));
        let mut inserted = refs.clone();
        inserted.insert(position.index(refs.len() + 1), &new_name);
        let config = named_cluster(&inserted, "10.244.0.0/18", "24");
        // Without the previous bundle: placed in name order, a newcomer can only take the slot
        // of a node placed after it.
        let after = ranges_by_name(&NetworkPlan::new(&config));
        for (name, range) in &before {
            if name.as_str() < new_name.as_str() {
                prop_assert_eq!(&after[name], range, "{} moved", name);
            }
        }
        // With it: no one ever moves.
        let previous = NetworkPlan::new(&named_cluster(&refs, "10.244.0.0/18", "24")).pod_ranges();
        let kept = NetworkPlan::with_previous(&config, &previous).expect("previous ranges fit");
        let kept = ranges_by_name(&kept);
        for (name, range) in &before {
            prop_assert_eq!(&kept[name], range, "{} moved", name);
        }
        let distinct: std::collections::BTreeSet<&String> = kept.values().collect();
        prop_assert_eq!(distinct.len(), kept.len());
    }

    #[test]
    fn removing_and_reordering_with_previous_moves_no_one(
        names in names_strategy(30),
        remove in any::<prop::sample::Index>(),
    ) {
        prop_assume!(names.len() > 1);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let previous = NetworkPlan::new(&named_cluster(&refs, "10.244.0.0/16,fd00:10:244::/56", "24,64")).pod_ranges();
        let mut fewer = refs.clone();
        fewer.remove(remove.index(refs.len()));
        fewer.reverse();
        let plan = NetworkPlan::with_previous(
            &named_cluster(&fewer, "10.244.0.0/16,fd00:10:244::/56", "24,64"),
            &previous,
        ).expect("previous ranges fit");
        for node in &plan.nodes {
            prop_assert_eq!(&node.pod_cidrs, &previous[&node.name]);
        }
    }
}
