//! Artifacts and images (`kbundle apply --artifacts DIR`, air-gapped installs): the binaries for
//! the node's architecture placed at their install paths, and the image tarballs imported into
//! containerd. Without `--artifacts` both phases have no nodes, and the nodes keep using their
//! packages and registry.
//!
//! One command per node looks first (architecture, which placed files differ in checksum or
//! mode, which images were never imported), so a node that has everything gets nothing else:
//! no upload, no write, no restart, no import. Only what differs is uploaded, checked against its
//! SHA-256 on the node, and placed by writing beside the target and renaming over it (a running
//! binary is swapped, never rewritten in place: no "Text file busy"). A service whose binary
//! changed is restarted if it runs (`systemctl try-restart`). Imports are recorded in
//! `/var/lib/kbundle/images-imported` by tarball checksum: `ctr` cannot say whether an image
//! came from this very tarball.

use super::lock::STATE_DIR;
use super::root;
use crate::apply::artifacts::{ArtifactSet, Binary};
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

/// Record of the image tarballs imported on a node: `<sha256> <image>` per line.
const IMPORTED: &str = "/var/lib/kbundle/images-imported";

/// Places the binaries.
pub(crate) struct Artifacts;

/// Imports the images.
pub(crate) struct Images;

/// What a node has of the artifacts.
struct Look {
    /// `amd64`, `arm64`, or what `uname -m` said.
    arch: String,
    /// Placed files that are missing or differ.
    differs: Vec<String>,
    /// Images never imported (indexes into the set's images).
    images: Vec<usize>,
}

/// The staging folder of artifacts on a node, beside the bundle's (relative to the login home).
fn staging(context: &Context) -> String {
    format!("{}.artifacts", context.staging)
}

/// One command: the node's architecture, every placed file that differs from the plan for it,
/// every image not imported yet.
fn look_script(set: &ArtifactSet, is_control_plane: bool) -> String {
    let mut script = String::from(
        "arch=$(uname -m); case \"$arch\" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac; echo \"arch=$arch\"\n\
         same() { [ \"$(stat -c %a \"$1\" 2>/dev/null)\" = \"$3\" ] && [ \"$(sha256sum < \"$1\" | cut -d' ' -f1)\" = \"$2\" ]; }\n\
         case \"$arch\" in\n",
    );
    for arch in set.architectures() {
        script.push_str(&format!("{arch})\n"));
        for binary in set.binaries_for(arch, is_control_plane) {
            for placed in &binary.placed {
                let path = quote(&placed.path);
                script.push_str(&format!(
                    "  same {path} {} {:o} || echo differs\\|{path}\n",
                    placed.sha256, placed.mode
                ));
            }
        }
        script.push_str("  ;;\n");
    }
    script.push_str("esac\n");
    for (index, image) in set.images.iter().enumerate() {
        script.push_str(&format!(
            "grep -qxF {} {IMPORTED} 2>/dev/null || echo image\\|{index}\n",
            quote(&format!("{} {}", image.sha256, image.name))
        ));
    }
    script
}

/// Looks at the node (one command, as root).
fn look(context: &Context, node: &NodeTarget, set: &ArtifactSet) -> Result<Look, String> {
    let output = root(
        context,
        node,
        &look_script(set, node.has_role("control-plane")),
    )?;
    let mut look = Look {
        arch: String::new(),
        differs: Vec::new(),
        images: Vec::new(),
    };
    for line in output.stdout.lines() {
        if let Some(arch) = line.strip_prefix("arch=") {
            arch.clone_into(&mut look.arch);
        } else if let Some(path) = line.strip_prefix("differs|") {
            look.differs.push(path.to_owned());
        } else if let Some(index) = line.strip_prefix("image|") {
            look.images.extend(index.parse::<usize>().ok());
        }
    }
    Ok(look)
}

/// Sends `file` (relative to the artifacts folder) to the node's staging folder and checks it
/// there against `sha256`, so a copy damaged on the way (or a folder changed since it was
/// checked) is never installed.
fn send(
    context: &Context,
    node: &NodeTarget,
    set: &ArtifactSet,
    file: &str,
    sha256: &str,
) -> Result<(), String> {
    let target = quote(&format!("{}/{file}", staging(context)));
    let part = quote(&format!("{}/{file}.part", staging(context)));
    let command = format!(
        "set -e; umask 077; mkdir -p \"$(dirname {target})\"; cat > {part}; \
         if [ \"$(sha256sum < {part} | cut -d' ' -f1)\" != {sha256} ]; then rm -f {part}; \
         echo {message} >&2; exit 1; fi; mv -f {part} {target}",
        message = quote(&format!(
            "{file}: its sha256 on the node is not {sha256}: damaged on the way; nothing was placed"
        )),
    );
    let output = node
        .remote
        .run_with_file(
            &command,
            &set.directory.join(file),
            context.options.command_timeout,
        )
        .map_err(|error| error.to_string())?;
    if output.success() {
        Ok(())
    } else {
        Err(format!("uploading {file} failed: {}", output.reason()))
    }
}

