//! `spec.nodes`: names, addresses, roles (and where etcd runs), labels and taints, each node
//! checked alone and then against the others.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::*;
use crate::config::raw::RawNode;
use crate::net::IpFamily;

impl Checker {
    pub(super) fn nodes(
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
