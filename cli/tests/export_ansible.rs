//! `kbundle export ansible` against the lab's real control plane (see `cluster.rs` and
//! docs/lab.md): `ansible-playbook` (ansible-core from PyPI) with the exported playbook
//! installs on every node exactly the files `kbundle apply` installs from the same bundle, with
//! the same modes (compared file by file with a second lab where apply installed it), brings
//! the cluster to Ready with every Node on its planned pod range, labels and taints, and
//! kube-controller-manager and the addons in place; a second run reports `changed=0` on every
//! node and restarts nothing; no secret of the bundle is in Ansible's output, even with `-v`,
//! nor in the inventory or the playbook; `kbundle apply` afterwards finds every node installed;
//! and a node added later (`generate --from`) joins with its planned pod range.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kbundle_tests::ansible;
use kbundle_tests::kubernetes::{ClusterLab, ClusterShape, node_logs, real_kubelet_verdict};

const KBUNDLE: &str = env!("CARGO_BIN_EXE_kbundle");

/// What the install leaves on a node: the folders it writes, walked whole, and single files
/// in folders others write to as well (the kubelet's and kbundle's state).
const INSTALLED_TREES: [&str; 5] = [
    "/etc/kubernetes",
    "/etc/containerd",
    "/etc/systemd/system",
    "/etc/sysctl.d",
    "/etc/modules-load.d",
];
const INSTALLED_FILES: [&str; 3] = [
    "/var/lib/kubelet/config.yaml",
    "/var/lib/kbundle/journal",
    "/var/lib/kbundle/installed.sha256",
];

/// One thing on a node's disk: its kind and mode, and a file's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    Folder(u32),
    File(u32, Vec<u8>),
    Missing,
}

/// Everything [`INSTALLED_TREES`] and [`INSTALLED_FILES`] hold on each node of `cluster`, by
/// node and path, as the nodes wrote them (the overlays' upper dirs).
fn installed(cluster: &ClusterLab) -> BTreeMap<(String, String), Found> {
    let mut found = BTreeMap::new();
    for index in cluster.shape.nodes() {
        let node = cluster.lab.node_name(index).to_owned();
        let root = cluster.lab.node_root(index);
        for tree in INSTALLED_TREES {
            walk(
                &root,
                &cluster.lab.node_file(index, tree),
                &node,
                &mut found,
            );
        }
        for file in INSTALLED_FILES {
            found.insert(
                (node.clone(), file.to_owned()),
                look(&cluster.lab.node_file(index, file)),
            );
        }
    }
    found
}

fn look(path: &Path) -> Found {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::symlink_metadata(path) {
        Err(_) => Found::Missing,
        Ok(metadata) => {
            let mode = metadata.permissions().mode() & 0o7777;
            if metadata.is_dir() {
                Found::Folder(mode)
            } else {
                Found::File(mode, std::fs::read(path).unwrap_or_default())
            }
        }
    }
}

fn walk(root: &Path, path: &Path, node: &str, found: &mut BTreeMap<(String, String), Found>) {
    let key = format!("/{}", path.strip_prefix(root).unwrap_or(path).display());
    let here = look(path);
    let is_folder = matches!(here, Found::Folder(_));
    found.insert((node.to_owned(), key), here);
    if is_folder {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .expect("read_dir")
            .map(|entry| entry.expect("entry").path())
            .collect();
        entries.sort();
        for entry in entries {
            walk(root, &entry, node, found);
        }
    }
}

/// Every string of the bundle that must never be shown: each private key's body, each
/// kubeconfig's client key, the bootstrap token (as Secret data and as a kubeconfig's token).
fn secrets(bundle: &kbundle_core::bundle::Bundle) -> Vec<String> {
    let mut secrets = Vec::new();
    for entry in &bundle.entries {
        let text = String::from_utf8_lossy(&entry.contents);
        if entry.path.ends_with(".key") {
            secrets.extend(
                text.lines()
                    .filter(|line| !line.starts_with("-----") && line.len() > 20)
                    .map(str::to_owned),
            );
        }
        for line in text.lines() {
            let line = line.trim();
            if let Some(key) = line.strip_prefix("client-key-data: ") {
                secrets.push(key.to_owned());
            }
            for field in ["token-secret: ", "token: "] {
                if let Some(secret) = line.strip_prefix(field) {
                    secrets.push(secret.to_owned());
                }
            }
        }
    }
    assert!(secrets.len() > 10, "{} secrets found", secrets.len());
    secrets
}

