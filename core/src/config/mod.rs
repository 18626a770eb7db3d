//! The cluster description: `cluster.yaml` is parsed once (in `crate::yaml`) into its raw serde shape
//! ([`raw`]), then converted and checked ([`validate`]) into the validated domain types below,
//! which everything downstream reads without re-checking.

pub mod diagnostic;
mod example;
pub mod raw;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnetwork::IpNetwork;
use serde::Serialize;

pub use diagnostic::{Diagnostic, Diagnostics, Location, Severity};
pub use example::{ExampleKind, example_yaml};
pub use raw::RawClusterConfig;
pub use validate::parse_duration_hours;

use crate::net::IpFamily;
use crate::versions::KubernetesVersion;

/// `apiVersion` of the documents this version of kbundle reads.
pub const API_VERSION: &str = "kbundle.dev/v1alpha1";
/// What a bundle's `cluster.yaml` holds in place of a registry password: bundles keep no
/// secret there. Validation refuses it, so a cluster continued from a bundle's copy asks for
/// the password again instead of installing this text.
pub const REDACTED_SECRET: &str = "REDACTED (not stored in the bundle)";
/// What a bundle's `cluster.yaml` holds in place of a proxy URL's `user:password`.
pub const REDACTED_USERINFO: &str = "REDACTED:REDACTED";
/// `kind` of the cluster document.
pub const KIND: &str = "Cluster";

/// A validated cluster description. Every field is filled (defaults applied) and consistent.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// Cluster name (a DNS label).
    pub name: String,
    /// The Kubernetes version to install.
    pub kubernetes_version: KubernetesVersion,
    /// The VIP or load balancer in front of the API servers, when there is one.
    pub control_plane_endpoint: Option<Endpoint>,
    /// How the endpoint is provided.
    pub high_availability: HighAvailability,
    /// The machines, in the order of the config (which does not decide their pod ranges: see
    /// `plan::ranges`).
    pub nodes: Vec<Node>,
    /// Pod and service networks.
    pub networking: Networking,
    /// Container runtime settings.
    pub container_runtime: ContainerRuntime,
    /// Image repository, mirrors and credentials.
    pub registry: Registry,
    /// HTTP proxy for the container runtime and kubelet, if any.
    pub proxy: Option<Proxy>,
    /// Certificate options.
    pub certificates: Certificates,
}

impl RawClusterConfig {
    /// Parses YAML text into the raw shape only (syntax, field names and types).
    pub fn from_yaml(text: &str) -> Result<Self, Diagnostics> {
        crate::yaml::from_yaml(text)
    }

    /// Renders the raw shape as YAML (what the web form exports).
    pub fn to_yaml(&self) -> String {
        crate::yaml::to_yaml(self)
    }
}

/// The result of reading a config that is usable: the config and what is worth a second look.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The config.
    pub config: ClusterConfig,
    /// Warnings: the config works but may not do what was meant.
    pub warnings: Vec<Diagnostic>,
}

impl ClusterConfig {
    /// Parses and validates `cluster.yaml` text. On failure, every error found (and the warnings)
    /// is returned, each naming its field.
    pub fn from_yaml(text: &str) -> Result<Validated, Diagnostics> {
        let raw = crate::yaml::from_yaml(text)?;
        Self::from_raw(&raw)
    }

    /// Validates an already parsed document (the web form builds one directly).
    pub fn from_raw(raw: &RawClusterConfig) -> Result<Validated, Diagnostics> {
        validate::validate(raw, validate::Secrets::Given)
    }

    /// Parses and validates the `cluster.yaml` a bundle recorded, whose registry passwords and
    /// proxy credentials are placeholders ([`REDACTED_SECRET`], [`REDACTED_USERINFO`]): what
    /// applying, renewing or joining with that bundle reads. [`ClusterConfig::from_yaml`]
    /// refuses the placeholders, so that a cluster continued from this copy gets its secrets
    /// back before a bundle is made of it.
    pub fn from_bundle_yaml(text: &str) -> Result<Validated, Diagnostics> {
        let raw = crate::yaml::from_yaml(text)?;
        validate::validate(&raw, validate::Secrets::Recorded)
    }

