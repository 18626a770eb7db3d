//! `kbundle apply` and `kbundle status`: read and verify the bundle before any connection, build
//! one SSH target per node from the bundle's cluster.yaml (overridable on the command line), run
//! the phases, print a summary, and exit non-zero naming every node that failed.

use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use kbundle_core::bundle::layout;
use kbundle_core::config::ClusterConfig;

use super::{Failure, read_verified_bundle};
use crate::apply::runner::{self, Event, Reporter};
use crate::apply::{ApplyOptions, Context, NodeTarget, Outcome, Phase, phases};
use crate::args::{ApplyArgs, Format};
use crate::ssh::openssh::{ClientOptions, OpenSsh, Target};
use crate::ssh::{Become, run_as_root};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Apply,
    Status,
    Reset,
    /// `kbundle join-token`: its workflow comes from the caller, on the first control-plane
    /// node only.
    JoinToken,
    /// `kbundle certs --installed`: its workflow comes from the caller; it only reads.
    Certs,
}

struct Printer {
    format: Format,
    log: Mutex<Option<std::fs::File>>,
    secrets: Vec<String>,
    /// On a terminal: one line per node, redrawn in place as phases go.
    live: Option<Mutex<LiveView>>,
}

/// The terminal view: every node's current phase and state.
pub(crate) struct LiveView {
    nodes: Vec<(String, String)>,
    drawn: usize,
}

impl LiveView {
    pub(crate) fn new(nodes: &[String]) -> Self {
        Self {
            nodes: nodes
                .iter()
                .map(|node| (node.clone(), "waiting".to_owned()))
                .collect(),
            drawn: 0,
        }
    }

    /// Updates the view; returns what to write to the terminal to redraw it.
    pub(crate) fn update(&mut self, event: &Event) -> String {
        let (node, state) = match event {
            Event::Phase { .. } => return String::new(),
            Event::Done {
                phase,
                node,
                ok: true,
                seconds,
                ..
            } => (node, format!("{phase} done ({seconds:.1} s)")),
            Event::Done {
                phase,
                node,
                ok: false,
                detail,
                ..
            } => (node, format!("{phase} FAILED: {detail}")),
            Event::Skipped { phase, node, .. } => (node, format!("{phase} skipped")),
        };
        if let Some(entry) = self.nodes.iter_mut().find(|(name, _)| name == node) {
            entry.1 = state;
        }
        let width = self
            .nodes
            .iter()
            .map(|(name, _)| name.len())
            .max()
            .unwrap_or(0);
        // Back to the top of the last drawing, then every line anew.
        let mut out = if self.drawn > 0 {
            format!("\x1b[{}A", self.drawn)
        } else {
            String::new()
        };
        for (name, state) in &self.nodes {
            let state: String = state.chars().take(100).collect();
            out.push_str(&format!("\x1b[2K{name:<width$}  {state}\n"));
        }
        self.drawn = self.nodes.len();
        out
    }
}

impl Reporter for Printer {
    fn report(&self, event: &Event) {
        if let Some(live) = &self.live
            && let Ok(mut live) = live.lock()
        {
            eprint!("{}", runner::redact(&live.update(event), &self.secrets));
            if let Ok(mut log) = self.log.lock()
                && let Some(file) = log.as_mut()
            {
                let _ = writeln!(
                    file,
                    "{}",
                    runner::redact(&format!("{event:?}"), &self.secrets)
                );
            }
            return;
        }
        let line = match event {
            Event::Phase { phase, title } => format!("== {phase}: {title}"),
            Event::Done {
                phase,
                node,
                ok: true,
                detail,
                seconds,
            } => format!("   {node}: {phase} ok ({seconds:.1} s): {detail}").replace('\n', "\n   "),
            Event::Done {
                phase,
                node,
                ok: false,
                detail,
                seconds,
            } => {
                format!("   {node}: {phase} FAILED ({seconds:.1} s): {detail}")
            }
            Event::Skipped {
                phase,
                node,
                because,
            } => format!("   {node}: {phase} skipped: {because}"),
        };
        let line = runner::redact(&line, &self.secrets);
        match self.format {
            Format::Json => {
                let json = serde_json::to_string(event).unwrap_or_default();
                println!("{}", runner::redact(&json, &self.secrets));
            }
            Format::Text => eprintln!("{line}"),
        }
        if let Ok(mut log) = self.log.lock()
            && let Some(file) = log.as_mut()
        {
            let _ = writeln!(file, "{line}");
        }
    }
}

