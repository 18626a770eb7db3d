//! Prune: what the cluster still has and this bundle no longer does. A Node that kbundle gave
//! its pod range (kbundle's field manager is on it: a worker that joined with `join/` never is)
//! and an etcd member, neither of a node of the bundle. Without `--prune` they are reported and
//! left alone; with it, each gone node in turn is cordoned and drained, its etcd member removed
//! (only when a quorum of the members left is healthy; checked again afterwards), and its Node
//! deleted. The removed machine is never contacted: it may be gone.
//!
//! This runs after `install`, so the remaining members were restarted one at a time while the
//! gone one still counted for quorum (three members survive one restart; two would not), and
//! before anything else asks the cluster for more.

use std::collections::BTreeSet;

use super::{first_control_plane, root};
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

const PKI: &str = "/etc/kubernetes/pki";
const KUBECTL: &str = "kubectl --kubeconfig /etc/kubernetes/super-admin.conf";
/// Each Node's name and the field managers of its fields, a line each.
const NODES_QUERY: &str = r#"get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.managedFields[*].manager}{"\n"}{end}'"#;

pub(crate) struct Prune;

/// A member of the etcd cluster, as its API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// The member id, as the JSON API writes it (a decimal string).
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) peer_urls: Vec<String>,
    pub(crate) client_urls: Vec<String>,
}

/// A node of the bundle: its name, addresses and whether it is an etcd member.
pub(crate) struct Planned {
    pub(crate) name: String,
    pub(crate) addresses: Vec<String>,
    pub(crate) etcd: bool,
}

/// What the cluster has that the bundle does not.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Gone {
    /// Nodes kbundle planned before, by name.
    pub(crate) nodes: Vec<String>,
    /// etcd members of no etcd node of the bundle.
    pub(crate) members: Vec<Member>,
}

impl Gone {
    fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.members.is_empty()
    }

    /// `Node node3, etcd member node3 (id 123)`.
    fn describe(&self) -> String {
        self.nodes
            .iter()
            .map(|name| format!("Node {name}"))
            .chain(
                self.members.iter().map(|member| {
                    format!("etcd member {} (id {})", member_label(member), member.id)
                }),
            )
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The names to work through, one gone node at a time: Nodes and members of one name
    /// together.
    fn names(&self) -> BTreeSet<String> {
        self.nodes
            .iter()
            .cloned()
            .chain(self.members.iter().map(member_label))
            .collect()
    }
}

/// A member's name, or its first peer URL while it has none (added, never started).
fn member_label(member: &Member) -> String {
    if member.name.is_empty() {
        member.peer_urls.first().cloned().unwrap_or_default()
    } else {
        member.name.clone()
    }
}

/// The host of a URL (`https://[2001:db8::1]:2380` → `2001:db8::1`).
fn url_host(url: &str) -> &str {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
    }
}

/// Parses etcd's `/v3/cluster/member/list` answer.
pub(crate) fn parse_members(json: &str) -> Result<Vec<Member>, String> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|error| format!("etcd's member list is not JSON ({error})"))?;
    let strings = |value: &serde_json::Value| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let members = value["members"]
        .as_array()
        .ok_or("etcd's member list names no members")?;
    members
        .iter()
        .map(|member| {
            let id = match &member["ID"] {
                serde_json::Value::String(id) => id.clone(),
                serde_json::Value::Number(id) => id.to_string(),
                _ => return Err("an etcd member without an ID".to_owned()),
            };
            Ok(Member {
                id,
                name: member["name"].as_str().unwrap_or_default().to_owned(),
                peer_urls: strings(&member["peerURLs"]),
                client_urls: strings(&member["clientURLs"]),
            })
        })
        .collect()
}

/// What `nodes` (the output of [`NODES_QUERY`]) and `members` hold beyond `planned`.
pub(crate) fn gone(planned: &[Planned], nodes: &str, members: &[Member]) -> Gone {
    let known = |name: &str| planned.iter().any(|node| node.name == name);
    let gone_nodes = nodes
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let by_kbundle = words.any(|manager| manager == "kbundle");
            (by_kbundle && !known(name)).then(|| name.to_owned())
        })
        .collect();
    let gone_members = members
        .iter()
        .filter(|member| {
            !planned.iter().filter(|node| node.etcd).any(|node| {
                node.name == member.name
                    || member
                        .peer_urls
                        .iter()
                        .any(|url| node.addresses.iter().any(|a| a == url_host(url)))
            })
        })
        .cloned()
        .collect();
    Gone {
        nodes: gone_nodes,
        members: gone_members,
    }
}

/// `curl` with the healthcheck client certificate, as etcd's clients authenticate.
fn etcd_curl(url: &str) -> String {
    format!(
        "curl -fsS --max-time 5 --cacert {PKI}/etcd/ca.crt --cert {PKI}/etcd/healthcheck-client.crt --key {PKI}/etcd/healthcheck-client.key {}",
        quote(url)
    )
}

