//! kubeadm itself as the yardstick: for several clusters, the real kubeadm (the lab's build of
//! [`KUBERNETES_VERSION`]) writes its certificates, kubeconfigs, static pods and kubelet
//! configuration and prints the objects it would create, from the kubeadm configuration
//! equivalent to the kbundle cluster; kbundle generates its bundle for the same cluster; the two
//! are compared field by field for the first control-plane node (see `kubeadm_parity/facts.rs`
//! for what a field is). The test fails on any difference that is not in
//! [`kbundle_core::parity::DELIBERATE_DIFFERENCES`], naming the file, the field, kubeadm's value
//! and kbundle's; on any entry of that table no cluster produced; and when
//! `docs/kubeadm-reference-v1.37.md`, the reference of what kubeadm writes, differs from what
//! this run of kubeadm wrote (`KBUNDLE_UPDATE_KUBEADM_REFERENCE=1` rewrites it).
//!
//! Only the minor the lab builds has a kubeadm here; the other supported minors are not
//! compared (docs/kubeadm-parity.md says so). kubeadm needs no root, but runs in a network
//! namespace of its own (which does) and touches nothing outside its scratch directory
//! (`kubeadm_parity/kubeadm.rs`).

#[path = "kubeadm_parity/facts.rs"]
mod facts;
#[path = "kubeadm_parity/kubeadm.rs"]
mod kubeadm;
#[path = "kubeadm_parity/reference.rs"]
mod reference;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kbundle_core::bundle::Bundle;
use kbundle_core::config::{ClusterConfig, RawClusterConfig};
use kbundle_core::parity::DELIBERATE_DIFFERENCES;
use kbundle_core::pki::PkiInputs;
use kbundle_core::plan::NetworkPlan;
use kbundle_tests::kubernetes::{Binaries, KUBERNETES_VERSION};
use kbundle_tests::repository_root;
use serde::Deserialize as _;

use facts::Facts;

/// One cluster compared.
pub struct Scenario {
    /// Short name, used in reports and in the reference.
    pub name: &'static str,
    /// What it exercises.
    pub about: &'static str,
    /// Its `cluster.yaml`.
    pub cluster_yaml: String,
}

/// The clusters compared: one control plane, three behind an endpoint, dual-stack, extra API
/// server SANs, a custom image repository.
fn scenarios() -> Vec<Scenario> {
    let version = KUBERNETES_VERSION.trim_start_matches('v');
    let cluster = |name: &str, spec: &str| {
        format!(
            "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: {name}}}\nspec:\n  kubernetesVersion: \"{version}\"\n{spec}"
        )
    };
    vec![
        Scenario {
            name: "single",
            about: "one node that is control plane, etcd member and worker; kubeadm's default networks",
            cluster_yaml: cluster(
                "demo",
                "  nodes:\n    - {name: cp1, address: 198.51.100.11, roles: [control-plane, etcd, worker]}\n  networking: {podSubnet: 10.244.0.0/16, serviceSubnet: 10.96.0.0/12}\n",
            ),
        },
        Scenario {
            name: "ha",
            about: "three control-plane nodes (stacked etcd, no workloads) behind a virtual IP; the first is compared",
            cluster_yaml: cluster(
                "ha",
                "  controlPlaneEndpoint: \"198.51.100.100:6443\"\n  nodes:\n    - {name: cp1, address: 198.51.100.11, roles: [control-plane, etcd]}\n    - {name: cp2, address: 198.51.100.12, roles: [control-plane, etcd]}\n    - {name: cp3, address: 198.51.100.13, roles: [control-plane, etcd]}\n",
            ),
        },
        Scenario {
            name: "dual-stack",
            about: "one node with an IPv4 and an IPv6 address, pod and service ranges of both families",
            cluster_yaml: cluster(
                "dual",
                "  nodes:\n    - {name: cp1, address: \"198.51.100.11,2001:db8::11\", roles: [control-plane, etcd, worker]}\n  networking:\n    podSubnet: 10.244.0.0/16,fd00:10:244::/56\n    serviceSubnet: 10.96.0.0/16,fd00:10:96::/112\n    nodeCIDRMaskSize: \"24,64\"\n",
            ),
        },
        Scenario {
            name: "extra-sans",
            about: "extra API server names and addresses (spec.certificates.extraSANs, kubeadm's apiServer.certSANs)",
            cluster_yaml: cluster(
                "sans",
                "  nodes:\n    - {name: cp1, address: 198.51.100.11, roles: [control-plane, etcd, worker]}\n  certificates:\n    extraSANs: [api.example.com, 198.51.100.53, \"2001:db8::53\"]\n",
            ),
        },
        Scenario {
            name: "image-repository",
            about: "Kubernetes images from a private registry (spec.registry.imageRepository, kubeadm's imageRepository)",
            cluster_yaml: cluster(
                "private",
                "  nodes:\n    - {name: cp1, address: 198.51.100.11, roles: [control-plane, etcd, worker]}\n  registry:\n    imageRepository: registry.example.com/k8s\n",
            ),
        },
    ]
}

