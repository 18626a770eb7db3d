//! Exports a bundle for the engines fleets already run: an Ansible inventory and playbook
//! ([`ansible`]) or one cloud-init user-data per node ([`cloud_init`]). Both do what
//! `kbundle apply` does, in its order, with the bundle's own scripts: each node gets only its
//! own files, which its `install.sh` checks against their checksums and places (holding
//! kube-controller-manager back until every Node has its pod range); the cluster-wide steps
//! run once, on the first control-plane node ([`cluster_script`]). Pure: the exports are files
//! in memory ([`ExportedFile`]); the CLI writes them as a folder, the page can offer them as
//! one download ([`zip`]).
//!
//! On the nodes both stage the files under [`STAGING_DIR`]`/<cluster>` (root's, private) and
//! keep the journal `kbundle apply` keeps, so that `kbundle apply` refuses a node of another
//! cluster and works on a cluster installed either way.

pub mod ansible;
pub mod cloud_init;
mod cluster_script;
mod tar;

use crate::bundle::{Bundle, Entry, layout};
use crate::config::{ClusterConfig, Node};
use crate::plan::NetworkPlan;
use crate::render::addons::NodeObjects;

/// One file of an export.
#[derive(Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// Path inside the export's folder (`inventory.yml`, `user-data/cp1.yaml`, …).
    pub path: String,
    /// Contents.
    pub contents: Vec<u8>,
    /// Unix mode: 0600 for what carries keys, 0644 for the rest.
    pub mode: u32,
}

impl std::fmt::Debug for ExportedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ExportedFile({} {:o}, {} bytes)",
            self.path,
            self.mode,
            self.contents.len()
        )
    }
}

impl ExportedFile {
    fn new(path: impl Into<String>, contents: impl Into<Vec<u8>>, mode: u32) -> Self {
        Self {
            path: path.into(),
            contents: contents.into(),
            mode,
        }
    }
}

/// Why a bundle cannot be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bundle lacks what an export needs or holds it unreadable (a bundle that verifies
    /// never does).
    #[error("the bundle {0}")]
    Bundle(String),
    /// The zip of an export could not be written.
    #[error("writing the zip: {0}")]
    Zip(String),
    /// A node's user-data is larger than the limit the export was asked to keep.
    #[error("node `{node}`: its user-data is {size} bytes, over the {limit} limit of {max} bytes")]
    TooLarge {
        /// The node.
        node: String,
        /// Its user-data's size, as the limit counts it.
        size: usize,
        /// The limit's name ([`cloud_init::LIMITS`]).
        limit: &'static str,
        /// The limit, in bytes.
        max: usize,
    },
}

/// Where the exports stage a node's files, under a folder named after the cluster: root's,
/// private (the files are checked and placed from there by the node's `install.sh`).
pub const STAGING_DIR: &str = "/var/lib/kbundle/staging";

/// The folder the exports stage the files of cluster `cluster` in, on each node: what `kbundle
/// status` looks at when apply's own upload is not there, and `kbundle reset` removes.
pub fn staging_dir(cluster: &str) -> String {
    format!("{STAGING_DIR}/{cluster}")
}

/// What the exports read of a bundle, read once.
pub(crate) struct Cluster<'a> {
    bundle: &'a Bundle,
    /// The bundle's cluster.yaml, validated.
    config: ClusterConfig,
    /// `STAGING_DIR/<cluster>`.
    staging: String,
    /// The Nodes as `node-ranges` gives them, with the planned pod ranges.
    node_objects: NodeObjects,
    /// Each node's planned pod ranges, in config order (plan.json).
    ranges: Vec<(String, Vec<String>)>,
}

impl<'a> Cluster<'a> {
    fn read(bundle: &'a Bundle) -> Result<Self, Error> {
        let text = bundle
            .entry(layout::CLUSTER_YAML)
            .map(|entry| String::from_utf8_lossy(&entry.contents).into_owned())
            .ok_or_else(|| Error::Bundle(format!("has no {}", layout::CLUSTER_YAML)))?;
        let config = ClusterConfig::from_bundle_yaml(&text)
            .map_err(|_| {
                Error::Bundle(format!(
                    "has a {} that does not validate",
                    layout::CLUSTER_YAML
                ))
            })?
            .config;
        let previous = bundle
            .pod_ranges()
            .map_err(|reason| Error::Bundle(format!("is unreadable: {reason}")))?;
        // Every node of the bundle is in its plan.json, so the plan takes them all as they are.
        let plan = NetworkPlan::with_previous(&config, &previous).map_err(|_| {
            Error::Bundle(format!(
                "has a {} that does not fit its {}",
                layout::PLAN_JSON,
                layout::CLUSTER_YAML
            ))
        })?;
        if config.control_plane_nodes().next().is_none() {
            return Err(Error::Bundle("has no control-plane node".into()));
        }
        let ranges = config
            .nodes
            .iter()
            .zip(&plan.nodes)
            .map(|(node, planned)| {
                (
                    node.name.clone(),
                    planned
                        .pod_cidrs
                        .iter()
                        .map(|range| crate::net::canonical(*range))
                        .collect(),
                )
            })
            .collect();
        Ok(Self {
            bundle,
            staging: staging_dir(&bundle.manifest.cluster_name),
            node_objects: crate::render::addons::node_objects(&config, &plan),
            ranges,
            config,
        })
    }

