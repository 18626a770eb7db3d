//! The network plan: what the cluster will really use, derived from a validated config. Service
//! IPs, each node's pod range (placed by the node's name, or kept from the previous bundle, so
//! that no range ever moves: see [`ranges`]), capacity, the flannel network config and the
//! complete `NO_PROXY` list.

mod no_proxy;
mod ranges;
mod text;

pub use ranges::PreviousRanges;

use std::net::IpAddr;

use ipnetwork::IpNetwork;
use serde::{Serialize, Serializer};

use crate::config::{ClusterConfig, Diagnostics};
use crate::net::{self, IpFamily};

/// The network plan of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkPlan {
    /// Cluster name.
    pub cluster_name: String,
    /// Kubernetes version, e.g. `v1.37.1`.
    pub kubernetes_version: String,
    /// IP families, primary first.
    pub ip_families: Vec<IpFamily>,
    /// `https://host:port` that kubeconfigs and kube-proxy use.
    pub control_plane_endpoint: String,
    /// The `kubernetes` Service IP: first usable address of the primary service range.
    pub apiserver_service_ip: IpAddr,
    /// The `kubernetes` Service IP of every family (the certificate SANs need them all).
    pub apiserver_service_ips: Vec<IpAddr>,
    /// Cluster DNS Service IP: the tenth address of the primary service range unless set.
    pub dns_service_ip: IpAddr,
    /// Cluster DNS domain.
    pub dns_domain: String,
    /// Cluster pod ranges, primary first.
    #[serde(serialize_with = "display_list")]
    pub pod_subnets: Vec<IpNetwork>,
    /// Service ranges, primary first.
    #[serde(serialize_with = "display_list")]
    pub service_subnets: Vec<IpNetwork>,
    /// Prefix length of node pod ranges per family.
    pub node_cidr_mask_sizes: Vec<u8>,
    /// Most nodes the pod ranges can give a range to (the smallest over the families).
    pub max_nodes: u64,
    /// Most pods per node: kubelet's `maxPods`, capped by the addresses in a node's range.
    pub max_pods_per_node: u64,
    /// Pod addresses in one node's range (after network, gateway and broadcast), smallest family.
    pub pod_addresses_per_node: u64,
    /// One entry per node, in config order (the order does not decide the pod ranges).
    pub nodes: Vec<NodePlan>,
    /// Complete `NO_PROXY` list for containerd and kubelet.
    pub no_proxy: Vec<String>,
    /// Flannel's `net-conf.json`.
    pub flannel_net_conf: serde_json::Value,
}

/// One node's share of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodePlan {
    /// Node name.
    pub name: String,
    /// Node addresses, primary family first.
    pub addresses: Vec<IpAddr>,
    /// Roles, as written in the config.
    pub roles: Vec<&'static str>,
    /// Pod ranges, one per family, at the same slot index in each (see [`ranges`]).
    #[serde(serialize_with = "display_list")]
    pub pod_cidrs: Vec<IpNetwork>,
    /// The bridge (`cni0`) address of each pod range: its first usable address.
    pub gateways: Vec<IpAddr>,
}

impl NetworkPlan {
    /// Computes the plan of a cluster with no previous bundle: every node gets the range its name
    /// hashes to. Validation has already guaranteed that there are at least as many node ranges
    /// as nodes, so every node finds a free one and this cannot fail.
    pub fn new(config: &ClusterConfig) -> Self {
        let (ranges, _none) = ranges::assign(config, &PreviousRanges::new());
        Self::with_ranges(config, ranges)
    }

    /// Computes the plan keeping the pod ranges nodes already have (`previous`, by node name:
    /// the ranges of the bundle applied before); the other nodes get free ranges by their name.
    /// Refused, naming each node, when a previous range no longer fits the networking (another
    /// pod subnet or node mask), is held by two nodes, or leaves a new node without a range.
    pub fn with_previous(
        config: &ClusterConfig,
        previous: &PreviousRanges,
    ) -> Result<Self, Diagnostics> {
        let (ranges, findings) = ranges::assign(config, previous);
        if findings.is_empty() {
            Ok(Self::with_ranges(config, ranges))
        } else {
            Err(Diagnostics(findings))
        }
    }

