//! The one table of Kubernetes releases kbundle supports, with the component versions each
//! release pins (as `kubeadm config images list` prints them). Every version-dependent choice
//! reads from here.

use std::fmt;

/// One supported Kubernetes minor release and what it pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// Minor version: 36 for Kubernetes 1.36.
    pub minor: u32,
    /// Newest patch release known when this table was written; used when the config names only
    /// the minor.
    pub latest_patch: u32,
    /// etcd image tag.
    pub etcd: &'static str,
    /// CoreDNS image tag.
    pub coredns: &'static str,
    /// pause (sandbox) image tag.
    pub pause: &'static str,
    /// Upstream end-of-life date (ISO 8601). Core has no clock, so this is shown, not compared.
    pub end_of_life: &'static str,
    /// Whether upstream still supports this release as of the table's date (2026-11).
    pub upstream_supported: bool,
}

/// Supported releases, oldest first. Source: kubeadm's image pins per minor and the
/// kubernetes.io release pages (see `shared/reference/kubeadm.md` §7). 1.34 is kept as "the one
/// before" the upstream-supported ones so that clusters can be upgraded off it.
pub const RELEASES: &[Release] = &[
    Release {
        minor: 34,
        latest_patch: 11,
        etcd: "3.6.5-0",
        coredns: "v1.12.1",
        pause: "3.10.1",
        end_of_life: "2026-10-27",
        upstream_supported: false,
    },
    Release {
        minor: 35,
        latest_patch: 9,
        etcd: "3.6.6-0",
        coredns: "v1.13.1",
        pause: "3.10.1",
        end_of_life: "2027-02-28",
        upstream_supported: true,
    },
    Release {
        minor: 36,
        latest_patch: 4,
        etcd: "3.6.8-0",
        coredns: "v1.14.2",
        pause: "3.10.2",
        end_of_life: "2027-06-28",
        upstream_supported: true,
    },
    Release {
        minor: 37,
        latest_patch: 1,
        etcd: "3.7.0-0",
        coredns: "v1.14.6",
        pause: "3.10.2",
        end_of_life: "2027-10-28",
        upstream_supported: true,
    },
];

/// The release a config gets when it names none: the newest in the table.
pub fn default_release() -> &'static Release {
    // RELEASES is a non-empty constant; `last` cannot fail.
    &RELEASES[RELEASES.len() - 1]
}

/// Looks up a release by minor version.
pub fn release(minor: u32) -> Option<&'static Release> {
    RELEASES.iter().find(|release| release.minor == minor)
}

/// The supported minors as "1.34, 1.35, …", for error hints.
pub fn supported_list() -> String {
    RELEASES
        .iter()
        .map(|release| format!("1.{}", release.minor))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A resolved Kubernetes version: a supported minor and a concrete patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubernetesVersion {
    /// The release this version belongs to.
    pub release: &'static Release,
    /// Patch number (the config's, or the release's newest known).
    pub patch: u32,
}

impl KubernetesVersion {
    /// The minor version number.
    pub fn minor(&self) -> u32 {
        self.release.minor
    }
}

impl fmt::Display for KubernetesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v1.{}.{}", self.release.minor, self.patch)
    }
}

/// Why a version string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Not of the form `1.N` or `1.N.P`.
    #[error("is not a Kubernetes version")]
    Malformed,
    /// Well formed, but not in [`RELEASES`].
    #[error("is not a supported Kubernetes version")]
    Unsupported,
}

/// Parses `1.36`, `1.36.2`, `v1.36` or `v1.36.2`.
pub fn parse_version(text: &str) -> Result<KubernetesVersion, VersionError> {
    let trimmed = text.trim();
    let bare = trimmed.strip_prefix('v').unwrap_or(trimmed);
    let parts: Vec<&str> = bare.split('.').collect();
    let number = |part: &str| -> Result<u32, VersionError> {
        if part.is_empty() || !part.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(VersionError::Malformed);
        }
        part.parse().map_err(|_| VersionError::Malformed)
    };
    let (major, minor, patch) = match parts.as_slice() {
        [major, minor] => (number(major)?, number(minor)?, None),
        [major, minor, patch] => (number(major)?, number(minor)?, Some(number(patch)?)),
        _ => return Err(VersionError::Malformed),
    };
    if major != 1 {
        return Err(VersionError::Unsupported);
    }
    let release = release(minor).ok_or(VersionError::Unsupported)?;
    Ok(KubernetesVersion {
        release,
        patch: patch.unwrap_or(release.latest_patch),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_resolves_to_latest_known_patch() {
        let version = parse_version("1.36").expect("1.36 is supported");
        assert_eq!(version.to_string(), "v1.36.4");
    }

    #[test]
    fn accepts_v_prefix_and_explicit_patch() {
        assert_eq!(
            parse_version("v1.35.2").map(|v| v.to_string()),
            Ok("v1.35.2".into())
        );
    }

    #[test]
    fn rejects_unsupported_and_malformed_versions() {
        assert_eq!(parse_version("1.29"), Err(VersionError::Unsupported));
        assert_eq!(parse_version("2.0"), Err(VersionError::Unsupported));
        assert_eq!(parse_version("1.x"), Err(VersionError::Malformed));
        assert_eq!(parse_version("1.36.1.2"), Err(VersionError::Malformed));
        assert_eq!(parse_version(""), Err(VersionError::Malformed));
    }

    #[test]
    fn table_is_sorted_and_default_is_newest() {
        assert!(
            RELEASES
                .windows(2)
                .all(|pair| pair[0].minor < pair[1].minor)
        );
        assert_eq!(default_release().minor, 37);
    }
}
