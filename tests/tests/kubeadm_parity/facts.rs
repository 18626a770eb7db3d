//! What each side wrote, as facts to compare: subject (a file by its path on the node, or a
//! cluster object as `Kind namespace/name`) → field → value, the same way for kubeadm and for
//! kbundle, so that the comparison is a plain diff of two maps.
//!
//! - certificates: subject CN and O, issuer CN, SANs (DNS and IP, each as a sorted set), key
//!   usage, extended key usage, CA constraint, validity (NotAfter − NotBefore, to the minute),
//!   key and signature algorithms; keys: their PEM type (and a public key's algorithm);
//! - kubeconfigs: every field, the embedded CA named by its subject and whether it is the
//!   side's own `pki/ca.crt`, the client certificate by its facts;
//! - YAML (static pods, objects, configuration files): every field by its path, items of lists
//!   of named things keyed by name (so their order is not compared), command lines as one field
//!   per flag (`--name`), other lists as one value;
//! - kubelet's flags: one field per flag;
//! - every file: its mode.
//!
//! What is left out, the same on both sides: nulls, empty lists and maps, `status`,
//! `metadata.creationTimestamp` and `metadata.resourceVersion` (set by the API server; kubeadm's
//! templates carry placeholders). kubeadm writes the KubeletConfiguration and the
//! KubeProxyConfiguration by marshalling the whole Go struct, zero values included, which the
//! components read as "unset"; there zero scalars (`0`, `"0"`, `""`, `0s`) are left out, and in
//! the KubeProxyConfiguration (whose booleans are plain Go booleans defaulting to false) `false`
//! too. In the KubeletConfiguration a `false` is kept: its booleans that default to true are
//! pointers, so a written `false` is a choice.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_yaml::{Mapping, Value};
use x509_parser::objects::{oid_registry, oid2sn};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::kubeadm::File;

/// Subject → field → value.
pub(crate) type Facts = BTreeMap<String, BTreeMap<String, String>>;

/// Which zero values a component configuration leaves out (see the module documentation).
#[derive(Debug, Clone, Copy)]
struct Zeros {
    scalars: bool,
    booleans: bool,
}

const KEEP_ZEROS: Zeros = Zeros {
    scalars: false,
    booleans: false,
};
const KUBELET_ZEROS: Zeros = Zeros {
    scalars: true,
    booleans: false,
};
const KUBE_PROXY_ZEROS: Zeros = Zeros {
    scalars: true,
    booleans: true,
};

/// The facts of one side: its files (by node path) and objects. `token_from` is the unix time
/// the bootstrap token's expiration counts from.
pub(crate) fn facts(files: &BTreeMap<String, File>, objects: &[Value], token_from: i64) -> Facts {
    let ca = files
        .get("/etc/kubernetes/pki/ca.crt")
        .map(|file| file.text.trim().to_owned());
    let ca = ca.as_deref();
    let mut facts = Facts::new();
    for (path, file) in files {
        let mut found = file_facts(path, &file.text, ca);
        found.insert("mode".into(), format!("{:04o}", file.mode));
        facts.insert(path.clone(), found);
    }
    for object in objects {
        let subject = object_subject(object);
        let found = object_facts(object, ca, token_from);
        assert!(
            facts.insert(subject.clone(), found).is_none(),
            "{subject} is created twice"
        );
    }
    facts
}

/// `Kind namespace/name`, or `Kind name` for cluster-scoped objects.
pub(crate) fn object_subject(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    match object["metadata"]["namespace"].as_str() {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

fn file_facts(path: &str, text: &str, ca: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if path.ends_with(".crt") {
        out = certificate(text);
    } else if path.ends_with(".key") {
        out.insert("PEM type".into(), pem(text).0);
    } else if path.ends_with(".pub") {
        let (label, der) = pem(text);
        let (_, key) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&der)
            .unwrap_or_else(|error| panic!("{path}: not a public key: {error}"));
        out.insert("PEM type".into(), label);
        out.insert("public key".into(), public_key(&key));
    } else if path.ends_with("/kubeadm-flags.env") {
        for flag in text.lines().filter(|line| !line.is_empty()) {
            let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
            out.insert(name.to_owned(), value.to_owned());
        }
    } else if path.ends_with(".conf") {
        flatten(
            &kubeconfig(&parse(path, text), ca),
            "",
            KEEP_ZEROS,
            &mut out,
        );
    } else if path == "/var/lib/kubelet/config.yaml" {
        flatten(&parse(path, text), "", KUBELET_ZEROS, &mut out);
    } else if path.ends_with(".yaml") {
        flatten(
            &without_server_fields(parse(path, text)),
            "",
            KEEP_ZEROS,
            &mut out,
        );
    } else {
        panic!("{path}: the comparison does not know this kind of file");
    }
    out
}

fn parse(what: &str, text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|error| panic!("{what} does not parse: {error}"))
}

