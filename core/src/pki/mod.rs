//! The cluster's PKI: certificate authorities, every leaf certificate and kubeconfig in
//! [`inventory`], the service-account key pair, and bootstrap material for nodes added later.
//! Sans-IO: the caller hands in a random seed and the issue time; the same inputs give the same
//! bytes.

mod authority;
pub mod identity;
pub mod inventory;
mod key;
mod kubeconfig;

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

pub use authority::{CertAndKey, CertificateAuthority, LeafRequest, Validity, hex};
pub use identity::Identity;
pub use inventory::{CaKind, CertSpec, KubeconfigSpec};
pub use key::KeyPair;

use crate::config::{ClusterConfig, Host, Node};
use crate::plan::NetworkPlan;
use inventory::{
    BOOTSTRAP_KUBECONFIG, BOOTSTRAP_USER, CERTIFICATE_AUTHORITIES, CERTIFICATES, CommonName,
    KUBECONFIG_DIR, KUBECONFIGS, KubeconfigScope, PKI_DIR, SanRule, Scope, ServerRule,
    organization_for,
};

/// Why the PKI could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key could not be made, read or written.
    #[error("key: {0}")]
    Key(String),
    /// A certificate could not be made.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A CA brought by the user is unusable.
    #[error("spec.certificates.existingCAs.{ca}: {reason}")]
    ExistingCa {
        /// Which CA (`cluster`, `frontProxy`, `etcd`).
        ca: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// A CA the user brings instead of a generated one.
#[derive(Clone, PartialEq, Eq)]
pub struct ExistingCa {
    /// Which authority it replaces.
    pub kind: CaKind,
    /// Its certificate (PEM).
    pub certificate_pem: String,
    /// Its private key (PEM: PKCS#8, SEC1 or PKCS#1).
    pub key_pem: String,
}

impl std::fmt::Debug for ExistingCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExistingCa")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// What the caller supplies: randomness, time and any existing CAs.
#[derive(Debug, Clone)]
pub struct PkiInputs {
    /// Seed of the random generator that makes every key, serial and token. Take it from the
    /// operating system (or `crypto.getRandomValues`); a fixed seed makes tests reproducible.
    pub seed: [u8; 32],
    /// Issue time, unix seconds.
    pub issued_at: i64,
    /// CAs to use instead of generated ones.
    pub existing_cas: Vec<ExistingCa>,
}

/// A kubeadm bootstrap token (`<id>.<secret>`), for nodes that join later.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    /// Six characters `[a-z0-9]`, public.
    pub id: String,
    /// Sixteen characters `[a-z0-9]`, secret.
    pub secret: String,
}

impl std::fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BootstrapToken({}.<redacted>)", self.id)
    }
}

impl BootstrapToken {
    /// A token drawn from `seed` (take it from the operating system's generator): kubeadm's
    /// format, every character equally likely. For tokens made after the bundle
    /// (`kbundle join-token`); the bundle's own comes from the PKI's seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        Self {
            id: token_chars(&mut rng, 6),
            secret: token_chars(&mut rng, 16),
        }
    }

    /// `<id>.<secret>`, as `kubeadm join --token` takes it.
    pub fn token(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }

    /// Whether `text` has kubeadm's token format, `[a-z0-9]{6}.[a-z0-9]{16}`.
    pub fn is_token(text: &str) -> bool {
        let valid = |part: &str, length: usize| {
            part.len() == length
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        text.split_once('.')
            .is_some_and(|(id, secret)| valid(id, 6) && valid(secret, 16))
    }
}

/// The bootstrap kubeconfig of a node that joins later (`join/rootfs/etc/kubernetes/`
/// [`BOOTSTRAP_KUBECONFIG`]): the control-plane endpoint every worker's kubelet.conf names, the
/// cluster CA, and `token` instead of a client certificate.
pub fn bootstrap_kubeconfig(
    config: &ClusterConfig,
    cluster_ca_pem: &str,
    token: &BootstrapToken,
) -> String {
    kubeconfig::render_with_token(
        &config.name,
        &config.api_endpoint().url(),
        cluster_ca_pem,
        BOOTSTRAP_USER,
        &token.token(),
    )
}

