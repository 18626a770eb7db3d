//! Benchmark: `kbundle apply` to 1, 5 and 20 sshd test nodes (the lab of
//! `kbundle_tests::lab`; needs root), printing wall times and the 20-node/1-node ratio (goal
//! ≤ 1.3), then the upload throughput of `kbundle apply --skip-phase …` (upload only) against
//! plain `scp -r` of the same files to the same nodes in the same run.
//! `cargo bench -p kbundle-cli --bench apply`.

use std::process::Command;
use std::time::{Duration, Instant};

use kbundle_core::bundle::Bundle;
use kbundle_core::config::RawClusterConfig;
use kbundle_core::pki::PkiInputs;
use kbundle_tests::kubernetes;
use kbundle_tests::lab::{Lab, SUDO_USER};

const SKIP_API: &str =
    "wait-apiserver,prune,node-ranges,controller-manager,addons,kube-vip,validate";

fn setup(nodes: usize) -> (Lab, String, Bundle) {
    let lab = Lab::new(&format!("bench{nodes}"), nodes);
    // The lab's real node runtime (the real kubelet, static pods run with the real binaries).
    let kbundle = std::path::Path::new(env!("CARGO_BIN_EXE_kbundle"));
    kubernetes::install_node_runtime(
        &lab,
        &kubernetes::Binaries::locate(),
        &kubernetes::lab_kubelet(kbundle),
    );
    let mut yaml = format!(
        "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: bench}}\nspec:\n  kubernetesVersion: \"{}\"\n  ssh: {{user: {SUDO_USER}, identityFile: {}}}\n  nodes:\n",
        kubernetes::KUBERNETES_VERSION.trim_start_matches('v'),
        lab.client_key().display()
    );
    for index in 1..=nodes {
        let roles = if index == 1 {
            "[control-plane]"
        } else {
            "[worker]"
        };
        yaml.push_str(&format!(
            "    - {{name: {}, address: {}, roles: {roles}}}\n",
            lab.node_name(index),
            lab.node_address(index)
        ));
    }
    let raw = RawClusterConfig::from_yaml(&yaml).expect("cluster");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let bundle = Bundle::generate(
        &raw,
        &PkiInputs {
            seed: [2; 32],
            issued_at: now,
            existing_cas: Vec::new(),
        },
    )
    .expect("bundle");
    let zip = lab.scratch_dir().join("bench.zip");
    std::fs::write(&zip, bundle.to_zip().expect("zip")).expect("write");
    (lab, zip.display().to_string(), bundle)
}

fn apply(lab: &Lab, zip: &str, skip: &str) -> Duration {
    let known_hosts = lab.known_hosts().display().to_string();
    let log = lab.scratch_dir().join("log").display().to_string();
    let start = Instant::now();
    let output = lab
        .command(env!("CARGO_BIN_EXE_kbundle"))
        .args([
            "apply",
            zip,
            "--ssh-config",
            "/dev/null",
            "--known-hosts",
            &known_hosts,
            "--skip-phase",
            skip,
            "--log",
            &log,
            "--ignore-preflight",
            "all",
            // The lab nodes' binaries are stand-ins: nothing is fetched here.
            "--no-fetch",
        ])
        .output()
        .expect("kbundle runs");
    let elapsed = start.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn main() {
    let mut times = Vec::new();
    println!("{:<10}{:>12}{:>14}", "nodes", "apply", "no-op again");
    for nodes in [1, 5, 20] {
        let (lab, zip, _) = setup(nodes);
        let first = apply(&lab, &zip, &format!("wait-etcd,{SKIP_API}"));
        let again = apply(&lab, &zip, &format!("wait-etcd,{SKIP_API}"));
        println!(
            "{nodes:<10}{:>10.2} s{:>12.2} s",
            first.as_secs_f64(),
            again.as_secs_f64()
        );
        times.push(first);
    }
    let ratio = times[2].as_secs_f64() / times[0].as_secs_f64();
    println!(
        "20-node / 1-node: {ratio:.2} (goal ≤ 1.3: {})",
        if ratio <= 1.3 { "met" } else { "NOT met" }
    );

    // Upload throughput: kbundle (connect + upload, checksums verified on the node) against scp
    // of the same node folders, 20 nodes, same lab.
    let (lab, zip, bundle) = setup(20);
    let bytes: usize = bundle
        .entries
        .iter()
        .filter(|e| e.path.starts_with("nodes/"))
        .map(|e| e.contents.len())
        .sum();
    let ours = apply(
        &lab,
        &zip,
        &format!("preflight,install,start,wait-etcd,{SKIP_API}"),
    );
    let unpacked = lab.scratch_dir().join("unpacked");
    for entry in &bundle.entries {
        let path = unpacked.join(&entry.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(path, &entry.contents).expect("write");
    }
    let start = Instant::now();
    std::thread::scope(|scope| {
        for index in 1..=20 {
            let (lab, unpacked) = (&lab, &unpacked);
            scope.spawn(move || {
                let mut scp: Command = lab.command("scp");
                scp.args(["-q", "-r"]).args(lab.ssh_options());
                scp.arg(unpacked.join("nodes").join(lab.node_name(index)));
                scp.arg(format!("{SUDO_USER}@{}:scp-copy", lab.node_address(index)));
                assert!(scp.status().expect("scp runs").success());
            });
        }
    });
    let theirs = start.elapsed();
    let mb = bytes as f64 / 1e6;
    println!(
        "upload to 20 nodes, {mb:.1} MB: kbundle {:.2} s ({:.1} MB/s, including connect and on-node checksums), scp -r {:.2} s ({:.1} MB/s); ratio {:.2}",
        ours.as_secs_f64(),
        mb / ours.as_secs_f64(),
        theirs.as_secs_f64(),
        mb / theirs.as_secs_f64(),
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}
