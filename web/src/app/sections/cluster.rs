//! The form's section: The cluster: its name and Kubernetes version.

use std::rc::Rc;

use kbundle_core::versions::RELEASES;
use yew::prelude::*;

use super::SectionProps;
use crate::app::fields::Fields;

/// The section.
#[component]
pub fn ClusterSection(props: &SectionProps) -> Html {
    let form = &*props.form;
    let fields = Fields::new(&props.checked, &props.on_edit);
    let mut versions = vec![(String::new(), "newest supported".to_owned())];
    for release in RELEASES.iter().rev() {
        let minor = format!("1.{}", release.minor);
        versions.push((
            minor.clone(),
            format!("{minor} (1.{}.{})", release.minor, release.latest_patch),
        ));
    }
    html! {
        <fieldset class="card">
            <legend>{"Cluster"}</legend>
            <div class="grid">
                { fields.text("Name", "metadata.name", &form.name, "A DNS label: lower case, digits, dashes.",
                    Rc::new(|f, v| f.name = v)) }
                { fields.select("Kubernetes version", "spec.kubernetesVersion", &form.kubernetes_version, &versions,
                    Rc::new(|f, v| f.kubernetes_version = v)) }
            </div>
        </fieldset>
    }
}