/// The root script placing `binaries` from the staging folder: each file checked against its
/// SHA-256, written beside its target and renamed over it; identical files are left alone;
/// services whose binaries changed restart if they run.
fn place_script(context: &Context, binaries: &[&Binary]) -> String {
    let mut script = format!(
        "set -eu; umask 022; staged=\"$(pwd)\"/{staging}; mkdir -p {STATE_DIR}; \
         work=$(mktemp -d {STATE_DIR}/unpack.XXXXXX); trap 'rm -rf \"$work\"' EXIT; restart=\n\
         place() {{\n\
         \x20 if [ \"$(stat -c %a \"$2\" 2>/dev/null)\" = \"$4\" ] && [ \"$(sha256sum < \"$2\" | cut -d' ' -f1)\" = \"$3\" ]; then return 0; fi\n\
         \x20 if [ \"$(sha256sum < \"$1\" | cut -d' ' -f1)\" != \"$3\" ]; then echo \"$2: the unpacked file's sha256 is not $3; nothing was placed\" >&2; exit 1; fi\n\
         \x20 mkdir -p \"$(dirname \"$2\")\"; rm -f \"$2.kbundle-new\"; cp \"$1\" \"$2.kbundle-new\"\n\
         \x20 chown 0:0 \"$2.kbundle-new\"; chmod \"$4\" \"$2.kbundle-new\"; mv -f \"$2.kbundle-new\" \"$2\"\n\
         \x20 echo \"placed|$2\"; changed=1\n\
         }}\n",
        staging = quote(&staging(context)),
    );
    for (index, binary) in binaries.iter().enumerate() {
        let source = format!("\"$staged\"/{}", quote(&binary.file));
        script.push_str("changed=0\n");
        if binary.is_archive {
            script.push_str(&format!(
                "mkdir \"$work/{index}\"; tar -xzf {source} -C \"$work/{index}\" --no-same-owner --no-same-permissions\n"
            ));
        }
        for placed in &binary.placed {
            let from = match &placed.entry {
                Some(entry) => format!("\"$work/{index}\"/{}", quote(entry)),
                None => source.clone(),
            };
            script.push_str(&format!(
                "place {from} {} {} {:o}\n",
                quote(&placed.path),
                placed.sha256,
                placed.mode
            ));
        }
        if let Some(service) = binary.service {
            script.push_str(&format!(
                "if [ \"$changed\" = 1 ]; then restart=\"$restart {service}\"; fi\n"
            ));
        }
    }
    script.push_str(
        "rm -rf \"$staged/binaries\"\n\
         for service in $restart; do systemctl try-restart \"$service\"; echo \"restarted|$service\"; done\n",
    );
    script
}

/// Without `--artifacts`: the binaries preflight found missing, from the set fetched once into
/// the cache on this machine, placed as `--artifacts` places them. A node that lacks nothing
/// gets nothing (the binaries it has were checked by preflight, versions included).
fn install_missing(context: &Context, node: &NodeTarget) -> Outcome {
    let facts = context.facts(&node.name);
    if facts.missing.is_empty() {
        return Ok("nothing missing: the node's own binaries are used".into());
    }
    let set = context.fetched_artifacts()?;
    let needed: Vec<&Binary> = set
        .binaries_for(&facts.arch, node.has_role("control-plane"))
        .filter(|binary| facts.missing.contains(&binary.name))
        .collect();
    let named: Vec<&str> = needed.iter().map(|binary| binary.name.as_str()).collect();
    if let Some(lacking) = facts
        .missing
        .iter()
        .find(|name| !named.contains(&name.as_str()))
    {
        return Err(format!(
            "the node lacks {lacking}, which the bundle lists no {} binary of",
            facts.arch
        ));
    }
    for binary in &needed {
        send(context, node, set, &binary.file, &binary.sha256)?;
    }
    root(context, node, &place_script(context, &needed))?;
    let versions: Vec<String> = needed
        .iter()
        .map(|binary| format!("{} {}", binary.name, binary.version))
        .collect();
    Ok(format!(
        "installed what the node lacked: {} ({}, checksums verified)",
        versions.join(", "),
        facts.arch
    ))
}

