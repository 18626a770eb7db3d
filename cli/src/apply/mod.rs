//! `kbundle apply`: the workflow as data. [`phases`] is the whole procedure, one line per
//! phase, in order; [`runner`] owns ordering across roles, parallelism, timeouts and error
//! collection; each phase is a small type in `phases/` that says which nodes it runs on and
//! what it does on one of them.

pub(crate) mod artifacts;
pub(crate) mod phases;
pub(crate) mod rolling;
pub(crate) mod runner;

use std::time::Duration;

use kbundle_core::bundle::Bundle;

use crate::ssh::{Become, Remote};

/// One node of the run.
pub(crate) struct NodeTarget {
    pub(crate) name: String,
    pub(crate) addresses: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) remote: Box<dyn Remote>,
    pub(crate) become_root: Become,
}

impl NodeTarget {
    pub(crate) fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub(crate) struct ApplyOptions {
    /// Nodes worked on at once.
    pub(crate) concurrency: usize,
    /// Longest a single remote command may take.
    pub(crate) command_timeout: Duration,
    /// Longest the wait phases wait for etcd and the API server.
    pub(crate) wait_timeout: Duration,
    /// Preflight checks reported but not fatal.
    pub(crate) ignore_preflight: Vec<String>,
    /// Phases not run, by name.
    pub(crate) skip_phases: Vec<String>,
    /// Remove the Nodes and etcd members this bundle no longer has.
    pub(crate) prune: bool,
    /// Install over a node of another cluster.
    pub(crate) force: bool,
    /// Take the nodes' locks even from another run.
    pub(crate) break_lock: bool,
    /// With reset: remove etcd's and the kubelet's data too.
    pub(crate) wipe_data: bool,
}

/// Everything phases read: the bundle, the nodes, the options. Read-only.
pub(crate) struct Context {
    pub(crate) bundle: Bundle,
    pub(crate) nodes: Vec<NodeTarget>,
    pub(crate) options: ApplyOptions,
    /// Folder on each node where the bundle is staged (under the login user's home).
    pub(crate) staging: String,
    /// What identifies the cluster on its nodes: the hash of its CA certificate.
    pub(crate) cluster_id: String,
    /// SHA-256 of the bundle's index.
    pub(crate) bundle_hash: String,
    /// Facts learnt on the nodes during the run (the only state phases share).
    pub(crate) facts: std::sync::Mutex<std::collections::HashMap<String, NodeFacts>>,
    /// `--artifacts`: binaries and images to install, checked before any connection.
    pub(crate) artifacts: Option<artifacts::ArtifactSet>,
    /// Without `--artifacts` (and without `--no-fetch`): where the binaries nodes lack come from.
    pub(crate) fetch: Option<artifacts::FetchSettings>,
    /// What was fetched for the nodes that lack binaries, once for the whole run.
    pub(crate) fetched: std::sync::OnceLock<Result<artifacts::ArtifactSet, String>>,
}

/// What a run learnt about a node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NodeFacts {
    /// The journal names this very bundle, its upload is in place, and every installed file has
    /// its checksum and mode: upload and install have nothing to do.
    pub(crate) up_to_date: bool,
    /// The images of `--artifacts` the node has not imported yet (indexes into the set's
    /// images), once the artifacts phase has looked: the images phase then needs no look of
    /// its own.
    pub(crate) images_to_import: Option<Vec<usize>>,
    /// The node's architecture as artifacts name it (`amd64`, `arm64`), once preflight looked.
    pub(crate) arch: String,
    /// The binaries (artifact names) preflight found missing, which the artifacts phase
    /// installs from the fetched set.
    pub(crate) missing: Vec<String>,
    /// The files whose install would change what a running control-plane component uses
    /// (`rolling::affects_control_plane`), as the `rollout` phase found them: such a node is
    /// installed alone, and waited for.
    pub(crate) control_plane_changes: Vec<String>,
}

impl Context {
    /// Records what was learnt about `node`, keeping what other phases learnt.
    pub(crate) fn learn(&self, node: &str, change: impl FnOnce(&mut NodeFacts)) {
        if let Ok(mut known) = self.facts.lock() {
            change(known.entry(node.to_owned()).or_default());
        }
    }

    /// What is known about `node`.
    pub(crate) fn facts(&self, node: &str) -> NodeFacts {
        self.facts
            .lock()
            .ok()
            .and_then(|known| known.get(node).cloned())
            .unwrap_or_default()
    }

