//! The side panel's download: the passphrase, the button (disabled, saying why, while anything
//! is an error), the build's progress, and once built what was saved, what it kept from the
//! previous bundle, the exports for Ansible and cloud-init ([`super::fleet`]), and its expiry
//! timeline.

use std::rc::Rc;

use kbundle_core::bundle::expiry::KeptCounts;
use kbundle_core::config::{Diagnostic, Severity};
use yew::prelude::*;

use super::fields::{diagnostics_list, field_id, input_value, plural};
use super::fleet::FleetExports;
use super::timeline::TimelineView;
use super::{App, Msg};
use crate::browser;
use crate::build::bundle_file_name;

impl App {
    pub(super) fn view_download(&self, ctx: &Context<Self>) -> Html {
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
            Some(Ok(download)) => {
                let kept = download.made_from.as_ref().map(|from| {
                    let counts = KeptCounts::of(&download.timeline);
                    html! {
                        <p id="download-kept">{ format!(
                            "Made from {from}: kept {} of {} CAs and {} of {} certificates and kubeconfigs, issued {}.",
                            counts.authorities_kept, counts.authorities_kept + counts.authorities_new,
                            counts.leaves_kept, counts.leaves_kept + counts.leaves_new,
                            counts.authorities_new + counts.leaves_new) }</p>
                    }
                });
                html! {
                    <div class="done" id="download-done" role="status">
                        <p>{format!("Saved {} ({} KB, built in {:.0} ms{}).", download.name, download.zip.len().div_ceil(1024), download.millis,
                            if download.passphrase.is_empty() { "" } else { ", encrypted" })}</p>
                        { kept.unwrap_or_default() }
                        <p>{"Next, from a machine that reaches the nodes over SSH:"}</p>
                        <pre><code>{format!("kbundle apply {}", download.name)}</code></pre>
                        <p class="help">{"Or by hand: copy the zip to each node, unzip it and run "}<code>{"sudo sh nodes/<node>/install.sh"}</code>{" as its README says, control-plane nodes first."}</p>
                        <FleetExports bundle={download.zip.clone()} passphrase={download.passphrase.clone()}
                            cluster={download.cluster.clone()}/>
                        <TimelineView id="built-timeline" caption="Its certificates" entries={download.timeline.clone()}
                            now={browser::now_unix()} show_kept={download.made_from.is_some()}/>
                    </div>
                }
            }
            Some(Err(error)) => {
                html! { <p class="error" role="alert" id="download-error">{format!("The bundle could not be built: {error}")}</p> }
            }
            None => html! {},
        };
        let label = match (&self.previous, self.building) {
            (_, true) => "Building…".to_owned(),
            (Some(_), false) => format!("Download the next {name}"),
            (None, false) => format!("Download {name}"),
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
                    { label }
                </button>
                { match &self.previous {
                    Some(previous) => html! { <p class="help" id="download-from">{ format!(
                        "Made from {}: the cluster keeps its identity.", previous.file_name) }</p> },
                    None => html! {},
                } }
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
}

/// The outcome of the last build.
pub(super) struct Download {
    pub(super) name: String,
    /// The zip as saved, kept in this tab's memory for the exports until the next edit.
    pub(super) zip: Rc<Vec<u8>>,
    /// The passphrase it was encrypted with (empty: none).
    pub(super) passphrase: AttrValue,
    /// The cluster it installs.
    pub(super) cluster: AttrValue,
    pub(super) millis: f64,
    /// The previous bundle's file name, when made from one.
    pub(super) made_from: Option<String>,
    pub(super) timeline: Rc<Vec<kbundle_core::bundle::expiry::Expiry>>,
}
