//! Benchmark: validation and network planning for 10, 1,000 and 5,000 nodes, single- and
//! dual-stack. Prints figures (median and best of repeated runs); goal: 5,000 dual-stack nodes
//! planned in under 10 ms. Run with `cargo bench -p kbundle-core --bench plan`.
//!
//! Node addresses come from 198.18.0.0/15 (RFC 2544, set aside for benchmarks) and
//! 2001:db8::/32 (documentation); nothing here touches a network.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use kbundle_core::config::ClusterConfig;
use kbundle_core::plan::NetworkPlan;

/// Runs `work` repeatedly for about `budget` (at least 5 times) and returns (median, best).
fn measure(budget: Duration, mut work: impl FnMut()) -> (Duration, Duration) {
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 5 || (start.elapsed() < budget && samples.len() < 10_000) {
        let run = Instant::now();
        work();
        samples.push(run.elapsed());
    }
    samples.sort();
    (samples[samples.len() / 2], samples[0])
}

fn millis(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1000.0)
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("KBUNDLE_BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
    );
    println!(
        "{:<28}{:>14}{:>14}{:>14}{:>14}",
        "cluster", "validate", "plan", "plan best", "total"
    );
    let mut goal_met = true;
    for dual_stack in [false, true] {
        for nodes in [10, 1_000, 5_000] {
            let raw = common::cluster(3, nodes - 3, dual_stack);
            let config = ClusterConfig::from_raw(&raw)
                .expect("benchmark cluster is valid")
                .config;
            let (validate, _) = measure(budget, || {
                black_box(ClusterConfig::from_raw(black_box(&raw)).is_ok());
            });
            let (plan, plan_best) = measure(budget, || {
                black_box(NetworkPlan::new(black_box(&config)));
            });
            let label = format!(
                "{nodes} nodes, {}",
                if dual_stack { "dual-stack" } else { "IPv4" }
            );
            println!(
                "{label:<28}{:>14}{:>14}{:>14}{:>14}",
                millis(validate),
                millis(plan),
                millis(plan_best),
                millis(validate + plan)
            );
            if dual_stack && nodes == 5_000 {
                goal_met = plan < Duration::from_millis(10);
            }
        }
    }
    println!(
        "goal (5,000 dual-stack nodes planned in under 10 ms): {}",
        if goal_met { "met" } else { "NOT met" }
    );
}