/// One issued leaf certificate.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// Its table entry.
    pub spec: &'static CertSpec,
    /// The node it belongs to.
    pub node: String,
    /// Certificate and key.
    pub material: CertAndKey,
    /// What it was issued for.
    pub request: LeafRequest,
    /// When it expires (unix seconds).
    pub not_after: i64,
    /// Kept from the bundle it was made from, not issued now.
    pub kept: bool,
}

/// One issued kubeconfig.
#[derive(Debug, Clone)]
pub struct IssuedKubeconfig {
    /// Its table entry.
    pub spec: &'static KubeconfigSpec,
    /// The node it belongs to; `None` for the operator's copy.
    pub node: Option<String>,
    /// The API server URL it names.
    pub server: String,
    /// The client certificate inside it.
    pub client: CertAndKey,
    /// The kubeconfig YAML. A secret.
    pub contents: String,
    /// What its client certificate was issued for.
    pub request: LeafRequest,
    /// When its client certificate expires (unix seconds).
    pub not_after: i64,
    /// Kept from the bundle it was made from, not issued now.
    pub kept: bool,
}

/// A file for a node's disk.
#[derive(Clone, PartialEq, Eq)]
pub struct PkiFile {
    /// Absolute path on the node.
    pub path: String,
    /// Contents.
    pub contents: String,
    /// Unix mode: 0600 for keys and kubeconfigs, 0644 for certificates.
    pub mode: u32,
}

impl std::fmt::Debug for PkiFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PkiFile({} {:o})", self.path, self.mode)
    }
}

/// The whole PKI of a cluster.
#[derive(Debug)]
pub struct Pki {
    /// The three CAs.
    pub authorities: Vec<CertificateAuthority>,
    /// Leaf certificates per node, in table order.
    pub certificates: Vec<IssuedCert>,
    /// Kubeconfigs, the operator's admin.conf first.
    pub kubeconfigs: Vec<IssuedKubeconfig>,
    /// Service-account token signing key pair (`sa.key`, `sa.pub`).
    pub service_account: CertAndKey,
    /// For nodes that join later.
    pub bootstrap_token: BootstrapToken,
    /// `sha256:<hex>` of the cluster CA's public key (`--discovery-token-ca-cert-hash`).
    pub discovery_hash: String,
}

impl Pki {
    /// Issues everything for `config`.
    pub fn issue(config: &ClusterConfig, inputs: &PkiInputs) -> Result<Self, Error> {
        Self::issue_with_keys(config, inputs, Vec::new())
    }

    /// How many private keys issuing makes for `config` (CAs brought by the user need none).
    pub fn key_count(config: &ClusterConfig, existing_cas: &[ExistingCa]) -> usize {
        let provided = |kind: CaKind| existing_cas.iter().any(|ca| ca.kind == kind);
        CERTIFICATE_AUTHORITIES
            .iter()
            .filter(|spec| !provided(spec.kind))
            .count()
            + CERTIFICATES
                .iter()
                .map(|spec| nodes_in(config, spec.scope).len())
                .sum::<usize>()
            + KUBECONFIGS
                .iter()
                .map(|spec| kubeconfig_holders(config, spec.scope).len())
                .sum::<usize>()
            + 1
    }

    /// Issues everything for `config`, taking private keys from `premade` first, in order, and
    /// making the rest from the seed. The browser makes RSA keys with its own WebCrypto (native
    /// code, several at once), far faster than pure-Rust prime search in wasm; every premade key
    /// must be of the configured algorithm and size.
    pub fn issue_with_keys(
        config: &ClusterConfig,
        inputs: &PkiInputs,
        premade: Vec<KeyPair>,
    ) -> Result<Self, Error> {
        Self::issue_full(config, inputs, premade, None)
    }

