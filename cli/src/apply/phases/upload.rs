//! Upload: the node's files (and, to the first control-plane node, the addons) as one tar to a
//! private staging folder, checked against their checksums on the node before it replaces the
//! previous staging folder.

use kbundle_core::bundle::layout;

use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

pub(crate) struct Upload;

/// The tar of `node`'s staging folder: `install.sh`, `SHA256SUMS`, `rootfs/…`, `addons/…`.
fn archive(context: &Context, node: &NodeTarget, with_addons: bool) -> Result<Vec<u8>, String> {
    let node_prefix = format!("{}/{}/", layout::NODES_DIR, node.name);
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    for entry in &context.bundle.entries {
        let name = if let Some(rest) = entry.path.strip_prefix(&node_prefix) {
            rest.to_owned()
        } else if with_addons && entry.path.starts_with(&format!("{}/", layout::ADDONS_DIR)) {
            entry.path.clone()
        } else {
            continue;
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(entry.contents.len() as u64);
        header.set_mode(entry.mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, &name, entry.contents.as_slice())
            .map_err(|error| format!("packing {name}: {error}"))?;
    }
    builder.into_inner().map_err(|error| error.to_string())
}

impl Phase for Upload {
    fn name(&self) -> &'static str {
        "upload"
    }

    fn title(&self) -> &'static str {
        "Upload each node's files"
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        if context.facts(&node.name).up_to_date {
            return Ok("already uploaded".into());
        }
        let with_addons = context
            .first_control_plane()
            .is_some_and(|first| context.nodes[first].name == node.name);
        let data = archive(context, node, with_addons)?;
        let staging = quote(&context.staging);
        let next = quote(&format!("{}.new", context.staging));
        let command = format!(
            "set -e; umask 077; rm -rf {next}; mkdir -p {next}; tar -x -f - -C {next}; \
             cd {next}/rootfs && sha256sum --quiet --strict -c ../SHA256SUMS; cd; \
             rm -rf {staging}; mv {next} {staging}"
        );
        let output = node
            .remote
            .run(&command, &data, context.options.command_timeout)
            .map_err(|error| error.to_string())?;
        if output.success() {
            Ok(format!(
                "{} KiB, checksums verified on the node",
                data.len().div_ceil(1024)
            ))
        } else {
            Err(format!("upload failed: {}", output.reason()))
        }
    }
}
