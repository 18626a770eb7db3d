//! The one table of every certificate, key and kubeconfig kbundle issues (kubeadm's certlist
//! idea): issuing, node file placement, `inspect` output and the docs all read these tables.
//! Names, subjects, organisations, usages and SANs follow kubeadm for each supported version
//! (compared with the real kubeadm's by `tests/tests/kubeadm_parity.rs`).

/// Directory of the PKI on a node.
pub const PKI_DIR: &str = "/etc/kubernetes/pki";
/// Directory of the kubeconfigs on a node.
pub const KUBECONFIG_DIR: &str = "/etc/kubernetes";
/// Under [`KUBECONFIG_DIR`]: the kubeconfig a node that joins later starts its kubelet with.
/// It holds the bootstrap token and no certificate: with it the kubelet asks for its client
/// certificate (kubelet TLS bootstrap), as after `kubeadm join`.
pub const BOOTSTRAP_KUBECONFIG: &str = "bootstrap-kubelet.conf";
/// The user of [`BOOTSTRAP_KUBECONFIG`], named as kubeadm names it.
pub const BOOTSTRAP_USER: &str = "tls-bootstrap-token-user";

/// The three certificate authorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CaKind {
    /// Signs the API server, kubelet and admin certificates.
    Cluster,
    /// Signs the front-proxy (aggregation layer) client.
    FrontProxy,
    /// Signs etcd's server, peer and client certificates.
    Etcd,
}

/// How a certificate authority is made and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaSpec {
    /// Which authority.
    pub kind: CaKind,
    /// File base under [`PKI_DIR`]: `<file>.crt`, `<file>.key`.
    pub file: &'static str,
    /// Subject CN (also its only DNS SAN, as kubeadm writes it).
    pub common_name: &'static str,
    /// The name used in the config (`spec.certificates.existingCAs.<config_name>`).
    pub config_name: &'static str,
}

/// Every certificate authority, in issuing order.
pub const CERTIFICATE_AUTHORITIES: [CaSpec; 3] = [
    CaSpec {
        kind: CaKind::Cluster,
        file: "ca",
        common_name: "kubernetes",
        config_name: "cluster",
    },
    CaSpec {
        kind: CaKind::FrontProxy,
        file: "front-proxy-ca",
        common_name: "front-proxy-ca",
        config_name: "frontProxy",
    },
    CaSpec {
        kind: CaKind::Etcd,
        file: "etcd/ca",
        common_name: "etcd-ca",
        config_name: "etcd",
    },
];

/// Looks up an authority's spec.
pub fn ca_spec(kind: CaKind) -> &'static CaSpec {
    // The table holds every kind exactly once.
    CERTIFICATE_AUTHORITIES
        .iter()
        .find(|spec| spec.kind == kind)
        .unwrap_or(&CERTIFICATE_AUTHORITIES[0])
}

/// Extended key usages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// TLS server.
    Server,
    /// TLS client.
    Client,
    /// Both (etcd members talk both ways).
    ServerAndClient,
}

impl Usage {
    /// Whether the certificate may serve TLS.
    pub fn is_server(self) -> bool {
        matches!(self, Self::Server | Self::ServerAndClient)
    }

    /// Whether the certificate may authenticate a client.
    pub fn is_client(self) -> bool {
        matches!(self, Self::Client | Self::ServerAndClient)
    }
}

/// The subject CN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommonName {
    /// A fixed name.
    Fixed(&'static str),
    /// The node's name (etcd members).
    NodeName,
    /// `system:node:<node name>` (kubelets).
    KubeletNode,
}

/// Which SANs a certificate carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SanRule {
    /// None (client certificates).
    None,
    /// The API server's: kubernetes service names, node name and addresses, service IPs,
    /// endpoint, extra SANs.
    ApiServer,
    /// An etcd member's: node name, localhost, the node's primary address, 127.0.0.1, ::1.
    EtcdMember,
}

/// For which nodes a certificate is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One per control-plane node.
    ControlPlaneNode,
    /// One per etcd member.
    EtcdMember,
}

