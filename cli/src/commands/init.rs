//! `kbundle init`: writes the commented example cluster.yaml.

use std::io::Write;

use anyhow::Context;
use kbundle_core::config::{ExampleKind, example_yaml};

use super::Failure;
use crate::args::InitArgs;
use crate::files;

pub(crate) fn run(args: &InitArgs) -> Result<(), Failure> {
    let kind = if args.ha {
        ExampleKind::HighAvailability
    } else {
        ExampleKind::Basic
    };
    let text = example_yaml(kind);
    if args.output.as_os_str() == "-" {
        std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to standard output")?;
        return Ok(());
    }
    files::write_atomically(&args.output, text.as_bytes(), args.force)?;
    eprintln!(
        "wrote {}: replace the example addresses with your machines', then run `kbundle plan {}`",
        args.output.display(),
        args.output.display()
    );
    Ok(())
}
