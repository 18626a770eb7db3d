//! Addons: applied in file order through the first control-plane node, with super-admin.conf
//! (admin.conf gets its rights from an addon), by one kubectl for all the files. The Node
//! objects come first, and are applied so that a re-apply leaves alone what others manage: their
//! labels and pod ranges by server-side apply, their taints one by one with `kubectl taint` (a
//! Node's taints are one atomic list, so applying it would drop the taints administrators and
//! the node lifecycle controller added).
//! The API server refuses to change a Node's pod range once set, so before anything is applied
//! the Nodes' current ranges are compared with the bundle's, and a bundle that would move one is
//! refused with the fix (generate it again with `--from`).
//!
//! A bootstrap token Secret that has expired is left out: kube-controller-manager's token
//! cleaner deletes expired tokens, so applying it would bring back, until the next clean-up, a
//! Secret the API server refuses anyway.

use ipnetwork::IpNetwork;
use kbundle_core::bundle::token::{TOKEN_SECRET_TYPE, WithoutExpired, without_expired_tokens};
use kbundle_core::plan::PreviousRanges;
use kbundle_core::render::addons::NodeObjects;

use super::{first_control_plane, root, root_with_input};
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

pub(crate) struct Addons;

/// Node objects with their planned pod ranges, before kube-controller-manager starts.
pub(crate) struct NodeRanges;

/// On a running cluster, the Node objects of nodes that are not registered yet, with their
/// planned ranges, before their kubelets start: kube-controller-manager runs and would give a
/// registering node a range of its own choosing, which no later phase could change.
pub(crate) struct NewNodeObjects;

const NODES_ADDON: &str = "addons/00-nodes.yaml";

/// Applies the staged `addons` in their order with one kubectl: one process, one discovery of
/// the API, instead of one per file (each costs about half a second on a busy control plane).
/// kubectl names the file of any object the API server refuses.
fn apply(context: &Context, node: &NodeTarget, addons: &[&str]) -> Result<(), String> {
    if addons.is_empty() {
        return Ok(());
    }
    let files: Vec<String> = addons
        .iter()
        .map(|addon| format!("-f {}/{}", quote(&context.staging), quote(addon)))
        .collect();
    let command = format!(
        "kubectl --kubeconfig /etc/kubernetes/super-admin.conf apply --server-side --force-conflicts {}",
        files.join(" ")
    );
    root(context, node, &command)
        .map(|_| ())
        .map_err(|reason| format!("{}: {reason}", addons.join(", ")))
}

/// `addon` without its expired bootstrap token Secrets, when it holds any at `now`; `None` when
/// the staged file is applied as it is.
fn without_expired(context: &Context, addon: &str, now: i64) -> Option<WithoutExpired> {
    let entry = context.bundle.entry(addon)?;
    let text = String::from_utf8_lossy(&entry.contents);
    if !text.contains(TOKEN_SECRET_TYPE) {
        return None;
    }
    let filtered = without_expired_tokens(&text, now);
    (!filtered.expired.is_empty()).then_some(filtered)
}

/// Applies `documents` (what is left of `addon`) from standard input.
fn apply_documents(
    context: &Context,
    node: &NodeTarget,
    addon: &str,
    documents: &str,
) -> Result<(), String> {
    if documents.trim().is_empty() {
        return Ok(());
    }
    let command = "kubectl --kubeconfig /etc/kubernetes/super-admin.conf apply --server-side --force-conflicts -f -";
    root_with_input(context, node, command, documents.as_bytes())
        .map(|_| ())
        .map_err(|reason| format!("{addon}: {reason}"))
}

/// The Node objects as `addons/00-nodes.yaml` holds them, derived again from the bundle's
/// cluster.yaml by the same renderer, with the pod ranges the bundle recorded in plan.json
/// (which may have been kept from a previous bundle: cluster.yaml alone cannot say).
fn node_objects(context: &Context, ranges: &PreviousRanges) -> Result<NodeObjects, String> {
    let text = context
        .bundle
        .entry(kbundle_core::bundle::layout::CLUSTER_YAML)
        .map(|entry| String::from_utf8_lossy(&entry.contents).into_owned())
        .ok_or("the bundle has no cluster.yaml")?;
    let config = kbundle_core::config::ClusterConfig::from_bundle_yaml(&text)
        .map_err(|_| "the bundle's cluster.yaml does not validate")?
        .config;
    // Every node of the bundle is in `ranges`, so the plan takes them all as they are.
    let plan = kbundle_core::plan::NetworkPlan::with_previous(&config, ranges)
        .map_err(|_| "the bundle's plan.json does not fit its cluster.yaml")?;
    Ok(kbundle_core::render::addons::node_objects(&config, &plan))
}

