//! Lock: one apply at a time per node, and never a bundle of another cluster over this one.
//! The lock is a directory made atomically on the node (`/var/lib/kbundle/lock`) naming its
//! holder; it is released at the end of the run whatever happened. A lock left by a run of this
//! machine whose process is gone is stale and taken over; any other holder is named, and
//! `--break-lock` takes it anyway. The node's journal records which cluster it belongs to;
//! a bundle of another cluster is refused unless `--force`.

use kbundle_core::bundle::install::INSTALLED_SUMS;
pub(crate) use kbundle_core::bundle::install::JOURNAL;
use kbundle_core::bundle::{layout, sha256_hex};

use super::root;
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

pub(crate) const STATE_DIR: &str = "/var/lib/kbundle";
const LOCK: &str = "/var/lib/kbundle/lock";

pub(crate) struct Lock;

const HELD: &str = "another apply holds the node's lock";
const FOREIGN: &str = "the node belongs to another cluster";

/// `host=… pid=…` of this run.
fn owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    format!("host={host} pid={}", std::process::id())
}

/// Whether a lock owner line names a process of this machine that no longer runs.
fn is_stale(holder: &str) -> bool {
    let ours = owner();
    let our_host = ours.split(' ').next().unwrap_or_default();
    let mut fields = holder.split_whitespace();
    let (Some(host), Some(pid)) = (fields.next(), fields.next()) else {
        return false;
    };
    host == our_host
        && pid
            .strip_prefix("pid=")
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

impl Phase for Lock {
    fn name(&self) -> &'static str {
        "lock"
    }

    fn title(&self) -> &'static str {
        "Lock the nodes and check they belong to this cluster"
    }

    /// The first node alone, then the rest: two runs racing for the same nodes meet at the first
    /// one, and exactly one of them goes on.
    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        let all: Vec<usize> = (0..context.nodes.len()).collect();
        match all.split_first() {
            Some((first, rest)) if !rest.is_empty() => vec![vec![*first], rest.to_vec()],
            _ => vec![all],
        }
    }

    /// Contention or a foreign cluster stops everything; an unreachable node only fails itself.
    fn stops_run(&self, reason: &str) -> bool {
        reason.starts_with(HELD) || reason.starts_with(FOREIGN)
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let cluster_id = &context.cluster_id;
        let started = crate::clock::unix_now();
        let owner_line = format!(
            "{} started={started} cluster={}",
            owner(),
            context.bundle.manifest.cluster_name
        );
        let check_cluster = if context.options.force {
            String::new()
        } else {
            format!(
                "if [ -f {JOURNAL} ] && ! grep -qx {id} {JOURNAL}; then echo \"other-cluster|$(grep '^cluster=' {JOURNAL})\"; exit 0; fi; ",
                id = quote(&format!("cluster_id={cluster_id}"))
            )
        };
        let take = format!(
            "umask 077; mkdir -p {STATE_DIR}; {check_cluster}{up_to_date}if mkdir {LOCK} 2>/dev/null; then echo {owner} > {LOCK}/owner; echo locked; else echo \"held|$(cat {LOCK}/owner 2>/dev/null)\"; fi",
            owner = quote(&owner_line),
            up_to_date = up_to_date_check(context, node),
        );
        for attempt in 0..2 {
            let output = root(context, node, &take)?;
            let up_to_date = output.stdout.lines().any(|line| line == "up-to-date");
            let answer = output.stdout.lines().last().unwrap_or_default().trim();
            if answer == "locked" {
                context.learn(&node.name, |facts| facts.up_to_date = up_to_date);
                return Ok(if up_to_date {
                    "locked; the node already runs this bundle".into()
                } else {
                    "locked".into()
                });
            }
            if let Some(other) = answer.strip_prefix("other-cluster|") {
                return Err(format!(
                    "{FOREIGN} ({}); pass --force to install this bundle over it anyway",
                    other.trim_start_matches("cluster=")
                ));
            }
            let holder = answer.strip_prefix("held|").unwrap_or(answer).trim();
            if attempt == 0 && (is_stale(holder) || context.options.break_lock) {
                root(context, node, &format!("rm -rf {LOCK}"))?;
                continue;
            }
            return Err(format!(
                "{HELD} ({holder}); if that run is gone, pass --break-lock"
            ));
        }
        Err("could not take the node's lock".into())
    }

    fn clean_up(&self, context: &Context, node: &NodeTarget) {
        // Only our own lock: a lock someone else took after --break-lock stays theirs.
        let release = format!(
            "if grep -q {ours} {LOCK}/owner 2>/dev/null; then rm -rf {LOCK}; fi",
            ours = quote(&format!("^{} ", owner()))
        );
        let _ = root(context, node, &release);
    }
}

/// Prints `up-to-date` when the node already runs this bundle: the journal names it, the staged
/// checksums are this bundle's, and every file is in place as the last install placed it (its
/// record, [`INSTALLED_SUMS`], lists every file of the node, with the copies adapted to the
/// machine, and each file has its mode). One `sha256sum` and one `stat` for all files, so that a
/// no-op re-apply stays cheap.
fn up_to_date_check(context: &Context, node: &NodeTarget) -> String {
    let files = context.bundle.node_files(&node.name);
    let sums = context
        .bundle
        .entry(&layout::node_checksums(&node.name))
        .map(|entry| sha256_hex(&entry.contents))
        .unwrap_or_default();
    let expected_modes: String = files
        .iter()
        .map(|file| format!("{:o} {}\n", file.mode, file.path))
        .collect();
    let paths: Vec<String> = files.iter().map(|file| quote(&file.path)).collect();
    format!(
        "staged=\"$(pwd)\"/{staging}/SHA256SUMS; if grep -qx {bundle} {JOURNAL} 2>/dev/null && [ -f \"$staged\" ] && \
         [ \"$(sha256sum < \"$staged\" | cut -d' ' -f1)\" = {sums} ] && [ \"$(wc -l < {INSTALLED_SUMS} 2>/dev/null)\" = {count} ] && \
         (cd / && sha256sum --quiet --strict -c {INSTALLED_SUMS} >/dev/null 2>&1) && \
         [ \"$(stat -c '%a %n' {paths} 2>/dev/null)\" = \"$(printf '%s' {modes})\" ]; then echo up-to-date; fi; ",
        staging = quote(&context.staging),
        bundle = quote(&format!("bundle={}", context.bundle_hash)),
        sums = quote(&sums),
        count = files.len(),
        paths = paths.join(" "),
        modes = quote(expected_modes.trim_end()),
    )
}

/// The journal line block recorded after a successful install.
pub(crate) fn journal(context: &Context) -> String {
    kbundle_core::bundle::install::journal(&context.bundle)
}
