//! `kbundle inspect`: what a bundle holds, for people: nodes and roles, files per node, every
//! certificate with subject, SANs and expiry, the files for workers that join later, and the
//! network plan.

use std::fmt::Write as _;

use kbundle_core::bundle::layout;
use kbundle_core::bundle::verify::certificate_facts;

use super::{Failure, read_bundle};
use crate::args::BundleArgs;

pub(crate) fn run(args: &BundleArgs) -> Result<(), Failure> {
    let bundle = read_bundle(&args.bundle, args.passphrase_file.as_deref())?;
    let manifest = &bundle.manifest;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Bundle of cluster {} (Kubernetes {}), format {}, made by {}\nAPI endpoint: {}\n",
        manifest.cluster_name,
        manifest.kubernetes_version,
        manifest.format_version,
        manifest.generator,
        manifest.control_plane_endpoint
    );
    for node in &manifest.nodes {
        let files = bundle.node_files(&node.name);
        let _ = writeln!(
            out,
            "node {} ({}) at {}: {} files, ssh user {} port {}",
            node.name,
            node.roles.join(", "),
            node.addresses.join(", "),
            files.len(),
            node.ssh_user,
            node.ssh_port
        );
        for file in &files {
            let _ = write!(out, "  {:o} {}", file.mode, file.path);
            if file.path.ends_with(".crt")
                && let Ok(facts) = certificate_facts(&file.contents)
            {
                let _ = write!(
                    out,
                    "\n        subject {}; issuer {}; expires {}",
                    facts.subject,
                    facts.issuer,
                    date(facts.not_after)
                );
                if !facts.sans.is_empty() {
                    let _ = write!(out, "\n        SANs {}", facts.sans.join(", "));
                }
            }
            out.push('\n');
        }
    }
    let join = bundle.join_files();
    if !join.is_empty() {
        let _ = writeln!(
            out,
            "join/ (workers that join later: sh join/install.sh NAME ADDRESS): {} files",
            join.len()
        );
        for file in &join {
            let _ = writeln!(out, "  {:o} {}", file.mode, file.path);
        }
    }
    let addons: Vec<&str> = manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("addons/"))
        .map(|f| f.path.as_str())
        .collect();
    let _ = writeln!(
        out,
        "\naddons, applied in this order: {}\n",
        addons.join(", ")
    );
    if let Some(plan) = bundle.entry(layout::PLAN_TEXT) {
        out.push_str(&String::from_utf8_lossy(&plan.contents));
    }
    print!("{out}");
    Ok(())
}

/// Unix seconds as `YYYY-MM-DD`.
pub(crate) fn date(seconds: i64) -> String {
    kbundle_core::bundle::expiry::iso_date(seconds)
}