/// Status: what is installed on a node, without changing anything.
struct Status;

impl Phase for Status {
    fn name(&self) -> &'static str {
        "status"
    }

    fn title(&self) -> &'static str {
        "Check what the bundle installed"
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        // SHA256SUMS lists the node's files relative to /: checked in place, they say whether
        // what the bundle installed is still there unchanged. A node installed by an export
        // (Ansible, cloud-init) has the same list in the exports' staging folder instead.
        let command = format!(
            "staging=\"$(pwd)\"/{}; exported={}; \
             if [ ! -f \"$staging/SHA256SUMS\" ] && [ -f \"$exported/SHA256SUMS\" ]; then staging=$exported; echo staged=export; fi; \
             cd / && if sha256sum --quiet --strict -c \"$staging/SHA256SUMS\" >/dev/null 2>&1; then echo files=in-place; else echo files=differ-or-missing; fi; \
             for s in containerd kubelet; do echo \"$s=$(systemctl is-active $s 2>/dev/null || true)\"; done",
            crate::ssh::quote(&context.staging),
            crate::ssh::quote(&kbundle_core::export::staging_dir(
                &context.bundle.manifest.cluster_name
            ))
        );
        let output = run_as_root(
            node.remote.as_ref(),
            &node.become_root,
            &command,
            context.options.command_timeout,
        )
        .map_err(|error| error.to_string())?;
        let facts: Vec<&str> = output.stdout.lines().collect();
        let healthy = facts.iter().all(|fact| {
            fact.ends_with("in-place") || fact.ends_with("=active") || fact.starts_with("staged=")
        });
        let detail = facts.join(", ");
        if healthy { Ok(detail) } else { Err(detail) }
    }
}

pub(crate) fn run(args: &ApplyArgs, mode: Mode) -> Result<(), Failure> {
    let workflow: Vec<Box<dyn Phase>> = match mode {
        // Its phase needs its own arguments: commands::join_token calls run_workflow.
        Mode::JoinToken | Mode::Certs => {
            return Err(anyhow::anyhow!("this command has its own workflow").into());
        }
        Mode::Apply if args.dry_run => vec![
            Box::new(crate::apply::phases::Connect),
            Box::new(crate::apply::phases::DryRun),
        ],
        Mode::Apply => phases(),
        // The lock with --force: resetting a node of another cluster is what reset is for.
        Mode::Reset => vec![
            Box::new(crate::apply::phases::Connect),
            Box::new(crate::apply::phases::Lock),
            Box::new(crate::apply::phases::Reset),
        ],
        Mode::Status => vec![Box::new(crate::apply::phases::Connect), Box::new(Status)],
    };
    if args.list_phases {
        for phase in &workflow {
            println!("{:<16}{}", phase.name(), phase.title());
        }
        return Ok(());
    }
    if args.prune && (mode != Mode::Apply || args.dry_run) {
        return Err(anyhow::anyhow!(
            "--prune: only `kbundle apply` (without --dry-run) removes Nodes and etcd members; leave it out here"
        )
        .into());
    }
    for skip in &args.skip_phase {
        // Names of the full workflow are accepted with --dry-run and status too.
        let known = phases().iter().any(|phase| phase.name() == skip)
            || workflow.iter().any(|phase| phase.name() == skip);
        if !known {
            return Err(
                anyhow::anyhow!("--skip-phase: no phase `{skip}` (see --list-phases)").into(),
            );
        }
    }
    run_workflow(args, mode, |_| Ok(workflow))
}

