//! Dry run: per node, which files an apply would change (a unified diff for text, never for
//! keys or kubeconfigs), their modes, and which services would restart. Only reads on the nodes.

use std::collections::BTreeMap;

use kbundle_core::bundle::diff::{is_secret, unified};
use kbundle_core::bundle::install::restart_of;
use kbundle_core::bundle::sha256_hex;

use super::root;
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

pub(crate) struct DryRun;

impl Phase for DryRun {
    fn name(&self) -> &'static str {
        "dry-run"
    }

    fn title(&self) -> &'static str {
        "Show what an apply would change (nothing is changed)"
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let files = context.bundle.node_files(&node.name);
        // One line per file: "<mode> <sha256> <path>", or "missing <path>".
        let paths: Vec<String> = files.iter().map(|file| quote(&file.path)).collect();
        let command = format!(
            "for f in {}; do if [ -f \"$f\" ]; then printf '%s %s %s\\n' \"$(stat -c %a \"$f\")\" \"$(sha256sum < \"$f\" | cut -d' ' -f1)\" \"$f\"; else printf 'missing - %s\\n' \"$f\"; fi; done",
            paths.join(" ")
        );
        let output = root(context, node, &command)?;
        let installed: BTreeMap<String, (String, String)> = output
            .stdout
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ' ');
                let (mode, hash, path) = (parts.next()?, parts.next()?, parts.next()?);
                Some((path.to_owned(), (mode.to_owned(), hash.to_owned())))
            })
            .collect();
        let mut report = Vec::new();
        let mut restarts = std::collections::BTreeSet::new();
        for file in &files {
            let wanted_mode = format!("{:o}", file.mode);
            let (mode, hash) = installed
                .get(&file.path)
                .cloned()
                .unwrap_or_else(|| ("missing".into(), "-".into()));
            let changed = if mode == "missing" {
                report.push(format!("  new       {}", file.path));
                true
            } else if hash != sha256_hex(file.contents.as_bytes()) {
                if is_secret(&file.path, file.mode) {
                    report.push(format!(
                        "  changed   {} (secret: contents not shown)",
                        file.path
                    ));
                } else if file.path.ends_with(".crt") {
                    report.push(format!("  changed   {} (certificate re-issued)", file.path));
                } else {
                    let current =
                        root(context, node, &format!("cat {}", quote(&file.path)))?.stdout;
                    report.push(format!("  changed   {}", file.path));
                    for line in unified(&file.path, &current, &file.contents).lines() {
                        report.push(format!("    {line}"));
                    }
                }
                true
            } else if mode != wanted_mode {
                report.push(format!("  mode      {} {mode} -> {wanted_mode}", file.path));
                true
            } else {
                false
            };
            if changed && let Some(restart) = restart_of(&file.path) {
                restarts.insert(restart);
            }
        }
        if report.is_empty() {
            return Ok("nothing would change".into());
        }
        let mut summary = format!(
            "{} files would change",
            report.iter().filter(|l| !l.starts_with("    ")).count()
        );
        if !restarts.is_empty() {
            summary.push_str(&format!(
                "; would restart {}",
                restarts.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(format!("{summary}\n{}", report.join("\n")))
    }
}
