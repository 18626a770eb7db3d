//! The form's section: SSH defaults for `kbundle apply`.

use std::rc::Rc;

use yew::prelude::*;

use super::SectionProps;
use crate::app::fields::Fields;

/// The section.
#[component]
pub fn SshSection(props: &SectionProps) -> Html {
    let form = &*props.form;
    let fields = Fields::new(&props.checked, &props.on_edit);
    let ssh = &form.ssh;
    html! {
        <details class="card" id="ssh">
            <summary>{"SSH defaults"}</summary>
            <div class="grid">
                { fields.text("User", "spec.ssh.user", &ssh.user, "default root", Rc::new(|f, v| f.ssh.user = v)) }
                { fields.text("Port", "spec.ssh.port", &ssh.port, "default 22", Rc::new(|f, v| f.ssh.port = v)) }
                { fields.text("Identity file", "spec.ssh.identityFile", &ssh.identity_file,
                    "a path on the machine that runs kbundle apply; the key never comes here", Rc::new(|f, v| f.ssh.identity_file = v)) }
                { fields.text("Jump hosts", "spec.ssh.jumpHosts", &ssh.jump_hosts, "user@host:port, in order",
                    Rc::new(|f, v| f.ssh.jump_hosts = v)) }
            </div>
        </details>
    }
}
