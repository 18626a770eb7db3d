//! Runs the phases: groups one after another, the nodes of a group in parallel (at most
//! `--concurrency` at once), every result reported as it happens. A node that fails is left out
//! of the later phases while the others go on, unless the failure puts the whole cluster at
//! stake (the first control-plane node, or etcd quorum), which stops the run.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::{Context, Outcome, Phase};

/// Something that happened, for the terminal, `--output json` and the log file.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub(crate) enum Event {
    /// A phase begins.
    Phase { phase: String, title: String },
    /// A phase finished on a node.
    Done {
        phase: String,
        node: String,
        ok: bool,
        detail: String,
        seconds: f64,
    },
    /// A phase was not run on a node.
    Skipped {
        phase: String,
        node: String,
        because: String,
    },
}

/// Receives events; must be callable from several threads.
pub(crate) trait Reporter: Sync {
    fn report(&self, event: &Event);
}

/// How a node ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct NodeResult {
    pub(crate) node: String,
    /// The phase it failed in, and why.
    pub(crate) failure: Option<(String, String)>,
    /// The last phase it completed.
    pub(crate) last_phase: Option<String>,
    /// Whether later phases were skipped because the run stopped.
    pub(crate) stopped: bool,
}

/// The end of a run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Summary {
    pub(crate) nodes: Vec<NodeResult>,
    /// Why the run stopped early, if it did.
    pub(crate) stopped_because: Option<String>,
    pub(crate) seconds: f64,
}

impl Summary {
    pub(crate) fn is_ok(&self) -> bool {
        self.stopped_because.is_none() && self.nodes.iter().all(|node| node.failure.is_none())
    }
}

