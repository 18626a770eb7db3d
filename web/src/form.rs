//! The form's state and its conversion to and from the cluster model. Every input of the page is a
//! text box, a choice or a check box, so the state is plain strings and booleans; conversion to
//! [`RawClusterConfig`] is the only place that reads them, and what it cannot read (a port that
//! is not a number) becomes a [`Diagnostic`] on the same field path that core's validation uses,
//! so the page shows every problem the same way.
//!
//! What may be saved in the browser's storage is [`Form::for_storage`]: the form without
//! passwords. Keys never enter the form at all.

use std::collections::BTreeMap;

use kbundle_core::config::raw::{
    RawCertificates, RawContainerRuntime, RawCredential, RawHighAvailability, RawMetadata,
    RawMirror, RawNetworking, RawNode, RawProxy, RawRegistry, RawSpec, RawSsh,
};
use kbundle_core::config::{
    API_VERSION, ClusterConfig, Diagnostic, Diagnostics, ExampleKind, KIND, RawClusterConfig,
    Validated, example_yaml,
};
use serde::{Deserialize, Serialize};

/// Everything the form holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Form {
    /// `metadata.name`.
    pub name: String,
    /// `spec.kubernetesVersion`.
    pub kubernetes_version: String,
    /// `spec.nodes`.
    pub nodes: Vec<NodeRow>,
    /// `spec.controlPlaneEndpoint`.
    pub endpoint: String,
    /// `spec.highAvailability.mode`: `kube-vip`, `external` or empty (default).
    pub ha_mode: String,
    /// `spec.highAvailability.interface`.
    pub ha_interface: String,
    /// `spec.networking`.
    pub networking: NetworkingForm,
    /// `spec.ssh`.
    pub ssh: SshForm,
    /// `spec.containerRuntime`.
    pub runtime: RuntimeForm,
    /// `spec.registry`.
    pub registry: RegistryForm,
    /// `spec.proxy`.
    pub proxy: ProxyForm,
    /// `spec.certificates`.
    pub certificates: CertificatesForm,
}

/// One row of the node table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeRow {
    /// Node name.
    pub name: String,
    /// `IPv4`, `IPv6` or `IPv4,IPv6`.
    pub address: String,
    /// Runs the control plane.
    pub control_plane: bool,
    /// Is an etcd member.
    pub etcd: bool,
    /// Runs ordinary pods.
    pub worker: bool,
    /// `key=value` pairs separated by commas.
    pub labels: String,
    /// `key[=value]:Effect` entries separated by commas.
    pub taints: String,
    /// Per-node SSH overrides.
    pub ssh: SshForm,
}

/// `spec.networking`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkingForm {
    /// `podSubnet`.
    pub pod_subnet: String,
    /// `serviceSubnet`.
    pub service_subnet: String,
    /// `nodeCIDRMaskSize`.
    pub node_cidr_mask_size: String,
    /// `dnsDomain`.
    pub dns_domain: String,
    /// `dnsServiceIP`.
    pub dns_service_ip: String,
    /// `maxPodsPerNode`.
    pub max_pods_per_node: String,
    /// `cni`.
    pub cni: String,
    /// `mtu`.
    pub mtu: String,
    /// `kubeProxyMode`.
    pub kube_proxy_mode: String,
}

/// SSH settings, for every node or one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SshForm {
    /// `user`.
    pub user: String,
    /// `port`.
    pub port: String,
    /// `identityFile`: a path on the operator's machine, never the key itself.
    pub identity_file: String,
    /// `jumpHosts`, separated by commas.
    pub jump_hosts: String,
}

/// `spec.containerRuntime`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeForm {
    /// `socket`.
    pub socket: String,
    /// `cgroupDriver`.
    pub cgroup_driver: String,
}

/// `spec.registry`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryForm {
    /// `imageRepository`.
    pub image_repository: String,
    /// `mirrors`.
    pub mirrors: Vec<MirrorRow>,
    /// `credentials`.
    pub credentials: Vec<CredentialRow>,
    /// `pullSecretNamespaces`, separated by commas.
    pub pull_secret_namespaces: String,
}

