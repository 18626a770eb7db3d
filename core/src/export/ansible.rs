//! `kbundle export ansible`: an inventory (the nodes grouped by role, with the SSH settings of
//! cluster.yaml) and a playbook that does what `kbundle apply` does, in its order, with its
//! guarantees:
//!
//! - each node gets only its own files (`files/<node>.tar`, the folder apply uploads), checked
//!   on the node against its checksums before they replace the previous upload;
//! - `install.sh` runs by role: the first control-plane node, then the other control-plane and
//!   etcd nodes, then the workers, holding kube-controller-manager back; the first
//!   control-plane node's failure stops the run, as in apply;
//! - kube-controller-manager is placed once every Node has its pod range, the addons are
//!   applied once, through the first control-plane node, and the cluster is checked;
//! - it is idempotent: every task reports a change only when it made one, so a second run
//!   reports `changed=0`;
//! - no secret is in the inventory, and no task that carries one shows its output
//!   (`no_log`; a failure still says why, from the script's last line of errors).
//!
//! The steps after install are `cluster.sh`'s ([`super::cluster_script`]).

use std::fmt::Write as _;

use super::{Cluster, Error, ExportedFile, cluster_script, shell_quote};
use crate::bundle::Bundle;
use crate::bundle::install::JOURNAL;
use crate::config::Node;

/// The inventory's file name.
pub const INVENTORY: &str = "inventory.yml";
/// The playbook's file name.
pub const PLAYBOOK: &str = "playbook.yml";
/// Where each node's files are, as `files/<node>.tar`.
pub const FILES_DIR: &str = "files";

/// The group of every node of the cluster; the role groups are its children.
const ALL_NODES: &str = "kbundle";
/// The role groups.
const CONTROL_PLANE: &str = "control_plane";
const ETCD: &str = "etcd";
const WORKERS: &str = "workers";

/// A group of the inventory by role: its name, what its members run, who is in it.
struct RoleGroup {
    name: &'static str,
    runs: &'static str,
    member: fn(&Node) -> bool,
}

const ROLE_GROUPS: [RoleGroup; 3] = [
    RoleGroup {
        name: CONTROL_PLANE,
        runs: "kube-apiserver, kube-controller-manager, kube-scheduler",
        member: |node| node.roles.control_plane,
    },
    RoleGroup {
        name: ETCD,
        runs: "an etcd member each",
        member: |node| node.roles.etcd,
    },
    RoleGroup {
        name: WORKERS,
        runs: "ordinary workloads",
        member: |node| node.roles.worker,
    },
];

/// How many nodes an Ansible export carries the files of (one `files/<node>.tar` each): what
/// the command line and the page say of it.
pub fn node_count(files: &[ExportedFile]) -> usize {
    files
        .iter()
        .filter(|file| file.path.starts_with(FILES_DIR) && file.path.ends_with(".tar"))
        .count()
}

/// The export of `bundle` for Ansible: `inventory.yml`, `playbook.yml`, `ansible.cfg`,
/// `README.md`, `files/cluster.sh` and one `files/<node>.tar` per node (0600: it holds the
/// node's keys).
pub fn export(bundle: &Bundle) -> Result<Vec<ExportedFile>, Error> {
    let cluster = Cluster::read(bundle)?;
    let mut files = vec![
        ExportedFile::new("README.md", readme(&cluster), 0o644),
        ExportedFile::new("ansible.cfg", config(&cluster), 0o644),
        ExportedFile::new(INVENTORY, inventory(&cluster), 0o644),
        ExportedFile::new(PLAYBOOK, playbook(&cluster), 0o644),
        ExportedFile::new(
            format!("{FILES_DIR}/{}", cluster_script::NAME),
            cluster_script::script(&cluster),
            0o755,
        ),
    ];
    for node in &cluster.config.nodes {
        let staged = cluster.staged_files(node);
        let tar = super::tar::archive(
            staged
                .iter()
                .map(|(path, contents, mode)| (path.as_str(), contents.as_slice(), *mode)),
        )
        .map_err(|error| Error::Bundle(format!("node `{}`: {error}", node.name)))?;
        files.push(ExportedFile::new(
            format!("{FILES_DIR}/{}.tar", node.name),
            tar,
            0o600,
        ));
    }
    Ok(files)
}

