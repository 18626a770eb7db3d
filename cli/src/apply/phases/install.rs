//! Install and start: the node's own `install.sh` (idempotent: it changes only what differs
//! and restarts only what changed), then containerd and the kubelet enabled and running.

use super::root;
use crate::apply::{Context, NodeTarget, Outcome, Phase, by_role};
use crate::ssh::quote;

pub(crate) struct Install;

impl Phase for Install {
    fn name(&self) -> &'static str {
        "install"
    }

    fn title(&self) -> &'static str {
        "Install the files and restart what changed"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        by_role(context)
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let output = root(
            context,
            node,
            &format!("sh {}/install.sh", quote(&context.staging)),
        )?;
        let summary = output
            .stdout
            .lines()
            .rev()
            .find(|line| line.contains("done:") || line.contains("already installed"))
            .unwrap_or("installed")
            .split("]: ")
            .last()
            .unwrap_or("installed")
            .to_owned();
        Ok(summary)
    }
}

pub(crate) struct Start;

impl Phase for Start {
    fn name(&self) -> &'static str {
        "start"
    }

    fn title(&self) -> &'static str {
        "Start containerd and the kubelet"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        by_role(context)
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        root(context, node, "systemctl enable --now containerd kubelet")?;
        Ok("containerd and kubelet enabled and started".into())
    }
}