/// One registry mirror.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MirrorRow {
    /// Upstream registry host.
    pub registry: String,
    /// Mirror URLs separated by commas.
    pub endpoints: String,
}

/// Credentials for one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CredentialRow {
    /// Registry host.
    pub registry: String,
    /// User name.
    pub username: String,
    /// Password or token: kept in memory only, never stored by the page.
    pub password: String,
}

/// `spec.proxy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProxyForm {
    /// `http`.
    pub http: String,
    /// `https`.
    pub https: String,
    /// Extra `noProxy` entries separated by commas.
    pub no_proxy: String,
}

/// `spec.certificates`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CertificatesForm {
    /// `keyAlgorithm`.
    pub key_algorithm: String,
    /// `validity`.
    pub validity: String,
    /// `caValidity`.
    pub ca_validity: String,
    /// `extraSANs`, separated by commas.
    pub extra_sans: String,
    /// `bootstrapTokenTTL`: not a box on the page (the default suits most), but kept from an
    /// imported cluster.yaml so that exporting it again gives the same cluster.
    pub bootstrap_token_ttl: String,
}

/// What the page shows about the form: the findings (errors and warnings, each on a field path),
/// and the validated config when there are no errors.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The cluster document the form stands for.
    pub raw: RawClusterConfig,
    /// Every finding, the form's own (unreadable numbers) first.
    pub diagnostics: Vec<Diagnostic>,
    /// The validated config, when nothing is an error.
    pub validated: Option<Validated>,
}

impl Checked {
    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// Findings about `path` itself or anything inside it (`spec.nodes[0]` holds
    /// `spec.nodes[0].address`).
    pub fn about(&self, path: &str) -> Vec<&Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| {
                d.path == path
                    || d.path
                        .strip_prefix(path)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            })
            .collect()
    }
}

impl Form {
    /// The form a first visit starts from: the basic example (one control-plane node, two
    /// workers, documentation addresses to replace).
    pub fn example() -> Self {
        Self::from_yaml(&example_yaml(ExampleKind::Basic)).unwrap_or_default()
    }

    /// Reads a `cluster.yaml`. Only syntax and shape errors fail here; invalid values are loaded
    /// into the form, where they show next to their fields.
    pub fn from_yaml(text: &str) -> Result<Self, Diagnostics> {
        RawClusterConfig::from_yaml(text).map(|raw| Self::from_raw(&raw))
    }

    /// The form for a cluster document.
    pub fn from_raw(raw: &RawClusterConfig) -> Self {
        let spec = &raw.spec;
        let ha = spec.high_availability.clone().unwrap_or_default();
        let networking = &spec.networking;
        let registry = &spec.registry;
        let proxy = spec.proxy.clone().unwrap_or_default();
        let certificates = &spec.certificates;
        Self {
            name: text(&raw.metadata.name),
            kubernetes_version: text(&spec.kubernetes_version),
            nodes: spec.nodes.iter().map(NodeRow::from_raw).collect(),
            endpoint: text(&spec.control_plane_endpoint),
            ha_mode: text(&ha.mode),
            ha_interface: text(&ha.interface),
            networking: NetworkingForm {
                pod_subnet: text(&networking.pod_subnet),
                service_subnet: text(&networking.service_subnet),
                node_cidr_mask_size: text(&networking.node_cidr_mask_size),
                dns_domain: text(&networking.dns_domain),
                dns_service_ip: text(&networking.dns_service_ip),
                max_pods_per_node: number_text(networking.max_pods_per_node),
                cni: text(&networking.cni),
                mtu: number_text(networking.mtu),
                kube_proxy_mode: text(&networking.kube_proxy_mode),
            },
            ssh: SshForm::from_raw(&spec.ssh),
            runtime: RuntimeForm {
                socket: text(&spec.container_runtime.socket),
                cgroup_driver: text(&spec.container_runtime.cgroup_driver),
            },
            registry: RegistryForm {
                image_repository: text(&registry.image_repository),
                mirrors: registry
                    .mirrors
                    .iter()
                    .map(|mirror| MirrorRow {
                        registry: text(&mirror.registry),
                        endpoints: mirror.endpoints.join(", "),
                    })
                    .collect(),
                credentials: registry
                    .credentials
                    .iter()
                    .map(|credential| CredentialRow {
                        registry: text(&credential.registry),
                        username: text(&credential.username),
                        password: text(&credential.password),
                    })
                    .collect(),
                pull_secret_namespaces: registry
                    .pull_secret_namespaces
                    .as_ref()
                    .map(|list| list.join(", "))
                    .unwrap_or_default(),
            },
            proxy: ProxyForm {
                http: text(&proxy.http),
                https: text(&proxy.https),
                no_proxy: proxy.no_proxy.join(", "),
            },
            certificates: CertificatesForm {
                key_algorithm: text(&certificates.key_algorithm),
                validity: text(&certificates.validity),
                ca_validity: text(&certificates.ca_validity),
                extra_sans: certificates.extra_sans.join(", "),
                bootstrap_token_ttl: text(&certificates.bootstrap_token_ttl),
            },
        }
    }

