//! The phases of `kbundle apply`, one small type each.

mod addons;
mod artifacts;
mod certs;
mod connect;
mod dry_run;
mod install;
mod join_token;
mod lock;
mod preflight;
mod prune;
mod reset;
mod rollout;
mod upload;
mod validate;
mod wait;

pub(crate) use addons::{Addons, NewNodeObjects, NodeRanges};
pub(crate) use artifacts::{Artifacts, Images};
pub(crate) use certs::{InstalledCertificates, WARN_DAYS, table as certificates_table};
pub(crate) use connect::Connect;
pub(crate) use dry_run::DryRun;
pub(crate) use install::{Install, KubeVipRights, ReleaseControllerManager, Start};
pub(crate) use join_token::MintJoinToken;
pub(crate) use lock::Lock;
pub(crate) use preflight::Preflight;
pub(crate) use prune::Prune;
pub(crate) use reset::Reset;
pub(crate) use rollout::Rollout;
pub(crate) use upload::Upload;
pub(crate) use validate::Validate;
pub(crate) use wait::{WaitApiServer, WaitEtcd};

use super::{Context, NodeTarget};
use crate::ssh::{Output, run_as_root, run_as_root_with_input};

/// Runs `command` as root on `node` with the run's command timeout; a failure becomes the
/// phase's reason.
pub(super) fn root(context: &Context, node: &NodeTarget, command: &str) -> Result<Output, String> {
    succeeded(run_as_root(
        node.remote.as_ref(),
        &node.become_root,
        command,
        context.options.command_timeout,
    ))
}

/// [`root`] with `input` on the command's standard input (secrets go there, never into the
/// command line).
pub(super) fn root_with_input(
    context: &Context,
    node: &NodeTarget,
    command: &str,
    input: &[u8],
) -> Result<Output, String> {
    succeeded(run_as_root_with_input(
        node.remote.as_ref(),
        &node.become_root,
        command,
        input,
        context.options.command_timeout,
    ))
}

/// A command's output when it ran and succeeded; otherwise why not, as the phase's reason.
fn succeeded(ran: Result<Output, impl std::fmt::Display>) -> Result<Output, String> {
    let output = ran.map_err(|error| error.to_string())?;
    if output.success() {
        Ok(output)
    } else {
        Err(output.reason())
    }
}

/// Only the first control-plane node.
pub(super) fn first_control_plane(context: &Context) -> Vec<Vec<usize>> {
    context
        .first_control_plane()
        .map(|index| vec![vec![index]])
        .unwrap_or_default()
}

/// A shell loop that retries `check` every [`RETRY_PAUSE`] until it succeeds or `seconds` pass.
pub(super) fn retry(check: &str, seconds: u64) -> String {
    format!(
        "deadline=$(($(date +%s) + {seconds})); until {check}; do if [ \"$(date +%s)\" -ge \"$deadline\" ]; then exit 1; fi; sleep {RETRY_PAUSE}; done"
    )
}

/// Seconds between two tries of a wait. A wait ends on average half a pause after what it
/// waits for is there, so the pause is short; each try is one curl on the node.
const RETRY_PAUSE: &str = "0.5";
