//! The serde shape of `cluster.yaml`, field for field. Everything is optional or loosely typed
//! here (addresses and ranges are strings) so that validation can check every field and report
//! all problems at once; only the validated [`super::ClusterConfig`] is used downstream.
//!
//! The field names are a public contract shared with the web form and the docs.

use std::collections::BTreeMap;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The whole document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawClusterConfig {
    /// Must be `kbundle.dev/v1alpha1`.
    pub api_version: Option<String>,
    /// Must be `Cluster`.
    pub kind: Option<String>,
    /// Name and other identity.
    #[serde(default)]
    pub metadata: RawMetadata,
    /// The cluster itself.
    #[serde(default)]
    pub spec: RawSpec,
}

/// `metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawMetadata {
    /// Cluster name, a DNS label.
    pub name: Option<String>,
}

/// `spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawSpec {
    /// `1.36` or `1.36.2`.
    pub kubernetes_version: Option<String>,
    /// `host:port` of the VIP or load balancer in front of the API servers.
    pub control_plane_endpoint: Option<String>,
    /// How the endpoint is provided when there are several control-plane nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_availability: Option<RawHighAvailability>,
    /// SSH defaults for every node.
    #[serde(default, skip_serializing_if = "is_default")]
    pub ssh: RawSsh,
    /// The machines.
    #[serde(default)]
    pub nodes: Vec<RawNode>,
    /// Pod and service networks.
    #[serde(default, skip_serializing_if = "is_default")]
    pub networking: RawNetworking,
    /// Container runtime settings.
    #[serde(default, skip_serializing_if = "is_default")]
    pub container_runtime: RawContainerRuntime,
    /// Private registry and mirrors.
    #[serde(default, skip_serializing_if = "is_default")]
    pub registry: RawRegistry,
    /// HTTP proxy for the container runtime and kubelet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<RawProxy>,
    /// Certificate options.
    #[serde(default, skip_serializing_if = "is_default")]
    pub certificates: RawCertificates,
}

/// `spec.highAvailability`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawHighAvailability {
    /// `kube-vip` (a VIP held by the control-plane nodes) or `external` (a load balancer).
    pub mode: Option<String>,
    /// Network interface that carries the VIP with kube-vip (default: the one that holds the
    /// node's address, found by install.sh on the node).
    pub interface: Option<String>,
}

/// `ssh`, at spec level or per node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawSsh {
    /// Login user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// TCP port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Private key file on the operator's machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_file: Option<String>,
    /// Jump hosts, as in `ssh -J`, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jump_hosts: Option<Vec<String>>,
}

/// One entry of `spec.nodes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawNode {
    /// Node name (becomes the Kubernetes node name).
    pub name: Option<String>,
    /// One IP, or `IPv4,IPv6` for dual-stack.
    pub address: Option<String>,
    /// `control-plane`, `etcd`, `worker`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Per-node SSH overrides.
    #[serde(default, skip_serializing_if = "is_default")]
    pub ssh: RawSsh,
    /// Node labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Node taints as `key[=value]:Effect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<String>,
}

/// `spec.networking`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawNetworking {
    /// `v4`, `v6` or `v4,v6` (order gives the primary family).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_subnet: Option<String>,
    /// Same families, same order, as `podSubnet`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_subnet: Option<String>,
    /// Node range prefix length: a number, or `"24,64"` per family in `podSubnet` order.
    #[serde(
        rename = "nodeCIDRMaskSize",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub node_cidr_mask_size: Option<String>,
    /// Cluster DNS domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    /// Cluster DNS service IP; the tenth address of the service range by default.
    #[serde(rename = "dnsServiceIP", skip_serializing_if = "Option::is_none")]
    pub dns_service_ip: Option<String>,
    /// Most pods the kubelet runs per node (kubelet `maxPods`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pods_per_node: Option<u32>,
    /// `flannel` or `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cni: Option<String>,
    /// MTU of the pod network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// `iptables`, `ipvs` or `nftables`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_proxy_mode: Option<String>,
}

/// `spec.containerRuntime`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawContainerRuntime {
    /// CRI socket path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    /// `systemd` (default) or `cgroupfs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_driver: Option<String>,
}

/// `spec.registry`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawRegistry {
    /// Replaces `registry.k8s.io` for every Kubernetes image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// Pull-through mirrors per upstream registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<RawMirror>,
    /// Credentials per registry host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<RawCredential>,
    /// Namespaces that get an image pull Secret with the credentials (default: `default`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_secret_namespaces: Option<Vec<String>>,
}

/// One entry of `spec.registry.mirrors`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawMirror {
    /// Upstream registry host, e.g. `docker.io`.
    pub registry: Option<String>,
    /// Mirror URLs, tried in order.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

/// One entry of `spec.registry.credentials`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawCredential {
    /// Registry host the credentials are for.
    pub registry: Option<String>,
    /// User name.
    pub username: Option<String>,
    /// Password or token.
    pub password: Option<String>,
}

/// `spec.proxy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawProxy {
    /// `HTTP_PROXY` URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// `HTTPS_PROXY` URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https: Option<String>,
    /// Extra `NO_PROXY` entries, added to the computed ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_proxy: Vec<String>,
}

/// `spec.certificates`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawCertificates {
    /// `ECDSA-P256`, `RSA-2048`, `RSA-3072` or `RSA-4096`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<String>,
    /// Leaf validity, e.g. `365d` or `8760h`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity: Option<String>,
    /// CA validity, e.g. `3650d`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_validity: Option<String>,
    /// Lifetime of the bundle's bootstrap token (nodes joining later), e.g. `24h`.
    #[serde(rename = "bootstrapTokenTTL", skip_serializing_if = "Option::is_none")]
    pub bootstrap_token_ttl: Option<String>,
    /// Extra API server SANs (DNS names or IPs).
    #[serde(rename = "extraSANs", default, skip_serializing_if = "Vec::is_empty")]
    pub extra_sans: Vec<String>,
    /// CAs to use instead of generated ones.
    #[serde(rename = "existingCAs", default, skip_serializing_if = "is_default")]
    pub existing_cas: RawExistingCas,
}

/// `spec.certificates.existingCAs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawExistingCas {
    /// The cluster CA (`ca.crt`/`ca.key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<RawCaFiles>,
    /// The front-proxy CA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub front_proxy: Option<RawCaFiles>,
    /// The etcd CA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd: Option<RawCaFiles>,
}

/// Where an existing CA's files are, on the machine that generates the bundle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawCaFiles {
    /// Certificate (PEM).
    pub cert_file: Option<String>,
    /// Private key (PEM).
    pub key_file: Option<String>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Accepts `24` or `"24,64"` and keeps the text, so validation can report it as written.
fn string_or_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    struct StringOrNumber;

    impl Visitor<'_> for StringOrNumber {
        type Value = Option<String>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("a prefix length such as 24, or one per family such as \"24,64\"")
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
            Ok(Some(value.to_string()))
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Ok(Some(value.to_owned()))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    deserializer.deserialize_any(StringOrNumber)
}
