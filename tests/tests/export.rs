//! The exports against their engines' own code, for the example and fixture clusters: every
//! user-data of `kbundle export cloud-init` passes `cloud-init schema` (Debian's cloud-init);
//! cloud-init's own `write_files` writes from it exactly the node's files with their modes,
//! and the node's `install.sh` installs them (into a scratch root); the scripts it runs pass
//! shellcheck. The Ansible export passes `ansible-playbook --syntax-check` and
//! `ansible-inventory` (ansible-core in `.venv-tests`) with the nodes grouped by role.
//! Everything is installed by scripts/install-test-deps.sh; nothing here touches the network.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kbundle_core::bundle::Bundle;
use kbundle_core::config::RawClusterConfig;
use kbundle_core::export::{ExportedFile, ansible, cloud_init};
use kbundle_core::pki::PkiInputs;
use kbundle_tests::programs::{Finished, require_program, run};
use kbundle_tests::{cluster_fixtures, repository_root};

const ISSUED_AT: i64 = 1_790_000_000;

/// The clusters exported: the examples and the fixtures that change what nodes get.
fn clusters() -> Vec<(String, Bundle)> {
    let root = repository_root();
    [
        root.join("examples/cluster.yaml"),
        root.join("examples/cluster-ha.yaml"),
        cluster_fixtures().join("dual-stack.yaml"),
        cluster_fixtures().join("registry-proxy.yaml"),
    ]
    .iter()
    .map(|path| {
        let yaml = with_kube_vip_interface(&std::fs::read_to_string(path).expect("fixture"));
        let raw = RawClusterConfig::from_yaml(&yaml).expect("fixture parses");
        let bundle = Bundle::generate(
            &raw,
            &PkiInputs {
                seed: [3; 32],
                issued_at: ISSUED_AT,
                existing_cas: Vec::new(),
            },
        )
        .expect("bundle");
        let name = path
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        (name, bundle)
    })
    .collect()
}

/// `yaml` with kube-vip's interface named, where kube-vip holds the endpoint: install.sh, run
/// into a scratch root below, cannot look for the interface that holds the node's address (the
/// test machine has none such).
fn with_kube_vip_interface(yaml: &str) -> String {
    if yaml.contains("    mode: kube-vip\n") {
        return yaml.replace(
            "    mode: kube-vip\n",
            "    mode: kube-vip\n    interface: eth0\n",
        );
    }
    if yaml.contains("highAvailability") {
        return yaml.to_owned();
    }
    let mut out = String::new();
    for line in yaml.lines() {
        out.push_str(line);
        out.push('\n');
        if line.starts_with("  controlPlaneEndpoint:") {
            out.push_str("  highAvailability: {mode: kube-vip, interface: eth0}\n");
        }
    }
    out
}

