//! Bundle tests: round trip, byte-identical output, verification, and every hostile zip.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;

use super::read::{Limits, ReadError};
use super::*;
use crate::config::{ExampleKind, example_yaml};

const ISSUED_AT: i64 = 1_790_000_000;
const NOW: i64 = ISSUED_AT + 3600;

fn inputs(seed: u8) -> PkiInputs {
    PkiInputs {
        seed: [seed; 32],
        issued_at: ISSUED_AT,
        existing_cas: Vec::new(),
    }
}

fn generate(kind: ExampleKind, seed: u8) -> Bundle {
    let raw = RawClusterConfig::from_yaml(&example_yaml(kind)).expect("example parses");
    Bundle::generate(&raw, &inputs(seed)).expect("bundle generates")
}

fn read(bytes: &[u8]) -> Result<Bundle, ReadError> {
    Bundle::from_zip(bytes, None, Limits::default())
}

#[test]
fn round_trip_reads_back_the_same_bundle_and_verifies() {
    for kind in [ExampleKind::Basic, ExampleKind::HighAvailability] {
        let bundle = generate(kind, 1);
        let zip = bundle.to_zip().expect("zip");
        let back = read(&zip).expect("reads back");
        assert_eq!(back, bundle);
        let report = verify::verify(&back, NOW);
        assert!(report.is_ok(), "{:#?}", report.problems);
        assert!(
            report.certificates > 10 && report.kubeconfigs > 5,
            "{report:?}"
        );
    }
}

#[test]
fn equal_inputs_give_byte_identical_zips() {
    let first = generate(ExampleKind::HighAvailability, 2).to_zip().unwrap();
    let second = generate(ExampleKind::HighAvailability, 2).to_zip().unwrap();
    assert_eq!(first, second);
    assert_ne!(
        first,
        generate(ExampleKind::HighAvailability, 3).to_zip().unwrap()
    );
}

#[test]
fn layout_holds_the_contract_files_with_their_modes() {
    let bundle = generate(ExampleKind::Basic, 4);
    for path in [
        "bundle.json",
        "cluster.yaml",
        "plan.json",
        "plan.txt",
        "artifacts.json",
        "README.md",
        "admin.conf",
        "addons/00-nodes.yaml",
    ] {
        assert!(bundle.entry(path).is_some(), "missing {path}");
    }
    let mode = |path: &str| {
        bundle
            .entry(path)
            .unwrap_or_else(|| panic!("no {path}"))
            .mode
    };
    assert_eq!(mode("nodes/cp1/install.sh"), 0o755);
    assert_eq!(
        mode("nodes/cp1/rootfs/etc/kubernetes/pki/apiserver.key"),
        0o600
    );
    assert_eq!(
        mode("nodes/cp1/rootfs/etc/kubernetes/pki/apiserver.crt"),
        0o644
    );
    assert_eq!(mode("admin.conf"), 0o600);
    assert_eq!(mode("addons/20-bootstrap.yaml"), 0o600);
    let workers: Vec<&str> = bundle
        .entries
        .iter()
        .map(|e| e.path.as_str())
        .filter(|p| p.starts_with("nodes/worker1/rootfs/") && p.ends_with(".key"))
        .collect();
    assert!(workers.is_empty(), "a worker holds keys: {workers:?}");
    let listed: Vec<&str> = bundle
        .manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(listed.len(), bundle.entries.len() - 1);
    assert!(listed.windows(2).all(|pair| pair[0] < pair[1]));
}

#[test]
fn normalised_config_keeps_no_secrets() {
    let yaml = example_yaml(ExampleKind::Basic).replace(
        "  certificates:\n",
        "  registry:\n    credentials: [{registry: registry.example.com, username: u, password: hunter2}]\n  proxy: {http: \"http://user:s3cret@proxy.example.com:3128\"}\n  certificates:\n",
    );
    let raw = RawClusterConfig::from_yaml(&yaml).unwrap();
    let bundle = Bundle::generate(&raw, &inputs(5)).unwrap();
    let normalised =
        String::from_utf8(bundle.entry("cluster.yaml").unwrap().contents.clone()).unwrap();
    assert!(
        !normalised.contains("hunter2") && !normalised.contains("s3cret"),
        "{normalised}"
    );
    // As the bundle's record, it validates (apply, renew and join-token read it); as a cluster
    // to make a bundle of, its placeholders are refused at their fields, so that a cluster
    // continued from it (the page's "continue the form") gets its secrets back first.
    assert!(
        ClusterConfig::from_bundle_yaml(&normalised).is_ok(),
        "the normalised config validates as the bundle's record"
    );
    let refused = ClusterConfig::from_yaml(&normalised).expect_err("placeholders refused");
    let paths: Vec<&str> = refused.0.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        ["spec.registry.credentials[0].password", "spec.proxy.http"],
        "{refused}"
    );
    assert!(
        !refused.to_string().contains("REDACTED:REDACTED"),
        "{refused}"
    );
    // And a bundle with secrets renews.
    let renewed = bundle
        .renew_certificates(&PkiInputs {
            issued_at: ISSUED_AT + 100 * 24 * 3600,
            ..inputs(6)
        })
        .expect("renews");
    assert_eq!(renewed.entry("cluster.yaml"), bundle.entry("cluster.yaml"));
}

