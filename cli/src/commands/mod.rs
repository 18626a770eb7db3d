//! One module per subcommand, plus how findings about a config are shown.

pub(crate) mod apply;
pub(crate) mod artifacts;
pub(crate) mod certs;
pub(crate) mod diff;
pub(crate) mod export;
pub(crate) mod fetch;
pub(crate) mod generate;
pub(crate) mod init;
pub(crate) mod inspect;
pub(crate) mod join_token;
pub(crate) mod plan;
pub(crate) mod validate;
pub(crate) mod verify;

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

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self::Other(error.into())
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

pub(crate) fn print_invalid(path: &Path, diagnostics: &Diagnostics) {
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

/// A bundle's passphrase: from `--passphrase-file`, or asked on the terminal.
pub(crate) fn passphrase(file: Option<&Path>, confirm: bool) -> anyhow::Result<String> {
    use anyhow::Context;
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the passphrase file `{}`", file.display()))?;
        let passphrase = text.lines().next().unwrap_or_default().to_owned();
        anyhow::ensure!(
            !passphrase.is_empty(),
            "the passphrase file `{}` is empty",
            file.display()
        );
        return Ok(passphrase);
    }
    let passphrase = rpassword::prompt_password("bundle passphrase: ")
        .context("asking for the passphrase (no terminal? use --passphrase-file)")?;
    anyhow::ensure!(
        passphrase.len() >= 8,
        "the passphrase must have at least 8 characters"
    );
    if confirm {
        let again = rpassword::prompt_password("again: ").context("asking for the passphrase")?;
        anyhow::ensure!(again == passphrase, "the passphrases differ");
    }
    Ok(passphrase)
}

/// [`read_bundle`], then refuses a bundle that does not verify (each problem printed, then
/// `nothing was <outcome>`) before anything is connected to or written: what `apply` and
/// `export` start with.
pub(crate) fn read_verified_bundle(
    path: &Path,
    passphrase_file: Option<&Path>,
    outcome: &str,
) -> Result<kbundle_core::bundle::Bundle, Failure> {
    let bundle = read_bundle(path, passphrase_file)?;
    let report = kbundle_core::bundle::verify::verify(&bundle, crate::clock::unix_now());
    if !report.is_ok() {
        for problem in &report.problems {
            eprintln!("error: {}: {problem}", path.display());
        }
        eprintln!(
            "{}: refused: the bundle does not verify; nothing was {outcome}",
            path.display()
        );
        return Err(Failure::Invalid);
    }
    Ok(bundle)
}

/// Reads and checks a bundle, asking for the passphrase when it is encrypted.
pub(crate) fn read_bundle(
    path: &Path,
    passphrase_file: Option<&Path>,
) -> Result<kbundle_core::bundle::Bundle, Failure> {
    use anyhow::Context;
    use kbundle_core::bundle::Bundle;
    use kbundle_core::bundle::read::{Limits, ReadError};
    let bytes = std::fs::read(path).with_context(|| format!("reading `{}`", path.display()))?;
    let passphrase = match passphrase_file {
        Some(file) => Some(passphrase(Some(file), false)?),
        None => None,
    };
    match Bundle::from_zip(&bytes, passphrase.as_deref(), Limits::default()) {
        Ok(bundle) => Ok(bundle),
        Err(ReadError::NeedsPassphrase) if passphrase.is_none() => {
            let asked = self::passphrase(None, false)?;
            Bundle::from_zip(&bytes, Some(&asked), Limits::default())
                .map_err(|error| refused(path, &error))
        }
        Err(error) => Err(refused(path, &error)),
    }
}

fn refused(path: &Path, error: &kbundle_core::bundle::read::ReadError) -> Failure {
    eprintln!("error: {}: refused: {error}", path.display());
    Failure::Invalid
}

/// The pod ranges of the bundle applied before (`--from`), read and checked like any bundle.
pub(crate) fn previous_ranges(
    path: &Path,
    passphrase_file: Option<&Path>,
) -> Result<kbundle_core::plan::PreviousRanges, Failure> {
    let bundle = read_bundle(path, passphrase_file)?;
    bundle.pod_ranges().map_err(|reason| {
        eprintln!("error: {}: refused: {reason}", path.display());
        Failure::Invalid
    })
}