/// A YAML scalar holding `text` exactly (a JSON string is a YAML double-quoted scalar).
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// `inventory.yml`: every node under [`ALL_NODES`] with how to reach it, and the role groups.
fn inventory(cluster: &Cluster) -> String {
    let name = &cluster.bundle.manifest.cluster_name;
    let mut out = format!(
        "# Ansible inventory of cluster {name}, from its kbundle bundle (kbundle export ansible).\n\
         # Each node with the SSH settings of cluster.yaml, and the nodes grouped by role.\n\
         # No secret is here: give a sudo password with --ask-become-pass.\n\
         all:\n  children:\n    {ALL_NODES}:\n      vars:\n\
         \x20       # Every node runs the modules with the system's Python 3.\n\
         \x20       ansible_python_interpreter: /usr/bin/python3\n      hosts:\n"
    );
    for node in &cluster.config.nodes {
        let _ = writeln!(out, "        {}:", node.name);
        let _ = writeln!(
            out,
            "          ansible_host: {}",
            quoted(&node.primary_address().to_string())
        );
        let _ = writeln!(out, "          ansible_user: {}", quoted(&node.ssh.user));
        let _ = writeln!(out, "          ansible_port: {}", node.ssh.port);
        if let Some(identity) = &node.ssh.identity_file {
            let _ = writeln!(
                out,
                "          ansible_ssh_private_key_file: {}",
                quoted(identity)
            );
        }
        if !node.ssh.jump_hosts.is_empty() {
            let _ = writeln!(
                out,
                "          ansible_ssh_common_args: {}",
                quoted(&format!("-o ProxyJump={}", node.ssh.jump_hosts.join(",")))
            );
        }
        if node.ssh.user == "root" {
            // Root needs no sudo, and a machine that logs in as root may not have it.
            let _ = writeln!(out, "          ansible_become: false");
        }
    }
    out.push_str("      children:\n");
    for RoleGroup {
        name: group,
        runs: what,
        member,
    } in ROLE_GROUPS
    {
        let members: Vec<&Node> = cluster.config.nodes.iter().filter(|n| member(n)).collect();
        let _ = writeln!(out, "        # {what}");
        if members.is_empty() {
            let _ = writeln!(out, "        {group}: {{}}");
            continue;
        }
        let _ = writeln!(out, "        {group}:\n          hosts:");
        for node in members {
            let _ = writeln!(out, "            {}: {{}}", node.name);
        }
    }
    out
}

/// `ansible.cfg`: what makes a run from this folder behave as apply: every node at once, one
/// SSH connection per node reused, modules sent through it.
fn config(cluster: &Cluster) -> String {
    format!(
        "# Ansible settings for running the playbook from this folder (kbundle export ansible).\n\
         [defaults]\n\
         inventory = {INVENTORY}\n\
         # Every node at once, as kbundle apply works on them.\n\
         forks = {forks}\n\
         # The playbook needs no facts of the nodes.\n\
         gathering = explicit\n\n\
         [ssh_connection]\n\
         # Modules go through the SSH connection instead of a temporary file on the node.\n\
         pipelining = True\n",
        forks = cluster.config.nodes.len().max(5),
    )
}

/// One task: `name`, its module and arguments (YAML lines under the task, indented by six),
/// and the keys after them.
struct Task<'a> {
    name: String,
    body: String,
    register: Option<&'a str>,
    when: Option<String>,
    changed_when: Option<String>,
    /// Carries secrets: `no_log`, and a failure is reported by a task of its own, from the
    /// script's last line of errors (which never holds a file's contents).
    censored: bool,
    /// A failure stops the whole run, on every node.
    stops_run: bool,
}

