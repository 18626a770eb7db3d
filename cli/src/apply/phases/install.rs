//! Install and start: the node's own `install.sh` (idempotent: it changes only what differs
//! and restarts only what changed), then containerd and the kubelet enabled and running; and the
//! two later runs of it, once the API is up: kube-controller-manager released, kube-vip's
//! bootstrap rights given back.

use kbundle_core::render::control_plane::KUBE_VIP_MANIFEST;

use super::root;
use crate::apply::rolling::{Component, Rolling};
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

    /// Every file, and the static pods but kube-controller-manager's while it is held.
    fn rolling(&self, context: &Context) -> Option<Rolling> {
        Some(Rolling {
            pods: if holds_controller_manager(context) {
                &[Component::Etcd, Component::ApiServer, Component::Scheduler]
            } else {
                &Component::ALL
            },
            other_files: true,
        })
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        if context.facts(&node.name).up_to_date {
            return Ok("already installed: nothing changed".into());
        }
        let hold = if holds_controller_manager(context) {
            "KBUNDLE_HOLD=kube-controller-manager.yaml "
        } else {
            ""
        };
        // The journal says which cluster and bundle the node now runs (refusing other clusters).
        let command = format!(
            "{hold}sh {}/install.sh && printf '%s' {} > {}",
            quote(&context.staging),
            quote(&super::lock::journal(context)),
            super::lock::JOURNAL
        );
        let output = root(context, node, &command)?;
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

/// kube-controller-manager waits until the Node objects carry their planned pod ranges (phase
/// `node-ranges`); otherwise its allocator could hand out ranges first.
fn holds_controller_manager(context: &Context) -> bool {
    !context
        .options
        .skip_phases
        .iter()
        .any(|skip| skip == "node-ranges")
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

/// Places the held kube-controller-manager manifest once the pod ranges are set.
pub(crate) struct ReleaseControllerManager;

impl Phase for ReleaseControllerManager {
    fn name(&self) -> &'static str {
        "controller-manager"
    }

    fn title(&self) -> &'static str {
        "Start kube-controller-manager now that every node has its pod range"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        vec![
            (0..context.nodes.len())
                .filter(|index| context.nodes[*index].has_role("control-plane"))
                .collect(),
        ]
    }

    /// Only kube-controller-manager's manifest: the rest is in place since `install`.
    fn rolling(&self, context: &Context) -> Option<Rolling> {
        holds_controller_manager(context).then_some(Rolling {
            pods: &[Component::ControllerManager],
            other_files: false,
        })
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        if context.facts(&node.name).up_to_date {
            return Ok("already in place".into());
        }
        root(
            context,
            node,
            &format!("sh {}/install.sh", quote(&context.staging)),
        )?;
        Ok("kube-controller-manager placed".into())
    }
}

/// kube-vip on the first control-plane node starts with super-admin.conf, since admin.conf gets
/// its rights from a ClusterRoleBinding (an addon) that needs the API server up; once the
/// addons are in, it goes on with admin.conf, so super-admin.conf is not held by a running pod.
pub(crate) struct KubeVipRights;

impl Phase for KubeVipRights {
    fn name(&self) -> &'static str {
        "kube-vip"
    }

    fn title(&self) -> &'static str {
        "Move kube-vip from super-admin.conf to admin.conf now that its rights exist"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        let Some(first) = context.first_control_plane() else {
            return Vec::new();
        };
        let has_kube_vip = context
            .bundle
            .node_files(&context.nodes[first].name)
            .iter()
            .any(|file| file.path == KUBE_VIP_MANIFEST);
        if has_kube_vip {
            vec![vec![first]]
        } else {
            Vec::new()
        }
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let output = root(
            context,
            node,
            &format!(
                "if grep -q 'path: /etc/kubernetes/super-admin.conf' {KUBE_VIP_MANIFEST}; then \
                 KBUNDLE_RBAC_READY=1 sh {}/install.sh >/dev/null && echo moved; fi",
                quote(&context.staging)
            ),
        )?;
        Ok(if output.stdout.contains("moved") {
            "kube-vip now uses admin.conf".into()
        } else {
            "kube-vip already uses admin.conf".into()
        })
    }
}
