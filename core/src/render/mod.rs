//! Rendering: everything that runs on the nodes, as files. Static pods, node configuration and
//! the addons applied once the API server is up, for the configured Kubernetes version.
//! Deterministic: the same config, plan and PKI give the same bytes.

pub mod addons;
pub mod control_plane;
mod k8s;
mod node;

pub use addons::Addon;

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

/// Everything rendered for a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Per node, in config order.
    pub nodes: Vec<NodeFiles>,
    /// Addons in apply order.
    pub addons: Vec<Addon>,
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
            files.extend(control_plane::static_pods(config, node));
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
    }
}

#[cfg(test)]
mod parity_tests;
#[cfg(test)]
mod tests;
