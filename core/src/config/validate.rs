//! Raw document → [`ClusterConfig`]: applies defaults and checks every field, collecting all
//! findings rather than stopping at the first, so the CLI can list them together and the web
//! form can show each next to its input.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnetwork::IpNetwork;

use super::raw::{RawClusterConfig, RawNetworking, RawNode, RawSsh};
use super::*;
use crate::net::{self, IpFamily};
use crate::versions::{self, VersionError};

/// Default pod range (flannel's; kubeadm itself has none).
pub(crate) const DEFAULT_POD_SUBNET: &str = "10.244.0.0/16";
/// Default service range (kubeadm's).
pub(crate) const DEFAULT_SERVICE_SUBNET: &str = "10.96.0.0/12";
const DEFAULT_DNS_DOMAIN: &str = "cluster.local";
const DEFAULT_MAX_PODS: u32 = 110;
const DEFAULT_NODE_MASK_V4: u8 = 24;
const DEFAULT_NODE_MASK_V6: u8 = 64;
const DEFAULT_SSH_USER: &str = "root";
const DEFAULT_SSH_PORT: u16 = 22;
const DEFAULT_CRI_SOCKET: &str = "/run/containerd/containerd.sock";
const DEFAULT_VALIDITY_HOURS: u32 = 365 * 24;
const DEFAULT_CA_VALIDITY_HOURS: u32 = 10 * 365 * 24;
/// Docker's default bridge; a pod or service range over it breaks nodes that run Docker.
const DOCKER_BRIDGE: &str = "172.17.0.0/16";
/// Largest service ranges kube-apiserver accepts, per family (prefix lengths).
const MAX_SERVICE_PREFIX_V4: u8 = 12;
const MAX_SERVICE_PREFIX_V6: u8 = 108;
/// The DNS service IP is the tenth address of the primary service range.
const DNS_SERVICE_INDEX: u128 = 10;
/// kubeadm refuses node masks more than 16 bits longer than the pod range.
const MAX_NODE_MASK_DELTA: u8 = 16;

pub(super) fn validate(raw: &RawClusterConfig) -> Result<Validated, Diagnostics> {
    let mut check = Checker::default();
    let config = check.cluster(raw);
    let mut findings = check.findings;
    // Errors first, then in the order the fields appear in the document.
    findings.sort_by_key(|finding| (finding.severity, document_rank(&finding.path)));
    match config {
        Some(config) if !findings.iter().any(Diagnostic::is_error) => Ok(Validated {
            config,
            warnings: findings,
        }),
        _ => Err(Diagnostics(findings)),
    }
}

#[derive(Default)]
struct Checker {
    findings: Vec<Diagnostic>,
}

impl Checker {
    fn push(&mut self, finding: Diagnostic) {
        self.findings.push(finding);
    }

