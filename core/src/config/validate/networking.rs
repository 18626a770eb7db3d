//! `spec.networking`: pod and service ranges per IP family, node masks, DNS, CNI, MTU and the
//! kube-proxy mode, and the ranges checked against the node addresses.

use std::net::IpAddr;

use ipnetwork::IpNetwork;

use super::*;
use crate::config::raw::RawNetworking;
use crate::net::{self, IpFamily};

/// Default pod range (flannel's; kubeadm itself has none).
pub(crate) const DEFAULT_POD_SUBNET: &str = "10.244.0.0/16";
/// Default service range (kubeadm's).
pub(crate) const DEFAULT_SERVICE_SUBNET: &str = "10.96.0.0/12";
const DEFAULT_DNS_DOMAIN: &str = "cluster.local";
const DEFAULT_MAX_PODS: u32 = 110;
const DEFAULT_NODE_MASK_V4: u8 = 24;
const DEFAULT_NODE_MASK_V6: u8 = 64;
/// Docker's default bridge; a pod or service range over it breaks nodes that run Docker.
const DOCKER_BRIDGE: &str = "172.17.0.0/16";
/// Largest service ranges kube-apiserver accepts, per family (prefix lengths).
const MAX_SERVICE_PREFIX_V4: u8 = 12;
const MAX_SERVICE_PREFIX_V6: u8 = 108;
/// The DNS service IP is the tenth address of the primary service range.
const DNS_SERVICE_INDEX: u128 = 10;
/// kubeadm refuses node masks more than 16 bits longer than the pod range.
const MAX_NODE_MASK_DELTA: u8 = 16;

