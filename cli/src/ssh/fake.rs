//! A recording [`Remote`] for unit tests of phases and the runner: it answers commands from a
//! script of (substring → output) rules and records every command it was given.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Output, Remote, SshError};

/// Every call: the command and what was fed on stdin.
pub(crate) type Calls = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Answers given in turn to commands containing a needle, and how many were given.
type Sequence = (String, Vec<Result<Output, SshError>>, Mutex<usize>);

#[derive(Default)]
pub(crate) struct FakeRemote {
    rules: Vec<(String, Result<Output, SshError>)>,
    /// Rules answering in turn (the last answer repeats), for a node that changes between two
    /// looks; they come before `rules`. Each with how many times it answered.
    sequences: Vec<Sequence>,
    calls: Calls,
}

impl FakeRemote {
    /// A healthy node: the login becomes root, the lock is free. Rules added later come after.
    pub(crate) fn node() -> Self {
        let ok = |stdout: &str| {
            Ok(Output {
                status: Some(0),
                stdout: stdout.to_owned(),
                stderr: String::new(),
            })
        };
        Self::default()
            .answer("id -u", ok("0\n"))
            .answer("mkdir /var/lib/kbundle/lock", ok("locked\n"))
    }

    /// Rules put before every existing one.
    pub(crate) fn first(mut self, needle: &str, output: Result<Output, SshError>) -> Self {
        self.rules.insert(0, (needle.to_owned(), output));
        self
    }

    /// Commands containing `needle` answer `output` (first matching rule wins; default: exit 0).
    pub(crate) fn answer(mut self, needle: &str, output: Result<Output, SshError>) -> Self {
        self.rules.push((needle.to_owned(), output));
        self
    }

    /// Commands containing `needle` answer `outputs` in turn, the last one from then on.
    pub(crate) fn answers(mut self, needle: &str, outputs: Vec<Result<Output, SshError>>) -> Self {
        self.sequences
            .push((needle.to_owned(), outputs, Mutex::new(0)));
        self
    }

    /// The record of calls (command, stdin), shared: keep it before boxing the fake.
    pub(crate) fn calls(&self) -> Calls {
        Arc::clone(&self.calls)
    }
}

impl Remote for FakeRemote {
    fn run(&self, command: &str, stdin: &[u8], _timeout: Duration) -> Result<Output, SshError> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((command.to_owned(), stdin.to_vec()));
        }
        if let Some((_, outputs, used)) = self
            .sequences
            .iter()
            .find(|(needle, outputs, _)| command.contains(needle.as_str()) && !outputs.is_empty())
        {
            let mut used = used
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let answer = outputs[(*used).min(outputs.len() - 1)].clone();
            *used += 1;
            return answer;
        }
        self.rules
            .iter()
            .find(|(needle, _)| command.contains(needle.as_str()))
            .map(|(_, output)| output.clone())
            .unwrap_or(Ok(Output {
                status: Some(0),
                ..Output::default()
            }))
    }
}
