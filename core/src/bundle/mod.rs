//! The bundle: one zip that holds every byte for every node ([`layout`]), written
//! deterministically (sorted entries, fixed times, unix modes) and read back with every hostile
//! input refused before anything is used ([`read`]); [`verify`] checks what is inside.

#[cfg(feature = "x509-parsing")]
pub mod certs;
pub mod diff;
pub mod expiry;
pub mod install;
pub mod layout;
pub mod manifest;
pub mod read;
pub mod token;
#[cfg(feature = "x509-parsing")]
pub mod verify;

use std::io::{Cursor, Write};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::config::{ClusterConfig, Diagnostics, RawClusterConfig};
use crate::net::IpFamily;
use crate::pki::{Identity, KeyPair, Pki, PkiInputs};
use crate::plan::{NetworkPlan, PreviousRanges};
use crate::render::{RenderedFile, render};
use manifest::{BundleManifest, FileEntry, NodeEntry};

/// One file of the bundle.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the zip.
    pub path: String,
    /// Contents.
    pub contents: Vec<u8>,
    /// Unix mode.
    pub mode: u32,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Entry({} {:o}, {} bytes)",
            self.path,
            self.mode,
            self.contents.len()
        )
    }
}

/// A bundle in memory: its index and its entries, sorted by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// `bundle.json`.
    pub manifest: BundleManifest,
    /// Every entry, `bundle.json` included, sorted by path.
    pub entries: Vec<Entry>,
}

/// Why a bundle could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// The cluster config is invalid.
    #[error(transparent)]
    Invalid(#[from] Diagnostics),
    /// The PKI could not be issued.
    #[error(transparent)]
    Pki(#[from] crate::pki::Error),
    /// The zip could not be written.
    #[error("writing the zip: {0}")]
    Zip(String),
    /// The bundle a new one is made from cannot be used.
    #[error("the previous bundle: {0}")]
    Previous(String),
}

/// Fixed timestamp of every entry (the zip format cannot hold earlier than 1980).
const ENTRY_TIME: (u16, u8, u8) = (2000, 1, 1);

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::pki::hex(&Sha256::digest(bytes))
}

impl Bundle {
    /// Generates the bundle of a cluster: validates `raw`, issues the PKI, renders every file
    /// and lays them out.
    pub fn generate(raw: &RawClusterConfig, inputs: &PkiInputs) -> Result<Self, GenerateError> {
        Self::generate_with_keys(raw, inputs, Vec::new())
    }

    /// [`Bundle::generate`] with private keys made elsewhere (the browser's WebCrypto), used in
    /// order before any is made from the seed; see [`Pki::issue_with_keys`].
    pub fn generate_with_keys(
        raw: &RawClusterConfig,
        inputs: &PkiInputs,
        premade_keys: Vec<KeyPair>,
    ) -> Result<Self, GenerateError> {
        Self::generate_full(raw, inputs, premade_keys, &PreviousRanges::new(), None)
    }

    /// [`Bundle::generate`] for a cluster that is running: every node of `previous` (the pod
    /// ranges of the bundle applied before, see [`Bundle::pod_ranges`]) keeps its range, since
    /// the API server refuses to change a Node's. A previous range that no longer fits the
    /// networking is refused as invalid input, naming the node.
    pub fn generate_with_previous(
        raw: &RawClusterConfig,
        inputs: &PkiInputs,
        previous: &PreviousRanges,
    ) -> Result<Self, GenerateError> {
        Self::generate_full(raw, inputs, Vec::new(), previous, None)
    }

    /// [`Bundle::generate`] for a cluster that runs `old`: every node keeps its pod range, and
    /// the cluster keeps its identity ([`Pki::issue_from`]): the CAs, the service-account keys
    /// and every certificate whose request did not change and that is not near expiry. Only
    /// what is new or changed is issued, so applying the new bundle restarts only what it
    /// changes. A bundle made by an older kbundle, without `identity.json`, gives its ranges
    /// only.
    pub fn generate_from(
        raw: &RawClusterConfig,
        inputs: &PkiInputs,
        old: &Bundle,
    ) -> Result<Self, GenerateError> {
        Self::generate_from_with_keys(raw, inputs, Vec::new(), old)
    }

