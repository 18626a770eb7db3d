//! `kbundle export cloud-init`: one `#cloud-config` user-data per node, for machines that
//! install themselves at first boot. cloud-init writes the node's own files, with their modes,
//! into the staging folder apply uploads to (`write_files`, each file gzip-compressed and
//! base64-encoded: user-data is small everywhere), then runs `boot.sh` there (`runcmd`):
//! the node's `install.sh` (it checks the files against their checksums first, and holds
//! kube-controller-manager back), the journal, containerd and the kubelet started. The first
//! control-plane node then finishes the cluster once its API server answers: the Nodes' pod
//! ranges, kube-controller-manager, the addons ([`super::cluster_script`]); the other
//! control-plane nodes place kube-controller-manager once the ranges are given.
//!
//! Clouds limit user-data ([`LIMITS`]); the export refuses a node whose user-data would not
//! fit the one it is asked to keep, naming the node and both sizes.

use std::fmt::Write as _;
use std::io::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Cluster, Error, ExportedFile, cluster_script, shell_quote};
use crate::bundle::Bundle;
use crate::bundle::install::JOURNAL;
use crate::config::Node;

/// Where the user-data files are, as `user-data/<node>.yaml`.
pub const USER_DATA_DIR: &str = "user-data";

/// The script cloud-init runs, in the staging folder.
const BOOT_SCRIPT: &str = "boot.sh";

/// How long a node waits at first boot for what other machines do (the API server needs an
/// etcd quorum, so the other control-plane nodes must have booted too).
const BOOT_WAIT_SECONDS: u64 = 1800;

/// A cloud's limit on user-data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// How `--limit` names it.
    pub name: &'static str,
    /// Whose limit it is.
    pub cloud: &'static str,
    /// The largest user-data accepted, in bytes.
    pub max_bytes: usize,
    /// The limit counts the user-data base64-encoded (as the API takes it), not as written.
    pub counts_base64: bool,
    /// Where the cloud states it.
    pub source: &'static str,
}

impl Limit {
    /// `user_data`'s size as this limit counts it.
    pub fn size_of(&self, user_data: &[u8]) -> usize {
        if self.counts_base64 {
            user_data.len().div_ceil(3) * 4
        } else {
            user_data.len()
        }
    }

    /// Whether `user_data` fits.
    pub fn fits(&self, user_data: &[u8]) -> bool {
        self.size_of(user_data) <= self.max_bytes
    }

    /// The largest user-data that fits, as written (before any base64).
    pub fn largest(&self) -> usize {
        if self.counts_base64 {
            self.max_bytes / 4 * 3
        } else {
            self.max_bytes
        }
    }
}

/// The user-data limits of common clouds, smallest first. One table: `--limit`, the export's
/// check and docs/export.md all read it.
pub const LIMITS: [Limit; 4] = [
    Limit {
        name: "aws",
        cloud: "Amazon EC2",
        max_bytes: 16 * 1024,
        counts_base64: false,
        source: "EC2 User Guide: user data is limited to 16 KB, in raw form, before it is base64-encoded",
    },
    Limit {
        name: "openstack",
        cloud: "OpenStack Nova",
        max_bytes: 65_535,
        counts_base64: true,
        source: "Nova user guide: user data must be base64 encoded and is restricted to 65535 bytes",
    },
    Limit {
        name: "azure",
        cloud: "Azure",
        max_bytes: 65_535,
        counts_base64: false,
        source: "Azure API: the base64 string decodes to a binary array of at most 65535 bytes",
    },
    Limit {
        name: "gce",
        cloud: "Google Compute Engine",
        max_bytes: 262_144,
        counts_base64: false,
        source: "Compute Engine API: a metadata value (user-data) is at most 262144 bytes",
    },
];

/// The limit kept unless another is asked for: the 64 KB most clouds state, which a
/// control-plane node of a cluster with ECDSA keys fits (EC2's 16 KB holds a worker's
/// user-data, never a control-plane node's; OpenStack counts the base64 form, which a
/// control-plane node's outgrows).
pub const DEFAULT_LIMIT: &str = "azure";