/// The pids of every static pod and of the lab kubelet on every node of the shape.
fn running_processes(cluster: &ClusterLab) -> Vec<(String, String)> {
    let mut pids = Vec::new();
    for index in cluster.shape.nodes() {
        let listed = cluster.root(
            index,
            "cd /run/kbundle-lab && for f in kubelet.pid hollow-kubelet.pid pods/*.pid; do [ -f \"$f\" ] && echo \"$f $(cat \"$f\")\"; done",
        );
        for line in listed.stdout.lines() {
            pids.push((cluster.lab.node_name(index).to_owned(), line.to_owned()));
        }
    }
    pids
}

/// What ansible-playbook printed for the task `name` (up to the next task or play).
fn task_output<'a>(stdout: &'a str, name: &str) -> &'a str {
    let start = stdout
        .find(&format!("TASK [{name}]"))
        .unwrap_or_else(|| panic!("no task {name}: {stdout}"));
    let rest = &stdout[start + 1..];
    let end = ["\nTASK [", "\nPLAY ["]
        .iter()
        .filter_map(|next| rest.find(next))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

fn run_playbook(cluster: &ClusterLab, export: &Path, extra: &[&str]) -> (String, String) {
    let mut command = ansible::playbook_command(&cluster.lab, export);
    command.args(extra);
    let output = command.output().expect("ansible-playbook runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        let logs: String = cluster
            .shape
            .nodes()
            .map(|i| node_logs(&cluster.lab, i))
            .collect();
        panic!(
            "ansible-playbook failed ({}):\n{stdout}\n{stderr}\n{logs}",
            output.status
        );
    }
    (stdout, stderr)
}

