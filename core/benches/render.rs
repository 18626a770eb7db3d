//! Benchmark: rendering every file (PKI files placed per node, static pods, node configuration,
//! addons) for 3 control-plane + 1,000 worker nodes. Prints the time of the PKI issue and of the
//! render separately. `cargo bench -p kbundle-core --bench render`.

mod common;

use std::time::Instant;

use kbundle_core::config::ClusterConfig;
use kbundle_core::pki::{Pki, PkiInputs};
use kbundle_core::plan::NetworkPlan;
use kbundle_core::render::render;

fn main() {
    let (control_planes, workers) = (3, 1_000);
    let raw = common::cluster(control_planes, workers, false);
    let config = ClusterConfig::from_raw(&raw).expect("valid").config;
    let plan = NetworkPlan::new(&config);
    let issued_at = 1_790_000_000;
    let start = Instant::now();
    let pki = Pki::issue(
        &config,
        &PkiInputs {
            seed: [9; 32],
            issued_at,
            existing_cas: Vec::new(),
        },
    )
    .expect("PKI");
    let pki_time = start.elapsed();
    let mut best = std::time::Duration::MAX;
    let mut files = 0;
    let mut bytes = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let rendered = render(&config, &plan, &pki, issued_at);
        best = best.min(start.elapsed());
        files = rendered.nodes.iter().map(|n| n.files.len()).sum::<usize>() + rendered.addons.len();
        bytes = rendered
            .nodes
            .iter()
            .flat_map(|n| &n.files)
            .map(|f| f.contents.len())
            .sum::<usize>()
            + rendered
                .addons
                .iter()
                .map(|a| a.contents.len())
                .sum::<usize>();
    }
    println!(
        "render {control_planes} + {workers} nodes: {files} files, {:.1} MB, {:.1} ms (best of 5); PKI issue {:.1} ms",
        bytes as f64 / 1e6,
        best.as_secs_f64() * 1000.0,
        pki_time.as_secs_f64() * 1000.0
    );
}