/// Runs `phases` over the context's nodes.
pub(crate) fn run(
    context: &Context,
    phases: &[Box<dyn Phase>],
    reporter: &dyn Reporter,
) -> Summary {
    let started = Instant::now();
    let mut results: Vec<NodeResult> = context
        .nodes
        .iter()
        .map(|node| NodeResult {
            node: node.name.clone(),
            failure: None,
            last_phase: None,
            stopped: false,
        })
        .collect();
    let mut stopped_because = None;
    // (phase index, node index) of every success, for the clean-ups at the end.
    let mut succeeded: Vec<(usize, usize)> = Vec::new();
    for (phase_index, phase) in phases.iter().enumerate() {
        if context
            .options
            .skip_phases
            .iter()
            .any(|skip| skip == phase.name())
        {
            continue;
        }
        let groups = super::rolling::groups(context, phase.as_ref());
        // A phase with no nodes (e.g. artifacts without --artifacts) is not announced at all.
        if groups.iter().all(|group| group.nodes.is_empty()) {
            continue;
        }
        reporter.report(&Event::Phase {
            phase: phase.name().into(),
            title: phase.title().into(),
        });
        for group in groups {
            let (runnable, failed): (Vec<usize>, Vec<usize>) = group
                .nodes
                .into_iter()
                .partition(|index| results[*index].failure.is_none());
            for index in failed {
                reporter.report(&Event::Skipped {
                    phase: phase.name().into(),
                    node: context.nodes[index].name.clone(),
                    because: "it failed in an earlier phase".into(),
                });
            }
            let outcomes = run_group(context, phase.as_ref(), &runnable, group.gated, reporter);
            let mut rolled_back = None;
            for (index, outcome) in outcomes {
                match outcome {
                    Ok(_) => {
                        results[index].last_phase = Some(phase.name().into());
                        succeeded.push((phase_index, index));
                    }
                    Err(reason) => {
                        if group.gated {
                            rolled_back = Some(context.nodes[index].name.clone());
                        }
                        results[index].failure = Some((phase.name().into(), reason));
                    }
                }
            }
            // A node of a rolling restart that is not healthy again: restarting the next one
            // could take the cluster's quorum or its last API server.
            if let Some(node) = rolled_back {
                stopped_because = Some(format!(
                    "{} failed on {node} during a rolling restart of the control plane; the control-plane nodes after it were not changed",
                    phase.name()
                ));
                break;
            }
            if let Some(failed) = results.iter().find_map(|result| {
                result
                    .failure
                    .as_ref()
                    .filter(|(name, reason)| name == phase.name() && phase.stops_run(reason))
                    .map(|_| result.node.clone())
            }) {
                stopped_because = Some(format!(
                    "{} failed on {failed}: nothing was changed on any node",
                    phase.name()
                ));
                break;
            }
            if let Some(reason) = at_stake(context, &results) {
                stopped_because = Some(reason);
                break;
            }
        }
        if stopped_because.is_some() {
            break;
        }
    }
    if stopped_because.is_some() {
        for result in results.iter_mut().filter(|result| result.failure.is_none()) {
            result.stopped = true;
        }
    }
    // Clean-ups in reverse order, in parallel per phase, whatever happened.
    for phase_index in (0..phases.len()).rev() {
        let nodes: Vec<usize> = succeeded
            .iter()
            .filter(|(phase, _)| *phase == phase_index)
            .map(|(_, node)| *node)
            .collect();
        if nodes.is_empty() {
            continue;
        }
        std::thread::scope(|scope| {
            for chunk in nodes.chunks(context.options.concurrency.max(1)) {
                for &index in chunk {
                    let phase = &phases[phase_index];
                    scope.spawn(move || phase.clean_up(context, &context.nodes[index]));
                }
            }
        });
    }
    Summary {
        nodes: results,
        stopped_because,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Runs one phase on `indexes` in parallel, at most `concurrency` at once; `gated`: each held
/// to the rolling restart's health gate.
fn run_group(
    context: &Context,
    phase: &dyn Phase,
    indexes: &[usize],
    gated: bool,
    reporter: &dyn Reporter,
) -> Vec<(usize, Outcome)> {
    let rolling = phase.rolling(context).filter(|_| gated);
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(indexes.len()));
    let workers = context.options.concurrency.clamp(1, indexes.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let position = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&index) = indexes.get(position) else {
                        break;
                    };
                    let node = &context.nodes[index];
                    let start = Instant::now();
                    let outcome = match &rolling {
                        Some(rolling) => super::rolling::gated(context, node, rolling, || {
                            phase.run_on(context, node)
                        }),
                        None => phase.run_on(context, node),
                    };
                    let seconds = start.elapsed().as_secs_f64();
                    let (ok, detail) = match &outcome {
                        Ok(detail) => (true, detail.clone()),
                        Err(reason) => (false, reason.clone()),
                    };
                    reporter.report(&Event::Done {
                        phase: phase.name().into(),
                        node: node.name.clone(),
                        ok,
                        detail,
                        seconds,
                    });
                    if let Ok(mut done) = done.lock() {
                        done.push((index, outcome));
                    }
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_default();
    done.sort_by_key(|(index, _)| *index);
    done
}

/// Whether the failures so far doom the cluster: the first control-plane node failed, or too
/// few etcd members are left for a quorum.
fn at_stake(context: &Context, results: &[crate::apply::runner::NodeResult]) -> Option<String> {
    if let Some(first) = context.first_control_plane()
        && let Some((phase, _)) = &results[first].failure
    {
        return Some(format!(
            "the first control-plane node {} failed in {phase}; the other nodes need it",
            context.nodes[first].name
        ));
    }
    let members: Vec<usize> = (0..context.nodes.len())
        .filter(|i| context.nodes[*i].has_role("etcd"))
        .collect();
    let lost = members
        .iter()
        .filter(|i| results[**i].failure.is_some())
        .count();
    if !members.is_empty() && lost > (members.len() - 1) / 2 {
        return Some(format!(
            "{lost} of {} etcd members failed: no quorum is possible",
            members.len()
        ));
    }
    None
}

/// Text of the summary table.
pub(crate) fn summary_table(summary: &Summary) -> String {
    let width = summary
        .nodes
        .iter()
        .map(|node| node.node.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!("\n{:<width$}  RESULT\n", "NODE");
    for node in &summary.nodes {
        let result = match (&node.failure, node.stopped) {
            (Some((phase, reason)), _) => format!("FAILED in {phase}: {reason}"),
            (None, true) => format!(
                "stopped after {}",
                node.last_phase.as_deref().unwrap_or("nothing")
            ),
            (None, false) => format!(
                "ok (last phase: {})",
                node.last_phase.as_deref().unwrap_or("none")
            ),
        };
        out.push_str(&format!("{:<width$}  {result}\n", node.node));
    }
    if let Some(reason) = &summary.stopped_because {
        out.push_str(&format!("\nthe run stopped: {reason}\n"));
    }
    if !summary.is_ok() {
        out.push_str(
            "next: fix what is named above and run the same command again; nodes pick up where they \
             stopped (files already in place are left alone, nothing finished is redone needlessly)\n",
        );
    }
    out.push_str(&format!("{:.1} s\n", summary.seconds));
    out
}

/// Never lets a secret into a log line.
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|secret| secret.len() >= 3) {
        text = text.replace(secret.as_str(), "<redacted>");
    }
    // Every private key block, whole; certificates and the rest stay readable.
    let mut from = 0;
    while let Some(found) = text[from..].find("-----BEGIN ") {
        let start = from + found;
        let header_end = text[start..].find('\n').map_or(text.len(), |n| start + n);
        if !text[start..header_end].contains("PRIVATE KEY") {
            from = header_end;
            continue;
        }
        let end = text[header_end..]
            .find("-----END ")
            .and_then(|n| {
                let footer = header_end + n + "-----END ".len();
                text[footer..]
                    .find("-----")
                    .map(|m| footer + m + "-----".len())
            })
            .unwrap_or(text.len());
        text.replace_range(start..end, "<private key redacted>");
        from = start + "<private key redacted>".len();
    }
    text
}