    /// The cluster document, plus what the form itself could not read (numbers).
    pub fn to_raw(&self) -> (RawClusterConfig, Vec<Diagnostic>) {
        let mut problems = Vec::new();
        let networking = &self.networking;
        let raw_networking = RawNetworking {
            pod_subnet: some(&networking.pod_subnet),
            service_subnet: some(&networking.service_subnet),
            node_cidr_mask_size: some(&networking.node_cidr_mask_size),
            dns_domain: some(&networking.dns_domain),
            dns_service_ip: some(&networking.dns_service_ip),
            max_pods_per_node: number(
                &networking.max_pods_per_node,
                "spec.networking.maxPodsPerNode",
                "a whole number such as 110",
                &mut problems,
            ),
            cni: some(&networking.cni),
            mtu: number(
                &networking.mtu,
                "spec.networking.mtu",
                "a whole number such as 1450, or empty to detect it",
                &mut problems,
            ),
            kube_proxy_mode: some(&networking.kube_proxy_mode),
        };
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| node.to_raw(index, &mut problems))
            .collect();
        let high_availability = (!self.ha_mode.trim().is_empty()
            || !self.ha_interface.trim().is_empty())
        .then(|| RawHighAvailability {
            mode: some(&self.ha_mode),
            interface: some(&self.ha_interface),
        });
        let registry = &self.registry;
        let proxy = &self.proxy;
        let proxy = (!proxy.http.trim().is_empty()
            || !proxy.https.trim().is_empty()
            || some_list(&proxy.no_proxy).is_some())
        .then(|| RawProxy {
            http: some(&proxy.http),
            https: some(&proxy.https),
            no_proxy: list(&proxy.no_proxy),
        });
        let raw = RawClusterConfig {
            api_version: Some(API_VERSION.into()),
            kind: Some(KIND.into()),
            metadata: RawMetadata {
                name: some(&self.name),
            },
            spec: RawSpec {
                kubernetes_version: some(&self.kubernetes_version),
                control_plane_endpoint: some(&self.endpoint),
                high_availability,
                ssh: self.ssh.to_raw("spec.ssh", &mut problems),
                nodes,
                networking: raw_networking,
                container_runtime: RawContainerRuntime {
                    socket: some(&self.runtime.socket),
                    cgroup_driver: some(&self.runtime.cgroup_driver),
                },
                registry: RawRegistry {
                    image_repository: some(&registry.image_repository),
                    mirrors: registry
                        .mirrors
                        .iter()
                        .map(|mirror| RawMirror {
                            registry: some(&mirror.registry),
                            endpoints: list(&mirror.endpoints),
                        })
                        .collect(),
                    credentials: registry
                        .credentials
                        .iter()
                        .map(|credential| RawCredential {
                            registry: some(&credential.registry),
                            username: some(&credential.username),
                            password: some(&credential.password),
                        })
                        .collect(),
                    pull_secret_namespaces: some_list(&registry.pull_secret_namespaces),
                },
                proxy,
                certificates: RawCertificates {
                    key_algorithm: some(&self.certificates.key_algorithm),
                    validity: some(&self.certificates.validity),
                    ca_validity: some(&self.certificates.ca_validity),
                    extra_sans: list(&self.certificates.extra_sans),
                    existing_cas: Default::default(),
                    bootstrap_token_ttl: some(&self.certificates.bootstrap_token_ttl),
                },
            },
        };
        (raw, problems)
    }

    /// Converts and validates with core's validation: what the page shows after every keystroke.
    pub fn check(&self) -> Checked {
        let (raw, mut diagnostics) = self.to_raw();
        let validated = match ClusterConfig::from_raw(&raw) {
            Ok(validated) => {
                diagnostics.extend(validated.warnings.iter().cloned());
                Some(validated)
            }
            Err(found) => {
                diagnostics.extend(found.0);
                None
            }
        };
        let validated = validated.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
        Checked {
            raw,
            diagnostics,
            validated,
        }
    }

    /// The `cluster.yaml` the form stands for (what "Export" saves and the bundle is built from).
    pub fn to_yaml(&self) -> String {
        self.to_raw().0.to_yaml()
    }

    /// The form as it may be kept in the browser's storage: registry passwords blanked.
    pub fn for_storage(&self) -> Self {
        let mut form = self.clone();
        for credential in &mut form.registry.credentials {
            credential.password.clear();
        }
        form
    }

    /// Whether the HA endpoint fields matter: more than one control-plane node, or an endpoint
    /// already written.
    pub fn needs_endpoint(&self) -> bool {
        self.nodes.iter().filter(|node| node.control_plane).count() > 1
            || !self.endpoint.trim().is_empty()
    }

    /// Adds a node with the next free name; the first node is a control-plane node, the others
    /// workers.
    pub fn add_node(&mut self, address: &str) {
        let first = self.nodes.is_empty();
        let name = self.free_name(if first { "cp" } else { "worker" });
        self.nodes.push(NodeRow {
            name,
            address: address.trim().to_owned(),
            control_plane: first,
            etcd: false,
            worker: !first,
            ..NodeRow::default()
        });
    }

    /// Adds one node per address in `text` (separated by new lines, commas, semicolons or spaces;
    /// a dual-stack pair may be written `IPv4,IPv6` on its own line). Returns how many were added.
    pub fn paste_addresses(&mut self, text: &str) -> usize {
        let mut added = 0;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line
                .split([',', ';', ' ', '\t'])
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .collect();
            // "192.0.2.1,2001:db8::1" on one line is one dual-stack node.
            let dual_stack_pair = parts.len() == 2
                && parts[0].contains('.') != parts[1].contains('.')
                && parts.iter().all(|p| p.contains('.') || p.contains(':'));
            if dual_stack_pair {
                self.add_node(&format!("{},{}", parts[0], parts[1]));
                added += 1;
            } else {
                for part in parts {
                    self.add_node(part);
                    added += 1;
                }
            }
        }
        added
    }

    fn free_name(&self, prefix: &str) -> String {
        (1..)
            .map(|number| format!("{prefix}{number}"))
            .find(|name| self.nodes.iter().all(|node| &node.name != name))
            .unwrap_or_else(|| prefix.to_owned())
    }
}