#[test]
fn verify_finds_a_tampered_certificate_and_a_misplaced_key() {
    let mut bundle = generate(ExampleKind::HighAvailability, 6);
    let other = generate(ExampleKind::HighAvailability, 7);
    let path = "nodes/cp2/rootfs/etc/kubernetes/pki/apiserver.crt";
    let foreign = other.entry(path).unwrap().contents.clone();
    bundle
        .entries
        .iter_mut()
        .find(|e| e.path == path)
        .unwrap()
        .contents = foreign;
    let key = bundle
        .entry("nodes/cp1/rootfs/etc/kubernetes/pki/etcd/server.key")
        .unwrap()
        .clone();
    bundle.entries.push(Entry {
        path: "nodes/worker1/rootfs/etc/kubernetes/pki/etcd/server.key".into(),
        ..key
    });
    let report = verify::verify(&bundle, NOW);
    let text = report.problems.join("\n");
    assert!(
        text.contains("cp2:/etc/kubernetes/pki/apiserver.crt: not signed by"),
        "{text}"
    );
    assert!(
        text.contains("cp2:/etc/kubernetes/pki/apiserver.key: does not match"),
        "{text}"
    );
    assert!(
        text.contains("worker1: holds /etc/kubernetes/pki/etcd/server.key"),
        "{text}"
    );
    let later = verify::verify(
        &generate(ExampleKind::Basic, 8),
        ISSUED_AT + 400 * 24 * 3600,
    );
    assert!(later.problems.iter().any(|p| p.contains("expired")));
}

