//! The web page's door: its form model (`web/src/form.rs`, every input a string or a check box)
//! → `Form::check`, the checked document the page shows after every keystroke. The fuzzer
//! fills any field of the basic example's form with any text (or one that matters: an address,
//! a range, a number out of range), pastes address lists and imports cluster.yaml text, as a
//! user of the page can.
//!
//! Invariants, besides "no panic":
//! - the page offers the bundle (a validated config) exactly when no finding is an error;
//! - every finding names a field path of the document the form stands for, or of the schema;
//! - what the page exports (`to_yaml`) validates to the config the page showed as valid;
//! - form → document → form → document is the same document;
//! - what may be stored holds no password; a paste adds as many nodes as it says.
//!
//! The mirror types below derive `Arbitrary` so that the web crate needs no fuzzing dependency;
//! they are built with every field named, so a field added to the form fails to compile here
//! until the fuzzer fills it too.

use arbitrary::{Arbitrary, Unstructured};
use kbundle_core::config::ClusterConfig;
use kbundle_web::form::{
    CertificatesForm, CredentialRow, Form, MirrorRow, NetworkingForm, NodeRow, ProxyForm,
    RegistryForm, RuntimeForm, SshForm,
};

use super::paths::unknown_path;

/// A field's new text, or `None`: it keeps the example's.
type Field = Option<Text>;

#[derive(Debug, Arbitrary)]
enum Text {
    Known(u8),
    Any(String),
    Empty,
}

/// Texts the page's fields are read as: numbers at their edges, addresses, lists.
const INTERESTING: &[&str] = &[
    "0",
    "1",
    "65535",
    "65536",
    "-1",
    "4294967295",
    "4294967296",
    " 22 ",
    "+22",
    "192.0.2.11",
    "192.0.2.11, 2001:db8::11",
    "2001:db8::11",
    "10.244.0.0/16",
    "10.244.0.0/16,fd00:10:244::/56",
    "10.96.0.0/12",
    "24",
    "24,64",
    "1.37",
    "kube-vip",
    "external",
    "192.0.2.10:6443",
    "a=b, c",
    "=, =",
    "k=v=w",
    "a:NoSchedule, b=c:NoExecute",
    "host1, host2",
    ",,,",
    "\n",
    "RSA-2048",
    "1h",
    "cp1",
    "http://user:secret@proxy.example.com:3128",
];

impl Text {
    fn text(&self) -> String {
        match self {
            Self::Known(index) => INTERESTING[usize::from(*index) % INTERESTING.len()].to_owned(),
            Self::Any(text) => text.clone(),
            Self::Empty => String::new(),
        }
    }
}

fn fill(target: &mut String, field: &Field) {
    if let Some(text) = field {
        *target = text.text();
    }
}

#[derive(Debug, Arbitrary)]
struct SshInput {
    user: Field,
    port: Field,
    identity_file: Field,
    jump_hosts: Field,
}

impl SshInput {
    fn apply(&self, ssh: &mut SshForm) {
        let SshForm {
            user,
            port,
            identity_file,
            jump_hosts,
        } = ssh;
        fill(user, &self.user);
        fill(port, &self.port);
        fill(identity_file, &self.identity_file);
        fill(jump_hosts, &self.jump_hosts);
    }
}

#[derive(Debug, Arbitrary)]
struct NodeInput {
    name: Field,
    address: Field,
    control_plane: Option<bool>,
    etcd: Option<bool>,
    worker: Option<bool>,
    labels: Field,
    taints: Field,
    ssh: Option<SshInput>,
}

impl NodeInput {
    fn apply(&self, node: &mut NodeRow) {
        let NodeRow {
            name,
            address,
            control_plane,
            etcd,
            worker,
            labels,
            taints,
            ssh,
        } = node;
        fill(name, &self.name);
        fill(address, &self.address);
        *control_plane = self.control_plane.unwrap_or(*control_plane);
        *etcd = self.etcd.unwrap_or(*etcd);
        *worker = self.worker.unwrap_or(*worker);
        fill(labels, &self.labels);
        fill(taints, &self.taints);
        if let Some(input) = &self.ssh {
            input.apply(ssh);
        }
    }
}

/// One thing a user does on the page.
#[derive(Debug, Arbitrary)]
enum Action {
    /// Edits the `index`-th node (or adds one when there is none).
    EditNode(u8, NodeInput),
    AddNode(Text),
    RemoveNode(u8),
    Paste(Text),
    AddMirror(Field, Field),
    AddCredential(Field, Field, Field),
    /// Loads a cluster.yaml into the form, as the page's import does.
    Import(String),
}

#[derive(Debug, Arbitrary)]
struct FormInput {
    name: Field,
    kubernetes_version: Field,
    endpoint: Field,
    ha_mode: Field,
    ha_interface: Field,
    pod_subnet: Field,
    service_subnet: Field,
    node_cidr_mask_size: Field,
    dns_domain: Field,
    dns_service_ip: Field,
    max_pods_per_node: Field,
    cni: Field,
    mtu: Field,
    kube_proxy_mode: Field,
    ssh: SshInput,
    socket: Field,
    cgroup_driver: Field,
    image_repository: Field,
    pull_secret_namespaces: Field,
    http: Field,
    https: Field,
    no_proxy: Field,
    key_algorithm: Field,
    validity: Field,
    ca_validity: Field,
    bootstrap_token_ttl: Field,
    extra_sans: Field,
    actions: Vec<Action>,
}

