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
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date crate for one line.
    let days = seconds.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
