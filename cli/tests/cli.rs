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
    assert_eq!(plan["nodes"][2]["pod_cidrs"][0], "10.244.2.0/24");
    assert_eq!(plan["nodes"][2]["pod_cidrs"][1], "fd00:10:244:2::/64");
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