/// A reporter that keeps nothing, for tests.
#[cfg(test)]
pub(crate) struct Quiet;

#[cfg(test)]
impl Reporter for Quiet {
    fn report(&self, _: &Event) {}
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kbundle_core::bundle::Bundle;
    use kbundle_core::config::{ExampleKind, RawClusterConfig, example_yaml};
    use kbundle_core::pki::PkiInputs;

    use super::*;
    use crate::apply::{ApplyOptions, NodeTarget, phases};
    use crate::ssh::fake::{Calls, FakeRemote};
    use crate::ssh::{Become, Output, SshError};

    fn context(kind: ExampleKind, remotes: Vec<(&str, FakeRemote)>) -> Context {
        let raw = RawClusterConfig::from_yaml(&example_yaml(kind)).unwrap();
        let inputs = PkiInputs {
            seed: [1; 32],
            issued_at: 1_790_000_000,
            existing_cas: Vec::new(),
        };
        let bundle = Bundle::generate(&raw, &inputs).unwrap();
        let nodes = bundle
            .manifest
            .nodes
            .iter()
            .map(|node| {
                let remote = remotes
                    .iter()
                    .position(|(name, _)| *name == node.name)
                    .map(|_| ());
                let _ = remote;
                NodeTarget {
                    name: node.name.clone(),
                    addresses: node.addresses.clone(),
                    roles: node.roles.clone(),
                    remote: Box::new(FakeRemote::node()),
                    become_root: Become::Sudo,
                }
            })
            .collect::<Vec<_>>();
        let mut nodes = nodes;
        for (name, remote) in remotes {
            if let Some(node) = nodes.iter_mut().find(|n| n.name == name) {
                node.remote = Box::new(remote);
            }
        }
        let options = ApplyOptions {
            concurrency: 2,
            command_timeout: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(5),
            ignore_preflight: vec!["all".into()],
            skip_phases: vec![
                "wait-etcd".into(),
                "wait-apiserver".into(),
                "addons".into(),
                "validate".into(),
                // Needs etcd's member list, which no fake node serves (tested in prune.rs).
                "prune".into(),
            ],
            prune: false,
            force: false,
            break_lock: false,
            wipe_data: false,
        };
        Context::new(bundle, nodes, options)
    }

    struct Recorder(Mutex<Vec<Event>>);

    impl Reporter for Recorder {
        fn report(&self, event: &Event) {
            self.0.lock().unwrap().push(event.clone());
        }
    }