    /// [`Bundle::generate_from`] with private keys made elsewhere (the browser's WebCrypto) for
    /// what is issued anew: as many as [`Bundle::keys_to_make`] says.
    pub fn generate_from_with_keys(
        raw: &RawClusterConfig,
        inputs: &PkiInputs,
        premade_keys: Vec<KeyPair>,
        old: &Bundle,
    ) -> Result<Self, GenerateError> {
        let ranges = old.pod_ranges().map_err(GenerateError::Previous)?;
        let identity = old
            .identity()
            .transpose()
            .map_err(GenerateError::Previous)?;
        Self::generate_full(raw, inputs, premade_keys, &ranges, identity.as_ref())
    }

    /// How many private keys generating `raw` makes, from `old` when given (see
    /// [`Pki::keys_to_make`]). An invalid config or an unreadable old identity makes none: the
    /// generation that follows refuses it with the reason.
    pub fn keys_to_make(raw: &RawClusterConfig, inputs: &PkiInputs, old: Option<&Bundle>) -> usize {
        let Ok(validated) = ClusterConfig::from_raw(raw) else {
            return 0;
        };
        let identity = old.and_then(Bundle::identity).and_then(Result::ok);
        Pki::keys_to_make(&validated.config, inputs, identity.as_ref())
    }

    /// This bundle with every leaf certificate and kubeconfig issued again, from the same CAs,
    /// for the same requests, valid from `inputs.issued_at` (`kbundle certs renew`). Nothing
    /// else changes: the CAs, the service-account keys, every other file (registry and proxy
    /// secrets included, which the bundle's cluster.yaml does not hold). Applying it restarts
    /// what reads the new certificates, one control-plane node at a time.
    pub fn renew_certificates(&self, inputs: &PkiInputs) -> Result<Self, GenerateError> {
        let identity = self
            .identity()
            .ok_or_else(|| {
                GenerateError::Previous(
                    "made by an older kbundle, it records no identity.json: generate its next bundle with `kbundle generate cluster.yaml --from` (bringing the CAs as existingCAs) instead".into(),
                )
            })?
            .map_err(GenerateError::Previous)?;
        let text = self
            .entry(layout::CLUSTER_YAML)
            .map(|entry| String::from_utf8_lossy(&entry.contents).into_owned())
            .ok_or_else(|| GenerateError::Previous("the bundle has no cluster.yaml".into()))?;
        // Its secrets are redacted, but the PKI reads none of them.
        let config = ClusterConfig::from_bundle_yaml(&text)?.config;
        let renewing = Identity {
            leaves: Vec::new(),
            ..identity
        };
        let pki = Pki::issue_from(&config, inputs, &renewing)?;
        let mut replaced: std::collections::BTreeMap<String, Vec<u8>> =
            std::collections::BTreeMap::new();
        for node in &config.nodes {
            let files = pki.node_files(node);
            // The static pods read their certificates when they start: their manifests carry
            // the digest of them, so that the kubelet restarts them on the new ones.
            let digest = |lookup: &dyn Fn(&str) -> Option<String>| {
                let contents: Vec<(String, String)> = files
                    .iter()
                    .filter_map(|file| Some((file.path.clone(), lookup(&file.path)?)))
                    .collect();
                crate::render::control_plane::pki_digest(
                    contents.iter().map(|(p, c)| (p.as_str(), c.as_str())),
                )
            };
            let old_digest = digest(&|path| {
                self.entry(&layout::node_file(&node.name, path))
                    .map(|entry| String::from_utf8_lossy(&entry.contents).into_owned())
            });
            let new_digest = digest(&|path| {
                files
                    .iter()
                    .find(|file| file.path == path)
                    .map(|file| file.contents.clone())
            });
            for manifest in self.node_files(&node.name).iter().filter(|file| {
                file.path
                    .starts_with(crate::render::control_plane::MANIFEST_DIR)
            }) {
                replaced.insert(
                    layout::node_file(&node.name, &manifest.path),
                    manifest
                        .contents
                        .replace(&old_digest, &new_digest)
                        .into_bytes(),
                );
            }
            for file in files {
                replaced.insert(
                    layout::node_file(&node.name, &file.path),
                    file.contents.into_bytes(),
                );
            }
        }
        if let Some(admin) = pki.admin_kubeconfig() {
            replaced.insert(
                layout::ADMIN_CONF.into(),
                admin.contents.clone().into_bytes(),
            );
        }
        replaced.insert(
            layout::IDENTITY_JSON.into(),
            pki.identity().to_json().into_bytes(),
        );
        let mut renewed = self.clone();
        for entry in &mut renewed.entries {
            if let Some(contents) = replaced.remove(&entry.path) {
                entry.contents = contents;
            }
        }
        // Each node's checksums, then the index.
        for node in &config.nodes {
            let sums = install::checksums(&renewed.node_files(&node.name), sha256_hex);
            if let Some(entry) = renewed
                .entries
                .iter_mut()
                .find(|entry| entry.path == layout::node_checksums(&node.name))
            {
                entry.contents = sums.into_bytes();
            }
        }
        for file in &mut renewed.manifest.files {
            if let Some(entry) = renewed.entries.iter().find(|entry| entry.path == file.path) {
                file.sha256 = sha256_hex(&entry.contents);
            }
        }
        let manifest_json =
            serde_json::to_string_pretty(&renewed.manifest).unwrap_or_default() + "\n";
        if let Some(entry) = renewed
            .entries
            .iter_mut()
            .find(|entry| entry.path == layout::BUNDLE_JSON)
        {
            entry.contents = manifest_json.into_bytes();
        }
        Ok(renewed)
    }