    /// Issues everything for `config` keeping what `previous` (the identity of the bundle it
    /// is made from) has: its CAs (unless the config brings others) and service-account keys,
    /// and every leaf whose request did not change and that is not near expiry
    /// ([`Identity::keepable`]). Only what is new or changed is issued.
    pub fn issue_from(
        config: &ClusterConfig,
        inputs: &PkiInputs,
        previous: &Identity,
    ) -> Result<Self, Error> {
        Self::issue_full(config, inputs, Vec::new(), Some(previous))
    }

    /// [`Pki::issue_from`] with private keys made elsewhere (the browser's WebCrypto), used
    /// for what is issued anew; [`Pki::keys_to_make`] says how many it needs.
    pub fn issue_from_with_keys(
        config: &ClusterConfig,
        inputs: &PkiInputs,
        previous: &Identity,
        premade: Vec<KeyPair>,
    ) -> Result<Self, Error> {
        Self::issue_full(config, inputs, premade, Some(previous))
    }

    /// How many private keys issuing `config` makes: [`Pki::key_count`] for a new cluster, and
    /// for one made from `previous` only those of what is not kept. What the browser asks
    /// WebCrypto for, so that a next bundle of a running cluster makes no key it throws away.
    pub fn keys_to_make(
        config: &ClusterConfig,
        inputs: &PkiInputs,
        previous: Option<&Identity>,
    ) -> usize {
        Requests::of(config, inputs, previous).key_count
    }

