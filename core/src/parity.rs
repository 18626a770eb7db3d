//! The one table of every place where what kbundle writes differs on purpose from what kubeadm
//! writes for the same cluster, each with its reason. The real kubeadm is the yardstick:
//! `tests/tests/kubeadm_parity.rs` runs it beside kbundle for several clusters, compares every
//! file and object field by field, and fails on a difference this table does not hold and on an
//! entry no cluster produced. `docs/kubeadm-parity.md` lists the table for readers (a test checks
//! that it lists every entry), and the flag-parity unit test (`render/parity_tests.rs`) reads it.

/// One deliberate difference from kubeadm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Difference {
    /// What differs: a file by its path on the node (`/etc/kubernetes/manifests/etcd.yaml`), or
    /// a cluster object as `Kind namespace/name` (`Kind name` when it has no namespace).
    /// kubelet's flags are named after kubeadm's file, `/var/lib/kubelet/kubeadm-flags.env`,
    /// although kbundle writes them in its kubelet drop-in.
    pub subject: &'static str,
    /// Which part of it: a command-line flag (`--initial-cluster`), a certificate property
    /// (`SAN IP`, `subject O`, …), a field path (`spec.ipFamilyPolicy`), or `(file)` /
    /// `(object)` when only one of the two writes or creates it at all.
    pub field: &'static str,
    /// Why kbundle does it differently.
    pub reason: &'static str,
}

const fn difference(
    subject: &'static str,
    field: &'static str,
    reason: &'static str,
) -> Difference {
    Difference {
        subject,
        field,
        reason,
    }
}

