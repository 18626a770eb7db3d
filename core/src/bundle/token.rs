//! The bootstrap token once the bundle exists. `kbundle apply` leaves out a token Secret that
//! has expired (kube-controller-manager's token cleaner deletes expired tokens, so applying one
//! would only bring back a Secret that is deleted again and could not authenticate anyway), and
//! `kbundle join-token` mints fresh tokens: the Secret to create, with the groups and usages of
//! the bundle's token, and a copy of `join/` whose bootstrap kubeconfig carries the new token.
//! Pure: the caller passes the time and the randomness (in the token).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::{Bundle, Entry, install, layout, sha256_hex};
use crate::config::ClusterConfig;
use crate::pki::inventory::{BOOTSTRAP_KUBECONFIG, KUBECONFIG_DIR, PKI_DIR};
use crate::pki::{BootstrapToken, bootstrap_kubeconfig};
use crate::render::RenderedFile;
use crate::render::addons::rfc3339;

/// `type` of a bootstrap token Secret.
pub const TOKEN_SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// The addon file that holds the bundle's bootstrap token Secret.
pub const BOOTSTRAP_ADDON: &str = "addons/20-bootstrap.yaml";
/// The description of tokens minted by `kbundle join-token` (as `kubeadm token list` shows it).
const MINTED_DESCRIPTION: &str = "kbundle join-token: for a node that joins later";

/// Why a fresh token or join folder cannot be made from a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The addons hold no bootstrap token Secret to take the groups and usages from.
    #[error("the bundle has no bootstrap token Secret in {BOOTSTRAP_ADDON}")]
    NoTokenSecret,
    /// An entry the join folder needs is missing.
    #[error("the bundle has no `{0}`")]
    Missing(String),
    /// The bundle's cluster.yaml does not validate (a bundle that verifies always does).
    #[error("the bundle's cluster.yaml does not validate")]
    InvalidConfig,
}

/// A bootstrap token Secret of an addon file, named without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSecret {
    /// The public half of the token.
    pub id: String,
    /// `data.expiration` as written (RFC 3339), if any.
    pub expiration: Option<String>,
}

/// An addon file split around its expired bootstrap token Secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithoutExpired {
    /// The other documents, as written, as one multi-document file (empty when none is left).
    pub documents: String,
    /// The token Secrets left out because they have expired.
    pub expired: Vec<TokenSecret>,
}

/// `addon` (a multi-document YAML file) without the bootstrap token Secrets whose expiration is
/// at or before `now` (unix seconds). A Secret whose expiration cannot be read is kept: the API
/// server and its token cleaner judge it then.
pub fn without_expired_tokens(addon: &str, now: i64) -> WithoutExpired {
    let mut documents = String::new();
    let mut expired = Vec::new();
    for document in split_documents(addon) {
        let object: Option<Value> = crate::yaml::from_yaml(document).ok();
        let token = object.as_ref().and_then(token_secret_of);
        match token {
            Some(token)
                if token
                    .expiration
                    .as_deref()
                    .and_then(parse_rfc3339)
                    .is_some_and(|expires_at| expires_at <= now) =>
            {
                expired.push(token);
            }
            _ => {
                documents.push_str("---\n");
                documents.push_str(document);
            }
        }
    }
    WithoutExpired { documents, expired }
}

/// `expires_at` (unix seconds) as a token Secret's `expiration` (RFC 3339, UTC).
pub fn expiration(expires_at: i64) -> String {
    rfc3339(expires_at)
}

