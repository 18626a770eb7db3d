//! The page: the form (left), a component per section of cluster.yaml (`sections`), and the
//! side panel with the download, its exports for Ansible and cloud-init and its expiry
//! timeline (`download`, `fleet`, `timeline`) and the live network plan with its
//! address-space picture (`plan`). Every edit goes through
//! [`Msg::Edit`], after which the form is checked again with core's validation and saved to
//! local storage (without passwords), so the page can never hold a state it does not show the
//! problems of. A previous bundle, once dropped, is kept in memory only.

mod download;
pub mod fields;
pub mod fleet;
mod plan;
pub mod sections;
pub mod timeline;

use std::rc::Rc;

use kbundle_core::plan::NetworkPlan;
use yew::prelude::*;

use crate::browser;
use crate::build::bundle_file_name;
use crate::form::{Checked, Form};
use download::Download;
use fields::FormEdit;
use sections::{
    CertificatesSection, ClusterSection, EndpointSection, ImportSection, NetworkingSection,
    NodesSection, PreviousBundle, PreviousSection, ProxySection, RegistrySection, SshSection,
};

/// What can happen on the page.
pub enum Msg {
    /// Change the form.
    Edit(FormEdit),
    /// A whole cluster was loaded (import, or a previous bundle's cluster.yaml).
    Load(Box<Form>),
    /// Back to the example, forgetting the saved form.
    StartOver,
    /// A previous bundle was opened, or forgotten.
    Previous(Option<Rc<PreviousBundle>>),
    /// The passphrase box changed (never stored).
    Passphrase(String),
    /// Build and download the bundle.
    Build,
    /// The worker reached a stage.
    Progress(String),
    /// The worker finished.
    Built(Result<browser::Built, String>),
}

/// The page's state.
pub struct App {
    form: Rc<Form>,
    checked: Rc<Checked>,
    /// The plan of the form when valid, else of the last valid form (shown dimmed).
    plan: Option<NetworkPlan>,
    /// The bundle the running cluster was installed from: the next bundle keeps its identity.
    previous: Option<Rc<PreviousBundle>>,
    passphrase: String,
    building: bool,
    progress: String,
    download: Option<Result<Download, String>>,
}

impl App {
    /// Checks the form again; a valid form replaces the plan, an invalid one keeps the last.
    fn recheck(&mut self) {
        self.checked = Rc::new(self.form.check());
        if let Some(plan) = plan_of(&self.checked) {
            self.plan = Some(plan);
        }
    }

    /// After an edit: check again and keep the form for the next visit.
    fn refresh(&mut self) {
        self.download = None;
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
            checked: Rc::new(checked),
            form: Rc::new(form),
            previous: None,
            passphrase: String::new(),
            building: false,
            progress: String::new(),
            download: None,
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Self::Message) -> bool {
        match msg {
            Msg::Edit(FormEdit(edit)) => {
                edit(Rc::make_mut(&mut self.form));
                self.refresh();
            }
            Msg::Load(form) => {
                self.form = Rc::new(*form);
                self.refresh();
            }
            Msg::StartOver => {
                browser::clear_saved_form();
                self.form = Rc::new(Form::example());
                self.refresh();
            }
            Msg::Previous(previous) => {
                self.previous = previous;
                self.download = None;
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
                let previous = self.previous.as_ref().map(|previous| previous.zip.clone());
                let link = ctx.link().clone();
                let started = browser::now_millis();
                ctx.link().send_future(async move {
                    let progress_link = link.clone();
                    let result = browser::build_in_worker(
                        &yaml,
                        &passphrase,
                        previous.as_ref(),
                        move |stage| progress_link.send_message(Msg::Progress(stage)),
                    )
                    .await;
                    browser::record_timing("lastBuildMillis", browser::now_millis() - started);
                    Msg::Built(result)
                });
            }
            Msg::Progress(stage) => self.progress = stage,
            Msg::Built(result) => {
                self.building = false;
                let name = bundle_file_name(&self.form.name);
                let made_from = self
                    .previous
                    .as_ref()
                    .map(|previous| previous.file_name.clone());
                self.download = Some(result.and_then(|built| {
                    browser::download(&name, "application/zip", &built.zip)?;
                    Ok(Download {
                        name,
                        zip: Rc::new(built.zip),
                        passphrase: AttrValue::from(self.passphrase.clone()),
                        cluster: AttrValue::from(self.form.name.clone()),
                        millis: built.millis,
                        made_from,
                        timeline: Rc::new(built.timeline),
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
        let form = self.form.clone();
        let checked = self.checked.clone();
        let on_edit = ctx.link().callback(Msg::Edit);
        html! {
            <>
            <header class="top">
                <h1>{"kbundle"}</h1>
                <p class="tagline">{"Describe your machines, check the plan, download one bundle, then "}
                    <code>{"kbundle apply"}</code>{". Everything happens in this page: nothing is sent anywhere."}</p>
            </header>
            <main class="layout">
                <section class="form" aria-label="Cluster">
                    <ImportSection form={form.clone()} on_load={ctx.link().callback(|form| Msg::Load(Box::new(form)))}
                        on_start_over={ctx.link().callback(|()| Msg::StartOver)}/>
                    <PreviousSection previous={self.previous.clone()} form_name={AttrValue::from(self.form.name.clone())}
                        on_previous={ctx.link().callback(Msg::Previous)} on_load={ctx.link().callback(|form| Msg::Load(Box::new(form)))}/>
                    <ClusterSection form={form.clone()} checked={checked.clone()} on_edit={on_edit.clone()}/>
                    <NodesSection form={form.clone()} checked={checked.clone()} on_edit={on_edit.clone()}/>
                    <EndpointSection form={form.clone()} checked={checked.clone()} on_edit={on_edit.clone()}/>
                    <NetworkingSection form={form.clone()} checked={checked.clone()} on_edit={on_edit.clone()}/>
                    <RegistrySection form={form.clone()} checked={checked.clone()} on_edit={on_edit.clone()}/>
                    <ProxySection form={form.clone()} checked={checked.clone()} on_edit={on_edit.clone()}/>
                    <CertificatesSection form={form.clone()} checked={checked.clone()} on_edit={on_edit.clone()}/>
                    <SshSection {form} {checked} {on_edit}/>
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

/// The network plan of a valid form.
fn plan_of(checked: &Checked) -> Option<NetworkPlan> {
    checked
        .validated
        .as_ref()
        .map(|validated| NetworkPlan::new(&validated.config))
}
