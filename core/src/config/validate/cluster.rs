//! `apiVersion`, `kind`, `metadata.name` and `spec.kubernetesVersion`: what the document is
//! and which release it installs.

use super::*;
use crate::versions::{self, VersionError};

impl Checker {
    pub(super) fn header(&mut self, raw: &RawClusterConfig) {
        match raw.api_version.as_deref() {
            Some(API_VERSION) => {}
            Some(other) => self.push(
                Diagnostic::error("apiVersion", "is not an API version this kbundle reads")
                    .value(other)
                    .hint(format!("use `apiVersion: {API_VERSION}`")),
            ),
            None => self.push(
                Diagnostic::error("apiVersion", "is missing")
                    .hint(format!("add `apiVersion: {API_VERSION}` at the top")),
            ),
        }
        match raw.kind.as_deref() {
            Some(KIND) => {}
            Some(other) => self.push(
                Diagnostic::error("kind", "is not a kind this kbundle reads")
                    .value(other)
                    .hint(format!("use `kind: {KIND}`")),
            ),
            None => self
                .push(Diagnostic::error("kind", "is missing").hint(format!("add `kind: {KIND}`"))),
        }
    }

    pub(super) fn cluster_name(&mut self, name: Option<&str>) -> Option<String> {
        let path = "metadata.name";
        let Some(name) = name else {
            self.push(
                Diagnostic::error(path, "is missing")
                    .hint("name the cluster, e.g. `metadata: {name: demo}`"),
            );
            return None;
        };
        if !is_dns_label(name) {
            self.push(
                Diagnostic::error(path, "is not a valid cluster name")
                    .value(name)
                    .hint("use at most 63 lower-case letters, digits and `-`, starting and ending with a letter or digit"),
            );
            return None;
        }
        Some(name.to_owned())
    }

    pub(super) fn version(&mut self, version: Option<&str>) -> Option<KubernetesVersion> {
        let path = "spec.kubernetesVersion";
        let Some(text) = version else {
            let release = versions::default_release();
            return Some(KubernetesVersion {
                release,
                patch: release.latest_patch,
            });
        };
        match versions::parse_version(text) {
            Ok(version) => {
                if !version.release.upstream_supported {
                    let newest = versions::default_release().minor;
                    self.push(
                        Diagnostic::warning(
                            path,
                            format!(
                                "reached upstream end of life on {}",
                                version.release.end_of_life
                            ),
                        )
                        .value(text)
                        .hint(format!("plan an upgrade to 1.{newest}")),
                    );
                }
                Some(version)
            }
            Err(error) => {
                let hint = match error {
                    VersionError::Malformed => format!(
                        "write a minor such as \"1.{}\" or a patch such as \"1.{}.{}\"",
                        versions::default_release().minor,
                        versions::default_release().minor,
                        versions::default_release().latest_patch
                    ),
                    VersionError::Unsupported => {
                        format!("supported versions: {}", versions::supported_list())
                    }
                };
                self.push(
                    Diagnostic::error(path, error.to_string())
                        .value(text)
                        .hint(hint),
                );
                None
            }
        }
    }
}
