//! The commented example `cluster.yaml` that `kbundle init` writes and the web form starts from.
//! Addresses are from the documentation range 192.0.2.0/24: replace them with your machines'.

/// Which example to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExampleKind {
    /// One control-plane node and two workers.
    Basic,
    /// Three control-plane nodes behind a virtual IP, and two workers.
    HighAvailability,
}

const HEADER: &str = r#"# kbundle cluster description. Every field not written here takes its default;
# `kbundle validate cluster.yaml` checks it, `kbundle plan cluster.yaml` shows the network plan.
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata:
  name: demo
spec:
  # A supported minor ("1.37", the newest known patch is used) or an exact "1.37.1".
  kubernetesVersion: "1.37"
"#;

const BASIC_NODES: &str = r#"  # Defaults for every node; a node may override them under its own `ssh:`.
  ssh:
    user: root
    port: 22
    # identityFile: ~/.ssh/id_ed25519   # without it, ssh-agent and ~/.ssh/config are used
  nodes:
    # roles: control-plane, etcd, worker. etcd runs on the control-plane nodes unless
    # some node lists it. The address is what kubelet announces ("IPv4,IPv6" for dual-stack).
    - name: cp1
      address: 192.0.2.11
      roles: [control-plane, etcd]
    - name: worker1
      address: 192.0.2.21
      roles: [worker]
    - name: worker2
      address: 192.0.2.22
      roles: [worker]
      # labels: {disk: ssd}
      # taints: ["dedicated=gpu:NoSchedule"]
"#;

const HA_NODES: &str = r#"  # A free address on the node network: kube-vip keeps it on one healthy control-plane node,
  # and every kubeconfig and kube-proxy use it. For your own load balancer, put its address here
  # and set `highAvailability: {mode: external}`.
  controlPlaneEndpoint: "192.0.2.100:6443"
  highAvailability:
    mode: kube-vip
  ssh:
    user: root
    port: 22
  nodes:
    - name: cp1
      address: 192.0.2.11
      roles: [control-plane, etcd]
    - name: cp2
      address: 192.0.2.12
      roles: [control-plane, etcd]
    - name: cp3
      address: 192.0.2.13
      roles: [control-plane, etcd]
    - name: worker1
      address: 192.0.2.21
      roles: [worker]
    - name: worker2
      address: 192.0.2.22
      roles: [worker]
"#;

const TAIL: &str = r#"  networking:
    # "v4" or "v4,v6" for dual-stack (then every node needs "IPv4,IPv6" addresses).
    podSubnet: 10.244.0.0/16
    serviceSubnet: 10.96.0.0/12
    # Prefix of each node's pod range; "24,64" per family for dual-stack.
    nodeCIDRMaskSize: 24
    dnsDomain: cluster.local
    cni: flannel            # flannel, or none to install your own
    kubeProxyMode: iptables # iptables, nftables or ipvs
  # registry:
  #   imageRepository: registry.example.com/k8s   # instead of registry.k8s.io
  #   mirrors:
  #     - registry: docker.io
  #       endpoints: ["https://mirror.example.com"]
  #   credentials:
  #     - {registry: registry.example.com, username: puller, password: secret}
  # proxy:                  # used by containerd and kubelet only; NO_PROXY is computed
  #   http: http://proxy.example.com:3128
  #   https: http://proxy.example.com:3128
  #   noProxy: [.example.com]
  certificates:
    keyAlgorithm: ECDSA-P256  # or RSA-2048, RSA-3072, RSA-4096
    validity: 365d
    caValidity: 3650d
    bootstrapTokenTTL: 24h    # how long the bundle's join/ folder works; `kbundle join-token` makes more
    # extraSANs: [api.example.com]
"#;

/// The example document.
pub fn example_yaml(kind: ExampleKind) -> String {
    let nodes = match kind {
        ExampleKind::Basic => BASIC_NODES,
        ExampleKind::HighAvailability => HA_NODES,
    };
    format!("{HEADER}{nodes}{TAIL}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClusterConfig, HighAvailability};

    #[test]
    fn basic_example_is_valid_without_warnings() {
        let validated = ClusterConfig::from_yaml(&example_yaml(ExampleKind::Basic))
            .expect("the basic example validates");
        assert!(validated.warnings.is_empty(), "{:?}", validated.warnings);
        assert_eq!(validated.config.nodes.len(), 3);
        assert_eq!(validated.config.control_plane_nodes().count(), 1);
    }

    #[test]
    fn ha_example_has_three_control_planes_behind_a_vip() {
        let validated = ClusterConfig::from_yaml(&example_yaml(ExampleKind::HighAvailability))
            .expect("the HA example validates");
        assert!(validated.warnings.is_empty(), "{:?}", validated.warnings);
        let config = validated.config;
        assert_eq!(config.control_plane_nodes().count(), 3);
        assert_eq!(config.etcd_nodes().count(), 3);
        assert!(matches!(
            config.high_availability,
            HighAvailability::KubeVip { .. }
        ));
        assert_eq!(config.api_endpoint().to_string(), "192.0.2.100:6443");
    }
}
