//! The page: the form (left), the live network plan with its address-space picture and the
//! download (right). Every edit goes through [`Msg::Edit`], after which the form is checked again
//! with core's validation and saved to local storage (without passwords), so the page can never
//! hold a state it does not show the problems of.

use std::rc::Rc;

use kbundle_core::config::{Diagnostic, Severity};
use kbundle_core::plan::NetworkPlan;
use kbundle_core::versions::RELEASES;
use web_sys::{DragEvent, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::address_map::{self, FamilyMap};
use crate::browser;
use crate::build::bundle_file_name;
use crate::form::{Checked, CredentialRow, Form, MirrorRow};

/// Sets a text field of the form.
type SetText = Rc<dyn Fn(&mut Form, String)>;
/// Sets a check box of the form.
type SetFlag = Rc<dyn Fn(&mut Form, bool)>;

/// What can happen on the page.
pub enum Msg {
    /// Change the form.
    Edit(Box<dyn FnOnce(&mut Form)>),
    /// The "paste addresses" box changed.
    PasteBuffer(String),
    /// Add a node per pasted address.
    AddPasted,
    /// The "import YAML" box changed.
    ImportBuffer(String),
    /// Load the text of the import box.
    ImportFromBuffer,
    /// Load a picked or dropped file.
    ImportFile(web_sys::File),
    /// A file's text arrived.
    ImportText(Result<String, String>),
    /// Save cluster.yaml.
    Export,
    /// Back to the example, forgetting the saved form.
    StartOver,
    /// The passphrase box changed (never stored).
    Passphrase(String),
    /// Build and download the bundle.
    Build,
    /// The worker reached a stage.
    Progress(String),
    /// The worker finished.
    Built(Result<browser::Built, String>),
}

/// The outcome of the last build.
struct Download {
    name: String,
    bytes: usize,
    millis: f64,
    encrypted: bool,
}

/// The page's state.
pub struct App {
    form: Form,
    checked: Checked,
    /// The plan of the form when valid, else of the last valid form (shown dimmed).
    plan: Option<NetworkPlan>,
    paste_buffer: String,
    import_buffer: String,
    import_message: Option<Result<String, String>>,
    passphrase: String,
    building: bool,
    progress: String,
    download: Option<Result<Download, String>>,
}

impl App {
    /// Checks the form again; a valid form replaces the plan, an invalid one keeps the last.
    fn recheck(&mut self) {
        self.checked = self.form.check();
        if let Some(plan) = plan_of(&self.checked) {
            self.plan = Some(plan);
        }
    }

    /// After an edit: check again and keep the form for the next visit.
    fn refresh(&mut self) {
        self.recheck();
        browser::save_form(&self.form);
    }

    /// Whether the plan shown is the form's own (else the last valid one).
    fn plan_is_current(&self) -> bool {
        self.checked.validated.is_some()
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(_ctx: &Context<Self>) -> Self {
        let form = browser::load_form().unwrap_or_else(Form::example);
        let checked = form.check();
        Self {
            plan: plan_of(&checked),
            checked,
            form,
            paste_buffer: String::new(),
            import_buffer: String::new(),
            import_message: None,
            passphrase: String::new(),
            building: false,
            progress: String::new(),
            download: None,
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Self::Message) -> bool {
        match msg {
            Msg::Edit(edit) => {
                edit(&mut self.form);
                self.download = None;
                self.refresh();
            }
            Msg::PasteBuffer(text) => self.paste_buffer = text,
            Msg::AddPasted => {
                if self.form.paste_addresses(&self.paste_buffer) > 0 {
                    self.paste_buffer.clear();
                    self.refresh();
                }
            }
            Msg::ImportBuffer(text) => self.import_buffer = text,
            Msg::ImportFromBuffer => {
                let text = std::mem::take(&mut self.import_buffer);
                ctx.link().send_message(Msg::ImportText(Ok(text)));
            }
            Msg::ImportFile(file) => {
                ctx.link()
                    .send_future(async move { Msg::ImportText(browser::read_file(file).await) });
            }
            Msg::ImportText(Ok(text)) => match Form::from_yaml(&text) {
                Ok(form) => {
                    self.form = form;
                    self.download = None;
                    self.import_message = Some(Ok(format!(
                        "Loaded a cluster of {} node(s).",
                        self.form.nodes.len()
                    )));
                    self.refresh();
                }
                Err(diagnostics) => {
                    let first = diagnostics.0.first().map(Diagnostic::to_string);
                    self.import_message = Some(Err(format!(
                        "Not loaded: {}",
                        first.unwrap_or_else(|| diagnostics.to_string())
                    )));
                }
            },
            Msg::ImportText(Err(error)) => {
                self.import_message = Some(Err(format!("Could not read the file: {error}")));
            }
            Msg::Export => {
                let name = match self.form.name.trim() {
                    "" => "cluster.yaml".to_owned(),
                    name => format!("{name}.yaml"),
                };
                if let Err(error) =
                    browser::download(&name, "application/yaml", self.form.to_yaml().as_bytes())
                {
                    self.import_message = Some(Err(error));
                }
            }
            Msg::StartOver => {
                browser::clear_saved_form();
                self.form = Form::example();
                self.download = None;
                self.import_message = None;
                self.refresh();
            }
            Msg::Passphrase(text) => self.passphrase = text,
            Msg::Build => {
                if self.building || self.checked.validated.is_none() {
                    return false;
                }
                self.building = true;
                self.download = None;
                self.progress = "Starting…".into();
                let yaml = self.form.to_yaml();
                let passphrase = self.passphrase.clone();
                let link = ctx.link().clone();
                let started = browser::now_millis();
                ctx.link().send_future(async move {
                    let progress_link = link.clone();
                    let result = browser::build_in_worker(&yaml, &passphrase, move |stage| {
                        progress_link.send_message(Msg::Progress(stage));
                    })
                    .await;
                    browser::record_timing("lastBuildMillis", browser::now_millis() - started);
                    Msg::Built(result)
                });
            }
            Msg::Progress(stage) => self.progress = stage,
            Msg::Built(result) => {
                self.building = false;
                let name = bundle_file_name(&self.form.name);
                self.download = Some(result.and_then(|built| {
                    browser::download(&name, "application/zip", &built.zip)?;
                    Ok(Download {
                        name,
                        bytes: built.zip.len(),
                        millis: built.millis,
                        encrypted: !self.passphrase.is_empty(),
                    })
                }));
            }
        }
        true
    }

    fn rendered(&mut self, _ctx: &Context<Self>, first_render: bool) {
        if first_render {
            browser::record_timing("firstRender", browser::now_millis());
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        html! {
            <>
            <header class="top">
                <h1>{"kbundle"}</h1>
                <p class="tagline">{"Describe your machines, check the plan, download one bundle, then "}
                    <code>{"kbundle apply"}</code>{". Everything happens in this page: nothing is sent anywhere."}</p>
            </header>
            <main class="layout">
                <section class="form" aria-label="Cluster">
                    { self.view_import(ctx) }
                    { self.view_cluster(ctx) }
                    { self.view_nodes(ctx) }
                    { self.view_endpoint(ctx) }
                    { self.view_networking(ctx) }
                    { self.view_registry(ctx) }
                    { self.view_proxy(ctx) }
                    { self.view_certificates(ctx) }
                    { self.view_ssh(ctx) }
                </section>
                <aside class="side" aria-label="Plan and download">
                    { self.view_download(ctx) }
                    { self.view_plan() }
                </aside>
            </main>
            <footer class="bottom">
                <p>{"kbundle configurator. Works offline; keys are made in this tab and exist only in the zip you save."}</p>
            </footer>
            </>
        }
    }
}

// ----- form sections -----

impl App {
    fn view_import(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link().clone();
        let on_pick = ctx.link().batch_callback(|event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            let file = input.files().and_then(|files| files.get(0));
            input.set_value("");
            file.map(Msg::ImportFile)
        });
        let on_drop = link.batch_callback(|event: DragEvent| {
            event.prevent_default();
            event
                .data_transfer()
                .and_then(|transfer| transfer.files())
                .and_then(|files| files.get(0))
                .map(Msg::ImportFile)
        });
        let on_dragover = Callback::from(|event: DragEvent| event.prevent_default());
        html! {
            <details class="card import" id="import">
                <summary>{"Import or export cluster.yaml"}</summary>
                <div class="dropzone" ondrop={on_drop} ondragover={on_dragover}>
                    <label for="import-file">{"Drop a cluster.yaml here, or choose a file: "}</label>
                    <input id="import-file" type="file" accept=".yaml,.yml,text/yaml" onchange={on_pick}/>
                </div>
                <label for="import-text">{"…or paste it:"}</label>
                <textarea id="import-text" rows="6" spellcheck="false" value={self.import_buffer.clone()}
                    oninput={ctx.link().callback(|e: InputEvent| Msg::ImportBuffer(textarea_value(&e)))}/>
                <div class="buttons">
                    <button type="button" id="import-load" onclick={ctx.link().callback(|_| Msg::ImportFromBuffer)}
                        disabled={self.import_buffer.trim().is_empty()}>{"Load pasted YAML"}</button>
                    <button type="button" id="export" onclick={ctx.link().callback(|_| Msg::Export)}>{"Export cluster.yaml"}</button>
                    <button type="button" class="secondary" id="start-over" onclick={ctx.link().callback(|_| Msg::StartOver)}>{"Start over from the example"}</button>
                </div>
                { match &self.import_message {
                    Some(Ok(text)) => html! { <p class="notice" role="status">{text}</p> },
                    Some(Err(text)) => html! { <p class="error" role="alert">{text}</p> },
                    None => html! {},
                } }
            </details>
        }
    }

    fn view_cluster(&self, ctx: &Context<Self>) -> Html {
        let mut versions = vec![(String::new(), "newest supported".to_owned())];
        for release in RELEASES.iter().rev() {
            let minor = format!("1.{}", release.minor);
            versions.push((
                minor.clone(),
                format!("{minor} (1.{}.{})", release.minor, release.latest_patch),
            ));
        }
        html! {
            <fieldset class="card">
                <legend>{"Cluster"}</legend>
                <div class="grid">
                    { self.text(ctx, "Name", "metadata.name", &self.form.name, "A DNS label: lower case, digits, dashes.",
                        Rc::new(|f, v| f.name = v)) }
                    { self.select(ctx, "Kubernetes version", "spec.kubernetesVersion", &self.form.kubernetes_version, &versions,
                        Rc::new(|f, v| f.kubernetes_version = v)) }
                </div>
            </fieldset>
        }
    }

    fn view_nodes(&self, ctx: &Context<Self>) -> Html {
        let rows = self.form.nodes.iter().enumerate().map(|(index, node)| {
            let path = format!("spec.nodes[{index}]");
            let remove = ctx.link().callback(move |_| edit(move |f| {
                if index < f.nodes.len() {
                    f.nodes.remove(index);
                }
            }));
            let row_errors = self.checked.about(&path).into_iter().filter(|d| {
                // Field-level findings are shown at their fields; the rest at the row.
                !["name", "address", "labels", "taints", "ssh"].iter().any(|field| {
                    d.path.starts_with(&format!("{path}.{field}"))
                })
            });
            let row_errors: Vec<&Diagnostic> = row_errors.collect();
            html! {
                <li class="node" key={index}>
                    <div class="node-main">
                        { self.text(ctx, "Name", &format!("{path}.name"), &node.name, "",
                            Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.name = v })) }
                        { self.text(ctx, "Address", &format!("{path}.address"), &node.address, "IPv4, IPv6, or both as IPv4,IPv6",
                            Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.address = v })) }
                        <fieldset class="roles">
                            <legend>{"Roles"}</legend>
                            { self.flag(ctx, "control plane", &format!("{path}.roles.cp"), node.control_plane,
                                Rc::new(move |f, on| if let Some(n) = f.nodes.get_mut(index) { n.control_plane = on })) }
                            { self.flag(ctx, "etcd", &format!("{path}.roles.etcd"), node.etcd,
                                Rc::new(move |f, on| if let Some(n) = f.nodes.get_mut(index) { n.etcd = on })) }
                            { self.flag(ctx, "worker", &format!("{path}.roles.worker"), node.worker,
                                Rc::new(move |f, on| if let Some(n) = f.nodes.get_mut(index) { n.worker = on })) }
                        </fieldset>
                        <button type="button" class="remove" aria-label={format!("Remove node {}", node.name)}
                            onclick={remove}>{"Remove"}</button>
                    </div>
                    { diagnostics_list(&row_errors) }
                    <details class="advanced">
                        <summary>{"Labels, taints, SSH for this node"}</summary>
                        <div class="grid">
                            { self.text(ctx, "Labels", &format!("{path}.labels"), &node.labels, "key=value, separated by commas",
                                Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.labels = v })) }
                            { self.text(ctx, "Taints", &format!("{path}.taints"), &node.taints, "key[=value]:NoSchedule, …",
                                Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.taints = v })) }
                            { self.text(ctx, "SSH user", &format!("{path}.ssh.user"), &node.ssh.user, "default: the cluster's",
                                Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.ssh.user = v })) }
                            { self.text(ctx, "SSH port", &format!("{path}.ssh.port"), &node.ssh.port, "default: the cluster's",
                                Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.ssh.port = v })) }
                        </div>
                    </details>
                </li>
            }
        });
        let add = ctx.link().callback(|_| edit(|f| f.add_node("")));
        let spec_nodes: Vec<&Diagnostic> = self
            .checked
            .diagnostics
            .iter()
            .filter(|d| d.path == "spec.nodes")
            .collect();
        html! {
            <fieldset class="card" id="nodes">
                <legend>{format!("Nodes ({})", self.form.nodes.len())}</legend>
                { diagnostics_list(&spec_nodes) }
                <ol class="nodes">{ for rows }</ol>
                <div class="buttons">
                    <button type="button" id="add-node" onclick={add}>{"Add a node"}</button>
                </div>
                <label for="paste-addresses">{"Paste addresses (one node each; the first becomes the control plane if the list is empty):"}</label>
                <textarea id="paste-addresses" rows="3" spellcheck="false" value={self.paste_buffer.clone()}
                    placeholder="198.51.100.10\n198.51.100.11\n198.51.100.12"
                    oninput={ctx.link().callback(|e: InputEvent| Msg::PasteBuffer(textarea_value(&e)))}/>
                <div class="buttons">
                    <button type="button" id="add-pasted" onclick={ctx.link().callback(|_| Msg::AddPasted)}
                        disabled={self.paste_buffer.trim().is_empty()}>{"Add these nodes"}</button>
                </div>
            </fieldset>
        }
    }

    fn view_endpoint(&self, ctx: &Context<Self>) -> Html {
        if !self.form.needs_endpoint() {
            return html! {};
        }
        let modes = [
            ("", "kube-vip on the control-plane nodes (default)"),
            (
                "kube-vip",
                "kube-vip: a virtual IP held by a healthy control-plane node",
            ),
            ("external", "external: my own load balancer"),
        ];
        html! {
            <fieldset class="card" id="endpoint">
                <legend>{"High availability"}</legend>
                <p class="help">{"Several control-plane nodes need one address in front of them; every kubeconfig and kube-proxy use it."}</p>
                <div class="grid">
                    { self.text(ctx, "Endpoint (host:port)", "spec.controlPlaneEndpoint", &self.form.endpoint,
                        "A free IP on the node network for kube-vip, or your load balancer, e.g. 198.51.100.100:6443",
                        Rc::new(|f, v| f.endpoint = v)) }
                    { self.select(ctx, "Provided by", "spec.highAvailability.mode", &self.form.ha_mode, &owned(&modes),
                        Rc::new(|f, v| f.ha_mode = v)) }
                    { self.text(ctx, "VIP interface", "spec.highAvailability.interface", &self.form.ha_interface,
                        "kube-vip only; default: the interface that holds the node's address", Rc::new(|f, v| f.ha_interface = v)) }
                </div>
            </fieldset>
        }
    }

    fn view_networking(&self, ctx: &Context<Self>) -> Html {
        let n = &self.form.networking;
        let cnis = [
            ("", "flannel (default)"),
            ("flannel", "flannel"),
            ("none", "none: I install my own"),
        ];
        let proxy_modes = [
            ("", "iptables (default)"),
            ("iptables", "iptables"),
            ("nftables", "nftables"),
            ("ipvs", "ipvs"),
        ];
        html! {
            <fieldset class="card" id="networking">
                <legend>{"Networking"}</legend>
                <div class="grid">
                    { self.text(ctx, "Pod range", "spec.networking.podSubnet", &n.pod_subnet,
                        "default 10.244.0.0/16; v4,v6 for dual-stack", Rc::new(|f, v| f.networking.pod_subnet = v)) }
                    { self.text(ctx, "Service range", "spec.networking.serviceSubnet", &n.service_subnet,
                        "default 10.96.0.0/12; same families as the pod range", Rc::new(|f, v| f.networking.service_subnet = v)) }
                    { self.text(ctx, "Node range size", "spec.networking.nodeCIDRMaskSize", &n.node_cidr_mask_size,
                        "prefix of each node's pod range: 24, or 24,64 for dual-stack", Rc::new(|f, v| f.networking.node_cidr_mask_size = v)) }
                    { self.select(ctx, "Pod network (CNI)", "spec.networking.cni", &n.cni, &owned(&cnis),
                        Rc::new(|f, v| f.networking.cni = v)) }
                </div>
                <details class="advanced">
                    <summary>{"Advanced networking"}</summary>
                    <div class="grid">
                        { self.text(ctx, "DNS domain", "spec.networking.dnsDomain", &n.dns_domain, "default cluster.local",
                            Rc::new(|f, v| f.networking.dns_domain = v)) }
                        { self.text(ctx, "DNS service IP", "spec.networking.dnsServiceIP", &n.dns_service_ip,
                            "default: the tenth address of the service range", Rc::new(|f, v| f.networking.dns_service_ip = v)) }
                        { self.text(ctx, "MTU", "spec.networking.mtu", &n.mtu, "empty: flannel detects it",
                            Rc::new(|f, v| f.networking.mtu = v)) }
                        { self.text(ctx, "Max pods per node", "spec.networking.maxPodsPerNode", &n.max_pods_per_node,
                            "default 110", Rc::new(|f, v| f.networking.max_pods_per_node = v)) }
                        { self.select(ctx, "kube-proxy mode", "spec.networking.kubeProxyMode", &n.kube_proxy_mode, &owned(&proxy_modes),
                            Rc::new(|f, v| f.networking.kube_proxy_mode = v)) }
                        { self.text(ctx, "CRI socket", "spec.containerRuntime.socket", &self.form.runtime.socket,
                            "default unix:///run/containerd/containerd.sock", Rc::new(|f, v| f.runtime.socket = v)) }
                        { self.select(ctx, "cgroup driver", "spec.containerRuntime.cgroupDriver", &self.form.runtime.cgroup_driver,
                            &owned(&[("", "systemd (default)"), ("systemd", "systemd"), ("cgroupfs", "cgroupfs")]),
                            Rc::new(|f, v| f.runtime.cgroup_driver = v)) }
                    </div>
                </details>
            </fieldset>
        }
    }

    fn view_registry(&self, ctx: &Context<Self>) -> Html {
        let registry = &self.form.registry;
        let mirrors = registry.mirrors.iter().enumerate().map(|(index, mirror)| {
            let path = format!("spec.registry.mirrors[{index}]");
            html! {
                <li key={index} class="pair">
                    { self.text(ctx, "Upstream registry", &format!("{path}.registry"), &mirror.registry, "e.g. docker.io",
                        Rc::new(move |f, v| if let Some(m) = f.registry.mirrors.get_mut(index) { m.registry = v })) }
                    { self.text(ctx, "Mirror URLs", &format!("{path}.endpoints"), &mirror.endpoints, "tried in order, separated by commas",
                        Rc::new(move |f, v| if let Some(m) = f.registry.mirrors.get_mut(index) { m.endpoints = v })) }
                    <button type="button" class="remove" onclick={ctx.link().callback(move |_| edit(move |f| {
                        if index < f.registry.mirrors.len() { f.registry.mirrors.remove(index); }
                    }))}>{"Remove"}</button>
                </li>
            }
        });
        let credentials = registry.credentials.iter().enumerate().map(|(index, credential)| {
            let path = format!("spec.registry.credentials[{index}]");
            html! {
                <li key={index} class="pair">
                    { self.text(ctx, "Registry", &format!("{path}.registry"), &credential.registry, "",
                        Rc::new(move |f, v| if let Some(c) = f.registry.credentials.get_mut(index) { c.registry = v })) }
                    { self.text(ctx, "User", &format!("{path}.username"), &credential.username, "",
                        Rc::new(move |f, v| if let Some(c) = f.registry.credentials.get_mut(index) { c.username = v })) }
                    { self.secret(ctx, "Password or token", &format!("{path}.password"), &credential.password,
                        "goes into the bundle; never stored by this page",
                        Rc::new(move |f, v| if let Some(c) = f.registry.credentials.get_mut(index) { c.password = v })) }
                    <button type="button" class="remove" onclick={ctx.link().callback(move |_| edit(move |f| {
                        if index < f.registry.credentials.len() { f.registry.credentials.remove(index); }
                    }))}>{"Remove"}</button>
                </li>
            }
        });
        html! {
            <details class="card" id="registry">
                <summary>{"Private registry and mirrors"}</summary>
                <div class="grid">
                    { self.text(ctx, "Image repository", "spec.registry.imageRepository", &registry.image_repository,
                        "replaces registry.k8s.io for every Kubernetes image", Rc::new(|f, v| f.registry.image_repository = v)) }
                    { self.text(ctx, "Pull secret namespaces", "spec.registry.pullSecretNamespaces", &registry.pull_secret_namespaces,
                        "default: default", Rc::new(|f, v| f.registry.pull_secret_namespaces = v)) }
                </div>
                <h3>{"Mirrors"}</h3>
                <ul class="pairs">{ for mirrors }</ul>
                <button type="button" id="add-mirror" onclick={ctx.link().callback(|_| edit(|f| f.registry.mirrors.push(MirrorRow::default())))}>{"Add a mirror"}</button>
                <h3>{"Credentials"}</h3>
                <ul class="pairs">{ for credentials }</ul>
                <button type="button" id="add-credential" onclick={ctx.link().callback(|_| edit(|f| f.registry.credentials.push(CredentialRow::default())))}>{"Add credentials"}</button>
            </details>
        }
    }

    fn view_proxy(&self, ctx: &Context<Self>) -> Html {
        let proxy = &self.form.proxy;
        html! {
            <details class="card" id="proxy">
                <summary>{"HTTP proxy"}</summary>
                <p class="help">{"Used by containerd and kubelet only. NO_PROXY is computed from the plan (nodes, pod and service ranges, cluster domain); add your own entries below."}</p>
                <div class="grid">
                    { self.text(ctx, "HTTP proxy", "spec.proxy.http", &proxy.http, "e.g. http://proxy.example.com:3128",
                        Rc::new(|f, v| f.proxy.http = v)) }
                    { self.text(ctx, "HTTPS proxy", "spec.proxy.https", &proxy.https, "",
                        Rc::new(|f, v| f.proxy.https = v)) }
                    { self.text(ctx, "Extra NO_PROXY", "spec.proxy.noProxy", &proxy.no_proxy, "separated by commas",
                        Rc::new(|f, v| f.proxy.no_proxy = v)) }
                </div>
            </details>
        }
    }

    fn view_certificates(&self, ctx: &Context<Self>) -> Html {
        let c = &self.form.certificates;
        let algorithms = [
            ("", "ECDSA P-256 (default)"),
            ("ECDSA-P256", "ECDSA P-256"),
            ("RSA-2048", "RSA-2048"),
            ("RSA-3072", "RSA-3072"),
            ("RSA-4096", "RSA-4096"),
        ];
        html! {
            <details class="card" id="certificates">
                <summary>{"Certificates"}</summary>
                <div class="grid">
                    { self.select(ctx, "Key algorithm", "spec.certificates.keyAlgorithm", &c.key_algorithm, &owned(&algorithms),
                        Rc::new(|f, v| f.certificates.key_algorithm = v)) }
                    { self.text(ctx, "Certificate validity", "spec.certificates.validity", &c.validity, "e.g. 365d or 8760h",
                        Rc::new(|f, v| f.certificates.validity = v)) }
                    { self.text(ctx, "CA validity", "spec.certificates.caValidity", &c.ca_validity, "e.g. 3650d",
                        Rc::new(|f, v| f.certificates.ca_validity = v)) }
                    { self.text(ctx, "Extra API server names", "spec.certificates.extraSANs", &c.extra_sans,
                        "DNS names or IPs, separated by commas", Rc::new(|f, v| f.certificates.extra_sans = v)) }
                </div>
                <p class="help">{"To sign with a CA you already have, use the command line: "}<code>{"kbundle generate"}</code>{" with "}<code>{"spec.certificates.existingCAs"}</code>{"."}</p>
            </details>
        }
    }

    fn view_ssh(&self, ctx: &Context<Self>) -> Html {
        let ssh = &self.form.ssh;
        html! {
            <details class="card" id="ssh">
                <summary>{"SSH defaults"}</summary>
                <div class="grid">
                    { self.text(ctx, "User", "spec.ssh.user", &ssh.user, "default root", Rc::new(|f, v| f.ssh.user = v)) }
                    { self.text(ctx, "Port", "spec.ssh.port", &ssh.port, "default 22", Rc::new(|f, v| f.ssh.port = v)) }
                    { self.text(ctx, "Identity file", "spec.ssh.identityFile", &ssh.identity_file,
                        "a path on the machine that runs kbundle apply; the key never comes here", Rc::new(|f, v| f.ssh.identity_file = v)) }
                    { self.text(ctx, "Jump hosts", "spec.ssh.jumpHosts", &ssh.jump_hosts, "user@host:port, in order",
                        Rc::new(|f, v| f.ssh.jump_hosts = v)) }
                </div>
            </details>
        }
    }
}