/// A zip of `(name, contents)` entries with a matching bundle.json, for hostile cases.
fn crafted(entries: &[(&str, &[u8])], format_version: u32) -> Vec<u8> {
    let files: Vec<serde_json::Value> = entries
        .iter()
        .map(|(name, contents)| serde_json::json!({"path": name, "sha256": sha256_hex(contents), "mode": 0o644}))
        .collect();
    let manifest = serde_json::json!({
        "format_version": format_version, "generator": "test", "cluster_name": "x",
        "kubernetes_version": "v1.37.1", "control_plane_endpoint": "https://192.0.2.1:6443",
        "nodes": [], "files": files,
    });
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    // Stored, so that `patch` can find names and contents in the raw bytes.
    let options = SimpleFileOptions::default()
        .unix_permissions(0o644)
        .compression_method(zip::CompressionMethod::Stored);
    writer.start_file("bundle.json", options).unwrap();
    writer.write_all(manifest.to_string().as_bytes()).unwrap();
    for (name, contents) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(contents).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// Replaces every occurrence of `from` by `to` (same length) in the raw zip bytes, to write
/// names a well-behaved zip writer would not.
fn patch(mut bytes: Vec<u8>, from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let (from, to) = (from.as_bytes(), to.as_bytes());
    let mut index = 0;
    while index + from.len() <= bytes.len() {
        if &bytes[index..index + from.len()] == from {
            bytes[index..index + from.len()].copy_from_slice(to);
        }
        index += 1;
    }
    bytes
}

#[test]
fn a_well_formed_crafted_zip_is_accepted() {
    // The control for the hostile cases below: the same construction, untouched, reads fine.
    assert!(read(&crafted(&[("readme.txt", b"hello")], 1)).is_ok());
}

#[test]
fn refuses_zip_slip_paths() {
    let zip = patch(crafted(&[("xx/evil", b"x")], 1), "xx/evil", "../evil");
    assert_eq!(read(&zip), Err(ReadError::UnsafePath("../evil".into())));
    let zip = patch(crafted(&[("etc/evil", b"x")], 1), "etc/evil", "/tc/evil");
    assert_eq!(read(&zip), Err(ReadError::UnsafePath("/tc/evil".into())));
    let zip = patch(crafted(&[("a/b", b"x")], 1), "a/b", "a\\b");
    assert!(matches!(read(&zip), Err(ReadError::UnsafePath(_))));
}

#[test]
fn refuses_links_and_directories() {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer
        .add_symlink("link", "/etc/shadow", SimpleFileOptions::default())
        .unwrap();
    let zip = writer.finish().unwrap().into_inner();
    assert_eq!(read(&zip), Err(ReadError::Link("link".into())));
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer
        .add_directory("dir/", SimpleFileOptions::default())
        .unwrap();
    let zip = writer.finish().unwrap().into_inner();
    assert!(matches!(
        read(&zip),
        Err(ReadError::NotAFile(_)) | Err(ReadError::UnsafePath(_))
    ));
}

#[test]
fn refuses_duplicate_names() {
    let zip = patch(
        crafted(&[("aaaa", b"1"), ("bbbb", b"2")], 1),
        "bbbb",
        "aaaa",
    );
    assert_eq!(read(&zip), Err(ReadError::DuplicateNames));
}

#[test]
fn refuses_oversize_entries_and_zip_bombs() {
    let big = vec![0u8; 3 << 20];
    let zip = crafted(&[("zeros", &big)], 1);
    let small_limit = Limits {
        max_entry_size: 1 << 20,
        ..Limits::default()
    };
    assert!(matches!(
        Bundle::from_zip(&zip, None, small_limit),
        Err(ReadError::TooLarge { .. })
    ));
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer
        .start_file(
            "bomb",
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
    writer.write_all(&big).unwrap();
    let zip = writer.finish().unwrap().into_inner();
    assert_eq!(read(&zip), Err(ReadError::Bomb("bomb".into())));
    let total = Limits {
        max_total_size: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        Bundle::from_zip(
            &crafted(&[("a", &[1u8; 600]), ("b", &[2u8; 600])], 1),
            None,
            total
        ),
        Err(ReadError::TotalTooLarge(1000))
    ));
}

#[test]
fn refuses_unknown_formats_and_index_mismatches() {
    assert_eq!(
        read(&crafted(&[], 2)),
        Err(ReadError::UnknownFormat { found: 2 })
    );
    // Contents changed behind the zip's back: its CRC catches it before our checksum does.
    let zip = patch(crafted(&[("file", b"good")], 1), "good", "evil");
    assert!(matches!(read(&zip), Err(ReadError::Corrupt(message)) if message.contains("file")));
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer
        .start_file("stray", SimpleFileOptions::default())
        .unwrap();
    writer.write_all(b"x").unwrap();
    let zip = writer.finish().unwrap().into_inner();
    assert_eq!(read(&zip), Err(ReadError::MissingManifest));
    let bundle = generate(ExampleKind::Basic, 9);
    let mut tampered = bundle.clone();
    tampered
        .entries
        .iter_mut()
        .find(|e| e.path == "plan.txt")
        .unwrap()
        .contents
        .push(b'!');
    assert_eq!(
        read(&tampered.to_zip().unwrap()),
        Err(ReadError::ChecksumMismatch("plan.txt".into()))
    );
    let mut extra = bundle.clone();
    extra.entries.push(Entry {
        path: "zz-extra".into(),
        contents: b"x".to_vec(),
        mode: 0o644,
    });
    assert_eq!(
        read(&extra.to_zip().unwrap()),
        Err(ReadError::Unlisted("zz-extra".into()))
    );
    let mut missing = bundle;
    missing.entries.retain(|e| e.path != "plan.txt");
    assert_eq!(
        read(&missing.to_zip().unwrap()),
        Err(ReadError::Missing("plan.txt".into()))
    );
}

#[test]
fn refuses_truncated_and_non_zip_input() {
    let zip = generate(ExampleKind::Basic, 10).to_zip().unwrap();
    assert!(matches!(
        read(&zip[..zip.len() / 2]),
        Err(ReadError::Corrupt(_))
    ));
    assert!(matches!(
        read(b"not a zip at all"),
        Err(ReadError::Corrupt(_))
    ));
}

#[cfg(feature = "encryption")]
#[test]
fn encrypted_bundles_need_their_passphrase() {
    let bundle = generate(ExampleKind::Basic, 11);
    let zip = bundle.to_encrypted_zip("correct horse").unwrap();
    assert_eq!(read(&zip), Err(ReadError::NeedsPassphrase));
    assert_eq!(
        Bundle::from_zip(&zip, Some("wrong"), Limits::default()),
        Err(ReadError::WrongPassphrase)
    );
    assert_eq!(
        Bundle::from_zip(&zip, Some("correct horse"), Limits::default()).unwrap(),
        bundle
    );
}

#[test]
fn join_holds_what_a_worker_shares_and_a_bootstrap_kubeconfig_with_the_token() {
    let bundle = generate(ExampleKind::Basic, 12);
    let config = ClusterConfig::from_yaml(&example_yaml(ExampleKind::Basic))
        .unwrap()
        .config;
    // The same inputs issue the same PKI: the token the addons hold.
    let token = Pki::issue(&config, &inputs(12))
        .unwrap()
        .bootstrap_token
        .token();
    let join: Vec<RenderedFile> = bundle.join_files();
    let worker = bundle.node_files("worker1");
    let mut expected: Vec<&str> = worker
        .iter()
        .map(|file| file.path.as_str())
        .filter(|path| {
            !matches!(
                *path,
                "/etc/kubernetes/kubelet.conf"
                    | "/etc/systemd/system/kubelet.service.d/99-kbundle.conf"
            )
        })
        .collect();
    expected.push("/etc/kubernetes/bootstrap-kubelet.conf");
    expected.sort_unstable();
    let paths: Vec<&str> = join.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(paths, expected);
    for file in &join {
        if let Some(same) = worker.iter().find(|w| w.path == file.path) {
            assert_eq!(file, same, "{} differs from the worker's", file.path);
        }
    }

    let conf = join
        .iter()
        .find(|file| file.path == "/etc/kubernetes/bootstrap-kubelet.conf")
        .unwrap();
    assert_eq!(conf.mode, 0o600);
    assert!(
        conf.contents.contains(&format!("token: {token}\n")),
        "no token"
    );
    let server = |text: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix("server: "))
            .map(str::to_owned)
    };
    let kubelet_conf = worker
        .iter()
        .find(|file| file.path == "/etc/kubernetes/kubelet.conf")
        .unwrap();
    assert_eq!(server(&conf.contents), server(&kubelet_conf.contents));
    assert_eq!(
        server(&conf.contents).as_deref(),
        Some(bundle.manifest.control_plane_endpoint.as_str())
    );
    assert!(
        conf.contents
            .contains("current-context: tls-bootstrap-token-user@demo\n")
    );
    assert!(conf.contents.contains("certificate-authority-data: "));
    // No node's identity: no key, no client certificate, no node's name.
    for file in &join {
        assert!(!file.path.ends_with(".key"), "{}", file.path);
        assert!(!file.contents.contains("PRIVATE KEY"), "{}", file.path);
        assert!(
            !file.contents.contains("client-certificate"),
            "{}",
            file.path
        );
        // Base64 and PEM bodies could hold any name by chance; the CA is the worker's anyway.
        let text: Vec<&str> = file
            .contents
            .lines()
            .filter(|line| !line.contains("-data: ") && !line.contains("token: "))
            .collect();
        for node in &bundle.manifest.nodes {
            assert!(
                file.path.ends_with(".crt") || !text.iter().any(|line| line.contains(&node.name)),
                "{} names {}",
                file.path,
                node.name
            );
        }
    }

    let mode = |path: &str| {
        bundle
            .entry(path)
            .unwrap_or_else(|| panic!("no {path}"))
            .mode
    };
    assert_eq!(mode("join/install.sh"), 0o755);
    assert_eq!(mode("join/SHA256SUMS"), 0o644);
    assert_eq!(
        mode("join/rootfs/etc/kubernetes/bootstrap-kubelet.conf"),
        0o600
    );
    let sums =
        String::from_utf8(bundle.entry("join/SHA256SUMS").unwrap().contents.clone()).unwrap();
    let listed: Vec<(String, String)> = sums
        .lines()
        .map(|line| {
            let (sum, path) = line.split_once("  ").expect("sha256sum format");
            (format!("/{path}"), sum.to_owned())
        })
        .collect();
    let actual: Vec<(String, String)> = join
        .iter()
        .map(|file| (file.path.clone(), sha256_hex(file.contents.as_bytes())))
        .collect();
    assert_eq!(listed, actual);
    // Not a node's: apply, which sends each node its nodes/<node>/, never sends join/.
    for file in bundle
        .manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("join/"))
    {
        assert_eq!(file.node, None, "{}", file.path);
    }
}

