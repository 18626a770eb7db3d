//! Benchmark: `kbundle apply` against `ansible-playbook` with the playbook of `kbundle export
//! ansible` (ansible-core from PyPI, forks = the node count), side by side on the same lab
//! nodes running the real control plane (`kbundle_tests::kubernetes`; needs root, the
//! binaries of scripts/build-kubernetes.sh and ansible-core in `.venv-tests`), for 1, 5 and 20
//! nodes (one control-plane node, the rest workers): the first run, to every node Ready with
//! its planned pod range, and the no-op re-run. Between the two tools the nodes are reset
//! (`kbundle reset --wipe-data`), so each installs a fresh cluster. It prints both times and
//! their ratio (goal: kbundle at least 3× faster on 20 nodes, first run and re-run); it asserts
//! only that every run succeeded and that each re-run changed nothing.
//! `cargo bench -p kbundle-cli --bench export` (`KBUNDLE_BENCH_QUICK=1`: 1 node only;
//! `KBUNDLE_BENCH_NODES=20`: the sizes given). Under the figures, apply's phases on the first
//! run, to see where its time goes.

use std::path::Path;
use std::time::{Duration, Instant};

use kbundle_tests::ansible;
use kbundle_tests::kubernetes::{ClusterLab, ClusterShape};

const KBUNDLE: &str = env!("CARGO_BIN_EXE_kbundle");

/// The wall times of one tool on one cluster.
struct Timed {
    first: Duration,
    again: Duration,
    /// apply's phases on the first run, each with its slowest node's seconds (the nodes of a
    /// phase run at once, so that is about the phase's wall time), in run order.
    phases: Vec<(String, f64)>,
    /// The same of the re-run.
    phases_again: Vec<(String, f64)>,
}

/// The phases of an apply's output (`== phase: title`, then `   node: phase ok (1.2 s): …`),
/// each with its slowest node's seconds.
fn phase_times(stderr: &str) -> Vec<(String, f64)> {
    let mut phases: Vec<(String, f64)> = Vec::new();
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix("== ") {
            let name = rest.split(':').next().unwrap_or(rest);
            phases.push((name.to_owned(), 0.0));
            continue;
        }
        let seconds = line
            .split_once(" ok (")
            .and_then(|(_, rest)| rest.split_once(" s)"))
            .and_then(|(seconds, _)| seconds.parse::<f64>().ok());
        if let (Some(seconds), Some((_, slowest))) = (seconds, phases.last_mut()) {
            *slowest = slowest.max(seconds);
        }
    }
    phases
}

fn apply(cluster: &ClusterLab, zip: &Path, nodes: usize) -> Timed {
    let started = Instant::now();
    let run = cluster.apply(zip, &["--wait-timeout", "600"]);
    let first = started.elapsed();
    assert!(run.success(), "kbundle apply: {run}");
    let phases = phase_times(&run.stderr);
    let started = Instant::now();
    let run = cluster.apply(zip, &["--wait-timeout", "600"]);
    let again = started.elapsed();
    assert!(run.success(), "kbundle apply again: {run}");
    let phases_again = phase_times(&run.stderr);
    assert_eq!(
        run.stderr
            .matches("already installed: nothing changed")
            .count(),
        nodes,
        "the re-apply changed files: {run}"
    );
    Timed {
        first,
        again,
        phases,
        phases_again,
    }
}

fn playbook(cluster: &ClusterLab, export: &Path, forks: usize) -> Timed {
    let run = |what: &str| {
        let mut command = ansible::playbook_command(&cluster.lab, export);
        command.args(["--forks", &forks.to_string()]);
        let started = Instant::now();
        let output = command.output().expect("ansible-playbook runs");
        let elapsed = started.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "ansible-playbook ({what}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        (elapsed, ansible::recap(&stdout))
    };
    let (first, _) = run("first run");
    let (again, recap) = run("re-run");
    assert!(
        recap.values().all(|counts| counts["changed"] == 0),
        "the re-run changed something: {recap:?}"
    );
    Timed {
        first,
        again,
        phases: Vec::new(),
        phases_again: Vec::new(),
    }
}