/// The client URL of the etcd node the run talks to etcd through.
fn local_client_url(node: &NodeTarget) -> String {
    let address = node.addresses.first().cloned().unwrap_or_default();
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => format!("https://[{v6}]:2379"),
        _ => format!("https://{address}:2379"),
    }
}

/// The members as etcd lists them, asked on `etcd_node`.
fn list_members(context: &Context, etcd_node: &NodeTarget) -> Result<Vec<Member>, String> {
    let listing = root(
        context,
        etcd_node,
        &format!(
            "{} -X POST -d '{{}}'",
            etcd_curl(&format!(
                "{}/v3/cluster/member/list",
                local_client_url(etcd_node)
            ))
        ),
    )
    .map_err(|reason| format!("listing etcd's members on {}: {reason}", etcd_node.name))?;
    parse_members(&listing.stdout)
}

/// How many of `members` answer healthy, asked on `etcd_node`.
fn healthy_members(
    context: &Context,
    etcd_node: &NodeTarget,
    members: &[&Member],
) -> Result<usize, String> {
    let checks: String = members
        .iter()
        .filter_map(|member| member.client_urls.first())
        .map(|url| {
            format!(
                "if {} 2>/dev/null | grep -q '\"health\":\"true\"'; then echo healthy; fi; ",
                etcd_curl(&format!("{url}/health"))
            )
        })
        .collect();
    if checks.is_empty() {
        return Ok(0);
    }
    let output = root(context, etcd_node, &checks)?;
    Ok(output.stdout.lines().filter(|l| *l == "healthy").count())
}

/// The majority of `count` members.
fn quorum(count: usize) -> usize {
    count / 2 + 1
}

