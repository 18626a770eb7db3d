//! `kbundle join-token`'s one phase: on the first control-plane node, create a fresh bootstrap
//! token Secret (its manifest on kubectl's standard input, never on a command line), then put
//! the bundle's `join/` folder carrying that token in place locally. The folder is written
//! beside its destination and renamed into place only once the token exists, so a failed run
//! leaves no folder whose token the cluster does not know.

use std::path::{Path, PathBuf};

use kbundle_core::bundle::token::{join_folder, token_secret};
use kbundle_core::pki::BootstrapToken;

use super::{first_control_plane, root, root_with_input};
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

/// Creates a bootstrap token and writes the join folder that carries it.
pub(crate) struct MintJoinToken {
    /// The new token (drawn from the operating system's generator by the command).
    pub(crate) token: BootstrapToken,
    /// When it expires, unix seconds.
    pub(crate) expires_at: i64,
    /// `expires_at` as the Secret writes it (RFC 3339), for the report.
    pub(crate) expiration: String,
    /// The folder to write; must not exist.
    pub(crate) output: PathBuf,
}

const KUBECTL: &str = "kubectl --kubeconfig /etc/kubernetes/admin.conf";

impl Phase for MintJoinToken {
    fn name(&self) -> &'static str {
        "join-token"
    }

    fn title(&self) -> &'static str {
        "Create a bootstrap token and write a join folder with it"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        first_control_plane(context)
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        // Everything that can fail locally is done before the cluster is changed.
        let entries = join_folder(&context.bundle, &self.token).map_err(|e| e.to_string())?;
        let secret = token_secret(&context.bundle, &self.token, self.expires_at)
            .map_err(|e| e.to_string())?;
        let staging =
            crate::files::hidden_sibling(&self.output, "tmp").map_err(|e| e.to_string())?;
        let files = entries
            .iter()
            .map(|entry| (entry.path.as_str(), entry.contents.as_slice(), entry.mode));
        if let Err(error) = crate::files::write_folder(&staging, files) {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(format!("writing `{}`: {error}", staging.display()));
        }
        let created = root_with_input(
            context,
            node,
            &format!("{KUBECTL} create -f - -o name"),
            secret.as_bytes(),
        );
        if let Err(reason) = created {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(format!("creating the bootstrap token Secret: {reason}"));
        }
        if let Err(error) = place(&staging, &self.output) {
            let _ = std::fs::remove_dir_all(&staging);
            // A token nobody holds is useless: take it back rather than leave it valid.
            let _ = root(
                context,
                node,
                &format!(
                    "{KUBECTL} -n kube-system delete secret {}",
                    quote(&format!("bootstrap-token-{}", self.token.id))
                ),
            );
            return Err(format!(
                "writing `{}`: {error} (the new token was deleted again)",
                self.output.display()
            ));
        }
        Ok(format!(
            "bootstrap token {} created, expires at {}; `{}` holds the join folder with it: copy it to the new node and run `sh {}/install.sh NAME ADDRESS` there as root",
            self.token.id,
            self.expiration,
            self.output.display(),
            self.output
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
    }
}

