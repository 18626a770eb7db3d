//! Building the bundle in the browser: what the Web Worker calls. The cluster arrives as the
//! `cluster.yaml` text the form exports (so the zip is what `kbundle generate` makes from the same
//! file), with the seed and the time from the browser and, for RSA, keys made by WebCrypto.
//! A bundle dropped on the page is opened here too: the next bundle is made from it as
//! `kbundle generate --from` makes it, keeping the running cluster's identity. A built bundle
//! is exported here for Ansible or cloud-init ([`export_zip`]), as `kbundle export` exports it.

use kbundle_core::bundle::expiry::Expiry;
use kbundle_core::bundle::read::{Limits, ReadError};
use kbundle_core::bundle::{Bundle, layout};
use kbundle_core::config::{ClusterConfig, KeyAlgorithm, RawClusterConfig};
use kbundle_core::export::{self, cloud_init};
use kbundle_core::pki::{KeyPair, PkiInputs};
use serde::Serialize;

/// What the worker must prepare before building: how many keys, and whether WebCrypto should
/// make them (RSA) or core should (ECDSA P-256 takes microseconds in wasm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPlan {
    /// Private keys the bundle needs.
    pub count: usize,
    /// RSA modulus length for WebCrypto, or `None` for ECDSA.
    pub rsa_bits: Option<u32>,
}

/// Everything one build needs.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The `cluster.yaml` text.
    pub yaml: String,
    /// Random seed from `crypto.getRandomValues`.
    pub seed: [u8; 32],
    /// Issue time, unix seconds, from the browser's clock.
    pub issued_at: i64,
    /// Encrypt the zip with this passphrase (AES-256) when set.
    pub passphrase: Option<String>,
    /// PKCS#8 DER private keys made by WebCrypto, used first.
    pub premade_keys: Vec<Vec<u8>>,
    /// The bundle the running cluster was installed from, to keep its identity.
    pub previous: Option<PreviousZip>,
}

/// A previous bundle as dropped on the page: its bytes and, when encrypted, its passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousZip {
    /// The zip.
    pub zip: Vec<u8>,
    /// Its passphrase, when it is encrypted.
    pub passphrase: Option<String>,
}

impl PreviousZip {
    fn open(&self) -> Result<Bundle, ReadError> {
        Bundle::from_zip(&self.zip, self.passphrase.as_deref(), Limits::default())
    }
}

/// A finished build: the zip and the expiry timeline of what it holds.
#[derive(Debug, Clone)]
pub struct Built {
    /// The zip's bytes.
    pub zip: Vec<u8>,
    /// Every CA, certificate and kubeconfig, soonest to expire first, marked kept when the
    /// previous bundle had the same one.
    pub timeline: Vec<Expiry>,
}

/// What the page shows of a dropped previous bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousSummary {
    /// The cluster it installs (`metadata.name`).
    pub cluster: String,
    /// Its nodes, by name.
    pub nodes: Vec<String>,
    /// Its cluster.yaml (secrets redacted), to continue the form from.
    pub cluster_yaml: Option<String>,
    /// Its expiry timeline; `None` for a bundle made before bundles recorded their identity
    /// (only its pod ranges can be kept then).
    pub timeline: Option<Vec<Expiry>>,
}

/// Why a dropped bundle cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// It is encrypted: ask for its passphrase.
    NeedsPassphrase,
    /// The passphrase given does not open it.
    WrongPassphrase,
    /// Not a kbundle bundle, or one the page refuses, with the reason.
    Refused(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NeedsPassphrase => f.write_str("it is encrypted: enter its passphrase"),
            Self::WrongPassphrase => f.write_str("the passphrase does not open it"),
            Self::Refused(reason) => f.write_str(reason),
        }
    }
}