/// Differences the comparison sees that are not differences in what is installed: objects
/// kubeadm creates outside the phases that can run without a cluster, with the reason.
const NOT_SEEN_IN_THE_PHASES: &[(&str, &str, &str)] = &[(
    "ClusterRoleBinding kubeadm:cluster-admins",
    "(object)",
    "kubeadm creates it too, from `kubeadm init` itself once the API server answers (it gives \
     admin.conf its rights), not from a phase that has a dry run",
)];

/// Both sides of one scenario.
pub struct Compared {
    /// The scenario.
    pub scenario: Scenario,
    /// The kubeadm configuration used.
    pub kubeadm_config: String,
    /// What kubeadm wrote.
    pub kubeadm: Facts,
    /// What kbundle wrote.
    pub kbundle: Facts,
    /// Which phase printed each object kubeadm would create.
    pub object_phases: BTreeMap<String, String>,
    /// The cluster's own values and the placeholders the reference shows instead, in the order
    /// they are replaced.
    pub placeholders: Vec<(String, String)>,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    subject: String,
    field: String,
    kubeadm: Option<String>,
    kbundle: Option<String>,
}

#[test]
fn kbundle_writes_what_kubeadm_writes_except_the_listed_differences() {
    kbundle_tests::programs::require_root();
    let started = Instant::now();
    let binary = Binaries::locate().component("kubeadm");
    let version = kbundle_tests::programs::run(
        {
            let mut command = kbundle_tests::programs::command(&binary);
            command.args(["version", "-o", "short"]);
            command
        },
        std::time::Duration::from_secs(30),
    );
    assert_eq!(version.expect_success().trim(), KUBERNETES_VERSION);

    let mut compared = Vec::new();
    for scenario in scenarios() {
        compared.push(compare_scenario(&binary, scenario));
    }

    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    let mut unexplained = Vec::new();
    for run in &compared {
        for found in differences(&run.kubeadm, &run.kbundle) {
            let key = (found.subject.clone(), found.field.clone());
            let listed = DELIBERATE_DIFFERENCES
                .iter()
                .any(|entry| (entry.subject, entry.field) == (key.0.as_str(), key.1.as_str()))
                || NOT_SEEN_IN_THE_PHASES.iter().any(|(subject, field, _)| {
                    (*subject, *field) == (key.0.as_str(), key.1.as_str())
                });
            if listed {
                used.insert(key);
            } else {
                unexplained.push(format!(
                    "[{}] {}: {}: kubeadm {}, kbundle {}",
                    run.scenario.name,
                    found.subject,
                    found.field,
                    shown(&found.kubeadm),
                    shown(&found.kbundle)
                ));
            }
        }
    }
    if !unexplained.is_empty() {
        problems.push(format!(
            "{} difference(s) from kubeadm {KUBERNETES_VERSION} that are not deliberate: fix the \
             renderer or the PKI, or add them with their reason to \
             kbundle_core::parity::DELIBERATE_DIFFERENCES (and docs/kubeadm-parity.md):\n  {}",
            unexplained.len(),
            unexplained.join("\n  ")
        ));
    }
    let stale: Vec<String> = DELIBERATE_DIFFERENCES
        .iter()
        .map(|entry| (entry.subject, entry.field))
        .chain(NOT_SEEN_IN_THE_PHASES.iter().map(|(s, f, _)| (*s, *f)))
        .filter(|(subject, field)| !used.contains(&((*subject).to_owned(), (*field).to_owned())))
        .map(|(subject, field)| format!("{subject}: {field}"))
        .collect();
    if !stale.is_empty() {
        problems.push(format!(
            "listed as deliberate differences, but no cluster differs there any more (remove them \
             from the table and docs/kubeadm-parity.md):\n  {}",
            stale.join("\n  ")
        ));
    }

    let path = repository_root().join(reference::path());
    let written = reference::render(&compared);
    if std::env::var_os("KBUNDLE_UPDATE_KUBEADM_REFERENCE").is_some() {
        std::fs::write(&path, &written).expect("write the kubeadm reference");
    } else {
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        if checked_in != written {
            let diff = changed_lines(&checked_in, &written);
            problems.push(format!(
                "{} is not what kubeadm {KUBERNETES_VERSION} wrote in this run (rewrite it with \
                 KBUNDLE_UPDATE_KUBEADM_REFERENCE=1 and review the diff):\n{diff}",
                path.display()
            ));
        }
    }
    eprintln!(
        "compared {} clusters with kubeadm {KUBERNETES_VERSION} in {:.1?}",
        compared.len(),
        started.elapsed()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

fn shown(value: &Option<String>) -> String {
    match value {
        Some(value) => format!("`{value}`"),
        None => "(none)".to_owned(),
    }
}

/// The lines only in one of two texts, for the report (a full diff is what `git diff` is for).
fn changed_lines(old: &str, new: &str) -> String {
    let old_lines: BTreeSet<&str> = old.lines().collect();
    let new_lines: BTreeSet<&str> = new.lines().collect();
    let mut out: Vec<String> = old
        .lines()
        .filter(|line| !new_lines.contains(line))
        .map(|line| format!("- {line}"))
        .chain(
            new.lines()
                .filter(|line| !old_lines.contains(line))
                .map(|line| format!("+ {line}")),
        )
        .take(40)
        .collect();
    if out.is_empty() {
        out.push("(the same lines in another order)".into());
    }
    out.join("\n")
}

/// Runs both sides for `scenario`.
fn compare_scenario(binary: &std::path::Path, scenario: Scenario) -> Compared {
    let raw = RawClusterConfig::from_yaml(&scenario.cluster_yaml).expect("scenario parses");
    let config = ClusterConfig::from_raw(&raw)
        .expect("scenario validates")
        .config;
    let issued_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let bundle = Bundle::generate(
        &raw,
        &PkiInputs {
            seed: [7; 32],
            issued_at,
            existing_cas: Vec::new(),
        },
    )
    .expect("bundle");
    let node = config
        .control_plane_nodes()
        .next()
        .expect("control-plane node")
        .name
        .clone();
    let (files, objects) = kbundle_output(&bundle, &node);
    let token = bootstrap_token(&objects);

    let scratch = tempfile::tempdir().expect("scratch directory");
    let kubeadm_config = kubeadm::configuration(&config, &token, &scratch.path().join("pki"));
    let output = kubeadm::run(binary, &kubeadm_config, scratch.path());
    let placeholders = placeholders(&config, &token);
    let object_phases = output
        .objects
        .iter()
        .map(|(phase, object)| (facts::object_subject(object), phase.clone()))
        .collect();
    let kubeadm_objects: Vec<serde_yaml::Value> = output
        .objects
        .into_iter()
        .map(|(_, object)| object)
        .collect();
    Compared {
        kubeadm: facts::facts(&output.files, &kubeadm_objects, output.token_made_at),
        kbundle: facts::facts(&files, &objects, issued_at),
        kubeadm_config: kubeadm_config.replace(
            &scratch.path().join("pki").display().to_string(),
            kubeadm::NODE_PKI,
        ),
        object_phases,
        placeholders,
        scenario,
    }
}

/// The values of `config` that the reference shows as placeholders, longest first where one
/// holds another (the whole token before its id).
fn placeholders(config: &ClusterConfig, token: &kubeadm::Token) -> Vec<(String, String)> {
    let plan = NetworkPlan::new(config);
    let node = config
        .control_plane_nodes()
        .next()
        .expect("control-plane node");
    let (id, secret) = token.token.split_once('.').expect("id.secret");
    let mut values = vec![
        (token.token.clone(), "<token-id>.<token-secret>".to_owned()),
        (
            format!("bootstrap-token-{id}"),
            "bootstrap-token-<token-id>".to_owned(),
        ),
        (id.to_owned(), "<token-id>".to_owned()),
        (secret.to_owned(), "<token-secret>".to_owned()),
        (config.name.clone(), "<cluster>".to_owned()),
        (node.name.clone(), "<node>".to_owned()),
    ];
    if let Some(endpoint) = &config.control_plane_endpoint {
        values.push((endpoint.host.to_string(), "<endpoint>".to_owned()));
    }
    for (index, address) in node.addresses.iter().enumerate() {
        let suffix = if index == 0 {
            String::new()
        } else {
            format!("-{}", index + 1)
        };
        values.push((address.to_string(), format!("<address{suffix}>")));
    }
    for (index, address) in plan.apiserver_service_ips.iter().enumerate() {
        let suffix = if index == 0 {
            String::new()
        } else {
            format!("-{}", index + 1)
        };
        values.push((
            address.to_string(),
            format!("<kubernetes-service-ip{suffix}>"),
        ));
    }
    values.push((
        plan.dns_service_ip.to_string(),
        "<dns-service-ip>".to_owned(),
    ));
    values
}

/// The addons whose objects kubeadm creates too: its RBAC and bootstrap material
/// (`bootstrap-token` phase), kube-proxy and CoreDNS (`addon` phase).
const COMPARED_ADDONS: [&str; 4] = [
    "addons/10-rbac.yaml",
    "addons/20-bootstrap.yaml",
    "addons/30-kube-proxy.yaml",
    "addons/40-coredns.yaml",
];

/// kbundle's files for `node` that kubeadm writes counterparts of (by node path; kubelet's flags
/// one per line under kubeadm's `kubeadm-flags.env`), and the objects of [`COMPARED_ADDONS`].
fn kbundle_output(
    bundle: &Bundle,
    node: &str,
) -> (BTreeMap<String, kubeadm::File>, Vec<serde_yaml::Value>) {
    let root = format!("nodes/{node}/rootfs");
    let mut files = BTreeMap::new();
    let mut objects = Vec::new();
    for entry in &bundle.entries {
        let text = || String::from_utf8(entry.contents.clone()).expect("text file");
        if let Some(path) = entry.path.strip_prefix(&root) {
            if path == "/etc/systemd/system/kubelet.service.d/99-kbundle.conf" {
                files.insert(
                    "/var/lib/kubelet/kubeadm-flags.env".to_owned(),
                    kubeadm::File {
                        text: drop_in_flags(&text()),
                        mode: entry.mode,
                    },
                );
            } else if path.starts_with("/etc/kubernetes/") || path == "/var/lib/kubelet/config.yaml"
            {
                files.insert(
                    path.to_owned(),
                    kubeadm::File {
                        text: text(),
                        mode: entry.mode,
                    },
                );
            }
        } else if COMPARED_ADDONS.contains(&entry.path.as_str()) {
            for document in serde_yaml::Deserializer::from_str(&text()) {
                let object = serde_yaml::Value::deserialize(document).expect("addon parses");
                if !object.is_null() {
                    objects.push(object);
                }
            }
        }
    }
    assert!(!files.is_empty(), "the bundle has no files for {node}");
    (files, objects)
}

/// The flags of the kubelet's `ExecStart=` in kbundle's drop-in, one per line.
fn drop_in_flags(drop_in: &str) -> String {
    let joined = drop_in.replace("\\\n", " ");
    let command = joined
        .lines()
        .filter_map(|line| line.strip_prefix("ExecStart="))
        .rfind(|command| !command.trim().is_empty())
        .expect("the drop-in sets ExecStart");
    command
        .split_whitespace()
        .filter(|word| word.starts_with("--"))
        .map(|flag| format!("{flag}\n"))
        .collect()
}

/// The bundle's bootstrap token and its description, from its Secret.
fn bootstrap_token(objects: &[serde_yaml::Value]) -> kubeadm::Token {
    let secret = objects
        .iter()
        .find(|object| object["type"].as_str() == Some("bootstrap.kubernetes.io/token"))
        .expect("the bundle has a bootstrap token");
    let field = |name: &str| {
        String::from_utf8(
            STANDARD
                .decode(secret["data"][name].as_str().expect("token field"))
                .expect("base64"),
        )
        .expect("text")
    };
    kubeadm::Token {
        token: format!("{}.{}", field("token-id"), field("token-secret")),
        description: field("description"),
    }
}

/// Every field that differs between the two sides; a subject only one side has is one
/// difference, `(file)` or `(object)`.
fn differences(kubeadm: &Facts, kbundle: &Facts) -> Vec<Found> {
    let subjects: BTreeSet<&String> = kubeadm.keys().chain(kbundle.keys()).collect();
    let mut found = Vec::new();
    for subject in subjects {
        let presence = if subject.starts_with('/') {
            ("(file)", "written")
        } else {
            ("(object)", "created")
        };
        match (kubeadm.get(subject), kbundle.get(subject)) {
            (Some(theirs), Some(ours)) => {
                let fields: BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
                for field in fields {
                    if theirs.get(field) != ours.get(field) {
                        found.push(Found {
                            subject: subject.clone(),
                            field: field.clone(),
                            kubeadm: theirs.get(field).cloned(),
                            kbundle: ours.get(field).cloned(),
                        });
                    }
                }
            }
            (theirs, ours) => found.push(Found {
                subject: subject.clone(),
                field: presence.0.to_owned(),
                kubeadm: theirs.map(|_| presence.1.to_owned()),
                kbundle: ours.map(|_| presence.1.to_owned()),
            }),
        }
    }
    found
}