    #[test]
    fn install_runs_on_the_first_control_plane_before_the_others() {
        let context = context(ExampleKind::HighAvailability, Vec::new());
        let recorder = Recorder(Mutex::new(Vec::new()));
        let summary = run(&context, &phases(), &recorder);
        assert!(summary.is_ok(), "{summary:?}");
        let events = recorder.0.lock().unwrap();
        let install: Vec<&str> = events
            .iter()
            .filter_map(|event| match event {
                Event::Done { phase, node, .. } if phase == "install" => Some(node.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(install[0], "cp1");
        let first_worker = install
            .iter()
            .position(|n| n.starts_with("worker"))
            .unwrap();
        assert!(
            install[..first_worker].contains(&"cp2") && install[..first_worker].contains(&"cp3"),
            "{install:?}"
        );
    }

    #[test]
    fn a_failed_worker_is_left_out_while_the_others_finish() {
        let broken =
            FakeRemote::default().answer("", Err(SshError::Connect("Connection timed out".into())));
        let context = context(ExampleKind::HighAvailability, vec![("worker2", broken)]);
        let summary = run(&context, &phases(), &Quiet);
        assert!(!summary.is_ok());
        assert!(summary.stopped_because.is_none());
        let worker2 = summary.nodes.iter().find(|n| n.node == "worker2").unwrap();
        assert_eq!(
            worker2.failure.as_ref().map(|(phase, _)| phase.as_str()),
            Some("connect")
        );
        let worker1 = summary.nodes.iter().find(|n| n.node == "worker1").unwrap();
        assert_eq!(worker1.last_phase.as_deref(), Some("start"));
        assert!(
            summary_table(&summary)
                .contains("worker2  FAILED in connect: cannot connect: Connection timed out")
        );
    }

    #[test]
    fn losing_the_first_control_plane_stops_the_run() {
        let broken = FakeRemote::node().first(
            "install.sh",
            Ok(Output {
                status: Some(1),
                stdout: String::new(),
                stderr: "disk full".into(),
            }),
        );
        let context = context(ExampleKind::HighAvailability, vec![("cp1", broken)]);
        let summary = run(&context, &phases(), &Quiet);
        assert!(
            summary
                .stopped_because
                .as_deref()
                .unwrap_or_default()
                .contains("first control-plane node cp1 failed in install")
        );
        assert!(
            summary
                .nodes
                .iter()
                .filter(|n| n.node != "cp1")
                .all(|n| n.stopped)
        );
    }

    #[test]
    fn upload_sends_each_node_only_its_own_files_and_install_runs_as_root() {
        let cp1 = FakeRemote::node();
        let worker1 = FakeRemote::node();
        let (cp1_calls, worker1_calls) = (cp1.calls(), worker1.calls());
        let context = context(ExampleKind::Basic, vec![("cp1", cp1), ("worker1", worker1)]);
        assert!(run(&context, &phases(), &Quiet).is_ok());
        let names = |calls: &Calls| -> (Vec<String>, Vec<String>) {
            let calls = calls.lock().unwrap();
            let commands: Vec<String> = calls.iter().map(|(c, _)| c.clone()).collect();
            let (_, tar) = calls
                .iter()
                .find(|(c, _)| c.contains("tar -x"))
                .expect("an upload");
            let mut archive = tar::Archive::new(tar.as_slice());
            let files = archive
                .entries()
                .unwrap()
                .map(|e| e.unwrap().path().unwrap().display().to_string())
                .collect();
            (commands, files)
        };
        let (commands, files) = names(&worker1_calls);
        assert_eq!(commands[0], "sudo -n sh -c 'id -u'");
        assert!(
            commands.iter().any(|c| c.starts_with("sudo -n sh -c")
                && c.contains(".kbundle/demo")
                && c.contains("/install.sh")),
            "{commands:#?}"
        );
        assert!(
            files.contains(&"install.sh".to_owned()) && files.contains(&"SHA256SUMS".to_owned())
        );
        assert!(files.contains(&"rootfs/etc/kubernetes/kubelet.conf".to_owned()));
        assert!(
            !files
                .iter()
                .any(|f| f.ends_with(".key") || f.starts_with("addons/")),
            "{files:#?}"
        );
        let (_, files) = names(&cp1_calls);
        assert!(files.contains(&"addons/00-nodes.yaml".to_owned()));
        assert!(files.contains(&"rootfs/etc/kubernetes/pki/ca.key".to_owned()));
    }

    #[test]
    fn node_ranges_refuses_a_bundle_that_would_move_a_range_before_applying_anything() {
        // The basic example plans cp1 10.244.74.0/24; the cluster says cp1 has 10.244.0.0/24
        // (given by a bundle made in config order) and worker1 registered without a range.
        let listing = Ok(Output {
            status: Some(0),
            stdout: "cp1 10.244.0.0/24\nworker1 \n".into(),
            stderr: String::new(),
        });
        let cp1 = FakeRemote::node().first("get nodes -o jsonpath", listing);
        let calls = cp1.calls();
        let context = context(ExampleKind::Basic, vec![("cp1", cp1)]);
        let summary = run(&context, &phases(), &Quiet);
        let cp1 = summary.nodes.iter().find(|n| n.node == "cp1").unwrap();
        let (phase, reason) = cp1.failure.clone().expect("cp1 fails");
        assert_eq!(phase, "node-ranges");
        assert!(
            reason.starts_with(
                "node cp1 has the pod range 10.244.0.0/24 and this bundle plans 10.244.74.0/24 \
                 for it; no Node was changed"
            ) && reason.contains("kbundle generate --from OLD_BUNDLE.zip"),
            "{reason}"
        );
        let commands: Vec<String> = calls
            .lock()
            .unwrap()
            .iter()
            .map(|(c, _)| c.clone())
            .collect();
        assert!(
            !commands
                .iter()
                .any(|c| c.contains("apply --server-side") || c.contains(" taint ")),
            "{commands:#?}"
        );
    }

    fn ok(stdout: &str) -> Result<Output, SshError> {
        Ok(Output {
            status: Some(0),
            stdout: stdout.to_owned(),
            stderr: String::new(),
        })
    }

    /// A control-plane node whose installed etcd manifest differs from the bundle's, and whose
    /// control plane answers the gate's looks with `looks` in turn.
    fn changed_etcd(looks: &[&str]) -> FakeRemote {
        FakeRemote::node()
            .first(
                "\"$f\"; fi; done",
                ok("0000 /etc/kubernetes/manifests/etcd.yaml\n"),
            )
            .answers("pgrep -xo", looks.iter().map(|look| ok(look)).collect())
    }

    fn install_groups(context: &Context) -> Vec<(Vec<String>, bool)> {
        crate::apply::rolling::groups(context, &phases::Install)
            .into_iter()
            .map(|group| {
                (
                    group
                        .nodes
                        .iter()
                        .map(|i| context.nodes[*i].name.clone())
                        .collect(),
                    group.gated,
                )
            })
            .collect()
    }

    #[test]
    fn control_plane_nodes_whose_static_pods_change_are_installed_one_at_a_time() {
        // cp2's etcd is restarted by the kubelet between the second and the third look; cp3's
        // answers a new process at once.
        let cp2 = changed_etcd(&[
            "etcd ok 100\nkube-apiserver ok 200\nkube-scheduler ok 300\n",
            "etcd ok 100\nkube-apiserver ok 200\nkube-scheduler ok 300\n",
            "etcd down 101\nkube-apiserver down 200\nkube-scheduler ok 300\n",
            "etcd ok 101\nkube-apiserver ok 200\nkube-scheduler ok 300\n",
        ]);
        let cp3 = changed_etcd(&[
            "etcd ok 500\nkube-apiserver ok 600\nkube-scheduler ok 700\n",
            "etcd ok 501\nkube-apiserver ok 600\nkube-scheduler ok 700\n",
        ]);
        let (cp2_calls, cp3_calls) = (cp2.calls(), cp3.calls());
        let context = context(
            ExampleKind::HighAvailability,
            vec![("cp2", cp2), ("cp3", cp3)],
        );
        let recorder = Recorder(Mutex::new(Vec::new()));
        let summary = run(&context, &phases(), &recorder);
        assert!(summary.is_ok(), "{summary:?}");
        let workers = vec!["worker1".to_owned(), "worker2".to_owned()];
        assert_eq!(
            install_groups(&context),
            vec![
                (vec!["cp1".to_owned()], false),
                (vec!["cp2".to_owned()], true),
                (vec!["cp3".to_owned()], true),
                (workers, false),
            ]
        );
        let events = recorder.0.lock().unwrap();
        let install: Vec<(&str, &str)> = events
            .iter()
            .filter_map(|event| match event {
                Event::Done {
                    phase,
                    node,
                    detail,
                    ..
                } if phase == "install" => Some((node.as_str(), detail.as_str())),
                _ => None,
            })
            .collect();
        let order: Vec<&str> = install.iter().map(|(node, _)| *node).collect();
        assert_eq!(&order[..3], &["cp1", "cp2", "cp3"]);
        for (node, detail) in &install[1..3] {
            assert!(
                detail.contains("; etcd, kube-apiserver, kube-scheduler healthy again after"),
                "{node}: {detail}"
            );
        }
        // The gate looked before install.sh and until the new etcd was healthy.
        let commands = |calls: &Calls| -> Vec<String> {
            calls
                .lock()
                .unwrap()
                .iter()
                .map(|(command, _)| command.clone())
                .collect()
        };
        let cp2 = commands(&cp2_calls);
        let install_at = cp2.iter().position(|c| c.contains("/install.sh")).unwrap();
        let looks: Vec<usize> = cp2
            .iter()
            .enumerate()
            .filter(|(_, c)| c.contains("pgrep -xo"))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(looks.len(), 4, "{cp2:#?}");
        assert!(looks[0] < install_at && looks[1] > install_at);
        assert_eq!(
            commands(&cp3_calls)
                .iter()
                .filter(|c| c.contains("pgrep -xo"))
                .count(),
            2
        );
    }

    #[test]
    fn a_re_apply_that_changes_no_static_pod_keeps_the_control_plane_parallel() {
        let context = context(ExampleKind::HighAvailability, Vec::new());
        assert!(run(&context, &phases(), &Quiet).is_ok());
        let groups = install_groups(&context);
        assert!(groups.iter().all(|(_, gated)| !gated), "{groups:?}");
        assert_eq!(groups[1].0, vec!["cp2".to_owned(), "cp3".to_owned()]);
    }

    #[test]
    fn a_node_not_healthy_again_stops_the_rolling_restart_before_the_next() {
        let cp2 = changed_etcd(&[
            "etcd ok 100\nkube-apiserver ok 200\n",
            "etcd down 101\nkube-apiserver down 200\n",
        ]);
        let cp3 = changed_etcd(&["etcd ok 500\nkube-apiserver ok 600\n"]);
        let cp3_calls = cp3.calls();
        let mut context = context(
            ExampleKind::HighAvailability,
            vec![("cp2", cp2), ("cp3", cp3)],
        );
        context.options.wait_timeout = Duration::from_secs(2);
        let summary = run(&context, &phases(), &Quiet);
        let cp2 = summary.nodes.iter().find(|n| n.node == "cp2").unwrap();
        let (phase, reason) = cp2.failure.clone().expect("cp2 fails");
        assert_eq!(phase, "install");
        assert!(
            reason.starts_with("not healthy again within 2s of its install: etcd (not healthy), kube-apiserver (not healthy)"),
            "{reason}"
        );
        assert!(
            summary
                .stopped_because
                .as_deref()
                .unwrap_or_default()
                .contains("install failed on cp2 during a rolling restart"),
            "{summary:?}"
        );
        // cp3 was looked at (rollout) but never installed.
        assert!(
            !cp3_calls
                .lock()
                .unwrap()
                .iter()
                .any(|(c, _)| c.contains("/install.sh")),
        );
    }

    #[test]
    fn secrets_never_reach_the_log() {
        let line = "sudo: hunter2\n-----BEGIN EC PRIVATE KEY-----\nabc\n-----END EC PRIVATE KEY-----\nafter\n-----BEGIN CERTIFICATE-----\npublic\n-----END CERTIFICATE-----\n-----BEGIN RSA PRIVATE KEY-----\ncut off";
        let redacted = redact(line, &["hunter2".into()]);
        assert_eq!(
            redacted,
            "sudo: <redacted>\n<private key redacted>\nafter\n-----BEGIN CERTIFICATE-----\npublic\n-----END CERTIFICATE-----\n<private key redacted>"
        );
    }
}