impl FormInput {
    fn form(&self) -> Form {
        let mut form = Form::example();
        let Form {
            name,
            kubernetes_version,
            nodes: _,
            endpoint,
            ha_mode,
            ha_interface,
            networking,
            ssh,
            runtime,
            registry,
            proxy,
            certificates,
        } = &mut form;
        fill(name, &self.name);
        fill(kubernetes_version, &self.kubernetes_version);
        fill(endpoint, &self.endpoint);
        fill(ha_mode, &self.ha_mode);
        fill(ha_interface, &self.ha_interface);
        let NetworkingForm {
            pod_subnet,
            service_subnet,
            node_cidr_mask_size,
            dns_domain,
            dns_service_ip,
            max_pods_per_node,
            cni,
            mtu,
            kube_proxy_mode,
        } = networking;
        fill(pod_subnet, &self.pod_subnet);
        fill(service_subnet, &self.service_subnet);
        fill(node_cidr_mask_size, &self.node_cidr_mask_size);
        fill(dns_domain, &self.dns_domain);
        fill(dns_service_ip, &self.dns_service_ip);
        fill(max_pods_per_node, &self.max_pods_per_node);
        fill(cni, &self.cni);
        fill(mtu, &self.mtu);
        fill(kube_proxy_mode, &self.kube_proxy_mode);
        self.ssh.apply(ssh);
        let RuntimeForm {
            socket,
            cgroup_driver,
        } = runtime;
        fill(socket, &self.socket);
        fill(cgroup_driver, &self.cgroup_driver);
        let RegistryForm {
            image_repository,
            mirrors: _,
            credentials: _,
            pull_secret_namespaces,
        } = registry;
        fill(image_repository, &self.image_repository);
        fill(pull_secret_namespaces, &self.pull_secret_namespaces);
        let ProxyForm {
            http,
            https,
            no_proxy,
        } = proxy;
        fill(http, &self.http);
        fill(https, &self.https);
        fill(no_proxy, &self.no_proxy);
        let CertificatesForm {
            key_algorithm,
            validity,
            ca_validity,
            extra_sans,
            bootstrap_token_ttl,
        } = certificates;
        fill(key_algorithm, &self.key_algorithm);
        fill(validity, &self.validity);
        fill(ca_validity, &self.ca_validity);
        fill(bootstrap_token_ttl, &self.bootstrap_token_ttl);
        fill(extra_sans, &self.extra_sans);
        for action in self.actions.iter().take(8) {
            act(&mut form, action);
        }
        form
    }
}

fn act(form: &mut Form, action: &Action) {
    match action {
        Action::EditNode(index, input) => {
            if form.nodes.is_empty() {
                form.add_node("");
            }
            let index = usize::from(*index) % form.nodes.len();
            input.apply(&mut form.nodes[index]);
        }
        Action::AddNode(address) => form.add_node(&address.text()),
        Action::RemoveNode(index) => {
            if !form.nodes.is_empty() {
                let index = usize::from(*index) % form.nodes.len();
                form.nodes.remove(index);
            }
        }
        Action::Paste(text) => {
            let before = form.nodes.len();
            let added = form.paste_addresses(&text.text());
            assert_eq!(form.nodes.len(), before + added, "a paste miscounts");
        }
        Action::AddMirror(registry, endpoints) => {
            let mut row = MirrorRow::default();
            fill(&mut row.registry, registry);
            fill(&mut row.endpoints, endpoints);
            form.registry.mirrors.push(row);
        }
        Action::AddCredential(registry, username, password) => {
            let mut row = CredentialRow::default();
            fill(&mut row.registry, registry);
            fill(&mut row.username, username);
            fill(&mut row.password, password);
            form.registry.credentials.push(row);
        }
        Action::Import(text) => {
            if let Ok(imported) = Form::from_yaml(text) {
                *form = imported;
            }
        }
    }
}

/// The `form` target.
pub fn run(data: &[u8]) {
    let Ok(input) = FormInput::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    check(&input.form());
}

/// Checks `form` as the page would, with the invariants of the module doc.
pub fn check(form: &Form) {
    let checked = form.check();
    let has_errors = checked.errors().next().is_some();
    assert_eq!(
        checked.validated.is_some(),
        !has_errors,
        "the page offers a bundle with errors, or none without: {:?}",
        checked.diagnostics
    );
    let document = serde_yaml::to_value(&checked.raw).ok();
    for diagnostic in &checked.diagnostics {
        if let Some(problem) = unknown_path(document.as_ref(), &diagnostic.path) {
            panic!("a finding names no field of the form: {problem}: {diagnostic:?}");
        }
    }
    let yaml = form.to_yaml();
    if let Some(validated) = &checked.validated {
        let exported = ClusterConfig::from_yaml(&yaml).unwrap_or_else(|found| {
            panic!("the page shows a valid form whose export is refused: {found:?}\n{yaml}")
        });
        assert_eq!(
            exported.config, validated.config,
            "the export is another cluster than the page showed\n{yaml}"
        );
    }
    let (raw, _) = form.to_raw();
    let (again, _) = Form::from_raw(&raw).to_raw();
    assert_eq!(again, raw, "form → document → form changes the document");
    let stored = form.for_storage();
    assert!(
        stored
            .registry
            .credentials
            .iter()
            .all(|credential| credential.password.is_empty()),
        "a password would be stored"
    );
}