/// An object without what the API server sets.
fn without_server_fields(mut object: Value) -> Value {
    if let Value::Mapping(map) = &mut object {
        map.remove("status");
        if let Some(Value::Mapping(metadata)) = map.get_mut("metadata") {
            metadata.remove("creationTimestamp");
            metadata.remove("resourceVersion");
        }
    }
    object
}

fn object_facts(object: &Value, ca: Option<&str>, token_from: i64) -> BTreeMap<String, String> {
    let mut object = without_server_fields(object.clone());
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    let mut out = BTreeMap::new();
    // ConfigMap data holding configuration files and Secret data are compared by what they
    // say, not as opaque text.
    if let Some(Value::Mapping(data)) = object.get("data").cloned() {
        let mut plain = Mapping::new();
        for (key, value) in data {
            let key_text = key.as_str().unwrap_or_default();
            let prefix = format!("data.{key_text}");
            let text = value.as_str().unwrap_or_default();
            if kind == "Secret" {
                let decoded =
                    String::from_utf8(STANDARD.decode(text).expect("Secret data is base64"))
                        .expect("Secret data is text");
                let decoded = if key_text == "expiration" {
                    expiration(&decoded, token_from)
                } else {
                    decoded
                };
                out.insert(prefix, decoded);
                continue;
            }
            // A configuration file or kubeconfig, by its kind; anything else stays text.
            let parsed: Option<Value> = serde_yaml::from_str(text).ok();
            let Some((parsed, kind)) = parsed
                .as_ref()
                .and_then(|parsed| Some((parsed, parsed["kind"].as_str()?)))
            else {
                plain.insert(key, value);
                continue;
            };
            match kind {
                "Config" => flatten(&kubeconfig(parsed, ca), &prefix, KEEP_ZEROS, &mut out),
                "KubeletConfiguration" => flatten(parsed, &prefix, KUBELET_ZEROS, &mut out),
                "KubeProxyConfiguration" => flatten(parsed, &prefix, KUBE_PROXY_ZEROS, &mut out),
                _ => flatten(parsed, &prefix, KEEP_ZEROS, &mut out),
            }
        }
        if let Value::Mapping(map) = &mut object {
            map.insert("data".into(), Value::Mapping(plain));
        }
    }
    flatten(&object, "", KEEP_ZEROS, &mut out);
    out
}

