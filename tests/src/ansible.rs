//! `ansible-playbook` (ansible-core from PyPI, in `.venv-tests`: scripts/install-test-deps.sh)
//! run against lab nodes with the playbook of `kbundle export ansible`: from inside the lab's
//! namespace (the only place that reaches the nodes), with the lab's known_hosts, and with
//! Ansible's own files (its home, temporary files, SSH control sockets) in the lab's scratch
//! dir, so that two labs, which use the same addresses, never share a connection. Its SSH
//! masters linger after a run (`ControlPersist`); the lab's teardown ends them by pid, with
//! every other process in its namespaces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::lab::Lab;

/// The ansible-core version scripts/install-test-deps.sh installs.
pub const ANSIBLE_CORE_VERSION: &str = "2.19.14";

/// A program of the test venv (`ansible-playbook`, `ansible-inventory`); panics naming the
/// install script when it is missing.
pub fn venv_program(name: &str) -> PathBuf {
    let path = crate::repository_root().join(".venv-tests/bin").join(name);
    assert!(
        path.exists(),
        "{name} is missing at {}: run scripts/install-test-deps.sh (it installs ansible-core \
         {ANSIBLE_CORE_VERSION} into .venv-tests)",
        path.display()
    );
    path
}

/// `ansible-playbook playbook.yml` in `export` (the folder `kbundle export ansible` wrote,
/// whose ansible.cfg names the inventory), inside `lab`'s namespace; append more arguments.
pub fn playbook_command(lab: &Lab, export: &Path) -> Command {
    let home = lab.scratch_dir().join("ansible-home");
    let _ = std::fs::create_dir_all(home.join("cp"));
    let ssh_args = [
        "-F /dev/null".to_owned(),
        "-o BatchMode=yes".to_owned(),
        "-o StrictHostKeyChecking=yes".to_owned(),
        format!("-o UserKnownHostsFile={}", lab.known_hosts().display()),
        "-o GlobalKnownHostsFile=/dev/null".to_owned(),
        "-o IdentitiesOnly=yes".to_owned(),
        "-o ConnectTimeout=5".to_owned(),
        "-o ServerAliveInterval=5".to_owned(),
        // Ansible's own default: one connection per node, kept for the next tasks.
        "-o ControlMaster=auto".to_owned(),
        "-o ControlPersist=60s".to_owned(),
    ];
    let mut command = lab.command(venv_program("ansible-playbook"));
    command
        .current_dir(export)
        .env("ANSIBLE_HOME", &home)
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_SSH_CONTROL_PATH_DIR", home.join("cp"))
        .env("ANSIBLE_SSH_ARGS", ssh_args.join(" "))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .arg("playbook.yml");
    command
}

/// `PLAY RECAP` of an ansible-playbook run: for each host, each count (`ok`, `changed`,
/// `failed`, `unreachable`, `skipped`, `rescued`, `ignored`).
pub fn recap(stdout: &str) -> BTreeMap<String, BTreeMap<String, u32>> {
    let mut hosts = BTreeMap::new();
    let Some(start) = stdout.rfind("PLAY RECAP") else {
        return hosts;
    };
    for line in stdout[start..].lines().skip(1) {
        let Some((host, counts)) = line.split_once(" : ") else {
            continue;
        };
        let counts: BTreeMap<String, u32> = counts
            .split_whitespace()
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                Some((key.to_owned(), value.parse().ok()?))
            })
            .collect();
        if !counts.is_empty() {
            hosts.insert(host.trim().to_owned(), counts);
        }
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::recap;

    #[test]
    fn reads_every_hosts_counts_from_the_recap() {
        let stdout = "TASK [x] ***\nok: [node1]\n\nPLAY RECAP *********************************************************************\nnode1                      : ok=14   changed=0    unreachable=0    failed=0    skipped=9    rescued=0    ignored=0   \nnode2                      : ok=7    changed=2    unreachable=0    failed=1    skipped=12   rescued=0    ignored=1   \n\n";
        let hosts = recap(stdout);
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts["node1"]["changed"], 0);
        assert_eq!(hosts["node2"]["changed"], 2);
        assert_eq!(hosts["node2"]["failed"], 1);
        assert!(recap("no recap").is_empty());
    }
}