/// Every deliberate difference from kubeadm, by subject.
pub const DELIBERATE_DIFFERENCES: &[Difference] = &[
    // Certificates and keys.
    difference(
        "/etc/kubernetes/pki/apiserver.crt",
        "SAN IP",
        "a dual-stack API server answers on both families: kbundle names the `kubernetes` Service IP of each family and every address of the node, so that clients of either family can check it (kubeadm names the first family's Service IP and the advertise address only)",
    ),
    difference(
        "/etc/kubernetes/pki/front-proxy-ca.key",
        "(file)",
        "least privilege: kbundle issues every certificate up front, so no node needs to sign with the front-proxy CA and none receives its key (kubeadm keeps it on control-plane nodes to issue the certificates of control-plane nodes that join later)",
    ),
    difference(
        "/etc/kubernetes/pki/etcd/ca.key",
        "(file)",
        "least privilege, as for front-proxy-ca.key: every etcd certificate is issued up front, so no node receives the etcd CA key",
    ),
    // Static pods.
    difference(
        "/etc/kubernetes/manifests/etcd.yaml",
        "--initial-cluster",
        "every member is listed from the start: kbundle plans all members up front instead of growing the cluster one `kubeadm join` at a time (kubeadm lists only the members so far)",
    ),
    difference(
        "/etc/kubernetes/manifests/etcd.yaml",
        "--initial-cluster-state",
        "`new` on every member, since all members start together from the planned list (kubeadm leaves etcd's default, `new`, on the first member and sets `existing` on members that join)",
    ),
    difference(
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        "--etcd-servers",
        "with several etcd members, the local one first (as kubeadm) and then every other: the etcd client fails over while the local member restarts (rolling restarts, certificate renewals), so the API server stays ready (kubeadm lists only the local member)",
    ),
    difference(
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        "--shutdown-delay-duration",
        "5s with several control-plane nodes: a restarting API server reports itself not ready while it still serves, so the load balancer's health check takes it out before it stops accepting connections (kubeadm leaves the default, 0)",
    ),
    difference(
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
        "--node-cidr-mask-size",
        "set from spec.networking.nodeCIDRMaskSize, so that nodes that join later get pod ranges of the planned size (kubeadm leaves kube-controller-manager's default)",
    ),
    difference(
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
        "--node-cidr-mask-size-ipv4",
        "as --node-cidr-mask-size, per family for a dual-stack cluster",
    ),
    difference(
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
        "--node-cidr-mask-size-ipv6",
        "as --node-cidr-mask-size, per family for a dual-stack cluster",
    ),
    difference(
        "/etc/kubernetes/manifests/etcd.yaml",
        "metadata.annotations.kbundle.dev/pki-sha256",
        "the digest of the node's certificates, keys and kubeconfigs: a static pod reads them only when it starts, so when they change (`kbundle certs renew`, a new SAN) its manifest changes too and the kubelet restarts it (kubeadm's `certs renew` asks the user to restart the control plane by hand)",
    ),
    difference(
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        "metadata.annotations.kbundle.dev/pki-sha256",
        "as for etcd.yaml: restarted when its certificates change",
    ),
    difference(
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
        "metadata.annotations.kbundle.dev/pki-sha256",
        "as for etcd.yaml: restarted when its certificates change",
    ),
    difference(
        "/etc/kubernetes/manifests/kube-scheduler.yaml",
        "metadata.annotations.kbundle.dev/pki-sha256",
        "as for etcd.yaml: restarted when its certificates change",
    ),
    difference(
        "/etc/kubernetes/manifests/kube-vip.yaml",
        "(file)",
        "with `highAvailability.mode: kube-vip` kbundle provides the control-plane endpoint itself, a virtual IP held by a kube-vip static pod on the control-plane nodes (kubeadm expects the endpoint to exist already)",
    ),
    // kubelet.
    difference(
        "/var/lib/kubelet/kubeadm-flags.env",
        "--config",
        "kubeadm's package sets it in its own drop-in (10-kubeadm.conf), not in kubeadm-flags.env; kbundle's one drop-in, 99-kbundle.conf, carries every kubelet flag",
    ),
    difference(
        "/var/lib/kubelet/kubeadm-flags.env",
        "--kubeconfig",
        "as --config: kubeadm's packaged drop-in sets it (beside --bootstrap-kubeconfig, which kbundle does not need: it issues kubelet.conf itself)",
    ),
    difference(
        "/var/lib/kubelet/kubeadm-flags.env",
        "--register-with-taints",
        "a control-plane node that takes no workloads registers with its taint, so that no pod is scheduled on it in the moment before the taint is added (kubeadm adds it through the API in its mark-control-plane phase)",
    ),
    difference(
        "/var/lib/kubelet/instance-config.yaml",
        "(file)",
        "kubeadm's per-node patch holding the CRI socket, which kubeadm itself merges into config.yaml; kbundle writes containerRuntimeEndpoint into config.yaml directly (with the same value)",
    ),
    // Cluster objects.
    difference(
        "Service kube-system/kube-dns",
        "spec.ipFamilyPolicy",
        "`PreferDualStack` in a dual-stack cluster: CoreDNS gets a Service address of each family, so that it answers clients of either family (kubeadm leaves the Service single-stack; kubelet still hands pods the planned DNS IP)",
    ),
    difference(
        "ConfigMap kube-system/kubeadm-config",
        "(object)",
        "kubeadm's record of its ClusterConfiguration, read by `kubeadm join` and `kubeadm upgrade`; a kbundle cluster is described by the cluster.yaml in its bundle, and nodes join it from the bundle's join/ folder, so no kubeadm command reads it",
    ),
    difference(
        "ConfigMap kube-system/kubelet-config",
        "(object)",
        "the KubeletConfiguration `kubeadm join` downloads; a node that joins a kbundle cluster finds config.yaml in the bundle's join/ folder",
    ),
    difference(
        "Role kube-system/kubeadm:nodes-kubeadm-config",
        "(object)",
        "lets joining nodes read the kubeadm-config ConfigMap, which kbundle does not create",
    ),
    difference(
        "RoleBinding kube-system/kubeadm:nodes-kubeadm-config",
        "(object)",
        "binds the Role above, which kbundle does not create",
    ),
    difference(
        "Role kube-system/kubeadm:kubelet-config",
        "(object)",
        "lets joining nodes read the kubelet-config ConfigMap, which kbundle does not create",
    ),
    difference(
        "RoleBinding kube-system/kubeadm:kubelet-config",
        "(object)",
        "binds the Role above, which kbundle does not create",
    ),
];

/// The entry for `field` of `subject`, if that difference is deliberate.
pub fn deliberate(subject: &str, field: &str) -> Option<&'static Difference> {
    DELIBERATE_DIFFERENCES
        .iter()
        .find(|entry| entry.subject == subject && entry.field == field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_unique_and_explained() {
        for (index, entry) in DELIBERATE_DIFFERENCES.iter().enumerate() {
            assert!(
                entry.reason.len() > 20,
                "{} {} needs a reason",
                entry.subject,
                entry.field
            );
            assert!(
                entry.subject.starts_with('/') || entry.subject.contains(' '),
                "{}: a path on the node or `Kind namespace/name`",
                entry.subject
            );
            assert!(
                DELIBERATE_DIFFERENCES[..index]
                    .iter()
                    .all(|other| (other.subject, other.field) != (entry.subject, entry.field)),
                "{} {} is listed twice",
                entry.subject,
                entry.field
            );
        }
    }
}
