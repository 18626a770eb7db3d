//! `bundle.json`: what the bundle is and an index of every file in it.

use serde::{Deserialize, Serialize};

/// The contents of `bundle.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleManifest {
    /// Layout version ([`super::layout::FORMAT_VERSION`]).
    pub format_version: u32,
    /// What made it.
    pub generator: String,
    /// Cluster name.
    pub cluster_name: String,
    /// Kubernetes version, e.g. `v1.37.1`.
    pub kubernetes_version: String,
    /// `https://host:port` of the API.
    pub control_plane_endpoint: String,
    /// The nodes, in config order.
    pub nodes: Vec<NodeEntry>,
    /// Every file of the bundle except `bundle.json` itself, sorted by path.
    pub files: Vec<FileEntry>,
}

/// A node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// Node name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Addresses, primary first.
    pub addresses: Vec<String>,
    /// SSH user.
    pub ssh_user: String,
    /// SSH port.
    pub ssh_port: u16,
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path inside the zip.
    pub path: String,
    /// SHA-256 of the contents, hex.
    pub sha256: String,
    /// Unix mode.
    pub mode: u32,
    /// The node it is for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}
