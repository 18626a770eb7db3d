//! Benchmark: generate a bundle (validate, plan, PKI, render, lay out) and write its zip, for
//! 1 + 2, 3 + 100 and 3 + 1,000 nodes (ECDSA). Prints time and size.
//! `cargo bench -p kbundle-core --bench bundle`.

use std::time::Instant;

use kbundle_core::bundle::Bundle;
use kbundle_core::config::raw::{RawClusterConfig, RawMetadata, RawNetworking, RawNode, RawSpec};
use kbundle_core::pki::PkiInputs;

fn raw(control_planes: usize, workers: usize) -> RawClusterConfig {
    let nodes = (0..control_planes + workers)
        .map(|index| RawNode {
            name: Some(format!("node-{index}")),
            address: Some(
                std::net::Ipv4Addr::from(
                    u32::from(std::net::Ipv4Addr::new(198, 18, 0, 1)) + index as u32,
                )
                .to_string(),
            ),
            roles: if index < control_planes {
                vec!["control-plane".into(), "etcd".into()]
            } else {
                vec!["worker".into()]
            },
            ..RawNode::default()
        })
        .collect();
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
                pod_subnet: Some("100.64.0.0/10".into()),
                ..RawNetworking::default()
            },
            ..RawSpec::default()
        },
    }
}

fn main() {
    println!(
        "{:<22}{:>10}{:>12}{:>12}{:>12}",
        "cluster", "entries", "generate", "zip", "size"
    );
    for (control_planes, workers) in [(1, 2), (3, 100), (3, 1_000)] {
        let raw = raw(control_planes, workers);
        let inputs = PkiInputs {
            seed: [1; 32],
            issued_at: 1_790_000_000,
            existing_cas: Vec::new(),
        };
        let start = Instant::now();
        let bundle = Bundle::generate(&raw, &inputs).expect("bundle");
        let generated = start.elapsed();
        let start = Instant::now();
        let zip = bundle.to_zip().expect("zip");
        let zipped = start.elapsed();
        println!(
            "{:<22}{:>10}{:>10.1} ms{:>10.1} ms{:>9.2} MB",
            format!("{control_planes} + {workers}"),
            bundle.entries.len(),
            generated.as_secs_f64() * 1000.0,
            zipped.as_secs_f64() * 1000.0,
            zip.len() as f64 / 1e6
        );
    }
}
