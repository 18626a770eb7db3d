//! The next bundle of a running cluster: the bundle the cluster was installed from, dropped on
//! the page (or picked), is opened here, with its passphrase when encrypted. From then on every
//! bundle the page builds is made from it, as `kbundle generate --from` makes it: the CAs, the
//! service-account keys, each certificate that did not change and every node's pod range are
//! kept, so applying it changes only what changed. It shows what it holds (its cluster, nodes
//! and expiry timeline) and can continue the form from its cluster.yaml. It lives in this tab's
//! memory only: never stored, forgotten on reload or with "Forget".

use std::rc::Rc;

use yew::prelude::*;

use crate::app::fields::input_value;
use crate::app::timeline::TimelineView;
use crate::browser;
use crate::build::{OpenError, PreviousSummary, PreviousZip, open_previous};
use crate::form::Form;

/// A bundle opened as the previous one.
#[derive(Debug, PartialEq)]
pub struct PreviousBundle {
    /// The file's name, as dropped.
    pub file_name: String,
    /// Its bytes and passphrase, handed to the builder.
    pub zip: PreviousZip,
    /// What it holds.
    pub summary: PreviousSummary,
}

/// What the section is given.
#[derive(Properties, PartialEq, Clone)]
pub struct PreviousProps {
    /// The bundle in use, if any.
    pub previous: Option<Rc<PreviousBundle>>,
    /// The form's cluster name, to warn when the bundle is of another cluster.
    pub form_name: AttrValue,
    /// A bundle was opened (`Some`) or forgotten (`None`).
    pub on_previous: Callback<Option<Rc<PreviousBundle>>>,
    /// Continue the form from the bundle's cluster.yaml.
    pub on_load: Callback<Form>,
}

/// A dropped file waiting for its passphrase.
#[derive(Clone, PartialEq)]
struct Locked {
    file_name: String,
    bytes: Rc<Vec<u8>>,
}

/// Opens `bytes`; an encrypted one without (or with a wrong) passphrase waits in `locked`.
fn open(
    file_name: String,
    bytes: Rc<Vec<u8>>,
    passphrase: Option<String>,
    locked: &UseStateHandle<Option<Locked>>,
    problem: &UseStateHandle<Option<String>>,
    on_previous: &Callback<Option<Rc<PreviousBundle>>>,
) {
    let zip = PreviousZip {
        zip: (*bytes).clone(),
        passphrase,
    };
    match open_previous(&zip) {
        Ok(summary) => {
            locked.set(None);
            problem.set(None);
            on_previous.emit(Some(Rc::new(PreviousBundle {
                file_name,
                zip,
                summary,
            })));
        }
        Err(error @ (OpenError::NeedsPassphrase | OpenError::WrongPassphrase)) => {
            problem.set(
                matches!(error, OpenError::WrongPassphrase)
                    .then(|| format!("{file_name}: {error}")),
            );
            locked.set(Some(Locked { file_name, bytes }));
        }
        Err(error) => {
            locked.set(None);
            problem.set(Some(format!("{file_name} is not used: {error}")));
        }
    }
}