#[test]
fn the_readme_tells_how_to_join_with_the_join_folder_and_when_the_token_expires() {
    let bundle = generate(ExampleKind::Basic, 13);
    let readme = String::from_utf8(bundle.entry("README.md").unwrap().contents.clone()).unwrap();
    let section = &readme[readme
        .find("## Nodes that join later")
        .expect("the section")..];
    assert!(!readme.contains("kubeadm join"), "{section}");
    assert!(!readme.contains("discovery-token"), "{section}");
    assert!(
        section.contains("sh join/install.sh <name> <address>"),
        "{section}"
    );
    assert!(
        section.contains("kubectl --kubeconfig admin.conf get node <name>"),
        "{section}"
    );
    // 1_790_000_000 plus the example's certificate validity.
    let config = ClusterConfig::from_yaml(&example_yaml(ExampleKind::Basic))
        .unwrap()
        .config;
    let expiration = crate::render::addons::bootstrap_token_expiration(&config, ISSUED_AT);
    assert!(
        section.contains(&format!("expires at {expiration}")),
        "{section}"
    );
    assert!(section.contains("kube-controller-manager"), "{section}");
    // The token secret is only in the files that need it.
    let token = Pki::issue(&config, &inputs(13)).unwrap().bootstrap_token;
    assert!(!readme.contains(&token.secret));
}

