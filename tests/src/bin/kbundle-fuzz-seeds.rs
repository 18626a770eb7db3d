//! Writes the fuzz targets' generated seeds into `fuzz/seeds/<target>/` (docs/fuzzing.md):
//! bundle zips (a real single-node bundle, plain and encrypted, and the smallest bundle the
//! reader accepts, plain and encrypted) and a few edit recipes per target. The cluster.yaml
//! seeds are the fixtures and examples themselves, which the fuzz commands name directly.
//!
//! `cargo run -p kbundle-tests --bin kbundle-fuzz-seeds`; the output is deterministic (fixed
//! seeds and time) except for the encrypted zips, whose salts come from the operating system.

use std::path::Path;

use kbundle_core::bundle::Bundle;
use kbundle_core::bundle::layout::{BUNDLE_JSON, FORMAT_VERSION};
use kbundle_core::bundle::manifest::{BundleManifest, FileEntry};
use kbundle_core::bundle::{Entry, sha256_hex};
use kbundle_tests::fuzz::{EDIT_MODE, bundle, samples};

fn main() -> std::io::Result<()> {
    let seeds = kbundle_tests::repository_root().join("fuzz/seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| -> std::io::Result<()> {
        let folder = seeds.join(target);
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join(name), bytes)
    };

    let real = samples::single_node_bundle();
    write("bundle", "single-node.zip", &bundle::seed_zip(real, false))?;
    write(
        "bundle",
        "single-node-encrypted.zip",
        &bundle::seed_zip(real, true),
    )?;
    let smallest = smallest_bundle();
    write(
        "bundle",
        "smallest.zip",
        &bundle::seed_zip(&smallest, false),
    )?;
    write(
        "bundle",
        "smallest-encrypted.zip",
        &bundle::seed_zip(&smallest, true),
    )?;
    for (target, count) in [
        ("config", 8),
        ("generate", 4),
        ("bundle", 8),
        ("form", 8),
        ("diff", 8),
    ] {
        for number in 0..count {
            let mut recipe = recipe_bytes(target, number);
            if matches!(target, "config" | "generate" | "bundle") {
                recipe.insert(0, EDIT_MODE);
            }
            write(target, &format!("recipe-{number}"), &recipe)?;
        }
    }
    check(&seeds)?;
    println!("seeds written to {}", seeds.display());
    Ok(())
}

/// One entry and the index: the least that `Bundle::from_zip` accepts.
fn smallest_bundle() -> Bundle {
    let file = Entry {
        path: "nodes/cp1/install.sh".into(),
        contents: b"#!/bin/sh\n".to_vec(),
        mode: 0o755,
    };
    let manifest = BundleManifest {
        format_version: FORMAT_VERSION,
        generator: "kbundle-fuzz-seeds".into(),
        cluster_name: "tiny".into(),
        kubernetes_version: "v1.37.1".into(),
        control_plane_endpoint: "https://192.0.2.11:6443".into(),
        nodes: Vec::new(),
        files: vec![FileEntry {
            path: file.path.clone(),
            sha256: sha256_hex(&file.contents),
            mode: file.mode,
            node: Some("cp1".into()),
        }],
    };
    let index = Entry {
        path: BUNDLE_JSON.into(),
        contents: serde_json::to_vec(&manifest).expect("a manifest serialises"),
        mode: 0o644,
    };
    Bundle {
        manifest,
        entries: vec![index, file],
    }
}

/// Deterministic bytes for an edit recipe (a small xorshift, seeded by target and number).
fn recipe_bytes(target: &str, number: u64) -> Vec<u8> {
    let mut state = target
        .bytes()
        .fold(0x9E37_79B9_7F4A_7C15u64 ^ number, |state, byte| {
            (state ^ u64::from(byte)).wrapping_mul(0x100_0000_01B3)
        })
        | 1;
    (0..64 + number * 16)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// The zips read back as their bundles (the encrypted ones with their passphrase only).
fn check(seeds: &Path) -> std::io::Result<()> {
    for name in ["single-node.zip", "smallest.zip"] {
        let bytes = std::fs::read(seeds.join("bundle").join(name))?;
        assert!(
            bundle::check_zip(&bytes).is_some(),
            "{name} is not a readable bundle"
        );
    }
    Ok(())
}