impl NodeRow {
    fn from_raw(raw: &RawNode) -> Self {
        let has = |role: &str| raw.roles.iter().any(|r| r == role);
        Self {
            name: text(&raw.name),
            address: text(&raw.address),
            control_plane: has("control-plane"),
            etcd: has("etcd"),
            worker: has("worker"),
            labels: raw
                .labels
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(", "),
            taints: raw.taints.join(", "),
            ssh: SshForm::from_raw(&raw.ssh),
        }
    }

    fn to_raw(&self, index: usize, problems: &mut Vec<Diagnostic>) -> RawNode {
        let path = format!("spec.nodes[{index}]");
        let roles = [
            (self.control_plane, "control-plane"),
            (self.etcd, "etcd"),
            (self.worker, "worker"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| name.to_owned())
        .collect();
        let mut labels = BTreeMap::new();
        for entry in list(&self.labels) {
            match entry.split_once('=') {
                Some((key, value)) => {
                    labels.insert(key.trim().to_owned(), value.trim().to_owned());
                }
                None => problems.push(
                    Diagnostic::error(format!("{path}.labels"), "a label without `=`")
                        .value(&entry)
                        .hint("write labels as key=value, separated by commas"),
                ),
            }
        }
        RawNode {
            name: some(&self.name),
            address: some(&self.address.replace(' ', "")),
            roles,
            ssh: self.ssh.to_raw(&format!("{path}.ssh"), problems),
            labels,
            taints: list(&self.taints),
        }
    }
}

impl SshForm {
    fn from_raw(raw: &RawSsh) -> Self {
        Self {
            user: text(&raw.user),
            port: number_text(raw.port),
            identity_file: text(&raw.identity_file),
            jump_hosts: raw
                .jump_hosts
                .as_ref()
                .map(|hosts| hosts.join(", "))
                .unwrap_or_default(),
        }
    }

