//! Flag parity with kubeadm: for each component and supported version, the flags kbundle sets
//! beside the flags kubeadm sets (transcribed from `shared/reference/kubeadm.md` §3 for a
//! reference cluster). Any difference not listed in `DELIBERATE_DIFFERENCES` fails.

use std::collections::BTreeMap;

use super::control_plane::{
    Flags, apiserver_flags, controller_manager_flags, etcd_flags, scheduler_flags,
};
use crate::config::ClusterConfig;
use crate::versions::RELEASES;

/// The reference cluster: one stacked control-plane node, kubeadm's default networks.
fn reference(minor: u32) -> ClusterConfig {
    let yaml = format!(
        "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: kubernetes}}\nspec:\n  kubernetesVersion: \"1.{minor}\"\n  nodes:\n    - {{name: cp1, address: 192.0.2.11, roles: [control-plane, etcd, worker]}}\n  networking: {{podSubnet: 10.244.0.0/16, serviceSubnet: 10.96.0.0/12}}\n"
    );
    ClusterConfig::from_yaml(&yaml)
        .expect("reference cluster")
        .config
}

/// What kubeadm emits for the reference cluster (kubeadm.md §3.2–3.5).
fn kubeadm_flags(component: &str, _minor: u32) -> BTreeMap<&'static str, &'static str> {
    let entries: &[(&str, &str)] = match component {
        "etcd" => &[
            ("advertise-client-urls", "https://192.0.2.11:2379"),
            ("cert-file", "/etc/kubernetes/pki/etcd/server.crt"),
            ("client-cert-auth", "true"),
            ("data-dir", "/var/lib/etcd"),
            ("feature-gates", "InitialCorruptCheck=true"),
            ("initial-advertise-peer-urls", "https://192.0.2.11:2380"),
            ("initial-cluster", "cp1=https://192.0.2.11:2380"),
            ("key-file", "/etc/kubernetes/pki/etcd/server.key"),
            (
                "listen-client-urls",
                "https://127.0.0.1:2379,https://192.0.2.11:2379",
            ),
            ("listen-metrics-urls", "http://127.0.0.1:2381"),
            ("listen-peer-urls", "https://192.0.2.11:2380"),
            ("name", "cp1"),
            ("peer-cert-file", "/etc/kubernetes/pki/etcd/peer.crt"),
            ("peer-client-cert-auth", "true"),
            ("peer-key-file", "/etc/kubernetes/pki/etcd/peer.key"),
            ("peer-trusted-ca-file", "/etc/kubernetes/pki/etcd/ca.crt"),
            ("snapshot-count", "10000"),
            ("trusted-ca-file", "/etc/kubernetes/pki/etcd/ca.crt"),
            ("watch-progress-notify-interval", "5s"),
        ],
        "kube-apiserver" => &[
            ("advertise-address", "192.0.2.11"),
            ("allow-privileged", "true"),
            ("authorization-mode", "Node,RBAC"),
            ("client-ca-file", "/etc/kubernetes/pki/ca.crt"),
            ("enable-admission-plugins", "NodeRestriction"),
            ("enable-bootstrap-token-auth", "true"),
            ("etcd-cafile", "/etc/kubernetes/pki/etcd/ca.crt"),
            (
                "etcd-certfile",
                "/etc/kubernetes/pki/apiserver-etcd-client.crt",
            ),
            (
                "etcd-keyfile",
                "/etc/kubernetes/pki/apiserver-etcd-client.key",
            ),
            ("etcd-servers", "https://127.0.0.1:2379"),
            (
                "kubelet-client-certificate",
                "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
            ),
            (
                "kubelet-client-key",
                "/etc/kubernetes/pki/apiserver-kubelet-client.key",
            ),
            (
                "kubelet-preferred-address-types",
                "InternalIP,ExternalIP,Hostname",
            ),
            (
                "proxy-client-cert-file",
                "/etc/kubernetes/pki/front-proxy-client.crt",
            ),
            (
                "proxy-client-key-file",
                "/etc/kubernetes/pki/front-proxy-client.key",
            ),
            ("requestheader-allowed-names", "front-proxy-client"),
            (
                "requestheader-client-ca-file",
                "/etc/kubernetes/pki/front-proxy-ca.crt",
            ),
            ("requestheader-extra-headers-prefix", "X-Remote-Extra-"),
            ("requestheader-group-headers", "X-Remote-Group"),
            ("requestheader-username-headers", "X-Remote-User"),
            ("secure-port", "6443"),
            (
                "service-account-issuer",
                "https://kubernetes.default.svc.cluster.local",
            ),
            ("service-account-key-file", "/etc/kubernetes/pki/sa.pub"),
            (
                "service-account-signing-key-file",
                "/etc/kubernetes/pki/sa.key",
            ),
            ("service-cluster-ip-range", "10.96.0.0/12"),
            ("tls-cert-file", "/etc/kubernetes/pki/apiserver.crt"),
            ("tls-private-key-file", "/etc/kubernetes/pki/apiserver.key"),
        ],
        "kube-controller-manager" => &[
            ("allocate-node-cidrs", "true"),
            (
                "authentication-kubeconfig",
                "/etc/kubernetes/controller-manager.conf",
            ),
            (
                "authorization-kubeconfig",
                "/etc/kubernetes/controller-manager.conf",
            ),
            ("bind-address", "127.0.0.1"),
            ("client-ca-file", "/etc/kubernetes/pki/ca.crt"),
            ("cluster-cidr", "10.244.0.0/16"),
            ("cluster-name", "kubernetes"),
            ("cluster-signing-cert-file", "/etc/kubernetes/pki/ca.crt"),
            ("cluster-signing-key-file", "/etc/kubernetes/pki/ca.key"),
            ("controllers", "*,bootstrapsigner,tokencleaner"),
            ("kubeconfig", "/etc/kubernetes/controller-manager.conf"),
            ("leader-elect", "true"),
            (
                "requestheader-client-ca-file",
                "/etc/kubernetes/pki/front-proxy-ca.crt",
            ),
            ("root-ca-file", "/etc/kubernetes/pki/ca.crt"),
            (
                "service-account-private-key-file",
                "/etc/kubernetes/pki/sa.key",
            ),
            ("service-cluster-ip-range", "10.96.0.0/12"),
            ("use-service-account-credentials", "true"),
        ],
        "kube-scheduler" => &[
            (
                "authentication-kubeconfig",
                "/etc/kubernetes/scheduler.conf",
            ),
            ("authorization-kubeconfig", "/etc/kubernetes/scheduler.conf"),
            ("bind-address", "127.0.0.1"),
            ("kubeconfig", "/etc/kubernetes/scheduler.conf"),
            ("leader-elect", "true"),
        ],
        _ => &[],
    };
    entries.iter().copied().collect()
}

