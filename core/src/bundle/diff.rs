//! What changes between two bundles of a cluster, per node: files added, removed, changed (with a
//! unified diff for text, never for keys or anything holding one), modes changed, and which
//! services a new install would restart. The same view `kbundle apply --dry-run` gives against
//! what is on the nodes.

use std::collections::BTreeMap;

use super::Bundle;
use super::install::restart_of;
use super::layout;

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Only in the new bundle.
    Added {
        /// Path (on the node, or in the bundle for cluster-wide files).
        path: String,
    },
    /// Only in the old bundle.
    Removed {
        /// Path.
        path: String,
    },
    /// Different contents.
    Modified {
        /// Path.
        path: String,
        /// Unified diff; `None` for secrets (keys, kubeconfigs, secret addons).
        diff: Option<String>,
    },
    /// Same contents, another mode.
    ModeChanged {
        /// Path.
        path: String,
        /// Old mode.
        from: u32,
        /// New mode.
        to: u32,
    },
}

impl Change {
    /// The path it is about.
    pub fn path(&self) -> &str {
        match self {
            Self::Added { path }
            | Self::Removed { path }
            | Self::Modified { path, .. }
            | Self::ModeChanged { path, .. } => path,
        }
    }
}

/// The changes for one node (or, with `node: None`, for the cluster-wide files, `join/`'s
/// included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDiff {
    /// The node, or `None` for addons, admin.conf, `join/` and the rest.
    pub node: Option<String>,
    /// Changed files, sorted by path.
    pub changes: Vec<Change>,
    /// What a new install would restart: `containerd`, `kubelet`, `sysctl`, `modules`, and the
    /// static pods the kubelet would recreate.
    pub restarts: Vec<String>,
}

/// Whether a file's contents must never be shown.
pub fn is_secret(path: &str, mode: u32) -> bool {
    path.ends_with(".key")
        || path.ends_with(".conf")
        || mode & 0o077 == 0 && !path.starts_with("/etc/kubernetes/manifests/")
}

/// A unified diff of two texts.
pub fn unified(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("a/{}", path.trim_start_matches('/')),
            &format!("b/{}", path.trim_start_matches('/')),
        )
        .to_string()
}

type Files = BTreeMap<String, (Vec<u8>, u32)>;

fn files_of(bundle: &Bundle) -> BTreeMap<Option<String>, Files> {
    let mut out: BTreeMap<Option<String>, Files> = BTreeMap::new();
    for entry in &bundle.entries {
        let (owner, path) = match layout::split_node_file(&entry.path) {
            Some((node, path)) => (Some(node.to_owned()), path),
            // Scripts and checksums follow from the files of their folder (a node's or join/,
            // whose files show among the cluster-wide ones); the index always changes.
            None if entry.path.starts_with(&format!("{}/", layout::NODES_DIR))
                || entry.path == layout::join_script()
                || entry.path == layout::join_checksums()
                || entry.path == layout::BUNDLE_JSON =>
            {
                continue;
            }
            None => (None, entry.path.clone()),
        };
        out.entry(owner)
            .or_default()
            .insert(path, (entry.contents.clone(), entry.mode));
    }
    out
}