fn scratch(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("kbundle-export-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

/// Writes `files` under `directory`.
fn write(directory: &Path, files: &[ExportedFile]) {
    for file in files {
        let path = directory.join(&file.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &file.contents).expect("write");
    }
}

fn cloud_init_schema(path: &Path) -> Finished {
    let mut command = Command::new(require_program("cloud-init"));
    command.args(["schema", "--config-file"]).arg(path);
    run(command, Duration::from_secs(60))
}

/// cloud-init's own `write_files` module (Debian's cloud-init, with its Python), writing the
/// files of `user_data` under `root` instead of `/`.
const WRITE_FILES: &str = r#"
import sys, yaml
from cloudinit.config.cc_write_files import write_files
config = yaml.safe_load(open(sys.argv[1]))
root = sys.argv[2]
files = [dict(item, path=root + item["path"]) for item in config["write_files"]]
write_files("write_files", files, "root:root")
"#;

#[test]
fn every_user_data_is_valid_cloud_config_and_writes_the_nodes_own_files() {
    kbundle_tests::programs::require_root();
    let directory = scratch("cloud-init");
    let limit = cloud_init::limit(cloud_init::DEFAULT_LIMIT).expect("default limit");
    for (name, bundle) in clusters() {
        let files = cloud_init::export(&bundle, limit).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = directory.join(&name);
        write(&out, &files);
        let staging = format!(
            "{}/{}",
            kbundle_core::export::STAGING_DIR,
            bundle.manifest.cluster_name
        );
        for file in files.iter().filter(|f| f.path.starts_with("user-data/")) {
            let path = out.join(&file.path);
            let checked = cloud_init_schema(&path);
            assert!(
                checked.success() && checked.stdout.contains("Valid cloud-config"),
                "{name} {}: {checked}",
                file.path
            );

            // cloud-init writes the node's files with their modes…
            let node = file
                .path
                .trim_start_matches("user-data/")
                .trim_end_matches(".yaml");
            let root = out.join("root").join(node);
            let mut command = Command::new(cloud_init_python());
            command.args(["-c", WRITE_FILES]).arg(&path).arg(&root);
            let written = run(command, Duration::from_secs(60));
            assert!(written.success(), "{name} {node}: {written}");
            let staged = root.join(staging.trim_start_matches('/'));
            for entry in bundle
                .entries
                .iter()
                .filter(|e| e.path.starts_with(&format!("nodes/{node}/")))
            {
                let relative = entry.path.trim_start_matches(&format!("nodes/{node}/"));
                let on_disk = staged.join(relative);
                let contents = std::fs::read(&on_disk)
                    .unwrap_or_else(|e| panic!("{name} {node}: {relative}: {e}"));
                assert!(
                    contents == entry.contents,
                    "{name} {node}: {relative} differs"
                );
                assert_eq!(mode(&on_disk), entry.mode, "{name} {node}: {relative}");
            }
            // …and nothing of another node: only its own rootfs, and the addons on the first
            // control-plane node only.
            let listed = walk(&staged.join("rootfs"));
            let sums = String::from_utf8(
                bundle
                    .entry(&format!("nodes/{node}/SHA256SUMS"))
                    .expect("SHA256SUMS")
                    .contents
                    .clone(),
            )
            .expect("text");
            assert_eq!(
                listed.len(),
                sums.lines().count(),
                "{name} {node}: {listed:?}"
            );

            // The scripts cloud-init runs are sound shell…
            for script in ["boot.sh", "cluster.sh"] {
                let script = staged.join(script);
                if script.exists() {
                    let mut command = Command::new(require_program("shellcheck"));
                    command.args(["-s", "sh"]).arg(&script);
                    let checked = run(command, Duration::from_secs(60));
                    assert!(checked.success(), "{name} {node}: {checked}");
                }
            }
            // …and the node's install.sh installs what cloud-init wrote (into a scratch root:
            // KBUNDLE_ROOT, where it only prints the service actions).
            let mut command = Command::new("sh");
            command
                .arg(staged.join("install.sh"))
                .env("KBUNDLE_ROOT", root.join("installed"))
                .env("KBUNDLE_HOLD", "kube-controller-manager.yaml");
            let installed = run(command, Duration::from_secs(60));
            assert!(installed.success(), "{name} {node}: {installed}");
            for line in sums.lines() {
                let path = line.split_once("  ").expect("sum line").1;
                if path.ends_with("kube-controller-manager.yaml") {
                    continue;
                }
                assert!(
                    root.join("installed").join(path).exists(),
                    "{name} {node}: install.sh did not place /{path}"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn cloud_init_schema_refuses_what_cloud_init_would_not_take() {
    // The check above can fail: the same validator refuses a broken user-data.
    let directory = scratch("cloud-init-broken");
    let (_, bundle) = clusters().remove(0);
    let limit = cloud_init::limit("gce").expect("gce");
    let files = cloud_init::export(&bundle, limit).expect("export");
    let user_data = files
        .iter()
        .find(|f| f.path == "user-data/worker1.yaml")
        .expect("worker1");
    let text = String::from_utf8(user_data.contents.clone()).expect("text");
    let broken = directory.join("broken.yaml");
    std::fs::write(
        &broken,
        text.replacen("    encoding: gz+b64\n", "    encoding: zip\n", 1),
    )
    .expect("write");
    let checked = cloud_init_schema(&broken);
    assert!(!checked.success(), "{checked}");
    assert!(checked.output().contains("encoding"), "{checked}");
    let _ = std::fs::remove_dir_all(&directory);
}

/// The Python cloud-init runs with (its script's `#!` line): the one its modules are installed
/// for.
fn cloud_init_python() -> PathBuf {
    let script = std::fs::read_to_string(require_program("cloud-init")).expect("cloud-init");
    let interpreter = script
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("#!"))
        .and_then(|line| line.split_whitespace().next())
        .expect("cloud-init starts with a #! line");
    PathBuf::from(interpreter)
}

fn venv_program(name: &str) -> PathBuf {
    let path = repository_root().join(".venv-tests/bin").join(name);
    assert!(
        path.exists(),
        "{name} is missing at {}: run scripts/install-test-deps.sh (it installs ansible-core)",
        path.display()
    );
    path
}

#[test]
fn the_ansible_export_passes_ansibles_own_checks() {
    let directory = scratch("ansible");
    for (name, bundle) in clusters() {
        let out = directory.join(&name);
        let files = ansible::export(&bundle).unwrap_or_else(|e| panic!("{name}: {e}"));
        write(&out, &files);
        let ansible_home = out.join(".ansible-home");
        let mut command = Command::new(venv_program("ansible-playbook"));
        command
            .current_dir(&out)
            .env("ANSIBLE_HOME", &ansible_home)
            .env("ANSIBLE_LOCAL_TEMP", ansible_home.join("tmp"))
            .args(["--syntax-check", ansible::PLAYBOOK]);
        let checked = run(command, Duration::from_secs(120));
        assert!(checked.success(), "{name}: {checked}");
        assert!(!checked.output().contains("WARNING"), "{name}: {checked}");

        let mut command = Command::new(venv_program("ansible-inventory"));
        command
            .current_dir(&out)
            .env("ANSIBLE_HOME", &ansible_home)
            .env("ANSIBLE_LOCAL_TEMP", ansible_home.join("tmp"))
            .args(["-i", ansible::INVENTORY, "--list"]);
        let listed = run(command, Duration::from_secs(120));
        assert!(listed.success(), "{name}: {listed}");
        let inventory: serde_json::Value = serde_json::from_str(&listed.stdout).expect("json");
        for node in &bundle.manifest.nodes {
            let vars = &inventory["_meta"]["hostvars"][&node.name];
            assert_eq!(vars["ansible_host"], node.addresses[0].as_str(), "{name}");
            assert_eq!(vars["ansible_user"], node.ssh_user.as_str(), "{name}");
            for (role, group) in [
                ("control-plane", "control_plane"),
                ("etcd", "etcd"),
                ("worker", "workers"),
            ] {
                let members = inventory[group]["hosts"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert_eq!(
                    node.roles.iter().any(|r| r == role),
                    members.iter().any(|m| m == node.name.as_str()),
                    "{name}: {} in {group}",
                    node.name
                );
            }
        }
        // The export's cluster.sh is sound shell.
        let mut command = Command::new(require_program("shellcheck"));
        command.args(["-s", "sh"]).arg(out.join("files/cluster.sh"));
        let checked = run(command, Duration::from_secs(60));
        assert!(checked.success(), "{name}: {checked}");
    }
    let _ = std::fs::remove_dir_all(&directory);
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777
}

/// Every file under `directory`.
fn walk(directory: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