    fn issue_full(
        config: &ClusterConfig,
        inputs: &PkiInputs,
        premade: Vec<KeyPair>,
        previous: Option<&Identity>,
    ) -> Result<Self, Error> {
        let mut rng = ChaCha20Rng::from_seed(inputs.seed);
        let algorithm = config.certificates.key_algorithm;
        let ca_validity = Validity {
            issued_at: inputs.issued_at,
            hours: config.certificates.ca_validity_hours,
        };
        let leaf_validity = Validity {
            issued_at: inputs.issued_at,
            hours: config.certificates.validity_hours,
        };
        let leaf_not_after =
            inputs.issued_at + i64::from(config.certificates.validity_hours) * 3600;
        let existing_cas = &inputs.existing_cas;
        let Requests {
            leaves: leaf_requests,
            kubeconfigs: kubeconfig_requests,
            service_account: kept_service_account,
            key_count,
        } = Requests::of(config, inputs, previous);

        // Every key gets its own seed drawn in a fixed order, so keys can be made in parallel
        // (RSA key generation dominates) and still come out the same for the same inputs.
        // The seeds are drawn for every key even when some are premade, so the rest of the
        // random stream (serials, token) does not depend on how the keys were made.
        let seeds: Vec<[u8; 32]> = (0..key_count)
            .map(|_| {
                let mut seed = [0u8; 32];
                rng.fill_bytes(&mut seed);
                seed
            })
            .collect();
        if let Some(wrong) = premade.iter().find(|key| key.algorithm() != algorithm) {
            return Err(Error::Key(format!(
                "a premade key is {}, the config asks for {}",
                wrong.algorithm().name(),
                algorithm.name()
            )));
        }
        let premade_count = premade.len().min(key_count);
        let mut keys = premade
            .into_iter()
            .take(premade_count)
            .chain(key::generate_all(algorithm, &seeds[premade_count..])?);
        let mut next_key = || {
            keys.next()
                .ok_or_else(|| Error::Key("fewer keys than certificates".into()))
        };

        let mut authorities = Vec::new();
        for spec in &CERTIFICATE_AUTHORITIES {
            let existing = existing_cas.iter().find(|ca| ca.kind == spec.kind);
            let authority = match (kept_authority(spec.kind, previous, existing_cas), existing) {
                // A CA kbundle made is rebuilt from its key and its known subject: no
                // certificate parsing, so the browser can keep it too.
                (Some(kept), _) if !kept.provided => CertificateAuthority::from_kept(
                    spec,
                    CertAndKey {
                        certificate_pem: kept.certificate_pem.clone(),
                        key_pem: kept.key_pem.clone(),
                    },
                    kept.not_after,
                    leaf_not_after,
                )?,
                (Some(kept), _) => CertificateAuthority::from_existing(
                    spec,
                    &kept.certificate_pem,
                    &kept.key_pem,
                    inputs.issued_at,
                    leaf_not_after,
                )?,
                (None, Some(existing)) => CertificateAuthority::from_existing(
                    spec,
                    &existing.certificate_pem,
                    &existing.key_pem,
                    inputs.issued_at,
                    leaf_not_after,
                )?,
                (None, None) => {
                    CertificateAuthority::generate(spec, next_key()?, ca_validity, &mut rng)?
                }
            };
            authorities.push(authority);
        }
        let authority = |kind: CaKind| -> &CertificateAuthority {
            // `authorities` holds one entry per table row, in table order.
            &authorities[CERTIFICATE_AUTHORITIES
                .iter()
                .position(|spec| spec.kind == kind)
                .unwrap_or(0)]
        };

        let leaf_validity_end = leaf_validity.issued_at + i64::from(leaf_validity.hours) * 3600;
        // A leaf's material and expiry: the kept one, or one issued now by `ca` for `request`.
        let mut leaf_material = |ca: &CertificateAuthority,
                                 request: &LeafRequest,
                                 kept: Option<&identity::KeptLeaf>|
         -> Result<(CertAndKey, i64), Error> {
            Ok(match kept {
                Some(kept) => (
                    CertAndKey {
                        certificate_pem: kept.certificate_pem.clone(),
                        key_pem: kept.key_pem.clone(),
                    },
                    kept.not_after,
                ),
                None => {
                    let key = next_key()?;
                    let certificate_pem = ca.issue(request, &key, leaf_validity, &mut rng)?;
                    (
                        CertAndKey {
                            certificate_pem,
                            key_pem: key.private_pem()?,
                        },
                        leaf_validity_end,
                    )
                }
            })
        };
        let mut certificates = Vec::new();
        for (spec, node, request, kept) in leaf_requests {
            let (material, not_after) = leaf_material(authority(spec.ca), &request, kept.as_ref())?;
            certificates.push(IssuedCert {
                spec,
                node: node.name.clone(),
                material,
                request,
                not_after,
                kept: kept.is_some(),
            });
        }

        let cluster_ca = authority(CaKind::Cluster);
        let mut kubeconfigs = Vec::new();
        for (spec, holder, server, request, kept) in kubeconfig_requests {
            let (client, not_after) = leaf_material(cluster_ca, &request, kept.as_ref())?;
            let contents = kubeconfig::render(
                &config.name,
                &server,
                &cluster_ca.material().certificate_pem,
                &request.common_name,
                &client.certificate_pem,
                &client.key_pem,
            );
            kubeconfigs.push(IssuedKubeconfig {
                spec,
                node: holder.map(|node| node.name.clone()),
                server,
                client,
                contents,
                request,
                not_after,
                kept: kept.is_some(),
            });
        }

        let service_account = match kept_service_account {
            Some(kept) => CertAndKey {
                certificate_pem: kept.public_pem,
                key_pem: kept.private_pem,
            },
            None => {
                let service_account_key = next_key()?;
                CertAndKey {
                    certificate_pem: service_account_key.public_pem()?,
                    key_pem: service_account_key.private_pem()?,
                }
            }
        };
        let bootstrap_token = BootstrapToken {
            id: token_chars(&mut rng, 6),
            secret: token_chars(&mut rng, 16),
        };
        let discovery_hash = cluster_ca.public_key_pin();
        Ok(Self {
            authorities,
            certificates,
            kubeconfigs,
            service_account,
            bootstrap_token,
            discovery_hash,
        })
    }

