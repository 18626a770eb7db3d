//! The `cluster.yaml` door: text → parse → validate → plan (the `config` target) and, for valid
//! small clusters, → bundle → zip → read → verify (the `generate` target).
//!
//! Invariants, besides "no panic":
//! - a refusal holds at least one error, and every finding names a field path that the input
//!   holds or the schema knows ([`super::paths`]);
//! - a valid document, rendered as YAML again (what the web page exports and the bundle keeps),
//!   validates to the same config and the same network plan;
//! - the plan, given its own ranges as the previous ones, is the same plan;
//! - a valid cluster generates, and its bundle reads back equal and verifies clean.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use kbundle_core::bundle::Bundle;
use kbundle_core::bundle::read::Limits;
use kbundle_core::config::{
    ClusterConfig, Diagnostic, Diagnostics, KeyAlgorithm, RawClusterConfig,
};
use kbundle_core::plan::NetworkPlan;
use serde_yaml::Value;

use super::paths::unknown_path;
use super::samples;

/// Most nodes a cluster may have for the `generate` target to make its bundle: issuing is
/// linear in the nodes, and three already covers HA (three control-plane nodes) or etcd apart.
pub const GENERATE_MAX_NODES: usize = 3;

/// The `config` target.
pub fn run(data: &[u8]) {
    if let Some(text) = input_text(data) {
        check(&text);
    }
}

/// The `generate` target: [`check`], then the bundle of a valid small cluster.
pub fn run_generate(data: &[u8]) {
    if let Some(text) = input_text(data) {
        check(&text);
        generate(&text);
    }
}

/// The cluster.yaml text an input stands for: the input itself, or an edited sample.
pub fn input_text(data: &[u8]) -> Option<String> {
    let (edit, rest) = super::split_mode(data);
    if edit {
        edited_sample(rest)
    } else {
        std::str::from_utf8(rest).ok().map(str::to_owned)
    }
}

/// Parses, validates and plans `text`, checking the invariants of the module doc.
pub fn check(text: &str) {
    // As `ClusterConfig::from_yaml` does, in its two steps, so the valid path parses once. The
    // input as plain YAML is read only when there are findings to check against it.
    let document = || serde_yaml::from_str::<Value>(text).ok();
    let raw = match RawClusterConfig::from_yaml(text) {
        Ok(raw) => raw,
        Err(diagnostics) => {
            check_refusal(&diagnostics, document().as_ref());
            return;
        }
    };
    let validated = match ClusterConfig::from_raw(&raw) {
        Ok(validated) => validated,
        Err(diagnostics) => {
            check_refusal(&diagnostics, document().as_ref());
            return;
        }
    };
    if !validated.warnings.is_empty() {
        let document = document();
        for warning in &validated.warnings {
            check_diagnostic(document.as_ref(), warning);
        }
    }
    let config = &validated.config;
    let plan = NetworkPlan::new(config);
    let _ = plan.to_text();
    let _ = plan.no_proxy_value();
    let _ = serde_json::to_string(&plan);
    let kept = NetworkPlan::with_previous(config, &plan.pod_ranges())
        .unwrap_or_else(|found| panic!("a plan refuses its own ranges: {found:?}"));
    assert_eq!(kept, plan, "a plan changed when it kept its own ranges");

    let yaml = raw.to_yaml();
    let again = ClusterConfig::from_yaml(&yaml).unwrap_or_else(|found| {
        panic!("a valid document, written again, is refused: {found:?}\n{yaml}")
    });
    assert_eq!(
        again.config, *config,
        "a valid document, written again, is another config\n{yaml}"
    );
    assert_eq!(
        NetworkPlan::new(&again.config),
        plan,
        "a valid document, written again, plans otherwise\n{yaml}"
    );
}

fn check_refusal(diagnostics: &Diagnostics, document: Option<&Value>) {
    assert!(
        diagnostics.errors().next().is_some(),
        "refused without an error: {diagnostics:?}"
    );
    for diagnostic in &diagnostics.0 {
        check_diagnostic(document, diagnostic);
    }
}

fn check_diagnostic(document: Option<&Value>, diagnostic: &Diagnostic) {
    if let Some(problem) = unknown_path(document, &diagnostic.path) {
        panic!("a finding names no field of the input: {problem}: {diagnostic:?}");
    }
    assert!(
        !diagnostic.message.is_empty(),
        "a finding without a message: {diagnostic:?}"
    );
}

