//! [`Remote`] over the system's OpenSSH client. One master connection per node
//! (`ControlMaster`), reused by every command of the run; host keys are checked against
//! known_hosts (refusing unknown and changed keys unless told to accept new ones); connect and
//! keepalive timeouts so a dead node is reported, never waited on forever.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Output, Remote, SshError};

/// How to reach one node.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) address: String,
    pub(crate) user: String,
    pub(crate) port: u16,
    pub(crate) identity_file: Option<String>,
    pub(crate) jump_hosts: Vec<String>,
}

/// Client-wide settings.
#[derive(Debug, Clone)]
pub(crate) struct ClientOptions {
    /// `ssh -F`; `None` uses the user's `~/.ssh/config`.
    pub(crate) config_file: Option<PathBuf>,
    /// known_hosts to check against; `None` uses OpenSSH's defaults.
    pub(crate) known_hosts: Option<PathBuf>,
    /// Trust and record keys of hosts seen for the first time.
    pub(crate) accept_new_host_keys: bool,
    pub(crate) connect_timeout: Duration,
    /// Folder of the control sockets (private to this run).
    pub(crate) control_dir: PathBuf,
}

/// A node over OpenSSH.
pub(crate) struct OpenSsh {
    target: Target,
    options: ClientOptions,
}

impl OpenSsh {
    pub(crate) fn new(target: Target, options: ClientOptions) -> Self {
        Self { target, options }
    }

    fn command(&self) -> Command {
        let mut command = Command::new("ssh");
        if let Some(config) = &self.options.config_file {
            command.arg("-F").arg(config);
        }
        let timeout = self.options.connect_timeout.as_secs().max(1);
        let checking = if self.options.accept_new_host_keys {
            "accept-new"
        } else {
            "yes"
        };
        command.args([
            "-o",
            "BatchMode=yes",
            "-o",
            &format!("StrictHostKeyChecking={checking}"),
            "-o",
            &format!("ConnectTimeout={timeout}"),
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            "-o",
            "ControlMaster=auto",
            "-o",
            "ControlPersist=120",
            "-o",
            "LogLevel=ERROR",
        ]);
        command.arg("-o").arg(format!(
            "ControlPath={}",
            self.options.control_dir.join("%C").display()
        ));
        if let Some(known_hosts) = &self.options.known_hosts {
            command
                .arg("-o")
                .arg(format!("UserKnownHostsFile={}", known_hosts.display()));
        }
        if let Some(identity) = &self.target.identity_file {
            command.arg("-i").arg(expand_home(identity));
        }
        if !self.target.jump_hosts.is_empty() {
            command.arg("-J").arg(self.target.jump_hosts.join(","));
        }
        command.arg("-p").arg(self.target.port.to_string());
        command.arg(format!("{}@{}", self.target.user, self.target.address));
        command
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// What OpenSSH's exit 255 means, from its message.
fn classify(stderr: &str) -> SshError {
    let message = stderr
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with("@@@"))
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_owned();
    if message.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || message.contains("Host key verification failed")
    {
        let hint = if message.contains("CHANGED") {
            "the node's host key differs from the one in known_hosts: if the node was reinstalled, remove its old key (ssh-keygen -R <address>); otherwise someone may be in the middle"
        } else {
            "the node's host key is not in known_hosts: check it and add it (ssh-keyscan), or pass --accept-new-host-keys to trust it on first use"
        };
        SshError::HostKey(format!("host key refused: {hint}"))
    } else {
        SshError::Connect(if message.is_empty() {
            "ssh failed".into()
        } else {
            message
        })
    }
}

/// What a command gets on its standard input.
enum Input {
    Bytes(Vec<u8>),
    /// Copied from the file as the remote side reads it, never held in memory whole.
    File(std::fs::File),
}

impl Remote for OpenSsh {
    fn run(&self, command: &str, stdin: &[u8], timeout: Duration) -> Result<Output, SshError> {
        self.run_input(command, Input::Bytes(stdin.to_vec()), timeout)
    }

    fn run_with_file(
        &self,
        command: &str,
        path: &Path,
        timeout: Duration,
    ) -> Result<Output, SshError> {
        let file = std::fs::File::open(path)
            .map_err(|error| SshError::Client(format!("reading `{}`: {error}", path.display())))?;
        self.run_input(command, Input::File(file), timeout)
    }
}

impl OpenSsh {
    fn run_input(
        &self,
        command: &str,
        stdin: Input,
        timeout: Duration,
    ) -> Result<Output, SshError> {
        let mut ssh = self.command();
        ssh.arg("--").arg(command);
        ssh.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = ssh
            .spawn()
            .map_err(|error| SshError::Client(format!("{error} (is OpenSSH's ssh installed?)")))?;
        let mut input = child.stdin.take();
        let writer = std::thread::spawn(move || {
            if let Some(input) = input.as_mut() {
                let _ = match stdin {
                    Input::Bytes(data) => input.write_all(&data),
                    Input::File(mut file) => std::io::copy(&mut file, input).map(drop),
                };
            }
        });
        let mut stdout_pipe = child.stdout.take();
        let mut stderr_pipe = child.stderr.take();
        let stdout_reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(pipe) = stdout_pipe.as_mut() {
                let _ = pipe.read_to_end(&mut text);
            }
            text
        });
        let stderr_reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(pipe) = stderr_pipe.as_mut() {
                let _ = pipe.read_to_end(&mut text);
            }
            text
        });
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    // Our own child, by its handle: never a pattern.
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(error) => return Err(SshError::Client(error.to_string())),
            }
        };
        let _ = writer.join();
        let stdout =
            String::from_utf8_lossy(&stdout_reader.join().unwrap_or_default()).into_owned();
        let stderr =
            String::from_utf8_lossy(&stderr_reader.join().unwrap_or_default()).into_owned();
        let Some(status) = status else {
            return Err(SshError::Timeout(timeout));
        };
        match status.code() {
            Some(255) => Err(classify(&stderr)),
            code => Ok(Output {
                status: code,
                stdout,
                stderr,
            }),
        }
    }
}

impl Drop for OpenSsh {
    fn drop(&mut self) {
        // Close the master connection; quietly, it may never have been opened.
        let mut exit = self.command();
        exit.args(["-O", "exit"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = exit.status();
    }
}
