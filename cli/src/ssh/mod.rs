//! The SSH seam. Phases talk to nodes only through [`Remote`]: the real implementation drives
//! the OpenSSH client (so `~/.ssh/config`, ssh-agent, known_hosts and jump hosts work the way
//! OpenSSH users expect), and tests can swap in a recording double.

#[cfg(test)]
pub(crate) mod fake;
pub(crate) mod openssh;

use std::time::Duration;

/// What a remote command printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Output {
    /// Exit status; `None` when it was cut off (timeout, lost connection).
    pub(crate) status: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    pub(crate) fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The last non-empty line of stderr (or stdout): the usual reason a command gives.
    pub(crate) fn reason(&self) -> String {
        self.stderr
            .lines()
            .chain(self.stdout.lines())
            .rfind(|line| !line.trim().is_empty())
            .unwrap_or("no output")
            .trim()
            .to_owned()
    }
}

/// Why talking to a node failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SshError {
    /// The connection could not be made (unreachable, refused, authentication).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The host key is unknown or has changed.
    #[error("{0}")]
    HostKey(String),
    /// The command did not finish in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The ssh client itself could not run.
    #[error("running ssh: {0}")]
    Client(String),
}

/// A node reachable over SSH.
pub(crate) trait Remote: Send + Sync {
    /// Runs a POSIX shell command on the node as the login user, feeding `stdin`.
    fn run(&self, command: &str, stdin: &[u8], timeout: Duration) -> Result<Output, SshError>;

    /// Like [`Remote::run`], with the local file `path` on the command's standard input. An
    /// implementation should stream it: artifacts (a kubelet, image tarballs) are tens to
    /// hundreds of MiB, and many nodes are served at once. This default reads it whole.
    fn run_with_file(
        &self,
        command: &str,
        path: &std::path::Path,
        timeout: Duration,
    ) -> Result<Output, SshError> {
        let data = std::fs::read(path)
            .map_err(|error| SshError::Client(format!("reading `{}`: {error}", path.display())))?;
        self.run(command, &data, timeout)
    }
}

/// How to become root on the node.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Become {
    /// The login user is root.
    Root,
    /// `sudo` without a password.
    Sudo,
    /// `sudo` with this password (asked once, kept in memory only).
    SudoPassword(String),
}

impl std::fmt::Debug for Become {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Root => f.write_str("Root"),
            Self::Sudo => f.write_str("Sudo"),
            Self::SudoPassword(_) => f.write_str("SudoPassword(<redacted>)"),
        }
    }
}

/// Single-quotes `text` for a POSIX shell.
pub(crate) fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

impl Become {
    /// Wraps `command` to run as root; returns the command and what to put first on stdin.
    pub(crate) fn wrap(&self, command: &str) -> (String, Vec<u8>) {
        match self {
            Self::Root => (format!("sh -c {}", quote(command)), Vec::new()),
            // -n: never prompt; a missing rule fails at once instead of hanging.
            Self::Sudo => (format!("sudo -n sh -c {}", quote(command)), Vec::new()),
            // -S reads the password from stdin, -p '' keeps the prompt off stderr; -k makes sudo
            // always read it, so a cached ticket cannot leave the password on the command's stdin.
            Self::SudoPassword(password) => (
                format!("sudo -k -S -p '' sh -c {}", quote(command)),
                format!("{password}\n").into_bytes(),
            ),
        }
    }
}

/// Runs `command` as root on `remote`.
pub(crate) fn run_as_root(
    remote: &dyn Remote,
    become_root: &Become,
    command: &str,
    timeout: Duration,
) -> Result<Output, SshError> {
    let (wrapped, stdin) = become_root.wrap(command);
    remote.run(&wrapped, &stdin, timeout)
}

/// Runs `command` as root on `remote` with `input` on its standard input, after what becoming
/// root reads there (sudo reads its password one byte at a time up to the newline, so the rest
/// is the command's). For secrets: they stay out of every command line a `ps` on the node shows.
pub(crate) fn run_as_root_with_input(
    remote: &dyn Remote,
    become_root: &Become,
    command: &str,
    input: &[u8],
    timeout: Duration,
) -> Result<Output, SshError> {
    let (wrapped, mut stdin) = become_root.wrap(command);
    stdin.extend_from_slice(input);
    remote.run(&wrapped, &stdin, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_survive_single_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn sudo_password_goes_on_stdin_never_on_the_command_line() {
        let (command, stdin) = Become::SudoPassword("hunter2".into()).wrap("id -u");
        assert!(!command.contains("hunter2"));
        assert_eq!(stdin, b"hunter2\n");
        assert!(!format!("{:?}", Become::SudoPassword("hunter2".into())).contains("hunter2"));
    }
}
