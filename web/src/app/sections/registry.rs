//! The form's section: a private registry (image repository, pull-secret namespaces), mirrors
//! and credentials. Passwords are never stored by the page.

use std::rc::Rc;

use yew::prelude::*;

use super::SectionProps;
use crate::app::fields::Fields;
use crate::form::{CredentialRow, MirrorRow};

/// The section.
#[component]
pub fn RegistrySection(props: &SectionProps) -> Html {
    let form = &*props.form;
    let fields = Fields::new(&props.checked, &props.on_edit);
    let registry = &form.registry;
    let mirrors = registry.mirrors.iter().enumerate().map(|(index, mirror)| {
        let path = format!("spec.registry.mirrors[{index}]");
        html! {
            <li key={index} class="pair">
                { fields.text("Upstream registry", &format!("{path}.registry"), &mirror.registry, "e.g. docker.io",
                    Rc::new(move |f, v| if let Some(m) = f.registry.mirrors.get_mut(index) { m.registry = v })) }
                { fields.text("Mirror URLs", &format!("{path}.endpoints"), &mirror.endpoints, "tried in order, separated by commas",
                    Rc::new(move |f, v| if let Some(m) = f.registry.mirrors.get_mut(index) { m.endpoints = v })) }
                <button type="button" class="remove" onclick={fields.on_click(move |f| {
                    if index < f.registry.mirrors.len() { f.registry.mirrors.remove(index); }
                })}>{"Remove"}</button>
            </li>
        }
    });
    let credentials = registry.credentials.iter().enumerate().map(|(index, credential)| {
        let path = format!("spec.registry.credentials[{index}]");
        html! {
            <li key={index} class="pair">
                { fields.text("Registry", &format!("{path}.registry"), &credential.registry, "",
                    Rc::new(move |f, v| if let Some(c) = f.registry.credentials.get_mut(index) { c.registry = v })) }
                { fields.text("User", &format!("{path}.username"), &credential.username, "",
                    Rc::new(move |f, v| if let Some(c) = f.registry.credentials.get_mut(index) { c.username = v })) }
                { fields.secret("Password or token", &format!("{path}.password"), &credential.password,
                    "goes into the bundle; never stored by this page",
                    Rc::new(move |f, v| if let Some(c) = f.registry.credentials.get_mut(index) { c.password = v })) }
                <button type="button" class="remove" onclick={fields.on_click(move |f| {
                    if index < f.registry.credentials.len() { f.registry.credentials.remove(index); }
                })}>{"Remove"}</button>
            </li>
        }
    });
    html! {
        <details class="card" id="registry">
            <summary>{"Private registry and mirrors"}</summary>
            <div class="grid">
                { fields.text("Image repository", "spec.registry.imageRepository", &registry.image_repository,
                    "replaces registry.k8s.io for every Kubernetes image", Rc::new(|f, v| f.registry.image_repository = v)) }
                { fields.text("Pull secret namespaces", "spec.registry.pullSecretNamespaces", &registry.pull_secret_namespaces,
                    "default: default", Rc::new(|f, v| f.registry.pull_secret_namespaces = v)) }
            </div>
            <h3>{"Mirrors"}</h3>
            <ul class="pairs">{ for mirrors }</ul>
            <button type="button" id="add-mirror" onclick={fields.on_click(|f| f.registry.mirrors.push(MirrorRow::default()))}>{"Add a mirror"}</button>
            <h3>{"Credentials"}</h3>
            <ul class="pairs">{ for credentials }</ul>
            <button type="button" id="add-credential" onclick={fields.on_click(|f| f.registry.credentials.push(CredentialRow::default()))}>{"Add credentials"}</button>
        </details>
    }
}