    fn error_count(&self) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.is_error())
            .count()
    }

    fn cluster(&mut self, raw: &RawClusterConfig) -> Option<ClusterConfig> {
        self.header(raw);
        let name = self.cluster_name(raw.metadata.name.as_deref());
        let kubernetes_version = self.version(raw.spec.kubernetes_version.as_deref());
        let networking = self.networking(&raw.spec.networking, raw.spec.nodes.len());
        let ssh_defaults = self.ssh("spec.ssh", &raw.spec.ssh, None);
        let families: Option<Vec<IpFamily>> = networking
            .as_ref()
            .map(|networking| networking.families.iter().map(|f| f.family).collect());
        let nodes = self.nodes(&raw.spec.nodes, families.as_deref(), ssh_defaults.as_ref());
        let endpoint = self.endpoint(raw.spec.control_plane_endpoint.as_deref());
        let high_availability = self.high_availability(raw, &nodes, endpoint.as_ref());
        if let Some(networking) = &networking {
            self.networks_against_addresses(networking, &nodes, endpoint.as_ref());
        }
        let container_runtime = self.container_runtime(raw);
        let registry = self.registry(raw);
        let proxy = self.proxy(raw);
        let certificates = self.certificates(raw);
        Some(ClusterConfig {
            name: name?,
            kubernetes_version: kubernetes_version?,
            control_plane_endpoint: endpoint,
            high_availability: high_availability?,
            nodes,
            networking: networking?,
            container_runtime: container_runtime?,
            registry: registry?,
            proxy,
            certificates: certificates?,
        })
    }

    fn header(&mut self, raw: &RawClusterConfig) {
        match raw.api_version.as_deref() {
            Some(API_VERSION) => {}
            Some(other) => self.push(
                Diagnostic::error("apiVersion", "is not an API version this kbundle reads")
                    .value(other)
                    .hint(format!("use `apiVersion: {API_VERSION}`")),
            ),
            None => self.push(
                Diagnostic::error("apiVersion", "is missing")
                    .hint(format!("add `apiVersion: {API_VERSION}` at the top")),
            ),
        }
        match raw.kind.as_deref() {
            Some(KIND) => {}
            Some(other) => self.push(
                Diagnostic::error("kind", "is not a kind this kbundle reads")
                    .value(other)
                    .hint(format!("use `kind: {KIND}`")),
            ),
            None => self
                .push(Diagnostic::error("kind", "is missing").hint(format!("add `kind: {KIND}`"))),
        }
    }

    fn cluster_name(&mut self, name: Option<&str>) -> Option<String> {
        let path = "metadata.name";
        let Some(name) = name else {
            self.push(
                Diagnostic::error(path, "is missing")
                    .hint("name the cluster, e.g. `metadata: {name: demo}`"),
            );
            return None;
        };
        if !is_dns_label(name) {
            self.push(
                Diagnostic::error(path, "is not a valid cluster name")
                    .value(name)
                    .hint("use at most 63 lower-case letters, digits and `-`, starting and ending with a letter or digit"),
            );
            return None;
        }
        Some(name.to_owned())
    }

    fn version(&mut self, version: Option<&str>) -> Option<KubernetesVersion> {
        let path = "spec.kubernetesVersion";
        let Some(text) = version else {
            let release = versions::default_release();
            return Some(KubernetesVersion {
                release,
                patch: release.latest_patch,
            });
        };
        match versions::parse_version(text) {
            Ok(version) => {
                if !version.release.upstream_supported {
                    let newest = versions::default_release().minor;
                    self.push(
                        Diagnostic::warning(
                            path,
                            format!(
                                "reached upstream end of life on {}",
                                version.release.end_of_life
                            ),
                        )
                        .value(text)
                        .hint(format!("plan an upgrade to 1.{newest}")),
                    );
                }
                Some(version)
            }
            Err(error) => {
                let hint = match error {
                    VersionError::Malformed => format!(
                        "write a minor such as \"1.{}\" or a patch such as \"1.{}.{}\"",
                        versions::default_release().minor,
                        versions::default_release().minor,
                        versions::default_release().latest_patch
                    ),
                    VersionError::Unsupported => {
                        format!("supported versions: {}", versions::supported_list())
                    }
                };
                self.push(
                    Diagnostic::error(path, error.to_string())
                        .value(text)
                        .hint(hint),
                );
                None
            }
        }
    }

    fn ssh(&mut self, path: &str, raw: &RawSsh, defaults: Option<&Ssh>) -> Option<Ssh> {
        let errors_before = self.error_count();
        let user = match &raw.user {
            Some(user) if user.trim().is_empty() || user.contains(char::is_whitespace) => {
                self.push(
                    Diagnostic::error(format!("{path}.user"), "is not a valid user name")
                        .value(user)
                        .hint("give a login name without spaces, e.g. `ubuntu`"),
                );
                String::new()
            }
            Some(user) => user.clone(),
            None => defaults.map_or_else(|| DEFAULT_SSH_USER.to_owned(), |d| d.user.clone()),
        };
        let port = match raw.port {
            Some(0) => {
                self.push(
                    Diagnostic::error(format!("{path}.port"), "is not a usable port")
                        .value(0)
                        .hint("use 1-65535; sshd listens on 22 by default"),
                );
                0
            }
            Some(port) => port,
            None => defaults.map_or(DEFAULT_SSH_PORT, |d| d.port),
        };
        let identity_file = match &raw.identity_file {
            Some(file) if file.trim().is_empty() => {
                self.push(
                    Diagnostic::error(format!("{path}.identityFile"), "is empty")
                        .hint("give a key path such as `~/.ssh/id_ed25519`, or leave the field out to use ssh-agent"),
                );
                None
            }
            Some(file) => Some(file.clone()),
            None => defaults.and_then(|d| d.identity_file.clone()),
        };
        let jump_hosts = match &raw.jump_hosts {
            Some(hosts) => {
                for (index, host) in hosts.iter().enumerate() {
                    if host.trim().is_empty() || host.contains(char::is_whitespace) {
                        self.push(
                            Diagnostic::error(
                                format!("{path}.jumpHosts[{index}]"),
                                "is not a jump host",
                            )
                            .value(host)
                            .hint("write `[user@]host[:port]`, as for `ssh -J`"),
                        );
                    }
                }
                hosts.clone()
            }
            None => defaults.map(|d| d.jump_hosts.clone()).unwrap_or_default(),
        };
        (self.error_count() == errors_before).then_some(Ssh {
            user,
            port,
            identity_file,
            jump_hosts,
        })
    }

    fn networking(&mut self, raw: &RawNetworking, node_count: usize) -> Option<Networking> {
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
                .hint(format!(
                    "use a shorter mask such as /{} or lower spec.networking.maxPodsPerNode",
                    shortest_mask_for(family.family, max_pods)
                )),
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

    fn nodes(
        &mut self,
        raw_nodes: &[RawNode],
        families: Option<&[IpFamily]>,
        ssh_defaults: Option<&Ssh>,
    ) -> Vec<Node> {
        if raw_nodes.is_empty() {
            self.push(
                Diagnostic::error("spec.nodes", "lists no nodes")
                    .hint("add at least one node with the control-plane role"),
            );
            return Vec::new();
        }
        // Checked on the raw roles so that it is reported even when some node has other errors.
        if !raw_nodes
            .iter()
            .any(|node| node.roles.iter().any(|role| role == ROLE_CONTROL_PLANE))
        {
            self.push(
                Diagnostic::error("spec.nodes", "has no node with the control-plane role")
                    .hint("add `control-plane` to the roles of at least one node"),
            );
        }
        let mut nodes = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut addresses: HashMap<IpAddr, usize> = HashMap::new();
        for (index, raw) in raw_nodes.iter().enumerate() {
            let path = format!("spec.nodes[{index}]");
            let node = self.node(&path, raw, families, ssh_defaults);
            if let Some(name) = &raw.name
                && let Some(first) = names.insert(name.clone(), index)
            {
                self.push(
                    Diagnostic::error(
                        format!("{path}.name"),
                        format!("is already used by spec.nodes[{first}]"),
                    )
                    .value(name)
                    .hint("give every node a unique name"),
                );
                names.insert(name.clone(), first);
            }
            if let Some(node) = node {
                for address in &node.addresses {
                    if let Some(&first) = addresses.get(address) {
                        self.push(
                            Diagnostic::error(
                                format!("{path}.address"),
                                format!("is already used by spec.nodes[{first}]"),
                            )
                            .value(address)
                            .hint("give every node its own address"),
                        );
                    } else {
                        addresses.insert(*address, index);
                    }
                }
                nodes.push(node);
            }
        }
        if nodes.len() == raw_nodes.len() {
            self.roles_across_nodes(&mut nodes);
        }
        nodes
    }

    fn node(
        &mut self,
        path: &str,
        raw: &RawNode,
        families: Option<&[IpFamily]>,
        ssh_defaults: Option<&Ssh>,
    ) -> Option<Node> {
        let errors_before = self.error_count();
        let name = match &raw.name {
            None => {
                self.push(
                    Diagnostic::error(format!("{path}.name"), "is missing")
                        .hint("name the node as its hostname, e.g. `cp1`"),
                );
                String::new()
            }
            Some(name) if !is_dns_subdomain(name) => {
                self.push(
                    Diagnostic::error(format!("{path}.name"), "is not a valid node name")
                        .value(name)
                        .hint("use lower-case letters, digits, `-` and `.`, like a hostname"),
                );
                String::new()
            }
            Some(name) => name.clone(),
        };
        let addresses =
            self.node_addresses(&format!("{path}.address"), raw.address.as_deref(), families);
        let roles = self.roles(&format!("{path}.roles"), &raw.roles);
        let ssh = self.ssh(&format!("{path}.ssh"), &raw.ssh, ssh_defaults);
        let labels = self.labels(&format!("{path}.labels"), &raw.labels);
        let taints: Vec<Taint> = raw
            .taints
            .iter()
            .enumerate()
            .filter_map(|(index, taint)| self.taint(&format!("{path}.taints[{index}]"), taint))
            .collect();
        if self.error_count() != errors_before {
            return None;
        }
        Some(Node {
            name,
            addresses: addresses?,
            roles,
            ssh: ssh?,
            labels,
            taints,
        })
    }

    /// One address per cluster family, reordered to the cluster's family order.
    fn node_addresses(
        &mut self,
        path: &str,
        text: Option<&str>,
        families: Option<&[IpFamily]>,
    ) -> Option<Vec<IpAddr>> {
        let Some(text) = text else {
            self.push(
                Diagnostic::error(path, "is missing")
                    .hint("give the node's IP, or \"IPv4,IPv6\" for dual-stack"),
            );
            return None;
        };
        let mut addresses = Vec::new();
        for part in text.split(',').map(str::trim) {
            match part.parse::<IpAddr>() {
                Ok(address)
                    if address.is_unspecified()
                        || address.is_loopback()
                        || address.is_multicast() =>
                {
                    self.push(
                        Diagnostic::error(path, "is not an address other machines can reach")
                            .value(part)
                            .hint("give the node's own unicast address on the cluster network"),
                    );
                    return None;
                }
                Ok(address) => addresses.push(address),
                Err(_) => {
                    self.push(
                        Diagnostic::error(path, "is not an IP address")
                            .value(part)
                            .hint("write an IPv4 or IPv6 address such as `192.0.2.11`, or \"IPv4,IPv6\" for dual-stack"),
                    );
                    return None;
                }
            }
        }
        let node_families: Vec<IpFamily> = addresses.iter().map(|a| IpFamily::of(*a)).collect();
        if addresses.len() > 2 || (addresses.len() == 2 && node_families[0] == node_families[1]) {
            self.push(
                Diagnostic::error(path, "lists more than one address of a family")
                    .value(text)
                    .hint("give one address, or one IPv4 and one IPv6 address for dual-stack"),
            );
            return None;
        }
        let families = families?;
        let mut ordered = Vec::new();
        for family in families {
            match addresses.iter().find(|a| IpFamily::of(**a) == *family) {
                Some(address) => ordered.push(*address),
                None => {
                    self.push(
                        Diagnostic::error(
                            path,
                            format!("has no {} address but the cluster networks use {}", family.name(), family.name()),
                        )
                        .value(text)
                        .hint(if families.len() == 2 {
                            "a dual-stack cluster needs \"IPv4,IPv6\" on every node".to_owned()
                        } else {
                            format!("give an {} address, or change podSubnet and serviceSubnet to this node's family", family.name())
                        }),
                    );
                    return None;
                }
            }
        }
        if addresses.len() > families.len() {
            self.push(
                Diagnostic::error(path, "has an address of a family the cluster networks do not use")
                    .value(text)
                    .hint("for dual-stack give podSubnet and serviceSubnet an IPv4 and an IPv6 range; otherwise give one address"),
            );
            return None;
        }
        Some(ordered)
    }

    fn roles(&mut self, path: &str, names: &[String]) -> Roles {
        let mut roles = Roles::default();
        if names.is_empty() {
            self.push(
                Diagnostic::error(path, "is empty")
                    .hint("give the node at least one of `control-plane`, `etcd`, `worker`"),
            );
        }
        for (index, name) in names.iter().enumerate() {
            match name.as_str() {
                ROLE_CONTROL_PLANE => roles.control_plane = true,
                ROLE_ETCD => roles.etcd = true,
                ROLE_WORKER => roles.worker = true,
                other => {
                    let hint = match other {
                        "master" | "controlplane" | "control_plane" | "a" => {
                            "use `control-plane`".to_owned()
                        }
                        "node" | "i" | "minion" => "use `worker`".to_owned(),
                        "ai" => "use `[control-plane, worker]`".to_owned(),
                        _ => "use `control-plane`, `etcd` or `worker`".to_owned(),
                    };
                    self.push(
                        Diagnostic::error(format!("{path}[{index}]"), "is not a role")
                            .value(other)
                            .hint(hint),
                    );
                }
            }
        }
        roles
    }

    /// Checks that need every node: a control plane exists, etcd placement and size.
    fn roles_across_nodes(&mut self, nodes: &mut [Node]) {
        if !nodes.iter().any(|n| n.roles.control_plane) {
            return;
        }
        // Stacked etcd, as kubeadm does, unless the config places etcd itself.
        if !nodes.iter().any(|n| n.roles.etcd) {
            for node in nodes.iter_mut().filter(|n| n.roles.control_plane) {
                node.roles.etcd = true;
            }
        }
        let members = nodes.iter().filter(|n| n.roles.etcd).count();
        if members % 2 == 0 {
            self.push(
                Diagnostic::warning(
                    "spec.nodes",
                    format!(
                        "has an even number of etcd members ({members}), which tolerates no more failures than {}",
                        members - 1
                    ),
                )
                .hint(format!("use an odd number of etcd members, e.g. {}", members + 1)),
            );
        }
        if !nodes.iter().any(|n| n.roles.worker) {
            self.push(
                Diagnostic::warning("spec.nodes", "has no node with the worker role")
                    .hint("ordinary pods will stay Pending; add `worker` to a node's roles"),
            );
        }
    }

    fn labels(
        &mut self,
        path: &str,
        labels: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        for (key, value) in labels {
            if !is_label_key(key) {
                self.push(
                    Diagnostic::error(format!("{path}.{key}"), "is not a valid label key")
                        .value(key)
                        .hint("use `[prefix/]name`: name of at most 63 letters, digits, `-`, `_`, `.`; prefix a DNS subdomain"),
                );
            }
            if !is_label_value(value) {
                self.push(
                    Diagnostic::error(format!("{path}.{key}"), "is not a valid label value")
                        .value(value)
                        .hint("use at most 63 letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit"),
                );
            }
        }
        labels.clone()
    }

    fn taint(&mut self, path: &str, text: &str) -> Option<Taint> {
        let hint = "write `key[=value]:Effect`, e.g. `dedicated=gpu:NoSchedule`; Effect is NoSchedule, PreferNoSchedule or NoExecute";
        let Some((key_value, effect)) = text.rsplit_once(':') else {
            self.push(
                Diagnostic::error(path, "is not a taint")
                    .value(text)
                    .hint(hint),
            );
            return None;
        };
        let effect = match effect {
            "NoSchedule" => TaintEffect::NoSchedule,
            "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
            "NoExecute" => TaintEffect::NoExecute,
            _ => {
                self.push(
                    Diagnostic::error(path, "has an unknown taint effect")
                        .value(text)
                        .hint(hint),
                );
                return None;
            }
        };
        let (key, value) = match key_value.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (key_value, None),
        };
        if !is_label_key(key) || value.is_some_and(|v| !is_label_value(v)) {
            self.push(
                Diagnostic::error(path, "has an invalid key or value")
                    .value(text)
                    .hint(hint),
            );
            return None;
        }
        Some(Taint {
            key: key.to_owned(),
            value: value.map(str::to_owned),
            effect,
        })
    }

    fn endpoint(&mut self, text: Option<&str>) -> Option<Endpoint> {
        let path = "spec.controlPlaneEndpoint";
        let text = text?;
        match parse_endpoint(text) {
            Some(endpoint) => Some(endpoint),
            None => {
                self.push(
                    Diagnostic::error(path, "is not a `host:port` endpoint")
                        .value(text)
                        .hint("write an IP or DNS name with an optional port, e.g. `192.0.2.100:6443`, `[2001:db8::100]:6443` or `api.example.com`"),
                );
                None
            }
        }
    }

    fn high_availability(
        &mut self,
        raw: &RawClusterConfig,
        nodes: &[Node],
        endpoint: Option<&Endpoint>,
    ) -> Option<HighAvailability> {
        let path = "spec.controlPlaneEndpoint";
        let control_planes: Vec<&Node> = nodes.iter().filter(|n| n.roles.control_plane).collect();
        let endpoint_given = raw.spec.control_plane_endpoint.is_some();
        if control_planes.len() > 1 && !endpoint_given {
            self.push(
                Diagnostic::error(
                    path,
                    format!("is required with {} control-plane nodes", control_planes.len()),
                )
                .hint("give a free IP for a virtual IP (kube-vip) or your load balancer's address, e.g. `controlPlaneEndpoint: 192.0.2.100:6443`"),
            );
        }
        if let Some(Endpoint {
            host: Host::Ip(address),
            ..
        }) = endpoint
            && control_planes.len() > 1
            && let Some(node) = nodes.iter().find(|n| n.addresses.contains(address))
        {
            self.push(
                Diagnostic::warning(
                    path,
                    format!(
                        "is the address of node `{}`, so the API goes down with that node",
                        node.name
                    ),
                )
                .value(address)
                .hint("use a virtual IP or a load balancer in front of all control-plane nodes"),
            );
        }
        let mode_path = "spec.highAvailability.mode";
        let ha = raw.spec.high_availability.clone().unwrap_or_default();
        let endpoint_is_name = matches!(
            endpoint,
            Some(Endpoint {
                host: Host::Name(_),
                ..
            })
        );
        let mode = match ha.mode.as_deref() {
            Some("kube-vip") => {
                if endpoint_is_name {
                    self.push(
                        Diagnostic::error(mode_path, "needs an IP address as controlPlaneEndpoint")
                            .value("kube-vip")
                            .hint("give the virtual IP as the endpoint, or use `mode: external` with a DNS name"),
                    );
                }
                HighAvailability::KubeVip {
                    interface: ha.interface.clone(),
                }
            }
            Some("external") => HighAvailability::External,
            Some(other) => {
                self.push(
                    Diagnostic::error(mode_path, "is not a high-availability mode")
                        .value(other)
                        .hint("use `kube-vip` (a virtual IP on the control-plane nodes) or `external` (your load balancer)"),
                );
                return None;
            }
            None if endpoint.is_none() => HighAvailability::SingleNode,
            // A DNS name points at something the user runs; an IP becomes a kube-vip VIP.
            None if endpoint_is_name => HighAvailability::External,
            None => HighAvailability::KubeVip {
                interface: ha.interface.clone(),
            },
        };
        if mode == HighAvailability::SingleNode && ha.interface.is_some() {
            self.push(
                Diagnostic::warning(
                    "spec.highAvailability.interface",
                    "is ignored without a controlPlaneEndpoint",
                )
                .hint("set controlPlaneEndpoint to the virtual IP"),
            );
        }
        Some(mode)
    }

    /// Node addresses and the endpoint must lie outside the pod and service ranges.
    fn networks_against_addresses(
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

    fn container_runtime(&mut self, raw: &RawClusterConfig) -> Option<ContainerRuntime> {
        let runtime = &raw.spec.container_runtime;
        let socket = runtime
            .socket
            .clone()
            .unwrap_or_else(|| DEFAULT_CRI_SOCKET.into());
        let socket = socket.strip_prefix("unix://").unwrap_or(&socket).to_owned();
        let mut ok = true;
        if !socket.starts_with('/') {
            self.push(
                Diagnostic::error(
                    "spec.containerRuntime.socket",
                    "is not an absolute socket path",
                )
                .value(&socket)
                .hint(format!("use e.g. `{DEFAULT_CRI_SOCKET}`")),
            );
            ok = false;
        }
        let cgroup_driver = match runtime.cgroup_driver.as_deref() {
            None | Some("systemd") => CgroupDriver::Systemd,
            Some("cgroupfs") => {
                self.push(
                    Diagnostic::warning(
                        "spec.containerRuntime.cgroupDriver",
                        "is not recommended on systemd hosts",
                    )
                    .value("cgroupfs")
                    .hint("use `systemd`, kubeadm's default, unless the nodes do not run systemd"),
                );
                CgroupDriver::Cgroupfs
            }
            Some(other) => {
                self.push(
                    Diagnostic::error(
                        "spec.containerRuntime.cgroupDriver",
                        "is not a cgroup driver",
                    )
                    .value(other)
                    .hint("use `systemd` or `cgroupfs`"),
                );
                ok = false;
                CgroupDriver::Systemd
            }
        };
        ok.then_some(ContainerRuntime {
            socket,
            cgroup_driver,
        })
    }

    fn registry(&mut self, raw: &RawClusterConfig) -> Option<Registry> {
        let registry = &raw.spec.registry;
        let errors_before = self.error_count();
        let image_repository = registry
            .image_repository
            .clone()
            .unwrap_or_else(|| DEFAULT_IMAGE_REPOSITORY.into());
        if !is_image_repository(&image_repository) {
            self.push(
                Diagnostic::error(
                    "spec.registry.imageRepository",
                    "is not an image repository",
                )
                .value(&image_repository)
                .hint(
                    "write `host[:port][/path]` without a scheme, e.g. `registry.example.com/k8s`",
                ),
            );
        }
        let mut mirrors = Vec::new();
        for (index, mirror) in registry.mirrors.iter().enumerate() {
            let path = format!("spec.registry.mirrors[{index}]");
            let upstream =
                self.registry_host(&format!("{path}.registry"), mirror.registry.as_deref());
            if mirror.endpoints.is_empty() {
                self.push(
                    Diagnostic::error(format!("{path}.endpoints"), "is empty")
                        .hint("list the mirror URLs, e.g. `[https://mirror.example.com]`"),
                );
            }
            for (endpoint_index, endpoint) in mirror.endpoints.iter().enumerate() {
                if !is_http_url(endpoint) {
                    self.push(
                        Diagnostic::error(
                            format!("{path}.endpoints[{endpoint_index}]"),
                            "is not an http(s) URL",
                        )
                        .value(endpoint)
                        .hint("write e.g. `https://mirror.example.com`"),
                    );
                }
            }
            if let Some(upstream) = upstream {
                mirrors.push(Mirror {
                    registry: upstream,
                    endpoints: mirror.endpoints.clone(),
                });
            }
        }
        let mut credentials = Vec::new();
        for (index, credential) in registry.credentials.iter().enumerate() {
            let path = format!("spec.registry.credentials[{index}]");
            let host =
                self.registry_host(&format!("{path}.registry"), credential.registry.as_deref());
            let username = credential.username.clone().filter(|u| !u.is_empty());
            let password = credential.password.clone().filter(|p| !p.is_empty());
            if username.is_none() {
                self.push(
                    Diagnostic::error(format!("{path}.username"), "is missing")
                        .hint("give the registry user name"),
                );
            }
            if password.is_none() {
                // Never echo a secret: the value is not shown.
                self.push(
                    Diagnostic::error(format!("{path}.password"), "is missing")
                        .hint("give the password or token"),
                );
            }
            if let (Some(registry), Some(username), Some(password)) = (host, username, password) {
                credentials.push(Credential {
                    registry,
                    username,
                    password,
                });
            }
        }
        let pull_secret_namespaces = match &registry.pull_secret_namespaces {
            Some(namespaces) => {
                for (index, namespace) in namespaces.iter().enumerate() {
                    if !is_dns_label(namespace) {
                        self.push(
                            Diagnostic::error(
                                format!("spec.registry.pullSecretNamespaces[{index}]"),
                                "is not a namespace name",
                            )
                            .value(namespace)
                            .hint("use lower-case letters, digits and `-`"),
                        );
                    }
                }
                namespaces.clone()
            }
            None if credentials.is_empty() => Vec::new(),
            None => vec!["default".to_owned()],
        };
        (self.error_count() == errors_before).then_some(Registry {
            image_repository,
            mirrors,
            credentials,
            pull_secret_namespaces,
        })
    }

    fn registry_host(&mut self, path: &str, text: Option<&str>) -> Option<String> {
        match text {
            None => {
                self.push(
                    Diagnostic::error(path, "is missing")
                        .hint("name the registry host, e.g. `docker.io`"),
                );
                None
            }
            Some(host) if !is_registry_host(host) => {
                self.push(
                    Diagnostic::error(path, "is not a registry host")
                        .value(host)
                        .hint("write `host[:port]` without a scheme or path, e.g. `docker.io`"),
                );
                None
            }
            Some(host) => Some(host.to_owned()),
        }
    }

    fn proxy(&mut self, raw: &RawClusterConfig) -> Option<Proxy> {
        let proxy = raw.spec.proxy.as_ref()?;
        for (field, value) in [("http", &proxy.http), ("https", &proxy.https)] {
            if let Some(url) = value
                && !is_proxy_url(url)
            {
                self.push(
                    Diagnostic::error(format!("spec.proxy.{field}"), "is not a proxy URL")
                        .value(redact_userinfo(url))
                        .hint("write e.g. `http://proxy.example.com:3128`"),
                );
            }
        }
        if proxy.http.is_none() && proxy.https.is_none() {
            self.push(
                Diagnostic::error("spec.proxy", "names neither an http nor an https proxy")
                    .hint("set `http` and/or `https`, or remove `proxy`"),
            );
        }
        for (index, entry) in proxy.no_proxy.iter().enumerate() {
            if entry.trim().is_empty() || entry.contains([',', ' ']) {
                self.push(
                    Diagnostic::error(
                        format!("spec.proxy.noProxy[{index}]"),
                        "is not a NO_PROXY entry",
                    )
                    .value(entry)
                    .hint("give one host, domain (`.example.com`), IP or CIDR per list item"),
                );
            }
        }
        Some(Proxy {
            http: proxy.http.clone(),
            https: proxy.https.clone(),
            extra_no_proxy: proxy.no_proxy.clone(),
        })
    }

    fn certificates(&mut self, raw: &RawClusterConfig) -> Option<Certificates> {
        let certificates = &raw.spec.certificates;
        let errors_before = self.error_count();
        let key_algorithm = match certificates.key_algorithm.as_deref() {
            None | Some("ECDSA-P256") => KeyAlgorithm::EcdsaP256,
            Some("RSA-2048") => KeyAlgorithm::Rsa2048,
            Some("RSA-3072") => KeyAlgorithm::Rsa3072,
            Some("RSA-4096") => KeyAlgorithm::Rsa4096,
            Some(other) => {
                self.push(
                    Diagnostic::error(
                        "spec.certificates.keyAlgorithm",
                        "is not a supported key algorithm",
                    )
                    .value(other)
                    .hint("use `ECDSA-P256` (default), `RSA-2048`, `RSA-3072` or `RSA-4096`"),
                );
                KeyAlgorithm::EcdsaP256
            }
        };
        let validity_hours = self.duration(
            "spec.certificates.validity",
            certificates.validity.as_deref(),
            DEFAULT_VALIDITY_HOURS,
        );
        let ca_validity_hours = self.duration(
            "spec.certificates.caValidity",
            certificates.ca_validity.as_deref(),
            DEFAULT_CA_VALIDITY_HOURS,
        );
        if let (Some(leaf), Some(ca)) = (validity_hours, ca_validity_hours)
            && leaf > ca
        {
            self.push(
                Diagnostic::error(
                    "spec.certificates.validity",
                    "is longer than the CA's validity",
                )
                .value(certificates.validity.as_deref().unwrap_or_default())
                .hint(
                    "a certificate cannot outlive its CA; shorten validity or lengthen caValidity",
                ),
            );
        }
        let mut extra_sans = Vec::new();
        for (index, san) in certificates.extra_sans.iter().enumerate() {
            if let Ok(address) = san.parse::<IpAddr>() {
                extra_sans.push(Host::Ip(address));
            } else if is_dns_subdomain(san.strip_prefix("*.").unwrap_or(san)) {
                extra_sans.push(Host::Name(san.clone()));
            } else {
                self.push(
                    Diagnostic::error(
                        format!("spec.certificates.extraSANs[{index}]"),
                        "is neither an IP address nor a DNS name",
                    )
                    .value(san)
                    .hint("write e.g. `api.example.com` or `192.0.2.50`"),
                );
            }
        }
        let mut existing_cas = Vec::new();
        let existing = &certificates.existing_cas;
        for (spec, files) in crate::pki::inventory::CERTIFICATE_AUTHORITIES.iter().zip([
            &existing.cluster,
            &existing.front_proxy,
            &existing.etcd,
        ]) {
            let Some(files) = files else { continue };
            let path = format!("spec.certificates.existingCAs.{}", spec.config_name);
            let certificate_file =
                self.file_path(&format!("{path}.certFile"), files.cert_file.as_deref());
            let key_file = self.file_path(&format!("{path}.keyFile"), files.key_file.as_deref());
            if let (Some(certificate_file), Some(key_file)) = (certificate_file, key_file) {
                existing_cas.push(ExistingCaFiles {
                    kind: spec.kind,
                    certificate_file,
                    key_file,
                });
            }
        }
        (self.error_count() == errors_before).then_some(Certificates {
            key_algorithm,
            validity_hours: validity_hours?,
            ca_validity_hours: ca_validity_hours?,
            extra_sans,
            existing_cas,
        })
    }

    fn file_path(&mut self, path: &str, file: Option<&str>) -> Option<String> {
        match file {
            Some(file) if !file.trim().is_empty() => Some(file.to_owned()),
            _ => {
                self.push(
                    Diagnostic::error(path, "is missing")
                        .hint("give both certFile and keyFile of the CA, as PEM files"),
                );
                None
            }
        }
    }

    fn duration(&mut self, path: &str, text: Option<&str>, default: u32) -> Option<u32> {
        let Some(text) = text else {
            return Some(default);
        };
        match parse_duration_hours(text) {
            Some(hours) if hours > 0 => Some(hours),
            _ => {
                self.push(
                    Diagnostic::error(path, "is not a duration")
                        .value(text)
                        .hint("write a whole number of hours, days or years, e.g. `8760h`, `365d` or `10y`"),
                );
                None
            }
        }
    }
}