/// The Secret of a new bootstrap token, as JSON for `kubectl create -f -`: the bundle's token's
/// extra groups and usages, `token`, and `expires_at` (unix seconds) as its expiration.
pub fn token_secret(
    bundle: &Bundle,
    token: &BootstrapToken,
    expires_at: i64,
) -> Result<String, Error> {
    let template = bundle_token_secret(bundle)?;
    let mut data = Map::new();
    if let Some(Value::Object(fields)) = template.get("data") {
        for (key, value) in fields {
            // The groups and the usages carry over; what names this one token does not.
            if key == "auth-extra-groups" || key.starts_with("usage-bootstrap-") {
                data.insert(key.clone(), value.clone());
            }
        }
    }
    let mut put = |key: &str, value: &str| {
        data.insert(key.to_owned(), STANDARD.encode(value).into());
    };
    put("description", MINTED_DESCRIPTION);
    put("expiration", &rfc3339(expires_at));
    put("token-id", &token.id);
    put("token-secret", &token.secret);
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": format!("bootstrap-token-{}", token.id), "namespace": "kube-system"},
        "type": TOKEN_SECRET_TYPE,
        "data": data,
    });
    Ok(serde_json::to_string_pretty(&secret).unwrap_or_default() + "\n")
}

/// The bundle's `join/` folder with `token` in its bootstrap kubeconfig and `SHA256SUMS`
/// updated to match: entries with paths relative to the folder (`install.sh`, `SHA256SUMS`,
/// `rootfs/…`), in path order.
pub fn join_folder(bundle: &Bundle, token: &BootstrapToken) -> Result<Vec<Entry>, Error> {
    let config_text = bundle
        .entry(layout::CLUSTER_YAML)
        .ok_or_else(|| Error::Missing(layout::CLUSTER_YAML.into()))?;
    let config = ClusterConfig::from_bundle_yaml(&String::from_utf8_lossy(&config_text.contents))
        .map_err(|_| Error::InvalidConfig)?
        .config;
    let mut files = bundle.join_files();
    let kubeconfig_path = format!("{KUBECONFIG_DIR}/{BOOTSTRAP_KUBECONFIG}");
    let ca_path = format!("{PKI_DIR}/ca.crt");
    let ca = files
        .iter()
        .find(|file| file.path == ca_path)
        .map(|file| file.contents.clone())
        .ok_or_else(|| Error::Missing(layout::join_file(&ca_path)))?;
    let kubeconfig = files
        .iter_mut()
        .find(|file| file.path == kubeconfig_path)
        .ok_or_else(|| Error::Missing(layout::join_file(&kubeconfig_path)))?;
    // The same renderer as the bundle's, so the folder differs from join/ only in the token.
    kubeconfig.contents = bootstrap_kubeconfig(&config, &ca, token);
    let script = bundle
        .entry(&layout::join_script())
        .ok_or_else(|| Error::Missing(layout::join_script()))?;
    let relative = |path: &str| {
        path.strip_prefix(layout::JOIN_DIR)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(path)
            .to_owned()
    };
    let mut entries: Vec<Entry> = files
        .iter()
        .map(|file: &RenderedFile| Entry {
            path: relative(&layout::join_file(&file.path)),
            contents: file.contents.clone().into_bytes(),
            mode: file.mode,
        })
        .collect();
    entries.push(Entry {
        path: relative(&layout::join_checksums()),
        contents: install::checksums(&files, sha256_hex).into_bytes(),
        mode: 0o644,
    });
    entries.push(Entry {
        path: relative(&layout::join_script()),
        contents: script.contents.clone(),
        mode: script.mode,
    });
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// The bundle's own bootstrap token Secret.
fn bundle_token_secret(bundle: &Bundle) -> Result<Value, Error> {
    let addon = bundle.entry(BOOTSTRAP_ADDON).ok_or(Error::NoTokenSecret)?;
    let text = String::from_utf8_lossy(&addon.contents);
    split_documents(&text)
        .into_iter()
        .filter_map(|document| crate::yaml::from_yaml::<Value>(document).ok())
        .find(|object| object["type"] == TOKEN_SECRET_TYPE)
        .ok_or(Error::NoTokenSecret)
}

/// The id and expiration of a bootstrap token Secret; `None` for any other object.
fn token_secret_of(object: &Value) -> Option<TokenSecret> {
    if object["kind"] != "Secret" || object["type"] != TOKEN_SECRET_TYPE {
        return None;
    }
    let field = |name: &str| {
        let data = object["data"][name].as_str()?;
        let bytes = STANDARD.decode(data).ok()?;
        String::from_utf8(bytes).ok()
    };
    Some(TokenSecret {
        id: field("token-id").unwrap_or_default(),
        expiration: field("expiration"),
    })
}

/// The documents of a multi-document YAML file, each with its trailing newline. Only a `---`
/// line separates: the kubeconfig inside cluster-info is an indented block, so it holds none.
fn split_documents(text: &str) -> Vec<&str> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            documents.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    documents.push(&text[start..]);
    documents.retain(|document| !document.trim().is_empty());
    documents
}