impl Checker {
    pub(super) fn networking(
        &mut self,
        raw: &RawNetworking,
        node_count: usize,
    ) -> Option<Networking> {
        let errors_before = self.error_count();
        let pods_path = "spec.networking.podSubnet";
        let services_path = "spec.networking.serviceSubnet";
        let pod_subnets = self.cidr_list(
            pods_path,
            raw.pod_subnet.as_deref().unwrap_or(DEFAULT_POD_SUBNET),
        );
        let service_subnets = self.cidr_list(
            services_path,
            raw.service_subnet
                .as_deref()
                .unwrap_or(DEFAULT_SERVICE_SUBNET),
        );
        let (Some(pod_subnets), Some(service_subnets)) = (pod_subnets, service_subnets) else {
            return None;
        };
        let pod_families: Vec<IpFamily> = pod_subnets
            .iter()
            .map(|n| IpFamily::of_network(*n))
            .collect();
        let service_families: Vec<IpFamily> = service_subnets
            .iter()
            .map(|n| IpFamily::of_network(*n))
            .collect();
        if pod_families != service_families {
            self.push(
                Diagnostic::error(
                    services_path,
                    format!(
                        "has the families {} but podSubnet has {}",
                        family_names(&service_families),
                        family_names(&pod_families)
                    ),
                )
                .value(raw.service_subnet.as_deref().unwrap_or(DEFAULT_SERVICE_SUBNET))
                .hint("give podSubnet and serviceSubnet the same IP families in the same order, e.g. \"10.96.0.0/12,fd00:10:96::/112\" with \"10.244.0.0/16,fd00:10:244::/56\""),
            );
            return None;
        }
        let masks = self.node_masks(raw.node_cidr_mask_size.as_deref(), &pod_families)?;

        let mut families = Vec::new();
        for ((pod_subnet, service_subnet), node_mask) in
            pod_subnets.iter().zip(&service_subnets).zip(&masks)
        {
            families.push(FamilyNetwork {
                family: IpFamily::of_network(*pod_subnet),
                pod_subnet: *pod_subnet,
                service_subnet: *service_subnet,
                node_mask: *node_mask,
            });
        }
        let max_pods_per_node = match raw.max_pods_per_node {
            Some(0) => {
                self.push(
                    Diagnostic::error("spec.networking.maxPodsPerNode", "must be at least 1")
                        .value(0)
                        .hint("leave it out for the kubelet default of 110"),
                );
                DEFAULT_MAX_PODS
            }
            // The kubelet's maxPods is a signed 32-bit number.
            Some(max) if i32::try_from(max).is_err() => {
                self.push(
                    Diagnostic::error(
                        "spec.networking.maxPodsPerNode",
                        format!("is more than the kubelet's maxPods holds ({})", i32::MAX),
                    )
                    .value(max)
                    .hint("leave it out for the kubelet default of 110"),
                );
                max
            }
            Some(max) => max,
            None => DEFAULT_MAX_PODS,
        };
        for family in &families {
            self.family_ranges(family, max_pods_per_node);
        }
        self.ranges_apart(&families);
        self.room_for_nodes(&families, node_count);

        let dns_domain = raw
            .dns_domain
            .clone()
            .unwrap_or_else(|| DEFAULT_DNS_DOMAIN.into());
        if !is_dns_subdomain(&dns_domain) {
            self.push(
                Diagnostic::error("spec.networking.dnsDomain", "is not a DNS domain")
                    .value(&dns_domain)
                    .hint("use lower-case labels separated by dots, e.g. `cluster.local`"),
            );
        }
        let dns_service_ip = self.dns_service_ip(raw.dns_service_ip.as_deref(), &families[0])?;
        let cni = match raw.cni.as_deref() {
            None | Some("flannel") => Cni::Flannel,
            Some("none") => Cni::None,
            Some(other) => {
                self.push(
                    Diagnostic::error("spec.networking.cni", "is not a CNI plugin kbundle installs")
                        .value(other)
                        .hint("use `flannel` (default), or `none` and install your own (e.g. Calico's operator) once the cluster is up"),
                );
                Cni::None
            }
        };
        let needs_ipv6_mtu = families.iter().any(|f| f.family == IpFamily::V6);
        let minimum_mtu = if needs_ipv6_mtu { 1280 } else { 576 };
        if let Some(mtu) = raw.mtu
            && !(minimum_mtu..=9216).contains(&mtu)
        {
            self.push(
                Diagnostic::error("spec.networking.mtu", "is outside the usable MTU range")
                    .value(mtu)
                    .hint(format!(
                        "use {minimum_mtu}-9216, usually the node interface's MTU minus 50 for VXLAN (1450 on a 1500 network), or leave it out to detect it"
                    )),
            );
        }
        let kube_proxy_mode = match raw.kube_proxy_mode.as_deref() {
            None | Some("iptables") => KubeProxyMode::Iptables,
            Some("nftables") => KubeProxyMode::Nftables,
            Some("ipvs") => {
                self.push(
                    Diagnostic::warning("spec.networking.kubeProxyMode", "is deprecated upstream")
                        .value("ipvs")
                        .hint("prefer `nftables` or `iptables`"),
                );
                KubeProxyMode::Ipvs
            }
            Some(other) => {
                self.push(
                    Diagnostic::error("spec.networking.kubeProxyMode", "is not a kube-proxy mode")
                        .value(other)
                        .hint("use `iptables` (default), `nftables` or `ipvs`"),
                );
                KubeProxyMode::Iptables
            }
        };
        (self.error_count() == errors_before).then_some(Networking {
            families,
            dns_domain,
            dns_service_ip,
            max_pods_per_node,
            cni,
            mtu: raw.mtu,
            kube_proxy_mode,
        })
    }

    /// Parses `v4`, `v6` or `v4,v6` ranges: canonical, at most one per family.
    fn cidr_list(&mut self, path: &str, text: &str) -> Option<Vec<IpNetwork>> {
        let mut networks = Vec::new();
        let mut ok = true;
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.len() > 2 {
            self.push(
                Diagnostic::error(path, "lists more than two ranges")
                    .value(text)
                    .hint("give one range, or one IPv4 and one IPv6 range separated by a comma for dual-stack"),
            );
            return None;
        }
        for part in parts {
            match part.parse::<IpNetwork>() {
                Ok(network) if !part.contains('/') => {
                    self.push(
                        Diagnostic::error(path, "is an address, not a range")
                            .value(part)
                            .hint(format!("add a prefix length, e.g. `{network}/16`")),
                    );
                    ok = false;
                }
                Ok(network) if net::has_host_bits(network) => {
                    self.push(
                        Diagnostic::error(path, "has host bits set")
                            .value(part)
                            .hint(format!("did you mean `{}`?", net::canonical(network))),
                    );
                    ok = false;
                }
                Ok(network) => networks.push(network),
                Err(_) => {
                    self.push(
                        Diagnostic::error(path, "is not a CIDR range")
                            .value(part)
                            .hint("write an address and a prefix length, e.g. `10.244.0.0/16`"),
                    );
                    ok = false;
                }
            }
        }
        if networks.len() == 2
            && IpFamily::of_network(networks[0]) == IpFamily::of_network(networks[1])
        {
            self.push(
                Diagnostic::error(path, "lists two ranges of the same IP family")
                    .value(text)
                    .hint("dual-stack takes one IPv4 and one IPv6 range"),
            );
            ok = false;
        }
        ok.then_some(networks)
    }