// ----- the side panel -----

impl App {
    fn view_download(&self, ctx: &Context<Self>) -> Html {
        let errors: Vec<&Diagnostic> = self.checked.errors().collect();
        let blocked = !errors.is_empty();
        let why = if blocked {
            html! {
                <div class="blocked" id="download-blocked" role="status">
                    <p>{format!("Download is disabled: fix {} first.", plural(errors.len(), "problem"))}</p>
                    <ul>{ for errors.iter().map(|d| html! {
                        <li><a href={format!("#{}", field_id(&d.path))}>{ d.path.clone() }</a>{": "}{ d.message.clone() }
                            { for d.hint.iter().map(|hint| html! { <span class="hint">{" — "}{hint.clone()}</span> }) }</li>
                    }) }</ul>
                </div>
            }
        } else {
            html! {}
        };
        let warnings: Vec<&Diagnostic> = self
            .checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .collect();
        let name = bundle_file_name(&self.form.name);
        let result = match &self.download {
            Some(Ok(download)) => html! {
                <div class="done" id="download-done" role="status">
                    <p>{format!("Saved {} ({} KB, built in {:.0} ms{}).", download.name, download.bytes.div_ceil(1024), download.millis,
                        if download.encrypted { ", encrypted" } else { "" })}</p>
                    <p>{"Next, from a machine that reaches the nodes over SSH:"}</p>
                    <pre><code>{format!("kbundle apply {}", download.name)}</code></pre>
                    <p class="help">{"Or by hand: copy the zip to each node, unzip it and run "}<code>{"sudo sh nodes/<node>/install.sh"}</code>{" as its README says, control-plane nodes first."}</p>
                </div>
            },
            Some(Err(error)) => {
                html! { <p class="error" role="alert" id="download-error">{format!("The bundle could not be built: {error}")}</p> }
            }
            None => html! {},
        };
        html! {
            <section class="card download" aria-labelledby="download-title">
                <h2 id="download-title">{"Bundle"}</h2>
                <label for="passphrase">{"Passphrase (optional, encrypts the zip with AES-256):"}</label>
                <input id="passphrase" type="password" autocomplete="new-password" value={self.passphrase.clone()}
                    oninput={ctx.link().callback(|e: InputEvent| Msg::Passphrase(input_value(&e)))}/>
                <button type="button" id="download" class="primary" disabled={blocked || self.building}
                    aria-describedby={blocked.then_some("download-blocked")}
                    onclick={ctx.link().callback(|_| Msg::Build)}>
                    { if self.building { "Building…".to_owned() } else { format!("Download {name}") } }
                </button>
                { if self.building { html! {
                    <div class="progress" role="status" aria-live="polite">
                        <progress aria-label="Building the bundle"></progress><span id="progress-text">{ self.progress.clone() }</span>
                    </div>
                } } else { html! {} } }
                { why }
                { if warnings.is_empty() { html! {} } else { html! {
                    <div class="warnings"><p>{"Worth a second look:"}</p>{ diagnostics_list(&warnings) }</div>
                } } }
                { result }
            </section>
        }
    }

