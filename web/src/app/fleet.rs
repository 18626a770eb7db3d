//! The exports offered beside a built bundle: the same bundle for Ansible (an inventory and a
//! playbook) or for cloud-init (one user-data per node, within the chosen cloud's limit), as
//! `kbundle export` writes them. Each is made by the worker from the zip just built, only when
//! asked for, and saved as one zip, locked with the bundle's passphrase when it has one.

use std::rc::Rc;

use kbundle_core::export::cloud_init::{self, DEFAULT_LIMIT, LIMITS};
use yew::prelude::*;

use crate::browser;
use crate::build::{Engine, export_file_name};

/// What the exports are made from.
#[derive(Properties, PartialEq, Clone)]
pub struct FleetProps {
    /// The bundle just built, as saved.
    pub bundle: Rc<Vec<u8>>,
    /// The passphrase it was built with (empty: not encrypted).
    pub passphrase: AttrValue,
    /// The cluster's name, which names the files.
    pub cluster: AttrValue,
}

/// The two export buttons, the cloud's limit for cloud-init, and what the last export saved.
#[component]
pub fn FleetExports(props: &FleetProps) -> Html {
    let limit = use_state(|| DEFAULT_LIMIT);
    let busy = use_state(|| false);
    let outcome = use_state(|| None::<Result<String, String>>);
    let start = |engine_of: fn(&'static str) -> Option<Engine>| {
        let (limit, busy, outcome, props) =
            (limit.clone(), busy.clone(), outcome.clone(), props.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(engine) = engine_of(*limit) else {
                return;
            };
            busy.set(true);
            outcome.set(None);
            let (busy, outcome, props) = (busy.clone(), outcome.clone(), props.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let name = export_file_name(&props.cluster, engine);
                let saved = browser::export_in_worker(
                    engine,
                    &props.bundle,
                    &props.passphrase,
                    &props.cluster,
                )
                .await
                .and_then(|(zip, summary)| {
                    browser::download(&name, "application/zip", &zip)?;
                    Ok(format!(
                        "Saved {name} ({} KB{}): {summary}.",
                        zip.len().div_ceil(1024),
                        if props.passphrase.is_empty() {
                            ""
                        } else {
                            ", encrypted with the bundle's passphrase"
                        }
                    ))
                });
                outcome.set(Some(saved));
                busy.set(false);
            });
        })
    };
    let on_ansible = start(|_| Some(Engine::Ansible));
    let on_cloud_init = start(|limit| cloud_init::limit(limit).map(Engine::CloudInit));
    let on_limit = {
        let limit = limit.clone();
        Callback::from(move |event: Event| {
            let chosen = event
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            if let Some(known) = cloud_init::limit(&chosen) {
                limit.set(known.name);
            }
        })
    };
    let result = match &*outcome {
        Some(Ok(saved)) => html! { <p id="fleet-done" role="status">{ saved.clone() }</p> },
        Some(Err(error)) => html! {
            <p class="error" role="alert" id="fleet-error">{ format!("The export could not be made: {error}") }</p>
        },
        None => html! {},
    };
    let keys = if props.passphrase.is_empty() {
        "Each holds the nodes' keys, as the bundle does: keep it as you keep the bundle."
    } else {
        "Each holds the nodes' keys, as the bundle does, and is encrypted with its passphrase."
    };
    html! {
        <div class="fleet" id="fleet">
            <h3>{"For Ansible or cloud-init"}</h3>
            <p class="help">{"The same bundle for the engine your fleet already runs, as "}<code>{"kbundle export"}</code>
                {" writes it: the same files, the same order, the same checks. "}{ keys }</p>
            <div class="fleet-buttons">
                <button type="button" id="fleet-ansible" disabled={*busy} onclick={on_ansible}>
                    {"Ansible playbook"}
                </button>
                <button type="button" id="fleet-cloud-init" disabled={*busy} onclick={on_cloud_init}>
                    {"cloud-init user-data"}
                </button>
                <label for="fleet-cloud-limit">{"for"}</label>
                <select id="fleet-cloud-limit" onchange={on_limit}>
                    { for LIMITS.iter().map(|option| html! {
                        <option value={option.name} selected={option.name == *limit}>
                            { format!("{} ({} KB)", option.cloud, option.max_bytes / 1024) }
                        </option>
                    }) }
                </select>
            </div>
            { if *busy { html! { <p class="help" role="status">{"Exporting…"}</p> } } else { html! {} } }
            { result }
        </div>
    }
}