/// An RFC 3339 expiration as hours after `from` (the two sides issue their tokens at different
/// moments; what matters is how long the token lives).
fn expiration(rfc3339: &str, from: i64) -> String {
    let at = time_of(rfc3339).unwrap_or_else(|| panic!("expiration `{rfc3339}` is not RFC 3339"));
    let hours = ((at - from) as f64 / 3600.0).round() as i64;
    format!("{hours}h after the token is made")
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SSZ`.
fn time_of(text: &str) -> Option<i64> {
    let (date, clock) = text.strip_suffix('Z')?.split_once('T')?;
    let mut date = date.split('-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let mut clock = clock.split(':').map(|part| part.parse::<i64>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    // Days from civil (Howard Hinnant's algorithm).
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// A kubeconfig with its embedded material replaced by what it says.
fn kubeconfig(value: &Value, ca: Option<&str>) -> Value {
    let mut value = value.clone();
    for list in ["clusters", "users"] {
        let Some(Value::Sequence(items)) = value.get_mut(list) else {
            continue;
        };
        for item in items {
            let inner = if list == "clusters" {
                "cluster"
            } else {
                "user"
            };
            let Some(Value::Mapping(entry)) = item.get_mut(inner) else {
                continue;
            };
            let decode = |value: &Value| {
                String::from_utf8(
                    STANDARD
                        .decode(value.as_str().unwrap_or_default())
                        .expect("kubeconfig data is base64"),
                )
                .expect("kubeconfig data is PEM")
            };
            if let Some(data) = entry.get("certificate-authority-data").map(decode) {
                let facts = certificate(&data);
                let own = if ca == Some(data.trim()) {
                    "this node's pki/ca.crt"
                } else {
                    "NOT this node's pki/ca.crt"
                };
                let cn = facts.get("subject CN").cloned().unwrap_or_default();
                entry.insert(
                    "certificate-authority-data".into(),
                    format!("CN={cn}, {own}").into(),
                );
            }
            if let Some(data) = entry.get("client-certificate-data").map(decode) {
                let facts: Mapping = certificate(&data)
                    .into_iter()
                    .map(|(field, fact)| (Value::from(field), Value::from(fact)))
                    .collect();
                entry.insert("client-certificate-data".into(), Value::Mapping(facts));
            }
            if let Some(data) = entry.get("client-key-data").map(decode) {
                entry.insert("client-key-data".into(), pem(&data).0.into());
            }
            if entry.contains_key("token") {
                entry.insert("token".into(), "(a token)".into());
            }
        }
    }
    value
}

/// The label and contents of the first PEM block of `text`.
fn pem(text: &str) -> (String, Vec<u8>) {
    let (_, block) = x509_parser::pem::parse_x509_pem(text.as_bytes())
        .unwrap_or_else(|error| panic!("not PEM: {error:?}"));
    (block.label, block.contents)
}

/// What a certificate says.
pub(crate) fn certificate(text: &str) -> BTreeMap<String, String> {
    let (label, der) = pem(text);
    assert_eq!(label, "CERTIFICATE");
    let (_, certificate) = X509Certificate::from_der(&der).expect("certificate parses");
    let mut out = BTreeMap::new();
    let mut put = |field: &str, values: Vec<String>| {
        if !values.is_empty() {
            out.insert(field.to_owned(), values.join(", "));
        }
    };
    let texts = |attributes: Vec<&x509_parser::x509::AttributeTypeAndValue<'_>>| -> Vec<String> {
        attributes
            .into_iter()
            .map(|attribute| attribute.as_str().expect("text attribute").to_owned())
            .collect()
    };
    put(
        "subject CN",
        texts(certificate.subject().iter_common_name().collect()),
    );
    let mut organizations = texts(certificate.subject().iter_organization().collect());
    organizations.sort();
    put("subject O", organizations);
    put(
        "issuer CN",
        texts(certificate.issuer().iter_common_name().collect()),
    );
    let (mut dns, mut ips) = (Vec::new(), Vec::new());
    if let Ok(Some(names)) = certificate.subject_alternative_name() {
        for name in &names.value.general_names {
            match name {
                GeneralName::DNSName(name) => dns.push((*name).to_owned()),
                GeneralName::IPAddress(bytes) => ips.push(ip(bytes)),
                other => panic!("unexpected SAN {other:?}"),
            }
        }
    }
    dns.sort();
    ips.sort();
    put("SAN DNS", dns);
    put("SAN IP", ips);
    if let Ok(Some(usage)) = certificate.key_usage() {
        put("key usage", vec![usage.value.to_string()]);
    }
    if let Ok(Some(usage)) = certificate.extended_key_usage() {
        let usage = usage.value;
        let mut names = Vec::new();
        for (set, name) in [
            (usage.any, "any"),
            (usage.server_auth, "serverAuth"),
            (usage.client_auth, "clientAuth"),
            (usage.code_signing, "codeSigning"),
            (usage.email_protection, "emailProtection"),
            (usage.time_stamping, "timeStamping"),
            (usage.ocsp_signing, "OCSPSigning"),
        ] {
            if set {
                names.push(name.to_owned());
            }
        }
        names.extend(usage.other.iter().map(ToString::to_string));
        put("extended key usage", names);
    }
    let constraint = match certificate.basic_constraints() {
        Ok(Some(constraints)) => match constraints.value.path_len_constraint {
            Some(length) => format!("CA:{}, pathlen:{length}", constraints.value.ca),
            None => format!("CA:{}", constraints.value.ca),
        },
        _ => "no basicConstraints".to_owned(),
    };
    put("CA", vec![constraint]);
    let validity = certificate.validity();
    let seconds = validity.not_after.timestamp() - validity.not_before.timestamp();
    put("validity", vec![duration(seconds)]);
    put("public key", vec![public_key(certificate.public_key())]);
    let signature = oid2sn(&certificate.signature_algorithm.algorithm, oid_registry())
        .map(str::to_owned)
        .unwrap_or_else(|_| certificate.signature_algorithm.algorithm.to_string());
    put("signature algorithm", vec![signature]);
    out
}

/// A public key's algorithm and size.
fn public_key(key: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> String {
    let algorithm = oid2sn(&key.algorithm.algorithm, oid_registry())
        .map(str::to_owned)
        .unwrap_or_else(|_| key.algorithm.algorithm.to_string());
    let size = key.parsed().map(|key| key.key_size()).unwrap_or(0);
    format!("{algorithm} {size} bits")
}

fn ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).expect("4 bytes")).to_string(),
        16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).expect("16 bytes")).to_string(),
        _ => panic!("an IP SAN of {} bytes", bytes.len()),
    }
}

/// Seconds as `8760h5m`, to the minute (kubeadm's NotBefore and NotAfter come from two reads of
/// its clock).
fn duration(seconds: i64) -> String {
    let minutes = (seconds + 30) / 60;
    format!("{}h{}m", minutes / 60, minutes % 60)
}

/// `value` flattened into `out`, fields named by their path under `path`.
fn flatten(value: &Value, path: &str, zeros: Zeros, out: &mut BTreeMap<String, String>) {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Null => {}
        Value::Tagged(tagged) => flatten(&tagged.value, path, zeros, out),
        Value::Mapping(map) => {
            for (key, value) in map {
                let key = scalar(key).unwrap_or_else(|| format!("{key:?}"));
                flatten(value, &child(&key), zeros, out);
            }
        }
        Value::Sequence(items) if items.is_empty() => {}
        Value::Sequence(items) if items.iter().all(|item| item.is_mapping()) => {
            let named = items.iter().all(|item| item["name"].is_string());
            for (index, item) in items.iter().enumerate() {
                if named {
                    let name = item["name"].as_str().unwrap_or_default();
                    let mut rest = item.as_mapping().cloned().unwrap_or_default();
                    rest.remove("name");
                    flatten(
                        &Value::Mapping(rest),
                        &format!("{path}[{name}]"),
                        zeros,
                        out,
                    );
                } else {
                    flatten(item, &format!("{path}[{index}]"), zeros, out);
                }
            }
        }
        Value::Sequence(items) => {
            let words: Vec<String> = items
                .iter()
                .map(|item| scalar(item).unwrap_or_else(|| format!("{item:?}")))
                .collect();
            let is_command = path.ends_with(".command") || path.ends_with(".args");
            let mut rest = Vec::new();
            for word in words {
                match word.strip_prefix("--") {
                    Some(flag) if is_command => {
                        let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
                        out.insert(format!("--{name}"), value.to_owned());
                    }
                    _ => rest.push(word),
                }
            }
            if !rest.is_empty() {
                out.insert(path.to_owned(), rest.join(", "));
            }
        }
        scalar_value => {
            let is_zero = match scalar_value {
                Value::Bool(value) => zeros.booleans && !value,
                Value::Number(number) => zeros.scalars && number.as_f64() == Some(0.0),
                Value::String(text) => zeros.scalars && ["", "0", "0s"].contains(&text.as_str()),
                _ => false,
            };
            if !is_zero && let Some(text) = scalar(scalar_value) {
                out.insert(path.to_owned(), text);
            }
        }
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Bool(value) => Some(value.to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}
