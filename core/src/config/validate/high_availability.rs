//! `spec.controlPlaneEndpoint` and `spec.highAvailability`: where clients reach the API and
//! how that address is provided.

use std::net::IpAddr;

use super::*;

impl Checker {
    pub(super) fn endpoint(&mut self, text: Option<&str>) -> Option<Endpoint> {
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

    pub(super) fn high_availability(
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