/// Renames the finished folder into place, refusing to replace anything.
fn place(staging: &Path, output: &Path) -> std::io::Result<()> {
    // rename(2) would replace an empty directory: checked again here, right before it.
    if output.symlink_metadata().is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "it exists now",
        ));
    }
    std::fs::rename(staging, output)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kbundle_core::bundle::Bundle;
    use kbundle_core::config::{ExampleKind, RawClusterConfig, example_yaml};
    use kbundle_core::pki::PkiInputs;

    use super::*;
    use crate::apply::{ApplyOptions, NodeTarget};
    use crate::ssh::fake::FakeRemote;
    use crate::ssh::{Become, Output, SshError};

    fn scratch(name: &str) -> PathBuf {
        let directory =
            std::env::temp_dir().join(format!("kbundle-join-token-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        directory
    }

    fn context(remote: FakeRemote) -> Context {
        let raw = RawClusterConfig::from_yaml(&example_yaml(ExampleKind::Basic)).unwrap();
        let bundle = Bundle::generate(
            &raw,
            &PkiInputs {
                seed: [3; 32],
                issued_at: 1_790_000_000,
                existing_cas: Vec::new(),
            },
        )
        .unwrap();
        let node = bundle.manifest.nodes[0].clone();
        Context::new(
            bundle,
            vec![NodeTarget {
                name: node.name,
                addresses: node.addresses,
                roles: node.roles,
                remote: Box::new(remote),
                become_root: Become::SudoPassword("hunter2".into()),
            }],
            ApplyOptions {
                concurrency: 1,
                command_timeout: Duration::from_secs(5),
                wait_timeout: Duration::from_secs(5),
                ignore_preflight: Vec::new(),
                skip_phases: Vec::new(),
                force: false,
                break_lock: false,
                wipe_data: false,
                prune: false,
            },
        )
    }

    fn phase(output: PathBuf) -> MintJoinToken {
        MintJoinToken {
            token: BootstrapToken::from_seed([5; 32]),
            expires_at: 1_790_003_600,
            expiration: "2026-09-21T15:13:20Z".into(),
            output,
        }
    }

    #[test]
    fn creates_the_secret_from_stdin_and_writes_the_folder_private() {
        let remote = FakeRemote::node();
        let calls = remote.calls();
        let context = context(remote);
        let output = scratch("ok").join("join-worker9");
        let phase = phase(output.clone());
        let detail = phase.run_on(&context, &context.nodes[0]).unwrap();
        let token = phase.token.token();
        assert!(!detail.contains(&phase.token.secret), "{detail}");
        assert!(detail.contains(&phase.token.id) && detail.contains("2026-09-21T15:13:20Z"));

        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1, "{calls:?}");
        let (command, stdin) = &calls[0];
        assert!(command.contains("admin.conf create -f -"), "{command}");
        assert!(
            !command.contains(&phase.token.secret),
            "the secret is not in argv"
        );
        let stdin = String::from_utf8(stdin.clone()).unwrap();
        assert!(
            stdin.starts_with("hunter2\n"),
            "sudo's password comes first"
        );
        let secret: serde_json::Value = serde_json::from_str(&stdin["hunter2\n".len()..]).unwrap();
        assert_eq!(
            secret["metadata"]["name"],
            format!("bootstrap-token-{}", phase.token.id).as_str()
        );

        use std::os::unix::fs::PermissionsExt as _;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let kubeconfig = output.join("rootfs/etc/kubernetes/bootstrap-kubelet.conf");
        assert_eq!(mode(&output), 0o700);
        assert_eq!(mode(&kubeconfig), 0o600);
        assert_eq!(mode(&output.join("install.sh")), 0o755);
        assert!(
            std::fs::read_to_string(&kubeconfig)
                .unwrap()
                .contains(&token)
        );
        assert!(output.join("SHA256SUMS").exists());
        let leftovers: Vec<_> = std::fs::read_dir(output.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "only the folder: {leftovers:?}");
    }

    #[test]
    fn a_refused_secret_leaves_no_folder_behind() {
        let remote = FakeRemote::node().answer(
            "create -f -",
            Ok(Output {
                status: Some(1),
                stdout: String::new(),
                stderr: "error: the server has asked for the client to provide credentials\n"
                    .into(),
            }),
        );
        let context = context(remote);
        let parent = scratch("refused");
        let error = phase(parent.join("join-worker9"))
            .run_on(&context, &context.nodes[0])
            .unwrap_err();
        assert!(
            error.contains("creating the bootstrap token Secret"),
            "{error}"
        );
        assert_eq!(
            std::fs::read_dir(&parent).unwrap().count(),
            0,
            "nothing written"
        );
    }

    #[test]
    fn a_lost_connection_leaves_no_folder_behind() {
        let remote = FakeRemote::node().answer(
            "create -f -",
            Err(SshError::Timeout(Duration::from_secs(5))),
        );
        let context = context(remote);
        let parent = scratch("lost");
        assert!(
            phase(parent.join("join-worker9"))
                .run_on(&context, &context.nodes[0])
                .is_err()
        );
        assert_eq!(
            std::fs::read_dir(&parent).unwrap().count(),
            0,
            "nothing written"
        );
    }

    #[test]
    fn an_output_that_appeared_meanwhile_is_not_replaced_and_the_token_is_taken_back() {
        let remote = FakeRemote::node();
        let calls = remote.calls();
        let context = context(remote);
        let parent = scratch("raced");
        let output = parent.join("join-worker9");
        std::fs::create_dir(&output).unwrap();
        let phase = phase(output.clone());
        let error = phase.run_on(&context, &context.nodes[0]).unwrap_err();
        assert!(error.contains("deleted again"), "{error}");
        assert_eq!(
            std::fs::read_dir(&output).unwrap().count(),
            0,
            "left as it was"
        );
        assert_eq!(
            std::fs::read_dir(&parent).unwrap().count(),
            1,
            "no staging left"
        );
        let calls = calls.lock().unwrap();
        assert!(
            calls.last().unwrap().0.contains(&format!(
                "delete secret '\\''bootstrap-token-{}'\\''",
                phase.token.id
            )),
            "{calls:?}"
        );
    }
}
