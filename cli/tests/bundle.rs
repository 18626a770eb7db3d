//! The bundle commands through the real binary: generate → verify → inspect, reproducible
//! output, encryption, refusing to overwrite, and refusing hostile zips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SEED: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const ISSUED_AT: &str = "1790000000";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn kbundle(directory: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kbundle"))
        .args(args)
        .current_dir(directory)
        .stdin(Stdio::null())
        .output()
        .expect("kbundle runs")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn scratch(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("kbundle-bundle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch");
    directory
}

fn generate(directory: &Path, config: &Path, output: &str) -> Output {
    kbundle(
        directory,
        &[
            "generate",
            config.to_str().expect("utf-8"),
            "-o",
            output,
            "--seed",
            SEED,
            "--issued-at",
            ISSUED_AT,
        ],
    )
}

#[test]
fn generate_verify_inspect_round_trip_for_the_fixture_clusters() {
    let directory = scratch("round-trip");
    for config in [
        workspace().join("examples/cluster.yaml"),
        workspace().join("examples/cluster-ha.yaml"),
        workspace().join("examples/old-guide.yaml"),
        workspace().join("tests/fixtures/clusters/dual-stack.yaml"),
        workspace().join("tests/fixtures/clusters/registry-proxy.yaml"),
    ] {
        let name = config
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let zip = format!("{name}.zip");
        let output = generate(&directory, &config, &zip);
        assert!(output.status.success(), "{name}: {}", text(&output));
        let output = kbundle(&directory, &["verify", &zip]);
        assert!(output.status.success(), "{name}: {}", text(&output));
        assert!(String::from_utf8_lossy(&output.stdout).contains(": ok: "));
        let output = kbundle(&directory, &["inspect", &zip]);
        assert!(output.status.success(), "{name}: {}", text(&output));
        if name == "cluster" {
            insta::assert_snapshot!("inspect-example", String::from_utf8_lossy(&output.stdout));
        }
    }
    std::fs::remove_dir_all(&directory).expect("clean up");
}

