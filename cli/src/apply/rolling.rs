//! Rolling restarts of the control plane: which node files affect a control-plane component,
//! how a phase that may restart them is grouped (control-plane and etcd nodes whose change
//! restarts one go one at a time), and the health gate each of them passes before the next
//! starts (every component that was healthy before its install is healthy again, a restarted
//! one as a new process).
//!
//! Installing a changed etcd or kube-apiserver manifest on every control-plane node at once
//! restarts every member and every API server together: etcd loses quorum and the API is gone
//! until they are all back. One node at a time, each waited for, keeps a majority of etcd
//! members and all but one API server serving throughout.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kbundle_core::bundle::sha256_hex;

use super::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

const PKI: &str = "/etc/kubernetes/pki";
/// kube-apiserver's `--secure-port` as core renders it (its `API_PORT`).
const API_PORT: u16 = 6443;
/// How long a changed component may keep its old process before the gate takes the kubelet's
/// word that it will not restart it: the kubelet recreates a static pod only when its pod spec
/// changed (a change of a comment alone keeps the pod), and looks at the folder every 20 s.
const RESTART_GRACE: Duration = Duration::from_secs(60);
/// Between two looks of the gate.
const POLL: Duration = Duration::from_secs(1);

/// A control-plane component run as a static pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Component {
    Etcd,
    ApiServer,
    ControllerManager,
    Scheduler,
}

impl Component {
    pub(crate) const ALL: [Self; 4] = [
        Self::Etcd,
        Self::ApiServer,
        Self::ControllerManager,
        Self::Scheduler,
    ];

    /// The static pod's name (its manifest is `/etc/kubernetes/manifests/<name>.yaml`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Etcd => "etcd",
            Self::ApiServer => "kube-apiserver",
            Self::ControllerManager => "kube-controller-manager",
            Self::Scheduler => "kube-scheduler",
        }
    }

    pub(crate) fn manifest(self) -> String {
        format!("/etc/kubernetes/manifests/{}.yaml", self.name())
    }

    /// The process name as the kernel keeps it (`comm`: at most 15 bytes), for `pgrep -x`.
    fn comm(self) -> &'static str {
        let name = self.name();
        &name[..name.len().min(15)]
    }

    /// A shell check that succeeds when the component on `node` is healthy. etcd's `/health`
    /// is true only when the member has a leader and a quorum read succeeds (so it says the
    /// cluster has quorum too); the API server's `/readyz` is what load balancers ask. The two
    /// controllers serve `/healthz` to anyone on loopback with a certificate of their own
    /// making, which nothing here can verify (no credentials are sent).
    fn check(self, node: &NodeTarget) -> String {
        let address = node
            .addresses
            .first()
            .map(|address| match address.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
                _ => address.clone(),
            })
            .unwrap_or_else(|| "127.0.0.1".into());
        match self {
            Self::Etcd => format!(
                "curl -fsS --max-time 3 --cacert {PKI}/etcd/ca.crt --cert {PKI}/etcd/healthcheck-client.crt --key {PKI}/etcd/healthcheck-client.key {} 2>/dev/null | grep -q '\"health\":\"true\"'",
                quote(&format!("https://{address}:2379/health"))
            ),
            Self::ApiServer => format!(
                "curl -fsS --max-time 3 --cacert {PKI}/ca.crt {} 2>/dev/null | grep -qx ok",
                quote(&format!("https://{address}:{API_PORT}/readyz"))
            ),
            Self::ControllerManager => {
                "curl -fsSk --max-time 3 https://127.0.0.1:10257/healthz 2>/dev/null | grep -qx ok"
                    .into()
            }
            Self::Scheduler => {
                "curl -fsSk --max-time 3 https://127.0.0.1:10259/healthz 2>/dev/null | grep -qx ok"
                    .into()
            }
        }
    }
}

/// What a phase that may restart control-plane components places: the static pods whose
/// manifests it installs, and whether it installs the other files they read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rolling {
    pub(crate) pods: &'static [Component],
    pub(crate) other_files: bool,
}