/// An organisation that changes with the Kubernetes minor: the entry with the highest
/// `since_minor` not above the cluster's minor applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionedOrganization {
    /// First minor this applies to.
    pub since_minor: u32,
    /// The organisation (`O=`), if any.
    pub organization: Option<&'static str>,
}

const NO_ORGANIZATION: &[VersionedOrganization] = &[];

/// The organisation for `minor` from a versioned list.
pub fn organization_for(list: &[VersionedOrganization], minor: u32) -> Option<&'static str> {
    list.iter()
        .filter(|entry| entry.since_minor <= minor)
        .max_by_key(|entry| entry.since_minor)
        .and_then(|entry| entry.organization)
}

/// A leaf certificate kind stored under [`PKI_DIR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertSpec {
    /// File base under [`PKI_DIR`]: `<file>.crt`, `<file>.key`.
    pub file: &'static str,
    /// Signing authority.
    pub ca: CaKind,
    /// Subject CN.
    pub common_name: CommonName,
    /// Subject O, per version.
    pub organizations: &'static [VersionedOrganization],
    /// Extended key usage.
    pub usage: Usage,
    /// SANs.
    pub sans: SanRule,
    /// For which nodes.
    pub scope: Scope,
}

/// Every leaf certificate kept as a file, in issuing order.
pub const CERTIFICATES: [CertSpec; 7] = [
    CertSpec {
        file: "apiserver",
        ca: CaKind::Cluster,
        common_name: CommonName::Fixed("kube-apiserver"),
        organizations: NO_ORGANIZATION,
        usage: Usage::Server,
        sans: SanRule::ApiServer,
        scope: Scope::ControlPlaneNode,
    },
    CertSpec {
        file: "apiserver-kubelet-client",
        ca: CaKind::Cluster,
        common_name: CommonName::Fixed("kube-apiserver-kubelet-client"),
        // 1.37 drops the group for a ClusterRoleBinding to system:kubelet-api-admin.
        organizations: &[
            VersionedOrganization {
                since_minor: 29,
                organization: Some("kubeadm:cluster-admins"),
            },
            VersionedOrganization {
                since_minor: 37,
                organization: None,
            },
        ],
        usage: Usage::Client,
        sans: SanRule::None,
        scope: Scope::ControlPlaneNode,
    },
    CertSpec {
        file: "front-proxy-client",
        ca: CaKind::FrontProxy,
        common_name: CommonName::Fixed("front-proxy-client"),
        organizations: NO_ORGANIZATION,
        usage: Usage::Client,
        sans: SanRule::None,
        scope: Scope::ControlPlaneNode,
    },
    CertSpec {
        file: "apiserver-etcd-client",
        ca: CaKind::Etcd,
        common_name: CommonName::Fixed("kube-apiserver-etcd-client"),
        organizations: NO_ORGANIZATION,
        usage: Usage::Client,
        sans: SanRule::None,
        scope: Scope::ControlPlaneNode,
    },
    CertSpec {
        file: "etcd/server",
        ca: CaKind::Etcd,
        common_name: CommonName::NodeName,
        organizations: NO_ORGANIZATION,
        usage: Usage::ServerAndClient,
        sans: SanRule::EtcdMember,
        scope: Scope::EtcdMember,
    },
    CertSpec {
        file: "etcd/peer",
        ca: CaKind::Etcd,
        common_name: CommonName::NodeName,
        organizations: NO_ORGANIZATION,
        usage: Usage::ServerAndClient,
        sans: SanRule::EtcdMember,
        scope: Scope::EtcdMember,
    },
    CertSpec {
        file: "etcd/healthcheck-client",
        ca: CaKind::Etcd,
        common_name: CommonName::Fixed("kube-etcd-healthcheck-client"),
        organizations: NO_ORGANIZATION,
        usage: Usage::Client,
        sans: SanRule::None,
        scope: Scope::EtcdMember,
    },
];

