//! Connect: reach every node over SSH and check that the login can become root.

use super::root;
use crate::apply::{Context, NodeTarget, Outcome, Phase};

pub(crate) struct Connect;

impl Phase for Connect {
    fn name(&self) -> &'static str {
        "connect"
    }

    fn title(&self) -> &'static str {
        "Connect and become root"
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let output = root(context, node, "id -u").map_err(|reason| {
            if reason.contains("password is required") {
                format!("{reason}: sudo asks for a password; pass --ask-become-pass")
            } else if reason.contains("incorrect password") || reason.contains("Sorry, try again") {
                "sudo refused the password".to_owned()
            } else {
                reason
            }
        })?;
        match output.stdout.trim() {
            "0" => Ok("connected, root".into()),
            other => Err(format!("became uid {other}, not root")),
        }
    }
}
