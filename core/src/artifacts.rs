//! Everything a cluster's nodes need from outside, for air-gapped installs: every binary (with
//! version, architecture, download address and the address of its published checksum) and every
//! container image (with its tag). `kbundle artifacts list` prints it, `kbundle artifacts fetch`
//! downloads it, `kbundle apply --artifacts` installs it (issue #7).
//!
//! Every binary goes under `/usr/local` or `/opt`, never `/usr/bin`: that is the package
//! manager's, and a kubelet placed there by hand would be replaced by the next package upgrade
//! (the kubelet unit finds either, see `render::node`).
//!
//! Checksums: the bundle is made offline, so it names where upstream publishes each checksum
//! instead of the checksum itself; a fetch checks every download against it and records the
//! result beside the files.

use serde::Serialize;

use crate::config::ClusterConfig;
use crate::render::Rendered;

/// What kbundle pins for the node software kubeadm leaves to the user (a choice of this table,
/// not an upstream pin): containerd 2.x (≥2.0.1 for registry credentials on the sandbox image),
/// runc, the CNI plugins. crictl follows the Kubernetes minor.
const CONTAINERD: &str = "2.1.4";
const RUNC: &str = "1.3.0";
const CNI_PLUGINS: &str = "1.7.1";

/// Architectures kbundle lists artifacts for (preflight accepts these two).
pub const ARCHITECTURES: [&str; 2] = ["amd64", "arm64"];

/// One binary a node needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binary {
    /// Name, e.g. `kubelet`.
    pub name: &'static str,
    /// Version, e.g. `v1.37.1`.
    pub version: String,
    /// `amd64` or `arm64`.
    pub arch: &'static str,
    /// Download address.
    pub url: String,
    /// Where upstream publishes its SHA-256.
    pub checksum_url: String,
    /// Where it goes on the node (a file, or the folder an archive is unpacked into).
    pub install_path: &'static str,
    /// Which nodes need it: `all` or `control-plane`.
    pub nodes: &'static str,
}

/// Every artifact of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifacts {
    /// Binaries, per architecture.
    pub binaries: Vec<Binary>,
    /// Container images, sorted (tags; digests are not known offline).
    pub images: Vec<String>,
}

/// The binaries for one architecture.
fn binaries(config: &ClusterConfig, arch: &'static str) -> Vec<Binary> {
    let kubernetes = config.kubernetes_version.to_string();
    let minor = config.kubernetes_version.minor();
    let k8s = |name: &'static str, nodes: &'static str| {
        let url = format!("https://dl.k8s.io/release/{kubernetes}/bin/linux/{arch}/{name}");
        Binary {
            name,
            version: kubernetes.clone(),
            arch,
            checksum_url: format!("{url}.sha256"),
            url,
            install_path: if name == "kubelet" {
                "/usr/local/bin/kubelet"
            } else {
                "/usr/local/bin/kubectl"
            },
            nodes,
        }
    };
    let crictl = format!("v1.{minor}.0");
    let containerd_url = format!(
        "https://github.com/containerd/containerd/releases/download/v{CONTAINERD}/containerd-{CONTAINERD}-linux-{arch}.tar.gz"
    );
    let crictl_url = format!(
        "https://github.com/kubernetes-sigs/cri-tools/releases/download/{crictl}/crictl-{crictl}-linux-{arch}.tar.gz"
    );
    let cni_url = format!(
        "https://github.com/containernetworking/plugins/releases/download/v{CNI_PLUGINS}/cni-plugins-linux-{arch}-v{CNI_PLUGINS}.tgz"
    );
    vec![
        k8s("kubelet", "all"),
        k8s("kubectl", "control-plane"),
        Binary {
            name: "containerd",
            version: format!("v{CONTAINERD}"),
            arch,
            checksum_url: format!("{containerd_url}.sha256sum"),
            url: containerd_url,
            install_path: "/usr/local",
            nodes: "all",
        },
        Binary {
            name: "runc",
            version: format!("v{RUNC}"),
            arch,
            url: format!(
                "https://github.com/opencontainers/runc/releases/download/v{RUNC}/runc.{arch}"
            ),
            checksum_url: format!(
                "https://github.com/opencontainers/runc/releases/download/v{RUNC}/runc.sha256sum"
            ),
            install_path: "/usr/local/sbin/runc",
            nodes: "all",
        },
        Binary {
            name: "cni-plugins",
            version: format!("v{CNI_PLUGINS}"),
            arch,
            checksum_url: format!("{cni_url}.sha256"),
            url: cni_url,
            install_path: "/opt/cni/bin",
            nodes: "all",
        },
        Binary {
            name: "crictl",
            version: crictl,
            arch,
            checksum_url: format!("{crictl_url}.sha256"),
            url: crictl_url,
            install_path: "/usr/local/bin",
            nodes: "all",
        },
    ]
}

