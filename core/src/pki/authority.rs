//! Certificate authorities: made here or brought by the user, and the only way to issue a leaf
//! (a leaf can only be signed through a [`CertificateAuthority`] value).

use rand_core::{CryptoRng, Rng};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyUsagePurpose, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
#[cfg(feature = "x509-parsing")]
use x509_parser::der_parser::asn1_rs::Tag;
#[cfg(feature = "x509-parsing")]
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate, X509Name};

use super::Error;
use super::inventory::{CaSpec, Usage};
use super::key::KeyPair;

/// kubeadm backdates NotBefore by five minutes so that nodes with a slightly slow clock
/// accept fresh certificates.
const BACKDATE_SECONDS: i64 = 5 * 60;

/// What a leaf certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRequest {
    /// Subject CN.
    pub common_name: String,
    /// Subject O, if any.
    pub organization: Option<String>,
    /// Extended key usage.
    pub usage: Usage,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// IP SANs.
    pub ip_addresses: Vec<std::net::IpAddr>,
}

/// A certificate as PEM with its private key.
#[derive(Clone, PartialEq, Eq)]
pub struct CertAndKey {
    /// The certificate (PEM).
    pub certificate_pem: String,
    /// The private key (PEM). A secret.
    pub key_pem: String,
}

impl std::fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAndKey")
            .field("certificate_pem", &self.certificate_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A CA that can sign leaves.
pub struct CertificateAuthority {
    spec: &'static CaSpec,
    issuer: Issuer<'static, KeyPair>,
    material: CertAndKey,
    /// DER SubjectPublicKeyInfo of the CA certificate.
    spki_der: Vec<u8>,
    /// Unix time after which the CA is no longer valid.
    not_after: i64,
    /// Whether the user brought it.
    provided: bool,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("common_name", &self.spec.common_name)
            .field("provided", &self.provided)
            .finish()
    }
}

/// Validity window of a certificate, as unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Issue time (kubeadm's "now"); NotBefore is five minutes earlier.
    pub issued_at: i64,
    /// How long from `issued_at`.
    pub hours: u32,
}

impl Validity {
    fn apply(&self, params: &mut CertificateParams) -> Result<(), Error> {
        let at = |seconds: i64| {
            OffsetDateTime::from_unix_timestamp(seconds)
                .map_err(|_| Error::Certificate(format!("time {seconds} is out of range")))
        };
        params.not_before = at(self.issued_at - BACKDATE_SECONDS)?;
        params.not_after = at(self.not_after())?;
        Ok(())
    }

    fn not_after(&self) -> i64 {
        self.issued_at + i64::from(self.hours) * 3600
    }
}

