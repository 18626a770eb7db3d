//! Addons: applied in file order through the first control-plane node, with super-admin.conf
//! (admin.conf gets its rights from an addon). The Node objects come first, and are applied so
//! that a re-apply leaves alone what others manage: their labels and pod ranges by server-side
//! apply, their taints one by one with `kubectl taint` (a Node's taints are one atomic list, so
//! applying it would drop the taints administrators and the node lifecycle controller added).

use super::{first_control_plane, root};
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
        for addon in &addons {
            apply(context, node, addon)?;
        }
        Ok(format!("{} addons applied", addons.len()))
    }
}