#[test]
fn verify_finds_a_join_folder_with_another_token_or_ca_or_a_key() {
    let mut bundle = generate(ExampleKind::Basic, 14);
    let other = generate(ExampleKind::Basic, 15);
    for path in [
        "join/rootfs/etc/kubernetes/bootstrap-kubelet.conf",
        "join/rootfs/etc/kubernetes/pki/ca.crt",
    ] {
        bundle
            .entries
            .iter_mut()
            .find(|e| e.path == path)
            .unwrap()
            .contents = other.entry(path).unwrap().contents.clone();
    }
    let key = bundle
        .entry("nodes/worker1/rootfs/etc/kubernetes/pki/ca.crt")
        .unwrap()
        .clone();
    bundle.entries.push(Entry {
        path: "join/rootfs/etc/kubernetes/pki/ca.key".into(),
        ..key
    });
    let report = verify::verify(&bundle, NOW);
    let text = report.problems.join("\n");
    for expected in [
        "join:/etc/kubernetes/bootstrap-kubelet.conf: its CA is not the cluster CA",
        "join:/etc/kubernetes/bootstrap-kubelet.conf: its token is not the bootstrap token",
        "join:/etc/kubernetes/pki/ca.crt: not the cluster CA",
        "join: holds /etc/kubernetes/pki/ca.key",
        "join: join/SHA256SUMS does not match /etc/kubernetes/pki/ca.crt",
        "join: join/SHA256SUMS does not list /etc/kubernetes/pki/ca.key",
    ] {
        assert!(text.contains(expected), "{expected} not in:\n{text}");
    }
    let token = Pki::issue(
        &ClusterConfig::from_yaml(&example_yaml(ExampleKind::Basic))
            .unwrap()
            .config,
        &inputs(15),
    )
    .unwrap()
    .bootstrap_token;
    assert!(!text.contains(&token.secret), "a secret in the report");
}

#[test]
fn a_bundle_without_join_still_verifies() {
    // Bundles made before join/ existed are format 1 too.
    let mut bundle = generate(ExampleKind::Basic, 16);
    bundle.entries.retain(|e| !e.path.starts_with("join/"));
    let report = verify::verify(&bundle, NOW);
    assert!(report.is_ok(), "{:#?}", report.problems);
}

#[test]
fn a_bundle_generated_with_previous_ranges_records_and_renders_them() {
    let raw = RawClusterConfig::from_yaml(&example_yaml(ExampleKind::Basic)).expect("parses");
    // Ranges an older kbundle gave in config order, not where the names hash to.
    let previous: PreviousRanges = [("cp1", "10.244.0.0/24"), ("worker1", "10.244.1.0/24")]
        .into_iter()
        .map(|(name, cidr)| (name.to_owned(), vec![cidr.parse().expect("cidr")]))
        .collect();
    let bundle = Bundle::generate_with_previous(&raw, &inputs(1), &previous).expect("generates");
    let recorded = bundle.pod_ranges().expect("plan.json has the ranges");
    assert_eq!(recorded["cp1"], previous["cp1"]);
    assert_eq!(recorded["worker1"], previous["worker1"]);
    assert_eq!(recorded.len(), 3);
    let nodes = String::from_utf8_lossy(
        &bundle
            .entry("addons/00-nodes.yaml")
            .expect("nodes")
            .contents,
    )
    .into_owned();
    assert!(nodes.contains("- 10.244.1.0/24"), "{nodes}");
    // The bundle's own ranges, passed back, give the same bundle.
    let again = Bundle::generate_with_previous(&raw, &inputs(1), &recorded).expect("generates");
    assert_eq!(again, bundle);
    // A previous range outside the pod subnet is refused as invalid input.
    let outside: PreviousRanges = [("cp1".to_owned(), vec!["10.9.0.0/24".parse().expect("cidr")])]
        .into_iter()
        .collect();
    let refused = Bundle::generate_with_previous(&raw, &inputs(1), &outside);
    assert!(
        matches!(refused, Err(GenerateError::Invalid(_))),
        "{refused:?}"
    );
}

