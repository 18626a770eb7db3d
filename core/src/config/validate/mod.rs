//! Raw document → [`ClusterConfig`]: applies defaults and checks every field, collecting all
//! findings rather than stopping at the first, so the CLI can list them together and the web
//! form can show each next to its input. This file holds the [`Checker`] and the top-level
//! flow; each section of `cluster.yaml` is checked in its own file.

mod certificates;
mod cluster;
mod container_runtime;
mod high_availability;
mod names;
mod networking;
mod nodes;
mod proxy;
mod registry;
mod ssh;

use super::raw::RawClusterConfig;
use super::*;
use crate::net::IpFamily;

pub use certificates::parse_duration_hours;
#[cfg(test)]
pub(crate) use high_availability::parse_endpoint;
use names::{is_dns_label, is_dns_subdomain};

/// Whether secrets may be the placeholders a bundle's own `cluster.yaml` holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Secrets {
    /// A cluster.yaml someone wrote: the placeholders are refused (they would be installed).
    #[default]
    Given,
    /// A bundle's recorded copy, read back to apply or renew it: its secrets were kept out of
    /// it on purpose, and whatever reads it needs none of them.
    Recorded,
}

pub(super) fn validate(raw: &RawClusterConfig, secrets: Secrets) -> Result<Validated, Diagnostics> {
    let mut check = Checker {
        secrets,
        ..Checker::default()
    };
    let config = check.cluster(raw);
    let mut findings = check.findings;
    // Errors first, then in the order the fields appear in the document.
    findings.sort_by_key(|finding| (finding.severity, document_rank(&finding.path)));
    match config {
        Some(config) if !findings.iter().any(Diagnostic::is_error) => Ok(Validated {
            config,
            warnings: findings,
        }),
        _ => Err(Diagnostics(findings)),
    }
}

#[derive(Default)]
struct Checker {
    findings: Vec<Diagnostic>,
    secrets: Secrets,
}

impl Checker {
    fn push(&mut self, finding: Diagnostic) {
        self.findings.push(finding);
    }

    fn error_count(&self) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.is_error())
            .count()
    }

    fn cluster(&mut self, raw: &RawClusterConfig) -> Option<ClusterConfig> {
        self.header(raw);
        let name = self.cluster_name(raw.metadata.name.as_deref());
        let kubernetes_version = self.version(raw.spec.kubernetes_version.as_deref());
        let networking = self.networking(&raw.spec.networking, raw.spec.nodes.len());
        let ssh_defaults = self.ssh("spec.ssh", &raw.spec.ssh, None);
        let families: Option<Vec<IpFamily>> = networking
            .as_ref()
            .map(|networking| networking.families.iter().map(|f| f.family).collect());
        let nodes = self.nodes(&raw.spec.nodes, families.as_deref(), ssh_defaults.as_ref());
        let endpoint = self.endpoint(raw.spec.control_plane_endpoint.as_deref());
        let high_availability = self.high_availability(raw, &nodes, endpoint.as_ref());
        if let Some(networking) = &networking {
            self.networks_against_addresses(networking, &nodes, endpoint.as_ref());
        }
        let container_runtime = self.container_runtime(raw);
        let registry = self.registry(raw);
        let proxy = self.proxy(raw);
        let certificates = self.certificates(raw);
        Some(ClusterConfig {
            name: name?,
            kubernetes_version: kubernetes_version?,
            control_plane_endpoint: endpoint,
            high_availability: high_availability?,
            nodes,
            networking: networking?,
            container_runtime: container_runtime?,
            registry: registry?,
            proxy,
            certificates: certificates?,
        })
    }
}

/// Where a field's section comes in the document, so findings read top to bottom.
fn document_rank(path: &str) -> usize {
    const SECTIONS: [&str; 13] = [
        "apiVersion",
        "kind",
        "metadata",
        "spec.kubernetesVersion",
        "spec.controlPlaneEndpoint",
        "spec.highAvailability",
        "spec.ssh",
        "spec.nodes",
        "spec.networking",
        "spec.containerRuntime",
        "spec.registry",
        "spec.proxy",
        "spec.certificates",
    ];
    SECTIONS
        .iter()
        .position(|section| path.starts_with(section))
        .unwrap_or(SECTIONS.len())
}