    /// What a later bundle needs to keep this cluster's identity (`identity.json`).
    pub fn identity(&self) -> Identity {
        let leaf = |kind,
                    node: Option<&str>,
                    file: &str,
                    request: &LeafRequest,
                    server: Option<&str>,
                    not_after,
                    material: &CertAndKey| identity::KeptLeaf {
            kind,
            node: node.map(str::to_owned),
            file: file.to_owned(),
            request: identity::KeptRequest::of(request),
            server: server.map(str::to_owned),
            not_after,
            certificate_pem: material.certificate_pem.clone(),
            key_pem: material.key_pem.clone(),
        };
        Identity {
            authorities: self
                .authorities
                .iter()
                .map(|authority| identity::KeptAuthority {
                    kind: authority.spec().config_name.to_owned(),
                    certificate_pem: authority.material().certificate_pem.clone(),
                    key_pem: authority.material().key_pem.clone(),
                    not_after: authority.not_after(),
                    provided: authority.is_provided(),
                })
                .collect(),
            service_account: identity::KeptKeyPair {
                public_pem: self.service_account.certificate_pem.clone(),
                private_pem: self.service_account.key_pem.clone(),
            },
            leaves: self
                .certificates
                .iter()
                .map(|issued| {
                    leaf(
                        identity::LeafKind::Certificate,
                        Some(&issued.node),
                        issued.spec.file,
                        &issued.request,
                        None,
                        issued.not_after,
                        &issued.material,
                    )
                })
                .chain(self.kubeconfigs.iter().map(|issued| {
                    leaf(
                        identity::LeafKind::Kubeconfig,
                        issued.node.as_deref(),
                        issued.spec.file,
                        &issued.request,
                        Some(&issued.server),
                        issued.not_after,
                        &issued.client,
                    )
                }))
                .collect(),
        }
    }

    /// The CA of `kind`.
    pub fn authority(&self, kind: CaKind) -> &CertificateAuthority {
        self.authorities
            .iter()
            .find(|authority| authority.spec().kind == kind)
            .unwrap_or(&self.authorities[0])
    }

    /// The operator's admin.conf (pointing at the control-plane endpoint).
    pub fn admin_kubeconfig(&self) -> Option<&IssuedKubeconfig> {
        self.kubeconfigs
            .iter()
            .find(|kubeconfig| kubeconfig.node.is_none())
    }