impl Phase for Artifacts {
    fn name(&self) -> &'static str {
        "artifacts"
    }

    fn title(&self) -> &'static str {
        "Place the binaries from --artifacts, checked on the node"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        if context.artifacts.is_some() || context.fetch.is_some() {
            vec![(0..context.nodes.len()).collect()]
        } else {
            Vec::new()
        }
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let Some(set) = context.artifacts.as_ref() else {
            return install_missing(context, node);
        };
        let look = look(context, node, set)?;
        context.learn(&node.name, |facts| {
            facts.images_to_import = Some(look.images.clone());
        });
        if !set.architectures().contains(look.arch.as_str()) {
            return Err(format!(
                "the node is {} (uname -m), but {} has no binaries for it; fetch them: kbundle artifacts fetch BUNDLE_ZIP -o {} --arch {}",
                if look.arch.is_empty() {
                    "of unknown architecture"
                } else {
                    &look.arch
                },
                set.directory.display(),
                set.directory.display(),
                if look.arch.is_empty() {
                    "ARCH"
                } else {
                    &look.arch
                },
            ));
        }
        let needed: Vec<&Binary> = set
            .binaries_for(&look.arch, node.has_role("control-plane"))
            .filter(|binary| {
                binary
                    .placed
                    .iter()
                    .any(|placed| look.differs.contains(&placed.path))
            })
            .collect();
        let files: usize = set
            .binaries_for(&look.arch, node.has_role("control-plane"))
            .map(|binary| binary.placed.len())
            .sum();
        if needed.is_empty() {
            return Ok(format!(
                "{} binaries ({files} files, {}) already in place",
                set.binaries_for(&look.arch, node.has_role("control-plane"))
                    .count(),
                look.arch
            ));
        }
        for binary in &needed {
            send(context, node, set, &binary.file, &binary.sha256)?;
        }
        let output = root(context, node, &place_script(context, &needed))?;
        let placed = output
            .stdout
            .lines()
            .filter(|line| line.starts_with("placed|"))
            .count();
        let restarted: Vec<&str> = output
            .stdout
            .lines()
            .filter_map(|line| line.strip_prefix("restarted|"))
            .collect();
        let names: Vec<&str> = needed.iter().map(|binary| binary.name.as_str()).collect();
        Ok(format!(
            "{placed} files placed for {} ({}){}",
            look.arch,
            names.join(", "),
            if restarted.is_empty() {
                String::new()
            } else {
                format!(", restarted {} (if running)", restarted.join(", "))
            }
        ))
    }
}