/// The limit `name` names.
pub fn limit(name: &str) -> Option<&'static Limit> {
    LIMITS.iter().find(|limit| limit.name == name)
}

/// The export of `bundle` for cloud-init: `user-data/<node>.yaml` for every node (0600: each
/// holds its node's keys) and a README, every user-data within `limit`.
pub fn export(bundle: &Bundle, limit: &Limit) -> Result<Vec<ExportedFile>, Error> {
    let cluster = Cluster::read(bundle)?;
    let mut files = vec![ExportedFile::new("README.md", readme(&cluster), 0o644)];
    for node in &cluster.config.nodes {
        let user_data = user_data(&cluster, node);
        if !limit.fits(user_data.as_bytes()) {
            return Err(Error::TooLarge {
                node: node.name.clone(),
                size: limit.size_of(user_data.as_bytes()),
                limit: limit.cloud,
                max: limit.max_bytes,
            });
        }
        files.push(ExportedFile::new(
            format!("{USER_DATA_DIR}/{}.yaml", node.name),
            user_data,
            0o600,
        ));
    }
    Ok(files)
}

/// `text` gzip-compressed (best compression, no name, no time: the same bytes every time),
/// then base64-encoded, as cloud-init's `gz+b64` encoding reads it.
fn gzip_base64(bytes: &[u8]) -> String {
    let mut encoder = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    let compressed = encoder.finish().unwrap_or_default();
    STANDARD.encode(compressed)
}

/// The user-data of `node`.
fn user_data(cluster: &Cluster, node: &Node) -> String {
    let name = &cluster.bundle.manifest.cluster_name;
    let mut out = format!(
        "#cloud-config\n\
         # Node {node_name} ({roles}) of cluster {name}, from its kbundle bundle (kbundle export\n\
         # cloud-init). At first boot, cloud-init writes the node's own files into {staging}\n\
         # and runs {BOOT_SCRIPT} there: what `kbundle apply` does on this node, in its order.\n\
         # It holds the node's keys: give it to this machine only, as its user data.\n\
         write_files:\n",
        node_name = node.name,
        roles = node.roles.names().join(", "),
        staging = cluster.staging,
    );
    let mut files = cluster.staged_files(node);
    if node.roles.control_plane {
        files.push((
            cluster_script::NAME.to_owned(),
            cluster_script::script(cluster).into_bytes(),
            0o755,
        ));
    }
    files.push((
        BOOT_SCRIPT.to_owned(),
        boot_script(cluster, node).into_bytes(),
        0o755,
    ));
    for (path, contents, mode) in &files {
        let _ = write!(
            out,
            "  - path: {}\n    permissions: \"{mode:04o}\"\n    encoding: gz+b64\n    content: {}\n",
            serde_json::Value::from(format!("{}/{path}", cluster.staging)),
            gzip_base64(contents),
        );
    }
    let _ = writeln!(out, "runcmd:\n  - [sh, {}/{BOOT_SCRIPT}]", cluster.staging);
    out
}

