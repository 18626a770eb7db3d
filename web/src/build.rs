//! Building the bundle in the browser: what the Web Worker calls. The cluster arrives as the
//! `cluster.yaml` text the form exports (so the zip is what `kbundle generate` makes from the same
//! file), with the seed and the time from the browser and, for RSA, keys made by WebCrypto.

use kbundle_core::bundle::Bundle;
use kbundle_core::config::{ClusterConfig, KeyAlgorithm, RawClusterConfig};
use kbundle_core::pki::{KeyPair, Pki, PkiInputs};
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
}

/// The key plan of a cluster, or why it cannot be built.
pub fn key_plan(yaml: &str) -> Result<KeyPlan, String> {
    let config = ClusterConfig::from_yaml(yaml)
        .map_err(|diagnostics| diagnostics.to_string())?
        .config;
    let rsa_bits = match config.certificates.key_algorithm {
        KeyAlgorithm::EcdsaP256 => None,
        KeyAlgorithm::Rsa2048 => Some(2048),
        KeyAlgorithm::Rsa3072 => Some(3072),
        KeyAlgorithm::Rsa4096 => Some(4096),
    };
    Ok(KeyPlan {
        count: Pki::key_count(&config, &[]),
        rsa_bits,
    })
}

/// The zip's bytes.
pub fn build_zip(request: &BuildRequest) -> Result<Vec<u8>, String> {
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
    let bundle = Bundle::generate_with_keys(&raw, &inputs, premade).map_err(|e| e.to_string())?;
    let zip = match request.passphrase.as_deref().filter(|p| !p.is_empty()) {
        Some(passphrase) => bundle.to_encrypted_zip(passphrase),
        None => bundle.to_zip(),
    };
    zip.map_err(|error| error.to_string())
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
        }
    }

    #[test]
    fn the_page_builds_the_same_zip_as_core_for_the_same_yaml_and_seed() {
        let yaml = Form::example().to_yaml();
        let zip = build_zip(&request(yaml.clone(), 7)).expect("builds");
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
        assert_eq!(zip, expected);
    }

    #[test]
    fn the_key_plan_counts_what_core_makes() {
        let mut form = Form::example();
        let plan = key_plan(&form.to_yaml()).expect("plan");
        assert_eq!(plan.rsa_bits, None);
        assert!(plan.count > 5, "{plan:?}");
        form.certificates.key_algorithm = "RSA-2048".into();
        assert_eq!(
            key_plan(&form.to_yaml()).expect("plan").rsa_bits,
            Some(2048)
        );
    }

    #[test]
    fn an_invalid_cluster_is_refused_with_its_field() {
        let mut form = Form::example();
        form.nodes[0].address = "not-an-ip".into();
        let error = build_zip(&request(form.to_yaml(), 1)).expect_err("refused");
        assert!(error.contains("error"), "{error}");
        assert!(key_plan(&form.to_yaml()).is_err());
    }

    #[test]
    fn a_passphrase_encrypts_every_entry() {
        let mut with_passphrase = request(Form::example().to_yaml(), 1);
        with_passphrase.passphrase = Some("correct horse".into());
        let zip = build_zip(&with_passphrase).expect("builds");
        let limits = kbundle_core::bundle::read::Limits::default();
        assert!(Bundle::from_zip(&zip, None, limits).is_err());
        Bundle::from_zip(&zip, Some("correct horse"), limits).expect("opens with the passphrase");
    }

    #[test]
    fn the_file_is_named_after_the_cluster() {
        assert_eq!(bundle_file_name("prod"), "prod-bundle.zip");
        assert_eq!(bundle_file_name(" "), "bundle.zip");
    }
}