#[test]
fn same_seed_and_time_give_byte_identical_bundles() {
    let directory = scratch("identical");
    let config = workspace().join("examples/cluster-ha.yaml");
    assert!(generate(&directory, &config, "a.zip").status.success());
    assert!(generate(&directory, &config, "b.zip").status.success());
    let (a, b) = (
        std::fs::read(directory.join("a.zip")).unwrap(),
        std::fs::read(directory.join("b.zip")).unwrap(),
    );
    assert_eq!(a, b);
    let output = kbundle(
        &directory,
        &["generate", config.to_str().unwrap(), "-o", "c.zip"],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert_ne!(
        std::fs::read(directory.join("c.zip")).unwrap(),
        a,
        "without a seed, keys are fresh"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(directory.join("c.zip"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the bundle holds keys: owner only");
    std::fs::remove_dir_all(&directory).expect("clean up");
}

#[test]
fn generate_refuses_to_overwrite_and_to_use_an_invalid_config() {
    let directory = scratch("overwrite");
    std::fs::write(directory.join("demo-bundle.zip"), "mine").unwrap();
    let config = workspace().join("examples/cluster.yaml");
    let output = kbundle(&directory, &["generate", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(directory.join("demo-bundle.zip")).unwrap(),
        "mine"
    );
    let bad = workspace().join("tests/fixtures/clusters/invalid/duplicates.yaml");
    let output = kbundle(
        &directory,
        &["generate", bad.to_str().unwrap(), "-o", "bad.zip"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        !directory.join("bad.zip").exists(),
        "nothing is written for an invalid config"
    );
    std::fs::remove_dir_all(&directory).expect("clean up");
}

#[test]
fn encrypted_bundles_open_only_with_their_passphrase() {
    let directory = scratch("encrypted");
    std::fs::write(directory.join("pass"), "correct horse battery\n").unwrap();
    std::fs::write(directory.join("wrong"), "incorrect horse\n").unwrap();
    let config = workspace().join("examples/cluster.yaml");
    let output = kbundle(
        &directory,
        &[
            "generate",
            config.to_str().unwrap(),
            "-o",
            "e.zip",
            "--encrypt",
            "--passphrase-file",
            "pass",
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let output = kbundle(
        &directory,
        &["verify", "e.zip", "--passphrase-file", "pass"],
    );
    assert!(output.status.success(), "{}", text(&output));
    let output = kbundle(
        &directory,
        &["verify", "e.zip", "--passphrase-file", "wrong"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("passphrase does not open"),
        "{}",
        text(&output)
    );
    // No terminal and no passphrase file: a clear error, not a hang.
    let output = kbundle(&directory, &["inspect", "e.zip"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("passphrase"), "{}", text(&output));
    std::fs::remove_dir_all(&directory).expect("clean up");
}

#[test]
fn verify_refuses_a_hostile_or_damaged_bundle() {
    let directory = scratch("hostile");
    let config = workspace().join("examples/cluster.yaml");
    assert!(generate(&directory, &config, "good.zip").status.success());
    let bytes = std::fs::read(directory.join("good.zip")).unwrap();
    std::fs::write(directory.join("truncated.zip"), &bytes[..bytes.len() / 3]).unwrap();
    let output = kbundle(&directory, &["verify", "truncated.zip"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    insta::assert_snapshot!("verify-truncated", text(&output));
    std::fs::remove_dir_all(&directory).expect("clean up");
}

#[test]
fn existing_cas_are_used_and_a_mismatched_key_is_refused() {
    let directory = scratch("existing-ca");
    let config = workspace().join("examples/cluster.yaml");
    // A CA from a first bundle, brought into a second cluster.yaml.
    assert!(generate(&directory, &config, "donor.zip").status.success());
    let unzip = Command::new("unzip")
        .args(["-q", "donor.zip", "-d", "donor"])
        .current_dir(&directory)
        .status();
    assert!(
        unzip
            .expect("unzip runs (scripts/install-test-deps.sh installs it)")
            .success()
    );
    let pki = "donor/nodes/cp1/rootfs/etc/kubernetes/pki";
    let yaml = std::fs::read_to_string(&config).unwrap().replace(
        "  certificates:\n",
        &format!("  certificates:\n    existingCAs:\n      cluster: {{certFile: {pki}/ca.crt, keyFile: {pki}/ca.key}}\n"),
    );
    std::fs::write(directory.join("cluster.yaml"), &yaml).unwrap();
    let output = kbundle(&directory, &["generate", "cluster.yaml", "-o", "reuse.zip"]);
    assert!(output.status.success(), "{}", text(&output));
    let output = kbundle(&directory, &["verify", "reuse.zip"]);
    assert!(output.status.success(), "{}", text(&output));
    let reused = std::fs::read_to_string(directory.join(format!("{pki}/ca.crt"))).unwrap();
    let unzip = Command::new("unzip")
        .args(["-q", "reuse.zip", "-d", "reuse"])
        .current_dir(&directory)
        .status();
    assert!(unzip.unwrap().success());
    let in_new = std::fs::read_to_string(
        directory.join("reuse/nodes/worker1/rootfs/etc/kubernetes/pki/ca.crt"),
    )
    .unwrap();
    assert_eq!(
        in_new, reused,
        "the new bundle trusts the CA that was brought"
    );

    let wrong = yaml.replace(
        &format!("keyFile: {pki}/ca.key"),
        &format!("keyFile: {pki}/front-proxy-ca.crt"),
    );
    std::fs::write(directory.join("wrong.yaml"), wrong).unwrap();
    let output = kbundle(&directory, &["generate", "wrong.yaml", "-o", "wrong.zip"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("spec.certificates.existingCAs.cluster"),
        "{}",
        text(&output)
    );
    assert!(!directory.join("wrong.zip").exists());
    std::fs::remove_dir_all(&directory).expect("clean up");
}

#[test]
fn diff_shows_per_node_changes_and_restarts_without_secrets() {
    let directory = scratch("diff");
    let config = workspace().join("examples/cluster.yaml");
    assert!(generate(&directory, &config, "old.zip").status.success());
    let changed = std::fs::read_to_string(&config).unwrap().replace(
        "    dnsDomain: cluster.local\n",
        "    dnsDomain: cluster.local\n    maxPodsPerNode: 100\n",
    );
    std::fs::write(directory.join("changed.yaml"), changed).unwrap();
    assert!(
        generate(&directory, &directory.join("changed.yaml"), "new.zip")
            .status
            .success()
    );
    let output = kbundle(&directory, &["diff", "old.zip", "new.zip"]);
    assert!(output.status.success(), "{}", text(&output));
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(shown.contains("+maxPods: 100"), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"));
    insta::assert_snapshot!("diff-max-pods", shown);
    let output = kbundle(&directory, &["diff", "old.zip", "old.zip"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("no changes"));
    std::fs::remove_dir_all(&directory).expect("clean up");
}

#[test]
fn artifacts_list_names_every_binary_and_image() {
    let directory = scratch("artifacts");
    let config = workspace().join("examples/cluster-ha.yaml");
    assert!(generate(&directory, &config, "ha.zip").status.success());
    let output = kbundle(
        &directory,
        &["artifacts", "list", "ha.zip", "--arch", "amd64"],
    );
    assert!(output.status.success(), "{}", text(&output));
    insta::assert_snapshot!("artifacts-list-ha", String::from_utf8_lossy(&output.stdout));
    let output = kbundle(
        &directory,
        &["artifacts", "list", "ha.zip", "--output", "json"],
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["binaries"].as_array().map(Vec::len), Some(12));
    let output = kbundle(
        &directory,
        &["artifacts", "list", "ha.zip", "--arch", "s390x"],
    );
    assert_eq!(output.status.code(), Some(1));
    std::fs::remove_dir_all(&directory).expect("clean up");
}

/// A loopback HTTP server over `directory`, ended by pid on drop.
struct Mirror {
    child: std::process::Child,
    url: String,
}

impl Mirror {
    fn serve(directory: &Path) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(directory)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (scripts/install-test-deps.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("a first line");
        let port = line
            .split_whitespace()
            .skip_while(|word| *word != "port")
            .nth(1)
            .expect("a port")
            .to_owned();
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256(bytes: &[u8]) -> String {
    kbundle_core::bundle::sha256_hex(bytes)
}

/// kbundle without proxy variables, so that loopback traffic stays on loopback.
fn kbundle_offline(directory: &Path, args: &[&str]) -> Output {
    let mut command = kbundle_tests::programs::command(env!("CARGO_BIN_EXE_kbundle"));
    command
        .args(args)
        .current_dir(directory)
        .stdin(Stdio::null())
        .output()
        .expect("kbundle runs")
}

#[test]
fn artifacts_fetch_checks_every_download_against_its_published_checksum() {
    let directory = scratch("fetch");
    let config = workspace().join("examples/cluster.yaml");
    assert!(generate(&directory, &config, "demo.zip").status.success());
    let listed = kbundle(
        &directory,
        &[
            "artifacts",
            "list",
            "demo.zip",
            "--arch",
            "amd64",
            "--output",
            "json",
        ],
    );
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    // A mirror with the upstream layout, fake files and their published checksums.
    let mirror = directory.join("mirror");
    let mirrored = |url: &str| mirror.join(url.trim_start_matches("https://"));
    for binary in listed["binaries"].as_array().expect("binaries") {
        let url = binary["url"].as_str().unwrap();
        let name = url.rsplit('/').next().unwrap();
        let contents = format!("kbundle test fixture standing in for {name}\n");
        std::fs::create_dir_all(mirrored(url).parent().unwrap()).unwrap();
        std::fs::write(mirrored(url), &contents).unwrap();
        let published = format!("{}  {name}\n", sha256(contents.as_bytes()));
        let sums = mirrored(binary["checksum_url"].as_str().unwrap());
        let mut text = std::fs::read_to_string(&sums).unwrap_or_default();
        text.push_str(&published);
        std::fs::write(sums, text).unwrap();
    }
    let server = Mirror::serve(&mirror);
    let output = kbundle_offline(
        &directory,
        &[
            "artifacts",
            "fetch",
            "demo.zip",
            "-o",
            "out",
            "--arch",
            "amd64",
            "--mirror",
            &server.url,
            "--no-images",
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(directory.join("out/artifacts-fetched.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record.as_array().map(Vec::len), Some(6));
    let output = kbundle(&directory, &["artifacts", "check", "out"]);
    assert!(output.status.success(), "{}", text(&output));

    // Altered after the fetch: refused.
    std::fs::write(directory.join("out/binaries/amd64/kubelet"), "tampered\n").unwrap();
    let output = kbundle(&directory, &["artifacts", "check", "out"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("does not match its recorded checksum"),
        "{}",
        text(&output)
    );

    // A download that does not match its published checksum is refused and not kept.
    let kubelet = listed["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "kubelet")
        .unwrap();
    std::fs::write(
        mirrored(kubelet["url"].as_str().unwrap()),
        "swapped on the mirror\n",
    )
    .unwrap();
    let output = kbundle_offline(
        &directory,
        &[
            "artifacts",
            "fetch",
            "demo.zip",
            "-o",
            "again",
            "--arch",
            "amd64",
            "--mirror",
            &server.url,
            "--no-images",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("kubelet: sha256"),
        "{}",
        text(&output)
    );
    assert!(!directory.join("again/binaries/amd64/kubelet").exists());
    drop(server);
    std::fs::remove_dir_all(&directory).expect("clean up");
}

/// `kbundle export`: the folder is written whole, private (it holds the nodes' keys), with the
/// files' modes; bad input is refused with exit 2, naming the problem, and nothing is written.
#[test]
fn export_writes_a_private_folder_whole_or_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let directory = scratch("export");
    let config = workspace().join("examples/cluster.yaml");
    assert!(generate(&directory, &config, "demo.zip").status.success());
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;

    let output = kbundle(
        &directory,
        &["export", "ansible", "demo.zip", "-o", "ansible"],
    );
    assert!(output.status.success(), "{}", text(&output));
    let ansible = directory.join("ansible");
    assert_eq!(mode(&ansible), 0o700);
    assert_eq!(mode(&ansible.join("files/cp1.tar")), 0o600);
    assert_eq!(mode(&ansible.join("playbook.yml")), 0o644);
    assert!(
        text(&output).contains("ansible-playbook playbook.yml"),
        "{}",
        text(&output)
    );

    let output = kbundle(
        &directory,
        &["export", "cloud-init", "demo.zip", "-o", "cloud"],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(mode(&directory.join("cloud/user-data/worker1.yaml")), 0o600);
    assert!(
        text(&output).contains("user-data/worker1.yaml: ")
            && text(&output).contains("fits Amazon EC2"),
        "{}",
        text(&output)
    );

    // A folder with files is kept unless --force; then it is replaced whole.
    std::fs::write(ansible.join("mine"), "mine").unwrap();
    let output = kbundle(
        &directory,
        &["export", "ansible", "demo.zip", "-o", "ansible"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    insta::assert_snapshot!("export-folder-not-empty", text(&output));
    assert!(ansible.join("mine").exists());
    let output = kbundle(
        &directory,
        &["export", "ansible", "demo.zip", "-o", "ansible", "--force"],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(!ansible.join("mine").exists() && ansible.join("playbook.yml").exists());

    // A control-plane node's user-data does not fit EC2's 16 KB: refused, nothing written.
    let output = kbundle(
        &directory,
        &[
            "export",
            "cloud-init",
            "demo.zip",
            "-o",
            "aws",
            "--limit",
            "aws",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let shown = text(&output);
    assert!(
        shown.contains("node `cp1`: its user-data is ")
            && shown.contains("over the Amazon EC2 limit of 16384 bytes"),
        "{shown}"
    );

    // A damaged bundle is refused before anything is written.
    let bytes = std::fs::read(directory.join("demo.zip")).unwrap();
    std::fs::write(directory.join("truncated.zip"), &bytes[..bytes.len() / 3]).unwrap();
    let output = kbundle(
        &directory,
        &["export", "ansible", "truncated.zip", "-o", "broken"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    insta::assert_snapshot!("export-truncated", text(&output));

    // A bundle that reads (every checksum of its index matches) but does not verify: cp1's
    // API server key is another key. Refused, naming the problem, before anything is written.
    write_tampered(
        &directory.join("demo.zip"),
        &directory.join("tampered.zip"),
        "nodes/cp1/rootfs/etc/kubernetes/pki/apiserver.key",
        "nodes/cp1/rootfs/etc/kubernetes/pki/front-proxy-client.key",
    );
    let output = kbundle(
        &directory,
        &["export", "ansible", "tampered.zip", "-o", "tampered"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let shown = text(&output);
    assert!(
        shown.contains("apiserver")
            && shown
                .contains("tampered.zip: refused: the bundle does not verify; nothing was written"),
        "{shown}"
    );

    let mut left: Vec<String> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "ansible",
            "cloud",
            "demo.zip",
            "tampered.zip",
            "truncated.zip"
        ],
        "no half-written folder, no staging left"
    );
    std::fs::remove_dir_all(&directory).expect("clean up");
}

/// Writes `from` again as `to` with the entry `path` holding the contents of `source`, and the
/// bundle's index saying so: a bundle that reads, with a key that is not its certificate's.
fn write_tampered(from: &Path, to: &Path, path: &str, source: &str) {
    use kbundle_core::bundle::read::Limits;
    use kbundle_core::bundle::{Bundle, layout, sha256_hex};
    let mut bundle = Bundle::from_zip(
        &std::fs::read(from).expect("reads"),
        None,
        Limits::default(),
    )
    .expect("a bundle");
    let contents = bundle
        .entry(source)
        .expect("the source entry")
        .contents
        .clone();
    let sha = sha256_hex(&contents);
    for entry in &mut bundle.entries {
        if entry.path == path {
            entry.contents = contents.clone();
        }
    }
    for file in &mut bundle.manifest.files {
        if file.path == path {
            file.sha256 = sha.clone();
        }
    }
    let index = serde_json::to_vec_pretty(&bundle.manifest).expect("JSON");
    for entry in &mut bundle.entries {
        if entry.path == layout::BUNDLE_JSON {
            entry.contents = index.clone();
        }
    }
    std::fs::write(to, bundle.to_zip().expect("zips")).expect("writes");
}