/// Every artifact `config` needs; images are read from what was rendered, so the list can never
/// drift from the manifests.
pub fn artifacts(config: &ClusterConfig, rendered: &Rendered) -> Artifacts {
    let mut images: Vec<String> = rendered
        .nodes
        .iter()
        .flat_map(|node| &node.files)
        .filter(|file| file.path.starts_with("/etc/kubernetes/manifests/"))
        .map(|file| file.contents.as_str())
        .chain(rendered.addons.iter().map(|addon| addon.contents.as_str()))
        .flat_map(|text| text.lines())
        .filter_map(|line| line.trim().trim_start_matches("- ").strip_prefix("image: "))
        .map(|image| image.trim_matches(|c| c == '\'' || c == '"').to_owned())
        .collect();
    // The sandbox image is pulled by containerd itself, not named in any manifest.
    images.push(crate::render::control_plane::image(config, "pause"));
    images.sort();
    images.dedup();
    Artifacts {
        binaries: ARCHITECTURES
            .iter()
            .flat_map(|arch| binaries(config, arch))
            .collect(),
        images,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ExampleKind, example_yaml};
    use crate::pki::{Pki, PkiInputs};
    use crate::plan::NetworkPlan;

    fn list(yaml: &str) -> Artifacts {
        let config = ClusterConfig::from_yaml(yaml).unwrap().config;
        let pki = Pki::issue(
            &config,
            &PkiInputs {
                seed: [1; 32],
                issued_at: 1_790_000_000,
                existing_cas: Vec::new(),
            },
        )
        .unwrap();
        let rendered =
            crate::render::render(&config, &NetworkPlan::new(&config), &pki, 1_790_000_000);
        artifacts(&config, &rendered)
    }

    #[test]
    fn lists_the_binaries_of_the_cluster_version_for_both_architectures() {
        let artifacts = list(&example_yaml(ExampleKind::HighAvailability));
        let kubelet = artifacts
            .binaries
            .iter()
            .find(|b| b.name == "kubelet" && b.arch == "arm64")
            .unwrap();
        assert_eq!(
            kubelet.url,
            "https://dl.k8s.io/release/v1.37.1/bin/linux/arm64/kubelet"
        );
        assert_eq!(
            kubelet.checksum_url,
            "https://dl.k8s.io/release/v1.37.1/bin/linux/arm64/kubelet.sha256"
        );
        assert_eq!(artifacts.binaries.len(), 12);
        let crictl = artifacts
            .binaries
            .iter()
            .find(|b| b.name == "crictl")
            .unwrap();
        assert_eq!(crictl.version, "v1.37.0");
    }

    #[test]
    fn lists_every_image_the_manifests_name_and_the_sandbox() {
        let artifacts = list(&example_yaml(ExampleKind::HighAvailability));
        for image in [
            "registry.k8s.io/kube-apiserver:v1.37.1",
            "registry.k8s.io/etcd:3.7.0-0",
            "registry.k8s.io/coredns/coredns:v1.14.6",
            "registry.k8s.io/kube-proxy:v1.37.1",
            "registry.k8s.io/pause:3.10.2",
            "ghcr.io/kube-vip/kube-vip:v0.8.9",
            "ghcr.io/flannel-io/flannel:v0.26.7",
        ] {
            assert!(
                artifacts.images.iter().any(|i| i == image),
                "missing {image}: {:?}",
                artifacts.images
            );
        }
        assert!(artifacts.images.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
