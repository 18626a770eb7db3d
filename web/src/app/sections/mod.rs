//! The form, a component per section of cluster.yaml (`import` and `previous` load whole
//! clusters into it). Each section gets the form, its findings and where edits go; the page
//! ([`super::App`]) owns the form and checks it again after every edit.

mod certificates;
mod cluster;
mod endpoint;
mod import;
mod networking;
mod nodes;
mod previous;
mod proxy;
mod registry;
mod ssh;

use std::rc::Rc;

use yew::prelude::*;

pub use certificates::CertificatesSection;
pub use cluster::ClusterSection;
pub use endpoint::EndpointSection;
pub use import::ImportSection;
pub use networking::NetworkingSection;
pub use nodes::NodesSection;
pub use previous::{PreviousBundle, PreviousSection};
pub use proxy::ProxySection;
pub use registry::RegistrySection;
pub use ssh::SshSection;

use super::fields::FormEdit;
use crate::form::{Checked, Form};

/// What a section of the form is given.
#[derive(Properties, Clone)]
pub struct SectionProps {
    /// The form.
    pub form: Rc<Form>,
    /// Its findings.
    pub checked: Rc<Checked>,
    /// Where its edits go.
    pub on_edit: Callback<FormEdit>,
}

impl PartialEq for SectionProps {
    /// The page replaces the form and its findings on every edit, so the same ones are the
    /// same allocation: no deep comparison per render.
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.form, &other.form)
            && Rc::ptr_eq(&self.checked, &other.checked)
            && self.on_edit == other.on_edit
    }
}
