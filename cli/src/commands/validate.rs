//! `kbundle validate`: checks a cluster.yaml and reports every finding.

use kbundle_core::config::diagnostic::count;
use kbundle_core::config::{ClusterConfig, Diagnostic};

use super::{Failure, display_name, load_config};
use crate::args::{Format, ValidateArgs};
use crate::files;

pub(crate) fn run(args: &ValidateArgs) -> Result<(), Failure> {
    if args.output == Format::Json {
        return run_json(args);
    }
    let validated = load_config(&args.config)?;
    let config = &validated.config;
    let role_count = |predicate: fn(&kbundle_core::config::Node) -> bool| {
        config.nodes.iter().filter(|node| predicate(node)).count()
    };
    println!(
        "{}: valid, Kubernetes {}, {} ({} control-plane, {} etcd, {}){}",
        display_name(&args.config),
        config.kubernetes_version,
        count(config.nodes.len(), "node"),
        role_count(|node| node.roles.control_plane),
        role_count(|node| node.roles.etcd),
        count(role_count(|node| node.roles.worker), "worker"),
        match validated.warnings.len() {
            0 => String::new(),
            warnings => format!(", {}", count(warnings, "warning")),
        }
    );
    Ok(())
}

/// `{"valid": bool, "diagnostics": [...]}` on standard output, for editors and CI.
fn run_json(args: &ValidateArgs) -> Result<(), Failure> {
    let text = files::read_input(&args.config)?;
    let (valid, diagnostics): (bool, Vec<Diagnostic>) = match ClusterConfig::from_yaml(&text) {
        Ok(validated) => (true, validated.warnings),
        Err(diagnostics) => (false, diagnostics.0),
    };
    let report = serde_json::json!({ "valid": valid, "diagnostics": diagnostics });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
    );
    if valid { Ok(()) } else { Err(Failure::Invalid) }
}
