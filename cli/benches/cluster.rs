//! Benchmark: wall time from `kbundle apply` to every node Ready, on the lab's real control
//! plane (`kbundle_tests::kubernetes`; needs root and the binaries of
//! scripts/build-kubernetes.sh), for one control-plane node + 2 workers, three control-plane
//! nodes behind haproxy + 1 worker, and one control-plane node + 20 hollow nodes, split per
//! phase; then the no-op re-apply, and the build time of the Kubernetes binaries, cold (as
//! recorded when the cache was built) and warm (measured now: a run that builds nothing).
//! It prints figures; it asserts only that each apply succeeded.
//! `cargo bench -p kbundle-cli --bench cluster` (`KBUNDLE_BENCH_QUICK=1`: the 1+2 cluster only).

use std::io::BufRead as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use kbundle_tests::kubernetes::{Binaries, ClusterLab, ClusterShape, KUBERNETES_VERSION};

const KBUNDLE: &str = env!("CARGO_BIN_EXE_kbundle");

/// One measured apply: each phase's wall time in order, the total to every node Ready, and the
/// no-op re-apply.
struct Measured {
    phases: Vec<(String, f64)>,
    to_ready: f64,
    reapply: f64,
}

fn measure(shape: ClusterShape, lab_nodes: usize, load_balancer: bool) -> Measured {
    let mut cluster = ClusterLab::new(shape, lab_nodes, Path::new(KBUNDLE));
    if load_balancer {
        cluster.start_load_balancer();
    }
    let zip = cluster.generate(&cluster.shape.cluster_yaml(&cluster.lab), "bench");
    let admin = cluster.extract(&zip, "admin.conf");

    let mut command = cluster.apply_command(&zip, &["--output", "json", "--wait-timeout", "300"]);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().expect("kbundle apply starts");
    let stderr = child.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut starts: Vec<(String, Instant)> = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.unwrap_or_default();
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if event["event"] == "phase" {
            starts.push((
                event["phase"].as_str().unwrap_or_default().to_owned(),
                Instant::now(),
            ));
        }
    }
    let status = child.wait().expect("apply ends");
    let ended = Instant::now();
    assert!(
        status.success(),
        "apply failed:\n{}",
        errors.join().unwrap_or_default()
    );
    cluster.wait_ready(&admin, Duration::from_secs(300));
    let to_ready = started.elapsed().as_secs_f64();
    let mut phases = Vec::new();
    for (index, (phase, at)) in starts.iter().enumerate() {
        let next = starts.get(index + 1).map_or(ended, |(_, next)| *next);
        phases.push((phase.clone(), next.duration_since(*at).as_secs_f64()));
    }
    let again = Instant::now();
    let reapply = cluster.apply(&zip, &["--wait-timeout", "300"]);
    assert!(reapply.success(), "re-apply failed:\n{reapply}");
    Measured {
        phases,
        to_ready,
        reapply: again.elapsed().as_secs_f64(),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let quick = std::env::var_os("KBUNDLE_BENCH_QUICK").is_some();
    let binaries = Binaries::locate();

    let mut scenarios: Vec<(&str, ClusterShape, usize, bool)> = vec![(
        "1 control plane + 2 workers",
        ClusterShape::new("bench-1-2", 1, 2),
        3,
        false,
    )];
    if !quick {
        scenarios.push((
            "HA: 3 control planes (haproxy) + 1",
            ClusterShape::new("bench-ha", 3, 1),
            4,
            true,
        ));
        scenarios.push((
            "1 control plane + 20 hollow nodes",
            ClusterShape::new("bench-1-20", 1, 20),
            21,
            false,
        ));
    }
    println!(
        "cluster: kbundle apply to every node Ready, Kubernetes {KUBERNETES_VERSION} (real components, lab nodes on this machine's 2 cores)"
    );
    for (label, shape, lab_nodes, load_balancer) in scenarios {
        let measured = measure(shape, lab_nodes, load_balancer);
        println!(
            "  {label}: {:.1} s to every node Ready; no-op re-apply {:.1} s",
            measured.to_ready, measured.reapply
        );
        let line: Vec<String> = measured
            .phases
            .iter()
            .map(|(phase, seconds)| format!("{phase} {seconds:.1}"))
            .collect();
        println!("    per phase (s): {}", line.join(", "));
    }

    // The binaries: cold as recorded when the cache was built, warm measured now.
    let recorded = std::fs::read_to_string(binaries.kubernetes.join("../build-time"))
        .unwrap_or_else(|_| "not recorded".into());
    let script = kbundle_tests::repository_root().join("scripts/build-kubernetes.sh");
    let warm = Instant::now();
    let rebuilt = std::process::Command::new(&script)
        .stdout(Stdio::null())
        .status()
        .expect("build script runs");
    assert!(rebuilt.success(), "{} failed", script.display());
    println!(
        "  binaries {KUBERNETES_VERSION}: cold build {} (recorded in the cache); warm run {:.1} s (builds nothing)",
        recorded.trim(),
        warm.elapsed().as_secs_f64()
    );
}