/// Where a field's section comes in the document, so findings read top to bottom.
fn document_rank(path: &str) -> usize {
    const SECTIONS: [&str; 13] = [
        "apiVersion",
        "kind",
        "metadata",
        "spec.kubernetesVersion",
        "spec.controlPlaneEndpoint",
        "spec.highAvailability",
        "spec.ssh",
        "spec.nodes",
        "spec.networking",
        "spec.containerRuntime",
        "spec.registry",
        "spec.proxy",
        "spec.certificates",
    ];
    SECTIONS
        .iter()
        .position(|section| path.starts_with(section))
        .unwrap_or(SECTIONS.len())
}

/// `8760h`, `365d`, `10y` (365-day years, as kubeadm counts them) → hours.
fn parse_duration_hours(text: &str) -> Option<u32> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let number: u32 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let per_unit = match unit {
        'h' => 1,
        'd' => 24,
        'y' => 365 * 24,
        _ => return None,
    };
    number.checked_mul(per_unit)
}

/// `host`, `host:port`, `[v6]:port` or a bare IPv6 address; the port defaults to 6443.
pub(crate) fn parse_endpoint(text: &str) -> Option<Endpoint> {
    let text = text.trim();
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(Endpoint {
            host: Host::Ip(address),
            port: DEFAULT_API_PORT,
        });
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => DEFAULT_API_PORT,
            _ => after.strip_prefix(':')?.parse().ok()?,
        };
        (host, port)
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().ok()?),
            None => (text, DEFAULT_API_PORT),
        }
    };
    if port == 0 {
        return None;
    }
    let host = match host.parse::<IpAddr>() {
        Ok(address) => Host::Ip(address),
        Err(_) if is_dns_subdomain(host) && !host.contains(':') => Host::Name(host.to_owned()),
        Err(_) => return None,
    };
    Some(Endpoint { host, port })
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

