//! Runs the real `kbundle` binary on good and bad cluster configs and snapshots what a user
//! sees (insta), including exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixtures() -> PathBuf {
    workspace().join("tests/fixtures/clusters")
}

/// Runs kbundle in `directory`.
fn kbundle(directory: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kbundle"))
        .args(args)
        .current_dir(directory)
        .stdin(Stdio::null())
        .output()
        .expect("kbundle runs")
}

/// Exit code, standard output and standard error as one text to snapshot.
fn transcript(output: &Output) -> String {
    format!(
        "exit code: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn scratch_dir(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("kbundle-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

#[test]
fn every_invalid_fixture_exits_2_with_named_fields() {
    let invalid = fixtures().join("invalid");
    let mut names: Vec<String> = std::fs::read_dir(&invalid)
        .expect("fixture directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "fixtures went missing: {names:?}");
    for name in names {
        let output = kbundle(&invalid, &["validate", &name]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{name}: {}",
            transcript(&output)
        );
        assert!(
            output.stdout.is_empty(),
            "{name}: nothing on stdout when invalid"
        );
        insta::assert_snapshot!(format!("validate-{name}"), transcript(&output));
    }
}

#[test]
fn plan_shows_the_old_guide_cluster() {
    let output = kbundle(&workspace().join("examples"), &["plan", "old-guide.yaml"]);
    insta::assert_snapshot!("plan-old-guide", transcript(&output));
    assert!(output.status.success());
}

#[test]
fn plan_json_has_the_contract_keys() {
    let output = kbundle(
        &fixtures(),
        &["plan", "dual-stack.yaml", "--output", "json"],
    );
    assert!(output.status.success(), "{}", transcript(&output));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(plan["apiserver_service_ip"], "10.96.0.1");
    assert_eq!(plan["dns_service_ip"], "10.96.0.10");
    assert_eq!(plan["nodes"][2]["name"], "cp3");
    assert_eq!(plan["nodes"][2]["pod_cidrs"][0], "10.244.193.0/24");
    assert_eq!(plan["nodes"][2]["pod_cidrs"][1], "fd00:10:244:c1::/64");
    assert_eq!(plan["max_nodes"], 256);
    assert_eq!(plan["max_pods_per_node"], 110);
    assert!(
        plan["no_proxy"]
            .as_array()
            .expect("list")
            .iter()
            .any(|e| e == "2001:db8::100")
    );
    insta::assert_json_snapshot!("plan-dual-stack-json", plan);
}

#[test]
fn plan_reads_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kbundle"))
        .args(["plan", "-", "-o", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("kbundle runs");
    let config = std::fs::read(workspace().join("examples/cluster.yaml")).expect("example");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), &config).expect("write");
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("kbundle exits");
    assert!(output.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(plan["nodes"].as_array().map(Vec::len), Some(3));
}

#[test]
fn warnings_do_not_fail_validation() {
    let output = kbundle(&fixtures(), &["validate", "even-etcd.yaml"]);
    insta::assert_snapshot!("validate-even-etcd", transcript(&output));
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn validate_json_lists_diagnostics() {
    let output = kbundle(
        &fixtures().join("invalid"),
        &["validate", "duplicates.yaml", "--output", "json"],
    );
    assert_eq!(output.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["valid"], false);
    assert_eq!(report["diagnostics"][0]["path"], "spec.nodes[1].name");
    assert_eq!(report["diagnostics"][0]["value"], "cp1");
}

#[test]
fn init_writes_the_examples_and_refuses_to_overwrite() {
    let directory = scratch_dir("init");
    for (args, example) in [
        (vec!["init"], "cluster.yaml"),
        (vec!["init", "--ha", "-o", "ha.yaml"], "cluster-ha.yaml"),
    ] {
        let output = kbundle(&directory, &args);
        assert!(output.status.success(), "{}", transcript(&output));
        let written =
            std::fs::read_to_string(directory.join(args.get(3).unwrap_or(&"cluster.yaml")))
                .expect("init wrote the file");
        let committed = std::fs::read_to_string(workspace().join("examples").join(example))
            .expect("committed example");
        assert_eq!(
            written, committed,
            "examples/{example} is out of date: regenerate it with `kbundle init`"
        );
    }
    std::fs::write(directory.join("cluster.yaml"), "mine").expect("write");
    let output = kbundle(&directory, &["init"]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("init-refuses-overwrite", transcript(&output));
    assert_eq!(
        std::fs::read_to_string(directory.join("cluster.yaml")).expect("read"),
        "mine"
    );
    let output = kbundle(&directory, &["init", "--force"]);
    assert!(output.status.success());
    assert_ne!(
        std::fs::read_to_string(directory.join("cluster.yaml")).expect("read"),
        "mine"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&directory)
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
    std::fs::remove_dir_all(&directory).expect("clean up");
}

#[test]
fn missing_file_exits_1() {
    let output = kbundle(&fixtures(), &["plan", "no-such-file.yaml"]);
    insta::assert_snapshot!("plan-missing-file", transcript(&output));
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn help_explains_commands_and_exit_codes() {
    let output = kbundle(&fixtures(), &["--help"]);
    assert!(output.status.success());
    insta::assert_snapshot!("help", String::from_utf8_lossy(&output.stdout));
    let output = kbundle(&fixtures(), &["plan", "--help"]);
    insta::assert_snapshot!("help-plan", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn usage_errors_exit_2() {
    let output = kbundle(&fixtures(), &["plan"]);
    assert_eq!(output.status.code(), Some(2));
    let output = kbundle(&fixtures(), &["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
}

/// A cluster of `names` (the first one the control plane) in a pod subnet of four /24s, where
/// names collide: cp1 and bravo hash to the same range.
fn small_cluster(names: &[&str], pod_subnet: &str) -> String {
    let mut yaml = String::from(
        "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {name: ranges}\nspec:\n  controlPlaneEndpoint: 192.0.2.100\n  nodes:\n",
    );
    for (index, name) in names.iter().enumerate() {
        let roles = if *name == "cp1" {
            "[control-plane, etcd, worker]"
        } else {
            "[worker]"
        };
        yaml.push_str(&format!(
            "    - {{name: {name}, address: 192.0.2.{}, roles: {roles}}}\n",
            index + 10
        ));
    }
    yaml.push_str(&format!(
        "  networking: {{podSubnet: {pod_subnet}, serviceSubnet: 10.96.0.0/16}}\n"
    ));
    yaml
}

#[test]
fn generate_previous_keeps_every_range_and_refuses_one_that_no_longer_fits() {
    let directory = scratch_dir("previous");
    let write = |name: &str, text: &str| std::fs::write(directory.join(name), text).expect("write");
    write("old.yaml", &small_cluster(&["cp1", "w1"], "10.244.0.0/22"));
    // bravo, inserted at the top, hashes to cp1's range and sorts before it.
    write(
        "new.yaml",
        &small_cluster(&["bravo", "cp1", "w1"], "10.244.0.0/22"),
    );
    write(
        "moved.yaml",
        &small_cluster(&["bravo", "cp1", "w1"], "10.245.0.0/22"),
    );
    write("passphrase", "correct horse battery\n");
    let seed = ["--seed", &"ab".repeat(32), "--issued-at", "1790000000"];
    let generate = |args: &[&str]| kbundle(&directory, &[&["generate"], args, &seed].concat());

    let old = generate(&["old.yaml", "-o", "old.zip"]);
    assert!(old.status.success(), "{}", transcript(&old));
    let before = kbundle(&directory, &["plan", "old.yaml"]);
    let without = kbundle(&directory, &["plan", "new.yaml"]);
    let with = kbundle(&directory, &["plan", "new.yaml", "--previous", "old.zip"]);
    let range_of = |output: &Output, node: &str| -> String {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .find(|line| line.starts_with(&format!("{node} ")))
            .and_then(|line| line.split_whitespace().nth(3))
            .unwrap_or_else(|| panic!("{node} in {}", transcript(output)))
            .to_owned()
    };
    // Without the previous bundle, the newcomer takes cp1's range: the case --previous is for.
    assert_ne!(range_of(&without, "cp1"), range_of(&before, "cp1"));
    for node in ["cp1", "w1"] {
        assert_eq!(
            range_of(&with, node),
            range_of(&before, node),
            "{node} moved"
        );
    }
    insta::assert_snapshot!("plan-previous", transcript(&with));

    let new = generate(&["new.yaml", "-o", "new.zip", "--previous", "old.zip"]);
    assert!(new.status.success(), "{}", transcript(&new));
    // It says what it kept: every CA, and the certificates and kubeconfigs whose requests did
    // not change (bravo's are new, and cp1's that name its address, which moved).
    let said = String::from_utf8_lossy(&new.stderr);
    let kept = said
        .lines()
        .find(|line| line.starts_with("kept from old.zip: 3 of 3 CAs and "))
        .unwrap_or_else(|| panic!("no summary of what was kept: {said}"));
    let numbers: Vec<usize> = kept
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    // [3, 3, kept, total, issued]
    assert_eq!(numbers.len(), 5, "{kept}");
    assert_eq!(numbers[2] + numbers[4], numbers[3], "{kept}");
    assert!(numbers[2] > 0 && numbers[4] > 0, "{kept}");
    assert!(
        kept.ends_with("(`kbundle diff old.zip new.zip` shows every change)"),
        "{kept}"
    );
    // The new bundle records the kept ranges (inspect prints its plan.txt), and passes them on.
    let inspect = kbundle(&directory, &["inspect", "new.zip"]);
    let inspected = String::from_utf8_lossy(&inspect.stdout);
    for node in ["cp1", "w1", "bravo"] {
        let range = range_of(&with, node);
        assert!(
            inspected
                .lines()
                .any(|l| l.starts_with(&format!("{node} ")) && l.contains(&range)),
            "{node} {range}: {inspected}"
        );
    }

    // An encrypted previous bundle opens with the passphrase file.
    let encrypted = generate(&[
        "old.yaml",
        "-o",
        "old-encrypted.zip",
        "--passphrase-file",
        "passphrase",
    ]);
    assert!(encrypted.status.success(), "{}", transcript(&encrypted));
    let from_encrypted = kbundle(
        &directory,
        &[
            "plan",
            "new.yaml",
            "--previous",
            "old-encrypted.zip",
            "--passphrase-file",
            "passphrase",
        ],
    );
    assert_eq!(
        from_encrypted.stdout,
        with.stdout,
        "{}",
        transcript(&from_encrypted)
    );

    // Another pod subnet cannot hold the old ranges: refused, nothing written.
    let refused = generate(&["moved.yaml", "-o", "moved.zip", "--previous", "old.zip"]);
    assert_eq!(refused.status.code(), Some(2), "{}", transcript(&refused));
    assert!(!directory.join("moved.zip").exists(), "nothing was written");
    insta::assert_snapshot!("generate-previous-does-not-fit", transcript(&refused));

    // A previous bundle that is not one is refused as such.
    write("not-a-bundle.zip", "hello");
    let broken = generate(&[
        "new.yaml",
        "-o",
        "broken.zip",
        "--previous",
        "not-a-bundle.zip",
    ]);
    assert_eq!(broken.status.code(), Some(2), "{}", transcript(&broken));
    assert!(
        !directory.join("broken.zip").exists(),
        "nothing was written"
    );
    let _ = std::fs::remove_dir_all(&directory);
}

/// `kbundle join-token` refuses bad arguments before reading the nodes: exit 2, the option
/// named with its fix, nothing written. See: issue #14, item 6.
#[test]
fn join_token_refuses_bad_arguments_before_any_connection() {
    let directory = scratch_dir("join-token");
    std::fs::write(
        directory.join("cluster.yaml"),
        "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {name: demo}\nspec:\n  nodes:\n    - {name: cp1, address: 192.0.2.11, roles: [control-plane, worker]}\n",
    )
    .expect("cluster.yaml");
    let generated = kbundle(
        &directory,
        &["generate", "cluster.yaml", "-o", "bundle.zip"],
    );
    assert!(generated.status.success(), "{}", transcript(&generated));
    std::fs::create_dir(directory.join("taken")).expect("mkdir");
    for (name, args) in [
        ("join-token-zero-ttl", &["--ttl", "0h", "-o", "fresh"][..]),
        (
            "join-token-ttl-in-minutes",
            &["--ttl", "30m", "-o", "fresh"][..],
        ),
        (
            "join-token-ttl-beyond-validity",
            &["--ttl", "2y", "-o", "fresh"][..],
        ),
        ("join-token-existing-folder", &["-o", "taken"][..]),
    ] {
        let mut all = vec!["join-token", "bundle.zip"];
        all.extend_from_slice(args);
        let output = kbundle(&directory, &all);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{name}: {}",
            transcript(&output)
        );
        insta::assert_snapshot!(name, transcript(&output));
        assert!(!directory.join("fresh").exists(), "{name}: nothing written");
    }
    let entries: Vec<String> = std::fs::read_dir(&directory)
        .expect("read_dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut entries = entries;
    entries.sort();
    assert_eq!(
        entries,
        ["bundle.zip", "cluster.yaml", "taken"],
        "no folder, no log, no staging"
    );
    let _ = std::fs::remove_dir_all(&directory);
}

/// `kbundle certs` lists every certificate soonest first and warns of those near expiry;
/// `kbundle certs renew` issues them again from the same CAs, and a bundle that records no
/// identity is refused with what to do. See: issue #15, item 3.
#[test]
fn certs_lists_expiry_and_renew_issues_every_leaf_again_from_the_same_cas() {
    let directory = scratch_dir("certs");
    std::fs::copy(
        workspace().join("examples/cluster.yaml"),
        directory.join("cluster.yaml"),
    )
    .expect("example");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    // Issued 350 days ago: its leaves have 15 days left.
    let issued = (now - 350 * 86_400).to_string();
    let generated = kbundle(
        &directory,
        &[
            "generate",
            "cluster.yaml",
            "-o",
            "old.zip",
            "--issued-at",
            &issued,
        ],
    );
    assert!(generated.status.success(), "{}", transcript(&generated));
    let listed = kbundle(&directory, &["certs", "old.zip"]);
    let text = transcript(&listed);
    assert!(listed.status.success(), "{text}");
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|line| !line.starts_with("EXPIRES"))
        .skip(1)
        .take_while(|line| !line.starts_with("---"))
        .collect();
    assert!(rows.len() > 10, "{text}");
    assert!(rows[0].contains(" d !"), "soonest first, marked: {text}");
    assert!(rows.last().expect("rows").contains("(CA)"), "{text}");
    assert!(
        text.contains("certificates expire within 30 days")
            && text.contains("kbundle certs renew old.zip -o NEW.zip"),
        "{text}"
    );
    let json = kbundle(&directory, &["certs", "old.zip", "--output", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert!(
        rows.as_array()
            .expect("rows")
            .iter()
            .all(|row| row["days_left"].is_i64())
    );

    let renewed = kbundle(&directory, &["certs", "renew", "old.zip", "-o", "new.zip"]);
    assert!(renewed.status.success(), "{}", transcript(&renewed));
    let listed = kbundle(&directory, &["certs", "new.zip"]);
    let text = transcript(&listed);
    assert!(
        !text.contains(" d !") && !text.contains("expire within"),
        "{text}"
    );
    let verified = kbundle(&directory, &["verify", "new.zip"]);
    assert!(verified.status.success(), "{}", transcript(&verified));
    // The CAs are the same: the old and the new CA certificate rows match (but for the days
    // left, which the two listings count from their own clocks, seconds apart).
    let ca_rows = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.contains("(CA)"))
            .map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                [&words[..1], &words[3..]].concat().join(" ")
            })
            .collect()
    };
    assert_eq!(
        ca_rows(&transcript(&kbundle(&directory, &["certs", "old.zip"]))),
        ca_rows(&text)
    );
    // Never over an existing file without --force.
    let again = kbundle(&directory, &["certs", "renew", "old.zip", "-o", "new.zip"]);
    assert_ne!(again.status.code(), Some(0), "{}", transcript(&again));
    let _ = std::fs::remove_dir_all(&directory);
}
