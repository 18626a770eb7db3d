//! The `NO_PROXY` list. Cluster traffic must never go through the HTTP proxy: a missing entry
//! sends kubelet's or containerd's calls to the API server or a node out to the proxy, which is
//! the classic way a proxied cluster breaks. Go programs (kubelet, containerd) understand CIDR
//! entries; other tools do not, so node addresses are listed one by one as well.

use std::collections::HashSet;

use crate::config::{ClusterConfig, Host};
use crate::net;

/// Every entry, in a fixed order and without repeats.
pub(super) fn no_proxy(config: &ClusterConfig) -> Vec<String> {
    let mut entries = Vec::with_capacity(16 + config.nodes.len() * 3);
    let mut push = |entry: String| entries.push(entry);

    for local in ["localhost", "127.0.0.1", "::1"] {
        push(local.to_owned());
    }
    if let Some(endpoint) = &config.control_plane_endpoint {
        push(endpoint.host.to_string());
    }
    for node in &config.nodes {
        push(node.name.clone());
        for address in &node.addresses {
            push(address.to_string());
        }
    }
    for family in &config.networking.families {
        push(net::canonical(family.pod_subnet));
        push(net::canonical(family.service_subnet));
    }
    let domain = &config.networking.dns_domain;
    for name in ["kubernetes", "kubernetes.default", ".svc"] {
        push(name.to_owned());
    }
    push(format!(".{domain}"));
    for san in &config.certificates.extra_sans {
        if let Host::Name(name) = san {
            push(name.strip_prefix('*').unwrap_or(name).to_owned());
        }
    }
    if let Some(proxy) = &config.proxy {
        for extra in &proxy.extra_no_proxy {
            push(extra.clone());
        }
    }

    let mut seen = HashSet::with_capacity(entries.len());
    entries.retain(|entry| seen.insert(entry.clone()));
    entries
}