/// `YYYY-MM-DDTHH:MM:SSZ` (what kbundle writes) → unix seconds.
pub(crate) fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || bytes[10] != b'T'
        || bytes[13] != b':'
        || bytes[16] != b':'
        || bytes[19] != b'Z'
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    let month = time::Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::try_from(number(0..4)?).ok()?,
        month,
        u8::try_from(number(8..10)?).ok()?,
    )
    .ok()?;
    let time = time::Time::from_hms(
        u8::try_from(number(11..13)?).ok()?,
        u8::try_from(number(14..16)?).ok()?,
        u8::try_from(number(17..19)?).ok()?,
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ExampleKind, RawClusterConfig, example_yaml};
    use crate::pki::PkiInputs;

    const ISSUED_AT: i64 = 1_790_000_000;

    fn bundle() -> Bundle {
        let raw = RawClusterConfig::from_yaml(&example_yaml(ExampleKind::Basic)).unwrap();
        let inputs = PkiInputs {
            seed: [21; 32],
            issued_at: ISSUED_AT,
            existing_cas: Vec::new(),
        };
        Bundle::generate(&raw, &inputs).unwrap()
    }

    fn bootstrap_addon(bundle: &Bundle) -> String {
        String::from_utf8(bundle.entry(BOOTSTRAP_ADDON).unwrap().contents.clone()).unwrap()
    }

    fn decoded(secret: &Value, field: &str) -> String {
        String::from_utf8(
            STANDARD
                .decode(secret["data"][field].as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn an_expired_token_secret_is_left_out_and_cluster_info_kept() {
        let bundle = bundle();
        let addon = bootstrap_addon(&bundle);
        // The example sets bootstrapTokenTTL: 24h.
        let expires_at = ISSUED_AT + 24 * 3600;
        let before = without_expired_tokens(&addon, expires_at - 1);
        assert!(before.expired.is_empty());
        assert_eq!(
            before.documents, addon,
            "nothing changes before the expiration"
        );

        let after = without_expired_tokens(&addon, expires_at);
        assert_eq!(after.expired.len(), 1, "{after:?}");
        assert_eq!(
            after.expired[0].expiration.as_deref(),
            Some(rfc3339(expires_at).as_str())
        );
        assert_eq!(after.expired[0].id.len(), 6);
        assert!(!after.documents.contains(TOKEN_SECRET_TYPE));
        assert!(after.documents.starts_with("---\n"));
        let kept: Vec<Value> = split_documents(&after.documents)
            .into_iter()
            .map(|document| crate::yaml::from_yaml(document).unwrap())
            .collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0]["metadata"]["name"], "cluster-info");
        assert!(
            kept[0]["data"]["kubeconfig"]
                .as_str()
                .unwrap()
                .contains("certificate-authority-data")
        );
    }

    #[test]
    fn files_without_token_secrets_pass_unchanged() {
        let bundle = bundle();
        let rbac = String::from_utf8(
            bundle
                .entry("addons/10-rbac.yaml")
                .unwrap()
                .contents
                .clone(),
        )
        .unwrap();
        let filtered = without_expired_tokens(&rbac, i64::MAX);
        assert!(filtered.expired.is_empty());
        assert_eq!(filtered.documents, rbac);
    }

    #[test]
    fn a_minted_secret_carries_the_bundle_tokens_groups_and_usages_and_its_own_expiry() {
        let bundle = bundle();
        let token = BootstrapToken::from_seed([7; 32]);
        let text = token_secret(&bundle, &token, ISSUED_AT + 3600).unwrap();
        let secret: Value = serde_json::from_str(&text).unwrap();
        let original: Value = bundle_token_secret(&bundle).unwrap();
        assert_eq!(secret["type"], TOKEN_SECRET_TYPE);
        assert_eq!(secret["metadata"]["namespace"], "kube-system");
        assert_eq!(
            secret["metadata"]["name"],
            format!("bootstrap-token-{}", token.id).as_str()
        );
        for field in [
            "auth-extra-groups",
            "usage-bootstrap-authentication",
            "usage-bootstrap-signing",
        ] {
            assert_eq!(secret["data"][field], original["data"][field], "{field}");
        }
        assert_eq!(
            decoded(&secret, "auth-extra-groups"),
            crate::render::addons::BOOTSTRAP_GROUP
        );
        assert_eq!(decoded(&secret, "token-id"), token.id);
        assert_eq!(decoded(&secret, "token-secret"), token.secret);
        assert_eq!(decoded(&secret, "expiration"), rfc3339(ISSUED_AT + 3600));
        assert_ne!(decoded(&secret, "token-id"), decoded(&original, "token-id"));
    }

    #[test]
    fn a_fresh_join_folder_differs_from_join_only_in_the_token_and_its_checksum() {
        let bundle = bundle();
        let token = BootstrapToken::from_seed([9; 32]);
        let fresh = join_folder(&bundle, &token).unwrap();
        let original: Vec<&Entry> = bundle
            .entries
            .iter()
            .filter(|entry| entry.path.starts_with("join/"))
            .collect();
        let paths: Vec<String> = fresh
            .iter()
            .map(|entry| format!("join/{}", entry.path))
            .collect();
        let original_paths: Vec<&str> = original.iter().map(|entry| entry.path.as_str()).collect();
        assert_eq!(paths, original_paths);
        let old_token = decoded(&bundle_token_secret(&bundle).unwrap(), "token-secret");
        for (entry, before) in fresh.iter().zip(&original) {
            assert_eq!(entry.mode, before.mode, "{}", entry.path);
            let text = String::from_utf8(entry.contents.clone()).unwrap();
            assert!(
                !text.contains(&old_token),
                "{} keeps the old token",
                entry.path
            );
            match entry.path.as_str() {
                "rootfs/etc/kubernetes/bootstrap-kubelet.conf" => {
                    assert_eq!(entry.mode, 0o600);
                    assert!(
                        text.contains(&format!("token: {}", token.token())),
                        "{text}"
                    );
                    let before = String::from_utf8(before.contents.clone()).unwrap();
                    let old = before.lines().find(|l| l.contains("token: ")).unwrap();
                    assert_eq!(
                        before.replace(old, &format!("    token: {}", token.token())),
                        text,
                        "only the token changes"
                    );
                }
                "SHA256SUMS" => {
                    let kubeconfig = fresh
                        .iter()
                        .find(|e| e.path.ends_with("bootstrap-kubelet.conf"))
                        .unwrap();
                    assert!(
                        text.contains(&format!(
                            "{}  etc/kubernetes/bootstrap-kubelet.conf",
                            sha256_hex(&kubeconfig.contents)
                        )),
                        "{text}"
                    );
                    assert_ne!(entry.contents, before.contents);
                }
                _ => assert_eq!(entry.contents, before.contents, "{}", entry.path),
            }
        }
    }

    #[test]
    fn minted_tokens_have_kubeadms_format_and_differ_by_seed() {
        let one = BootstrapToken::from_seed([1; 32]);
        let two = BootstrapToken::from_seed([2; 32]);
        assert!(BootstrapToken::is_token(&one.token()), "{one:?}");
        assert_ne!(one, two);
        assert_eq!(one, BootstrapToken::from_seed([1; 32]));
        for bad in [
            "abcdef.0123456789abcdeF",
            "abcde.0123456789abcdef",
            "abcdef0123456789abcdef",
        ] {
            assert!(!BootstrapToken::is_token(bad), "{bad}");
        }
    }

    #[test]
    fn reads_back_the_expirations_it_writes() {
        for seconds in [0, ISSUED_AT, ISSUED_AT + 86_399, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(seconds)), Some(seconds));
        }
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00+01:00",
            "tomorrow",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
