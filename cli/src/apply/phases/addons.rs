//! Addons: applied in file order through the first control-plane node, with super-admin.conf
//! (admin.conf gets its rights from an addon). The Node objects come first, and are applied so
//! that a re-apply leaves alone what others manage: their labels and pod ranges by server-side
//! apply, their taints one by one with `kubectl taint` (a Node's taints are one atomic list, so
//! applying it would drop the taints administrators and the node lifecycle controller added).
//! A bootstrap token Secret that has expired is left out: kube-controller-manager's token
//! cleaner deletes expired tokens, so applying it would bring back, until the next clean-up, a
//! Secret the API server refuses anyway.

use kbundle_core::bundle::token::{TOKEN_SECRET_TYPE, WithoutExpired, without_expired_tokens};

use super::{first_control_plane, root, root_with_input};
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

pub(crate) struct Addons;

/// Node objects with their planned pod ranges, before kube-controller-manager starts.
pub(crate) struct NodeRanges;

const NODES_ADDON: &str = "addons/00-nodes.yaml";

fn apply(context: &Context, node: &NodeTarget, addon: &str) -> Result<(), String> {
    let command = format!(
        "kubectl --kubeconfig /etc/kubernetes/super-admin.conf apply --server-side --force-conflicts -f {}/{}",
        quote(&context.staging),
        quote(addon)
    );
    root(context, node, &command)
        .map(|_| ())
        .map_err(|reason| format!("{addon}: {reason}"))
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

/// The bundle's Node objects, each without its taints, and the taints apart.
struct NodeObjects {
    objects: Vec<serde_json::Value>,
    /// `(node, key[=value]:Effect)`, as `kubectl taint` takes them.
    taints: Vec<(String, String)>,
}

/// The Node objects as `addons/00-nodes.yaml` holds them, derived again from the bundle's
/// cluster.yaml by the same renderer.
fn node_objects(context: &Context) -> Result<NodeObjects, String> {
    let text = context
        .bundle
        .entry(kbundle_core::bundle::layout::CLUSTER_YAML)
        .map(|entry| String::from_utf8_lossy(&entry.contents).into_owned())
        .ok_or("the bundle has no cluster.yaml")?;
    let config = kbundle_core::config::ClusterConfig::from_yaml(&text)
        .map_err(|_| "the bundle's cluster.yaml does not validate")?
        .config;
    let plan = kbundle_core::plan::NetworkPlan::new(&config);
    let mut taints = Vec::new();
    let objects = kbundle_core::render::addons::nodes(&config, &plan)
        .into_iter()
        .map(|mut node| {
            let name = node["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if let Some(spec) = node["spec"].as_object_mut() {
                for taint in spec
                    .remove("taints")
                    .and_then(|t| t.as_array().cloned())
                    .unwrap_or_default()
                {
                    let key = taint["key"].as_str().unwrap_or_default();
                    let effect = taint["effect"].as_str().unwrap_or_default();
                    let text = match taint["value"].as_str() {
                        Some(value) => format!("{key}={value}:{effect}"),
                        None => format!("{key}:{effect}"),
                    };
                    taints.push((name.clone(), text));
                }
            }
            node
        })
        .collect();
    Ok(NodeObjects { objects, taints })
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
        let NodeObjects { objects, taints } = node_objects(context)?;
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects});
        let kubectl = "kubectl --kubeconfig /etc/kubernetes/super-admin.conf";
        let mut command = format!(
            "{kubectl} apply --server-side --force-conflicts --field-manager=kbundle -f - <<'KBUNDLE_NODES'\n{list}\nKBUNDLE_NODES\n"
        );
        for (name, taint) in &taints {
            command.push_str(&format!(
                "{kubectl} taint node {} {} --overwrite >/dev/null\n",
                quote(name),
                quote(taint)
            ));
        }
        root(context, node, &command).map_err(|reason| format!("{NODES_ADDON}: {reason}"))?;
        Ok("Node objects carry their planned pod ranges".into())
    }
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
        for addon in &addons {
            match without_expired(context, addon, now) {
                None => apply(context, node, addon)?,
                Some(filtered) => {
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
    }
}
