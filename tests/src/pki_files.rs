//! A generated PKI on disk, as the nodes would hold it: issuing it for a test cluster (valid
//! from now), writing each node's files under `<root>/<node>/<absolute path>` with their modes,
//! and reading a kubeconfig's embedded data back the way kubectl does.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kbundle_core::config::{ClusterConfig, Node};
use kbundle_core::pki::{CertAndKey, Pki, PkiInputs};
use serde_yaml::Value;

/// The seed of the PKI under test.
pub const SEED: [u8; 32] = [7; 32];
/// The seed of a second, unrelated PKI: its CAs share names but not keys with the first.
pub const FOREIGN_SEED: [u8; 32] = [8; 32];

/// Parses and validates a cluster description; panics with every diagnostic if it is invalid.
pub fn cluster(yaml: &str) -> ClusterConfig {
    match ClusterConfig::from_yaml(yaml) {
        Ok(validated) => validated.config,
        Err(diagnostics) => panic!("test cluster is invalid: {diagnostics:?}\n{yaml}"),
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_secs()).expect("the time fits in an i64")
}

/// Issues the PKI of `config` from `seed`, valid from now.
pub fn issue(config: &ClusterConfig, seed: [u8; 32]) -> Pki {
    let inputs = PkiInputs {
        seed,
        issued_at: now(),
        existing_cas: Vec::new(),
    };
    Pki::issue(config, &inputs).unwrap_or_else(|error| panic!("issuing the PKI: {error}"))
}

/// Writes `contents` to `path` with exactly `mode`, creating parent directories. The file is
/// created with `mode` already set, so a key is never readable by others, not even briefly.
pub fn write_file(path: &Path, contents: &str, mode: u32) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", parent.display()));
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
    file.write_all(contents.as_bytes())
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    // The umask may have cleared bits of `mode`; set it exactly.
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|error| panic!("cannot chmod {}: {error}", path.display()));
}

/// Where `node`'s file `absolute` (e.g. `/etc/kubernetes/pki/ca.crt`) lives under `root`.
pub fn node_path(root: &Path, node: &str, absolute: &str) -> PathBuf {
    root.join(node).join(absolute.trim_start_matches('/'))
}

/// Writes every node's files (`Pki::node_files`) under `root/<node name>/`, and returns the
/// absolute paths each node received, in the node order of `config`. Panics if a file holding
/// a private key (a `.key`, a kubeconfig, or any PEM private key) is not mode 0600.
pub fn write_node_files(root: &Path, pki: &Pki, config: &ClusterConfig) -> Vec<Vec<String>> {
    config
        .nodes
        .iter()
        .map(|node| write_files_of(root, pki, node))
        .collect()
}

fn write_files_of(root: &Path, pki: &Pki, node: &Node) -> Vec<String> {
    pki.node_files(node)
        .into_iter()
        .map(|file| {
            let secret = file.path.ends_with(".key")
                || file.path.ends_with(".conf")
                || file.contents.contains("PRIVATE KEY");
            assert!(
                !secret || file.mode == 0o600,
                "{}:{} holds a private key but has mode {:o}",
                node.name,
                file.path,
                file.mode
            );
            write_file(
                &node_path(root, &node.name, &file.path),
                &file.contents,
                file.mode,
            );
            file.path
        })
        .collect()
}

/// Writes `<dir>/<base>.crt` (0644) and `<dir>/<base>.key` (0600); returns both paths.
pub fn write_pair(dir: &Path, base: &str, material: &CertAndKey) -> (PathBuf, PathBuf) {
    let certificate = dir.join(format!("{base}.crt"));
    let key = dir.join(format!("{base}.key"));
    write_file(&certificate, &material.certificate_pem, 0o644);
    write_file(&key, &material.key_pem, 0o600);
    (certificate, key)
}

/// What a kubeconfig says, with the embedded data decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubeconfig {
    /// `current-context`.
    pub current_context: String,
    /// The cluster the current context names.
    pub cluster: String,
    /// The user the current context names.
    pub user: String,
    /// `clusters[].cluster.server` of that cluster.
    pub server: String,
    /// Decoded `certificate-authority-data` (PEM).
    pub certificate_authority_pem: String,
    /// Decoded `client-certificate-data` (PEM).
    pub client_certificate_pem: String,
    /// Decoded `client-key-data` (PEM).
    pub client_key_pem: String,
}

/// Reads a kubeconfig the way kubectl resolves it: current context, then its cluster and user
/// by name, then the base64 data. Errors name what is missing or malformed.
pub fn parse_kubeconfig(text: &str) -> Result<Kubeconfig, String> {
    let document: Value =
        serde_yaml::from_str(text).map_err(|error| format!("not YAML: {error}"))?;
    let current_context = string(&document, "current-context")?;
    let context = named(&document, "contexts", &current_context)?
        .get("context")
        .ok_or("the current context has no `context`")?;
    let cluster_name = string(context, "cluster")?;
    let user_name = string(context, "user")?;
    let cluster = named(&document, "clusters", &cluster_name)?
        .get("cluster")
        .ok_or("the cluster entry has no `cluster`")?;
    let user = named(&document, "users", &user_name)?
        .get("user")
        .ok_or("the user entry has no `user`")?;
    Ok(Kubeconfig {
        server: string(cluster, "server")?,
        certificate_authority_pem: decoded(cluster, "certificate-authority-data")?,
        client_certificate_pem: decoded(user, "client-certificate-data")?,
        client_key_pem: decoded(user, "client-key-data")?,
        current_context,
        cluster: cluster_name,
        user: user_name,
    })
}

fn string(value: &Value, key: &str) -> Result<String, String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("`{key}` is missing or not a string"))
}

fn named<'a>(document: &'a Value, list: &str, name: &str) -> Result<&'a Value, String> {
    document
        .get(list)
        .and_then(Value::as_sequence)
        .ok_or_else(|| format!("`{list}` is missing"))?
        .iter()
        .find(|entry| entry.get("name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| format!("`{list}` has no entry named `{name}`"))
}

fn decoded(value: &Value, key: &str) -> Result<String, String> {
    let bytes = STANDARD
        .decode(string(value, key)?)
        .map_err(|error| format!("`{key}` is not base64: {error}"))?;
    String::from_utf8(bytes).map_err(|_| format!("`{key}` does not decode to text"))
}
