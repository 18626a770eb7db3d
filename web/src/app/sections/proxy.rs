//! The form's section: The HTTP proxy containerd and the kubelet use.

use std::rc::Rc;

use yew::prelude::*;

use super::SectionProps;
use crate::app::fields::Fields;

/// The section.
#[component]
pub fn ProxySection(props: &SectionProps) -> Html {
    let form = &*props.form;
    let fields = Fields::new(&props.checked, &props.on_edit);
    let proxy = &form.proxy;
    html! {
        <details class="card" id="proxy">
            <summary>{"HTTP proxy"}</summary>
            <p class="help">{"Used by containerd and kubelet only. NO_PROXY is computed from the plan (nodes, pod and service ranges, cluster domain); add your own entries below."}</p>
            <div class="grid">
                { fields.text("HTTP proxy", "spec.proxy.http", &proxy.http, "e.g. http://proxy.example.com:3128",
                    Rc::new(|f, v| f.proxy.http = v)) }
                { fields.text("HTTPS proxy", "spec.proxy.https", &proxy.https, "",
                    Rc::new(|f, v| f.proxy.https = v)) }
                { fields.text("Extra NO_PROXY", "spec.proxy.noProxy", &proxy.no_proxy, "separated by commas",
                    Rc::new(|f, v| f.proxy.no_proxy = v)) }
            </div>
        </details>
    }
}
