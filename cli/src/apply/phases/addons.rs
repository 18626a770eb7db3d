//! Addons: applied in file order through the first control-plane node, with super-admin.conf
//! (admin.conf gets its rights from an addon).

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
        apply(context, node, NODES_ADDON)?;
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
