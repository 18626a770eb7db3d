//! Benchmark: generate a bundle (validate, plan, PKI, render, lay out) and write its zip, for
//! 1 + 2, 3 + 100 and 3 + 1,000 nodes (ECDSA). Prints time and size.
//! `cargo bench -p kbundle-core --bench bundle`.

mod common;

use std::time::Instant;

use kbundle_core::bundle::Bundle;
use kbundle_core::pki::PkiInputs;

fn main() {
    println!(
        "{:<22}{:>10}{:>12}{:>12}{:>12}",
        "cluster", "entries", "generate", "zip", "size"
    );
    for (control_planes, workers) in [(1, 2), (3, 100), (3, 1_000)] {
        let raw = common::cluster(control_planes, workers, false);
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
