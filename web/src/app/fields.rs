//! The form's inputs, each framed the same way: a label, the input (`aria-invalid` when a
//! finding about its field path is an error), a help line, and the findings about it. Every
//! change goes out as a [`FormEdit`] through the section's `on_edit` callback; the element id is
//! derived from the field path ([`field_id`]) so that the download's list of problems links to
//! it and the tests find it.

use std::rc::Rc;

use kbundle_core::config::Diagnostic;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::form::{Checked, Form};

/// One change to the form.
pub struct FormEdit(pub Box<dyn FnOnce(&mut Form)>);

impl FormEdit {
    /// A change made by `change`.
    pub fn new(change: impl FnOnce(&mut Form) + 'static) -> Self {
        Self(Box::new(change))
    }
}

/// Sets a text field of the form.
pub type SetText = Rc<dyn Fn(&mut Form, String)>;
/// Sets a check box of the form.
pub type SetFlag = Rc<dyn Fn(&mut Form, bool)>;

/// The input builders of one section: the findings to show and where edits go.
pub struct Fields<'a> {
    checked: &'a Checked,
    on_edit: &'a Callback<FormEdit>,
}

impl<'a> Fields<'a> {
    /// Builders showing `checked`'s findings and sending edits to `on_edit`.
    pub fn new(checked: &'a Checked, on_edit: &'a Callback<FormEdit>) -> Self {
        Self { checked, on_edit }
    }

    /// A click that makes `change` (add or remove a row).
    pub fn on_click(&self, change: impl Fn(&mut Form) + 'static) -> Callback<MouseEvent> {
        let on_edit = self.on_edit.clone();
        let change = Rc::new(change);
        Callback::from(move |_| {
            let change = change.clone();
            on_edit.emit(FormEdit::new(move |form| change(form)));
        })
    }

    /// Findings about `path` and what is inside it.
    pub fn findings(&self, path: &str) -> Vec<&'a Diagnostic> {
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

    /// A text box.
    pub fn text(&self, label: &str, path: &str, value: &str, help: &str, set: SetText) -> Html {
        self.input("text", label, path, value, help, set)
    }

    /// A password box: its value is never stored by the page.
    pub fn secret(&self, label: &str, path: &str, value: &str, help: &str, set: SetText) -> Html {
        self.input("password", label, path, value, help, set)
    }

    fn input(
        &self,
        kind: &str,
        label: &str,
        path: &str,
        value: &str,
        help: &str,
        set: SetText,
    ) -> Html {
        let id = field_id(path);
        let invalid = self.findings(path).iter().any(|d| d.is_error());
        let on_edit = self.on_edit.clone();
        let oninput = Callback::from(move |event: InputEvent| {
            let value = input_value(&event);
            let set = set.clone();
            on_edit.emit(FormEdit::new(move |form| set(form, value)));
        });
        let input = html! {
            <input id={id.clone()} type={kind.to_owned()} value={value.to_owned()} {oninput}
                spellcheck="false" autocomplete="off"
                aria-invalid={invalid.to_string()}
                aria-describedby={format!("{id}-help {id}-errors")}/>
        };
        self.field_frame(label, path, help, input)
    }

    /// A choice among `options` (value, text).
    pub fn select(
        &self,
        label: &str,
        path: &str,
        value: &str,
        options: &[(String, String)],
        set: SetText,
    ) -> Html {
        let id = field_id(path);
        let on_edit = self.on_edit.clone();
        let onchange = Callback::from(move |event: Event| {
            let value = event.target_unchecked_into::<HtmlSelectElement>().value();
            let set = set.clone();
            on_edit.emit(FormEdit::new(move |form| set(form, value)));
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

    /// A check box.
    pub fn flag(&self, label: &str, path: &str, value: bool, set: SetFlag) -> Html {
        let id = field_id(path);
        let on_edit = self.on_edit.clone();
        let onchange = Callback::from(move |event: Event| {
            let on = event.target_unchecked_into::<HtmlInputElement>().checked();
            let set = set.clone();
            on_edit.emit(FormEdit::new(move |form| set(form, on)));
        });
        html! {
            <label class="flag" for={id.clone()}>
                <input id={id} type="checkbox" checked={value} {onchange}/>{ label.to_owned() }
            </label>
        }
    }
}

/// The value of the input an event came from.
pub fn input_value(event: &InputEvent) -> String {
    event.target_unchecked_into::<HtmlInputElement>().value()
}

/// The value of the text area an event came from.
pub fn textarea_value(event: &InputEvent) -> String {
    event.target_unchecked_into::<HtmlTextAreaElement>().value()
}

/// Options of a select, owned.
pub fn owned(options: &[(&str, &str)]) -> Vec<(String, String)> {
    options
        .iter()
        .map(|(value, text)| ((*value).to_owned(), (*text).to_owned()))
        .collect()
}

/// An element id for a field path: `spec.nodes[0].address` → `f-spec-nodes-0-address`.
pub fn field_id(path: &str) -> String {
    let mut id = String::from("f");
    for part in path.split(['.', '[', ']']).filter(|part| !part.is_empty()) {
        id.push('-');
        id.push_str(part);
    }
    id
}

/// Findings as a list: errors and warnings, each with its value and fix.
pub fn diagnostics_list(found: &[&Diagnostic]) -> Html {
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

/// `1 problem`, `3 problems`.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