#[test]
fn ansible_playbook_installs_what_apply_installs_changes_nothing_again_and_grows_the_cluster() {
    let mut shape = ClusterShape::new("ansible", 1, 2);
    shape.node_fields.push((
        2,
        "labels: {disk: ssd}, taints: [\"dedicated=infra:NoSchedule\"]".to_owned(),
    ));
    let kbundle = PathBuf::from(KBUNDLE);
    // The lab Ansible installs; the bundle names its client key (the inventory's).
    // node4 is not in the cluster: it joins later, through a grown bundle.
    let cluster = ClusterLab::new(shape.clone(), 4, &kbundle);
    let zip = cluster.generate(&shape.cluster_yaml(&cluster.lab), "ansible");
    let bundle = cluster.bundle(&zip);

    // The same bundle installed by `kbundle apply` on a lab of the same nodes (the same names
    // and addresses, in a namespace of its own), its key given on the command line.
    let by_apply = {
        let applied = ClusterLab::new(shape.clone(), 3, &kbundle);
        let key = applied.lab.client_key().display().to_string();
        let run = applied.apply(&zip, &["-i", &key, "--wait-timeout", "180"]);
        assert!(run.success(), "kbundle apply: {run}");
        installed(&applied)
    };

    let export = cluster.lab.scratch_dir().join("exported");
    let run = cluster.kbundle_run(&[
        "export",
        "ansible",
        &zip.display().to_string(),
        "-o",
        &export.display().to_string(),
    ]);
    assert!(run.success(), "{run}");

    // First run, verbose: every task's result is shown unless it carries secrets.
    let (stdout, stderr) = run_playbook(&cluster, &export, &["-v"]);
    let first = ansible::recap(&stdout);
    assert_eq!(first.len(), 3, "{stdout}");
    for (host, counts) in &first {
        assert_eq!(
            (counts["failed"], counts["unreachable"], counts["ignored"]),
            (0, 0, 0),
            "{host}: {stdout}"
        );
        assert!(counts["changed"] > 0, "{host} installed: {stdout}");
    }
    let inventory = std::fs::read_to_string(export.join("inventory.yml")).expect("inventory");
    let playbook = std::fs::read_to_string(export.join("playbook.yml")).expect("playbook");
    for secret in secrets(&bundle) {
        assert!(
            !stdout.contains(&secret) && !stderr.contains(&secret),
            "a secret of the bundle is in Ansible's output"
        );
        assert!(
            !inventory.contains(&secret) && !playbook.contains(&secret),
            "a secret of the bundle is in the inventory or the playbook"
        );
    }

    // The cluster is up: every node Ready on its planned range, as the bundle declares it.
    let admin = cluster.extract(&zip, "admin.conf");
    cluster.wait_ready(&admin, Duration::from_secs(120));
    let plan = bundle.pod_ranges().expect("plan.json");
    let nodes = cluster.kubectl(&admin, &["get", "nodes", "-o", "json"]);
    let nodes: serde_json::Value = serde_json::from_str(nodes.expect_success()).expect("json");
    for node in nodes["items"].as_array().expect("items") {
        let name = node["metadata"]["name"].as_str().expect("name");
        let planned: Vec<String> = plan[name]
            .iter()
            .map(|range| kbundle_core::net::canonical(*range))
            .collect();
        assert_eq!(
            node["spec"]["podCIDRs"],
            serde_json::json!(planned),
            "{name}"
        );
        if name == "node2" {
            assert_eq!(node["metadata"]["labels"]["disk"], "ssd");
            assert!(
                node["spec"]["taints"]
                    .as_array()
                    .expect("taints")
                    .iter()
                    .any(|t| t["key"] == "dedicated" && t["value"] == "infra"),
                "{node}"
            );
        }
    }
    for index in shape.nodes() {
        let verdict = real_kubelet_verdict(&cluster.lab, index, Duration::from_secs(60));
        assert!(verdict.starts_with("passed"), "node{index}: {verdict}");
    }
    assert!(
        cluster
            .static_pod_pid(1, "kube-controller-manager")
            .is_some(),
        "kube-controller-manager was released"
    );
    for addon in bundle
        .manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("addons/"))
    {
        let file = cluster.extract(&zip, &addon.path).display().to_string();
        let listed = cluster.kubectl(&admin, &["get", "-f", &file, "-o", "name"]);
        assert!(listed.success(), "{}: {listed}", addon.path);
    }

    // File by file, what Ansible installed is what apply installed.
    let by_ansible = installed(&cluster);
    assert!(
        by_apply
            .iter()
            .filter(|(_, found)| matches!(found, Found::File(..)))
            .count()
            > 30
    );
    let differ: Vec<String> = by_apply
        .keys()
        .chain(by_ansible.keys())
        .filter(|key| by_apply.get(*key) != by_ansible.get(*key))
        .map(|(node, path)| {
            let show = |found: Option<&Found>| match found {
                Some(Found::File(mode, contents)) => {
                    format!("file {mode:o}, {} bytes", contents.len())
                }
                other => format!("{other:?}"),
            };
            format!(
                "{node}:{path}: apply {}, ansible {}",
                show(by_apply.get(&(node.clone(), path.clone()))),
                show(by_ansible.get(&(node.clone(), path.clone())))
            )
        })
        .collect();
    assert!(differ.is_empty(), "differences:\n{}", differ.join("\n"));

    // Second run: nothing changes, nothing restarts.
    let before = running_processes(&cluster);
    let calls_before: Vec<usize> = shape
        .nodes()
        .map(|i| cluster.lab.service_calls(i).len())
        .collect();
    let (stdout, _) = run_playbook(&cluster, &export, &[]);
    let second = ansible::recap(&stdout);
    assert_eq!(second.len(), 3, "{stdout}");
    for (host, counts) in &second {
        assert_eq!(
            (counts["changed"], counts["failed"], counts["ignored"]),
            (0, 0, 0),
            "{host}: {stdout}"
        );
    }
    assert_eq!(running_processes(&cluster), before, "nothing restarted");
    for index in shape.nodes() {
        let calls = cluster.lab.service_calls(index);
        let new = &calls[calls_before[index - 1]..];
        assert!(
            new.iter().all(|call| !call.contains("restart")),
            "node{index} restarted: {new:?}"
        );
    }
    assert_eq!(
        installed(&cluster),
        by_ansible,
        "the second run wrote nothing"
    );

    // kbundle status reads what the playbook staged (apply's own upload is not there yet):
    // every file in place. (The lab's systemctl stand-in answers nothing to `is-active`, so
    // status reports containerd and the kubelet as it finds them and fails, as in apply_ssh.)
    let known_hosts = cluster.lab.known_hosts().display().to_string();
    let lab_ssh = ["--ssh-config", "/dev/null", "--known-hosts", &known_hosts];
    let zip_arg = zip.display().to_string();
    let mut status = vec!["status", zip_arg.as_str()];
    status.extend(lab_ssh);
    let run = cluster.kbundle_run(&status);
    for index in shape.nodes() {
        assert!(
            run.stderr
                .lines()
                .any(|line| line.contains(&format!("node{index}: status"))
                    && line.contains("staged=export, files=in-place")),
            "node{index}: {run}"
        );
    }

    // kbundle apply agrees: every node already runs this bundle.
    let run = cluster.apply(&zip, &["--wait-timeout", "60"]);
    assert!(run.success(), "{run}");
    assert_eq!(
        run.stderr
            .matches("already installed: nothing changed")
            .count(),
        3,
        "{run}"
    );

    // The cluster grows: node4 added to cluster.yaml, the bundle made again from the last one
    // (the CAs and every range kept). The playbook creates node4's Node with its planned range
    // before its kubelet starts (new-nodes): kube-controller-manager, running by now, would
    // give a registering node the first free range instead.
    let grown_yaml = format!(
        "{}    - {{name: node4, address: \"{}\", roles: [worker]}}\n",
        shape.cluster_yaml(&cluster.lab),
        cluster.lab.node_address(4)
    );
    let grown = cluster.generate_with(
        &grown_yaml,
        "grown",
        &["--from", &zip.display().to_string()],
    );
    let grown_export = cluster.lab.scratch_dir().join("exported-grown");
    let run = cluster.kbundle_run(&[
        "export",
        "ansible",
        &grown.display().to_string(),
        "-o",
        &grown_export.display().to_string(),
    ]);
    assert!(run.success(), "{run}");
    let (stdout, _) = run_playbook(&cluster, &grown_export, &[]);
    let recap = ansible::recap(&stdout);
    assert!(recap["node4"]["changed"] > 0, "{stdout}");
    assert!(
        task_output(&stdout, "new-nodes").contains("changed: [node1]"),
        "new-nodes created node4's Node: {stdout}"
    );
    for worker in ["node2", "node3"] {
        assert_eq!(recap[worker]["changed"], 0, "{worker}: {stdout}");
    }
    cluster.wait_nodes_ready(&admin, &["node4"], Duration::from_secs(120));
    let planned: Vec<String> = cluster.bundle(&grown).pod_ranges().expect("plan.json")["node4"]
        .iter()
        .map(|range| kbundle_core::net::canonical(*range))
        .collect();
    let node4 = cluster.kubectl(
        &admin,
        &["get", "node", "node4", "-o", "jsonpath={.spec.podCIDRs[*]}"],
    );
    assert_eq!(
        node4.expect_success().trim(),
        planned.join(" "),
        "node4's range"
    );

    // kbundle reset removes what the exports staged too.
    let staged = kbundle_core::export::staging_dir(&cluster.bundle(&grown).manifest.cluster_name);
    let grown_arg = grown.display().to_string();
    let mut reset = vec!["reset", grown_arg.as_str(), "--wipe-data"];
    reset.extend(lab_ssh);
    let run = cluster.kbundle_run(&reset);
    assert!(run.success(), "{run}");
    assert_eq!(
        run.stderr.matches(&format!("removed={staged}")).count(),
        4,
        "{run}"
    );
    for index in 1..=4 {
        let left = cluster.root(index, &format!("test ! -e {staged}"));
        assert!(left.success(), "node{index} still has {staged}: {left}");
    }
}
