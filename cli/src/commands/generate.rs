//! `kbundle generate`: cluster.yaml → bundle zip, written atomically.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use kbundle_core::bundle::{Bundle, GenerateError};
use kbundle_core::config::RawClusterConfig;
use kbundle_core::pki::{ExistingCa, PkiInputs};

use super::{Failure, load_config};
use crate::args::GenerateArgs;
use crate::files;

pub(crate) fn run(args: &GenerateArgs) -> Result<(), Failure> {
    let validated = load_config(&args.config)?;
    let config = &validated.config;
    let text = files::read_input(&args.config)?;
    let raw = RawClusterConfig::from_yaml(&text).map_err(|_| Failure::Invalid)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-bundle.zip", config.name)));
    if !args.force && output.exists() {
        return Err(anyhow::anyhow!(
            "`{}` already exists\nhint: pass --force to replace it, or -o to write elsewhere",
            output.display()
        )
        .into());
    }
    let base = args.config.parent().unwrap_or(Path::new("."));
    let mut existing_cas = Vec::new();
    for files in &config.certificates.existing_cas {
        let read = |file: &str| {
            std::fs::read_to_string(base.join(file))
                .with_context(|| format!("reading the existing CA file `{file}`"))
        };
        existing_cas.push(ExistingCa {
            kind: files.kind,
            certificate_pem: read(&files.certificate_file)?,
            key_pem: read(&files.key_file)?,
        });
    }
    let inputs = PkiInputs {
        seed: seed(args.seed.as_deref())?,
        issued_at: match args.issued_at {
            Some(seconds) => seconds,
            None => crate::clock::unix_now(),
        },
        existing_cas,
    };
    // Read before asking for a new passphrase: a previous bundle that cannot be used stops here.
    let previous = match &args.from {
        Some(path) => {
            let old = super::read_bundle(path, args.passphrase_file.as_deref())?;
            if old.identity().is_none() {
                eprintln!(
                    "warning: {}: made by an older kbundle, it records no identity: only its pod ranges are kept; the CAs and keys are new (bring the CAs with spec.certificates.existingCAs to keep them)",
                    path.display()
                );
            }
            Some(old)
        }
        None => None,
    };
    let passphrase = if args.encrypt || args.passphrase_file.is_some() {
        Some(super::passphrase(args.passphrase_file.as_deref(), true)?)
    } else {
        None
    };
    let generated = match &previous {
        Some(old) => Bundle::generate_from(&raw, &inputs, old),
        None => Bundle::generate(&raw, &inputs),
    };
    let bundle = match generated {
        Ok(bundle) => bundle,
        // A previous pod range that the new networking cannot hold: the API server would refuse
        // to move it, so the new bundle could never be applied.
        Err(GenerateError::Invalid(diagnostics)) => {
            super::print_invalid(&args.config, &diagnostics);
            return Err(Failure::Invalid);
        }
        // A CA the user brought that cannot be used is bad input, like any config error.
        Err(GenerateError::Pki(error @ kbundle_core::pki::Error::ExistingCa { .. })) => {
            eprintln!("error: {}: {error}", args.config.display());
            eprintln!("{}: nothing was written", args.config.display());
            return Err(Failure::Invalid);
        }
        Err(GenerateError::Previous(reason)) => {
            eprintln!(
                "error: {}: refused: {reason}",
                args.from
                    .as_deref()
                    .unwrap_or(Path::new("--from"))
                    .display()
            );
            eprintln!("{}: nothing was written", args.config.display());
            return Err(Failure::Invalid);
        }
        Err(error) => return Err(anyhow::anyhow!("{error}").into()),
    };
    let zip = match &passphrase {
        Some(passphrase) => bundle.to_encrypted_zip(passphrase),
        None => bundle.to_zip(),
    }
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    files::write_atomically(&output, &zip, args.force)?;
    // Keys are inside: the bundle is as private as an admin kubeconfig.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&output, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting `{}` to its owner", output.display()))?;
    }
    if let (Some(old), Some(from)) = (&previous, &args.from)
        && let Some(Ok(timeline)) = bundle.expiries(Some(old))
    {
        let counts = kbundle_core::bundle::expiry::KeptCounts::of(&timeline);
        eprintln!(
            "kept from {}: {} of {} CAs and {} of {} certificates and kubeconfigs; issued {} (`kbundle diff {} {}` shows every change)",
            from.display(),
            counts.authorities_kept,
            counts.authorities_kept + counts.authorities_new,
            counts.leaves_kept,
            counts.leaves_kept + counts.leaves_new,
            counts.authorities_new + counts.leaves_new,
            from.display(),
            output.display()
        );
    }
    eprintln!(
        "wrote {} ({} files for {} nodes, {} bytes{}); next: kbundle apply {}",
        output.display(),
        bundle.manifest.files.len(),
        bundle.manifest.nodes.len(),
        zip.len(),
        if passphrase.is_some() {
            ", encrypted"
        } else {
            ""
        },
        output.display()
    );
    Ok(())
}

pub(crate) fn seed(hex: Option<&str>) -> anyhow::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    match hex {
        Some(hex) => {
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("--seed takes 64 hex digits");
            }
            for (index, byte) in seed.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16)
                    .context("--seed takes 64 hex digits")?;
            }
        }
        None => getrandom::fill(&mut seed)
            .map_err(|error| anyhow::anyhow!("reading the system's random generator: {error}"))?,
    }
    Ok(seed)
}