    fn node_masks(&mut self, text: Option<&str>, families: &[IpFamily]) -> Option<Vec<u8>> {
        let path = "spec.networking.nodeCIDRMaskSize";
        let defaults: Vec<u8> = families
            .iter()
            .map(|family| match family {
                IpFamily::V4 => DEFAULT_NODE_MASK_V4,
                IpFamily::V6 => DEFAULT_NODE_MASK_V6,
            })
            .collect();
        let Some(text) = text else {
            return Some(defaults);
        };
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.len() != families.len() {
            self.push(
                Diagnostic::error(
                    path,
                    format!(
                        "gives {} but podSubnet has {}",
                        diagnostic::count(parts.len(), "mask"),
                        diagnostic::count(families.len(), "family")
                            .replace("familys", "families")
                    ),
                )
                .value(text)
                .hint("give one prefix length per podSubnet family, in the same order, e.g. \"24,64\""),
            );
            return None;
        }
        let mut masks = Vec::new();
        for (part, family) in parts.iter().zip(families) {
            match part.parse::<u8>() {
                Ok(mask) if mask <= family.bits() => masks.push(mask),
                _ => {
                    self.push(
                        Diagnostic::error(
                            path,
                            format!("is not an {} prefix length", family.name()),
                        )
                        .value(part)
                        .hint(format!(
                            "use a number from 0 to {}; the default is {}",
                            family.bits(),
                            if *family == IpFamily::V4 { 24 } else { 64 }
                        )),
                    );
                    return None;
                }
            }
        }
        Some(masks)
    }

    /// Size checks of one family's pod and service ranges.
    fn family_ranges(&mut self, family: &FamilyNetwork, max_pods: u32) {
        let pods = family.pod_subnet;
        let services = family.service_subnet;
        let mask_path = "spec.networking.nodeCIDRMaskSize";
        if family.node_mask < pods.prefix() {
            self.push(
                Diagnostic::error(
                    mask_path,
                    format!(
                        "is shorter than the {} podSubnet prefix /{}",
                        family.family.name(),
                        pods.prefix()
                    ),
                )
                .value(family.node_mask)
                .hint("each node's range is carved out of podSubnet, so its prefix must be at least as long"),
            );
        } else if family.node_mask - pods.prefix() > MAX_NODE_MASK_DELTA {
            self.push(
                Diagnostic::error(
                    mask_path,
                    format!(
                        "is more than {MAX_NODE_MASK_DELTA} bits longer than the podSubnet prefix /{}",
                        pods.prefix()
                    ),
                )
                .value(family.node_mask)
                .hint(format!(
                    "use at most /{} or a longer podSubnet prefix",
                    pods.prefix() + MAX_NODE_MASK_DELTA
                )),
            );
        }
        // The bridge takes one address; IPv4 also loses the network and broadcast addresses.
        let node_range_size = 1u128
            .checked_shl(u32::from(
                family.family.bits().saturating_sub(family.node_mask),
            ))
            .unwrap_or(u128::MAX);
        let reserved = if family.family == IpFamily::V4 { 3 } else { 2 };
        let pod_addresses = node_range_size.saturating_sub(reserved);
        if pod_addresses < u128::from(max_pods) {
            self.push(
                Diagnostic::error(
                    mask_path,
                    format!(
                        "gives each node {pod_addresses} {} pod addresses, fewer than maxPodsPerNode ({max_pods})",
                        family.family.name()
                    ),
                )
                .value(family.node_mask)
                .hint(match shortest_mask_for(family.family, max_pods) {
                    Some(mask) => format!(
                        "use a shorter mask such as /{mask} or lower spec.networking.maxPodsPerNode"
                    ),
                    None => format!(
                        "lower spec.networking.maxPodsPerNode: no {} node range holds {max_pods} pods",
                        family.family.name()
                    ),
                }),
            );
        }
        let services_path = "spec.networking.serviceSubnet";
        let largest = match family.family {
            IpFamily::V4 => MAX_SERVICE_PREFIX_V4,
            IpFamily::V6 => MAX_SERVICE_PREFIX_V6,
        };
        if services.prefix() < largest {
            self.push(
                Diagnostic::error(
                    services_path,
                    format!(
                        "is larger than kube-apiserver accepts (/{largest} at most for {})",
                        family.family.name()
                    ),
                )
                .value(net::canonical(services))
                .hint(format!("use a prefix of /{largest} or longer")),
            );
        }
        // The API server IP is the 1st address and the DNS IP the 10th; IPv4 keeps the last free.
        let needed = DNS_SERVICE_INDEX + 1 + u128::from(family.family == IpFamily::V4);
        if net::size(services) < needed {
            self.push(
                Diagnostic::error(
                    services_path,
                    "is too small for the API server and DNS service IPs",
                )
                .value(net::canonical(services))
                .hint(format!(
                    "use at least a /{} range",
                    if family.family == IpFamily::V4 {
                        28
                    } else {
                        124
                    }
                )),
            );
        }
    }