    /// The nodes with the control-plane role, in config order.
    pub fn control_plane_nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|node| node.roles.control_plane)
    }

    /// The etcd members, in config order.
    pub fn etcd_nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|node| node.roles.etcd)
    }

    /// Where clients reach the API: the configured endpoint, or else the first control-plane
    /// node's primary address on 6443 (only possible with a single control-plane node).
    pub fn api_endpoint(&self) -> Endpoint {
        if let Some(endpoint) = &self.control_plane_endpoint {
            return endpoint.clone();
        }
        let first = self
            .control_plane_nodes()
            .next()
            .map(|node| Host::Ip(node.primary_address()));
        Endpoint {
            // Validation guarantees a control-plane node; the fallback is never used.
            host: first.unwrap_or(Host::Name("localhost".into())),
            port: DEFAULT_API_PORT,
        }
    }
}

/// The API server's port unless the endpoint says otherwise.
pub const DEFAULT_API_PORT: u16 = 6443;

/// `host:port` of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// IP or DNS name.
    pub host: Host,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]:{}", self.port),
            host => write!(f, "{host}:{}", self.port),
        }
    }
}

impl Endpoint {
    /// `https://host:port`.
    pub fn url(&self) -> String {
        format!("https://{self}")
    }
}

/// An IP address or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Host {
    /// An address.
    Ip(IpAddr),
    /// A DNS name.
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(address) => write!(f, "{address}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// How the control-plane endpoint is provided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HighAvailability {
    /// One control-plane node, no endpoint in front of it.
    SingleNode,
    /// A virtual IP held by the control-plane nodes through a kube-vip static pod.
    KubeVip {
        /// Interface that carries the VIP; `None` means the one that holds the node's address.
        interface: Option<String>,
    },
    /// A load balancer the user runs.
    External,
}

/// SSH connection settings for one node (defaults merged with its overrides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ssh {
    /// Login user.
    pub user: String,
    /// TCP port.
    pub port: u16,
    /// Private key on the operator's machine; `None` uses ssh-agent and `~/.ssh/config`.
    pub identity_file: Option<String>,
    /// Jump hosts, in order.
    pub jump_hosts: Vec<String>,
}

/// One machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Kubernetes node name.
    pub name: String,
    /// One address per cluster IP family, in the cluster's family order (primary first).
    pub addresses: Vec<IpAddr>,
    /// What runs on it.
    pub roles: Roles,
    /// How to reach it.
    pub ssh: Ssh,
    /// Node labels.
    pub labels: BTreeMap<String, String>,
    /// Node taints (the control-plane taint is added by rendering, not listed here).
    pub taints: Vec<Taint>,
}

impl Node {
    /// The address of the cluster's primary family (kubelet's first `--node-ip`).
    pub fn primary_address(&self) -> IpAddr {
        self.addresses[0]
    }

    /// The address of `family`, if the node has one.
    pub fn address(&self, family: IpFamily) -> Option<IpAddr> {
        self.addresses
            .iter()
            .copied()
            .find(|address| IpFamily::of(*address) == family)
    }
}

/// A node's roles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    /// Runs kube-apiserver, kube-controller-manager and kube-scheduler.
    pub control_plane: bool,
    /// Runs an etcd member.
    pub etcd: bool,
    /// Runs ordinary workloads.
    pub worker: bool,
}

impl Roles {
    /// Role names as written in the config, in a fixed order.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.control_plane {
            names.push(ROLE_CONTROL_PLANE);
        }
        if self.etcd {
            names.push(ROLE_ETCD);
        }
        if self.worker {
            names.push(ROLE_WORKER);
        }
        names
    }
}

/// Role name of control-plane nodes.
pub const ROLE_CONTROL_PLANE: &str = "control-plane";
/// Role name of etcd members.
pub const ROLE_ETCD: &str = "etcd";
/// Role name of workload nodes.
pub const ROLE_WORKER: &str = "worker";

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Optional value.
    pub value: Option<String>,
    /// Effect.
    pub effect: TaintEffect,
}

/// What a taint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaintEffect {
    /// `NoSchedule`.
    NoSchedule,
    /// `PreferNoSchedule`.
    PreferNoSchedule,
    /// `NoExecute`.
    NoExecute,
}

/// One IP family's ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyNetwork {
    /// The family.
    pub family: IpFamily,
    /// The cluster pod range of this family.
    pub pod_subnet: IpNetwork,
    /// The service range of this family.
    pub service_subnet: IpNetwork,
    /// Prefix length of each node's pod range.
    pub node_mask: u8,
}

