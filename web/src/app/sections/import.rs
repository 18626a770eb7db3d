//! Import and export of `cluster.yaml`: a file picked or dropped, or pasted text, loads a whole
//! cluster into the form (syntax errors refuse it; invalid values load and show at their
//! fields); export saves the form as `<cluster>.yaml`; "start over" goes back to the example.

use std::rc::Rc;

use kbundle_core::config::Diagnostic;
use yew::prelude::*;

use crate::app::fields::textarea_value;
use crate::browser;
use crate::form::Form;

/// What the section is given.
#[derive(Properties, Clone)]
pub struct ImportProps {
    /// The form, to export.
    pub form: Rc<Form>,
    /// A cluster was loaded: it replaces the form.
    pub on_load: Callback<Form>,
    /// Back to the example, forgetting the saved form.
    pub on_start_over: Callback<()>,
}

impl PartialEq for ImportProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.form, &other.form)
            && self.on_load == other.on_load
            && self.on_start_over == other.on_start_over
    }
}

/// What the last load or export said.
type Message = Option<Result<String, String>>;

/// Loads `text` into the form, or says why not.
fn load(text: &str, message: &UseStateHandle<Message>, on_load: &Callback<Form>) {
    match Form::from_yaml(text) {
        Ok(form) => {
            message.set(Some(Ok(format!(
                "Loaded a cluster of {} node(s).",
                form.nodes.len()
            ))));
            on_load.emit(form);
        }
        Err(diagnostics) => {
            let first = diagnostics.0.first().map(Diagnostic::to_string);
            message.set(Some(Err(format!(
                "Not loaded: {}",
                first.unwrap_or_else(|| diagnostics.to_string())
            ))));
        }
    }
}

/// The section.
#[component]
pub fn ImportSection(props: &ImportProps) -> Html {
    let buffer = use_state(String::new);
    let message = use_state(|| None as Message);
    let load_file = {
        let message = message.clone();
        let on_load = props.on_load.clone();
        Callback::from(move |file: web_sys::File| {
            let message = message.clone();
            let on_load = on_load.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match browser::read_file(file).await {
                    Ok(text) => load(&text, &message, &on_load),
                    Err(error) => {
                        message.set(Some(Err(format!("Could not read the file: {error}"))))
                    }
                }
            });
        })
    };
    let (on_pick, on_drop) = browser::file_callbacks(load_file);
    let on_dragover = Callback::from(|event: DragEvent| event.prevent_default());
    let on_input = {
        let buffer = buffer.clone();
        Callback::from(move |event: InputEvent| buffer.set(textarea_value(&event)))
    };
    let on_load_pasted = {
        let buffer = buffer.clone();
        let message = message.clone();
        let on_load = props.on_load.clone();
        Callback::from(move |_| {
            let text = (*buffer).clone();
            buffer.set(String::new());
            load(&text, &message, &on_load);
        })
    };
    let on_export = {
        let form = props.form.clone();
        let message = message.clone();
        Callback::from(move |_| {
            let name = match form.name.trim() {
                "" => "cluster.yaml".to_owned(),
                name => format!("{name}.yaml"),
            };
            if let Err(error) =
                browser::download(&name, "application/yaml", form.to_yaml().as_bytes())
            {
                message.set(Some(Err(error)));
            }
        })
    };
    let on_start_over = {
        let message = message.clone();
        let on_start_over = props.on_start_over.clone();
        Callback::from(move |_| {
            message.set(None);
            on_start_over.emit(());
        })
    };
    html! {
        <details class="card import" id="import">
            <summary>{"Import or export cluster.yaml"}</summary>
            <div class="dropzone" ondrop={on_drop} ondragover={on_dragover}>
                <label for="import-file">{"Drop a cluster.yaml here, or choose a file: "}</label>
                <input id="import-file" type="file" accept=".yaml,.yml,text/yaml" onchange={on_pick}/>
            </div>
            <label for="import-text">{"…or paste it:"}</label>
            <textarea id="import-text" rows="6" spellcheck="false" value={(*buffer).clone()} oninput={on_input}/>
            <div class="buttons">
                <button type="button" id="import-load" onclick={on_load_pasted}
                    disabled={buffer.trim().is_empty()}>{"Load pasted YAML"}</button>
                <button type="button" id="export" onclick={on_export}>{"Export cluster.yaml"}</button>
                <button type="button" class="secondary" id="start-over" onclick={on_start_over}>{"Start over from the example"}</button>
            </div>
            { match &*message {
                Some(Ok(text)) => html! { <p class="notice" role="status">{text}</p> },
                Some(Err(text)) => html! { <p class="error" role="alert">{text}</p> },
                None => html! {},
            } }
        </details>
    }
}