/// Generates the bundle of `text` when it is valid, small ([`GENERATE_MAX_NODES`]), uses
/// ECDSA (RSA key generation takes seconds per key: a fuzzer would do nothing else) and brings
/// no CA files (the fuzzer has none to give). The bundle must read back equal and verify clean.
pub fn generate(text: &str) {
    let Ok(validated) = ClusterConfig::from_yaml(text) else {
        return;
    };
    let config = &validated.config;
    if config.nodes.len() > GENERATE_MAX_NODES
        || config.certificates.key_algorithm != KeyAlgorithm::EcdsaP256
        || !config.certificates.existing_cas.is_empty()
    {
        return;
    }
    let raw = RawClusterConfig::from_yaml(text).expect("a valid document parses");
    let bundle = Bundle::generate(&raw, &samples::inputs(1))
        .unwrap_or_else(|error| panic!("a valid cluster does not generate: {error}"));
    let zip = bundle.to_zip().expect("a bundle zips");
    let read = Bundle::from_zip(&zip, None, Limits::default())
        .unwrap_or_else(|error| panic!("a generated bundle is refused: {error}"));
    assert!(read == bundle, "a generated bundle reads back otherwise");
    let report = kbundle_core::bundle::verify::verify(&bundle, super::ISSUED_AT + 60);
    assert!(
        report.is_ok(),
        "a generated bundle does not verify: {:?}",
        report.problems
    );
    // The bundle keeps the document (secrets as placeholders): read as the bundle's record,
    // as apply, `certs renew` and `join-token` read it, it must plan the same again.
    let kept = bundle
        .entry(kbundle_core::bundle::layout::CLUSTER_YAML)
        .expect("a bundle keeps its cluster.yaml");
    let kept = ClusterConfig::from_bundle_yaml(&String::from_utf8_lossy(&kept.contents))
        .unwrap_or_else(|found| panic!("a bundle's cluster.yaml is refused: {found:?}"));
    assert_eq!(
        NetworkPlan::new(&kept.config),
        NetworkPlan::new(config),
        "a bundle's cluster.yaml plans otherwise"
    );
}

/// One edit of a parsed sample document.
#[derive(Debug, Arbitrary)]
enum Edit {
    /// Replace the `at`-th value (in document order) with another.
    Set { at: u16, value: Scalar },
    /// Remove the `at`-th value from its mapping or list.
    Remove { at: u16 },
    /// Add a field (a known name, so it passes the shape check) to the `at`-th mapping, or an
    /// item to the `at`-th list.
    Insert { at: u16, field: u8, value: Scalar },
    /// Repeat the `at`-th list item (a node twice, a mirror twice).
    Repeat { at: u16 },
}

/// A replacement value: mostly values that matter to kbundle, sometimes anything.
#[derive(Debug, Arbitrary)]
enum Scalar {
    Known(u8),
    Text(String),
    Number(i64),
    Bool(bool),
    Null,
    List(Vec<u8>),
    Empty,
}

/// Values the validation has an opinion on: addresses and ranges at the edges of their
/// families, versions, role and mode names, durations, endpoints, proxies.
const INTERESTING: &[&str] = &[
    "10.0.0.0/8",
    "10.244.0.0/16",
    "10.96.0.0/12",
    "0.0.0.0/0",
    "192.0.2.0/31",
    "192.0.2.1/32",
    "::/0",
    "fd00::/8",
    "2001:db8::/32",
    "2001:db8::/120",
    "2001:db8:1::/64",
    "10.244.0.0/16,fd00:10:244::/56",
    "fd00:10:244::/56,10.244.0.0/16",
    "192.0.2.11",
    "192.0.2.12",
    "2001:db8::11",
    "192.0.2.11,2001:db8::11",
    "0.0.0.0",
    "255.255.255.255",
    "::",
    "::ffff:192.0.2.1",
    "10.96.0.10",
    "1.37",
    "1.37.1",
    "1.36",
    "1.99",
    "1.37.999999999999",
    "control-plane",
    "etcd",
    "worker",
    "kube-vip",
    "external",
    "ECDSA-P256",
    "RSA-2048",
    "0h",
    "1h",
    "24h",
    "365d",
    "99999999999d",
    "-1d",
    "flannel",
    "none",
    "ipvs",
    "nftables",
    "iptables",
    "systemd",
    "cgroupfs",
    "24",
    "24,64",
    "0",
    "32",
    "128",
    "4294967296",
    "192.0.2.10:6443",
    "[2001:db8::10]:6443",
    "api.example.com:0",
    "api.example.com:65535",
    "http://user:secret@proxy.example.com:3128",
    "https://mirror.example.com",
    "a=b:NoSchedule",
    "key:NoExecute",
    "=:",
    "cluster.local",
    "/run/containerd/containerd.sock",
    "cp1",
    "worker1",
    "kbundle.dev/v1alpha1",
    "Cluster",
    "",
    " ",
    "ÿ",
];