/// Whether a change of this node file affects a running control-plane component: the
/// manifests of etcd, kube-apiserver, kube-controller-manager and kube-scheduler (a changed
/// manifest makes the kubelet recreate the pod), and what they read from the node: every
/// certificate and key under `/etc/kubernetes/pki/` (mounted by all four; the API server and
/// etcd pick up new certificates without a restart, which is just as able to break them) and
/// the controllers' kubeconfigs. The kubelet's own files, kube-vip's manifest (adapted on the
/// node, and a failover of its own) and the admin kubeconfigs are not.
pub(crate) fn affects_control_plane(path: &str) -> bool {
    Component::ALL
        .iter()
        .any(|component| component.manifest() == path)
        || path.starts_with(&format!("{PKI}/"))
        || path == "/etc/kubernetes/controller-manager.conf"
        || path == "/etc/kubernetes/scheduler.conf"
}

/// The shell command that prints `<sha256> <path>` for every file of `node` that affects the
/// control plane and exists on the node (a file not there yet is a first install: nothing runs
/// that it could restart).
pub(crate) fn installed_sums_command(context: &Context, node: &NodeTarget) -> Option<String> {
    let paths: Vec<String> = context
        .bundle
        .node_files(&node.name)
        .iter()
        .filter(|file| affects_control_plane(&file.path))
        .map(|file| quote(&file.path))
        .collect();
    if paths.is_empty() {
        return None;
    }
    Some(format!(
        "for f in {}; do if [ -f \"$f\" ]; then printf '%s %s\\n' \"$(sha256sum < \"$f\" | cut -d' ' -f1)\" \"$f\"; fi; done",
        paths.join(" ")
    ))
}

/// The files of `node` whose installed contents (`listing`, from [`installed_sums_command`])
/// differ from the bundle's: what its install would change under a running control plane.
pub(crate) fn changed_files(context: &Context, node: &NodeTarget, listing: &str) -> Vec<String> {
    let installed: BTreeMap<&str, &str> = listing
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(sum, path)| (path, sum))
        .collect();
    context
        .bundle
        .node_files(&node.name)
        .iter()
        .filter(|file| affects_control_plane(&file.path))
        .filter(|file| {
            installed
                .get(file.path.as_str())
                .is_some_and(|sum| *sum != sha256_hex(file.contents.as_bytes()))
        })
        .map(|file| file.path.clone())
        .collect()
}

/// The files among the node's changes that `rolling` places.
fn placed(rolling: &Rolling, changes: &[String]) -> Vec<String> {
    changes
        .iter()
        .filter(|path| {
            let manifest = Component::ALL
                .iter()
                .find(|component| component.manifest() == **path);
            match manifest {
                Some(component) => rolling.pods.contains(component),
                None => rolling.other_files,
            }
        })
        .cloned()
        .collect()
}

/// Whether `node`, in a phase that places `rolling`, restarts a control-plane component.
fn is_rolling(context: &Context, node: &NodeTarget, rolling: &Rolling) -> bool {
    (node.has_role("control-plane") || node.has_role("etcd"))
        && !placed(rolling, &context.facts(&node.name).control_plane_changes).is_empty()
}

/// A group of nodes run together, and whether each is held to the health gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    pub(crate) nodes: Vec<usize>,
    pub(crate) gated: bool,
}

/// The groups `phase` runs in: its own, except that in a phase that may restart control-plane
/// components, each node that would restart one becomes a group of its own, gated, after the
/// others of its group (which run together as before). Workers are never split.
pub(crate) fn groups(context: &Context, phase: &dyn Phase) -> Vec<Group> {
    let own = phase.groups(context);
    let Some(rolling) = phase.rolling(context) else {
        return own
            .into_iter()
            .map(|nodes| Group {
                nodes,
                gated: false,
            })
            .collect();
    };
    let mut out = Vec::new();
    for group in own {
        let (one_by_one, together): (Vec<usize>, Vec<usize>) = group
            .into_iter()
            .partition(|index| is_rolling(context, &context.nodes[*index], &rolling));
        if !together.is_empty() {
            out.push(Group {
                nodes: together,
                gated: false,
            });
        }
        out.extend(one_by_one.into_iter().map(|index| Group {
            nodes: vec![index],
            gated: true,
        }));
    }
    out
}