    /// Exactly the PKI files `node` needs, with their paths and modes. Least privilege: every
    /// node gets the cluster CA certificate and its own kubelet.conf; control-plane nodes add
    /// what the API server, controller manager and scheduler read (including the cluster CA
    /// key, with which the controller manager signs kubelet CSRs); etcd members add their own
    /// etcd certificates. No node gets the front-proxy or etcd CA keys, and workers get no key
    /// but their kubelet's.
    pub fn node_files(&self, node: &Node) -> Vec<PkiFile> {
        let mut files: BTreeMap<String, PkiFile> = BTreeMap::new();
        let mut add = |path: String, contents: &str, mode: u32| {
            files.insert(
                path.clone(),
                PkiFile {
                    path,
                    contents: contents.to_owned(),
                    mode,
                },
            );
        };
        let cluster_ca = self.authority(CaKind::Cluster).material();
        add(
            format!("{PKI_DIR}/ca.crt"),
            &cluster_ca.certificate_pem,
            0o644,
        );
        if node.roles.control_plane {
            add(format!("{PKI_DIR}/ca.key"), &cluster_ca.key_pem, 0o600);
            let front_proxy = self.authority(CaKind::FrontProxy).material();
            add(
                format!("{PKI_DIR}/front-proxy-ca.crt"),
                &front_proxy.certificate_pem,
                0o644,
            );
            add(
                format!("{PKI_DIR}/{}", inventory::SERVICE_ACCOUNT_KEY),
                &self.service_account.key_pem,
                0o600,
            );
            add(
                format!("{PKI_DIR}/{}", inventory::SERVICE_ACCOUNT_PUBLIC_KEY),
                &self.service_account.certificate_pem,
                0o600,
            );
        }
        if node.roles.control_plane || node.roles.etcd {
            let etcd_ca = self.authority(CaKind::Etcd).material();
            add(
                format!("{PKI_DIR}/etcd/ca.crt"),
                &etcd_ca.certificate_pem,
                0o644,
            );
        }
        for certificate in self.certificates.iter().filter(|c| c.node == node.name) {
            let base = format!("{PKI_DIR}/{}", certificate.spec.file);
            add(
                format!("{base}.crt"),
                &certificate.material.certificate_pem,
                0o644,
            );
            add(format!("{base}.key"), &certificate.material.key_pem, 0o600);
        }
        for kubeconfig in &self.kubeconfigs {
            let for_this_node = match kubeconfig.spec.scope {
                // Control-plane nodes keep an admin.conf, as kubeadm leaves one there.
                KubeconfigScope::Operator => node.roles.control_plane,
                _ => kubeconfig.node.as_deref() == Some(node.name.as_str()),
            };
            if for_this_node {
                add(
                    format!("{KUBECONFIG_DIR}/{}", kubeconfig.spec.file),
                    &kubeconfig.contents,
                    0o600,
                );
            }
        }
        files.into_values().collect()
    }

    /// The PKI files of a worker that joins after the cluster is up (kubelet TLS bootstrap):
    /// the cluster CA certificate and the bootstrap kubeconfig, which names the control-plane
    /// endpoint (as every worker's kubelet.conf does) and carries the bootstrap token instead of
    /// a certificate. Nothing in them names a node: the kubelet asks for its own certificate.
    pub fn join_files(&self, config: &ClusterConfig) -> Vec<PkiFile> {
        let cluster_ca = self.authority(CaKind::Cluster).material();
        let kubeconfig =
            bootstrap_kubeconfig(config, &cluster_ca.certificate_pem, &self.bootstrap_token);
        vec![
            PkiFile {
                path: format!("{KUBECONFIG_DIR}/{BOOTSTRAP_KUBECONFIG}"),
                contents: kubeconfig,
                mode: 0o600,
            },
            PkiFile {
                path: format!("{PKI_DIR}/ca.crt"),
                contents: cluster_ca.certificate_pem.clone(),
                mode: 0o644,
            },
        ]
    }
}

/// What issuing a cluster's PKI takes, before any key is made: each leaf and kubeconfig with
/// its request and, for a cluster made from a previous bundle, what is kept of it.
struct Requests<'c> {
    leaves: Vec<(
        &'static CertSpec,
        &'c Node,
        LeafRequest,
        Option<identity::KeptLeaf>,
    )>,
    #[allow(clippy::type_complexity)]
    kubeconfigs: Vec<(
        &'static KubeconfigSpec,
        Option<&'c Node>,
        String,
        LeafRequest,
        Option<identity::KeptLeaf>,
    )>,
    service_account: Option<identity::KeptKeyPair>,
    /// The private keys to make: for every CA, leaf and service-account pair not kept.
    key_count: usize,
}

