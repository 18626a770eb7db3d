//! The form's section: the nodes, each with its name, address, roles, labels, taints and SSH
//! settings, and a box to paste many addresses at once.

use std::rc::Rc;

use kbundle_core::config::Diagnostic;
use yew::prelude::*;

use super::SectionProps;
use crate::app::fields::{Fields, FormEdit, diagnostics_list, textarea_value};
use crate::form::Form;

/// The section.
#[component]
pub fn NodesSection(props: &SectionProps) -> Html {
    let form = &*props.form;
    let fields = Fields::new(&props.checked, &props.on_edit);
    // The pasted addresses wait here until added: they are not the form's until then.
    let paste_buffer = use_state(String::new);
    let on_paste_input = {
        let paste_buffer = paste_buffer.clone();
        Callback::from(move |event: InputEvent| paste_buffer.set(textarea_value(&event)))
    };
    let on_add_pasted = {
        let paste_buffer = paste_buffer.clone();
        let on_edit = props.on_edit.clone();
        Callback::from(move |_| {
            let text = (*paste_buffer).clone();
            // Cleared only when something was added, so a paste of no address stays to fix.
            if Form::default().paste_addresses(&text) > 0 {
                paste_buffer.set(String::new());
                on_edit.emit(FormEdit::new(move |form| {
                    form.paste_addresses(&text);
                }));
            }
        })
    };
    let rows = form.nodes.iter().enumerate().map(|(index, node)| {
        let path = format!("spec.nodes[{index}]");
        let remove = fields.on_click(move |f| {
            if index < f.nodes.len() {
                f.nodes.remove(index);
            }
        });
        let row_errors = props.checked.about(&path).into_iter().filter(|d| {
            // Field-level findings are shown at their fields; the rest at the row.
            !["name", "address", "labels", "taints", "ssh"].iter().any(|field| {
                d.path.starts_with(&format!("{path}.{field}"))
            })
        });
        let row_errors: Vec<&Diagnostic> = row_errors.collect();
        html! {
            <li class="node" key={index}>
                <div class="node-main">
                    { fields.text("Name", &format!("{path}.name"), &node.name, "",
                        Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.name = v })) }
                    { fields.text("Address", &format!("{path}.address"), &node.address, "IPv4, IPv6, or both as IPv4,IPv6",
                        Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.address = v })) }
                    <fieldset class="roles">
                        <legend>{"Roles"}</legend>
                        { fields.flag("control plane", &format!("{path}.roles.cp"), node.control_plane,
                            Rc::new(move |f, on| if let Some(n) = f.nodes.get_mut(index) { n.control_plane = on })) }
                        { fields.flag("etcd", &format!("{path}.roles.etcd"), node.etcd,
                            Rc::new(move |f, on| if let Some(n) = f.nodes.get_mut(index) { n.etcd = on })) }
                        { fields.flag("worker", &format!("{path}.roles.worker"), node.worker,
                            Rc::new(move |f, on| if let Some(n) = f.nodes.get_mut(index) { n.worker = on })) }
                    </fieldset>
                    <button type="button" class="remove" aria-label={format!("Remove node {}", node.name)}
                        onclick={remove}>{"Remove"}</button>
                </div>
                { diagnostics_list(&row_errors) }
                <details class="advanced">
                    <summary>{"Labels, taints, SSH for this node"}</summary>
                    <div class="grid">
                        { fields.text("Labels", &format!("{path}.labels"), &node.labels, "key=value, separated by commas",
                            Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.labels = v })) }
                        { fields.text("Taints", &format!("{path}.taints"), &node.taints, "key[=value]:NoSchedule, …",
                            Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.taints = v })) }
                        { fields.text("SSH user", &format!("{path}.ssh.user"), &node.ssh.user, "default: the cluster's",
                            Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.ssh.user = v })) }
                        { fields.text("SSH port", &format!("{path}.ssh.port"), &node.ssh.port, "default: the cluster's",
                            Rc::new(move |f, v| if let Some(n) = f.nodes.get_mut(index) { n.ssh.port = v })) }
                    </div>
                </details>
            </li>
        }
    });
    let add = fields.on_click(|f| f.add_node(""));
    let spec_nodes: Vec<&Diagnostic> = props
        .checked
        .diagnostics
        .iter()
        .filter(|d| d.path == "spec.nodes")
        .collect();
    html! {
        <fieldset class="card" id="nodes">
            <legend>{format!("Nodes ({})", form.nodes.len())}</legend>
            { diagnostics_list(&spec_nodes) }
            <ol class="nodes">{ for rows }</ol>
            <div class="buttons">
                <button type="button" id="add-node" onclick={add}>{"Add a node"}</button>
            </div>
            <label for="paste-addresses">{"Paste addresses (one node each; the first becomes the control plane if the list is empty):"}</label>
            <textarea id="paste-addresses" rows="3" spellcheck="false" value={(*paste_buffer).clone()}
                placeholder="198.51.100.10\n198.51.100.11\n198.51.100.12"
                oninput={on_paste_input}/>
            <div class="buttons">
                <button type="button" id="add-pasted" onclick={on_add_pasted}
                    disabled={paste_buffer.trim().is_empty()}>{"Add these nodes"}</button>
            </div>
        </fieldset>
    }
}