/// Which API server a kubeconfig names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRule {
    /// The control-plane endpoint (VIP or load balancer), or the only control-plane node.
    Endpoint,
    /// The node's own API server (`https://<node address>:6443`), as kubeadm does for the
    /// local components.
    Local,
    /// Local on control-plane nodes (kubelet local mode, kubeadm ≥1.33), the endpoint elsewhere.
    LocalOnControlPlane,
}

/// Who gets a kubeconfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeconfigScope {
    /// One for the operator, also placed on every control-plane node.
    Operator,
    /// Only the first control-plane node (kubeadm writes it at `init` only).
    FirstControlPlane,
    /// One per control-plane node.
    ControlPlaneNode,
    /// One per node.
    EveryNode,
}

/// A kubeconfig with an embedded client certificate signed by the cluster CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubeconfigSpec {
    /// File name under [`KUBECONFIG_DIR`].
    pub file: &'static str,
    /// Client CN (the user name).
    pub common_name: CommonName,
    /// Client O, per version.
    pub organizations: &'static [VersionedOrganization],
    /// Which server it names.
    pub server: ServerRule,
    /// Who gets it.
    pub scope: KubeconfigScope,
}

/// Every kubeconfig, in issuing order. All supported versions (≥1.34) have super-admin.conf
/// (since 1.29) and the kubelet local mode (since 1.33).
pub const KUBECONFIGS: [KubeconfigSpec; 5] = [
    KubeconfigSpec {
        file: "admin.conf",
        common_name: CommonName::Fixed("kubernetes-admin"),
        organizations: &[VersionedOrganization {
            since_minor: 29,
            organization: Some("kubeadm:cluster-admins"),
        }],
        server: ServerRule::Endpoint,
        scope: KubeconfigScope::Operator,
    },
    KubeconfigSpec {
        file: "super-admin.conf",
        common_name: CommonName::Fixed("kubernetes-super-admin"),
        organizations: &[VersionedOrganization {
            since_minor: 29,
            organization: Some("system:masters"),
        }],
        server: ServerRule::Endpoint,
        scope: KubeconfigScope::FirstControlPlane,
    },
    KubeconfigSpec {
        file: "controller-manager.conf",
        common_name: CommonName::Fixed("system:kube-controller-manager"),
        organizations: NO_ORGANIZATION,
        server: ServerRule::Local,
        scope: KubeconfigScope::ControlPlaneNode,
    },
    KubeconfigSpec {
        file: "scheduler.conf",
        common_name: CommonName::Fixed("system:kube-scheduler"),
        organizations: NO_ORGANIZATION,
        server: ServerRule::Local,
        scope: KubeconfigScope::ControlPlaneNode,
    },
    KubeconfigSpec {
        file: "kubelet.conf",
        common_name: CommonName::KubeletNode,
        organizations: &[VersionedOrganization {
            since_minor: 0,
            organization: Some("system:nodes"),
        }],
        server: ServerRule::LocalOnControlPlane,
        scope: KubeconfigScope::EveryNode,
    },
];

/// The service-account signing key pair, under [`PKI_DIR`].
pub const SERVICE_ACCOUNT_KEY: &str = "sa.key";
/// The service-account public key, under [`PKI_DIR`].
pub const SERVICE_ACCOUNT_PUBLIC_KEY: &str = "sa.pub";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_client_organization_follows_the_version() {
        let list = CERTIFICATES[1].organizations;
        assert_eq!(organization_for(list, 36), Some("kubeadm:cluster-admins"));
        assert_eq!(organization_for(list, 37), None);
        assert_eq!(organization_for(list, 28), None);
    }

    #[test]
    fn file_names_are_unique() {
        let mut files: Vec<&str> = CERTIFICATES.iter().map(|c| c.file).collect();
        files.extend(CERTIFICATE_AUTHORITIES.iter().map(|c| c.file));
        files.sort_unstable();
        let before = files.len();
        files.dedup();
        assert_eq!(files.len(), before);
    }
}
