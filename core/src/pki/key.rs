//! Key pairs: generation from the caller's RNG, PEM in the formats kubeadm writes (SEC1 `EC
//! PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, PKIX `PUBLIC KEY`), import of existing keys, and the
//! adapter that lets rcgen sign with pure-Rust keys (no ring, so it runs in the browser).

use p256::ecdsa::signature::Signer;
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, EncodeRsaPublicKey};
use sha2::Sha256;

use super::Error;
use crate::config::KeyAlgorithm;

const NOT_PKCS8_KEY: &str = "a PKCS#8 key that is neither ECDSA P-256 nor RSA";

/// A private key with its public half, ready to sign certificates.
pub struct KeyPair {
    inner: Inner,
    /// The raw public key as rcgen wants it: the SEC1 point, or the PKCS#1 `RSAPublicKey`.
    public_raw: Vec<u8>,
}

enum Inner {
    EcdsaP256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::PrivateKey>),
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "KeyPair({})", self.algorithm().name())
    }
}

impl KeyPair {
    /// Generates a key of `algorithm` from `rng`.
    pub fn generate(algorithm: KeyAlgorithm, rng: &mut impl CryptoRng) -> Result<Self, Error> {
        let inner = match algorithm {
            KeyAlgorithm::EcdsaP256 => {
                Inner::EcdsaP256(p256::ecdsa::SigningKey::generate_from_rng(rng))
            }
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                let bits = match algorithm {
                    KeyAlgorithm::Rsa3072 => 3072,
                    KeyAlgorithm::Rsa4096 => 4096,
                    _ => 2048,
                };
                let key = rsa::PrivateKey::new(rng, bits).map_err(|error| {
                    Error::Key(format!("generating an RSA-{bits} key: {error}"))
                })?;
                Inner::Rsa(Box::new(key))
            }
        };
        Self::from_inner(inner)
    }

    /// Reads a private key in PEM: PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`, P-256 only)
    /// or PKCS#1 (`RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let inner = if pem.contains("BEGIN EC PRIVATE KEY") {
            let secret = p256::SecretKey::from_sec1_pem(pem)
                .map_err(|_| Error::Key("not a P-256 EC private key".into()))?;
            Inner::EcdsaP256(secret.into())
        } else if pem.contains("BEGIN RSA PRIVATE KEY") {
            let key = rsa::PrivateKey::from_pkcs1_pem(pem)
                .map_err(|_| Error::Key("not a valid PKCS#1 RSA private key".into()))?;
            Inner::Rsa(Box::new(key))
        } else if pem.contains("BEGIN PRIVATE KEY") {
            return match ::pem::parse(pem.trim()) {
                Ok(block) if block.tag() == "PRIVATE KEY" => Self::from_pkcs8_der(block.contents()),
                _ => Err(Error::Key(NOT_PKCS8_KEY.into())),
            };
        } else {
            return Err(Error::Key("no PEM private key found".into()));
        };
        Self::from_inner(inner)
    }

    /// Reads an unencrypted PKCS#8 private key in DER, as WebCrypto's `exportKey("pkcs8")` gives.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        let inner = if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_der(der) {
            Inner::EcdsaP256(key)
        } else if let Ok(key) = rsa::PrivateKey::from_pkcs8_der(der) {
            Inner::Rsa(Box::new(key))
        } else {
            return Err(Error::Key(NOT_PKCS8_KEY.into()));
        };
        Self::from_inner(inner)
    }

    fn from_inner(inner: Inner) -> Result<Self, Error> {
        let public_raw = match &inner {
            Inner::EcdsaP256(key) => key.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
            Inner::Rsa(key) => key
                .to_public_key()
                .to_pkcs1_der()
                .map_err(|error| Error::Key(format!("encoding an RSA public key: {error}")))?
                .as_bytes()
                .to_vec(),
        };
        Ok(Self { inner, public_raw })
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match &self.inner {
            Inner::EcdsaP256(_) => KeyAlgorithm::EcdsaP256,
            Inner::Rsa(key) => match rsa::traits::PublicKeyParts::size(key.as_ref()) * 8 {
                3072 => KeyAlgorithm::Rsa3072,
                4096 => KeyAlgorithm::Rsa4096,
                _ => KeyAlgorithm::Rsa2048,
            },
        }
    }

    /// The private key as PEM, in the format kubeadm writes.
    pub fn private_pem(&self) -> Result<String, Error> {
        let pem = match &self.inner {
            Inner::EcdsaP256(key) => p256::SecretKey::from(key)
                .to_sec1_pem(LineEnding::LF)
                .map(|pem| pem.to_string())
                .map_err(|error| Error::Key(format!("encoding an EC key: {error}")))?,
            Inner::Rsa(key) => key
                .to_pkcs1_pem(LineEnding::LF)
                .map(|pem| pem.to_string())
                .map_err(|error| Error::Key(format!("encoding an RSA key: {error}")))?,
        };
        Ok(pem)
    }

    /// The public key as PKIX PEM (`sa.pub`).
    pub fn public_pem(&self) -> Result<String, Error> {
        let pem = match &self.inner {
            Inner::EcdsaP256(key) => key.verifying_key().to_public_key_pem(LineEnding::LF),
            Inner::Rsa(key) => key.to_public_key().to_public_key_pem(LineEnding::LF),
        };
        pem.map_err(|error| Error::Key(format!("encoding a public key: {error}")))
    }

    /// DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        rcgen::PublicKeyData::subject_public_key_info(self)
    }
}

/// Makes one key per seed, in order. Natively the work is spread over the machine's cores
/// (RSA prime search is slow); the browser build has no threads and makes them one by one.
pub(crate) fn generate_all(
    algorithm: KeyAlgorithm,
    seeds: &[[u8; 32]],
) -> Result<Vec<KeyPair>, Error> {
    let one = |seed: &[u8; 32]| KeyPair::generate(algorithm, &mut ChaCha20Rng::from_seed(*seed));
    #[cfg(not(target_arch = "wasm32"))]
    {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        // ECDSA keys take microseconds: threads would cost more than they save.
        if threads > 1 && algorithm != KeyAlgorithm::EcdsaP256 && seeds.len() > 1 {
            let chunk = seeds.len().div_ceil(threads);
            return std::thread::scope(|scope| {
                let workers: Vec<_> = seeds
                    .chunks(chunk)
                    .map(|part| {
                        scope.spawn(move || part.iter().map(one).collect::<Result<Vec<_>, _>>())
                    })
                    .collect();
                let mut keys = Vec::with_capacity(seeds.len());
                for worker in workers {
                    let part = worker
                        .join()
                        .map_err(|_| Error::Key("a key generation thread panicked".into()))??;
                    keys.extend(part);
                }
                Ok(keys)
            });
        }
    }
    seeds.iter().map(one).collect()
}

impl rcgen::PublicKeyData for KeyPair {
    fn der_bytes(&self) -> &[u8] {
        &self.public_raw
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.inner {
            Inner::EcdsaP256(_) => &rcgen::PKCS_ECDSA_P256_SHA256,
            Inner::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl rcgen::SigningKey for KeyPair {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        match &self.inner {
            Inner::EcdsaP256(key) => {
                let signature: p256::ecdsa::Signature = key
                    .try_sign(message)
                    .map_err(|_| rcgen::Error::RemoteKeyError)?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
            Inner::Rsa(key) => key
                .pkcs1v15_sign::<Sha256>(message)
                .map_err(|_| rcgen::Error::RemoteKeyError),
        }
    }
}