    /// The identity `old` recorded (`identity.json`); `None` for a bundle made before it was.
    pub fn identity(&self) -> Option<Result<Identity, String>> {
        self.entry(layout::IDENTITY_JSON)
            .map(|entry| Identity::from_json(&String::from_utf8_lossy(&entry.contents)))
    }

    fn generate_full(
        raw: &RawClusterConfig,
        inputs: &PkiInputs,
        premade_keys: Vec<KeyPair>,
        previous: &PreviousRanges,
        identity: Option<&Identity>,
    ) -> Result<Self, GenerateError> {
        let config = ClusterConfig::from_raw(raw)?.config;
        // Before the PKI: a refused plan costs no key generation.
        let plan = NetworkPlan::with_previous(&config, previous)?;
        let pki = match identity {
            Some(identity) => Pki::issue_from_with_keys(&config, inputs, identity, premade_keys)?,
            None => Pki::issue_with_keys(&config, inputs, premade_keys)?,
        };
        let rendered = render(&config, &plan, &pki, inputs.issued_at);

        let mut entries: Vec<(Entry, Option<String>)> = Vec::new();
        let mut add = |path: String, contents: Vec<u8>, mode: u32, node: Option<&str>| {
            entries.push((
                Entry {
                    path,
                    contents,
                    mode,
                },
                node.map(str::to_owned),
            ));
        };
        add(
            layout::CLUSTER_YAML.into(),
            normalised_config(raw).into_bytes(),
            0o644,
            None,
        );
        let plan_json = serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n";
        add(
            layout::PLAN_JSON.into(),
            plan_json.into_bytes(),
            0o644,
            None,
        );
        add(
            layout::PLAN_TEXT.into(),
            plan.to_text().into_bytes(),
            0o644,
            None,
        );
        let artifacts = crate::artifacts::artifacts(&config, &rendered);
        let artifacts_json = serde_json::to_string_pretty(&artifacts).unwrap_or_default() + "\n";
        add(
            layout::ARTIFACTS_JSON.into(),
            artifacts_json.into_bytes(),
            0o644,
            None,
        );
        add(
            layout::README.into(),
            readme(&config, inputs.issued_at).into_bytes(),
            0o644,
            None,
        );
        if let Some(admin) = pki.admin_kubeconfig() {
            add(
                layout::ADMIN_CONF.into(),
                admin.contents.clone().into_bytes(),
                0o600,
                None,
            );
        }
        // What a later bundle of this cluster keeps (`generate --from`). Never a node's.
        add(
            layout::IDENTITY_JSON.into(),
            pki.identity().to_json().into_bytes(),
            0o600,
            None,
        );
        for addon in &rendered.addons {
            let mode = if addon.is_secret { 0o600 } else { 0o644 };
            add(
                layout::addon(&addon.name),
                addon.contents.clone().into_bytes(),
                mode,
                None,
            );
        }
        for node in &rendered.nodes {
            let name = node.node.as_str();
            for file in &node.files {
                add(
                    layout::node_file(name, &file.path),
                    file.contents.clone().into_bytes(),
                    file.mode,
                    Some(name),
                );
            }
            add(
                layout::node_checksums(name),
                install::checksums(&node.files, sha256_hex).into_bytes(),
                0o644,
                Some(name),
            );
            add(
                layout::install_script(name),
                install::script(
                    &config.name,
                    name,
                    &config
                        .nodes
                        .iter()
                        .find(|planned| planned.name == name)
                        .map(|planned| planned.addresses.clone())
                        .unwrap_or_default(),
                    config
                        .control_plane_nodes()
                        .next()
                        .is_some_and(|first| first.name == name),
                    &node.files,
                )
                .into_bytes(),
                0o755,
                Some(name),
            );
        }
        // Not any node's: apply never sends join/ anywhere; it waits for a machine that joins.
        let join = &rendered.join;
        for file in &join.files {
            add(
                layout::join_file(&file.path),
                file.contents.clone().into_bytes(),
                file.mode,
                None,
            );
        }
        add(
            layout::join_checksums(),
            install::checksums(&join.files, sha256_hex).into_bytes(),
            0o644,
            None,
        );
        let planned: Vec<&str> = config.nodes.iter().map(|node| node.name.as_str()).collect();
        add(
            layout::join_script(),
            install::join_script(
                &config.name,
                &planned,
                &plan.ip_families,
                &join.files,
                &join.kubelet_drop_in,
            )
            .into_bytes(),
            0o755,
            None,
        );
        entries.sort_by(|a, b| a.0.path.cmp(&b.0.path));

        let manifest = BundleManifest {
            format_version: layout::FORMAT_VERSION,
            generator: format!("kbundle {}", env!("CARGO_PKG_VERSION")),
            cluster_name: config.name.clone(),
            kubernetes_version: config.kubernetes_version.to_string(),
            control_plane_endpoint: plan.control_plane_endpoint,
            nodes: config
                .nodes
                .iter()
                .map(|node| NodeEntry {
                    name: node.name.clone(),
                    roles: node.roles.names().iter().map(|r| (*r).to_owned()).collect(),
                    addresses: node.addresses.iter().map(ToString::to_string).collect(),
                    ssh_user: node.ssh.user.clone(),
                    ssh_port: node.ssh.port,
                })
                .collect(),
            files: entries
                .iter()
                .map(|(entry, node)| FileEntry {
                    path: entry.path.clone(),
                    sha256: sha256_hex(&entry.contents),
                    mode: entry.mode,
                    node: node.clone(),
                })
                .collect(),
        };
        let mut entries: Vec<Entry> = entries.into_iter().map(|(entry, _)| entry).collect();
        let manifest_json = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
        entries.push(Entry {
            path: layout::BUNDLE_JSON.into(),
            contents: manifest_json.into_bytes(),
            mode: 0o644,
        });
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Self { manifest, entries })
    }

    /// The entry at `path`.
    pub fn entry(&self, path: &str) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.path == path)
    }

    /// The pod range of every node, by name, as the bundle's `plan.json` records them: what the
    /// bundle gives the Node objects, and what a later bundle must keep
    /// ([`Bundle::generate_with_previous`]).
    pub fn pod_ranges(&self) -> Result<PreviousRanges, String> {
        let entry = self
            .entry(layout::PLAN_JSON)
            .ok_or_else(|| format!("the bundle has no {}", layout::PLAN_JSON))?;
        let plan: serde_json::Value = serde_json::from_slice(&entry.contents)
            .map_err(|error| format!("{} is not JSON: {error}", layout::PLAN_JSON))?;
        let mut ranges = PreviousRanges::new();
        for node in plan["nodes"].as_array().into_iter().flatten() {
            let name = node["name"]
                .as_str()
                .ok_or_else(|| format!("{} has a node without a name", layout::PLAN_JSON))?;
            let mut cidrs = Vec::new();
            for cidr in node["pod_cidrs"].as_array().into_iter().flatten() {
                let parsed = cidr
                    .as_str()
                    .and_then(|text| text.parse().ok())
                    .ok_or_else(|| {
                        format!(
                            "{}: node `{name}` has the pod range {cidr}, which is not a range",
                            layout::PLAN_JSON
                        )
                    })?;
                cidrs.push(parsed);
            }
            if cidrs.is_empty() {
                return Err(format!(
                    "{}: node `{name}` has no pod range",
                    layout::PLAN_JSON
                ));
            }
            ranges.insert(name.to_owned(), cidrs);
        }
        Ok(ranges)
    }

    /// The files of `node`, as absolute paths on the node.
    pub fn node_files(&self, node: &str) -> Vec<RenderedFile> {
        self.entries
            .iter()
            .filter_map(|entry| {
                let (owner, path) = layout::split_node_file(&entry.path)?;
                (owner == node).then(|| {
                    RenderedFile::new(
                        path,
                        String::from_utf8_lossy(&entry.contents).into_owned(),
                        entry.mode,
                    )
                })
            })
            .collect()
    }

    /// The files of `join/` (for workers that join later), as absolute paths on the node.
    pub fn join_files(&self) -> Vec<RenderedFile> {
        self.entries
            .iter()
            .filter_map(|entry| {
                let path = layout::split_join_file(&entry.path)?;
                Some(RenderedFile::new(
                    path,
                    String::from_utf8_lossy(&entry.contents).into_owned(),
                    entry.mode,
                ))
            })
            .collect()
    }

    /// The zip: entries sorted, deflated, with fixed timestamps and their unix modes, so equal
    /// bundles give byte-identical zips.
    pub fn to_zip(&self) -> Result<Vec<u8>, GenerateError> {
        self.write_zip(None)
    }

    /// The zip with every entry encrypted with AES-256 under `passphrase` (names stay visible).
    #[cfg(feature = "encryption")]
    pub fn to_encrypted_zip(&self, passphrase: &str) -> Result<Vec<u8>, GenerateError> {
        self.write_zip(Some(passphrase))
    }

    fn write_zip(&self, passphrase: Option<&str>) -> Result<Vec<u8>, GenerateError> {
        let zip_error = |error: zip::result::ZipError| GenerateError::Zip(error.to_string());
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        for entry in &self.entries {
            let options = zip_entry_options(entry.mode, passphrase).map_err(GenerateError::Zip)?;
            writer
                .start_file(entry.path.as_str(), options)
                .map_err(zip_error)?;
            writer
                .write_all(&entry.contents)
                .map_err(|error| GenerateError::Zip(error.to_string()))?;
        }
        Ok(writer.finish().map_err(zip_error)?.into_inner())
    }
}

