//! Addons: applied in file order through the first control-plane node, with super-admin.conf
//! (admin.conf gets its rights from an addon).

use super::{first_control_plane, root};
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

pub(crate) struct Addons;

impl Phase for Addons {
    fn name(&self) -> &'static str {
        "addons"
    }

    fn title(&self) -> &'static str {
        "Apply the addons"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        first_control_plane(context)
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let addons: Vec<&str> = context
            .bundle
            .manifest
            .files
            .iter()
            .map(|file| file.path.as_str())
            .filter(|path| path.starts_with("addons/"))
            .collect();
        for addon in &addons {
            let command = format!(
                "kubectl --kubeconfig /etc/kubernetes/super-admin.conf apply --server-side --force-conflicts -f {}/{}",
                quote(&context.staging),
                quote(addon)
            );
            root(context, node, &command).map_err(|reason| format!("{addon}: {reason}"))?;
        }
        Ok(format!("{} addons applied", addons.len()))
    }
}
