//! A bundle's expiry timeline, read from what its `identity.json` records rather than from the
//! certificates themselves, so that the browser (built without a certificate parser) shows it
//! too: every CA, certificate and kubeconfig with when it expires, soonest first, and, for a
//! bundle made from another (`generate --from`), whether each was kept from it or issued now.
//! `kbundle certs` reads the certificates instead, and lists what is installed on the nodes.

use serde::{Deserialize, Serialize};

use super::Bundle;
use crate::pki::identity::{LeafKind, RENEW_WITHIN_SECONDS};
use crate::pki::inventory::{CERTIFICATE_AUTHORITIES, KUBECONFIG_DIR, PKI_DIR};

/// One certificate of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expiry {
    /// Where it is: the path on the node (`/etc/kubernetes/pki/apiserver.crt`), `admin.conf`
    /// for the operator's kubeconfig, or the CA's name.
    pub what: String,
    /// Whose: the node, `None` for a CA and for the operator's admin.conf.
    pub node: Option<String>,
    /// Its subject's common name.
    pub common_name: String,
    /// When it expires (unix seconds).
    pub not_after: i64,
    /// A certificate authority.
    pub is_ca: bool,
    /// The same certificate as in the bundle this one was made from; `false` when issued now
    /// (or when there was no previous bundle).
    pub kept: bool,
}

impl Expiry {
    /// Whether it expires within [`RENEW_WITHIN_SECONDS`] of `now` (or has expired).
    pub fn is_due(&self, now: i64) -> bool {
        self.not_after - now < RENEW_WITHIN_SECONDS
    }
}

/// What a timeline counts: how many were kept and how many issued, CAs apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptCounts {
    /// CAs kept from the previous bundle.
    pub authorities_kept: usize,
    /// CAs made now.
    pub authorities_new: usize,
    /// Certificates and kubeconfigs kept.
    pub leaves_kept: usize,
    /// Certificates and kubeconfigs issued now.
    pub leaves_new: usize,
}

impl KeptCounts {
    /// The counts of a timeline.
    pub fn of(timeline: &[Expiry]) -> Self {
        let mut counts = Self::default();
        for expiry in timeline {
            let count = match (expiry.is_ca, expiry.kept) {
                (true, true) => &mut counts.authorities_kept,
                (true, false) => &mut counts.authorities_new,
                (false, true) => &mut counts.leaves_kept,
                (false, false) => &mut counts.leaves_new,
            };
            *count += 1;
        }
        counts
    }
}

impl Bundle {
    /// Every CA, certificate and kubeconfig of the bundle, soonest to expire first, each marked
    /// kept when `previous` has the very same certificate. `None` for a bundle made before
    /// bundles recorded their identity; an error for an unreadable `identity.json`.
    pub fn expiries(&self, previous: Option<&Bundle>) -> Option<Result<Vec<Expiry>, String>> {
        let identity = match self.identity()? {
            Ok(identity) => identity,
            Err(error) => return Some(Err(error)),
        };
        let before = previous.and_then(Bundle::identity).and_then(Result::ok);
        let mut timeline = Vec::new();
        for authority in &identity.authorities {
            let spec = CERTIFICATE_AUTHORITIES
                .iter()
                .find(|spec| spec.config_name == authority.kind);
            timeline.push(Expiry {
                what: spec.map_or_else(
                    || format!("{} CA", authority.kind),
                    |spec| format!("{PKI_DIR}/{}.crt", spec.file),
                ),
                node: None,
                common_name: spec
                    .map_or(authority.kind.as_str(), |spec| spec.common_name)
                    .to_owned(),
                not_after: authority.not_after,
                is_ca: true,
                kept: before.iter().any(|old| {
                    old.authorities
                        .iter()
                        .any(|kept| kept.certificate_pem == authority.certificate_pem)
                }),
            });
        }
        for leaf in &identity.leaves {
            let what = match (leaf.kind, &leaf.node) {
                (LeafKind::Certificate, _) => format!("{PKI_DIR}/{}.crt", leaf.file),
                (LeafKind::Kubeconfig, Some(_)) => format!("{KUBECONFIG_DIR}/{}", leaf.file),
                (LeafKind::Kubeconfig, None) => leaf.file.clone(),
            };
            timeline.push(Expiry {
                what,
                node: leaf.node.clone(),
                common_name: leaf.request.common_name.clone(),
                not_after: leaf.not_after,
                is_ca: false,
                kept: before.iter().any(|old| {
                    old.leaves
                        .iter()
                        .any(|kept| kept.certificate_pem == leaf.certificate_pem)
                }),
            });
        }
        timeline
            .sort_by(|a, b| (a.not_after, &a.node, &a.what).cmp(&(b.not_after, &b.node, &b.what)));
        Some(Ok(timeline))
    }
}

/// Unix seconds as `YYYY-MM-DD` (UTC, proleptic Gregorian): how expiries are shown, by the
/// command line and by the page alike (H. Hinnant's days-to-civil; no date crate for one line).
pub fn iso_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
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

#[cfg(test)]
mod tests {
    use super::iso_date;

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(951_782_400), "2000-02-29");
        assert_eq!(iso_date(1_790_000_000), "2026-09-21");
        assert_eq!(iso_date(4_102_444_799), "2099-12-31");
        assert_eq!(iso_date(-1), "1969-12-31");
    }
}