    fn to_raw(&self, path: &str, problems: &mut Vec<Diagnostic>) -> RawSsh {
        RawSsh {
            user: some(&self.user),
            port: number(
                &self.port,
                &format!("{path}.port"),
                "a TCP port from 1 to 65535, usually 22",
                problems,
            ),
            identity_file: some(&self.identity_file),
            jump_hosts: some_list(&self.jump_hosts),
        }
    }
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

fn number_text<T: ToString>(value: Option<T>) -> String {
    value.map(|number| number.to_string()).unwrap_or_default()
}

/// Empty means "not set": the field takes its default.
fn some(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn list(value: &str) -> Vec<String> {
    value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A list that is "not set" when it holds no item: separators alone (`, ,`) are as empty as
/// an empty box (and `noProxy` alone makes no `proxy` section). Otherwise `[]` would reach the document, which means "none" where not set
/// means "the default" (a node's jump hosts, the pull-secret namespaces), and the form, which
/// shows both as an empty box, would read the exported file back as the other (issue #17).
fn some_list(value: &str) -> Option<Vec<String>> {
    let items = list(value);
    (!items.is_empty()).then_some(items)
}

fn number<T: std::str::FromStr>(
    value: &str,
    path: &str,
    hint: &str,
    problems: &mut Vec<Diagnostic>,
) -> Option<T> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    match value.parse() {
        Ok(number) => Some(number),
        Err(_) => {
            problems.push(
                Diagnostic::error(path, "not a number in range")
                    .value(value)
                    .hint(hint),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_survive_a_round_trip_through_the_form() {
        for kind in [ExampleKind::Basic, ExampleKind::HighAvailability] {
            let raw = RawClusterConfig::from_yaml(&example_yaml(kind)).expect("parses");
            let form = Form::from_raw(&raw);
            let (back, problems) = form.to_raw();
            assert!(problems.is_empty(), "{problems:?}");
            assert_eq!(back, raw, "{kind:?}");
        }
    }

    #[test]
    fn every_fixture_survives_a_round_trip_through_the_form() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/clusters");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|ext| ext != "yaml") {
                continue;
            }
            let yaml = std::fs::read_to_string(&path).expect("reads");
            let raw = RawClusterConfig::from_yaml(&yaml).expect("parses");
            let form = Form::from_raw(&raw);
            let (back, problems) = form.to_raw();
            assert!(problems.is_empty(), "{}: {problems:?}", path.display());
            // existingCAs are file paths on the operator's machine: the browser cannot read
            // them, so the form does not carry them (the page asks for the files instead).
            let mut expected = raw.clone();
            expected.spec.certificates.existing_cas = Default::default();
            assert_eq!(back, expected, "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 3, "only {seen} fixtures");
    }

    #[test]
    fn the_example_form_is_valid_and_downloadable() {
        let checked = Form::example().check();
        assert!(checked.validated.is_some(), "{:?}", checked.diagnostics);
        assert_eq!(checked.errors().count(), 0);
    }

    #[test]
    fn a_bad_address_is_reported_on_its_field() {
        let mut form = Form::example();
        form.nodes[1].address = "192.0.2.300".into();
        let checked = form.check();
        assert!(checked.validated.is_none());
        let errors: Vec<_> = checked.about("spec.nodes[1]");
        assert!(
            errors
                .iter()
                .any(|d| d.path == "spec.nodes[1].address" && d.hint.is_some()),
            "{errors:?}"
        );
        assert_eq!(checked.about("spec.nodes[0]").len(), 0);
        // A prefix that is not a whole path step claims nothing.
        assert_eq!(checked.about("spec.nodes[1").len(), 0);
    }

    #[test]
    fn an_unreadable_number_is_an_error_on_its_field_and_blocks_the_download() {
        let mut form = Form::example();
        form.ssh.port = "twenty-two".into();
        form.networking.mtu = "-5".into();
        let checked = form.check();
        assert!(checked.validated.is_none());
        assert_eq!(checked.about("spec.ssh.port").len(), 1);
        assert_eq!(checked.about("spec.networking.mtu").len(), 1);
    }

    #[test]
    fn empty_fields_take_their_defaults() {
        let mut form = Form::example();
        form.networking = NetworkingForm::default();
        form.certificates = CertificatesForm::default();
        let checked = form.check();
        let config = checked.validated.expect("valid with defaults").config;
        assert_eq!(
            config.networking.primary().pod_subnet.to_string(),
            "10.244.0.0/16"
        );
    }

    #[test]
    fn pasting_a_list_adds_a_node_per_address() {
        let mut form = Form::default();
        let added = form.paste_addresses(
            "198.51.100.10\n198.51.100.11, 198.51.100.12\n# comment\n198.51.100.13,2001:db8::13\n",
        );
        assert_eq!(added, 4);
        let names: Vec<_> = form.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["cp1", "worker1", "worker2", "worker3"]);
        assert!(form.nodes[0].control_plane && !form.nodes[0].worker);
        assert_eq!(form.nodes[3].address, "198.51.100.13,2001:db8::13");
    }

    #[test]
    fn three_addresses_make_a_valid_three_node_cluster() {
        let mut form = Form::example();
        form.nodes.clear();
        form.paste_addresses("198.51.100.10 198.51.100.11 198.51.100.12");
        assert!(form.check().validated.is_some());
        assert!(!form.needs_endpoint());
        form.nodes[1].control_plane = true;
        form.nodes[2].control_plane = true;
        assert!(form.needs_endpoint());
        let checked = form.check();
        assert!(
            !checked.about("spec.controlPlaneEndpoint").is_empty(),
            "{:?}",
            checked.diagnostics
        );
    }

    #[test]
    fn storage_never_holds_passwords() {
        let mut form = Form::example();
        form.registry.credentials.push(CredentialRow {
            registry: "registry.example.com".into(),
            username: "puller".into(),
            password: "s3cret-token".into(),
        });
        let stored = serde_json::to_string(&form.for_storage()).expect("json");
        assert!(!stored.contains("s3cret-token"));
        assert!(stored.contains("puller"));
        let back: Form = serde_json::from_str(&stored).expect("reads back");
        assert_eq!(back.registry.credentials[0].password, "");
    }

    // Found by fuzzing the form (issue #17): `,` alone became `jumpHosts: []`, "no jump hosts"
    // instead of "the defaults", and the exported file read back as the other.
    #[test]
    fn separators_alone_leave_a_list_unset() {
        let mut form = Form::example();
        form.ssh.jump_hosts = " , ,".into();
        form.nodes[0].ssh.jump_hosts = ",".into();
        form.registry.pull_secret_namespaces = ",\n".into();
        form.proxy.no_proxy = ",".into();
        let (raw, problems) = form.to_raw();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(raw.spec.ssh.jump_hosts, None);
        assert_eq!(raw.spec.nodes[0].ssh.jump_hosts, None);
        assert_eq!(raw.spec.registry.pull_secret_namespaces, None);
        assert_eq!(raw.spec.proxy, None);
        assert_eq!(Form::from_raw(&raw).to_raw().0, raw);
    }

    #[test]
    fn labels_without_equals_are_reported() {
        let mut form = Form::example();
        form.nodes[0].labels = "disk=ssd, gpu".into();
        let checked = form.check();
        let found: Vec<_> = checked.about("spec.nodes[0].labels");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].value.as_deref(), Some("gpu"));
    }
}