fn is_deliberate(component: &str, flag: &str) -> bool {
    crate::parity::deliberate(
        &format!("/etc/kubernetes/manifests/{component}.yaml"),
        &format!("--{flag}"),
    )
    .is_some()
}

#[test]
fn flags_match_kubeadm_except_documented_differences() {
    let mut report = Vec::new();
    for release in RELEASES {
        let config = reference(release.minor);
        let node = &config.nodes[0];
        let ours: [(&str, Flags); 4] = [
            ("etcd", etcd_flags(&config, node)),
            ("kube-apiserver", apiserver_flags(&config, node)),
            ("kube-controller-manager", controller_manager_flags(&config)),
            ("kube-scheduler", scheduler_flags()),
        ];
        for (component, flags) in ours {
            let theirs = kubeadm_flags(component, release.minor);
            for (flag, value) in &flags.0 {
                match theirs.get(flag.as_str()) {
                    Some(expected) if expected == value => {}
                    _ if is_deliberate(component, flag) => {}
                    Some(expected) => report.push(format!(
                        "1.{} {component}: --{flag}={value}, kubeadm sets {expected}",
                        release.minor
                    )),
                    None => report.push(format!(
                        "1.{} {component}: --{flag}={value}, which kubeadm does not set",
                        release.minor
                    )),
                }
            }
            for (flag, expected) in &theirs {
                if !flags.0.contains_key(*flag) && !is_deliberate(component, flag) {
                    report.push(format!(
                        "1.{} {component}: kubeadm sets --{flag}={expected}, kbundle does not",
                        release.minor
                    ));
                }
            }
        }
    }
    assert!(
        report.is_empty(),
        "undocumented differences from kubeadm:\n{}",
        report.join("\n")
    );
}
