//! Building the bundle in the browser: what the Web Worker calls. The cluster arrives as the
//! `cluster.yaml` text the form exports (so the zip is what `kbundle generate` makes from the same
//! file), with the seed and the time from the browser and, for RSA, keys made by WebCrypto.
//! A bundle dropped on the page is opened here too: the next bundle is made from it as
//! `kbundle generate --from` makes it, keeping the running cluster's identity.

use kbundle_core::bundle::expiry::Expiry;
use kbundle_core::bundle::read::{Limits, ReadError};
use kbundle_core::bundle::{Bundle, layout};
use kbundle_core::config::{ClusterConfig, KeyAlgorithm, RawClusterConfig};
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

    #[test]
    fn the_file_is_named_after_the_cluster() {
        assert_eq!(bundle_file_name("prod"), "prod-bundle.zip");
        assert_eq!(bundle_file_name(" "), "bundle.zip");
    }
}
