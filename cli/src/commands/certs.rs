//! `kbundle certs`: every certificate of a bundle with its expiry, soonest first (a warning for
//! those within 30 days); with `--installed`, what each node has, read over SSH and compared with
//! the bundle's. `kbundle certs renew` writes a new bundle with every leaf issued again from the
//! same CAs (see `Bundle::renew_certificates`).

use std::path::Path;

use kbundle_core::bundle::{Bundle, GenerateError};
use kbundle_core::pki::PkiInputs;

use super::apply::{Mode, run_workflow};
use super::{Failure, read_bundle};
use crate::apply::Phase;
use crate::apply::phases::{Connect, InstalledCertificates, WARN_DAYS, certificates_table};
use crate::args::{CertsArgs, CertsCommand, CertsRenewArgs, Format};
use crate::files;

pub(crate) fn run(args: &CertsArgs) -> Result<(), Failure> {
    if let Some(CertsCommand::Renew(renew_args)) = &args.command {
        return renew(renew_args);
    }
    let Some(apply) = &args.apply else {
        return Err(anyhow::anyhow!("name the bundle: kbundle certs BUNDLE_ZIP").into());
    };
    let bundle = read_bundle(&apply.bundle, apply.passphrase_file.as_deref())?;
    let now = crate::clock::unix_now();
    let held = bundle.certificates();
    match apply.output {
        Format::Json => {
            let rows: Vec<serde_json::Value> = held
                .iter()
                .map(|certificate| {
                    serde_json::json!({
                        "node": certificate.node,
                        "path": certificate.path,
                        "subject": certificate.subject,
                        "is_ca": certificate.is_ca,
                        "not_after": certificate.not_after,
                        "days_left": (certificate.not_after - now).div_euclid(86_400),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).map_err(anyhow::Error::from)?
            );
        }
        Format::Text => print!("{}", certificates_table(&held, now)),
    }
    let soon: Vec<_> = held
        .iter()
        .filter(|certificate| certificate.not_after - now < WARN_DAYS * 86_400)
        .collect();
    if let Some(first) = soon.first() {
        eprintln!(
            "warning: {} certificates expire within {WARN_DAYS} days (first: {} {}); renew them: kbundle certs renew {} -o NEW.zip, then kbundle apply NEW.zip",
            soon.len(),
            first.node.as_deref().unwrap_or("-"),
            first.path,
            apply.bundle.display()
        );
    }
    if !args.installed {
        return Ok(());
    }
    run_workflow(apply, Mode::Certs, |_| {
        let phases: Vec<Box<dyn Phase>> =
            vec![Box::new(Connect), Box::new(InstalledCertificates { now })];
        Ok(phases)
    })
}

fn renew(args: &CertsRenewArgs) -> Result<(), Failure> {
    if !args.force && args.output.exists() {
        return Err(anyhow::anyhow!(
            "`{}` already exists\nhint: pass --force to replace it, or -o to write elsewhere",
            args.output.display()
        )
        .into());
    }
    let old = read_bundle(&args.bundle, args.passphrase_file.as_deref())?;
    let inputs = PkiInputs {
        seed: super::generate::seed(args.seed.as_deref())?,
        issued_at: args.issued_at.unwrap_or_else(crate::clock::unix_now),
        existing_cas: Vec::new(),
    };
    let renewed = match old.renew_certificates(&inputs) {
        Ok(renewed) => renewed,
        Err(GenerateError::Previous(reason)) => {
            eprintln!("error: {}: refused: {reason}", args.bundle.display());
            return Err(Failure::Invalid);
        }
        Err(GenerateError::Pki(error)) => {
            eprintln!("error: {}: {error}", args.bundle.display());
            eprintln!("{}: nothing was written", args.output.display());
            return Err(Failure::Invalid);
        }
        Err(error) => return Err(anyhow::anyhow!("{error}").into()),
    };
    write(
        &renewed,
        &args.output,
        args.passphrase_file.as_deref(),
        args.force,
    )?;
    let renewed_count = renewed
        .certificates()
        .iter()
        .filter(|certificate| !certificate.is_ca)
        .count();
    eprintln!(
        "wrote {}: {renewed_count} certificates issued again from the same CAs; next: kbundle diff {} {}, then kbundle apply {}",
        args.output.display(),
        args.bundle.display(),
        args.output.display(),
        args.output.display()
    );
    Ok(())
}

/// Writes `bundle` atomically, private, encrypted with the passphrase of `passphrase_file` when
/// the old one was.
fn write(
    bundle: &Bundle,
    output: &Path,
    passphrase_file: Option<&Path>,
    force: bool,
) -> Result<(), Failure> {
    let zip = match passphrase_file {
        Some(file) => bundle.to_encrypted_zip(&super::passphrase(Some(file), false)?),
        None => bundle.to_zip(),
    }
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    files::write_atomically(output, &zip, force)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(output, std::fs::Permissions::from_mode(0o600))
            .map_err(anyhow::Error::from)?;
    }
    Ok(())
}
