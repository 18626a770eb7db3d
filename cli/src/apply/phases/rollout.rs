//! Rollout: before anything is installed, which control-plane and etcd nodes hold files that
//! their install would change under a running control-plane component (manifests,
//! certificates, the controllers' kubeconfigs: `rolling::affects_control_plane`). The install
//! phases run such nodes one at a time, each waited for until healthy again. One command per
//! node, compared here with the bundle's checksums; a node already up to date is not asked.

use super::root;
use crate::apply::rolling::{changed_files, installed_sums_command};
use crate::apply::{Context, NodeTarget, Outcome, Phase};

pub(crate) struct Rollout;

impl Phase for Rollout {
    fn name(&self) -> &'static str {
        "rollout"
    }

    fn title(&self) -> &'static str {
        "Find the control-plane nodes whose install restarts a component (installed one at a time)"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        vec![
            (0..context.nodes.len())
                .filter(|index| {
                    let node = &context.nodes[*index];
                    (node.has_role("control-plane") || node.has_role("etcd"))
                        && !context.facts(&node.name).up_to_date
                })
                .collect(),
        ]
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let Some(command) = installed_sums_command(context, node) else {
            return Ok("no control-plane files".into());
        };
        let listing = root(context, node, &command)?;
        let changes = changed_files(context, node, &listing.stdout);
        let detail = if changes.is_empty() {
            "no running control-plane component is affected".to_owned()
        } else {
            format!(
                "installed alone and waited for: changes {}",
                changes.join(", ")
            )
        };
        context.learn(&node.name, |facts| facts.control_plane_changes = changes);
        Ok(detail)
    }
}