/// What cloud-init runs on `node`: apply's steps for this node, in its order.
fn boot_script(cluster: &Cluster, node: &Node) -> String {
    let name = &cluster.bundle.manifest.cluster_name;
    let cluster_id = crate::bundle::install::cluster_id(cluster.bundle);
    let mut out = format!(
        r#"#!/bin/sh
# What cloud-init runs at first boot on node {node_name} of cluster {name} (kbundle export
# cloud-init): kbundle apply's steps for this node, in its order.
set -eu
staging={staging}
chmod 700 {staging_dir} "$staging"

# lock: never over a machine of another cluster.
if [ -f {JOURNAL} ] && ! grep -qx {id} {JOURNAL}; then
  echo "kbundle: error: this machine belongs to another cluster ($(sed -n 's/^cluster=//p' {JOURNAL})); nothing was installed" >&2
  exit 1
fi

# install: this node's files, checked against their checksums first; kube-controller-manager
# waits until every Node has its planned pod range.
KBUNDLE_HOLD=kube-controller-manager.yaml sh "$staging/install.sh"
printf '%s' {journal} >{JOURNAL}

# start
systemctl enable --now containerd kubelet
"#,
        node_name = node.name,
        staging = shell_quote(&cluster.staging),
        staging_dir = super::STAGING_DIR,
        id = shell_quote(&format!("cluster_id={cluster_id}")),
        journal = shell_quote(&cluster.journal()),
    );
    if cluster.is_first_control_plane(node) {
        let kube_vip = if cluster.has_kube_vip() {
            " kube-vip"
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"
# The cluster-wide steps, once this node's API server answers through the control-plane
# endpoint (etcd needs a quorum: the other control-plane nodes boot meanwhile).
KBUNDLE_WAIT_TIMEOUT={BOOT_WAIT_SECONDS} sh "$staging/{script}" wait-apiserver node-ranges
# controller-manager: every Node has its pod range now.
sh "$staging/install.sh"
sh "$staging/{script}" addons{kube_vip}
"#,
            script = cluster_script::NAME,
        );
    } else if node.roles.control_plane {
        let _ = write!(
            out,
            r#"
# controller-manager: placed once the first control-plane node gave every Node its pod range.
KBUNDLE_WAIT_TIMEOUT={BOOT_WAIT_SECONDS} sh "$staging/{script}" {wait}
sh "$staging/install.sh"
"#,
            script = cluster_script::NAME,
            wait = cluster_script::WAIT_RANGES,
        );
    }
    out
}