/// The node files of `bundle` that differ from `old`'s (or that `old` lacks), as
/// `node:/path`.
fn changed_node_files(old: &Bundle, bundle: &Bundle) -> Vec<String> {
    let mut changed = Vec::new();
    for node in &bundle.manifest.nodes {
        let before = old.node_files(&node.name);
        for file in bundle.node_files(&node.name) {
            if !before.contains(&file) {
                changed.push(format!("{}:{}", node.name, file.path));
            }
        }
    }
    changed
}

/// The basic example, its bundle, and the inputs of its next bundle forty days later.
fn running_example() -> (String, RawClusterConfig, Bundle, PkiInputs) {
    let yaml = example_yaml(ExampleKind::Basic);
    let raw = RawClusterConfig::from_yaml(&yaml).expect("parses");
    let old = Bundle::generate(&raw, &inputs(1)).expect("generates");
    let later = PkiInputs {
        seed: [2; 32],
        issued_at: ISSUED_AT + 40 * 24 * 3600,
        existing_cas: Vec::new(),
    };
    (yaml, raw, old, later)
}

#[test]
fn a_bundle_made_from_another_keeps_the_identity_and_issues_only_what_changed() {
    let (yaml, raw, old, later) = running_example();

    // The same cluster, forty days later, with another seed: every node file is the same.
    let same = Bundle::generate_from(&raw, &later, &old).expect("generates");
    assert_eq!(changed_node_files(&old, &same), Vec::<String>::new());
    assert_eq!(same.entry("admin.conf"), old.entry("admin.conf"));
    assert!(verify::verify(&same, later.issued_at + 60).is_ok());

    // A worker added and a label on worker1: the new worker's files, worker1's kubelet flags;
    // no certificate of another node, no CA, no service-account key.
    let grown = yaml.replace(
        "    - name: worker1\n      address: 192.0.2.21\n      roles: [worker]\n",
        "    - name: worker1\n      address: 192.0.2.21\n      roles: [worker]\n      labels: {disk: ssd}\n    - name: worker9\n      address: 192.0.2.29\n      roles: [worker]\n",
    );
    assert_ne!(grown, yaml, "the example changed: update this test");
    let raw = RawClusterConfig::from_yaml(&grown).expect("parses");
    let bundle = Bundle::generate_from(&raw, &later, &old).expect("generates");
    let changed = changed_node_files(&old, &bundle);
    assert!(
        changed.iter().all(|path| path.starts_with("worker9:")
            || path == "worker1:/etc/systemd/system/kubelet.service.d/99-kbundle.conf"),
        "{changed:#?}"
    );
    assert!(changed.contains(&"worker9:/etc/kubernetes/kubelet.conf".to_owned()));
    assert!(
        changed
            .contains(&"worker1:/etc/systemd/system/kubelet.service.d/99-kbundle.conf".to_owned())
    );
    assert_eq!(
        bundle.pod_ranges().expect("ranges")["worker1"],
        old.pod_ranges().expect("ranges")["worker1"]
    );
    let report = verify::verify(&bundle, later.issued_at + 60);
    assert!(report.is_ok(), "{:#?}", report.problems);

    // An extra SAN: the API servers' certificates, and only them, are issued again; the static
    // pods, which read certificates when they start, restart on them.
    let sans = yaml.replace(
        "  certificates:\n",
        "  certificates:\n    extraSANs: [api.example.com]\n",
    );
    assert_ne!(sans, yaml, "the example changed: update this test");
    let raw = RawClusterConfig::from_yaml(&sans).expect("parses");
    let bundle = Bundle::generate_from(&raw, &later, &old).expect("generates");
    assert_eq!(
        changed_node_files(&old, &bundle),
        [
            "cp1:/etc/kubernetes/manifests/etcd.yaml",
            "cp1:/etc/kubernetes/manifests/kube-apiserver.yaml",
            "cp1:/etc/kubernetes/manifests/kube-controller-manager.yaml",
            "cp1:/etc/kubernetes/manifests/kube-scheduler.yaml",
            "cp1:/etc/kubernetes/pki/apiserver.crt",
            "cp1:/etc/kubernetes/pki/apiserver.key"
        ]
    );

    // Near the end of their validity, the leaves are issued again from the same CAs.
    let late = PkiInputs {
        issued_at: ISSUED_AT + 350 * 24 * 3600,
        ..later
    };
    let renewed = Bundle::generate_from(
        &RawClusterConfig::from_yaml(&yaml).expect("parses"),
        &late,
        &old,
    )
    .expect("generates");
    let changed = changed_node_files(&old, &renewed);
    assert!(
        changed.contains(&"cp1:/etc/kubernetes/pki/apiserver.crt".to_owned()),
        "{changed:#?}"
    );
    for kept in [
        "/etc/kubernetes/pki/ca.crt",
        "/etc/kubernetes/pki/ca.key",
        "/etc/kubernetes/pki/sa.key",
        "/etc/kubernetes/pki/sa.pub",
    ] {
        assert!(
            !changed.contains(&format!("cp1:{kept}")),
            "{kept} changed: {changed:#?}"
        );
    }
}