impl CertificateAuthority {
    /// Makes a new self-signed CA as kubeadm does: CA:TRUE, key usage digitalSignature,
    /// keyEncipherment and keyCertSign, no EKU, and its CN as its only DNS SAN.
    pub fn generate(
        spec: &'static CaSpec,
        key: KeyPair,
        validity: Validity,
        rng: &mut impl CryptoRng,
    ) -> Result<Self, Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(spec.common_name, None);
        params.subject_alt_names = vec![dns_san(spec.common_name)?];
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.serial_number = Some(serial_number(rng));
        params.key_identifier_method = key_identifier(&key);
        validity.apply(&mut params)?;
        let certificate = params.self_signed(&key).map_err(|error| {
            Error::Certificate(format!("signing {}: {error}", spec.common_name))
        })?;
        let material = CertAndKey {
            certificate_pem: certificate.pem(),
            key_pem: key.private_pem()?,
        };
        let spki_der = key.public_key_der();
        Ok(Self {
            spec,
            issuer: Issuer::new(params, key),
            material,
            spki_der,
            not_after: validity.not_after(),
            provided: false,
        })
    }

    /// Rebuilds a CA kbundle made (`material` as it issued it, expiring at `not_after`) to sign
    /// with it again. Its subject is its CN and its key identifier comes from its key, as
    /// [`CertificateAuthority::generate`] made them, so new leaves chain to the same
    /// certificate; nothing is parsed. Refused when it expires before `must_outlive`.
    pub fn from_kept(
        spec: &'static CaSpec,
        material: CertAndKey,
        not_after: i64,
        must_outlive: i64,
    ) -> Result<Self, Error> {
        let fail = |reason: &str| Error::ExistingCa {
            ca: spec.config_name,
            reason: reason.to_owned(),
        };
        if not_after < must_outlive {
            return Err(fail(
                "the previous bundle's CA expires before the certificates it would sign: it must be replaced (a new CA for the whole cluster)",
            ));
        }
        let key = KeyPair::from_pem(&material.key_pem).map_err(|error| fail(&error.to_string()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(spec.common_name, None);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.key_identifier_method = key_identifier(&key);
        let spki_der = key.public_key_der();
        Ok(Self {
            spec,
            issuer: Issuer::new(params, key),
            material,
            spki_der,
            not_after,
            provided: false,
        })
    }

    /// Uses a CA the user brings. Refuses a certificate that is not a CA, a key that does not
    /// belong to it, or a CA that has expired or expires before `must_outlive` (unix seconds).
    pub fn from_existing(
        spec: &'static CaSpec,
        certificate_pem: &str,
        key_pem: &str,
        now: i64,
        must_outlive: i64,
    ) -> Result<Self, Error> {
        // The browser build leaves certificate parsing out (it is a large part of the .wasm);
        // the page does not offer existing CAs.
        #[cfg(not(feature = "x509-parsing"))]
        {
            let _ = (certificate_pem, key_pem, now, must_outlive);
            Err(Error::ExistingCa {
                ca: spec.config_name,
                reason: "this build cannot read certificates; use the kbundle command line".into(),
            })
        }
        #[cfg(feature = "x509-parsing")]
        {
            let fail = |reason: String| Error::ExistingCa {
                ca: spec.config_name,
                reason,
            };
            let parsed = pem::parse(certificate_pem.trim())
                .map_err(|_| fail("the certificate is not PEM".into()))?;
            if parsed.tag() != "CERTIFICATE" {
                return Err(fail(format!(
                    "expected a CERTIFICATE, found {}",
                    parsed.tag()
                )));
            }
            let (_, certificate) = X509Certificate::from_der(parsed.contents())
                .map_err(|_| fail("the certificate cannot be parsed".into()))?;
            let is_ca = certificate
                .basic_constraints()
                .ok()
                .flatten()
                .is_some_and(|constraints| constraints.value.ca);
            if !is_ca {
                return Err(fail(
                    "the certificate is not a CA (basicConstraints CA:TRUE is missing)".into(),
                ));
            }
            let key = KeyPair::from_pem(key_pem).map_err(|error| fail(error.to_string()))?;
            let certificate_key = certificate.public_key().subject_public_key.data.as_ref();
            if certificate_key != rcgen::PublicKeyData::der_bytes(&key) {
                return Err(fail("the key does not match the certificate".into()));
            }
            let not_after = certificate.validity().not_after.timestamp();
            if not_after <= now {
                return Err(fail("the certificate has expired".into()));
            }
            if not_after < must_outlive {
                return Err(fail(
                "the CA expires before the certificates it would sign; renew it or shorten spec.certificates.validity".into(),
            ));
            }
            let spki_der = certificate.public_key().raw.to_vec();
            let material = CertAndKey {
                certificate_pem: pem::encode(&parsed).replace("\r\n", "\n"),
                key_pem: key.private_pem()?,
            };
            let mut params = CertificateParams::default();
            params.distinguished_name = distinguished_name(certificate.subject())
                .ok_or_else(|| fail("its subject uses a string type kbundle cannot copy".into()))?;
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            // Leaves name the CA by its own subject key identifier, so chains build by key id.
            params.key_identifier_method =
                match certificate.extensions().iter().find_map(|extension| {
                    match extension.parsed_extension() {
                        ParsedExtension::SubjectKeyIdentifier(identifier) => {
                            Some(identifier.0.to_vec())
                        }
                        _ => None,
                    }
                }) {
                    Some(identifier) => KeyIdMethod::PreSpecified(identifier),
                    None => key_identifier(&key),
                };
            let issuer = Issuer::new(params, key);
            Ok(Self {
                spec,
                issuer,
                material,
                spki_der,
                not_after,
                provided: true,
            })
        }
    }

    /// Issues a leaf for `key`, as kubeadm does: CA:FALSE, digitalSignature and
    /// keyEncipherment, the EKU asked for, DNS SANs sorted and de-duplicated, IP SANs in order.
    pub fn issue(
        &self,
        request: &LeafRequest,
        key: &KeyPair,
        validity: Validity,
        rng: &mut impl CryptoRng,
    ) -> Result<String, Error> {
        if validity.not_after() > self.not_after {
            return Err(Error::Certificate(format!(
                "{} would outlive its CA {}",
                request.common_name, self.spec.common_name
            )));
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&request.common_name, request.organization.as_deref());
        let mut dns_names = request.dns_names.clone();
        dns_names.sort();
        dns_names.dedup();
        let mut ips = request.ip_addresses.clone();
        let mut seen = std::collections::HashSet::new();
        ips.retain(|ip| seen.insert(*ip));
        params.subject_alt_names = dns_names
            .iter()
            .map(|name| dns_san(name))
            .collect::<Result<Vec<_>, _>>()?;
        params
            .subject_alt_names
            .extend(ips.into_iter().map(SanType::IpAddress));
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        if request.usage.is_server() {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if request.usage.is_client() {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        params.serial_number = Some(serial_number(rng));
        params.key_identifier_method = key_identifier(key);
        params.use_authority_key_identifier_extension = true;
        validity.apply(&mut params)?;
        let certificate = params.signed_by(key, &self.issuer).map_err(|error| {
            Error::Certificate(format!("signing {}: {error}", request.common_name))
        })?;
        Ok(certificate.pem())
    }

    /// When it expires (unix seconds).
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// The CA's table entry.
    pub fn spec(&self) -> &'static CaSpec {
        self.spec
    }

    /// Certificate and key PEM.
    pub fn material(&self) -> &CertAndKey {
        &self.material
    }

    /// Whether the user brought this CA.
    pub fn is_provided(&self) -> bool {
        self.provided
    }

    /// `sha256:<hex>` over the CA's SubjectPublicKeyInfo: kubeadm's discovery hash.
    pub fn public_key_pin(&self) -> String {
        let digest = Sha256::digest(&self.spki_der);
        format!("sha256:{}", hex(&digest))
    }
}

fn name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    if let Some(organization) = organization {
        name.push(DnType::OrganizationName, organization);
    }
    name.push(DnType::CommonName, common_name);
    name
}

/// The CA's subject as rcgen needs it to write the leaves' issuer field, keeping each value's
/// string type so that the issuer bytes equal the CA's subject bytes (Go matches them exactly).
#[cfg(feature = "x509-parsing")]
fn distinguished_name(subject: &X509Name<'_>) -> Option<DistinguishedName> {
    let mut name = DistinguishedName::new();
    for attribute in subject.iter_attributes() {
        let oid: Vec<u64> = attribute.attr_type().iter()?.collect();
        let data = attribute.attr_value().data;
        let text = std::str::from_utf8(data).ok()?;
        let value = match attribute.attr_value().header.tag() {
            Tag::Utf8String => rcgen::DnValue::Utf8String(text.to_owned()),
            Tag::PrintableString => rcgen::DnValue::PrintableString(text.try_into().ok()?),
            Tag::Ia5String => rcgen::DnValue::Ia5String(text.try_into().ok()?),
            _ => return None,
        };
        name.push(DnType::from_oid(&oid), value);
    }
    Some(name)
}

fn dns_san(name: &str) -> Result<SanType, Error> {
    let name = name
        .try_into()
        .map_err(|_| Error::Certificate(format!("`{name}` cannot be a DNS SAN")))?;
    Ok(SanType::DnsName(name))
}

/// 16 random bytes, top bit cleared so the DER integer is positive, never zero: well inside
/// RFC 5280's 20-byte limit.
fn serial_number(rng: &mut impl Rng) -> SerialNumber {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    if bytes[0] == 0 {
        bytes[0] = 1;
    }
    SerialNumber::from_slice(&bytes)
}

/// Subject key identifier: the first 20 bytes of SHA-256 over the public key info (rcgen's
/// default, which needs its crypto backend, so it is computed here).
fn key_identifier(key: &KeyPair) -> KeyIdMethod {
    let digest = Sha256::digest(key.public_key_der());
    KeyIdMethod::PreSpecified(digest[..20].to_vec())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