    pub(crate) fn new(bundle: Bundle, nodes: Vec<NodeTarget>, options: ApplyOptions) -> Self {
        let staging = format!(".kbundle/{}", bundle.manifest.cluster_name);
        let bundle_hash = kbundle_core::bundle::install::bundle_hash(&bundle);
        let cluster_id = kbundle_core::bundle::install::cluster_id(&bundle);
        Self {
            bundle,
            nodes,
            options,
            staging,
            cluster_id,
            bundle_hash,
            facts: std::sync::Mutex::new(std::collections::HashMap::new()),
            artifacts: None,
            fetch: None,
            fetched: std::sync::OnceLock::new(),
        }
    }

    /// The binaries fetched for the nodes that lack some: fetched (into the cache) by the first
    /// node that needs them, for the architectures of every node that lacks something; the
    /// others wait for that and share it.
    pub(crate) fn fetched_artifacts(&self) -> Result<&artifacts::ArtifactSet, String> {
        self.fetched
            .get_or_init(|| {
                let settings = self
                    .fetch
                    .as_ref()
                    .ok_or("nothing may be fetched (--no-fetch)")?;
                let arches: std::collections::BTreeSet<String> = self
                    .facts
                    .lock()
                    .map_err(|_| "the run's facts are unreadable".to_owned())?
                    .values()
                    .filter(|facts| !facts.missing.is_empty())
                    .map(|facts| facts.arch.clone())
                    .collect();
                artifacts::cached(&self.bundle, settings, &arches).map_err(|error| {
                    format!(
                        "fetching what the nodes lack: {error:#}\nhint: give --artifacts-mirror URL for a copy of the upstream layout, or fetch on a connected machine (kbundle artifacts fetch) and pass --artifacts DIR"
                    )
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Index of the first control-plane node (addons and cluster checks run there).
    pub(crate) fn first_control_plane(&self) -> Option<usize> {
        self.nodes
            .iter()
            .position(|node| node.has_role("control-plane"))
    }
}

/// What a phase did on one node, or why it failed there.
pub(crate) type Outcome = Result<String, String>;

/// One step of the workflow.
pub(crate) trait Phase: Sync {
    /// Short name, used by `--skip-phase` and in output.
    fn name(&self) -> &'static str;
    /// What it does, as a short sentence.
    fn title(&self) -> &'static str;
    /// The nodes it runs on, as groups run one after the other (in parallel within a group).
    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        vec![(0..context.nodes.len()).collect()]
    }
    /// Runs on one node.
    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome;
    /// What this phase places that may restart control-plane components: if anything, the
    /// control-plane and etcd nodes where it would are run one at a time, each held to the
    /// health gate before the next ([`rolling`]).
    fn rolling(&self, _context: &Context) -> Option<rolling::Rolling> {
        None
    }
    /// Whether this failure, on any node, stops the whole run (another run holds a lock: a run
    /// that cannot have every node it can reach must not change any).
    fn stops_run(&self, _reason: &str) -> bool {
        false
    }
    /// Undoes what must not outlive the run (a lock), on every node it succeeded on, at the
    /// end of the run whatever happened.
    fn clean_up(&self, _context: &Context, _node: &NodeTarget) {}
}

/// The workflow, in order.
pub(crate) fn phases() -> Vec<Box<dyn Phase>> {
    vec![
        Box::new(phases::Connect),
        Box::new(phases::Lock),
        Box::new(phases::Preflight),
        Box::new(phases::Upload),
        Box::new(phases::Artifacts),
        Box::new(phases::NewNodeObjects),
        Box::new(phases::Rollout),
        Box::new(phases::Install),
        Box::new(phases::Images),
        Box::new(phases::Start),
        Box::new(phases::WaitEtcd),
        Box::new(phases::WaitApiServer),
        Box::new(phases::Prune),
        Box::new(phases::NodeRanges),
        Box::new(phases::ReleaseControllerManager),
        Box::new(phases::Addons),
        Box::new(phases::KubeVipRights),
        Box::new(phases::Validate),
    ]
}

/// Groups for phases that go by role: the first control-plane node, then the other
/// control-plane and etcd nodes, then the workers.
pub(crate) fn by_role(context: &Context) -> Vec<Vec<usize>> {
    let first = context.first_control_plane();
    let mut groups = vec![Vec::new(), Vec::new(), Vec::new()];
    for (index, node) in context.nodes.iter().enumerate() {
        let group = if Some(index) == first {
            0
        } else if node.has_role("control-plane") || node.has_role("etcd") {
            1
        } else {
            2
        };
        groups[group].push(index);
    }
    groups.retain(|group| !group.is_empty());
    groups
}