/// One look at the node's components: for each whose manifest the bundle gives the node,
/// whether it is healthy and the pid of its process (if one runs).
fn look(
    context: &Context,
    node: &NodeTarget,
) -> Result<BTreeMap<&'static str, (bool, String)>, String> {
    let files = context.bundle.node_files(&node.name);
    let present: Vec<Component> = Component::ALL
        .into_iter()
        .filter(|component| files.iter().any(|file| file.path == component.manifest()))
        .collect();
    let script: String = present
        .iter()
        .map(|component| {
            format!(
                "pid=$(pgrep -xo {comm} || true); if {check}; then echo {name} ok \"${{pid:--}}\"; else echo {name} down \"${{pid:--}}\"; fi; ",
                comm = quote(component.comm()),
                check = component.check(node),
                name = component.name(),
            )
        })
        .collect();
    if script.is_empty() {
        return Ok(BTreeMap::new());
    }
    let output = super::phases::root(context, node, &script)?;
    Ok(present
        .iter()
        .filter_map(|component| {
            let line = output
                .stdout
                .lines()
                .find(|line| line.split(' ').next() == Some(component.name()))?;
            let mut words = line.split(' ').skip(1);
            let healthy = words.next() == Some("ok");
            let pid = words.next().unwrap_or("-").to_owned();
            Some((component.name(), (healthy, pid)))
        })
        .collect())
}

/// Runs `run` on `node` between two looks at its control-plane components: every component
/// healthy before must be healthy again afterwards, and one whose manifest `rolling` changed
/// must run as a new process first (until then the old one answers for it). A component that
/// was not healthy before is not waited for: the gate keeps a healthy control plane healthy,
/// and a broken one must still be repairable by an apply.
pub(crate) fn gated(
    context: &Context,
    node: &NodeTarget,
    rolling: &Rolling,
    run: impl FnOnce() -> Outcome,
) -> Outcome {
    let before = look(context, node).map_err(|reason| {
        format!("looking at the control plane before the rolling restart: {reason}")
    })?;
    let detail = run()?;
    let changes = placed(rolling, &context.facts(&node.name).control_plane_changes);
    let restarted: Vec<&'static str> = rolling
        .pods
        .iter()
        .filter(|component| changes.contains(&component.manifest()))
        .map(|component| component.name())
        .collect();
    let watched: Vec<(&'static str, String)> = before
        .iter()
        .filter(|(_, (healthy, _))| *healthy)
        .map(|(name, (_, pid))| (*name, pid.clone()))
        .collect();
    if watched.is_empty() {
        return Ok(format!(
            "{detail}; no control-plane component was healthy before, none waited for"
        ));
    }
    let started = Instant::now();
    let deadline = started + context.options.wait_timeout;
    loop {
        let now = look(context, node).unwrap_or_default();
        let waiting: Vec<String> = watched
            .iter()
            .filter_map(|(name, old_pid)| {
                let (healthy, pid) = now.get(name).cloned().unwrap_or((false, "-".into()));
                let must_restart = restarted.contains(name);
                // Without a pid before (no pgrep), a restart cannot be told apart: health only.
                if must_restart
                    && old_pid != "-"
                    && &pid == old_pid
                    && started.elapsed() < RESTART_GRACE
                {
                    Some(format!("{name} (not restarted yet)"))
                } else if !healthy {
                    Some(format!("{name} (not healthy)"))
                } else {
                    None
                }
            })
            .collect();
        if waiting.is_empty() {
            let names: Vec<&str> = watched.iter().map(|(name, _)| *name).collect();
            let kept: Vec<&str> = watched
                .iter()
                .filter(|(name, old_pid)| {
                    restarted.contains(name)
                        && old_pid != "-"
                        && now.get(name).is_some_and(|(_, pid)| pid == old_pid)
                })
                .map(|(name, _)| *name)
                .collect();
            let mut said = format!(
                "{detail}; {} healthy again after {:.0} s",
                names.join(", "),
                started.elapsed().as_secs_f64()
            );
            if !kept.is_empty() {
                said.push_str(&format!(
                    " ({} kept its process: the kubelet saw no change of the pod's spec)",
                    kept.join(", ")
                ));
            }
            return Ok(said);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "not healthy again within {:?} of its install: {}; the control-plane nodes after it were left as they were\nhint: look at the node's static pods (crictl ps, the kubelet's log), fix what they report and run the same command again",
                context.options.wait_timeout,
                waiting.join(", ")
            ));
        }
        std::thread::sleep(POLL);
    }
}