/// Compares `old` with `new`.
pub fn diff(old: &Bundle, new: &Bundle) -> Vec<NodeDiff> {
    let (old_files, new_files) = (files_of(old), files_of(new));
    let owners: std::collections::BTreeSet<&Option<String>> =
        old_files.keys().chain(new_files.keys()).collect();
    let empty = Files::new();
    let mut result = Vec::new();
    for owner in owners {
        let before = old_files.get(owner).unwrap_or(&empty);
        let after = new_files.get(owner).unwrap_or(&empty);
        let paths: std::collections::BTreeSet<&String> =
            before.keys().chain(after.keys()).collect();
        let mut changes = Vec::new();
        let mut restarts = std::collections::BTreeSet::new();
        for path in paths {
            let change = match (before.get(path), after.get(path)) {
                (None, Some(_)) => Change::Added { path: path.clone() },
                (Some(_), None) => Change::Removed { path: path.clone() },
                (Some((old_bytes, old_mode)), Some((new_bytes, new_mode)))
                    if old_bytes != new_bytes =>
                {
                    // Secrets are never shown; certificates are re-issued, their PEM says nothing.
                    let secret = is_secret(path, *old_mode)
                        || is_secret(path, *new_mode)
                        || path.ends_with(".crt");
                    let diff = (!secret).then(|| {
                        unified(
                            path,
                            &String::from_utf8_lossy(old_bytes),
                            &String::from_utf8_lossy(new_bytes),
                        )
                    });
                    Change::Modified {
                        path: path.clone(),
                        diff,
                    }
                }
                (Some((_, from)), Some((_, to))) if from != to => Change::ModeChanged {
                    path: path.clone(),
                    from: *from,
                    to: *to,
                },
                _ => continue,
            };
            if owner.is_some()
                && let Some(restart) = restart_of(path)
            {
                restarts.insert(restart);
            }
            changes.push(change);
        }
        if !changes.is_empty() {
            result.push(NodeDiff {
                node: owner.clone(),
                changes,
                restarts: restarts.into_iter().collect(),
            });
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ExampleKind, RawClusterConfig, example_yaml};
    use crate::pki::PkiInputs;

    fn bundle(yaml: &str, seed: u8) -> Bundle {
        let raw = RawClusterConfig::from_yaml(yaml).unwrap();
        Bundle::generate(
            &raw,
            &PkiInputs {
                seed: [seed; 32],
                issued_at: 1_790_000_000,
                existing_cas: Vec::new(),
            },
        )
        .unwrap()
    }

    #[test]
    fn equal_bundles_have_no_changes() {
        let yaml = example_yaml(ExampleKind::Basic);
        assert!(diff(&bundle(&yaml, 1), &bundle(&yaml, 1)).is_empty());
    }

    #[test]
    fn a_config_change_shows_as_a_text_diff_and_restarts_only_what_reads_it() {
        let yaml = example_yaml(ExampleKind::Basic);
        let changed = yaml
            .replace("kubeProxyMode: iptables", "kubeProxyMode: nftables")
            .replace(
                "podSubnet: 10.244.0.0/16\n",
                "podSubnet: 10.244.0.0/16\n    maxPodsPerNode: 100\n",
            );
        let changes = diff(&bundle(&yaml, 1), &bundle(&changed, 1));
        let worker = changes
            .iter()
            .find(|d| d.node.as_deref() == Some("worker1"))
            .expect("worker1 changed");
        let kubelet = worker
            .changes
            .iter()
            .find(|c| c.path() == "/var/lib/kubelet/config.yaml")
            .expect("kubelet config");
        let Change::Modified {
            diff: Some(text), ..
        } = kubelet
        else {
            panic!("{kubelet:?}")
        };
        assert!(
            text.contains("-maxPods: 110") && text.contains("+maxPods: 100"),
            "{text}"
        );
        assert_eq!(worker.restarts, ["kubelet"]);
        let cluster = changes
            .iter()
            .find(|d| d.node.is_none())
            .expect("cluster-wide");
        assert!(
            cluster
                .changes
                .iter()
                .any(|c| c.path() == "addons/30-kube-proxy.yaml")
        );
        // A node that joins later gets the same kubelet configuration; its script and
        // checksums follow from its files.
        assert!(
            cluster
                .changes
                .iter()
                .any(|c| c.path() == "join/rootfs/var/lib/kubelet/config.yaml"),
            "{cluster:?}"
        );
        assert!(
            cluster
                .changes
                .iter()
                .all(|c| !matches!(c.path(), "join/install.sh" | "join/SHA256SUMS")),
            "{cluster:?}"
        );
    }

    #[test]
    fn new_keys_show_as_changed_without_their_contents() {
        let yaml = example_yaml(ExampleKind::Basic);
        let changes = diff(&bundle(&yaml, 1), &bundle(&yaml, 2));
        let cp1 = changes
            .iter()
            .find(|d| d.node.as_deref() == Some("cp1"))
            .unwrap();
        for change in &cp1.changes {
            if change.path().ends_with(".key") || change.path().ends_with(".conf") {
                assert!(
                    matches!(change, Change::Modified { diff: None, .. }),
                    "{change:?}"
                );
            }
        }
        assert!(cp1.restarts.contains(&"kubelet".to_owned()));
        // A new bundle has a new bootstrap token: changed, never shown.
        let cluster = changes.iter().find(|d| d.node.is_none()).unwrap();
        assert!(
            cluster.changes.contains(&Change::Modified {
                path: "join/rootfs/etc/kubernetes/bootstrap-kubelet.conf".into(),
                diff: None,
            }),
            "{cluster:?}"
        );
        let everything = format!("{changes:?}");
        assert!(!everything.contains("PRIVATE KEY"));
    }
}