impl Phase for Images {
    fn name(&self) -> &'static str {
        "images"
    }

    fn title(&self) -> &'static str {
        "Import the image tarballs from --artifacts into containerd"
    }

    fn groups(&self, context: &Context) -> Vec<Vec<usize>> {
        match &context.artifacts {
            Some(set) if !set.images.is_empty() => vec![(0..context.nodes.len()).collect()],
            _ => Vec::new(),
        }
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let set = context.artifacts.as_ref().ok_or("no --artifacts")?;
        let missing = match context.facts(&node.name).images_to_import {
            Some(missing) => missing,
            // The artifacts phase was skipped: look here.
            None => look(context, node, set)?.images,
        };
        if missing.is_empty() {
            return Ok(format!("{} images already imported", set.images.len()));
        }
        let images: Vec<_> = missing
            .iter()
            .filter_map(|index| set.images.get(*index))
            .collect();
        for image in &images {
            send(context, node, set, &image.file, &image.sha256)?;
        }
        // containerd must run for ctr to reach it; `start` would start it next anyway, and the
        // kubelet (started there) then finds every image in place instead of failing to pull.
        let mut script = format!(
            "set -eu; staged=\"$(pwd)\"/{}; mkdir -p {STATE_DIR}; systemctl enable --now containerd\n",
            quote(&staging(context))
        );
        for image in &images {
            let file = format!("\"$staged\"/{}", quote(&image.file));
            script.push_str(&format!(
                "ctr -n k8s.io images import {file}\necho {} >> {IMPORTED}; rm -f {file}\n",
                quote(&format!("{} {}", image.sha256, image.name))
            ));
        }
        root(context, node, &script)?;
        Ok(format!("{} images imported", images.len()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::apply::artifacts::tests::{bundle, fake_fetch, scratch};
    use crate::apply::{ApplyOptions, NodeTarget};
    use crate::ssh::fake::FakeRemote;
    use crate::ssh::{Become, Output};

    fn context(directory: &std::path::Path, remote: FakeRemote) -> Context {
        let bundle = bundle();
        let nodes = bundle
            .manifest
            .nodes
            .iter()
            .take(1)
            .map(|node| NodeTarget {
                name: node.name.clone(),
                addresses: node.addresses.clone(),
                roles: node.roles.clone(),
                remote: Box::new(FakeRemote::node()),
                become_root: Become::Sudo,
            })
            .collect();
        let mut context = Context::new(
            bundle,
            nodes,
            ApplyOptions {
                concurrency: 1,
                command_timeout: Duration::from_secs(5),
                wait_timeout: Duration::from_secs(5),
                ignore_preflight: Vec::new(),
                skip_phases: Vec::new(),
                prune: false,
                force: false,
                break_lock: false,
                wipe_data: false,
            },
        );
        context.nodes[0].remote = Box::new(remote);
        context.artifacts =
            Some(crate::apply::artifacts::load(directory, &context.bundle).unwrap());
        context
    }

    fn answer(stdout: &str) -> Result<Output, crate::ssh::SshError> {
        Ok(Output {
            status: Some(0),
            stdout: stdout.to_owned(),
            stderr: String::new(),
        })
    }

    #[test]
    fn uploads_and_places_only_what_differs_then_imports_missing_images() {
        let directory = scratch("phase");
        let bundle = bundle();
        fake_fetch(&directory, &bundle, true);
        let remote = FakeRemote::node().answer(
            "uname -m",
            answer("arch=amd64\ndiffers|/usr/local/bin/kubelet\nimage|0\n"),
        );
        let calls = remote.calls();
        let context = context(&directory, remote);
        let node = &context.nodes[0];
        let outcome = Artifacts.run_on(&context, node);
        assert!(outcome.is_ok(), "{outcome:?}");
        Images.run_on(&context, node).unwrap();
        let calls = calls.lock().unwrap();
        let uploads: Vec<&(String, Vec<u8>)> =
            calls.iter().filter(|(c, _)| c.contains("cat >")).collect();
        assert_eq!(uploads.len(), 2, "kubelet and one image: {calls:#?}");
        assert!(uploads[0].0.contains("binaries/amd64/kubelet.part"));
        assert!(uploads[0].1.starts_with(b"#!/bin/sh\n# kubelet"));
        let place = calls
            .iter()
            .find(|(c, _)| c.contains("place()"))
            .map(|(c, _)| c.clone())
            .unwrap();
        assert!(place.contains("/usr/local/bin/kubelet"), "{place}");
        assert!(
            !place.contains("containerd"),
            "only kubelet differs: {place}"
        );
        assert!(place.contains("mv -f"), "{place}");
        let import = calls
            .iter()
            .find(|(c, _)| c.contains("images import"))
            .map(|(c, _)| c.clone())
            .unwrap();
        assert_eq!(import.matches("images import").count(), 1, "{import}");
        assert!(import.contains(IMPORTED), "{import}");
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn a_node_with_everything_gets_one_look_and_nothing_else() {
        let directory = scratch("noop");
        let bundle = bundle();
        fake_fetch(&directory, &bundle, true);
        let remote = FakeRemote::node().answer("uname -m", answer("arch=amd64\n"));
        let calls = remote.calls();
        let context = context(&directory, remote);
        let outcome = Artifacts.run_on(&context, &context.nodes[0]).unwrap();
        assert!(outcome.contains("already in place"), "{outcome}");
        let outcome = Images.run_on(&context, &context.nodes[0]).unwrap();
        assert!(outcome.contains("already imported"), "{outcome}");
        assert_eq!(calls.lock().unwrap().len(), 1);
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn a_node_of_an_architecture_not_fetched_fails_naming_the_fix() {
        let directory = scratch("arch");
        let bundle = bundle();
        fake_fetch(&directory, &bundle, false);
        let remote = FakeRemote::node().answer("uname -m", answer("arch=arm64\n"));
        let context = context(&directory, remote);
        let reason = Artifacts.run_on(&context, &context.nodes[0]).unwrap_err();
        assert!(
            reason.contains("the node is arm64") && reason.contains("--arch arm64"),
            "{reason}"
        );
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn without_artifacts_neither_phase_has_nodes() {
        let directory = scratch("none");
        let bundle = bundle();
        fake_fetch(&directory, &bundle, true);
        let mut context = context(&directory, FakeRemote::node());
        context.artifacts = None;
        assert!(Artifacts.groups(&context).is_empty());
        assert!(Images.groups(&context).is_empty());
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
