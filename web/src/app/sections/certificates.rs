//! The form's section: Certificates: key algorithm, validity, extra API server names.

use std::rc::Rc;

use yew::prelude::*;

use super::SectionProps;
use crate::app::fields::{Fields, owned};

/// The section.
#[component]
pub fn CertificatesSection(props: &SectionProps) -> Html {
    let form = &*props.form;
    let fields = Fields::new(&props.checked, &props.on_edit);
    let c = &form.certificates;
    let algorithms = [
        ("", "ECDSA P-256 (default)"),
        ("ECDSA-P256", "ECDSA P-256"),
        ("RSA-2048", "RSA-2048"),
        ("RSA-3072", "RSA-3072"),
        ("RSA-4096", "RSA-4096"),
    ];
    html! {
        <details class="card" id="certificates">
            <summary>{"Certificates"}</summary>
            <div class="grid">
                { fields.select("Key algorithm", "spec.certificates.keyAlgorithm", &c.key_algorithm, &owned(&algorithms),
                    Rc::new(|f, v| f.certificates.key_algorithm = v)) }
                { fields.text("Certificate validity", "spec.certificates.validity", &c.validity, "e.g. 365d or 8760h",
                    Rc::new(|f, v| f.certificates.validity = v)) }
                { fields.text("CA validity", "spec.certificates.caValidity", &c.ca_validity, "e.g. 3650d",
                    Rc::new(|f, v| f.certificates.ca_validity = v)) }
                { fields.text("Extra API server names", "spec.certificates.extraSANs", &c.extra_sans,
                    "DNS names or IPs, separated by commas", Rc::new(|f, v| f.certificates.extra_sans = v)) }
            </div>
            <p class="help">{"To sign with a CA you already have, use the command line: "}<code>{"kbundle generate"}</code>{" with "}<code>{"spec.certificates.existingCAs"}</code>{"."}</p>
        </details>
    }
}