/// The export's README.
fn readme(cluster: &Cluster) -> String {
    let name = &cluster.bundle.manifest.cluster_name;
    let first = &cluster.first_control_plane().name;
    format!(
        r#"# Cluster {name} for cloud-init

Exported from the cluster's kbundle bundle by `kbundle export cloud-init`: one `#cloud-config`
user-data per node, `{USER_DATA_DIR}/<node>.yaml`. Give each machine its own as its user data
(it holds the node's keys). At first boot cloud-init writes the node's files into
{staging} and installs them; {first}, the first control-plane node, finishes the cluster once
its API server answers. See kbundle's docs/export.md.

The machines need what `kbundle apply`'s preflight checks (containerd, runc, the CNI plugins,
the kubelet, kubectl and curl on control-plane nodes): `kbundle artifacts list` names them.
"#,
        staging = cluster.staging,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExampleKind;
    use crate::export::tests::example_bundle;

    /// The files `user_data` writes, decoded: (path, permissions, contents).
    fn written(user_data: &str) -> Vec<(String, String, Vec<u8>)> {
        let parsed: serde_json::Value = serde_yaml::from_str(user_data).unwrap();
        parsed["write_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|file| {
                assert_eq!(file["encoding"], "gz+b64");
                let compressed = STANDARD.decode(file["content"].as_str().unwrap()).unwrap();
                let mut contents = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(compressed.as_slice()),
                    &mut contents,
                )
                .unwrap();
                (
                    file["path"].as_str().unwrap().to_owned(),
                    file["permissions"].as_str().unwrap().to_owned(),
                    contents,
                )
            })
            .collect()
    }

    #[test]
    fn each_node_gets_its_own_files_with_their_modes_then_boot_sh() {
        let bundle = example_bundle(ExampleKind::Basic, 1_790_000_000);
        let files = export(&bundle, limit(DEFAULT_LIMIT).unwrap()).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "README.md",
                "user-data/cp1.yaml",
                "user-data/worker1.yaml",
                "user-data/worker2.yaml"
            ]
        );
        for file in &files[1..] {
            assert_eq!(file.mode, 0o600);
            let text = String::from_utf8(file.contents.clone()).unwrap();
            assert!(text.starts_with("#cloud-config\n"));
            let node = file
                .path
                .trim_start_matches("user-data/")
                .trim_end_matches(".yaml");
            let staging = "/var/lib/kbundle/staging/demo";
            for (path, permissions, contents) in written(&text) {
                let relative = path.strip_prefix(&format!("{staging}/")).unwrap();
                if let Some(entry) = bundle.entry(&format!("nodes/{node}/{relative}")) {
                    assert_eq!(contents, entry.contents, "{path}");
                    assert_eq!(permissions, format!("{:04o}", entry.mode), "{path}");
                } else {
                    assert!(
                        ["boot.sh", "cluster.sh"].contains(&relative)
                            || (node == "cp1"
                                && (relative.starts_with("addons/")
                                    || relative.starts_with("expired/"))),
                        "{node} gets {path}"
                    );
                }
            }
            let parsed: serde_json::Value = serde_yaml::from_str(&text).unwrap();
            assert_eq!(
                parsed["runcmd"],
                serde_json::json!([["sh", format!("{staging}/boot.sh")]])
            );
        }
    }

    #[test]
    fn the_first_control_plane_node_finishes_the_cluster_and_the_others_wait_for_it() {
        let bundle = example_bundle(ExampleKind::HighAvailability, 1_790_000_000);
        let cluster = Cluster::read(&bundle).unwrap();
        let node = |name: &str| {
            cluster
                .config
                .nodes
                .iter()
                .find(|node| node.name == name)
                .unwrap()
        };
        let first = boot_script(&cluster, node("cp1"));
        let hold = first
            .find("KBUNDLE_HOLD=kube-controller-manager.yaml sh")
            .unwrap();
        let ranges = first.find("wait-apiserver node-ranges").unwrap();
        let release = first.find("\nsh \"$staging/install.sh\"\n").unwrap();
        let addons = first.find("addons kube-vip").unwrap();
        assert!(
            hold < ranges && ranges < release && release < addons,
            "{first}"
        );
        let other = boot_script(&cluster, node("cp2"));
        assert!(
            other.find("wait-ranges").unwrap() < other.rfind("sh \"$staging/install.sh\"").unwrap()
        );
        assert!(!other.contains("node-ranges"));
        let worker = boot_script(&cluster, node("worker1"));
        assert!(!worker.contains("cluster.sh"));
        assert!(worker.ends_with("systemctl enable --now containerd kubelet\n"));
    }

    #[test]
    fn a_node_over_the_limit_is_refused_by_name() {
        let bundle = example_bundle(ExampleKind::Basic, 1_790_000_000);
        let error = export(&bundle, limit("aws").unwrap()).unwrap_err();
        match error {
            Error::TooLarge {
                node,
                size,
                limit,
                max,
            } => {
                assert_eq!((node.as_str(), limit, max), ("cp1", "Amazon EC2", 16384));
                assert!(size > max);
            }
            other => panic!("{other}"),
        }
        // Every node of the HA example fits the default limit.
        let ha = example_bundle(ExampleKind::HighAvailability, 1_790_000_000);
        assert!(export(&ha, limit(DEFAULT_LIMIT).unwrap()).is_ok());
    }

    #[test]
    fn limits_count_as_their_clouds_do() {
        let openstack = limit("openstack").unwrap();
        assert_eq!(openstack.size_of(&[0; 3]), 4);
        assert!(openstack.fits(&vec![0; 49_149]) && !openstack.fits(&vec![0; 49_152]));
        assert_eq!(limit("aws").unwrap().size_of(&[0; 3]), 3);
        // Smallest first, as docs/export.md lists them.
        let sizes: Vec<usize> = LIMITS.iter().map(Limit::largest).collect();
        assert_eq!(sizes, [16_384, 49_149, 65_535, 262_144]);
        for limit in &LIMITS {
            assert!(limit.fits(&vec![0; limit.largest()]));
            assert!(!limit.fits(&vec![0; limit.largest() + 1]));
        }
    }

    #[test]
    fn workers_fit_every_limit_and_control_plane_nodes_the_default() {
        // What docs/export.md says of the examples.
        for kind in [ExampleKind::Basic, ExampleKind::HighAvailability] {
            let bundle = example_bundle(kind, 1_790_000_000);
            let files = export(&bundle, limit(DEFAULT_LIMIT).unwrap()).unwrap();
            for file in files.iter().filter(|file| file.path.contains("/worker")) {
                assert!(
                    LIMITS.iter().all(|limit| limit.fits(&file.contents)),
                    "{file:?}"
                );
            }
        }
    }
}