impl<'c> Requests<'c> {
    fn of(config: &'c ClusterConfig, inputs: &PkiInputs, previous: Option<&Identity>) -> Self {
        let existing_cas = &inputs.existing_cas;
        let kept_ca = |kind: CaKind| kept_authority(kind, previous, existing_cas).is_some();
        let plan = NetworkPlan::new(config);
        let minor = config.kubernetes_version.minor();
        let keep = |kind: identity::LeafKind,
                    ca: CaKind,
                    node: Option<&str>,
                    file: &str,
                    request: &LeafRequest,
                    server: Option<&str>| {
            if !kept_ca(ca) {
                return None;
            }
            previous?.keepable(
                &identity::LeafAt {
                    kind,
                    node,
                    file,
                    server,
                },
                request,
                inputs.issued_at,
                config.certificates.validity_hours,
            )
        };
        // What each leaf is issued for, and which are kept, before any key is made: only the
        // others need one.
        let mut leaf_requests = Vec::new();
        for spec in &CERTIFICATES {
            for node in nodes_in(config, spec.scope) {
                let request = LeafRequest {
                    common_name: common_name(spec.common_name, node),
                    organization: organization_for(spec.organizations, minor).map(str::to_owned),
                    usage: spec.usage,
                    dns_names: dns_sans(spec.sans, config, node),
                    ip_addresses: ip_sans(spec.sans, config, &plan, node),
                };
                let kept = keep(
                    identity::LeafKind::Certificate,
                    spec.ca,
                    Some(&node.name),
                    spec.file,
                    &request,
                    None,
                )
                .cloned();
                leaf_requests.push((spec, node, request, kept));
            }
        }
        let endpoint_url = config.api_endpoint().url();
        let mut kubeconfig_requests = Vec::new();
        for spec in &KUBECONFIGS {
            for holder in kubeconfig_holders(config, spec.scope) {
                let server = match (spec.server, holder) {
                    (ServerRule::Local, Some(node)) => local_url(node),
                    (ServerRule::LocalOnControlPlane, Some(node)) if node.roles.control_plane => {
                        local_url(node)
                    }
                    _ => endpoint_url.clone(),
                };
                let user = match (spec.common_name, holder) {
                    (CommonName::KubeletNode, Some(node)) => format!("system:node:{}", node.name),
                    (CommonName::Fixed(name), _) => name.to_owned(),
                    (_, node) => node.map(|n| n.name.clone()).unwrap_or_default(),
                };
                let request = LeafRequest {
                    common_name: user,
                    organization: organization_for(spec.organizations, minor).map(str::to_owned),
                    usage: inventory::Usage::Client,
                    dns_names: Vec::new(),
                    ip_addresses: Vec::new(),
                };
                let kept = keep(
                    identity::LeafKind::Kubeconfig,
                    CaKind::Cluster,
                    holder.map(|node| node.name.as_str()),
                    spec.file,
                    &request,
                    Some(&server),
                )
                .cloned();
                kubeconfig_requests.push((spec, holder, server, request, kept));
            }
        }
        let kept_service_account = previous
            .filter(|_| kept_ca(CaKind::Cluster))
            .map(|previous| previous.service_account.clone());

        let key_count = match previous {
            None => Pki::key_count(config, existing_cas),
            Some(_) => {
                CERTIFICATE_AUTHORITIES
                    .iter()
                    .filter(|spec| {
                        !existing_cas.iter().any(|ca| ca.kind == spec.kind) && !kept_ca(spec.kind)
                    })
                    .count()
                    + leaf_requests.iter().filter(|r| r.3.is_none()).count()
                    + kubeconfig_requests.iter().filter(|r| r.4.is_none()).count()
                    + usize::from(kept_service_account.is_none())
            }
        };
        Self {
            leaves: leaf_requests,
            kubeconfigs: kubeconfig_requests,
            service_account: kept_service_account,
            key_count,
        }
    }
}

/// The CA of kind `kind` that `previous` recorded, kept unless the config brings another.
fn kept_authority<'p>(
    kind: CaKind,
    previous: Option<&'p Identity>,
    existing_cas: &[ExistingCa],
) -> Option<&'p identity::KeptAuthority> {
    let spec = CERTIFICATE_AUTHORITIES
        .iter()
        .find(|spec| spec.kind == kind)?;
    let kept = previous?.authority(spec.config_name)?;
    match existing_cas.iter().find(|ca| ca.kind == kind) {
        Some(brought) if brought.certificate_pem != kept.certificate_pem => None,
        _ => Some(kept),
    }
}