#[test]
fn renewing_issues_every_leaf_again_from_the_same_authorities_and_changes_nothing_else() {
    let old = generate(ExampleKind::HighAvailability, 3);
    let later = PkiInputs {
        seed: [4; 32],
        issued_at: ISSUED_AT + 300 * 24 * 3600,
        existing_cas: Vec::new(),
    };
    let renewed = old.renew_certificates(&later).expect("renews");
    let changed = changed_node_files(&old, &renewed);
    for kept in [
        "/etc/kubernetes/pki/ca.crt",
        "/etc/kubernetes/pki/ca.key",
        "/etc/kubernetes/pki/sa.key",
        "/etc/kubernetes/pki/sa.pub",
        "/etc/kubernetes/pki/etcd/ca.crt",
        "/var/lib/kubelet/config.yaml",
    ] {
        assert!(
            !changed.contains(&format!("cp1:{kept}")),
            "{kept} changed: {changed:#?}"
        );
    }
    for renewed_file in [
        // The static pods read their certificates when they start: their manifests change.
        "cp1:/etc/kubernetes/manifests/kube-apiserver.yaml",
        "cp1:/etc/kubernetes/manifests/etcd.yaml",
        "cp1:/etc/kubernetes/manifests/kube-scheduler.yaml",
        "cp1:/etc/kubernetes/pki/apiserver.crt",
        "cp1:/etc/kubernetes/pki/etcd/server.crt",
        "cp1:/etc/kubernetes/controller-manager.conf",
        "worker1:/etc/kubernetes/kubelet.conf",
    ] {
        assert!(
            changed.contains(&renewed_file.to_owned()),
            "{renewed_file}: {changed:#?}"
        );
    }
    assert_ne!(renewed.entry("admin.conf"), old.entry("admin.conf"));
    for same in [
        "cluster.yaml",
        "plan.json",
        "addons/00-nodes.yaml",
        "join/install.sh",
    ] {
        assert_eq!(renewed.entry(same), old.entry(same), "{same}");
    }
    // Every new leaf expires a year after the renewal, and the bundle verifies then.
    let identity = renewed.identity().expect("recorded").expect("reads");
    assert!(
        identity
            .leaves
            .iter()
            .all(|leaf| leaf.not_after > later.issued_at + 300 * 24 * 3600)
    );
    let report = verify::verify(&renewed, later.issued_at + 60);
    assert!(report.is_ok(), "{:#?}", report.problems);
    // A bundle without identity.json cannot be renewed: it says what to do.
    let mut older = old;
    older
        .entries
        .retain(|entry| entry.path != layout::IDENTITY_JSON);
    let refused = older.renew_certificates(&later);
    assert!(
        matches!(&refused, Err(GenerateError::Previous(reason)) if reason.contains("--from")),
        "{refused:?}"
    );
}

#[test]
fn the_certificates_of_a_bundle_are_listed_soonest_first_each_ca_once() {
    let bundle = generate(ExampleKind::HighAvailability, 5);
    let held = bundle.certificates();
    let cas: Vec<&certs::HeldCertificate> = held.iter().filter(|c| c.is_ca).collect();
    assert_eq!(cas.len(), 3, "{cas:#?}");
    assert!(cas.iter().all(|ca| ca.node.is_none()));
    assert!(
        held.windows(2)
            .all(|pair| pair[0].not_after <= pair[1].not_after)
    );
    assert!(held.iter().any(|c| c.node.as_deref() == Some("cp2")
        && c.path == "/etc/kubernetes/pki/apiserver.crt"
        && c.subject.contains("CN=kube-apiserver")));
    assert!(held.iter().any(|c| c.node.as_deref() == Some("worker1")
        && c.path == "/etc/kubernetes/kubelet.conf"
        && c.subject.contains("CN=system:node:worker1")));
    assert!(
        held.iter()
            .any(|c| c.node.is_none() && c.path == "admin.conf")
    );
    // Keys are never taken for certificates.
    assert!(held.iter().all(|c| !c.path.ends_with(".key")));
}

