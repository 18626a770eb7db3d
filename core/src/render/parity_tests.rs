//! Flag parity with kubeadm, checked without running it: kbundle's flags for the reference
//! cluster (the `single` cluster of `tests/tests/kubeadm_parity.rs`) beside the flags the real
//! kubeadm v1.37.2 wrote for that cluster, as `docs/kubeadm-reference-v1.37.md` records them.
//! That suite runs kubeadm, rewrites the reference and fails when the checked-in file is not what
//! kubeadm wrote; this test reads it, so it needs no kubeadm and no root. Any difference not in
//! [`crate::parity::DELIBERATE_DIFFERENCES`] fails.
//!
//! Only 1.37 has a kubeadm here. kbundle renders these flags the same for every supported minor;
//! the last test makes that explicit, so that a flag depending on the minor cannot appear in
//! 1.34–1.36 without a kubeadm of that minor to hold it to.

use std::collections::BTreeMap;

use super::control_plane::{
    Flags, apiserver_flags, controller_manager_flags, etcd_flags, scheduler_flags,
};
use crate::config::ClusterConfig;
use crate::versions::RELEASES;

/// What the real kubeadm wrote, regenerated from its runs.
const REFERENCE: &str = include_str!("../../../docs/kubeadm-reference-v1.37.md");

/// The reference cluster (`single` in the kubeadm comparison) at `version`.
fn reference(version: &str) -> ClusterConfig {
    let yaml = format!(
        "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: demo}}\nspec:\n  kubernetesVersion: \"{version}\"\n  nodes:\n    - {{name: cp1, address: 198.51.100.11, roles: [control-plane, etcd, worker]}}\n  networking: {{podSubnet: 10.244.0.0/16, serviceSubnet: 10.96.0.0/12}}\n"
    );
    ClusterConfig::from_yaml(&yaml)
        .expect("reference cluster")
        .config
}

fn flags_of(config: &ClusterConfig) -> [(&'static str, Flags); 4] {
    let node = &config.nodes[0];
    [
        ("etcd", etcd_flags(config, node)),
        ("kube-apiserver", apiserver_flags(config, node)),
        ("kube-controller-manager", controller_manager_flags(config)),
        ("kube-scheduler", scheduler_flags()),
    ]
}

/// The text between the backticks of a table cell (`–` is an empty cell).
fn cell(text: &str) -> String {
    let text = text.trim();
    if text == "–" {
        return String::new();
    }
    text.trim_matches('`').replace("\\|", "|")
}

/// The placeholders of the `single` cluster: `<node>` → `cp1`, …
fn placeholders() -> Vec<(String, String)> {
    let row = REFERENCE
        .lines()
        .find(|line| line.starts_with("| `single` |"))
        .expect("the reference lists the single cluster");
    let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
    cell(cells[2])
        .split("; ")
        .map(|pair| {
            let (placeholder, value) = pair.split_once(" = ").expect("`<name> = value`");
            (placeholder.to_owned(), value.to_owned())
        })
        .collect()
}

/// kubeadm's flags for `component`, from the reference's static pod section.
fn kubeadm_flags(component: &str) -> BTreeMap<String, String> {
    let heading = format!("### `/etc/kubernetes/manifests/{component}.yaml`");
    let placeholders = placeholders();
    let mut flags = BTreeMap::new();
    let mut lines = REFERENCE.lines().skip_while(|line| *line != heading);
    assert!(lines.next().is_some(), "the reference has no {heading}");
    for line in lines.take_while(|line| !line.starts_with('#')) {
        if !line.starts_with("| `--") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        let mut value = cell(cells[1]);
        for (placeholder, concrete) in &placeholders {
            value = value.replace(placeholder, concrete);
        }
        flags.insert(cell(cells[0]).trim_start_matches("--").to_owned(), value);
    }
    assert!(!flags.is_empty(), "no flags under {heading}");
    flags
}

fn is_deliberate(component: &str, flag: &str) -> bool {
    crate::parity::deliberate(
        &format!("/etc/kubernetes/manifests/{component}.yaml"),
        &format!("--{flag}"),
    )
    .is_some()
}

#[test]
fn the_reference_is_of_the_reference_cluster() {
    let config = reference("1.37.2");
    let placeholders: BTreeMap<String, String> = placeholders().into_iter().collect();
    assert_eq!(placeholders["<cluster>"], config.name);
    assert_eq!(placeholders["<node>"], config.nodes[0].name);
    assert_eq!(
        placeholders["<address>"],
        config.nodes[0].primary_address().to_string()
    );
    assert!(REFERENCE.starts_with("# What kubeadm v1.37."));
}

#[test]
fn flags_match_kubeadm_except_deliberate_differences() {
    let config = reference("1.37.2");
    let mut report = Vec::new();
    for (component, flags) in flags_of(&config) {
        let theirs = kubeadm_flags(component);
        for (flag, value) in &flags.0 {
            match theirs.get(flag) {
                Some(expected) if expected == value => {}
                _ if is_deliberate(component, flag) => {}
                Some(expected) => report.push(format!(
                    "{component}: --{flag}={value}, kubeadm sets {expected}"
                )),
                None => report.push(format!(
                    "{component}: --{flag}={value}, which kubeadm does not set"
                )),
            }
        }
        for (flag, expected) in &theirs {
            if !flags.0.contains_key(flag) && !is_deliberate(component, flag) {
                report.push(format!(
                    "{component}: kubeadm sets --{flag}={expected}, kbundle does not"
                ));
            }
        }
    }
    assert!(
        report.is_empty(),
        "undocumented differences from kubeadm:\n{}",
        report.join("\n")
    );
}

#[test]
fn every_supported_minor_gets_the_flags_compared_with_kubeadm() {
    let compared = flags_of(&reference("1.37.2"));
    for release in RELEASES {
        let config = reference(&format!("1.{}", release.minor));
        for ((component, flags), (_, expected)) in flags_of(&config).iter().zip(&compared) {
            assert_eq!(
                flags, expected,
                "1.{} {component}: flags differ from 1.37's, which are the ones compared with \
                 kubeadm; a minor-specific flag needs that minor's kubeadm in the comparison",
                release.minor
            );
        }
    }
}