    /// The plan with `ranges[i]` as the pod ranges of the config's `i`-th node.
    fn with_ranges(config: &ClusterConfig, ranges: Vec<Vec<IpNetwork>>) -> Self {
        let networking = &config.networking;
        let families = &networking.families;
        let apiserver_service_ips: Vec<IpAddr> = families
            .iter()
            .map(|family| first_usable(family.service_subnet))
            .collect();
        let nodes = config
            .nodes
            .iter()
            .zip(ranges)
            .map(|(node, pod_cidrs)| {
                let gateways = pod_cidrs.iter().map(|cidr| first_usable(*cidr)).collect();
                NodePlan {
                    name: node.name.clone(),
                    addresses: node.addresses.clone(),
                    roles: node.roles.names(),
                    pod_cidrs,
                    gateways,
                }
            })
            .collect();
        let max_nodes = families
            .iter()
            .map(|family| net::subnet_count(family.pod_subnet, family.node_mask))
            .min()
            .unwrap_or(0);
        let pod_addresses_per_node = families
            .iter()
            .map(|family| pod_addresses(family.family, family.node_mask))
            .min()
            .unwrap_or(0);
        Self {
            cluster_name: config.name.clone(),
            kubernetes_version: config.kubernetes_version.to_string(),
            ip_families: families.iter().map(|family| family.family).collect(),
            control_plane_endpoint: config.api_endpoint().url(),
            apiserver_service_ip: apiserver_service_ips[0],
            apiserver_service_ips,
            dns_service_ip: networking.dns_service_ip,
            dns_domain: networking.dns_domain.clone(),
            pod_subnets: families.iter().map(|family| family.pod_subnet).collect(),
            service_subnets: families
                .iter()
                .map(|family| family.service_subnet)
                .collect(),
            node_cidr_mask_sizes: families.iter().map(|family| family.node_mask).collect(),
            max_nodes: saturate(max_nodes),
            max_pods_per_node: saturate(
                pod_addresses_per_node.min(u128::from(networking.max_pods_per_node)),
            ),
            pod_addresses_per_node: saturate(pod_addresses_per_node),
            nodes,
            no_proxy: no_proxy::no_proxy(config),
            flannel_net_conf: flannel_net_conf(config),
        }
    }

    /// The plan as a readable table.
    pub fn to_text(&self) -> String {
        text::render(self)
    }

    /// Each node's pod ranges by name: what a later bundle passes back as its [`PreviousRanges`].
    pub fn pod_ranges(&self) -> PreviousRanges {
        self.nodes
            .iter()
            .map(|node| (node.name.clone(), node.pod_cidrs.clone()))
            .collect()
    }

    /// `NO_PROXY` as one comma-separated value.
    pub fn no_proxy_value(&self) -> String {
        self.no_proxy.join(",")
    }
}

/// Address 1 of a range: the API server's service IP, or a node bridge's address.
fn first_usable(network: IpNetwork) -> IpAddr {
    // Validation guarantees every range used here holds more than one address.
    net::nth_address(network, 1).unwrap_or(network.network())
}

/// Addresses left for pods in a node range: all but the network address and the bridge, and on
/// IPv4 also the broadcast address.
fn pod_addresses(family: IpFamily, node_mask: u8) -> u128 {
    let size = 1u128
        .checked_shl(u32::from(family.bits() - node_mask))
        .unwrap_or(u128::MAX);
    let reserved = if family == IpFamily::V4 { 3 } else { 2 };
    size.saturating_sub(reserved)
}

fn saturate(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// Flannel's `net-conf.json` for the planned ranges. Flannel takes each node's range from the
/// Node object (kube subnet manager), so the subnet lengths here only document the plan.
fn flannel_net_conf(config: &ClusterConfig) -> serde_json::Value {
    let mut conf = serde_json::Map::new();
    for family in &config.networking.families {
        let (enable, network, subnet_len) = match family.family {
            IpFamily::V4 => ("EnableIPv4", "Network", "SubnetLen"),
            IpFamily::V6 => ("EnableIPv6", "IPv6Network", "IPv6SubnetLen"),
        };
        conf.insert(enable.into(), true.into());
        conf.insert(network.into(), net::canonical(family.pod_subnet).into());
        conf.insert(subnet_len.into(), family.node_mask.into());
    }
    let mut backend = serde_json::Map::new();
    backend.insert("Type".into(), "vxlan".into());
    conf.insert("Backend".into(), backend.into());
    conf.into()
}

fn display_list<S: Serializer>(networks: &[IpNetwork], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(networks.iter().map(|network| net::canonical(*network)))
}

#[cfg(test)]
mod tests;