#[test]
fn a_next_bundle_makes_keys_only_for_what_it_issues_and_takes_premade_ones_for_them() {
    let (yaml, raw, old, later) = running_example();
    let config = ClusterConfig::from_raw(&raw).expect("valid").config;
    assert_eq!(
        Bundle::keys_to_make(&raw, &later, None),
        Pki::key_count(&config, &[])
    );
    // Nothing changed: nothing to issue, so no key to make.
    assert_eq!(Bundle::keys_to_make(&raw, &later, Some(&old)), 0);

    // A worker more: its certificates and kubeconfigs only.
    let grown = yaml.replace(
        "    - name: worker1\n      address: 192.0.2.21\n      roles: [worker]\n",
        "    - name: worker1\n      address: 192.0.2.21\n      roles: [worker]\n    - name: worker9\n      address: 192.0.2.29\n      roles: [worker]\n",
    );
    assert_ne!(grown, yaml, "the example changed: update this test");
    let raw = RawClusterConfig::from_yaml(&grown).expect("parses");
    let needed = Bundle::keys_to_make(&raw, &later, Some(&old));
    let timeline = |bundle: &Bundle, previous: Option<&Bundle>| {
        bundle
            .expiries(previous)
            .expect("an identity")
            .expect("readable")
    };
    let from_seed = Bundle::generate_from(&raw, &later, &old).expect("generates");
    let issued = expiry::KeptCounts::of(&timeline(&from_seed, Some(&old)));
    assert_eq!(issued.authorities_new, 0, "{issued:?}");
    assert_eq!(issued.leaves_new, needed, "{issued:?}");
    assert!(needed > 0 && needed < Pki::key_count(&config, &[]) / 2);

    // The browser's keys (premade) serve the new leaves; one too many is left unused.
    let premade: Vec<KeyPair> = (0..=needed)
        .map(|index| {
            use rand_core::SeedableRng;
            let seed = [u8::try_from(index).expect("few keys") + 100; 32];
            let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
            KeyPair::generate(crate::config::KeyAlgorithm::EcdsaP256, &mut rng).expect("a key")
        })
        .collect();
    let first_premade = premade[0].private_pem().expect("pem");
    let with_keys =
        Bundle::generate_from_with_keys(&raw, &later, premade, &old).expect("generates");
    assert_eq!(
        with_keys.manifest.files.len(),
        from_seed.manifest.files.len()
    );
    let identity = with_keys.identity().expect("identity").expect("readable");
    assert!(
        identity
            .leaves
            .iter()
            .any(|leaf| leaf.key_pem == first_premade),
        "the first premade key is not used"
    );
    assert!(verify::verify(&with_keys, later.issued_at + 60).is_ok());
}

#[test]
fn the_expiry_timeline_lists_every_ca_and_leaf_soonest_first_and_what_was_kept() {
    let bundle = generate(ExampleKind::Basic, 1);
    let identity = bundle.identity().expect("identity").expect("readable");
    let timeline = bundle.expiries(None).expect("identity").expect("readable");
    assert_eq!(
        timeline.len(),
        identity.authorities.len() + identity.leaves.len()
    );
    assert!(
        timeline
            .windows(2)
            .all(|pair| pair[0].not_after <= pair[1].not_after)
    );
    assert!(timeline.iter().all(|expiry| !expiry.kept));
    let cas: Vec<&str> = timeline
        .iter()
        .filter(|expiry| expiry.is_ca)
        .map(|expiry| expiry.what.as_str())
        .collect();
    assert_eq!(cas.len(), 3, "{cas:?}");
    assert!(cas.contains(&"/etc/kubernetes/pki/ca.crt"), "{cas:?}");
    let apiserver = timeline
        .iter()
        .find(|expiry| expiry.what == "/etc/kubernetes/pki/apiserver.crt")
        .expect("the API server's certificate");
    assert_eq!(apiserver.node.as_deref(), Some("cp1"));
    assert_eq!(apiserver.common_name, "kube-apiserver");
    // A leaf lasts a year, a CA ten: the leaves come first, none due now, all due in a year.
    assert!(!timeline[0].is_ca);
    assert!(!apiserver.is_due(ISSUED_AT));
    assert!(apiserver.is_due(ISSUED_AT + 340 * 24 * 3600));
    assert!(
        timeline
            .iter()
            .any(|expiry| expiry.what == "admin.conf" && expiry.node.is_none())
    );

    // The same cluster made from it: everything kept.
    let raw = RawClusterConfig::from_yaml(&example_yaml(ExampleKind::Basic)).expect("parses");
    let next = Bundle::generate_from(&raw, &inputs(2), &bundle).expect("generates");
    let counts = expiry::KeptCounts::of(&next.expiries(Some(&bundle)).expect("id").expect("ok"));
    assert_eq!(
        counts,
        expiry::KeptCounts {
            authorities_kept: 3,
            authorities_new: 0,
            leaves_kept: identity.leaves.len(),
            leaves_new: 0,
        }
    );
}