    /// The node whose API server the cluster-wide steps go through: the first control-plane
    /// node of cluster.yaml, as for apply.
    fn first_control_plane(&self) -> &Node {
        self.config
            .control_plane_nodes()
            .next()
            .unwrap_or(&self.config.nodes[0])
    }

    fn is_first_control_plane(&self, node: &Node) -> bool {
        node.name == self.first_control_plane().name
    }

    /// The nodes in install order, as apply's `install` groups them: the first control-plane
    /// node, then the other control-plane and etcd nodes, then the workers.
    fn by_role(&self) -> Vec<Vec<&Node>> {
        let mut groups = vec![Vec::new(), Vec::new(), Vec::new()];
        for node in &self.config.nodes {
            let group = if self.is_first_control_plane(node) {
                0
            } else if node.roles.control_plane || node.roles.etcd {
                1
            } else {
                2
            };
            groups[group].push(node);
        }
        groups.retain(|group| !group.is_empty());
        groups
    }

    /// The addon entries, in file (apply) order.
    fn addons(&self) -> impl Iterator<Item = &Entry> {
        let prefix = format!("{}/", layout::ADDONS_DIR);
        self.bundle
            .entries
            .iter()
            .filter(move |entry| entry.path.starts_with(&prefix))
    }

    /// Whether the first control-plane node runs kube-vip (the `kube-vip` step has work).
    fn has_kube_vip(&self) -> bool {
        let path = layout::node_file(
            &self.first_control_plane().name,
            crate::render::control_plane::KUBE_VIP_MANIFEST,
        );
        self.bundle.entry(&path).is_some()
    }

    /// What `node`'s staging folder holds, as apply uploads it: `install.sh`, `SHA256SUMS` and
    /// `rootfs/…`; on the first control-plane node also the addons (and what is applied of them
    /// once the bootstrap token has expired). Paths relative to the folder, with modes.
    fn staged_files(&self, node: &Node) -> Vec<(String, Vec<u8>, u32)> {
        let prefix = format!("{}/{}/", layout::NODES_DIR, node.name);
        let mut files: Vec<(String, Vec<u8>, u32)> = self
            .bundle
            .entries
            .iter()
            .filter_map(|entry| {
                let path = entry.path.strip_prefix(&prefix)?;
                Some((path.to_owned(), entry.contents.clone(), entry.mode))
            })
            .collect();
        if self.is_first_control_plane(node) {
            files.extend(
                self.addons()
                    .map(|entry| (entry.path.clone(), entry.contents.clone(), entry.mode)),
            );
            // The bootstrap addon's mode: what is left of it holds cluster-info only, but
            // stays as private as the file it comes from.
            files.extend(
                cluster_script::expired_variants(self)
                    .into_iter()
                    .map(|(path, text)| (path, text.into_bytes(), 0o600)),
            );
        }
        files
    }

    /// The journal a node keeps once installed (`kbundle apply`'s).
    fn journal(&self) -> String {
        crate::bundle::install::journal(self.bundle)
    }
}

/// `files` as one zip under the folder `folder` (what the page offers as one download): entries
/// in order, deflated, with their modes and the bundle's fixed time, so the same export gives
/// the same bytes. With `passphrase`, every entry is encrypted with AES-256 as an encrypted
/// bundle is (an export holds the same keys, so it deserves the same lock).
pub fn zip(
    files: &[ExportedFile],
    folder: &str,
    passphrase: Option<&str>,
) -> Result<Vec<u8>, Error> {
    use std::io::Write as _;
    let failed = |error: &dyn std::fmt::Display| Error::Zip(error.to_string());
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for file in files {
        let options =
            crate::bundle::zip_entry_options(file.mode, passphrase).map_err(Error::Zip)?;
        writer
            .start_file(format!("{folder}/{}", file.path), options)
            .map_err(|e| failed(&e))?;
        writer.write_all(&file.contents).map_err(|e| failed(&e))?;
    }
    Ok(writer.finish().map_err(|e| failed(&e))?.into_inner())
}