impl<'a> Task<'a> {
    fn new(name: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            body: body.into(),
            register: None,
            when: None,
            changed_when: None,
            censored: false,
            stops_run: false,
        }
    }

    /// A `cluster.sh` step, which reports its changes.
    fn step(name: impl Into<String>, step: &str) -> Self {
        let mut task = Self::new(
            name,
            format!(
                "ansible.builtin.script:\n  cmd: {}/{} {step}\n",
                FILES_DIR,
                cluster_script::NAME
            ),
        );
        task.register = Some("step");
        task.changed_when = Some("\"'kbundle: changed' in step.stdout\"".into());
        task
    }

    /// A shell script as a task body.
    fn shell(script: &str) -> String {
        let mut body = String::from("ansible.builtin.shell:\n  cmd: |\n");
        for line in script.lines() {
            if line.is_empty() {
                body.push('\n');
            } else {
                let _ = writeln!(body, "    {line}");
            }
        }
        body
    }

    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "    - name: {}", quoted(&self.name));
        for line in self.body.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                let _ = writeln!(out, "      {line}");
            }
        }
        if let Some(register) = self.register {
            let _ = writeln!(out, "      register: {register}");
        }
        if let Some(when) = &self.when {
            let _ = writeln!(out, "      when: {when}");
        }
        if let Some(changed_when) = &self.changed_when {
            let _ = writeln!(out, "      changed_when: {changed_when}");
        }
        if self.stops_run && !self.censored {
            let _ = writeln!(out, "      any_errors_fatal: true");
        }
        if self.censored {
            // The output stays hidden even when the task fails; the next task says why, from
            // the last line of errors (what the scripts print there never holds a file's
            // contents).
            let register = self.register.unwrap_or("result");
            let _ = writeln!(out, "      ignore_errors: true\n      no_log: true");
            let _ = writeln!(
                out,
                "    - name: {}\n      ansible.builtin.fail:\n        msg: \"{{{{ {register}.stderr_lines | default([]) | last | default({register}.msg | default('failed')) }}}}\"\n      when: {register} is failed",
                quoted(&format!("{}: failed?", self.name)),
            );
            if self.stops_run {
                let _ = writeln!(out, "      any_errors_fatal: true");
            }
        }
    }
}

/// One play: `hosts`, what it is, its tasks.
fn play(out: &mut String, name: &str, hosts: &str, tasks: &[Task]) {
    let _ = writeln!(
        out,
        "\n- name: {}\n  hosts: {}\n  gather_facts: false\n  become: true\n  tasks:",
        quoted(name),
        quoted(hosts)
    );
    for task in tasks {
        task.write(out);
    }
}