    /// The pod ranges must hold a node range for every node.
    fn room_for_nodes(&mut self, families: &[FamilyNetwork], node_count: usize) {
        for family in families {
            let capacity = net::subnet_count(family.pod_subnet, family.node_mask);
            if (node_count as u128) > capacity {
                self.push(
                    Diagnostic::error(
                        "spec.networking.podSubnet",
                        format!(
                            "has room for {} of /{} but {} are configured",
                            diagnostic::count(capacity as usize, "node range"),
                            family.node_mask,
                            diagnostic::count(node_count, "node")
                        ),
                    )
                    .value(net::canonical(family.pod_subnet))
                    .hint(format!(
                        "use a podSubnet of /{} or larger, or a longer nodeCIDRMaskSize",
                        family
                            .node_mask
                            .saturating_sub(bits_for(node_count as u128))
                    )),
                );
            }
        }
    }

    /// Pod and service ranges must not overlap each other, loopback, link-local or the Docker
    /// bridge.
    fn ranges_apart(&mut self, families: &[FamilyNetwork]) {
        for family in families {
            let pods = family.pod_subnet;
            let services = family.service_subnet;
            if net::overlaps(pods, services) {
                self.push(
                    Diagnostic::error(
                        "spec.networking.podSubnet",
                        format!("overlaps the service range {}", net::canonical(services)),
                    )
                    .value(net::canonical(pods))
                    .hint("pick disjoint ranges, e.g. podSubnet 10.244.0.0/16 and serviceSubnet 10.96.0.0/12"),
                );
            }
            let reserved: [(&str, &str, &str); 4] = [
                (
                    DOCKER_BRIDGE,
                    "Docker's default bridge",
                    "nodes that also run Docker lose pod traffic to it",
                ),
                (
                    "127.0.0.0/8",
                    "the loopback range",
                    "loopback addresses never leave a host",
                ),
                (
                    "169.254.0.0/16",
                    "the link-local range",
                    "link-local addresses are for the local link only",
                ),
                (
                    "fe80::/10",
                    "the IPv6 link-local range",
                    "link-local addresses are for the local link only",
                ),
            ];
            for (path, range) in [
                ("spec.networking.podSubnet", pods),
                ("spec.networking.serviceSubnet", services),
            ] {
                for (reserved_text, what, why) in reserved {
                    let Ok(reserved_range) = reserved_text.parse::<IpNetwork>() else {
                        continue;
                    };
                    if net::overlaps(range, reserved_range) {
                        self.push(
                            Diagnostic::error(path, format!("overlaps {what} {reserved_text}"))
                                .value(net::canonical(range))
                                .hint(format!("{why}; pick a range outside {reserved_text}")),
                        );
                    }
                }
            }
        }
    }