/// Runs the workflow `build` makes from the bundle's config on the bundle's nodes (for
/// [`Mode::JoinToken`], its first control-plane node alone): the bundle is read once and
/// verified, and `build` may still refuse its arguments, before any connection.
pub(crate) fn run_workflow(
    args: &ApplyArgs,
    mode: Mode,
    build: impl FnOnce(&ClusterConfig) -> Result<Vec<Box<dyn Phase>>, Failure>,
) -> Result<(), Failure> {
    // 1. Read and verify the bundle before any connection.
    let bundle = read_verified_bundle(&args.bundle, args.passphrase_file.as_deref(), "done")?;
    let config_text = bundle
        .entry(layout::CLUSTER_YAML)
        .map(|entry| String::from_utf8_lossy(&entry.contents).into_owned())
        .context("the bundle has no cluster.yaml")?;
    let config = ClusterConfig::from_bundle_yaml(&config_text)
        .map_err(|_| anyhow::anyhow!("the bundle's cluster.yaml does not validate"))?
        .config;
    for name in &args.nodes {
        if !config.nodes.iter().any(|node| &node.name == name) {
            return Err(anyhow::anyhow!("--nodes: the bundle has no node `{name}`").into());
        }
    }
    let workflow = build(&config)?;
    // The artifacts folder, checked completely before any connection too.
    let artifacts = match &args.artifacts {
        None => None,
        Some(_) if mode != Mode::Apply => {
            eprintln!("error: --artifacts: only `kbundle apply` installs artifacts");
            return Err(Failure::Invalid);
        }
        Some(directory) => match crate::apply::artifacts::load(directory, &bundle) {
            Ok(set) => Some(set),
            Err(error) => {
                eprintln!(
                    "error: artifacts folder `{}`: {error:#}",
                    directory.display()
                );
                eprintln!(
                    "{}: refused: the artifacts folder does not check out; no node was contacted, nothing was done",
                    args.bundle.display()
                );
                return Err(Failure::Invalid);
            }
        },
    };

    // 2. How to become root, asked once.
    let become_password = if let Some(file) = &args.become_pass_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading `{}`", file.display()))?;
        Some(text.lines().next().unwrap_or_default().to_owned())
    } else if args.ask_become_pass {
        Some(
            rpassword::prompt_password("sudo password: ")
                .context("asking for the sudo password (no terminal? use --become-pass-file)")?,
        )
    } else {
        None
    };

    // join-token talks to the API through this node alone: no other node need be reachable.
    let first_control_plane = config
        .control_plane_nodes()
        .find(|node| args.nodes.is_empty() || args.nodes.contains(&node.name))
        .map(|node| &node.name);
    let control_dir = std::env::temp_dir().join(format!("kbundle-ssh-{}", std::process::id()));
    std::fs::create_dir_all(&control_dir).context("creating the SSH control folder")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&control_dir, std::fs::Permissions::from_mode(0o700))
            .context("securing the SSH control folder")?;
    }
    let client = ClientOptions {
        config_file: args.ssh_config.clone(),
        known_hosts: args.known_hosts.clone(),
        accept_new_host_keys: args.accept_new_host_keys,
        connect_timeout: Duration::from_secs(args.connect_timeout),
        control_dir: control_dir.clone(),
    };
    let nodes: Vec<NodeTarget> = config
        .nodes
        .iter()
        .filter(|node| args.nodes.is_empty() || args.nodes.contains(&node.name))
        .filter(|node| mode != Mode::JoinToken || Some(&node.name) == first_control_plane)
        .map(|node| {
            let user = args.user.clone().unwrap_or_else(|| node.ssh.user.clone());
            let become_root = match (&become_password, user.as_str()) {
                (_, "root") => Become::Root,
                (Some(password), _) => Become::SudoPassword(password.clone()),
                (None, _) => Become::Sudo,
            };
            let target = Target {
                address: node.primary_address().to_string(),
                user,
                port: args.port.unwrap_or(node.ssh.port),
                identity_file: args
                    .identity
                    .clone()
                    .or_else(|| node.ssh.identity_file.clone()),
                jump_hosts: args
                    .jump
                    .clone()
                    .map(|jump| vec![jump])
                    .unwrap_or_else(|| node.ssh.jump_hosts.clone()),
            };
            NodeTarget {
                name: node.name.clone(),
                addresses: node.addresses.iter().map(ToString::to_string).collect(),
                roles: node.roles.names().iter().map(|r| (*r).to_owned()).collect(),
                remote: Box::new(OpenSsh::new(target, client.clone())),
                become_root,
            }
        })
        .collect();
    let cluster = bundle.manifest.cluster_name.clone();
    let options = ApplyOptions {
        concurrency: args.concurrency.max(1),
        command_timeout: Duration::from_secs(args.command_timeout),
        wait_timeout: Duration::from_secs(args.wait_timeout),
        ignore_preflight: args.ignore_preflight.clone(),
        skip_phases: args.skip_phase.clone(),
        prune: args.prune,
        force: args.force || mode == Mode::Reset,
        break_lock: args.break_lock,
        wipe_data: args.wipe_data,
    };
    let mut context = Context::new(bundle, nodes, options);
    // Without --artifacts, what nodes lack is fetched into the cache on this machine (unless
    // --no-fetch).
    if artifacts.is_none() && !args.no_fetch && mode == Mode::Apply {
        context.fetch = Some(crate::apply::artifacts::FetchSettings::new(
            args.artifacts_cache.clone(),
            args.artifacts_mirror.clone(),
        )?);
    }
    context.artifacts = artifacts;
    let log_path = args
        .log
        .clone()
        .unwrap_or_else(|| format!("kbundle-{cluster}.log").into());
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating the log `{}`", log_path.display()))?;
    let live = (args.output == Format::Text
        && std::io::IsTerminal::is_terminal(&std::io::stderr()))
    .then(|| {
        let names: Vec<String> = context.nodes.iter().map(|node| node.name.clone()).collect();
        Mutex::new(LiveView::new(&names))
    });
    let printer = Printer {
        format: args.output,
        log: Mutex::new(Some(log)),
        secrets: become_password.into_iter().collect(),
        live,
    };

    // 3. The phases.
    let summary = runner::run(&context, &workflow, &printer);
    close_connections(
        std::mem::take(&mut context.nodes),
        context.options.concurrency,
    );
    drop(context);
    let _ = std::fs::remove_dir_all(&control_dir);
    let table = runner::summary_table(&summary);
    match args.output {
        Format::Json => println!(
            "{}",
            serde_json::json!({"event": "summary", "ok": summary.is_ok(), "summary": summary})
        ),
        Format::Text => eprint!("{table}"),
    }
    if let Ok(mut log) = printer.log.lock()
        && let Some(file) = log.as_mut()
    {
        let _ = write!(file, "{}", runner::redact(&table, &printer.secrets));
    }
    if summary.is_ok() {
        Ok(())
    } else {
        let failed: Vec<String> = summary
            .nodes
            .iter()
            .filter_map(|node| {
                node.failure
                    .as_ref()
                    .map(|(phase, _)| format!("{} ({phase})", node.node))
            })
            .collect();
        Err(anyhow::anyhow!(
            "{} failed on {}; details in {}",
            match mode {
                Mode::Apply => "apply",
                Mode::JoinToken => "join-token",
                Mode::Certs => "certs",
                Mode::Status | Mode::Reset => "status",
            },
            if failed.is_empty() {
                "the cluster".to_owned()
            } else {
                failed.join(", ")
            },
            log_path.display()
        )
        .into())
    }
}