/// `playbook.yml`: apply's phases, as plays in its order.
fn playbook(cluster: &Cluster) -> String {
    let name = &cluster.bundle.manifest.cluster_name;
    let staging = &cluster.staging;
    let first = &cluster.first_control_plane().name;
    let cluster_id = crate::bundle::install::cluster_id(cluster.bundle);
    let mut out = format!(
        "# What `kbundle apply` does for cluster {name}, as an Ansible playbook (kbundle export\n\
         # ansible), in apply's order. From this folder:  ansible-playbook {PLAYBOOK}\n\
         # (with --ask-become-pass when sudo asks for a password). A second run changes nothing\n\
         # and reports changed=0. Each node's keys travel only in its own files/<node>.tar, and\n\
         # no task that carries them shows its output.\n---"
    );

    // connect, lock, upload: every node at once.
    let mut lock = Task::new(
        "lock: refuse a node of another cluster (-e kbundle_force=true installs over it)",
        Task::shell(&format!(
            "set -eu\n\
             if [ ! -d {STAGING_DIR} ]; then\n  (umask 077 && mkdir -p {STAGING_DIR})\n  echo 'kbundle: changed: {STAGING_DIR} made'\nfi\n\
             if [ {{{{ kbundle_force | default(false) | bool | lower }}}} != true ] && [ -f {JOURNAL} ] &&\n  ! grep -qx {id} {JOURNAL}; then\n\
             \x20 echo \"the node belongs to another cluster ($(sed -n 's/^cluster=//p' {JOURNAL})); pass -e kbundle_force=true to install this bundle over it anyway\" >&2\n  exit 1\nfi",
            STAGING_DIR = super::STAGING_DIR,
            id = shell_quote(&format!("cluster_id={cluster_id}")),
        )),
    );
    lock.register = Some("lock");
    lock.changed_when = Some("\"'kbundle: changed' in lock.stdout\"".into());
    let mut copy = Task::new(
        "upload: the node's own files, private to root",
        format!(
            "ansible.builtin.copy:\n  src: \"{FILES_DIR}/{{{{ inventory_hostname }}}}.tar\"\n  dest: {staging}.tar\n  mode: \"0600\"\n"
        ),
    );
    copy.register = Some("upload");
    copy.censored = true;
    let mut unpack = Task::new(
        "upload: unpacked and checked against the node's checksums",
        Task::shell(&format!(
            "set -eu\n\
             umask 077\n\
             staging={staging}\n\
             # The upload in place already, whole: nothing to do.\n\
             tar_sum=$(sha256sum <\"$staging.tar\" | cut -d' ' -f1)\n\
             if [ \"$(cat \"$staging/.tar.sha256\" 2>/dev/null)\" = \"$tar_sum\" ] &&\n  (cd \"$staging/rootfs\" && sha256sum --quiet --strict -c ../SHA256SUMS); then\n  exit 0\nfi\n\
             rm -rf \"$staging.new\"\n\
             mkdir \"$staging.new\"\n\
             tar -x -f \"$staging.tar\" -C \"$staging.new\"\n\
             (cd \"$staging.new/rootfs\" && sha256sum --quiet --strict -c ../SHA256SUMS)\n\
             echo \"$tar_sum\" >\"$staging.new/.tar.sha256\"\n\
             rm -rf \"$staging\"\n\
             mv \"$staging.new\" \"$staging\"\n\
             echo 'kbundle: changed: unpacked, checksums verified on the node'"
        )),
    );
    unpack.register = Some("unpack");
    unpack.changed_when = Some("\"'kbundle: changed' in unpack.stdout\"".into());
    unpack.censored = true;
    play(
        &mut out,
        "connect, lock, upload: each node's own files, checked on the node",
        ALL_NODES,
        &[lock, copy, unpack],
    );

    // new-nodes: before any kubelet of a new node starts.
    play(
        &mut out,
        "new-nodes: on a running cluster, the Nodes that join get their planned pod ranges first",
        first,
        &[Task::step("new-nodes", "new-nodes")],
    );

    // install by role, then start.
    let mut tasks = vec![{
        let mut check = Task::new(
            format!("the first control-plane node ({first}) must be in the run"),
            format!(
                "ansible.builtin.assert:\n  that: {}\n  fail_msg: {}\n",
                quoted(&format!("'{first}' in ansible_play_hosts")),
                quoted(&format!(
                    "{first} failed: the cluster-wide steps go through it; nothing is installed"
                ))
            ),
        );
        check.stops_run = true;
        check.body.push_str("run_once: true\n");
        check
    }];
    let groups = cluster.by_role();
    let members = |group: &[&Node]| {
        let names: Vec<&str> = group.iter().map(|node| node.name.as_str()).collect();
        let when = if names.len() == 1 {
            format!("inventory_hostname == {}", quoted(names[0]))
        } else {
            format!("inventory_hostname in {}", serde_json::json!(names))
        };
        (names.join(", "), when)
    };
    let what = |index: usize| match index {
        0 => "the first control-plane node",
        1 if groups.len() == 3
            || groups[1]
                .iter()
                .any(|n| n.roles.control_plane || n.roles.etcd) =>
        {
            "the other control-plane and etcd nodes"
        }
        _ => "the workers",
    };
    for (index, group) in groups.iter().enumerate() {
        let (names, when) = members(group);
        let mut install = Task::new(
            format!("install: {names} ({})", what(index)),
            Task::shell(&format!(
                "set -eu\n\
                 # kube-controller-manager waits until every Node has its planned pod range.\n\
                 KBUNDLE_HOLD=kube-controller-manager.yaml sh {staging}/install.sh\n\
                 # The journal: this node runs this cluster's bundle.\n\
                 printf '%s' {journal} >{JOURNAL}",
                journal = shell_quote(&cluster.journal()),
            )),
        );
        install.register = Some("install");
        install.when = Some(when);
        install.changed_when =
            Some("\"'already installed: nothing changed' not in install.stdout\"".into());
        install.censored = true;
        // Nothing may go on without the first control-plane node.
        install.stops_run = index == 0;
        tasks.push(install);
    }
    for (index, group) in groups.iter().enumerate() {
        let (names, when) = members(group);
        let mut start = Task::new(
            format!(
                "start: {names} ({}): containerd and the kubelet enabled and running",
                what(index)
            ),
            Task::shell(
                "states() { systemctl is-enabled containerd kubelet 2>&1; systemctl is-active containerd kubelet 2>&1; }\n\
                 before=$(states || true)\n\
                 systemctl enable --now containerd kubelet\n\
                 if [ \"$(states || true)\" != \"$before\" ]; then\n  echo 'kbundle: changed: started'\nfi",
            ),
        );
        start.register = Some("start");
        start.when = Some(when);
        start.changed_when = Some("\"'kbundle: changed' in start.stdout\"".into());
        tasks.push(start);
    }
    let order: Vec<String> = groups
        .iter()
        .map(|group| {
            group
                .iter()
                .map(|node| node.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    play(
        &mut out,
        &format!(
            "install, start: by role ({}), holding kube-controller-manager back",
            order.join("; then ")
        ),
        ALL_NODES,
        &tasks,
    );

    // The waits, node ranges, kube-controller-manager, addons, the check.
    if let Some(etcd) = cluster.config.etcd_nodes().next() {
        let mut wait = Task::step("wait-etcd: every member healthy", "wait-etcd");
        wait.changed_when = Some("false".into());
        play(&mut out, "wait-etcd: etcd quorum", &etcd.name, &[wait]);
    }
    let mut wait = Task::step(
        "wait-apiserver: /readyz through the control-plane endpoint",
        "wait-apiserver",
    );
    wait.changed_when = Some("false".into());
    play(
        &mut out,
        "wait-apiserver, node-ranges: every Node gets its planned pod range",
        first,
        &[wait, Task::step("node-ranges", "node-ranges")],
    );
    let mut release = Task::new(
        "controller-manager: kube-controller-manager placed",
        Task::shell(&format!("sh {staging}/install.sh")),
    );
    release.register = Some("release");
    release.changed_when =
        Some("\"'already installed: nothing changed' not in release.stdout\"".into());
    release.censored = true;
    play(
        &mut out,
        "controller-manager: placed now that every Node has its pod range",
        CONTROL_PLANE,
        &[release],
    );
    let mut addons = Task::step("addons: in file order", "addons");
    addons.censored = true;
    let mut tasks = vec![addons];
    if cluster.has_kube_vip() {
        let mut kube_vip = Task::step(
            "kube-vip: from super-admin.conf to admin.conf, now that its rights exist",
            "kube-vip",
        );
        kube_vip.censored = true;
        tasks.push(kube_vip);
    }
    let mut validate = Task::step(
        "validate: every node Ready with its planned pod range",
        "validate",
    );
    validate.changed_when = Some("false".into());
    tasks.push(validate);
    play(
        &mut out,
        "addons, validate: once, through the first control-plane node",
        first,
        &tasks,
    );
    out
}

/// The export's README.
fn readme(cluster: &Cluster) -> String {
    let name = &cluster.bundle.manifest.cluster_name;
    format!(
        r#"# Cluster {name} for Ansible

Exported from the cluster's kbundle bundle by `kbundle export ansible`. The playbook does what
`kbundle apply` does, in its order; see kbundle's docs/export.md.

    ansible-playbook {PLAYBOOK}                  # from this folder (ansible.cfg names the inventory)
    ansible-playbook {PLAYBOOK} --ask-become-pass  # when sudo asks for a password

- `{INVENTORY}`: every node with the SSH settings of cluster.yaml, grouped by role
  (`{CONTROL_PLANE}`, `{ETCD}`, `{WORKERS}`, all under `{ALL_NODES}`). No secret is in it.
- `{PLAYBOOK}`: upload (each node its own `files/<node>.tar`, checked on the node against its
  checksums), install by role (`install.sh`, holding kube-controller-manager back), start, the
  waits, the Nodes' pod ranges, kube-controller-manager, the addons, the check.
- `files/<node>.tar`: the node's files as `kbundle apply` uploads them. They hold its keys:
  keep this folder as private as the bundle (0700).
- `files/{script}`: the cluster-wide steps, run on the first control-plane node.

A second run changes nothing and reports `changed=0`.
"#,
        script = cluster_script::NAME,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExampleKind;
    use crate::export::tests::example_bundle;

    fn text(files: &[ExportedFile], path: &str) -> String {
        let file = files
            .iter()
            .find(|file| file.path == path)
            .unwrap_or_else(|| panic!("{path}"));
        String::from_utf8(file.contents.clone()).unwrap()
    }

    #[test]
    fn exports_inventory_playbook_and_one_private_tar_per_node() {
        let bundle = example_bundle(ExampleKind::Basic, 1_790_000_000);
        let files = export(&bundle).unwrap();
        let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "README.md",
                "ansible.cfg",
                "inventory.yml",
                "playbook.yml",
                "files/cluster.sh",
                "files/cp1.tar",
                "files/worker1.tar",
                "files/worker2.tar"
            ]
        );
        for file in &files {
            let private = file.path.ends_with(".tar");
            assert_eq!(file.mode == 0o600, private, "{}", file.path);
        }
        insta::assert_snapshot!("basic-inventory", text(&files, INVENTORY));
        insta::assert_snapshot!("basic-playbook", text(&files, PLAYBOOK));
    }

    #[test]
    fn inventory_and_playbook_are_yaml_with_the_groups_and_plays_in_applys_order() {
        let bundle = example_bundle(ExampleKind::HighAvailability, 1_790_000_000);
        let files = export(&bundle).unwrap();
        let inventory: serde_json::Value = serde_yaml::from_str(&text(&files, INVENTORY)).unwrap();
        let groups = &inventory["all"]["children"][ALL_NODES]["children"];
        let members = |group: &str| -> Vec<String> {
            groups[group]["hosts"]
                .as_object()
                .map(|hosts| hosts.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(members(CONTROL_PLANE), ["cp1", "cp2", "cp3"]);
        assert_eq!(members(ETCD), ["cp1", "cp2", "cp3"]);
        assert_eq!(members(WORKERS).len(), 2);
        let cp1 = &inventory["all"]["children"][ALL_NODES]["hosts"]["cp1"];
        assert_eq!(cp1["ansible_host"], "192.0.2.11");

        let playbook: serde_json::Value = serde_yaml::from_str(&text(&files, PLAYBOOK)).unwrap();
        let plays: Vec<&str> = playbook
            .as_array()
            .unwrap()
            .iter()
            .map(|play| play["name"].as_str().unwrap().split(':').next().unwrap())
            .collect();
        assert_eq!(
            plays,
            [
                "connect, lock, upload",
                "new-nodes",
                "install, start",
                "wait-etcd",
                "wait-apiserver, node-ranges",
                "controller-manager",
                "addons, validate"
            ]
        );
        // Every task that carries keys hides its output.
        let hidden: Vec<&str> = playbook
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|play| play["tasks"].as_array().unwrap())
            .filter(|task| task["no_log"] == true)
            .map(|task| task["name"].as_str().unwrap().split(':').next().unwrap())
            .collect();
        assert_eq!(
            hidden,
            [
                "upload",
                "upload",
                "install",
                "install",
                "install",
                "controller-manager",
                "addons",
                "kube-vip"
            ]
        );
        // kube-vip moves to admin.conf in the HA example.
        assert!(text(&files, PLAYBOOK).contains("files/cluster.sh kube-vip"));
    }

    #[test]
    fn a_root_login_needs_no_sudo_and_jump_hosts_become_proxy_jump() {
        let yaml = crate::config::example_yaml(ExampleKind::Basic).replace(
            "  ssh:\n    user: root\n    port: 22\n",
            "  ssh:\n    user: root\n    port: 2222\n    jumpHosts: [bastion.example.com, 192.0.2.1]\n",
        );
        let bundle = crate::export::tests::bundle_of(&yaml, 1_790_000_000);
        let files = export(&bundle).unwrap();
        let inventory = text(&files, INVENTORY);
        assert!(inventory.contains("ansible_port: 2222"), "{inventory}");
        assert!(
            inventory.contains(
                "ansible_ssh_common_args: \"-o ProxyJump=bastion.example.com,192.0.2.1\""
            )
        );
        assert!(inventory.contains("ansible_become: false"));
    }

    #[test]
    fn the_tar_of_a_node_holds_its_staging_folder() {
        let bundle = example_bundle(ExampleKind::Basic, 1_790_000_000);
        let files = export(&bundle).unwrap();
        let tar = &files
            .iter()
            .find(|f| f.path == "files/worker1.tar")
            .unwrap()
            .contents;
        let text = String::from_utf8_lossy(tar);
        assert!(text.contains("rootfs/etc/kubernetes/kubelet.conf"));
        assert!(!text.contains("addons/"), "workers get no addons");
        assert!(
            !text.contains("rootfs/etc/kubernetes/pki/ca.key"),
            "nor the CA key"
        );
        let cp1 = &files
            .iter()
            .find(|f| f.path == "files/cp1.tar")
            .unwrap()
            .contents;
        let text = String::from_utf8_lossy(cp1);
        assert!(text.contains("addons/50-flannel.yaml"));
        assert!(text.contains("expired/20-bootstrap.yaml"));
    }
}