    fn dns_service_ip(&mut self, text: Option<&str>, primary: &FamilyNetwork) -> Option<IpAddr> {
        let path = "spec.networking.dnsServiceIP";
        let services = primary.service_subnet;
        let Some(text) = text else {
            // Too small a range was reported already; a placeholder keeps other checks going.
            return Some(
                net::nth_address(services, DNS_SERVICE_INDEX).unwrap_or(services.network()),
            );
        };
        let Ok(address) = text.trim().parse::<IpAddr>() else {
            self.push(
                Diagnostic::error(path, "is not an IP address")
                    .value(text)
                    .hint("leave it out to use the tenth address of the service range"),
            );
            return None;
        };
        let first = services.network();
        let last = net::nth_address(services, net::size(services).saturating_sub(1));
        let apiserver = net::nth_address(services, 1);
        if !services.contains(address) || IpFamily::of(address) != primary.family {
            self.push(
                Diagnostic::error(
                    path,
                    format!(
                        "is outside the primary service range {}",
                        net::canonical(services)
                    ),
                )
                .value(address)
                .hint("pick an address inside serviceSubnet's first range, or leave it out"),
            );
            return None;
        }
        if address == first || (primary.family == IpFamily::V4 && Some(address) == last) {
            self.push(
                Diagnostic::error(
                    path,
                    "is the network or broadcast address of the service range",
                )
                .value(address)
                .hint("pick a usable address, or leave it out"),
            );
            return None;
        }
        if Some(address) == apiserver {
            self.push(
                Diagnostic::error(path, "is the API server's service IP")
                    .value(address)
                    .hint("the API server takes the first address; leave dnsServiceIP out to use the tenth"),
            );
            return None;
        }
        Some(address)
    }

    /// Node addresses and the endpoint must lie outside the pod and service ranges.
    pub(super) fn networks_against_addresses(
        &mut self,
        networking: &Networking,
        nodes: &[Node],
        endpoint: Option<&Endpoint>,
    ) {
        let ranges: Vec<(&str, IpNetwork)> = networking
            .families
            .iter()
            .flat_map(|f| {
                [
                    ("pod range", f.pod_subnet),
                    ("service range", f.service_subnet),
                ]
            })
            .collect();
        for (index, node) in nodes.iter().enumerate() {
            for address in &node.addresses {
                for (what, range) in &ranges {
                    if range.contains(*address) {
                        self.push(
                            Diagnostic::error(
                                format!("spec.nodes[{index}].address"),
                                format!("lies inside the {what} {}", net::canonical(*range)),
                            )
                            .value(address)
                            .hint("pod and service ranges must not overlap the node network; move the range"),
                        );
                    }
                }
            }
        }
        if let Some(Endpoint {
            host: Host::Ip(address),
            ..
        }) = endpoint
        {
            for (what, range) in &ranges {
                if range.contains(*address) {
                    self.push(
                        Diagnostic::error(
                            "spec.controlPlaneEndpoint",
                            format!("lies inside the {what} {}", net::canonical(*range)),
                        )
                        .value(address)
                        .hint("use an address on the node network"),
                    );
                }
            }
        }
    }
}

fn family_names(families: &[IpFamily]) -> String {
    families
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(",")
}

/// Number of bits needed to count `n` things.
fn bits_for(n: u128) -> u8 {
    (128 - n.saturating_sub(1).leading_zeros()) as u8
}

/// The longest node mask that still holds `max_pods` pod addresses; `None` when not even the
/// whole address space does (over four billion pods in IPv4: found by fuzzing, issue #17).
fn shortest_mask_for(family: IpFamily, max_pods: u32) -> Option<u8> {
    let reserved = if family == IpFamily::V4 { 3 } else { 2 };
    family
        .bits()
        .checked_sub(bits_for(u128::from(max_pods) + reserved))
}