/// Removes etcd member `member` when a quorum of the members left is healthy, then waits for
/// that quorum again.
fn remove_member(
    context: &Context,
    etcd_node: &NodeTarget,
    member: &Member,
) -> Result<String, String> {
    // Listed again: an earlier removal of this run changed the membership.
    let members = list_members(context, etcd_node)?;
    if !members.iter().any(|m| m.id == member.id) {
        return Ok(format!(
            "etcd member {} was already removed",
            member_label(member)
        ));
    }
    let left: Vec<&Member> = members.iter().filter(|m| m.id != member.id).collect();
    let needed = quorum(left.len());
    let healthy = healthy_members(context, etcd_node, &left)?;
    if left.is_empty() || healthy < needed {
        return Err(format!(
            "removing etcd member {} would leave {} members of which {healthy} are healthy, and quorum needs {needed}; nothing was removed\nhint: bring the other members back to health first (or add one), then run the same command again",
            member_label(member),
            left.len()
        ));
    }
    root(
        context,
        etcd_node,
        &format!(
            "{} -X POST -d {} >/dev/null",
            etcd_curl(&format!(
                "{}/v3/cluster/member/remove",
                local_client_url(etcd_node)
            )),
            quote(&serde_json::json!({ "ID": member.id }).to_string())
        ),
    )
    .map_err(|reason| format!("removing etcd member {}: {reason}", member_label(member)))?;
    // The members left must have their quorum again (the leader may have been the one removed).
    let deadline = std::time::Instant::now() + context.options.wait_timeout;
    loop {
        let healthy = healthy_members(context, etcd_node, &left).unwrap_or(0);
        if healthy >= needed {
            break;
        }
        if std::time::Instant::now() >= deadline {
            return Err(format!(
                "etcd member {} was removed, but only {healthy} of the {} members left were healthy after {:?} (quorum needs {needed})",
                member_label(member),
                left.len(),
                context.options.wait_timeout
            ));
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    Ok(format!(
        "etcd member {} removed; {needed} or more of {} members healthy",
        member_label(member),
        left.len()
    ))
}

impl Phase for Prune {
    fn name(&self) -> &'static str {
        "prune"
    }

    fn title(&self) -> &'static str {
        "Remove the Nodes and etcd members gone from cluster.yaml (with --prune; else report them)"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        first_control_plane(context)
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        // The whole bundle counts, not only the nodes of this run (--nodes).
        let planned: Vec<Planned> = context
            .bundle
            .manifest
            .nodes
            .iter()
            .map(|n| Planned {
                name: n.name.clone(),
                addresses: n.addresses.clone(),
                etcd: n.roles.iter().any(|r| r == "etcd"),
            })
            .collect();
        let nodes = root(context, node, &format!("{KUBECTL} {NODES_QUERY}"))
            .map_err(|reason| format!("listing the Nodes: {reason}"))?;
        let etcd_node = context.nodes.iter().find(|n| n.has_role("etcd"));
        let members = match etcd_node {
            Some(etcd_node) => list_members(context, etcd_node)?,
            None => Vec::new(),
        };
        let gone = gone(&planned, &nodes.stdout, &members);
        if gone.is_empty() {
            return Ok(
                if etcd_node.is_some() {
                    "every Node kbundle planned and every etcd member is in this bundle"
                } else {
                    "every Node kbundle planned is in this bundle (no etcd node in this run: members not looked at)"
                }
                .into(),
            );
        }
        if !context.options.prune {
            return Ok(format!(
                "warning: the cluster has what this bundle does not: {}; nothing was removed\nhint: to drain and delete them, run the same command with --prune",
                gone.describe()
            ));
        }
        let timeout = context.options.wait_timeout.as_secs();
        // A machine that is gone never confirms its pods' deletion: after 30 s of waiting for a
        // pod that is being deleted, drain takes it as gone.
        let mut done = Vec::new();
        for name in gone.names() {
            let has_node = gone.nodes.contains(&name);
            if has_node {
                root(
                    context,
                    node,
                    &format!(
                        "{KUBECTL} drain {} --ignore-daemonsets --delete-emptydir-data --skip-wait-for-delete-timeout=30 --timeout={timeout}s",
                        quote(&name)
                    ),
                )
                .map_err(|reason| format!("draining Node {name}: {reason}; nothing else was removed for it"))?;
                done.push(format!("Node {name} drained"));
            }
            for member in gone.members.iter().filter(|m| member_label(m) == name) {
                let Some(etcd_node) = etcd_node else { break };
                done.push(remove_member(context, etcd_node, member)?);
            }
            if has_node {
                root(
                    context,
                    node,
                    &format!("{KUBECTL} delete node {} --wait=true", quote(&name)),
                )
                .map_err(|reason| format!("deleting Node {name}: {reason}"))?;
                done.push(format!("Node {name} deleted"));
            }
        }
        Ok(format!(
            "{}; the removed machines were not contacted (kbundle reset cleans one up)",
            done.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned() -> Vec<Planned> {
        ["cp1", "cp2"]
            .iter()
            .enumerate()
            .map(|(i, name)| Planned {
                name: (*name).to_owned(),
                addresses: vec![format!("198.51.100.{}", i + 11)],
                etcd: true,
            })
            .chain(std::iter::once(Planned {
                name: "worker1".into(),
                addresses: vec!["198.51.100.21".into()],
                etcd: false,
            }))
            .collect()
    }

    const MEMBERS: &str = r#"{"header":{"cluster_id":"1"},"members":[
        {"ID":"111","name":"cp1","peerURLs":["https://198.51.100.11:2380"],"clientURLs":["https://198.51.100.11:2379"]},
        {"ID":"222","name":"cp2","peerURLs":["https://198.51.100.12:2380"],"clientURLs":["https://198.51.100.12:2379"]},
        {"ID":"333","name":"cp3","peerURLs":["https://198.51.100.13:2380"],"clientURLs":["https://198.51.100.13:2379"]},
        {"ID":"444","peerURLs":["https://198.51.100.12:2380"]}]}"#;

    #[test]
    fn only_what_kbundle_planned_and_the_bundle_lost_is_gone() {
        let members = parse_members(MEMBERS).unwrap();
        // worker9 joined with join/ (no kbundle field manager): never pruned. The nameless
        // member with cp2's peer address is cp2's (added, not started): kept.
        let nodes = "cp1 kbundle kubelet\ncp2 kubelet kbundle\ncp3 kubelet kube-controller-manager kbundle\nworker1 kbundle\nworker9 kubelet kube-controller-manager\n";
        let gone = gone(&planned(), nodes, &members);
        assert_eq!(gone.nodes, vec!["cp3".to_owned()]);
        assert_eq!(
            gone.members
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>(),
            vec!["333"]
        );
        assert_eq!(gone.describe(), "Node cp3, etcd member cp3 (id 333)");
        assert_eq!(gone.names().into_iter().collect::<Vec<_>>(), vec!["cp3"]);
    }

    #[test]
    fn an_ipv6_peer_url_matches_its_node() {
        assert_eq!(url_host("https://[2001:db8::1]:2380"), "2001:db8::1");
        assert_eq!(url_host("https://198.51.100.1:2380"), "198.51.100.1");
    }

    #[test]
    fn quorum_is_a_majority_of_the_members_left() {
        assert_eq!(quorum(1), 1);
        assert_eq!(quorum(2), 2);
        assert_eq!(quorum(3), 2);
        assert_eq!(quorum(4), 3);
    }

    #[test]
    fn a_member_list_that_is_not_etcd_s_is_refused() {
        assert!(parse_members("not json").unwrap_err().contains("not JSON"));
        assert!(parse_members("{}").unwrap_err().contains("no members"));
    }
}
