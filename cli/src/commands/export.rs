//! `kbundle export ansible|cloud-init`: the bundle, read and verified as apply reads it, turned
//! by core into files (an inventory and playbook, or one user-data per node), written as one
//! folder: built beside the destination and renamed into place, so a failed run leaves nothing
//! half-written.

use std::path::Path;

use kbundle_core::export::{self, ExportedFile, cloud_init};

use super::{Failure, read_verified_bundle};
use crate::args::{CloudInitArgs, ExportArgs};

pub(crate) fn ansible(args: &ExportArgs) -> Result<(), Failure> {
    let files = exported(args, export::ansible::export)?;
    write(args, &files)?;
    let nodes = export::ansible::node_count(&files);
    eprintln!(
        "wrote {} (an inventory, a playbook and the files of {nodes} nodes); next: cd {} && ansible-playbook {}",
        args.output.display(),
        args.output.display(),
        export::ansible::PLAYBOOK
    );
    Ok(())
}

pub(crate) fn cloud_init(args: &CloudInitArgs) -> Result<(), Failure> {
    let limit = cloud_init::limit(&args.limit)
        .ok_or_else(|| anyhow::anyhow!("--limit: no cloud `{}`", args.limit))?;
    let files = exported(&args.export, |bundle| cloud_init::export(bundle, limit))?;
    write(&args.export, &files)?;
    for file in files.iter().filter(|file| file.path.ends_with(".yaml")) {
        let fits: Vec<&str> = cloud_init::LIMITS
            .iter()
            .filter(|limit| limit.fits(&file.contents))
            .map(|limit| limit.cloud)
            .collect();
        eprintln!(
            "  {}: {} bytes, fits {}",
            file.path,
            file.contents.len(),
            fits.join(", ")
        );
    }
    eprintln!(
        "wrote {}: give each machine its user-data/<node>.yaml as its user data",
        args.export.output.display()
    );
    Ok(())
}

/// The export of the bundle `args` names, by `make`; a bundle that does not read, verify or
/// export is refused as invalid input, before anything is written.
fn exported(
    args: &ExportArgs,
    make: impl FnOnce(&kbundle_core::bundle::Bundle) -> Result<Vec<ExportedFile>, export::Error>,
) -> Result<Vec<ExportedFile>, Failure> {
    check_output(&args.output, args.force)?;
    let bundle = read_verified_bundle(&args.bundle, args.passphrase_file.as_deref(), "written")?;
    make(&bundle).map_err(|error| {
        eprintln!("error: {}: {error}", args.bundle.display());
        if let export::Error::TooLarge { .. } = error {
            eprintln!(
                "  hint: pass --limit with a larger cloud limit if your cloud takes it (--limit gce: 256 KiB); ECDSA keys (spec.certificates.keyAlgorithm) make user-data smaller than RSA keys"
            );
        }
        eprintln!("{}: nothing was written", args.bundle.display());
        Failure::Invalid
    })
}

/// Refuses, before any work, an output that is a file, or a folder with files without
/// `--force`.
fn check_output(output: &Path, force: bool) -> Result<(), Failure> {
    let problem = match std::fs::symlink_metadata(output) {
        Err(_) => return Ok(()),
        Ok(metadata) if !metadata.is_dir() => "exists and is not a folder",
        Ok(_) if force => return Ok(()),
        Ok(_) => match std::fs::read_dir(output).map(|mut entries| entries.next().is_none()) {
            Ok(true) => return Ok(()),
            _ => "is not empty",
        },
    };
    eprintln!(
        "error: -o: `{}` {problem}\n  hint: name a new or empty folder, or pass --force to replace it",
        output.display()
    );
    Err(Failure::Invalid)
}

/// Writes `files` as the folder `args.output`, whole or not at all.
fn write(args: &ExportArgs, files: &[ExportedFile]) -> Result<(), Failure> {
    use anyhow::Context as _;
    let staging = crate::files::hidden_sibling(&args.output, "tmp")?;
    let entries = files
        .iter()
        .map(|file| (file.path.as_str(), file.contents.as_slice(), file.mode));
    if let Err(error) = crate::files::write_folder(&staging, entries) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(anyhow::Error::from(error)
            .context(format!("writing `{}`", staging.display()))
            .into());
    }
    crate::files::put_folder_in_place(&staging, &args.output, args.force)
        .context("nothing was written")?;
    Ok(())
}
