//! What keeps a cluster's identity from one bundle to the next (`kbundle generate --from`): the
//! three CAs with their keys, the service-account key pair, and every leaf certificate and
//! kubeconfig client certificate with the request it was issued for and when it expires. A bundle
//! made from it keeps the CAs and the service-account keys (so every token, kubelet and etcd
//! member keeps trusting the cluster) and keeps each leaf whose request did not change and that
//! is not near expiry: only what is new or changed is issued. It travels inside the bundle as
//! `identity.json`, private like the rest of the bundle and never sent to a node.

use serde::{Deserialize, Serialize};

use super::authority::LeafRequest;
use super::inventory::Usage;

/// A cluster's identity, as one bundle recorded it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The certificate authorities, by their config name (`cluster`, `frontProxy`, `etcd`).
    pub authorities: Vec<KeptAuthority>,
    /// The service-account token signing key pair (`sa.pub`, `sa.key`).
    pub service_account: KeptKeyPair,
    /// Every leaf certificate and kubeconfig client certificate.
    pub leaves: Vec<KeptLeaf>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("authorities", &self.authorities.len())
            .field("leaves", &self.leaves.len())
            .finish_non_exhaustive()
    }
}

/// One CA, with its key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptAuthority {
    /// `cluster`, `frontProxy` or `etcd`.
    pub kind: String,
    /// Its certificate (PEM).
    pub certificate_pem: String,
    /// Its private key (PEM). A secret.
    pub key_pem: String,
    /// When it expires (unix seconds).
    pub not_after: i64,
    /// Brought by the user (`existingCAs`), so its subject is not kbundle's: keeping it means
    /// reading the certificate, which only the command line can.
    pub provided: bool,
}

/// A key pair (PEM).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptKeyPair {
    /// The public key (PEM).
    pub public_pem: String,
    /// The private key (PEM). A secret.
    pub private_pem: String,
}

/// Whether a leaf is a certificate file or the client certificate of a kubeconfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeafKind {
    /// A `.crt`/`.key` pair under the PKI folder.
    Certificate,
    /// The client certificate inside a kubeconfig.
    Kubeconfig,
}

/// One leaf: where it is, what it was issued for, until when, and its material.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptLeaf {
    /// A certificate file or a kubeconfig.
    pub kind: LeafKind,
    /// The node that holds it; `None` for the operator's admin.conf.
    pub node: Option<String>,
    /// Its file name (`apiserver`, `kubelet.conf`, …).
    pub file: String,
    /// The request it was issued for.
    pub request: KeptRequest,
    /// The API server a kubeconfig names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// When it expires (unix seconds).
    pub not_after: i64,
    /// The certificate (PEM).
    pub certificate_pem: String,
    /// Its private key (PEM). A secret.
    pub key_pem: String,
}

/// Where a leaf is: what it is, whose, which file, and for a kubeconfig the server it names.
#[derive(Debug, Clone, Copy)]
pub struct LeafAt<'a> {
    /// A certificate file or a kubeconfig.
    pub kind: LeafKind,
    /// The node that holds it; `None` for the operator's admin.conf.
    pub node: Option<&'a str>,
    /// Its file name.
    pub file: &'a str,
    /// The API server a kubeconfig names.
    pub server: Option<&'a str>,
}

/// A [`LeafRequest`], as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptRequest {
    /// Subject CN.
    pub common_name: String,
    /// Subject O, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// `server`, `client` or `server-and-client`.
    pub usage: String,
    /// DNS SANs, as requested.
    pub dns_names: Vec<String>,
    /// IP SANs, as requested.
    pub ip_addresses: Vec<String>,
}

impl KeptRequest {
    /// The record of `request`.
    pub fn of(request: &LeafRequest) -> Self {
        Self {
            common_name: request.common_name.clone(),
            organization: request.organization.clone(),
            usage: usage_name(request.usage).to_owned(),
            dns_names: request.dns_names.clone(),
            ip_addresses: request
                .ip_addresses
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

fn usage_name(usage: Usage) -> &'static str {
    match usage {
        Usage::Server => "server",
        Usage::Client => "client",
        Usage::ServerAndClient => "server-and-client",
    }
}

/// A leaf is renewed when less than this is left of it (or a third of its validity, if that
/// is shorter), as `kbundle certs` warns.
pub const RENEW_WITHIN_SECONDS: i64 = 30 * 24 * 3600;

impl Identity {
    /// The CA of config name `kind`.
    pub fn authority(&self, kind: &str) -> Option<&KeptAuthority> {
        self.authorities.iter().find(|ca| ca.kind == kind)
    }

    /// The leaf to keep at `at` for `request`, if it was issued for exactly this request (and
    /// server) and has more than [`RENEW_WITHIN_SECONDS`] (or a third of `validity_hours`) left
    /// at `now`.
    pub fn keepable(
        &self,
        at: &LeafAt<'_>,
        request: &LeafRequest,
        now: i64,
        validity_hours: u32,
    ) -> Option<&KeptLeaf> {
        let margin = RENEW_WITHIN_SECONDS.min(i64::from(validity_hours) * 3600 / 3);
        self.leaves.iter().find(|leaf| {
            leaf.kind == at.kind
                && leaf.node.as_deref() == at.node
                && leaf.file == at.file
                && leaf.request == KeptRequest::of(request)
                && leaf.server.as_deref() == at.server
                && leaf.not_after - now > margin
        })
    }

    /// The identity as `identity.json` holds it.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Reads `identity.json`.
    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|error| format!("identity.json: {error}"))
    }
}