impl Scalar {
    fn value(&self) -> Value {
        match self {
            Self::Known(index) => {
                Value::String(INTERESTING[usize::from(*index) % INTERESTING.len()].to_owned())
            }
            Self::Text(text) => Value::String(text.clone()),
            Self::Number(number) => Value::Number((*number).into()),
            Self::Bool(value) => Value::Bool(*value),
            Self::Null => Value::Null,
            Self::List(items) => Value::Sequence(
                items
                    .iter()
                    .map(|index| Self::Known(*index).value())
                    .collect(),
            ),
            Self::Empty => Value::Mapping(Default::default()),
        }
    }
}

/// A step from a value to one inside it.
#[derive(Clone)]
enum Step {
    Key(Value),
    Index(usize),
}

/// Every value of `value`, in document order, as the steps that lead to it.
fn addresses(value: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match value {
        Value::Mapping(map) => {
            for (key, inner) in map {
                here.push(Step::Key(key.clone()));
                addresses(inner, here, out);
                here.pop();
            }
        }
        Value::Sequence(list) => {
            for (index, inner) in list.iter().enumerate() {
                here.push(Step::Index(index));
                addresses(inner, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(value: &'a mut Value, steps: &[Step]) -> Option<&'a mut Value> {
    let Some((first, rest)) = steps.split_first() else {
        return Some(value);
    };
    let inner = match (first, value) {
        (Step::Key(key), Value::Mapping(map)) => map.get_mut(key)?,
        (Step::Index(index), Value::Sequence(list)) => list.get_mut(*index)?,
        _ => return None,
    };
    at(inner, rest)
}

fn apply(document: &mut Value, edit: &Edit) {
    let mut all = Vec::new();
    addresses(document, &mut Vec::new(), &mut all);
    let pick = |at: u16| all[usize::from(at) % all.len()].clone();
    match edit {
        Edit::Set { at: index, value } => {
            if let Some(target) = at(document, &pick(*index)) {
                *target = value.value();
            }
        }
        Edit::Remove { at: index } => {
            let steps = pick(*index);
            if let Some((last, parent)) = steps.split_last()
                && let Some(parent) = at(document, parent)
            {
                match (last, parent) {
                    (Step::Key(key), Value::Mapping(map)) => {
                        map.remove(key);
                    }
                    (Step::Index(index), Value::Sequence(list)) if *index < list.len() => {
                        list.remove(*index);
                    }
                    _ => {}
                }
            }
        }
        Edit::Insert {
            at: index,
            field,
            value,
        } => match at(document, &pick(*index)) {
            Some(Value::Mapping(map)) => {
                let fields = super::paths::SCHEMA_FIELDS;
                let name = fields[usize::from(*field) % fields.len()];
                map.insert(Value::String(name.to_owned()), value.value());
            }
            Some(Value::Sequence(list)) => list.push(value.value()),
            _ => {}
        },
        Edit::Repeat { at: index } => {
            let steps = pick(*index);
            if let Some((Step::Index(item), parent)) = steps.split_last()
                && let Some(Value::Sequence(list)) = at(document, parent)
                && let Some(copy) = list.get(*item).cloned()
            {
                list.push(copy);
            }
        }
    }
}

/// A sample with a few edits, as YAML text.
fn edited_sample(recipe: &[u8]) -> Option<String> {
    let mut input = Unstructured::new(recipe);
    // Parsed once per process: parsing the sample again per input would halve the speed.
    static PARSED: OnceLock<Vec<Value>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        samples::CLUSTERS
            .iter()
            .map(|sample| serde_yaml::from_str(sample).expect("a sample is YAML"))
            .collect()
    });
    let mut document = parsed[usize::from(u8::arbitrary(&mut input).ok()?) % parsed.len()].clone();
    let edits: Vec<Edit> = Vec::arbitrary(&mut input).ok()?;
    for edit in edits.iter().take(8) {
        apply(&mut document, edit);
    }
    serde_yaml::to_string(&document).ok()
}