fn nodes_in(config: &ClusterConfig, scope: Scope) -> Vec<&Node> {
    match scope {
        Scope::ControlPlaneNode => config.control_plane_nodes().collect(),
        Scope::EtcdMember => config.etcd_nodes().collect(),
    }
}

/// Who holds a kubeconfig: `None` is the operator.
fn kubeconfig_holders(config: &ClusterConfig, scope: KubeconfigScope) -> Vec<Option<&Node>> {
    match scope {
        KubeconfigScope::Operator => vec![None],
        KubeconfigScope::FirstControlPlane => {
            config.control_plane_nodes().take(1).map(Some).collect()
        }
        KubeconfigScope::ControlPlaneNode => config.control_plane_nodes().map(Some).collect(),
        KubeconfigScope::EveryNode => config.nodes.iter().map(Some).collect(),
    }
}

fn common_name(rule: CommonName, node: &Node) -> String {
    match rule {
        CommonName::Fixed(name) => name.to_owned(),
        CommonName::NodeName => node.name.clone(),
        CommonName::KubeletNode => format!("system:node:{}", node.name),
    }
}

fn dns_sans(rule: SanRule, config: &ClusterConfig, node: &Node) -> Vec<String> {
    match rule {
        SanRule::None => Vec::new(),
        SanRule::ApiServer => {
            let domain = &config.networking.dns_domain;
            let mut names = vec![
                node.name.clone(),
                "kubernetes".to_owned(),
                "kubernetes.default".to_owned(),
                "kubernetes.default.svc".to_owned(),
                format!("kubernetes.default.svc.{domain}"),
            ];
            if let Some(Host::Name(name)) = config.control_plane_endpoint.as_ref().map(|e| &e.host)
            {
                names.push(name.clone());
            }
            for san in &config.certificates.extra_sans {
                if let Host::Name(name) = san {
                    names.push(name.clone());
                }
            }
            names
        }
        SanRule::EtcdMember => vec![node.name.clone(), "localhost".to_owned()],
    }
}

fn ip_sans(
    rule: SanRule,
    config: &ClusterConfig,
    plan: &NetworkPlan,
    node: &Node,
) -> Vec<std::net::IpAddr> {
    match rule {
        SanRule::None => Vec::new(),
        SanRule::ApiServer => {
            let mut ips = plan.apiserver_service_ips.clone();
            ips.extend(node.addresses.iter().copied());
            if let Some(Host::Ip(address)) = config.control_plane_endpoint.as_ref().map(|e| &e.host)
            {
                ips.push(*address);
            }
            for san in &config.certificates.extra_sans {
                if let Host::Ip(address) = san {
                    ips.push(*address);
                }
            }
            ips
        }
        // As kubeadm: the address etcd advertises and listens on (the primary one; a dual-stack
        // node's other address is never etcd's) and loopback of both families.
        SanRule::EtcdMember => vec![
            node.primary_address(),
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ],
    }
}

/// `https://<node's primary address>:6443`: kubeadm's "local endpoint" (not 127.0.0.1).
fn local_url(node: &Node) -> String {
    crate::config::Endpoint {
        host: Host::Ip(node.primary_address()),
        port: crate::config::DEFAULT_API_PORT,
    }
    .url()
}

/// `count` characters from `[a-z0-9]`, unbiased.
fn token_chars(rng: &mut impl Rng, count: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(count);
    while out.len() < count {
        let byte = (rng.next_u32() & 0xff) as u8;
        // 252 = 7 × 36: reject the tail so every character is equally likely.
        if byte < 252 {
            out.push(ALPHABET[usize::from(byte) % ALPHABET.len()] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests;