/// Quotes `text` for a POSIX shell: one word, nothing expanded.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{ExampleKind, RawClusterConfig, example_yaml};
    use crate::pki::PkiInputs;

    /// The bundle of an example cluster, issued at `issued_at`.
    pub(crate) fn example_bundle(kind: ExampleKind, issued_at: i64) -> Bundle {
        bundle_of(&example_yaml(kind), issued_at)
    }

    /// The bundle of `yaml`, issued at `issued_at`, from a fixed seed.
    pub(crate) fn bundle_of(yaml: &str, issued_at: i64) -> Bundle {
        let raw = RawClusterConfig::from_yaml(yaml).unwrap();
        Bundle::generate(
            &raw,
            &PkiInputs {
                seed: [7; 32],
                issued_at,
                existing_cas: Vec::new(),
            },
        )
        .unwrap()
    }

    #[test]
    fn install_order_is_applys() {
        let bundle = example_bundle(ExampleKind::HighAvailability, 1_790_000_000);
        let cluster = Cluster::read(&bundle).unwrap();
        let names: Vec<Vec<&str>> = cluster
            .by_role()
            .iter()
            .map(|group| group.iter().map(|node| node.name.as_str()).collect())
            .collect();
        assert_eq!(names[0], ["cp1"]);
        assert_eq!(names[1], ["cp2", "cp3"]);
        assert!(names[2].iter().all(|name| name.starts_with("worker")));
    }

    #[test]
    fn only_the_first_control_plane_node_stages_the_addons() {
        let bundle = example_bundle(ExampleKind::Basic, 1_790_000_000);
        let cluster = Cluster::read(&bundle).unwrap();
        for node in &cluster.config.nodes {
            let staged = cluster.staged_files(node);
            let paths: Vec<&str> = staged.iter().map(|(path, _, _)| path.as_str()).collect();
            assert!(paths.contains(&"install.sh") && paths.contains(&"SHA256SUMS"));
            let addons = paths.iter().any(|path| path.starts_with("addons/"));
            assert_eq!(addons, node.name == "cp1", "{}: {paths:?}", node.name);
            // Only its own files: every rootfs file is in the node's checksums.
            let sums = String::from_utf8(
                bundle
                    .entry(&layout::node_checksums(&node.name))
                    .unwrap()
                    .contents
                    .clone(),
            )
            .unwrap();
            for path in paths.iter().filter_map(|path| path.strip_prefix("rootfs/")) {
                assert!(sums.contains(&format!("  {path}\n")), "{path}");
            }
        }
    }

    #[test]
    fn the_zip_holds_every_file_under_its_folder_with_its_mode() {
        let bundle = example_bundle(ExampleKind::Basic, 1_790_000_000);
        let files = ansible::export(&bundle).unwrap();
        let zip = super::zip(&files, "demo-ansible", None).unwrap();
        assert_eq!(
            zip,
            super::zip(&files, "demo-ansible", None).unwrap(),
            "deterministic"
        );
        let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), files.len());
        for file in &files {
            let mut entry = archive
                .by_name(&format!("demo-ansible/{}", file.path))
                .unwrap();
            assert_eq!(entry.unix_mode().map(|mode| mode & 0o7777), Some(file.mode));
            let mut contents = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut contents).unwrap();
            assert!(contents == file.contents, "{}", file.path);
        }
    }

    #[cfg(feature = "encryption")]
    #[test]
    fn a_passphrase_locks_every_file_of_the_zip() {
        let bundle = example_bundle(ExampleKind::Basic, 1_790_000_000);
        let files = ansible::export(&bundle).unwrap();
        let zip = super::zip(&files, "demo-ansible", Some("correct horse")).unwrap();
        let mut archive = ::zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        assert_eq!(archive.len(), files.len());
        for file in &files {
            let name = format!("demo-ansible/{}", file.path);
            assert!(archive.by_name(&name).is_err(), "{name} opens without it");
            assert!(
                archive.by_name_decrypt(&name, b"wrong").is_err(),
                "{name} opens with a wrong one"
            );
            let mut entry = archive.by_name_decrypt(&name, b"correct horse").unwrap();
            assert_eq!(entry.unix_mode().map(|mode| mode & 0o7777), Some(file.mode));
            let mut contents = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut contents).unwrap();
            assert!(contents == file.contents, "{}", file.path);
        }
    }

    #[test]
    fn shell_quote_keeps_one_word() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