/// The longest node mask that still holds `max_pods` pod addresses.
fn shortest_mask_for(family: IpFamily, max_pods: u32) -> u8 {
    let reserved = if family == IpFamily::V4 { 3 } else { 2 };
    family.bits() - bits_for(u128::from(max_pods) + reserved)
}

/// RFC 1123 label: what Kubernetes calls a DNS label.
pub(crate) fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// RFC 1123 subdomain: dot-separated labels, 253 characters at most.
pub(crate) fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_dns_label)
}

fn is_label_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && text.as_bytes()[0].is_ascii_alphanumeric()
        && text.as_bytes()[text.len() - 1].is_ascii_alphanumeric()
}

fn is_label_key(text: &str) -> bool {
    match text.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name(name),
        None => is_label_name(text),
    }
}

fn is_label_value(text: &str) -> bool {
    text.is_empty() || is_label_name(text)
}

fn is_registry_host(text: &str) -> bool {
    let host = match text.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => text,
    };
    is_dns_subdomain(&host.to_ascii_lowercase()) || host.parse::<IpAddr>().is_ok()
}

fn is_image_repository(text: &str) -> bool {
    let (host, path) = text.split_once('/').unwrap_or((text, ""));
    is_registry_host(host)
        && path.split('/').all(|segment| {
            path.is_empty()
                || (!segment.is_empty()
                    && segment.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)
                    }))
        })
}

fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let host = rest.split('/').next().unwrap_or_default();
        !host.is_empty() && !rest.contains(char::is_whitespace)
    })
}

fn is_proxy_url(text: &str) -> bool {
    let rest = ["http://", "https://", "socks5://"]
        .iter()
        .find_map(|scheme| text.strip_prefix(scheme));
    rest.is_some_and(|rest| {
        let authority = rest.split('/').next().unwrap_or_default();
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        !host.is_empty() && !rest.contains(char::is_whitespace)
    })
}

/// Proxy URLs may carry `user:password@`; errors show them without it.
fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://<redacted>@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
