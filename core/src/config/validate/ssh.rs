//! `spec.ssh` and each node's `ssh`: how apply logs in, a node's fields falling back to the
//! cluster's.

use super::*;
use crate::config::raw::RawSsh;

const DEFAULT_SSH_USER: &str = "root";
const DEFAULT_SSH_PORT: u16 = 22;

impl Checker {
    pub(super) fn ssh(&mut self, path: &str, raw: &RawSsh, defaults: Option<&Ssh>) -> Option<Ssh> {
        let errors_before = self.error_count();
        let user = match &raw.user {
            Some(user) if user.trim().is_empty() || user.contains(char::is_whitespace) => {
                self.push(
                    Diagnostic::error(format!("{path}.user"), "is not a valid user name")
                        .value(user)
                        .hint("give a login name without spaces, e.g. `ubuntu`"),
                );
                String::new()
            }
            Some(user) => user.clone(),
            None => defaults.map_or_else(|| DEFAULT_SSH_USER.to_owned(), |d| d.user.clone()),
        };
        let port = match raw.port {
            Some(0) => {
                self.push(
                    Diagnostic::error(format!("{path}.port"), "is not a usable port")
                        .value(0)
                        .hint("use 1-65535; sshd listens on 22 by default"),
                );
                0
            }
            Some(port) => port,
            None => defaults.map_or(DEFAULT_SSH_PORT, |d| d.port),
        };
        let identity_file = match &raw.identity_file {
            Some(file) if file.trim().is_empty() => {
                self.push(
                    Diagnostic::error(format!("{path}.identityFile"), "is empty")
                        .hint("give a key path such as `~/.ssh/id_ed25519`, or leave the field out to use ssh-agent"),
                );
                None
            }
            Some(file) => Some(file.clone()),
            None => defaults.and_then(|d| d.identity_file.clone()),
        };
        let jump_hosts = match &raw.jump_hosts {
            Some(hosts) => {
                for (index, host) in hosts.iter().enumerate() {
                    if host.trim().is_empty() || host.contains(char::is_whitespace) {
                        self.push(
                            Diagnostic::error(
                                format!("{path}.jumpHosts[{index}]"),
                                "is not a jump host",
                            )
                            .value(host)
                            .hint("write `[user@]host[:port]`, as for `ssh -J`"),
                        );
                    }
                }
                hosts.clone()
            }
            None => defaults.map(|d| d.jump_hosts.clone()).unwrap_or_default(),
        };
        (self.error_count() == errors_before).then_some(Ssh {
            user,
            port,
            identity_file,
            jump_hosts,
        })
    }
}