/// How kbundle writes a zip entry, for bundles and exports alike: deflated, at the fixed
/// [`ENTRY_TIME`] (so equal contents give equal bytes), with its unix `mode`, and encrypted
/// with AES-256 under `passphrase` when given (a build without the `encryption` feature refuses
/// a passphrase rather than write in the clear).
pub(crate) fn zip_entry_options(
    mode: u32,
    passphrase: Option<&str>,
) -> Result<zip::write::FileOptions<'_, 'static, ()>, String> {
    let time = DateTime::from_date_and_time(ENTRY_TIME.0, ENTRY_TIME.1, ENTRY_TIME.2, 0, 0, 0)
        .map_err(|error| error.to_string())?;
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(time)
        .unix_permissions(mode);
    match passphrase {
        #[cfg(feature = "encryption")]
        Some(passphrase) => Ok(options.with_aes_encryption(zip::AesMode::Aes256, passphrase)),
        #[cfg(not(feature = "encryption"))]
        Some(_) => Err("this build cannot encrypt (built without the `encryption` feature)".into()),
        None => Ok(options),
    }
}

/// The input as YAML again, without secrets: registry passwords and proxy credentials are
/// replaced by a marker, so the file can be shared and shows what to fill in to regenerate.
fn normalised_config(raw: &RawClusterConfig) -> String {
    let mut raw = raw.clone();
    for credential in &mut raw.spec.registry.credentials {
        if credential.password.is_some() {
            credential.password = Some(crate::config::REDACTED_SECRET.into());
        }
    }
    if let Some(proxy) = raw.spec.proxy.as_mut() {
        for url in [&mut proxy.http, &mut proxy.https].into_iter().flatten() {
            if let (Some(scheme_end), Some(at)) = (url.find("://"), url.rfind('@'))
                && at > scheme_end
            {
                // Still a URL, so the file shows what to fill in; validation refuses it until
                // the real user and password are back.
                *url = format!(
                    "{}://{}@{}",
                    &url[..scheme_end],
                    crate::config::REDACTED_USERINFO,
                    &url[at + 1..]
                );
            }
        }
    }
    format!(
        "# Normalised by kbundle from the cluster.yaml this bundle was generated from.\n{}",
        raw.to_yaml()
    )
}