impl Phase for NodeRanges {
    fn name(&self) -> &'static str {
        "node-ranges"
    }

    fn title(&self) -> &'static str {
        "Give every Node its planned pod range"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        first_control_plane(context)
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        give_ranges(context, node, None)?;
        Ok("Node objects carry their planned pod ranges".into())
    }
}

impl Phase for NewNodeObjects {
    fn name(&self) -> &'static str {
        "new-nodes"
    }

    fn title(&self) -> &'static str {
        "On a running cluster, create the Nodes that join with their planned pod ranges"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        first_control_plane(context)
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        // Before the first install there is no API server (nor super-admin.conf): node-ranges
        // gives every range while kube-controller-manager is held back.
        // curl, as wait-apiserver asks: a kubectl costs a second on a busy control plane.
        let probe = format!(
            "[ -f /etc/kubernetes/super-admin.conf ] && curl -fsS --max-time 5 --cacert /etc/kubernetes/pki/ca.crt {}/readyz 2>/dev/null | grep -q ok && echo up || true",
            quote(&context.bundle.manifest.control_plane_endpoint)
        );
        if !root(context, node, &probe)?.stdout.contains("up") {
            return Ok("the API server is not up yet: node-ranges gives the ranges".into());
        }
        let listing = root(context, node, &format!("{KUBECTL} {RANGES_QUERY}"))
            .map_err(|reason| format!("listing the Nodes: {reason}"))?;
        let registered: Vec<&str> = listing
            .stdout
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        let new: Vec<String> = context
            .bundle
            .manifest
            .nodes
            .iter()
            .map(|planned| planned.name.clone())
            .filter(|name| !registered.contains(&name.as_str()))
            .collect();
        if new.is_empty() {
            return Ok("no new node".into());
        }
        give_ranges(context, node, Some(&new))?;
        Ok(format!("created with their pod ranges: {}", new.join(", ")))
    }
}

/// kubectl with the rights it needs before admin.conf has its own.
const KUBECTL: &str = "kubectl --kubeconfig /etc/kubernetes/super-admin.conf";

/// Gives the bundle's Node objects (those named in `only`, or all) their labels, pod ranges
/// and taints, after checking no range would move.
fn give_ranges(
    context: &Context,
    node: &NodeTarget,
    only: Option<&[String]>,
) -> Result<(), String> {
    let ranges = context.bundle.pod_ranges()?;
    let NodeObjects { objects, taints } = node_objects(context, &ranges)?;
    let wanted = |name: &str| only.is_none_or(|names| names.iter().any(|n| n == name));
    let objects: Vec<serde_json::Value> = objects
        .into_iter()
        .filter(|object| wanted(object["metadata"]["name"].as_str().unwrap_or_default()))
        .collect();
    let kubectl = KUBECTL;
    // Nodes registered by their kubelets have no range until this phase gives them one;
    // a Node with a range has it for good.
    let listing = root(context, node, &format!("{kubectl} {RANGES_QUERY}"))
        .map_err(|reason| format!("listing the Nodes' pod ranges: {reason}"))?;
    let conflicts = range_conflicts(&ranges, &listing.stdout);
    if !conflicts.is_empty() {
        return Err(format!(
            "{}; no Node was changed\nhint: the API server cannot change a Node's pod range: \
             generate this bundle again with `kbundle generate --from OLD_BUNDLE.zip`, \
             OLD_BUNDLE.zip being the bundle applied last to this cluster",
            conflicts.join("; ")
        ));
    }
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let mut command = format!(
        "{kubectl} apply --server-side --force-conflicts --field-manager=kbundle -f - <<'KBUNDLE_NODES'\n{list}\nKBUNDLE_NODES\n"
    );
    for (name, taint) in taints.iter().filter(|(name, _)| wanted(name)) {
        command.push_str(&format!(
            "{kubectl} taint node {} {} --overwrite >/dev/null\n",
            quote(name),
            quote(taint)
        ));
    }
    root(context, node, &command).map_err(|reason| format!("{NODES_ADDON}: {reason}"))?;
    Ok(())
}

/// Each Node's name and pod ranges (none yet: only the name), a line each.
const RANGES_QUERY: &str = r#"get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.podCIDRs[*]}{"\n"}{end}'"#;

