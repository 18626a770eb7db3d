//! The real programs the end-to-end suites drive (openssl, etcd, kubectl, python3, ip): finding
//! them, refusing to run without them or without root, and running them with a time limit.
//! Tests never skip themselves, so a missing program is a panic that names the install script.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What to run when a program or a privilege is missing.
pub const INSTALL_HINT: &str = "run scripts/install-test-deps.sh as root (it installs openssl, \
     iproute2, python3, etcd-server, etcd-client and kubectl), then run the tests as root";

/// The full path of `program` on `PATH`; panics with [`INSTALL_HINT`] when it is not there.
pub fn require_program(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .unwrap_or_else(|| panic!("`{program}` is not on PATH: {INSTALL_HINT}"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Panics unless the tests run as root (network namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN).
pub fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .unwrap_or("unknown");
    assert!(
        uid == "0",
        "these suites create network namespaces and must run as root (effective uid is {uid}): \
         {INSTALL_HINT}"
    );
}

/// A finished program: its exit status and output as text.
#[derive(Debug)]
pub struct Finished {
    /// What ran, for messages.
    pub command: String,
    /// Exit status; `None` when it was killed for running too long.
    pub status: Option<ExitStatus>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Finished {
    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }

    /// Standard output, after panicking with everything known unless it succeeded.
    pub fn expect_success(&self) -> &str {
        assert!(self.success(), "expected success:\n{self}");
        &self.stdout
    }

    /// Panics with everything known if it succeeded: for checks that must be refused.
    pub fn expect_failure(&self) -> &Self {
        assert!(
            self.status.is_some() && !self.success(),
            "expected a refusal (non-zero exit):\n{self}"
        );
        self
    }

    /// Standard output and standard error together.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = match self.status {
            Some(status) => status.to_string(),
            None => "killed after its time limit".to_owned(),
        };
        write!(
            f,
            "$ {}\n{status}\n--- stdout\n{}--- stderr\n{}",
            self.command, self.stdout, self.stderr
        )
    }
}

/// `program args…` as one line, for messages.
pub fn describe(command: &Command) -> String {
    let mut words = vec![command.get_program().to_string_lossy().into_owned()];
    words.extend(
        command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned()),
    );
    words.join(" ")
}

/// Runs `command` with no stdin and waits at most `limit`; a program still running then is
/// killed (by its pid, through its `Child`) and reported with status `None`.
pub fn run(command: Command, limit: Duration) -> Finished {
    run_with(command, None, limit, INSTALL_HINT)
}

/// Runs `command` with `input` on its standard input, like [`run`]; `hint` says what to install
/// when the program cannot start.
pub fn run_with(
    mut command: Command,
    input: Option<&str>,
    limit: Duration,
    hint: &str,
) -> Finished {
    let described = describe(&command);
    let stdin = if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    let mut child = command
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start `{described}`: {error}: {hint}"));
    let writer = child.stdin.take().zip(input).map(|(mut stdin, input)| {
        let input = input.to_owned();
        // A program that exits without reading makes this fail: that is its business.
        thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, input.as_bytes());
        })
    });
    let readers = [
        child.stdout.take().map(|pipe| drain(Box::new(pipe))),
        child.stderr.take().map(|pipe| drain(Box::new(pipe))),
    ];
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => {
                // Killing an already-exited child fails harmlessly; wait reaps it either way.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let [stdout, stderr] = readers.map(|reader| {
        reader
            .map(|handle| handle.join().unwrap_or_default())
            .unwrap_or_default()
    });
    Finished {
        command: described,
        status,
        stdout,
        stderr,
    }
}

fn drain(mut pipe: Box<dyn Read + Send>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A `Command` for `program` with the proxy variables removed, so that no client ever routes
/// test traffic through a proxy.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    for variable in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
        "KUBECONFIG",
    ] {
        command.env_remove(variable);
    }
    command
}
