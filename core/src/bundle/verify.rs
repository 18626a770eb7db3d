//! Checks what is inside a bundle, with our own code and no trust in how it was made: every
//! certificate chains to its CA (signature checked) and matches its key, every kubeconfig names
//! the cluster CA and the right API server and carries a client certificate of that CA (the
//! bootstrap kubeconfig of `join/`: the cluster's bootstrap token), no node holds a private key
//! it must not have and `join/` holds none, each folder's `SHA256SUMS` matches its files, and
//! nothing has expired. (Checksums against `bundle.json` and the layout are checked when the
//! bundle is read.)

use std::collections::HashMap;

use p256::ecdsa::signature::Verifier;
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::layout;
use super::{Bundle, sha256_hex};
use crate::pki::KeyPair;
use crate::pki::inventory::{BOOTSTRAP_KUBECONFIG, KUBECONFIG_DIR};

const ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";
const SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
const PKI_DIR: &str = "/etc/kubernetes/pki/";

/// What verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Problems, each naming the file and what is wrong. Empty when the bundle is sound.
    pub problems: Vec<String>,
    /// Certificates checked.
    pub certificates: usize,
    /// Kubeconfigs checked.
    pub kubeconfigs: usize,
}

impl Report {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A parsed certificate's facts.
#[derive(Debug, Clone)]
pub struct CertificateFacts {
    /// Subject, e.g. `O=system:nodes, CN=system:node:w1`.
    pub subject: String,
    /// Issuer.
    pub issuer: String,
    /// SANs as `DNS:name` / `IP:address`.
    pub sans: Vec<String>,
    /// NotAfter, unix seconds.
    pub not_after: i64,
    /// Whether it is a CA.
    pub is_ca: bool,
    der: Vec<u8>,
}

/// Parses a PEM certificate.
pub fn certificate_facts(pem_text: &str) -> Result<CertificateFacts, String> {
    let block = pem::parse(pem_text.trim()).map_err(|_| "not PEM".to_owned())?;
    let der = block.contents().to_vec();
    let (_, certificate) =
        X509Certificate::from_der(&der).map_err(|_| "not a certificate".to_owned())?;
    let mut sans = Vec::new();
    if let Ok(Some(names)) = certificate.subject_alternative_name() {
        for name in &names.value.general_names {
            match name {
                x509_parser::prelude::GeneralName::DNSName(dns) => sans.push(format!("DNS:{dns}")),
                x509_parser::prelude::GeneralName::IPAddress(bytes) => {
                    let address = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes)
                            .ok()
                            .map(std::net::IpAddr::from),
                        _ => None,
                    };
                    if let Some(address) = address {
                        sans.push(format!("IP:{address}"));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(CertificateFacts {
        subject: certificate.subject().to_string(),
        issuer: certificate.issuer().to_string(),
        sans,
        not_after: certificate.validity().not_after.timestamp(),
        is_ca: certificate.is_ca(),
        der: der.clone(),
    })
}

/// Whether `child` carries a valid signature by `issuer`'s key.
pub fn is_signed_by(child: &CertificateFacts, issuer: &CertificateFacts) -> Result<bool, String> {
    let (_, child) = X509Certificate::from_der(&child.der).map_err(|e| e.to_string())?;
    let (_, issuer) = X509Certificate::from_der(&issuer.der).map_err(|e| e.to_string())?;
    let message = child.tbs_certificate.as_ref();
    let signature = child.signature_value.data.as_ref();
    let issuer_key = issuer.public_key();
    match child.signature_algorithm.algorithm.to_id_string().as_str() {
        ECDSA_WITH_SHA256 => {
            let Ok(key) =
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&issuer_key.subject_public_key.data)
            else {
                return Ok(false);
            };
            let Ok(signature) = p256::ecdsa::Signature::from_der(signature) else {
                return Ok(false);
            };
            Ok(key.verify(message, &signature).is_ok())
        }
        SHA256_WITH_RSA => {
            let Ok(key) = rsa::PublicKey::from_public_key_der(issuer_key.raw) else {
                return Ok(false);
            };
            let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key);
            let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else {
                return Ok(false);
            };
            Ok(verifier.verify(message, &signature).is_ok())
        }
        other => Err(format!("unsupported signature algorithm {other}")),
    }
}

/// Whether `key_pem` is the private key of the certificate.
fn key_matches(certificate: &CertificateFacts, key_pem: &str) -> bool {
    let Ok((_, parsed)) = X509Certificate::from_der(&certificate.der) else {
        return false;
    };
    KeyPair::from_pem(key_pem).is_ok_and(|key| {
        rcgen::PublicKeyData::der_bytes(&key)
            == parsed.public_key().subject_public_key.data.as_ref()
    })
}

#[derive(Deserialize)]
struct Kubeconfig {
    clusters: Vec<NamedCluster>,
    users: Vec<NamedUser>,
}

#[derive(Deserialize)]
struct NamedCluster {
    cluster: ClusterEntry,
}

#[derive(Deserialize)]
struct ClusterEntry {
    server: String,
    #[serde(rename = "certificate-authority-data")]
    certificate_authority_data: String,
}

#[derive(Deserialize)]
struct NamedUser {
    user: UserEntry,
}

/// A client certificate and key, or (the bootstrap kubeconfig) a token.
#[derive(Deserialize)]
struct UserEntry {
    #[serde(rename = "client-certificate-data", default)]
    client_certificate_data: Option<String>,
    #[serde(rename = "client-key-data", default)]
    client_key_data: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

/// A kubeconfig's `*-data` value (base64) as text; `None` when it is not base64 of UTF-8.
pub fn decode_data(text: &str) -> Option<String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// Verifies `bundle` at time `now` (unix seconds).
pub fn verify(bundle: &Bundle, now: i64) -> Report {
    let mut report = Report::default();
    let manifest = &bundle.manifest;
    let roles: HashMap<&str, &[String]> = manifest
        .nodes
        .iter()
        .map(|node| (node.name.as_str(), node.roles.as_slice()))
        .collect();
    let addresses: HashMap<&str, &[String]> = manifest
        .nodes
        .iter()
        .map(|node| (node.name.as_str(), node.addresses.as_slice()))
        .collect();
    let cluster_ca = bundle
        .manifest
        .nodes
        .first()
        .and_then(|node| bundle.entry(&layout::node_file(&node.name, &format!("{PKI_DIR}ca.crt"))))
        .and_then(|entry| certificate_facts(&String::from_utf8_lossy(&entry.contents)).ok());
    let Some(cluster_ca) = cluster_ca else {
        report
            .problems
            .push("the cluster CA certificate (ca.crt) is missing".into());
        return report;
    };

    for node in &manifest.nodes {
        let name = node.name.as_str();
        check_checksums(
            &mut report,
            bundle,
            &format!("{}/{name}", layout::NODES_DIR),
            name,
        );
        let node_roles = roles.get(name).copied().unwrap_or_default();
        let has = |role: &str| node_roles.iter().any(|r| r == role);
        let files: HashMap<String, String> = bundle
            .node_files(name)
            .into_iter()
            .map(|file| (file.path, file.contents))
            .collect();
        // Least privilege.
        for path in files.keys() {
            let forbidden = match path.as_str() {
                p if p.ends_with("front-proxy-ca.key") || p.ends_with("etcd/ca.key") => true,
                p if p.ends_with("/pki/ca.key") || p.ends_with("sa.key") => !has("control-plane"),
                p if p.starts_with(&format!("{PKI_DIR}etcd/")) && p.ends_with(".key") => {
                    !has("etcd")
                }
                p if p.ends_with(".key") => !has("control-plane"),
                _ => false,
            };
            if forbidden {
                report.problems.push(format!(
                    "{name}: holds {path}, a key this node must not have"
                ));
            }
        }
        for (path, contents) in &files {
            let Some(base) = path
                .strip_suffix(".crt")
                .filter(|_| path.starts_with(PKI_DIR))
            else {
                continue;
            };
            report.certificates += 1;
            let certificate = match certificate_facts(contents) {
                Ok(certificate) => certificate,
                Err(error) => {
                    report.problems.push(format!("{name}:{path}: {error}"));
                    continue;
                }
            };
            if certificate.not_after <= now {
                report.problems.push(format!("{name}:{path}: expired"));
            }
            // The CA that must have signed it, as the node itself holds it.
            let relative = &base[PKI_DIR.len()..];
            let ca_path = if certificate.is_ca {
                path.clone()
            } else if relative.starts_with("etcd/") || relative == "apiserver-etcd-client" {
                format!("{PKI_DIR}etcd/ca.crt")
            } else if relative == "front-proxy-client" {
                format!("{PKI_DIR}front-proxy-ca.crt")
            } else {
                format!("{PKI_DIR}ca.crt")
            };
            match files.get(&ca_path).map(|ca| certificate_facts(ca)) {
                Some(Ok(ca)) => match is_signed_by(&certificate, &ca) {
                    Ok(true) => {}
                    Ok(false) => report
                        .problems
                        .push(format!("{name}:{path}: not signed by {ca_path}")),
                    Err(error) => report.problems.push(format!("{name}:{path}: {error}")),
                },
                _ => report.problems.push(format!(
                    "{name}:{path}: its CA {ca_path} is not on the node"
                )),
            }
            let key_path = format!("{base}.key");
            if let Some(key) = files.get(&key_path)
                && !key_matches(&certificate, key)
            {
                report
                    .problems
                    .push(format!("{name}:{key_path}: does not match {path}"));
            }
        }
        for (path, contents) in &files {
            if !(path.starts_with("/etc/kubernetes/") && path.ends_with(".conf"))
                || path.contains("/pki/")
            {
                continue;
            }
            let local: Vec<String> = addresses
                .get(name)
                .copied()
                .unwrap_or_default()
                .iter()
                .map(|address| match address.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V6(v6)) => format!("https://[{v6}]:6443"),
                    _ => format!("https://{address}:6443"),
                })
                .collect();
            let file_name = path.rsplit('/').next().unwrap_or_default();
            let expect_local = matches!(file_name, "controller-manager.conf" | "scheduler.conf")
                || (file_name == "kubelet.conf" && has("control-plane"));
            let allowed: Vec<String> = if expect_local {
                local
            } else {
                vec![manifest.control_plane_endpoint.clone()]
            };
            check_kubeconfig(
                &mut report,
                &format!("{name}:{path}"),
                contents,
                &cluster_ca,
                &allowed,
                now,
            );
        }
    }
    if let Some(admin) = bundle.entry(layout::ADMIN_CONF) {
        check_kubeconfig(
            &mut report,
            layout::ADMIN_CONF,
            &String::from_utf8_lossy(&admin.contents),
            &cluster_ca,
            std::slice::from_ref(&manifest.control_plane_endpoint),
            now,
        );
    }
    check_join(&mut report, bundle, &cluster_ca);
    report
}

/// `join/`, when the bundle has one (bundles made before it existed do not): the cluster CA,
/// a bootstrap kubeconfig with the cluster's bootstrap token, nothing that names or authenticates
/// a node, and its `SHA256SUMS`.
fn check_join(report: &mut Report, bundle: &Bundle, cluster_ca: &CertificateFacts) {
    let prefix = format!("{}/", layout::JOIN_DIR);
    if !bundle.entries.iter().any(|e| e.path.starts_with(&prefix)) {
        return;
    }
    let label = layout::JOIN_DIR;
    check_checksums(report, bundle, layout::JOIN_DIR, label);
    let files: HashMap<String, String> = bundle
        .join_files()
        .into_iter()
        .map(|file| (file.path, file.contents))
        .collect();
    for path in files.keys() {
        if path.ends_with(".key") || path == &format!("{KUBECONFIG_DIR}/kubelet.conf") {
            report.problems.push(format!(
                "{label}: holds {path}, which no joining node may have (it asks for its own certificate)"
            ));
        }
    }
    let ca_path = format!("{PKI_DIR}ca.crt");
    report.certificates += 1;
    match files.get(&ca_path).map(|ca| certificate_facts(ca)) {
        Some(Ok(ca)) if ca.der == cluster_ca.der => {}
        Some(_) => report
            .problems
            .push(format!("{label}:{ca_path}: not the cluster CA")),
        None => report
            .problems
            .push(format!("{label}: the cluster CA {ca_path} is missing")),
    }
    let path = format!("{KUBECONFIG_DIR}/{BOOTSTRAP_KUBECONFIG}");
    let Some(contents) = files.get(&path) else {
        report.problems.push(format!("{label}: {path} is missing"));
        return;
    };
    let label = format!("{label}:{path}");
    let Some(user) = check_kubeconfig_cluster(
        report,
        &label,
        contents,
        cluster_ca,
        std::slice::from_ref(&bundle.manifest.control_plane_endpoint),
    ) else {
        return;
    };
    if user.client_certificate_data.is_some() || user.client_key_data.is_some() {
        report.problems.push(format!(
            "{label}: holds a client certificate; a joining node asks for its own"
        ));
    }
    // The secret is never shown, only whether it is the one the cluster will know.
    match (&user.token, bootstrap_token(bundle)) {
        (None, _) => report.problems.push(format!("{label}: has no token")),
        (Some(_), None) => report.problems.push(format!(
            "{label}: no bootstrap token Secret among the addons to match its token"
        )),
        (Some(token), Some(known)) if *token != known => report.problems.push(format!(
            "{label}: its token is not the bootstrap token of the addons"
        )),
        _ => {}
    }
}

/// `<token-id>.<token-secret>` of the bootstrap token Secret among the addons.
fn bootstrap_token(bundle: &Bundle) -> Option<String> {
    let addons = bundle
        .entries
        .iter()
        .filter(|entry| entry.path.starts_with(&format!("{}/", layout::ADDONS_DIR)))
        .map(|entry| String::from_utf8_lossy(&entry.contents).into_owned())
        .filter(|text| text.contains("bootstrap.kubernetes.io/token"));
    for text in addons {
        for document in text.split("\n---\n").map(|d| d.trim_start_matches("---\n")) {
            let Ok(object) = crate::yaml::from_yaml::<serde_json::Value>(document) else {
                continue;
            };
            if object["type"] != "bootstrap.kubernetes.io/token" {
                continue;
            }
            let field = |name: &str| object["data"][name].as_str().and_then(decode_data);
            if let (Some(id), Some(secret)) = (field("token-id"), field("token-secret")) {
                return Some(format!("{id}.{secret}"));
            }
        }
    }
    None
}

/// `<folder>/SHA256SUMS` lists exactly the files of `<folder>/rootfs/` with their checksums:
/// install.sh checks it before placing anything, so a mismatch would stop the install.
fn check_checksums(report: &mut Report, bundle: &Bundle, folder: &str, label: &str) {
    let rootfs = format!("{folder}/rootfs/");
    let Some(sums) = bundle.entry(&format!("{folder}/SHA256SUMS")) else {
        report
            .problems
            .push(format!("{label}: {folder}/SHA256SUMS is missing"));
        return;
    };
    let mut listed: HashMap<String, String> = String::from_utf8_lossy(&sums.contents)
        .lines()
        .filter_map(|line| line.split_once("  "))
        .map(|(sum, path)| (path.to_owned(), sum.to_owned()))
        .collect();
    for entry in &bundle.entries {
        let Some(path) = entry.path.strip_prefix(&rootfs) else {
            continue;
        };
        match listed.remove(path) {
            Some(sum) if sum == sha256_hex(&entry.contents) => {}
            Some(_) => report.problems.push(format!(
                "{label}: {folder}/SHA256SUMS does not match /{path}"
            )),
            None => report.problems.push(format!(
                "{label}: {folder}/SHA256SUMS does not list /{path}"
            )),
        }
    }
    let mut unknown: Vec<String> = listed.into_keys().collect();
    unknown.sort();
    for path in unknown {
        report.problems.push(format!(
            "{label}: {folder}/SHA256SUMS lists /{path}, which is not in the bundle"
        ));
    }
}

/// Checks the cluster of a kubeconfig (the cluster CA, one of `allowed_servers`) and returns its
/// user, or `None` when it cannot be read.
fn check_kubeconfig_cluster(
    report: &mut Report,
    label: &str,
    contents: &str,
    cluster_ca: &CertificateFacts,
    allowed_servers: &[String],
) -> Option<UserEntry> {
    report.kubeconfigs += 1;
    let Ok(kubeconfig) = crate::yaml::from_yaml::<Kubeconfig>(contents) else {
        report
            .problems
            .push(format!("{label}: not a kubeconfig with embedded data"));
        return None;
    };
    let (Some(cluster), Some(user)) = (
        kubeconfig.clusters.into_iter().next(),
        kubeconfig.users.into_iter().next(),
    ) else {
        report
            .problems
            .push(format!("{label}: has no cluster or no user"));
        return None;
    };
    let ca_matches = decode_data(&cluster.cluster.certificate_authority_data)
        .and_then(|pem| certificate_facts(&pem).ok())
        .is_some_and(|ca| ca.der == cluster_ca.der);
    if !ca_matches {
        report
            .problems
            .push(format!("{label}: its CA is not the cluster CA"));
    }
    if !allowed_servers.contains(&cluster.cluster.server) {
        report.problems.push(format!(
            "{label}: names {}, expected {}",
            cluster.cluster.server,
            allowed_servers.join(" or ")
        ));
    }
    Some(user.user)
}

fn check_kubeconfig(
    report: &mut Report,
    label: &str,
    contents: &str,
    cluster_ca: &CertificateFacts,
    allowed_servers: &[String],
    now: i64,
) {
    let Some(user) = check_kubeconfig_cluster(report, label, contents, cluster_ca, allowed_servers)
    else {
        return;
    };
    let client = user
        .client_certificate_data
        .as_deref()
        .and_then(decode_data)
        .and_then(|pem| certificate_facts(&pem).ok());
    let key = user.client_key_data.as_deref().and_then(decode_data);
    match (client, key) {
        (Some(client), Some(key)) => {
            if !is_signed_by(&client, cluster_ca).unwrap_or(false) {
                report.problems.push(format!(
                    "{label}: client certificate not signed by the cluster CA"
                ));
            }
            if !key_matches(&client, &key) {
                report.problems.push(format!(
                    "{label}: client key does not match its certificate"
                ));
            }
            if client.not_after <= now {
                report
                    .problems
                    .push(format!("{label}: client certificate expired"));
            }
        }
        _ => report
            .problems
            .push(format!("{label}: client certificate or key unreadable")),
    }
}