/// Closes the nodes' SSH master connections (each node's `ssh -O exit`, when it drops), up to
/// `concurrency` at once: one after another, 20 nodes took most of a second.
fn close_connections(nodes: Vec<NodeTarget>, concurrency: usize) {
    let mut nodes = nodes.into_iter().peekable();
    while nodes.peek().is_some() {
        let batch: Vec<NodeTarget> = nodes.by_ref().take(concurrency.max(1)).collect();
        std::thread::scope(|scope| {
            for node in batch {
                scope.spawn(move || drop(node));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_view_redraws_one_line_per_node_in_place() {
        let mut view = LiveView::new(&["cp1".into(), "worker1".into()]);
        let first = view.update(&Event::Done {
            phase: "connect".into(),
            node: "worker1".into(),
            ok: true,
            detail: String::new(),
            seconds: 0.2,
        });
        assert_eq!(
            first,
            "\x1b[2Kcp1      waiting\n\x1b[2Kworker1  connect done (0.2 s)\n"
        );
        let second = view.update(&Event::Done {
            phase: "upload".into(),
            node: "cp1".into(),
            ok: false,
            detail: "no space left".into(),
            seconds: 1.0,
        });
        assert!(
            second.starts_with("\x1b[2A"),
            "moves back up over the two lines it drew"
        );
        assert!(second.contains("cp1      upload FAILED: no space left"));
    }
}