    fn view_plan(&self) -> Html {
        let Some(plan) = &self.plan else {
            return html! {
                <section class="card plan" aria-labelledby="plan-title">
                    <h2 id="plan-title">{"Network plan"}</h2>
                    <p>{"The plan appears once the cluster is valid."}</p>
                    { self.view_map(None) }
                </section>
            };
        };
        let list = |items: &[String]| items.join(", ");
        let nodes = plan.nodes.iter().map(|node| html! {
            <tr>
                <th scope="row">{ node.name.clone() }</th>
                <td>{ list(&node.addresses.iter().map(ToString::to_string).collect::<Vec<_>>()) }</td>
                <td>{ node.roles.join(", ") }</td>
                <td>{ list(&node.pod_cidrs.iter().map(ToString::to_string).collect::<Vec<_>>()) }</td>
            </tr>
        });
        html! {
            <section class={classes!("card", "plan", (!self.plan_is_current()).then_some("stale"))} aria-labelledby="plan-title" id="plan">
                <h2 id="plan-title">{"Network plan"}</h2>
                { if self.plan_is_current() { html! {} } else {
                    html! { <p class="notice">{"Showing the last valid plan: fix the problems to update it."}</p> }
                } }
                <table class="facts">
                    <tr><th scope="row">{"Kubernetes"}</th><td>{ plan.kubernetes_version.clone() }</td></tr>
                    <tr><th scope="row">{"API endpoint"}</th><td>{ plan.control_plane_endpoint.clone() }</td></tr>
                    <tr><th scope="row">{"API service IP"}</th><td id="plan-apiserver-ip">{ list(&plan.apiserver_service_ips.iter().map(ToString::to_string).collect::<Vec<_>>()) }</td></tr>
                    <tr><th scope="row">{"DNS service IP"}</th><td id="plan-dns-ip">{ plan.dns_service_ip.to_string() }</td></tr>
                    <tr><th scope="row">{"Pod ranges"}</th><td>{ list(&plan.pod_subnets.iter().map(ToString::to_string).collect::<Vec<_>>()) }</td></tr>
                    <tr><th scope="row">{"Service ranges"}</th><td>{ list(&plan.service_subnets.iter().map(ToString::to_string).collect::<Vec<_>>()) }</td></tr>
                    <tr><th scope="row">{"Capacity"}</th><td>{ format!("{} nodes, {} pods per node", plan.max_nodes, plan.max_pods_per_node) }</td></tr>
                </table>
                <div class="scroll">
                    <table class="nodes-plan">
                        <caption>{"Nodes"}</caption>
                        <thead><tr><th scope="col">{"Node"}</th><th scope="col">{"Address"}</th><th scope="col">{"Roles"}</th><th scope="col">{"Pod range"}</th></tr></thead>
                        <tbody>{ for nodes }</tbody>
                    </table>
                </div>
                { self.view_map(Some(plan)) }
                <h3>{"NO_PROXY"}</h3>
                <pre class="no-proxy" id="plan-no-proxy">{ plan.no_proxy_value() }</pre>
            </section>
        }
    }