/// Opens a dropped bundle and says what it holds; the same checks as `kbundle generate
/// --from` makes before using it.
pub fn open_previous(previous: &PreviousZip) -> Result<PreviousSummary, OpenError> {
    let bundle = previous.open().map_err(|error| match error {
        ReadError::NeedsPassphrase => OpenError::NeedsPassphrase,
        ReadError::WrongPassphrase => OpenError::WrongPassphrase,
        other => OpenError::Refused(format!("not a bundle kbundle can read: {other}")),
    })?;
    let ranges = bundle.pod_ranges().map_err(OpenError::Refused)?;
    // A CA the user brought is kept by reading its certificate, which the page cannot (it is
    // built without a certificate parser): say so now rather than at the build.
    if let Some(Ok(identity)) = bundle.identity()
        && let Some(brought) = identity.authorities.iter().find(|ca| ca.provided)
    {
        return Err(OpenError::Refused(format!(
            "its {} CA was brought with spec.certificates.existingCAs, which only the command line can keep: use `kbundle generate cluster.yaml --from` with this bundle",
            brought.kind
        )));
    }
    let timeline = bundle
        .expiries(None)
        .transpose()
        .map_err(|error| OpenError::Refused(format!("its identity.json is unreadable: {error}")))?;
    let cluster_yaml = bundle
        .entry(layout::CLUSTER_YAML)
        .map(|entry| String::from_utf8_lossy(&entry.contents).into_owned());
    let cluster = cluster_yaml
        .as_deref()
        .and_then(|text| RawClusterConfig::from_yaml(text).ok())
        .and_then(|raw| raw.metadata.name)
        .unwrap_or_default();
    let mut nodes: Vec<String> = bundle
        .manifest
        .nodes
        .iter()
        .map(|node| node.name.clone())
        .collect();
    if nodes.is_empty() {
        nodes = ranges.keys().cloned().collect();
    }
    Ok(PreviousSummary {
        cluster,
        nodes,
        cluster_yaml,
        timeline,
    })
}

/// The key plan of a cluster, or why it cannot be built: made from `previous`, only what is
/// issued anew needs a key.
pub fn key_plan(
    yaml: &str,
    previous: Option<&PreviousZip>,
    issued_at: i64,
) -> Result<KeyPlan, String> {
    let raw = RawClusterConfig::from_yaml(yaml).map_err(|diagnostics| diagnostics.to_string())?;
    let config = ClusterConfig::from_raw(&raw)
        .map_err(|diagnostics| diagnostics.to_string())?
        .config;
    let rsa_bits = match config.certificates.key_algorithm {
        KeyAlgorithm::EcdsaP256 => None,
        KeyAlgorithm::Rsa2048 => Some(2048),
        KeyAlgorithm::Rsa3072 => Some(3072),
        KeyAlgorithm::Rsa4096 => Some(4096),
    };
    let old = previous
        .map(PreviousZip::open)
        .transpose()
        .map_err(|error| format!("the previous bundle: {error}"))?;
    let inputs = PkiInputs {
        seed: [0; 32],
        issued_at,
        existing_cas: Vec::new(),
    };
    Ok(KeyPlan {
        count: Bundle::keys_to_make(&raw, &inputs, old.as_ref()),
        rsa_bits,
    })
}

/// The zip's bytes and its timeline.
pub fn build_zip(request: &BuildRequest) -> Result<Built, String> {
    let raw = RawClusterConfig::from_yaml(&request.yaml).map_err(|d| d.to_string())?;
    let premade = request
        .premade_keys
        .iter()
        .map(|der| KeyPair::from_pkcs8_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("a key from WebCrypto: {error}"))?;
    let inputs = PkiInputs {
        seed: request.seed,
        issued_at: request.issued_at,
        existing_cas: Vec::new(),
    };
    let old = request
        .previous
        .as_ref()
        .map(PreviousZip::open)
        .transpose()
        .map_err(|error| format!("the previous bundle: {error}"))?;
    let bundle = match &old {
        Some(old) => Bundle::generate_from_with_keys(&raw, &inputs, premade, old),
        None => Bundle::generate_with_keys(&raw, &inputs, premade),
    }
    .map_err(|e| e.to_string())?;
    let zip = match request.passphrase.as_deref().filter(|p| !p.is_empty()) {
        Some(passphrase) => bundle.to_encrypted_zip(passphrase),
        None => bundle.to_zip(),
    }
    .map_err(|error| error.to_string())?;
    let timeline = bundle
        .expiries(old.as_ref())
        .transpose()?
        .unwrap_or_default();
    Ok(Built { zip, timeline })
}

/// The engines a built bundle can be exported for, beside the bundle itself: what `kbundle
/// export` makes, as one zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// An inventory and a playbook (`kbundle export ansible`).
    Ansible,
    /// One user-data per node, each within this cloud's limit (`kbundle export cloud-init
    /// --limit NAME`).
    CloudInit(&'static cloud_init::Limit),
}

impl Engine {
    /// The engine `name` names (`ansible`, `cloud-init`), with `limit` for cloud-init.
    pub fn named(name: &str, limit: &str) -> Result<Self, String> {
        match name {
            "ansible" => Ok(Self::Ansible),
            "cloud-init" => cloud_init::limit(limit)
                .map(Self::CloudInit)
                .ok_or_else(|| format!("no cloud limit `{limit}`")),
            other => Err(format!("no export for `{other}`")),
        }
    }

