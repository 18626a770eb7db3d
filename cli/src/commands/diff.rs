//! `kbundle diff old.zip new.zip`: per node, what a new bundle would change and restart. No SSH.

use kbundle_core::bundle::diff::{Change, diff};

use super::{Failure, read_bundle};
use crate::args::DiffArgs;

pub(crate) fn run(args: &DiffArgs) -> Result<(), Failure> {
    let old = read_bundle(&args.old, args.passphrase_file.as_deref())?;
    let new = read_bundle(&args.new, args.passphrase_file.as_deref())?;
    if old.manifest.cluster_name != new.manifest.cluster_name {
        eprintln!(
            "note: these are bundles of two clusters ({} and {})",
            old.manifest.cluster_name, new.manifest.cluster_name
        );
    }
    let changes = diff(&old, &new);
    if changes.is_empty() {
        println!(
            "no changes: applying {} changes nothing",
            args.new.display()
        );
        return Ok(());
    }
    for node in &changes {
        match &node.node {
            Some(name) => println!("node {name}:"),
            None => println!("cluster-wide files:"),
        }
        for change in &node.changes {
            match change {
                Change::Added { path } => println!("  added     {path}"),
                Change::Removed { path } => println!("  removed   {path}"),
                Change::ModeChanged { path, from, to } => {
                    println!("  mode      {path} {from:o} -> {to:o}")
                }
                Change::Modified { path, diff: None } => {
                    println!("  changed   {path} (secret: contents not shown)")
                }
                Change::Modified {
                    path,
                    diff: Some(text),
                } => {
                    println!("  changed   {path}");
                    for line in text.lines() {
                        println!("    {line}");
                    }
                }
            }
        }
        if !node.restarts.is_empty() {
            println!("  restarts: {}", node.restarts.join(", "));
        }
    }
    Ok(())
}