    fn view_map(&self, plan: Option<&NetworkPlan>) -> Html {
        let plan = plan.filter(|_| self.plan_is_current());
        let maps = address_map::address_map(&self.form, plan);
        html! {
            <div class="maps">
                <h3>{"Address space"}</h3>
                { for maps.iter().map(map_svg) }
                <p class="legend">
                    <span class="key pods"></span>{"pods "}
                    <span class="key node-range"></span>{"node pod ranges "}
                    <span class="key services"></span>{"services "}
                    <span class="key node"></span>{"nodes "}
                    <span class="key overlap"></span>{"overlap"}
                </p>
            </div>
        }
    }
}

fn map_svg(map: &FamilyMap) -> Html {
    const LABEL: f64 = 150.0;
    const ROW: f64 = 30.0;
    let rows = map.rows.len() as f64;
    let axis_y = rows * ROW + 4.0;
    let height = axis_y + 42.0;
    let width = LABEL + address_map::WIDTH + 10.0;
    let description = if map.overlaps.is_empty() {
        format!("{} address space: no overlap", map.family)
    } else {
        map.overlaps
            .iter()
            .map(|band| band.title.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    html! {
        <figure class="map">
            <figcaption>{ map.family }{ if map.overlaps.is_empty() { html! {} } else {
                html! { <strong class="overlap-text">{format!(" — {} overlap(s)", map.overlaps.len())}</strong> } } }</figcaption>
            <svg viewBox={format!("0 0 {width} {height}")} role="img" aria-label={description} class="address-map">
                { for map.rows.iter().enumerate().map(|(index, row)| {
                    let y = index as f64 * ROW;
                    html! {
                        <g>
                            <text x="0" y={(y + 20.0).to_string()} class="row-label">{ row.label }</text>
                            { for row.bars.iter().map(|bar| html! {
                                <g>
                                    <rect x={(LABEL + bar.x).to_string()} y={(y + 3.0).to_string()} width={bar.width.to_string()}
                                        height={(ROW - 6.0).to_string()} class={bar.class}><title>{ bar.title.clone() }</title></rect>
                                    { if bar.width > 8.5 * bar.label.len() as f64 { html! {
                                        <text x={(LABEL + bar.x + 3.0).to_string()} y={(y + 20.0).to_string()} class="bar-label">{ bar.label.clone() }</text>
                                    } } else { html! {} } }
                                </g>
                            }) }
                        </g>
                    }
                }) }
                { for map.overlaps.iter().map(|band| html! {
                    <rect x={(LABEL + band.x).to_string()} y="0" width={band.width.to_string()} height={axis_y.to_string()} class="overlap">
                        <title>{ band.title.clone() }</title></rect>
                }) }
                <line x1={LABEL.to_string()} x2={(LABEL + address_map::WIDTH).to_string()} y1={axis_y.to_string()} y2={axis_y.to_string()} class="axis"/>
                { for map.gaps.iter().map(|x| html! {
                    <text x={(LABEL + x).to_string()} y={(axis_y + 4.0).to_string()} class="gap">{"≈"}</text>
                }) }
                { for map.ticks.iter().enumerate().map(|(index, tick)| {
                    // Labels near the right edge end at their tick so they stay inside.
                    let anchor = if tick.x > address_map::WIDTH * 0.8 { "end" } else { "start" };
                    html! {
                        <text x={(LABEL + tick.x).to_string()} y={(axis_y + 17.0 + 15.0 * (index % 2) as f64).to_string()}
                            class="tick" text-anchor={anchor}>{ tick.label.clone() }</text>
                    }
                }) }
            </svg>
        </figure>
    }
}

// ----- inputs -----

impl App {
    fn findings(&self, path: &str) -> Vec<&Diagnostic> {
        self.checked.about(path)
    }

    fn field_frame(&self, label: &str, path: &str, help: &str, input: Html) -> Html {
        let id = field_id(path);
        let findings = self.findings(path);
        let has_error = findings.iter().any(|d| d.is_error());
        html! {
            <div class={classes!("field", has_error.then_some("invalid"))}>
                <label for={id.clone()}>{ label.to_owned() }</label>
                { input }
                { if help.is_empty() { html! {} } else { html! { <small class="help" id={format!("{id}-help")}>{ help.to_owned() }</small> } } }
                <div id={format!("{id}-errors")} class="field-errors" aria-live="polite">{ diagnostics_list(&findings) }</div>
            </div>
        }
    }

    fn text(
        &self,
        ctx: &Context<Self>,
        label: &str,
        path: &str,
        value: &str,
        help: &str,
        set: SetText,
    ) -> Html {
        self.input(ctx, "text", label, path, value, help, set)
    }

    fn secret(
        &self,
        ctx: &Context<Self>,
        label: &str,
        path: &str,
        value: &str,
        help: &str,
        set: SetText,
    ) -> Html {
        self.input(ctx, "password", label, path, value, help, set)
    }

    #[allow(clippy::too_many_arguments)]
    fn input(
        &self,
        ctx: &Context<Self>,
        kind: &str,
        label: &str,
        path: &str,
        value: &str,
        help: &str,
        set: SetText,
    ) -> Html {
        let id = field_id(path);
        let invalid = self.findings(path).iter().any(|d| d.is_error());
        let oninput = ctx.link().callback(move |event: InputEvent| {
            let value = input_value(&event);
            let set = set.clone();
            edit(move |form| set(form, value))
        });
        let input = html! {
            <input id={id.clone()} type={kind.to_owned()} value={value.to_owned()} {oninput}
                spellcheck="false" autocomplete="off"
                aria-invalid={invalid.to_string()}
                aria-describedby={format!("{id}-help {id}-errors")}/>
        };
        self.field_frame(label, path, help, input)
    }

    fn select(
        &self,
        ctx: &Context<Self>,
        label: &str,
        path: &str,
        value: &str,
        options: &[(String, String)],
        set: SetText,
    ) -> Html {
        let id = field_id(path);
        let onchange = ctx.link().callback(move |event: Event| {
            let value = event.target_unchecked_into::<HtmlSelectElement>().value();
            let set = set.clone();
            edit(move |form| set(form, value))
        });
        let known = options.iter().any(|(option, _)| option == value);
        let input = html! {
            <select id={id.clone()} {onchange} aria-describedby={format!("{id}-errors")}>
                { for options.iter().map(|(option, text)| html! {
                    <option value={option.clone()} selected={option == value}>{ text.clone() }</option>
                }) }
                // A value imported from YAML that the list does not know stays visible (and its
                // error shows) rather than being silently replaced.
                { if known { html! {} } else { html! { <option value={value.to_owned()} selected=true>{ value.to_owned() }</option> } } }
            </select>
        };
        self.field_frame(label, path, "", input)
    }

    fn flag(
        &self,
        ctx: &Context<Self>,
        label: &str,
        path: &str,
        value: bool,
        set: SetFlag,
    ) -> Html {
        let id = field_id(path);
        let onchange = ctx.link().callback(move |event: Event| {
            let on = event.target_unchecked_into::<HtmlInputElement>().checked();
            let set = set.clone();
            edit(move |form| set(form, on))
        });
        html! {
            <label class="flag" for={id.clone()}>
                <input id={id} type="checkbox" checked={value} {onchange}/>{ label.to_owned() }
            </label>
        }
    }
}

/// The network plan of a valid form.
fn plan_of(checked: &Checked) -> Option<NetworkPlan> {
    checked
        .validated
        .as_ref()
        .map(|validated| NetworkPlan::new(&validated.config))
}

fn edit(change: impl FnOnce(&mut Form) + 'static) -> Msg {
    Msg::Edit(Box::new(change))
}

fn input_value(event: &InputEvent) -> String {
    event.target_unchecked_into::<HtmlInputElement>().value()
}

fn textarea_value(event: &InputEvent) -> String {
    event.target_unchecked_into::<HtmlTextAreaElement>().value()
}

fn owned(options: &[(&str, &str)]) -> Vec<(String, String)> {
    options
        .iter()
        .map(|(value, text)| ((*value).to_owned(), (*text).to_owned()))
        .collect()
}

/// An element id for a field path: `spec.nodes[0].address` → `f-spec-nodes-0-address`.
fn field_id(path: &str) -> String {
    let mut id = String::from("f");
    for part in path.split(['.', '[', ']']).filter(|part| !part.is_empty()) {
        id.push('-');
        id.push_str(part);
    }
    id
}

fn diagnostics_list(found: &[&Diagnostic]) -> Html {
    if found.is_empty() {
        return html! {};
    }
    html! {
        <ul class="diagnostics">
            { for found.iter().map(|d| {
                let class = if d.is_error() { "error" } else { "warning" };
                html! {
                    <li class={class}>
                        { d.message.clone() }
                        { for d.value.iter().map(|value| html! { <>{" ("}<code>{ value.clone() }</code>{")"}</> }) }
                        { for d.hint.iter().map(|hint| html! { <span class="hint">{" Fix: "}{ hint.clone() }</span> }) }
                    </li>
                }
            }) }
        </ul>
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