    /// `ansible` or `cloud-init`: the CLI's word, and the end of the file's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ansible => "ansible",
            Self::CloudInit(_) => "cloud-init",
        }
    }
}

/// An export of a built bundle.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The zip's bytes: the export under one folder, locked with the bundle's passphrase when it
    /// has one.
    pub zip: Vec<u8>,
    /// What it holds, in a sentence (for cloud-init, the largest user-data against the limit).
    pub summary: String,
}

/// The export of `bundle` (the zip the page just built, opened with `passphrase` when it is
/// encrypted) for `engine`; `cluster` names the zip's folder. The files are what `kbundle
/// export` writes from the same bundle, byte for byte.
pub fn export_zip(
    bundle: &[u8],
    passphrase: Option<&str>,
    engine: Engine,
    cluster: &str,
) -> Result<Exported, String> {
    let bundle = Bundle::from_zip(bundle, passphrase, Limits::default())
        .map_err(|error| format!("the bundle: {error}"))?;
    let files = match engine {
        Engine::Ansible => export::ansible::export(&bundle),
        Engine::CloudInit(limit) => export::cloud_init::export(&bundle, limit),
    }
    .map_err(|error| match error {
        export::Error::TooLarge { .. } => format!(
            "{error}: choose a cloud with a larger limit if yours takes it, or ECDSA keys (Certificates), which make user-data smaller"
        ),
        other => other.to_string(),
    })?;
    let folder = export_folder_name(cluster, engine);
    let zip = export::zip(&files, &folder, passphrase).map_err(|error| error.to_string())?;
    let summary = match engine {
        Engine::Ansible => {
            let nodes = export::ansible::node_count(&files);
            format!(
                "an inventory, a playbook and the files of {nodes} nodes; unzip it, then: cd {folder} && ansible-playbook {}",
                export::ansible::PLAYBOOK
            )
        }
        Engine::CloudInit(limit) => {
            let user_data: Vec<&export::ExportedFile> = files
                .iter()
                .filter(|file| file.path.starts_with(export::cloud_init::USER_DATA_DIR))
                .collect();
            let largest = user_data
                .iter()
                .map(|file| limit.size_of(&file.contents))
                .max()
                .unwrap_or_default();
            format!(
                "one user-data per node ({}); the largest is {} of the {} bytes {} takes; give each machine its {}/<node>.yaml as its user data",
                user_data.len(),
                largest,
                limit.max_bytes,
                limit.cloud,
                export::cloud_init::USER_DATA_DIR
            )
        }
    };
    Ok(Exported { zip, summary })
}

/// `<cluster>-ansible` or `<cluster>-cloud-init`: the folder inside the export's zip.
fn export_folder_name(cluster: &str, engine: Engine) -> String {
    match cluster.trim() {
        "" => engine.name().to_owned(),
        cluster => format!("{cluster}-{}", engine.name()),
    }
}

/// `<cluster>-ansible.zip` or `<cluster>-cloud-init.zip`: the folder, zipped.
pub fn export_file_name(cluster: &str, engine: Engine) -> String {
    format!("{}.zip", export_folder_name(cluster, engine))
}

