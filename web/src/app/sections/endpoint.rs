//! The form's section: High availability: the endpoint in front of several control-plane nodes, and what provides it.

use std::rc::Rc;

use yew::prelude::*;

use super::SectionProps;
use crate::app::fields::{Fields, owned};

/// The section.
#[component]
pub fn EndpointSection(props: &SectionProps) -> Html {
    let form = &*props.form;
    let fields = Fields::new(&props.checked, &props.on_edit);
    if !form.needs_endpoint() {
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
                { fields.text("Endpoint (host:port)", "spec.controlPlaneEndpoint", &form.endpoint,
                    "A free IP on the node network for kube-vip, or your load balancer, e.g. 198.51.100.100:6443",
                    Rc::new(|f, v| f.endpoint = v)) }
                { fields.select("Provided by", "spec.highAvailability.mode", &form.ha_mode, &owned(&modes),
                    Rc::new(|f, v| f.ha_mode = v)) }
                { fields.text("VIP interface", "spec.highAvailability.interface", &form.ha_interface,
                    "kube-vip only; default: the interface that holds the node's address", Rc::new(|f, v| f.ha_interface = v)) }
            </div>
        </fieldset>
    }
}
