//! `kbundle verify`: reads a bundle with every hostile-input check, then verifies certificates,
//! keys, kubeconfigs and least privilege. Exit 0 when sound, 2 with the reasons otherwise.

use kbundle_core::bundle::verify::verify;

use super::{Failure, read_bundle};
use crate::args::BundleArgs;

pub(crate) fn run(args: &BundleArgs) -> Result<(), Failure> {
    let bundle = read_bundle(&args.bundle, args.passphrase_file.as_deref())?;
    let report = verify(&bundle, crate::clock::unix_now());
    let name = args.bundle.display();
    if report.is_ok() {
        println!(
            "{name}: ok: {} files match their checksums; {} certificates chain to their CAs and match their keys; {} kubeconfigs name the cluster CA and the right server; no node holds a key it must not",
            bundle.manifest.files.len(),
            report.certificates,
            report.kubeconfigs
        );
        return Ok(());
    }
    for problem in &report.problems {
        eprintln!("error: {name}: {problem}");
    }
    eprintln!("{name}: {} problems", report.problems.len());
    Err(Failure::Invalid)
}