/// Why the bundle's ranges (`planned`, by node) cannot be given to the Nodes as `listing`
/// ([`RANGES_QUERY`]'s output) shows them: a Node of the bundle that already has other ranges
/// (the API server refuses to change them), or a Node outside the bundle (one that joined with
/// `join/`) holding a range the bundle plans for another node.
fn range_conflicts(planned: &PreviousRanges, listing: &str) -> Vec<String> {
    let text = |ranges: &[IpNetwork]| {
        ranges
            .iter()
            .map(|range| kbundle_core::net::canonical(*range))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut conflicts = Vec::new();
    for line in listing.lines() {
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else {
            continue;
        };
        let current: Vec<IpNetwork> = words.filter_map(|word| word.parse().ok()).collect();
        if current.is_empty() {
            continue;
        }
        match planned.get(name) {
            Some(ranges) if *ranges != current => conflicts.push(format!(
                "node {name} has the pod range {} and this bundle plans {} for it",
                text(&current),
                text(ranges)
            )),
            Some(_) => {}
            None => {
                for (other, ranges) in planned {
                    let shared: Vec<IpNetwork> = ranges
                        .iter()
                        .filter(|range| {
                            current
                                .iter()
                                .any(|held| kbundle_core::net::overlaps(**range, *held))
                        })
                        .copied()
                        .collect();
                    if !shared.is_empty() {
                        conflicts.push(format!(
                            "node {name}, which is not in this bundle, has the pod range {} that \
                             this bundle plans for node {other}",
                            text(&current)
                        ));
                    }
                }
            }
        }
    }
    conflicts
}

impl Phase for Addons {
    fn name(&self) -> &'static str {
        "addons"
    }

    fn title(&self) -> &'static str {
        "Apply the addons"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        first_control_plane(context)
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let addons: Vec<&str> = context
            .bundle
            .manifest
            .files
            .iter()
            .map(|file| file.path.as_str())
            .filter(|path| path.starts_with("addons/") && *path != NODES_ADDON)
            .collect();
        let now = crate::clock::unix_now();
        let mut notes = Vec::new();
        // The files as staged go together; one holding an expired token goes alone, filtered,
        // in its place in the order.
        let mut together: Vec<&str> = Vec::new();
        for addon in &addons {
            match without_expired(context, addon, now) {
                None => together.push(addon),
                Some(filtered) => {
                    apply(context, node, &std::mem::take(&mut together))?;
                    apply_documents(context, node, addon, &filtered.documents)?;
                    for token in &filtered.expired {
                        notes.push(format!(
                            "{addon}: bootstrap token {} expired at {}, not applied (`kbundle join-token` mints a fresh one for a node that joins)",
                            token.id,
                            token.expiration.as_deref().unwrap_or("?")
                        ));
                    }
                }
            }
        }
        apply(context, node, &together)?;
        let mut detail = format!("{} addons applied", addons.len());
        for note in notes {
            detail.push('\n');
            detail.push_str(&note);
        }
        Ok(detail)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kbundle_core::bundle::Bundle;
    use kbundle_core::config::{ExampleKind, RawClusterConfig, example_yaml};
    use kbundle_core::pki::PkiInputs;

    use super::*;
    use crate::apply::ApplyOptions;
    use crate::ssh::Become;
    use crate::ssh::fake::{Calls, FakeRemote};

    /// A context on the example's first control-plane node, for a bundle issued at `issued_at`
    /// (its bootstrap token lives 24 hours from then).
    fn context(issued_at: i64) -> (Context, Calls) {
        let raw = RawClusterConfig::from_yaml(&example_yaml(ExampleKind::Basic)).unwrap();
        let inputs = PkiInputs {
            seed: [4; 32],
            issued_at,
            existing_cas: Vec::new(),
        };
        let bundle = Bundle::generate(&raw, &inputs).unwrap();
        let node = bundle.manifest.nodes[0].clone();
        let remote = FakeRemote::node();
        let calls = remote.calls();
        let context = Context::new(
            bundle,
            vec![NodeTarget {
                name: node.name,
                addresses: node.addresses,
                roles: node.roles,
                remote: Box::new(remote),
                become_root: Become::Sudo,
            }],
            ApplyOptions {
                concurrency: 1,
                command_timeout: Duration::from_secs(5),
                wait_timeout: Duration::from_secs(5),
                ignore_preflight: Vec::new(),
                skip_phases: Vec::new(),
                force: false,
                break_lock: false,
                wipe_data: false,
                prune: false,
            },
        );
        (context, calls)
    }

    #[test]
    fn an_expired_bootstrap_token_is_left_out_and_cluster_info_still_applied() {
        // See: issue #14, item 6. Two days old: certificates valid, the token expired, and
        // the token cleaner has deleted its Secret; applying it again would only flap.
        let (context, calls) = context(crate::clock::unix_now() - 2 * 24 * 3600);
        let detail = Addons.run_on(&context, &context.nodes[0]).unwrap();
        assert!(
            detail.contains("addons/20-bootstrap.yaml: bootstrap token ")
                && detail.contains(", not applied (`kbundle join-token`"),
            "{detail}"
        );
        let calls = calls.lock().unwrap();
        let commands: Vec<&str> = calls.iter().map(|(command, _)| command.as_str()).collect();
        assert!(
            !commands.iter().any(|c| c.contains("20-bootstrap.yaml")),
            "the staged file holding the expired token is not applied: {commands:#?}"
        );
        let from_stdin: Vec<&Vec<u8>> = calls
            .iter()
            .filter(|(command, _)| command.contains("apply --server-side --force-conflicts -f -"))
            .map(|(_, stdin)| stdin)
            .collect();
        assert_eq!(from_stdin.len(), 1, "{commands:#?}");
        let stdin = String::from_utf8(from_stdin[0].clone()).unwrap();
        assert!(stdin.contains("name: cluster-info"), "{stdin}");
        assert!(!stdin.contains("bootstrap.kubernetes.io/token"), "{stdin}");
        // The other addons go as before, from their staged files.
        assert!(commands.iter().any(|c| c.contains("30-kube-proxy.yaml")));
    }

    #[test]
    fn a_live_bootstrap_token_is_applied_from_the_staged_file() {
        let (context, calls) = context(crate::clock::unix_now() - 3600);
        let detail = Addons.run_on(&context, &context.nodes[0]).unwrap();
        assert!(!detail.contains("not applied"), "{detail}");
        let calls = calls.lock().unwrap();
        assert!(
            calls
                .iter()
                .any(|(command, _)| command.contains("20-bootstrap.yaml")),
            "{calls:?}"
        );
        assert!(calls.iter().all(|(command, _)| !command.contains("-f -")));
        // Every addon but the Nodes by one kubectl, in file order.
        let applies: Vec<&str> = calls
            .iter()
            .map(|(command, _)| command.as_str())
            .filter(|command| command.contains(" apply "))
            .collect();
        assert_eq!(applies.len(), 1, "{applies:#?}");
        let order: Vec<usize> = ["10-rbac", "20-bootstrap", "30-kube-proxy", "40-coredns"]
            .iter()
            .map(|name| applies[0].find(name).expect(name))
            .collect();
        assert!(order.is_sorted(), "{}", applies[0]);
        assert!(!applies[0].contains("00-nodes"), "{}", applies[0]);
    }

    #[test]
    fn a_file_with_an_expired_token_is_applied_alone_in_its_place() {
        let (context, calls) = context(crate::clock::unix_now() - 2 * 24 * 3600);
        Addons.run_on(&context, &context.nodes[0]).unwrap();
        let calls = calls.lock().unwrap();
        let applies: Vec<&str> = calls
            .iter()
            .map(|(command, _)| command.as_str())
            .filter(|command| command.contains(" apply "))
            .collect();
        assert_eq!(applies.len(), 3, "{applies:#?}");
        assert!(applies[0].contains("10-rbac") && !applies[0].contains("30-kube-proxy"));
        assert!(applies[1].contains("-f -"), "{}", applies[1]);
        assert!(applies[2].contains("30-kube-proxy") && applies[2].contains("40-coredns"));
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;

    fn ranges(pairs: &[(&str, &str)]) -> PreviousRanges {
        pairs
            .iter()
            .map(|(name, cidrs)| {
                let cidrs = cidrs.split(',').map(|c| c.parse().unwrap()).collect();
                ((*name).to_owned(), cidrs)
            })
            .collect()
    }

    #[test]
    fn a_node_whose_range_would_move_is_named_with_both_ranges() {
        let planned = ranges(&[
            ("cp1", "10.244.7.0/24,fd00:10:244:7::/64"),
            ("w1", "10.244.9.0/24,fd00:10:244:9::/64"),
            ("w2", "10.244.3.0/24,fd00:10:244:3::/64"),
        ]);
        // cp1 keeps its range, w1 registered without one yet, w2 would move.
        let listing =
            "cp1 10.244.7.0/24 fd00:10:244:7::/64\nw1 \nw2 10.244.2.0/24 fd00:10:244:2::/64\n";
        assert_eq!(
            range_conflicts(&planned, listing),
            [
                "node w2 has the pod range 10.244.2.0/24,fd00:10:244:2::/64 and this bundle plans \
              10.244.3.0/24,fd00:10:244:3::/64 for it"
            ]
        );
        let unchanged =
            "cp1 10.244.7.0/24 fd00:10:244:7::/64\nw1 10.244.9.0/24 fd00:10:244:9::/64\n";
        assert!(range_conflicts(&planned, unchanged).is_empty());
    }

    #[test]
    fn a_joined_node_holding_a_planned_range_is_named() {
        let planned = ranges(&[("cp1", "10.244.0.0/24"), ("w5", "10.244.1.0/24")]);
        let listing = "cp1 10.244.0.0/24\nworker9 10.244.1.0/24\nworker10 10.244.2.0/24\n";
        assert_eq!(
            range_conflicts(&planned, listing),
            [
                "node worker9, which is not in this bundle, has the pod range 10.244.1.0/24 that \
              this bundle plans for node w5"
            ]
        );
    }
}