/// Pod and service networking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Networking {
    /// One entry per family, primary first (one for single-stack, two for dual-stack).
    pub families: Vec<FamilyNetwork>,
    /// Cluster DNS domain.
    pub dns_domain: String,
    /// Cluster DNS service IP (in the primary service range).
    pub dns_service_ip: IpAddr,
    /// kubelet `maxPods`.
    pub max_pods_per_node: u32,
    /// The pod network plugin.
    pub cni: Cni,
    /// Pod network MTU; `None` lets the plugin derive it from the node's interface.
    pub mtu: Option<u32>,
    /// kube-proxy mode.
    pub kube_proxy_mode: KubeProxyMode,
}

impl Networking {
    /// The primary family's ranges.
    pub fn primary(&self) -> &FamilyNetwork {
        &self.families[0]
    }

    /// Whether the cluster is dual-stack.
    pub fn is_dual_stack(&self) -> bool {
        self.families.len() == 2
    }
}

/// Pod network plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cni {
    /// Flannel (VXLAN).
    Flannel,
    /// None: the user installs one.
    None,
}

/// kube-proxy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeProxyMode {
    /// iptables.
    Iptables,
    /// IPVS (deprecated upstream).
    Ipvs,
    /// nftables.
    Nftables,
}

/// Container runtime (containerd) settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRuntime {
    /// CRI socket path, e.g. `/run/containerd/containerd.sock`.
    pub socket: String,
    /// cgroup driver shared by containerd and kubelet.
    pub cgroup_driver: CgroupDriver,
}

/// cgroup driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupDriver {
    /// systemd (kubeadm's default since 1.22).
    Systemd,
    /// cgroupfs.
    Cgroupfs,
}

/// Where images come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// Repository of the Kubernetes images, `registry.k8s.io` unless mirrored.
    pub image_repository: String,
    /// Pull-through mirrors.
    pub mirrors: Vec<Mirror>,
    /// Credentials per registry.
    pub credentials: Vec<Credential>,
    /// Namespaces that get a `registry-credentials` pull Secret (empty without credentials).
    pub pull_secret_namespaces: Vec<String>,
}

/// Default image repository.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "registry.k8s.io";

/// A registry mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Upstream registry host.
    pub registry: String,
    /// Mirror URLs in order.
    pub endpoints: Vec<String>,
}

/// Registry credentials. A secret: never logged or written to the normalised config.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Registry host.
    pub registry: String,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// HTTP proxy settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `HTTP_PROXY`.
    pub http: Option<String>,
    /// `HTTPS_PROXY`.
    pub https: Option<String>,
    /// Entries added to the computed `NO_PROXY`.
    pub extra_no_proxy: Vec<String>,
}

/// Certificate options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificates {
    /// Key algorithm of every key.
    pub key_algorithm: KeyAlgorithm,
    /// Leaf validity in hours.
    pub validity_hours: u32,
    /// CA validity in hours.
    pub ca_validity_hours: u32,
    /// Lifetime of the bundle's bootstrap token in hours, counted from the issue time: how
    /// long the bundle's `join/` folder lets a node join.
    pub bootstrap_token_ttl_hours: u32,
    /// Extra API server SANs.
    pub extra_sans: Vec<Host>,
    /// CAs the user brings, by file path (read by the caller, checked by the PKI).
    pub existing_cas: Vec<ExistingCaFiles>,
}

/// Files of a CA the user brings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingCaFiles {
    /// Which CA it replaces.
    pub kind: crate::pki::CaKind,
    /// Certificate file (PEM).
    pub certificate_file: String,
    /// Private key file (PEM).
    pub key_file: String,
}

/// Key algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 (default: fast everywhere, including the browser).
    EcdsaP256,
    /// RSA 2048.
    Rsa2048,
    /// RSA 3072.
    Rsa3072,
    /// RSA 4096.
    Rsa4096,
}

impl KeyAlgorithm {
    /// The name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ECDSA-P256",
            Self::Rsa2048 => "RSA-2048",
            Self::Rsa3072 => "RSA-3072",
            Self::Rsa4096 => "RSA-4096",
        }
    }
}
