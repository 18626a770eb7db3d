//! Rendering: everything that runs on the nodes, as files. Static pods, node configuration, the
//! addons applied once the API server is up, and the files of workers that join later, for the
//! configured Kubernetes version. Deterministic: the same config, plan and PKI give the same bytes.

pub mod addons;
pub mod control_plane;
mod k8s;
mod node;

pub use addons::Addon;
pub(crate) use node::{KUBELET_CONFIG, SYSCTL};

use crate::config::{ClusterConfig, Node};
use crate::pki::Pki;
use crate::plan::NetworkPlan;

/// One file for a node's disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Absolute path on the node.
    pub path: String,
    /// Contents.
    pub contents: String,
    /// Unix mode (0644, 0600 for secrets and manifests, 0755 for scripts).
    pub mode: u32,
}

impl RenderedFile {
    pub(crate) fn new(path: impl Into<String>, contents: impl Into<String>, mode: u32) -> Self {
        Self {
            path: path.into(),
            contents: contents.into(),
            mode,
        }
    }
}

/// The node configuration files of `node` (kubelet, containerd, kernel settings, proxy).
pub fn node_configuration(
    config: &ClusterConfig,
    plan: &NetworkPlan,
    node: &Node,
) -> Vec<RenderedFile> {
    node::node_files(config, plan, node)
}

/// Everything one node receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFiles {
    /// Node name.
    pub node: String,
    /// Its files, sorted by path.
    pub files: Vec<RenderedFile>,
}

/// In the kubelet drop-in of [`JoinFiles`]: where the joining node's name goes.
pub const JOIN_NODE_NAME: &str = "@NODE_NAME@";
/// In the kubelet drop-in of [`JoinFiles`]: where the joining node's addresses go (`--node-ip`).
pub const JOIN_NODE_IP: &str = "@NODE_IP@";

/// What a worker that joins after the cluster is up receives: the files of a worker that name
/// no node, and a bootstrap kubeconfig instead of a kubelet.conf. Its kubelet asks for its client
/// certificate with the bootstrap token (kubelet TLS bootstrap); kube-controller-manager approves
/// and signs it, and gives the node a free pod range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinFiles {
    /// The cluster CA certificate, the bootstrap kubeconfig (a secret) and the node
    /// configuration every node shares, sorted by path.
    pub files: Vec<RenderedFile>,
    /// The kubelet drop-in, with [`JOIN_NODE_NAME`] and [`JOIN_NODE_IP`] for the installer to
    /// fill in on the node.
    pub kubelet_drop_in: RenderedFile,
}

/// Everything rendered for a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Per node, in config order.
    pub nodes: Vec<NodeFiles>,
    /// Addons in apply order.
    pub addons: Vec<Addon>,
    /// For workers that join later. Every cluster has a bootstrap token, so always there.
    pub join: JoinFiles,
}

/// Renders every node's files (PKI, static pods, node configuration) and the addons.
/// `issued_at` (unix seconds) is the PKI's issue time; the bootstrap token expires with the
/// certificates.
pub fn render(config: &ClusterConfig, plan: &NetworkPlan, pki: &Pki, issued_at: i64) -> Rendered {
    let nodes = config
        .nodes
        .iter()
        .map(|node| {
            let mut files: Vec<RenderedFile> = pki
                .node_files(node)
                .into_iter()
                .map(|file| RenderedFile::new(file.path, file.contents, file.mode))
                .collect();
            let digest = control_plane::pki_digest(
                files
                    .iter()
                    .map(|file| (file.path.as_str(), file.contents.as_str())),
            );
            files.extend(control_plane::static_pods(config, node, &digest));
            files.extend(node::node_files(config, plan, node));
            files.sort_by(|a, b| a.path.cmp(&b.path));
            NodeFiles {
                node: node.name.clone(),
                files,
            }
        })
        .collect();
    Rendered {
        nodes,
        addons: addons::addons(config, plan, pki, issued_at),
        join: join(config, plan, pki),
    }
}

/// The files of a worker that joins later.
fn join(config: &ClusterConfig, plan: &NetworkPlan, pki: &Pki) -> JoinFiles {
    let mut files: Vec<RenderedFile> = pki
        .join_files(config)
        .into_iter()
        .map(|file| RenderedFile::new(file.path, file.contents, file.mode))
        .collect();
    files.extend(node::shared_files(config, plan));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    JoinFiles {
        files,
        kubelet_drop_in: node::join_kubelet_drop_in(JOIN_NODE_NAME, JOIN_NODE_IP),
    }
}

#[cfg(test)]
mod parity_tests;
#[cfg(test)]
mod tests;
