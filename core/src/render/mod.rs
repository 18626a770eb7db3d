//! Rendering: everything that runs on the nodes, as files. Static pods, node configuration and
//! the addons applied once the API server is up, for the configured Kubernetes version.
//! Deterministic: the same config, plan and PKI give the same bytes.

mod node;

use crate::config::{ClusterConfig, Node};
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
