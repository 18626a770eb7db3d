//! Every certificate a bundle gives its nodes and its operator, with its expiry: what
//! `kbundle certs` lists, and what it compares with the certificates installed on the nodes.
//! A kubeconfig counts by the client certificate inside it. Only certificates are read, never
//! a key: on a node, a kubeconfig's `client-certificate-data` line is all that is looked at.

use super::verify::{certificate_facts, decode_data};
use super::{Bundle, layout};

/// One certificate of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldCertificate {
    /// The node it is placed on; `None` for the operator's `admin.conf` and for a CA, listed
    /// once for every node that has it.
    pub node: Option<String>,
    /// Where it is: an absolute path on the node (`/etc/kubernetes/pki/apiserver.crt`,
    /// `/etc/kubernetes/kubelet.conf`), or `admin.conf`.
    pub path: String,
    /// Its subject, e.g. `CN=kube-apiserver`.
    pub subject: String,
    /// When it expires (unix seconds).
    pub not_after: i64,
    /// A certificate authority.
    pub is_ca: bool,
    /// The certificate itself (PEM), to compare with what a node has.
    pub certificate_pem: String,
}

/// The certificate a file holds: the file itself (`.crt`) or a kubeconfig's client
/// certificate; `None` for anything else (keys, manifests, a token kubeconfig).
pub fn certificate_in(path: &str, contents: &str) -> Option<String> {
    if path.ends_with(".crt") {
        return Some(contents.to_owned());
    }
    if path.ends_with(".conf") {
        return client_certificate(contents);
    }
    None
}

/// The `client-certificate-data` of a kubeconfig, decoded (PEM).
pub fn client_certificate(kubeconfig: &str) -> Option<String> {
    let value = kubeconfig
        .lines()
        .find_map(|line| line.trim().strip_prefix("client-certificate-data:"))?;
    decode_data(value.trim().trim_matches('"'))
}

impl Bundle {
    /// Every certificate of the bundle, soonest to expire first. A CA is listed once.
    pub fn certificates(&self) -> Vec<HeldCertificate> {
        let mut held: Vec<HeldCertificate> = Vec::new();
        let mut add = |node: Option<&str>, path: &str, contents: &str| {
            let Some(pem) = certificate_in(path, contents) else {
                return;
            };
            let Ok(facts) = certificate_facts(&pem) else {
                return;
            };
            let node = if facts.is_ca {
                None
            } else {
                node.map(str::to_owned)
            };
            let entry = HeldCertificate {
                node,
                path: path.to_owned(),
                subject: facts.subject,
                not_after: facts.not_after,
                is_ca: facts.is_ca,
                certificate_pem: pem,
            };
            if !held.contains(&entry) {
                held.push(entry);
            }
        };
        for node in &self.manifest.nodes {
            for file in self.node_files(&node.name) {
                add(Some(&node.name), &file.path, &file.contents);
            }
        }
        if let Some(admin) = self.entry(layout::ADMIN_CONF) {
            add(
                None,
                layout::ADMIN_CONF,
                &String::from_utf8_lossy(&admin.contents),
            );
        }
        held.sort_by(|a, b| (a.not_after, &a.node, &a.path).cmp(&(b.not_after, &b.node, &b.path)));
        held
    }
}
