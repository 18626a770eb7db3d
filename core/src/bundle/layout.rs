//! The bundle layout: every path in the zip is defined here, once. It is a contract that
//! `kbundle apply`, people installing by hand and outside tools rely on.
//!
//! ```text
//! bundle.json                     format version, cluster, nodes, and an index of every file
//!                                 (path, sha256, mode, node)
//! cluster.yaml                    the input, normalised, without secrets
//! plan.json, plan.txt             the network plan, for machines and for people
//! artifacts.json                  every binary (version, architecture, address, checksum
//!                                 address) and image the nodes need, for air-gapped installs
//! README.md                       how to install, with kbundle or by hand
//! admin.conf                      the operator's kubeconfig (0600)
//! identity.json                   what keeps the cluster's identity in a later bundle
//!                                 (`generate --from`): CAs and their keys, the service-account
//!                                 keys, every leaf with its request (0600; never sent to a node)
//! addons/NN-name.yaml             objects applied once the API answers, in file-name order
//! nodes/<node>/install.sh         installs that node when run as root (0755)
//! nodes/<node>/SHA256SUMS         checksums of that node's files, checked by install.sh
//! nodes/<node>/rootfs/<path>      exactly the node's files at their absolute paths
//!                                 (e.g. nodes/cp1/rootfs/etc/kubernetes/pki/apiserver.crt)
//! join/install.sh                 joins a new worker after the cluster is up, run as root as
//!                                 `sh join/install.sh NAME ADDRESS` (0755)
//! join/SHA256SUMS                 checksums of the join files, checked by join/install.sh
//! join/rootfs/<path>              the files every worker shares, the cluster CA and a bootstrap
//!                                 kubeconfig (etc/kubernetes/bootstrap-kubelet.conf, 0600)
//! ```

/// Version of this layout; readers refuse others.
pub const FORMAT_VERSION: u32 = 1;
/// The index.
pub const BUNDLE_JSON: &str = "bundle.json";
/// The normalised input.
pub const CLUSTER_YAML: &str = "cluster.yaml";
/// The plan as JSON.
pub const PLAN_JSON: &str = "plan.json";
/// The plan as text.
pub const PLAN_TEXT: &str = "plan.txt";
/// What the nodes need from outside.
pub const ARTIFACTS_JSON: &str = "artifacts.json";
/// Instructions.
pub const README: &str = "README.md";
/// The operator's kubeconfig.
pub const ADMIN_CONF: &str = "admin.conf";
/// What a later bundle keeps of this cluster's identity.
pub const IDENTITY_JSON: &str = "identity.json";
/// Folder of the addons.
pub const ADDONS_DIR: &str = "addons";
/// Folder of the nodes.
pub const NODES_DIR: &str = "nodes";
/// Folder for workers that join later, laid out like a node's folder.
pub const JOIN_DIR: &str = "join";

/// `nodes/<node>/install.sh`.
pub fn install_script(node: &str) -> String {
    format!("{NODES_DIR}/{node}/install.sh")
}

/// `nodes/<node>/SHA256SUMS`.
pub fn node_checksums(node: &str) -> String {
    format!("{NODES_DIR}/{node}/SHA256SUMS")
}

/// `nodes/<node>/rootfs`.
pub fn node_rootfs(node: &str) -> String {
    format!("{NODES_DIR}/{node}/rootfs")
}

/// `nodes/<node>/rootfs/<absolute path without the leading slash>`.
pub fn node_file(node: &str, absolute_path: &str) -> String {
    format!(
        "{}/{}",
        node_rootfs(node),
        absolute_path.trim_start_matches('/')
    )
}

/// `join/install.sh`.
pub fn join_script() -> String {
    format!("{JOIN_DIR}/install.sh")
}

/// `join/SHA256SUMS`.
pub fn join_checksums() -> String {
    format!("{JOIN_DIR}/SHA256SUMS")
}

/// `join/rootfs/<absolute path without the leading slash>`.
pub fn join_file(absolute_path: &str) -> String {
    format!(
        "{JOIN_DIR}/rootfs/{}",
        absolute_path.trim_start_matches('/')
    )
}

/// For a path inside `join/rootfs`: the absolute path on the joining node.
pub fn split_join_file(path: &str) -> Option<String> {
    let on_node = path.strip_prefix(JOIN_DIR)?.strip_prefix("/rootfs/")?;
    Some(format!("/{on_node}"))
}

/// `addons/<name>`.
pub fn addon(name: &str) -> String {
    format!("{ADDONS_DIR}/{name}")
}

/// For a path inside a node's rootfs: the node and the absolute path on it.
pub fn split_node_file(path: &str) -> Option<(&str, String)> {
    let rest = path.strip_prefix(NODES_DIR)?.strip_prefix('/')?;
    let (node, rest) = rest.split_once('/')?;
    let on_node = rest.strip_prefix("rootfs/")?;
    Some((node, format!("/{on_node}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_paths_mirror_absolute_paths() {
        let path = node_file("cp1", "/etc/kubernetes/pki/apiserver.crt");
        assert_eq!(path, "nodes/cp1/rootfs/etc/kubernetes/pki/apiserver.crt");
        assert_eq!(
            split_node_file(&path),
            Some(("cp1", "/etc/kubernetes/pki/apiserver.crt".to_owned()))
        );
        assert_eq!(split_node_file("nodes/cp1/install.sh"), None);
    }

    #[test]
    fn join_paths_mirror_absolute_paths() {
        let path = join_file("/etc/kubernetes/bootstrap-kubelet.conf");
        assert_eq!(path, "join/rootfs/etc/kubernetes/bootstrap-kubelet.conf");
        assert_eq!(
            split_join_file(&path).as_deref(),
            Some("/etc/kubernetes/bootstrap-kubelet.conf")
        );
        assert_eq!(split_join_file(&join_script()), None);
        assert_eq!(split_node_file(&path), None);
    }
}