/// The section.
#[component]
pub fn PreviousSection(props: &PreviousProps) -> Html {
    let locked = use_state(|| None as Option<Locked>);
    let problem = use_state(|| None as Option<String>);
    let passphrase = use_state(String::new);
    let read = {
        let locked = locked.clone();
        let problem = problem.clone();
        let on_previous = props.on_previous.clone();
        Callback::from(move |file: web_sys::File| {
            let locked = locked.clone();
            let problem = problem.clone();
            let on_previous = on_previous.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let name = file.name();
                match browser::read_file_bytes(file).await {
                    Ok(bytes) => open(name, Rc::new(bytes), None, &locked, &problem, &on_previous),
                    Err(error) => problem.set(Some(format!("Could not read {name}: {error}"))),
                }
            });
        })
    };
    let (on_pick, on_drop) = browser::file_callbacks(read);
    let on_dragover = Callback::from(|event: DragEvent| event.prevent_default());
    let on_passphrase = {
        let passphrase = passphrase.clone();
        Callback::from(move |event: InputEvent| passphrase.set(input_value(&event)))
    };
    let on_unlock = {
        let locked = locked.clone();
        let problem = problem.clone();
        let passphrase = passphrase.clone();
        let on_previous = props.on_previous.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if let Some(waiting) = (*locked).clone() {
                let given = (*passphrase).clone();
                passphrase.set(String::new());
                open(
                    waiting.file_name,
                    waiting.bytes,
                    Some(given),
                    &locked,
                    &problem,
                    &on_previous,
                );
            }
        })
    };
    let on_forget = {
        let on_previous = props.on_previous.clone();
        Callback::from(move |_| on_previous.emit(None))
    };
    let in_use = props.previous.as_ref().map(|previous| {
        let summary = &previous.summary;
        let on_load_form = {
            let on_load = props.on_load.clone();
            let yaml = summary.cluster_yaml.clone().unwrap_or_default();
            Callback::from(move |_| {
                if let Ok(form) = Form::from_yaml(&yaml) {
                    on_load.emit(form);
                }
            })
        };
        let other_cluster = !summary.cluster.is_empty() && summary.cluster != props.form_name.as_str();
        html! {
            <div id="previous-summary" role="status">
                <p class="notice">
                    { format!("Every bundle built now is the next one of cluster {} ({}), made from {}: ",
                        summary.cluster, summary.nodes.join(", "), previous.file_name) }
                    { if summary.timeline.is_some() {
                        "its CAs, service-account keys, unchanged certificates and pod ranges are kept."
                    } else {
                        "made by an older kbundle, it records no identity: only its pod ranges are kept, the CAs and keys will be new."
                    } }
                </p>
                { if other_cluster { html! {
                    <p class="warning" id="previous-other-cluster">{ format!(
                        "The form describes cluster {}, the bundle cluster {}: continue the form from the bundle, or forget the bundle.",
                        props.form_name, summary.cluster) }</p>
                } } else { html! {} } }
                <div class="buttons">
                    <button type="button" id="previous-load-form" onclick={on_load_form}
                        disabled={summary.cluster_yaml.is_none()}>{"Continue the form from its cluster.yaml"}</button>
                    <button type="button" class="secondary" id="previous-forget" onclick={on_forget}>{"Forget it"}</button>
                </div>
                { match &summary.timeline {
                    Some(timeline) => html! {
                        <TimelineView id="previous-timeline" caption="Its certificates"
                            entries={Rc::new(timeline.clone())} now={browser::now_unix()} show_kept=false/>
                    },
                    None => html! {},
                } }
            </div>
        }
    });
    html! {
        <details class="card previous" id="previous" open={props.previous.is_some() || locked.is_some()}>
            <summary>{"Next bundle of a running cluster"}</summary>
            <p class="help">{"Changing a cluster that runs (a node, a label, a certificate)? Drop the bundle it was installed from: the next bundle keeps the cluster's identity, as "}
                <code>{"kbundle generate --from"}</code>{" does, and "}<code>{"kbundle apply"}</code>{" then restarts only what changed. The bundle stays in this tab; it is never stored."}</p>
            <div class="dropzone" ondrop={on_drop} ondragover={on_dragover}>
                <label for="previous-file">{"Drop the bundle here, or choose it: "}</label>
                <input id="previous-file" type="file" accept=".zip,application/zip" onchange={on_pick}/>
            </div>
            { if let Some(waiting) = &*locked { html! {
                <form class="unlock" onsubmit={on_unlock}>
                    <label for="previous-passphrase">{ format!("{} is encrypted. Its passphrase:", waiting.file_name) }</label>
                    <input id="previous-passphrase" type="password" autocomplete="off" value={(*passphrase).clone()} oninput={on_passphrase}/>
                    <button type="submit" id="previous-open">{"Open"}</button>
                </form>
            } } else { html! {} } }
            { match &*problem {
                Some(text) => html! { <p class="error" role="alert" id="previous-error">{ text.clone() }</p> },
                None => html! {},
            } }
            { in_use.unwrap_or_default() }
        </details>
    }
}
