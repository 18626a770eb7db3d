//! The synthetic clusters the benchmarks use: `control_planes` control-plane + etcd nodes and
//! `workers` workers, on 198.18.0.0/15 (RFC 2544, set aside for benchmarks) and, dual-stack,
//! 2001:db8::/32. Nothing here touches a network.

use std::net::Ipv4Addr;

use kbundle_core::config::raw::{RawClusterConfig, RawMetadata, RawNetworking, RawNode, RawSpec};

/// A cluster description with a control-plane endpoint and ranges wide enough for 16,000 nodes.
pub(crate) fn cluster(control_planes: usize, workers: usize, dual_stack: bool) -> RawClusterConfig {
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 1));
    let nodes = (0..control_planes + workers)
        .map(|index| {
            let v4 = Ipv4Addr::from(base + index as u32);
            RawNode {
                name: Some(format!("node-{}", index + 1)),
                address: Some(if dual_stack {
                    format!("{v4},2001:db8::{:x}", index + 1)
                } else {
                    v4.to_string()
                }),
                roles: if index < control_planes {
                    vec!["control-plane".into(), "etcd".into()]
                } else {
                    vec!["worker".into()]
                },
                ..RawNode::default()
            }
        })
        .collect();
    let (pods, services, masks) = if dual_stack {
        (
            "100.64.0.0/10,fd00:10:244::/48",
            "10.96.0.0/16,fd00:10:96::/112",
            "24,64",
        )
    } else {
        ("100.64.0.0/10", "10.96.0.0/12", "24")
    };
    RawClusterConfig {
        api_version: Some("kbundle.dev/v1alpha1".into()),
        kind: Some("Cluster".into()),
        metadata: RawMetadata {
            name: Some("bench".into()),
        },
        spec: RawSpec {
            control_plane_endpoint: Some("203.0.113.10:6443".into()),
            nodes,
            networking: RawNetworking {
                pod_subnet: Some(pods.into()),
                service_subnet: Some(services.into()),
                node_cidr_mask_size: Some(masks.into()),
                ..RawNetworking::default()
            },
            ..RawSpec::default()
        },
    }
}
