//! Benchmark: issuing the whole PKI (every CA, certificate, kubeconfig and the service-account
//! key) for 1 control-plane + 2 workers, 3 + 100 and 3 + 1,000 nodes, ECDSA P-256 and RSA-2048,
//! side by side with the openssl command line issuing the same set (`openssl-pki.sh` beside
//! this file). Prints both times and the ratio, and the cost per certificate against the bare
//! cost of one key generation plus one signature.
//!
//! Goals: ≥100× faster than openssl for ECDSA, ≥2× for RSA-2048; per certificate within 2× of
//! key generation + signature.
//!
//! `cargo bench -p kbundle-core --bench pki` runs everything (several minutes, RSA 3 + 1,000
//! dominates); `KBUNDLE_BENCH_QUICK=1` runs the small sizes only, as CI does.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kbundle_core::config::{ClusterConfig, KeyAlgorithm};
use kbundle_core::pki::inventory::CERTIFICATE_AUTHORITIES;
use kbundle_core::pki::{CertificateAuthority, KeyPair, LeafRequest, Pki, PkiInputs, Validity};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const ISSUED_AT: i64 = 1_790_000_000;

fn cluster(control_planes: usize, workers: usize, algorithm: KeyAlgorithm) -> ClusterConfig {
    let mut raw = common::cluster(control_planes, workers, false);
    raw.spec.certificates.key_algorithm = Some(algorithm.name().into());
    ClusterConfig::from_raw(&raw)
        .expect("benchmark cluster is valid")
        .config
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

fn format_time(duration: Duration) -> String {
    let seconds = seconds(duration);
    if seconds < 1.0 {
        format!("{:.1} ms", seconds * 1000.0)
    } else {
        format!("{seconds:.2} s")
    }
}

/// Best of `runs` issues of the whole PKI; returns the time and the number of certificates
/// and keys issued.
fn time_kbundle(config: &ClusterConfig, runs: usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut count = 0;
    for run in 0..runs {
        let inputs = PkiInputs {
            seed: [run as u8; 32],
            issued_at: ISSUED_AT,
            existing_cas: Vec::new(),
        };
        let start = Instant::now();
        let pki = Pki::issue(config, &inputs).expect("PKI issues");
        best = best.min(start.elapsed());
        count = pki.authorities.len() + pki.certificates.len() + pki.kubeconfigs.len() + 1;
    }
    (best, count)
}

fn time_openssl(control_planes: usize, workers: usize, algorithm: KeyAlgorithm) -> Duration {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/openssl-pki.sh");
    let out = std::env::temp_dir().join(format!("kbundle-bench-openssl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let kind = if algorithm == KeyAlgorithm::EcdsaP256 {
        "ecdsa"
    } else {
        "rsa"
    };
    let start = Instant::now();
    let status = Command::new("bash")
        .arg(&script)
        .args([control_planes.to_string(), workers.to_string(), kind.into()])
        .arg(&out)
        .status()
        .expect("bash runs the openssl script");
    let elapsed = start.elapsed();
    assert!(status.success(), "openssl-pki.sh failed");
    std::fs::remove_dir_all(&out).expect("clean up");
    elapsed
}

/// Bare cost of one key generation and of one leaf signature, averaged over `count`.
fn bare_costs(algorithm: KeyAlgorithm, count: usize) -> (Duration, Duration) {
    let mut rng = ChaCha20Rng::from_seed([42; 32]);
    let start = Instant::now();
    let keys: Vec<KeyPair> = (0..count)
        .map(|_| KeyPair::generate(algorithm, &mut rng).expect("key"))
        .collect();
    let keygen = start.elapsed() / count as u32;
    let validity = Validity {
        issued_at: ISSUED_AT,
        hours: 8760,
    };
    let ca_key = KeyPair::generate(algorithm, &mut rng).expect("key");
    let ca = CertificateAuthority::generate(
        &CERTIFICATE_AUTHORITIES[0],
        ca_key,
        Validity {
            issued_at: ISSUED_AT,
            hours: 87600,
        },
        &mut rng,
    )
    .expect("CA");
    let request = LeafRequest {
        common_name: "bench".into(),
        organization: None,
        usage: kbundle_core::pki::inventory::Usage::Client,
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
    };
    let start = Instant::now();
    for key in &keys {
        std::hint::black_box(ca.issue(&request, key, validity, &mut rng).expect("leaf"));
    }
    let sign = start.elapsed() / count as u32;
    (keygen, sign)
}

fn main() {
    let quick = std::env::var_os("KBUNDLE_BENCH_QUICK").is_some();
    let sizes: &[(usize, usize)] = &[(1, 2), (3, 100), (3, 1_000)];
    println!("whole PKI: kbundle (native, best of runs) vs openssl command line (one run)");
    println!(
        "{:<34}{:>8}{:>12}{:>12}{:>10}",
        "cluster", "certs", "kbundle", "openssl", "ratio"
    );
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
        for &(control_planes, workers) in sizes {
            let heavy = algorithm != KeyAlgorithm::EcdsaP256 && workers > 2;
            if quick && (workers > 100 || heavy) {
                continue;
            }
            let config = cluster(control_planes, workers, algorithm);
            let runs = if algorithm == KeyAlgorithm::EcdsaP256 {
                5
            } else {
                1
            };
            let (ours, count) = time_kbundle(&config, runs);
            let theirs = time_openssl(control_planes, workers, algorithm);
            println!(
                "{:<34}{count:>8}{:>12}{:>12}{:>9.0}x",
                format!("{control_planes} + {workers}, {}", algorithm.name()),
                format_time(ours),
                format_time(theirs),
                seconds(theirs) / seconds(ours),
            );
        }
    }
    println!();
    println!("per certificate (single thread), against the bare cost of its key and signature:");
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
        let samples = if algorithm == KeyAlgorithm::EcdsaP256 {
            200
        } else {
            8
        };
        let (keygen, sign) = bare_costs(algorithm, samples);
        // One certificate issued as part of a whole 1 + 2 PKI, single-threaded for a fair
        // comparison with the single-threaded bare costs.
        let config = cluster(1, 2, algorithm);
        let start = Instant::now();
        let mut count = 0;
        let runs = if algorithm == KeyAlgorithm::EcdsaP256 {
            20
        } else {
            1
        };
        for run in 0..runs {
            let inputs = PkiInputs {
                seed: [run as u8; 32],
                issued_at: ISSUED_AT,
                existing_cas: Vec::new(),
            };
            let pki = Pki::issue(&config, &inputs).expect("PKI");
            count += pki.authorities.len() + pki.certificates.len() + pki.kubeconfigs.len() + 1;
        }
        let per_certificate = start.elapsed() / count as u32;
        let bare = keygen + sign;
        println!(
            "{:<12} key {:>10}  sign {:>10}  bare {:>10}  kbundle per certificate {:>10}  ({:.2}x bare{})",
            algorithm.name(),
            format!("{:.3} ms", seconds(keygen) * 1000.0),
            format!("{:.3} ms", seconds(sign) * 1000.0),
            format!("{:.3} ms", seconds(bare) * 1000.0),
            format!("{:.3} ms", seconds(per_certificate) * 1000.0),
            seconds(per_certificate) / seconds(bare),
            if algorithm == KeyAlgorithm::EcdsaP256 {
                ""
            } else {
                "; keys made on all cores"
            },
        );
    }
}
