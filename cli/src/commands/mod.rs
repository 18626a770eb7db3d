//! One module per subcommand, plus how findings about a config are shown.

pub(crate) mod init;
pub(crate) mod plan;
pub(crate) mod validate;

use std::path::Path;

use kbundle_core::config::diagnostic::count;
use kbundle_core::config::{ClusterConfig, Diagnostic, Diagnostics, Validated};

use crate::files;

/// Why a command failed, which decides the exit code.
pub(crate) enum Failure {
    /// The input was invalid; the findings have been printed already.
    Invalid,
    /// Anything else (I/O, …).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::Other(error)
    }
}

/// Reads and validates a cluster.yaml. Warnings go to standard error; errors too, after which
/// the command fails as invalid input.
pub(crate) fn load_config(path: &Path) -> Result<Validated, Failure> {
    let text = files::read_input(path)?;
    match ClusterConfig::from_yaml(&text) {
        Ok(validated) => {
            print_findings(path, &validated.warnings);
            Ok(validated)
        }
        Err(diagnostics) => {
            print_invalid(path, &diagnostics);
            Err(Failure::Invalid)
        }
    }
}

fn print_invalid(path: &Path, diagnostics: &Diagnostics) {
    print_findings(path, &diagnostics.0);
    eprintln!(
        "{}: {}, nothing was done",
        display_name(path),
        count(diagnostics.errors().count(), "error")
    );
}

fn print_findings(path: &Path, findings: &[Diagnostic]) {
    let name = display_name(path);
    for finding in findings {
        let label = if finding.is_error() {
            "error"
        } else {
            "warning"
        };
        eprintln!("{label}: {name}: {finding}");
    }
}

/// The file name as given, or `<stdin>`.
pub(crate) fn display_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}