fn reset(cluster: &ClusterLab, zip: &Path) {
    let run = cluster.kbundle_run(&[
        "reset",
        &zip.display().to_string(),
        "--wipe-data",
        "--ssh-config",
        "/dev/null",
        "--known-hosts",
        &cluster.lab.known_hosts().display().to_string(),
    ]);
    assert!(run.success(), "kbundle reset: {run}");
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let sizes: Vec<usize> = if let Ok(sizes) = std::env::var("KBUNDLE_BENCH_NODES") {
        sizes
            .split(',')
            .map(|size| match size.trim().parse() {
                Ok(size) if size > 0 => size,
                _ => panic!("KBUNDLE_BENCH_NODES: `{size}` is not a node count (e.g. 1,5,20)"),
            })
            .collect()
    } else if std::env::var_os("KBUNDLE_BENCH_QUICK").is_some() {
        vec![1]
    } else {
        vec![1, 5, 20]
    };
    println!(
        "export: kbundle apply against ansible-playbook {} (forks = nodes) with the exported playbook, the same lab nodes, the real control plane, this machine's cores",
        ansible::ANSIBLE_CORE_VERSION
    );
    println!(
        "{:<7}{:>11}{:>11}{:>8}   {:>14}{:>11}{:>8}",
        "nodes", "apply", "ansible", "ratio", "no-op: apply", "ansible", "ratio"
    );
    let mut last = None;
    for &nodes in &sizes {
        let shape = ClusterShape::new(&format!("bench-export-{nodes}"), 1, nodes - 1);
        let cluster = ClusterLab::new(shape.clone(), nodes, Path::new(KBUNDLE));
        let zip = cluster.generate(&shape.cluster_yaml(&cluster.lab), "bench");
        let export = cluster.lab.scratch_dir().join("exported");
        let run = cluster.kbundle_run(&[
            "export",
            "ansible",
            &zip.display().to_string(),
            "-o",
            &export.display().to_string(),
        ]);
        assert!(run.success(), "kbundle export: {run}");

        let ours = apply(&cluster, &zip, nodes);
        reset(&cluster, &zip);
        let theirs = playbook(&cluster, &export, nodes);
        let ratio = |ours: Duration, theirs: Duration| theirs.as_secs_f64() / ours.as_secs_f64();
        println!(
            "{nodes:<7}{:>9.1} s{:>9.1} s{:>7.1}×   {:>12.1} s{:>9.1} s{:>7.1}×",
            ours.first.as_secs_f64(),
            theirs.first.as_secs_f64(),
            ratio(ours.first, theirs.first),
            ours.again.as_secs_f64(),
            theirs.again.as_secs_f64(),
            ratio(ours.again, theirs.again),
        );
        // Where apply's time goes, the phases over a tenth of a second.
        for (run, phases) in [("first run", &ours.phases), ("re-run", &ours.phases_again)] {
            let slow: Vec<String> = phases
                .iter()
                .filter(|(_, seconds)| *seconds >= 0.1)
                .map(|(phase, seconds)| format!("{phase} {seconds:.1}"))
                .collect();
            println!("       apply's {run}, phases (s): {}", slow.join(", "));
        }
        last = Some((
            nodes,
            ratio(ours.first, theirs.first),
            ratio(ours.again, theirs.again),
        ));
    }
    if let Some((nodes, first, again)) = last {
        let met = first >= 3.0 && again >= 3.0;
        println!(
            "{nodes} nodes: kbundle {first:.1}× faster on the first run, {again:.1}× on the re-run (goal ≥ 3× on 20 nodes, both: {})",
            if nodes < 20 {
                "not measured (quick run)"
            } else if met {
                "met"
            } else {
                "NOT met"
            }
        );
    }
}