/// The bundle's README: what is inside and how to install it.
fn readme(config: &ClusterConfig, issued_at: i64) -> String {
    let first = config
        .control_plane_nodes()
        .next()
        .map_or("the first control-plane node", |node| node.name.as_str());
    let nodes: String = config
        .nodes
        .iter()
        .map(|node| {
            format!(
                "| {} | {} | {} |\n",
                node.name,
                node.roles.names().join(", "),
                node.addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let families: Vec<IpFamily> = config
        .networking
        .families
        .iter()
        .map(|family| family.family)
        .collect();
    format!(
        r#"# Cluster {name} (Kubernetes {version})

Generated by kbundle. `plan.txt` shows the network plan; `bundle.json` lists every file with
its checksum. Keys are inside: keep this bundle as private as an admin kubeconfig.

| node | roles | addresses |
|---|---|---|
{nodes}
## Install with kbundle

    kbundle apply {name}-bundle.zip

## Install by hand

Each node needs containerd (2.0.1 or newer), runc, the CNI plugins, and kubelet and kubectl
{version} installed from your packages (not the kubeadm package: its drop-in would replace
kbundle's). Then, as root, on each node, with this bundle unpacked there:

1. On `{first}` first: `sh nodes/{first}/install.sh`
2. When `kubectl --kubeconfig admin.conf get --raw /readyz` answers `ok`, apply
   `addons/00-nodes.yaml` (every node's planned pod range), then the other control-plane and
   etcd nodes, then the workers, each with `sh nodes/<node>/install.sh`.
3. Apply the remaining addons in order:
   `for f in addons/*.yaml; do kubectl --kubeconfig admin.conf apply -f "$f"; done`

`install.sh` checks its files' checksums, installs only what changed and restarts only the
services whose files changed: running it again is safe.

## Nodes that join later

A worker that is not in the plan joins the running cluster with the `join/` folder: its
kubelet asks for its certificate with the cluster's bootstrap token (kubelet TLS bootstrap),
and kube-controller-manager approves and signs it. As root on the new node:

1. Install containerd (2.0.1 or newer), runc, the CNI plugins and kubelet {version}, as for
   the other nodes (not the kubeadm package).
2. Copy this bundle's `join/` folder to the node, all of it (`join/rootfs/` holds the
   bootstrap token: keep it private).
3. `sh join/install.sh <name> <address>`, with the node's name (like a hostname, not one of
   the nodes above) and its address ({address_form}), e.g.
   `sh join/install.sh worker9 {example}`. It checks the files' checksums, places them,
   writes the kubelet's drop-in for that name and address, and starts containerd and the
   kubelet.
4. Where `admin.conf` is: `kubectl --kubeconfig admin.conf get node <name>` lists the node,
   `Ready` once the network addon runs on it.

The bootstrap token in `join/` expires at {expiration} (UTC; `bootstrapTokenTTL` after the
bundle was made): after that, the kubelet of a node that joins with this bundle's `join/` is
refused. For a node that joins later, make a fresh folder where the bundle and SSH to the nodes
are: `kbundle join-token {name}-bundle.zip -o join-worker9` creates a new token in the cluster
(valid for 1 hour, `--ttl` for longer) and writes `join-worker9/`, this `join/` with the new
token; copy it to the node and run `sh join-worker9/install.sh worker9 {example}`.

The new node gets its pod range from kube-controller-manager (a range the plan leaves free),
not from the plan: `plan.txt` does not list it, and a node added to `cluster.yaml` later may
be planned the same range (`kbundle apply` refuses such a bundle before changing any Node;
compare `plan.txt` with
`kubectl --kubeconfig admin.conf get nodes -o custom-columns=NAME:.metadata.name,PODS:.spec.podCIDRs`).
"#,
        name = config.name,
        version = config.kubernetes_version,
        expiration = crate::render::addons::bootstrap_token_expiration(config, issued_at),
        address_form = install::address_form(&families),
        example = install::address_example(&families),
    )
}

#[cfg(test)]
mod tests;
