//! `kbundle artifacts list`: what the nodes need from outside, from the bundle's artifacts.json.

use anyhow::Context as _;
use kbundle_core::bundle::layout;

use super::{Failure, read_bundle};
use crate::args::{ArtifactsListArgs, Format};

pub(crate) fn list(args: &ArtifactsListArgs) -> Result<(), Failure> {
    let bundle = read_bundle(&args.bundle, args.passphrase_file.as_deref())?;
    let entry = bundle
        .entry(layout::ARTIFACTS_JSON)
        .context("the bundle has no artifacts.json (made by an older kbundle?)")?;
    let mut artifacts: serde_json::Value =
        serde_json::from_slice(&entry.contents).context("artifacts.json is not JSON")?;
    if let Some(arch) = &args.arch {
        if !kbundle_core::artifacts::ARCHITECTURES.contains(&arch.as_str()) {
            return Err(anyhow::anyhow!("--arch: `{arch}` is not amd64 or arm64").into());
        }
        if let Some(binaries) = artifacts["binaries"].as_array_mut() {
            binaries.retain(|binary| binary["arch"] == arch.as_str());
        }
    }
    if args.output == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&artifacts).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    println!("binaries:");
    for binary in artifacts["binaries"].as_array().into_iter().flatten() {
        let text = |key: &str| binary[key].as_str().unwrap_or_default().to_owned();
        println!(
            "  {:<12} {:<9} {:<6} -> {:<24} ({} nodes)\n      {}\n      sha256 published at {}",
            text("name"),
            text("version"),
            text("arch"),
            text("install_path"),
            text("nodes"),
            text("url"),
            text("checksum_url")
        );
    }
    println!("images:");
    for image in artifacts["images"].as_array().into_iter().flatten() {
        println!("  {}", image.as_str().unwrap_or_default());
    }
    Ok(())
}
