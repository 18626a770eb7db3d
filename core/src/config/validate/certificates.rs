//! `spec.certificates`: key algorithm, validities, the bootstrap token's lifetime, extra SANs
//! and existing CAs.

use std::net::IpAddr;

use super::*;

const DEFAULT_VALIDITY_HOURS: u32 = 365 * 24;
const DEFAULT_CA_VALIDITY_HOURS: u32 = 10 * 365 * 24;
/// kubeadm's default token lifetime: whoever holds an old bundle can no longer mint node
/// certificates a day after it was made.
const DEFAULT_BOOTSTRAP_TOKEN_TTL_HOURS: u32 = 24;

impl Checker {
    pub(super) fn certificates(&mut self, raw: &RawClusterConfig) -> Option<Certificates> {
        let certificates = &raw.spec.certificates;
        let errors_before = self.error_count();
        let key_algorithm = match certificates.key_algorithm.as_deref() {
            None | Some("ECDSA-P256") => KeyAlgorithm::EcdsaP256,
            Some("RSA-2048") => KeyAlgorithm::Rsa2048,
            Some("RSA-3072") => KeyAlgorithm::Rsa3072,
            Some("RSA-4096") => KeyAlgorithm::Rsa4096,
            Some(other) => {
                self.push(
                    Diagnostic::error(
                        "spec.certificates.keyAlgorithm",
                        "is not a supported key algorithm",
                    )
                    .value(other)
                    .hint("use `ECDSA-P256` (default), `RSA-2048`, `RSA-3072` or `RSA-4096`"),
                );
                KeyAlgorithm::EcdsaP256
            }
        };
        let validity_hours = self.duration(
            "spec.certificates.validity",
            certificates.validity.as_deref(),
            DEFAULT_VALIDITY_HOURS,
        );
        let ca_validity_hours = self.duration(
            "spec.certificates.caValidity",
            certificates.ca_validity.as_deref(),
            DEFAULT_CA_VALIDITY_HOURS,
        );
        if let (Some(leaf), Some(ca)) = (validity_hours, ca_validity_hours)
            && leaf > ca
        {
            self.push(
                Diagnostic::error(
                    "spec.certificates.validity",
                    "is longer than the CA's validity",
                )
                .value(certificates.validity.as_deref().unwrap_or_default())
                .hint(
                    "a certificate cannot outlive its CA; shorten validity or lengthen caValidity",
                ),
            );
        }
        let bootstrap_token_ttl_hours =
            self.bootstrap_token_ttl(certificates.bootstrap_token_ttl.as_deref(), validity_hours);
        let mut extra_sans = Vec::new();
        for (index, san) in certificates.extra_sans.iter().enumerate() {
            if let Ok(address) = san.parse::<IpAddr>() {
                extra_sans.push(Host::Ip(address));
            } else if is_dns_subdomain(san.strip_prefix("*.").unwrap_or(san)) {
                extra_sans.push(Host::Name(san.clone()));
            } else {
                self.push(
                    Diagnostic::error(
                        format!("spec.certificates.extraSANs[{index}]"),
                        "is neither an IP address nor a DNS name",
                    )
                    .value(san)
                    .hint("write e.g. `api.example.com` or `192.0.2.50`"),
                );
            }
        }
        let mut existing_cas = Vec::new();
        let existing = &certificates.existing_cas;
        for (spec, files) in crate::pki::inventory::CERTIFICATE_AUTHORITIES.iter().zip([
            &existing.cluster,
            &existing.front_proxy,
            &existing.etcd,
        ]) {
            let Some(files) = files else { continue };
            let path = format!("spec.certificates.existingCAs.{}", spec.config_name);
            let certificate_file =
                self.file_path(&format!("{path}.certFile"), files.cert_file.as_deref());
            let key_file = self.file_path(&format!("{path}.keyFile"), files.key_file.as_deref());
            if let (Some(certificate_file), Some(key_file)) = (certificate_file, key_file) {
                existing_cas.push(ExistingCaFiles {
                    kind: spec.kind,
                    certificate_file,
                    key_file,
                });
            }
        }
        (self.error_count() == errors_before).then_some(Certificates {
            key_algorithm,
            validity_hours: validity_hours?,
            ca_validity_hours: ca_validity_hours?,
            bootstrap_token_ttl_hours: bootstrap_token_ttl_hours?,
            extra_sans,
            existing_cas,
        })
    }

    /// The bootstrap token's lifetime: positive (kubeadm's `0`, never expiring, is what this
    /// setting exists to avoid) and within the certificates' validity. Left out, 24 hours, or
    /// the validity when that is shorter.
    fn bootstrap_token_ttl(
        &mut self,
        text: Option<&str>,
        validity_hours: Option<u32>,
    ) -> Option<u32> {
        let path = "spec.certificates.bootstrapTokenTTL";
        let Some(text) = text else {
            return Some(
                validity_hours.map_or(DEFAULT_BOOTSTRAP_TOKEN_TTL_HOURS, |validity| {
                    validity.min(DEFAULT_BOOTSTRAP_TOKEN_TTL_HOURS)
                }),
            );
        };
        if parse_duration_hours(text) == Some(0) {
            self.push(
                Diagnostic::error(path, "must be longer than zero")
                    .value(text)
                    .hint("a token that never expires lets anyone with this bundle join nodes for ever; use e.g. `24h`, and `kbundle join-token` when a node joins later"),
            );
            return None;
        }
        let hours = self.duration(path, Some(text), DEFAULT_BOOTSTRAP_TOKEN_TTL_HOURS)?;
        if let Some(validity) = validity_hours
            && hours > validity
        {
            self.push(
                Diagnostic::error(path, "is longer than the certificates' validity")
                    .value(text)
                    .hint("the token lets nodes join, so it must not outlive the certificates; shorten bootstrapTokenTTL (default `24h`) or lengthen validity"),
            );
            return None;
        }
        Some(hours)
    }

    fn file_path(&mut self, path: &str, file: Option<&str>) -> Option<String> {
        match file {
            Some(file) if !file.trim().is_empty() => Some(file.to_owned()),
            _ => {
                self.push(
                    Diagnostic::error(path, "is missing")
                        .hint("give both certFile and keyFile of the CA, as PEM files"),
                );
                None
            }
        }
    }

    fn duration(&mut self, path: &str, text: Option<&str>, default: u32) -> Option<u32> {
        let Some(text) = text else {
            return Some(default);
        };
        match parse_duration_hours(text) {
            Some(hours) if hours > 0 => Some(hours),
            _ => {
                self.push(
                    Diagnostic::error(path, "is not a duration")
                        .value(text)
                        .hint("write a whole number of hours, days or years, e.g. `8760h`, `365d` or `10y`"),
                );
                None
            }
        }
    }
}

/// `8760h`, `365d`, `10y` (365-day years, as kubeadm counts them) → hours.
pub fn parse_duration_hours(text: &str) -> Option<u32> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let number: u32 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let per_unit = match unit {
        'h' => 1,
        'd' => 24,
        'y' => 365 * 24,
        _ => return None,
    };
    number.checked_mul(per_unit)
}