/// `<cluster>-bundle.zip`, the name the download is saved under (the CLI's default too).
pub fn bundle_file_name(cluster: &str) -> String {
    let cluster = cluster.trim();
    if cluster.is_empty() {
        "bundle.zip".into()
    } else {
        format!("{cluster}-bundle.zip")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::Form;

    fn request(yaml: String, seed: u8) -> BuildRequest {
        BuildRequest {
            yaml,
            seed: [seed; 32],
            issued_at: 1_800_000_000,
            passphrase: None,
            premade_keys: Vec::new(),
            previous: None,
        }
    }

    #[test]
    fn the_page_builds_the_same_zip_as_core_for_the_same_yaml_and_seed() {
        let yaml = Form::example().to_yaml();
        let built = build_zip(&request(yaml.clone(), 7)).expect("builds");
        let raw = RawClusterConfig::from_yaml(&yaml).expect("parses");
        let inputs = PkiInputs {
            seed: [7; 32],
            issued_at: 1_800_000_000,
            existing_cas: Vec::new(),
        };
        let expected = Bundle::generate(&raw, &inputs)
            .expect("generates")
            .to_zip()
            .expect("zips");
        assert_eq!(built.zip, expected);
        assert!(!built.timeline.is_empty());
        assert!(built.timeline.iter().all(|expiry| !expiry.kept));
    }

    #[test]
    fn the_key_plan_counts_what_core_makes() {
        let mut form = Form::example();
        let plan = key_plan(&form.to_yaml(), None, 1_800_000_000).expect("plan");
        assert_eq!(plan.rsa_bits, None);
        assert!(plan.count > 5, "{plan:?}");
        form.certificates.key_algorithm = "RSA-2048".into();
        assert_eq!(
            key_plan(&form.to_yaml(), None, 1_800_000_000)
                .expect("plan")
                .rsa_bits,
            Some(2048)
        );
    }

    #[test]
    fn an_invalid_cluster_is_refused_with_its_field() {
        let mut form = Form::example();
        form.nodes[0].address = "not-an-ip".into();
        let error = build_zip(&request(form.to_yaml(), 1)).expect_err("refused");
        assert!(error.contains("error"), "{error}");
        assert!(key_plan(&form.to_yaml(), None, 1_800_000_000).is_err());
    }

    #[test]
    fn a_passphrase_encrypts_every_entry() {
        let mut with_passphrase = request(Form::example().to_yaml(), 1);
        with_passphrase.passphrase = Some("correct horse".into());
        let zip = build_zip(&with_passphrase).expect("builds").zip;
        let limits = kbundle_core::bundle::read::Limits::default();
        assert!(Bundle::from_zip(&zip, None, limits).is_err());
        Bundle::from_zip(&zip, Some("correct horse"), limits).expect("opens with the passphrase");
    }

    #[test]
    fn a_dropped_bundle_is_opened_and_the_next_one_keeps_its_identity() {
        let first = build_zip(&request(Form::example().to_yaml(), 1)).expect("builds");
        let previous = PreviousZip {
            zip: first.zip.clone(),
            passphrase: None,
        };
        let summary = open_previous(&previous).expect("opens");
        assert_eq!(summary.cluster, Form::example().name);
        assert_eq!(summary.nodes.len(), Form::example().nodes.len());
        let timeline = summary.timeline.expect("an identity");
        assert_eq!(timeline.len(), first.timeline.len());
        let old_yaml = summary.cluster_yaml.expect("cluster.yaml");

        // The form continued from the dropped bundle, a worker added: keys only for it.
        let mut form = Form::from_yaml(&old_yaml).expect("its cluster.yaml loads");
        form.add_node("192.0.2.99");
        let yaml = form.to_yaml();
        let fresh = key_plan(&yaml, None, 1_800_000_000).expect("plan").count;
        let from = key_plan(&yaml, Some(&previous), 1_800_000_000)
            .expect("plan")
            .count;
        assert!(from > 0 && from < fresh / 2, "{from} of {fresh}");
        let mut next = request(yaml, 2);
        next.previous = Some(previous);
        let built = build_zip(&next).expect("builds");
        let counts = kbundle_core::bundle::expiry::KeptCounts::of(&built.timeline);
        assert_eq!(counts.authorities_kept, 3, "{counts:?}");
        assert_eq!(counts.leaves_new, from, "{counts:?}");
        let old = Bundle::from_zip(&first.zip, None, Limits::default()).expect("reads");
        let new = Bundle::from_zip(&built.zip, None, Limits::default()).expect("reads");
        assert_eq!(
            new.entry("nodes/cp1/rootfs/etc/kubernetes/pki/ca.key"),
            old.entry("nodes/cp1/rootfs/etc/kubernetes/pki/ca.key")
        );
    }

    #[test]
    fn a_dropped_bundle_that_is_encrypted_or_not_one_says_so() {
        let mut encrypted = request(Form::example().to_yaml(), 1);
        encrypted.passphrase = Some("correct horse".into());
        let zip = build_zip(&encrypted).expect("builds").zip;
        let open = |passphrase: Option<&str>| {
            open_previous(&PreviousZip {
                zip: zip.clone(),
                passphrase: passphrase.map(str::to_owned),
            })
        };
        assert_eq!(open(None), Err(OpenError::NeedsPassphrase));
        assert_eq!(open(Some("wrong")), Err(OpenError::WrongPassphrase));
        assert!(open(Some("correct horse")).is_ok());
        let refused = open_previous(&PreviousZip {
            zip: b"cluster.yaml is not a zip".to_vec(),
            passphrase: None,
        });
        assert!(
            matches!(&refused, Err(OpenError::Refused(reason)) if reason.starts_with("not a bundle")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_dropped_bundle_with_a_brought_ca_is_left_to_the_command_line() {
        let built = build_zip(&request(Form::example().to_yaml(), 1)).expect("builds");
        let mut bundle = Bundle::from_zip(&built.zip, None, Limits::default()).expect("reads");
        // As `existingCAs` would have recorded it.
        let mut identity = bundle.identity().expect("identity").expect("readable");
        identity.authorities[0].provided = true;
        let json = identity.to_json().into_bytes();
        let sha = kbundle_core::bundle::sha256_hex(&json);
        for entry in &mut bundle.entries {
            if entry.path == layout::IDENTITY_JSON {
                entry.contents = json.clone();
            }
        }
        for file in &mut bundle.manifest.files {
            if file.path == layout::IDENTITY_JSON {
                file.sha256 = sha.clone();
            }
        }
        let manifest = serde_json::to_vec_pretty(&bundle.manifest).expect("json");
        for entry in &mut bundle.entries {
            if entry.path == layout::BUNDLE_JSON {
                entry.contents = manifest.clone();
            }
        }
        let refused = open_previous(&PreviousZip {
            zip: bundle.to_zip().expect("zips"),
            passphrase: None,
        });
        assert!(
            matches!(&refused, Err(OpenError::Refused(reason)) if reason.contains("existingCAs") && reason.contains("--from")),
            "{refused:?}"
        );
    }

    /// The files of an export zip under its folder, with their modes.
    fn unzipped(zip: &[u8], passphrase: Option<&str>) -> Vec<(String, u32, Vec<u8>)> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
        (0..archive.len())
            .map(|index| {
                let mut entry = match passphrase {
                    Some(passphrase) => archive.by_index_decrypt(index, passphrase.as_bytes()),
                    None => archive.by_index(index),
                }
                .expect("opens");
                let mut contents = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut contents).expect("reads");
                (
                    entry.name().expect("a name").into_owned(),
                    entry.unix_mode().unwrap_or_default() & 0o7777,
                    contents,
                )
            })
            .collect()
    }

    #[test]
    fn a_built_bundle_exports_what_kbundle_export_writes() {
        let built = build_zip(&request(Form::example().to_yaml(), 1)).expect("builds");
        let bundle = Bundle::from_zip(&built.zip, None, Limits::default()).expect("reads");
        let gce = cloud_init::limit("gce").expect("a limit");
        for (engine, expected) in [
            (Engine::Ansible, export::ansible::export(&bundle)),
            (Engine::CloudInit(gce), cloud_init::export(&bundle, gce)),
        ] {
            let expected = expected.expect("exports");
            let exported = export_zip(&built.zip, None, engine, "demo").expect("exports");
            let folder = format!("demo-{}", engine.name());
            let files: Vec<(String, u32, Vec<u8>)> = expected
                .into_iter()
                .map(|file| (format!("{folder}/{}", file.path), file.mode, file.contents))
                .collect();
            assert!(unzipped(&exported.zip, None) == files, "{folder}");
            assert!(exported.summary.contains("node"), "{}", exported.summary);
        }
        assert_eq!(
            export_file_name("demo", Engine::CloudInit(gce)),
            "demo-cloud-init.zip"
        );
        assert_eq!(export_file_name("", Engine::Ansible), "ansible.zip");
    }

    #[test]
    fn an_encrypted_bundle_exports_under_the_same_passphrase() {
        let mut encrypted = request(Form::example().to_yaml(), 1);
        encrypted.passphrase = Some("correct horse".into());
        let built = build_zip(&encrypted).expect("builds");
        assert!(export_zip(&built.zip, None, Engine::Ansible, "demo").is_err());
        let exported = export_zip(&built.zip, Some("correct horse"), Engine::Ansible, "demo")
            .expect("exports");
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(exported.zip.clone())).expect("a zip");
        assert!(archive.by_index(0).is_err(), "opens without the passphrase");
        let files = unzipped(&exported.zip, Some("correct horse"));
        assert!(
            files
                .iter()
                .any(|(name, mode, _)| name.ends_with(".tar") && *mode == 0o600)
        );
    }

    #[test]
    fn a_user_data_over_the_clouds_limit_is_refused_by_node_with_the_way_out() {
        let built = build_zip(&request(Form::example().to_yaml(), 1)).expect("builds");
        let aws = Engine::named("cloud-init", "aws").expect("a limit");
        let refused = export_zip(&built.zip, None, aws, "demo").expect_err("too large");
        assert!(
            refused.contains("node `")
                && refused.contains("16384")
                && refused.contains("larger limit"),
            "{refused}"
        );
        assert!(Engine::named("cloud-init", "moon").is_err());
        assert!(Engine::named("puppet", "aws").is_err());
    }

    #[test]
    fn the_file_is_named_after_the_cluster() {
        assert_eq!(bundle_file_name("prod"), "prod-bundle.zip");
        assert_eq!(bundle_file_name(" "), "bundle.zip");
    }
}
