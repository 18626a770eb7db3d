//! `kbundle apply --artifacts DIR`, before any connection: the folder `kbundle artifacts fetch`
//! filled is checked against its fetch record (every checksum, [`fetch::verified`]) and against
//! the bundle's `artifacts.json` (the very binaries, versions and images this cluster needs), and
//! turned into a plan: per architecture, every file to place on a node with its SHA-256 and mode,
//! archives listed entry by entry. Nothing here talks to a node; a folder that does not check out
//! is refused here, so nothing is installed anywhere. Without `--artifacts`, the binaries nodes
//! lack are fetched into a cache on this machine ([`cached`]) and planned the same way.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use kbundle_core::bundle::{Bundle, layout, sha256_hex};

use crate::commands::fetch::{self, Fetched};

/// A checked artifacts folder and what it places on the nodes.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactSet {
    /// The folder, as given.
    pub(crate) directory: PathBuf,
    /// Every binary of every architecture the folder holds.
    pub(crate) binaries: Vec<Binary>,
    /// Every image tarball; empty when fetched with `--no-images` (nodes pull from their
    /// registry or mirror then).
    pub(crate) images: Vec<Image>,
}

/// One downloaded binary or archive and the files it places.
#[derive(Debug, Clone)]
pub(crate) struct Binary {
    /// `kubelet`, `containerd`, …
    pub(crate) name: String,
    /// As the bundle pins it.
    pub(crate) version: String,
    /// `amd64` or `arm64`.
    pub(crate) arch: String,
    /// Path relative to the folder, e.g. `binaries/amd64/kubelet`.
    pub(crate) file: String,
    /// SHA-256 of that file.
    pub(crate) sha256: String,
    /// Only control-plane nodes need it (kubectl).
    pub(crate) is_control_plane_only: bool,
    /// A `.tar.gz` unpacked on the node, rather than a plain binary.
    pub(crate) is_archive: bool,
    /// What it places.
    pub(crate) placed: Vec<Placed>,
    /// The service to restart (if it runs) when this binary changed.
    pub(crate) service: Option<&'static str>,
}

/// One file placed on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placed {
    /// Absolute path on the node.
    pub(crate) path: String,
    /// Path inside the archive (no leading `./`); `None` for a plain binary.
    pub(crate) entry: Option<String>,
    pub(crate) sha256: String,
    pub(crate) mode: u32,
}

/// One image tarball.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    /// The image reference, e.g. `registry.k8s.io/pause:3.10.2`.
    pub(crate) name: String,
    /// Path relative to the folder.
    pub(crate) file: String,
    pub(crate) sha256: String,
}

impl ArtifactSet {
    /// The architectures the folder has binaries for.
    pub(crate) fn architectures(&self) -> BTreeSet<&str> {
        self.binaries
            .iter()
            .map(|binary| binary.arch.as_str())
            .collect()
    }

    /// The binaries a node of `arch` needs.
    pub(crate) fn binaries_for<'a>(
        &'a self,
        arch: &'a str,
        is_control_plane: bool,
    ) -> impl Iterator<Item = &'a Binary> + 'a {
        self.binaries.iter().filter(move |binary| {
            binary.arch == arch && (is_control_plane || !binary.is_control_plane_only)
        })
    }
}

/// Without `--artifacts`: where the binaries nodes lack are fetched to, once, and kept.
#[derive(Debug, Clone)]
pub(crate) struct FetchSettings {
    /// The cache's root (`~/.cache/kbundle/artifacts`); each bundle's versions get a folder.
    pub(crate) cache: PathBuf,
    /// A copy of the upstream layout to download from instead.
    pub(crate) mirror: Option<String>,
}

impl FetchSettings {
    /// `--artifacts-cache`, else `$XDG_CACHE_HOME/kbundle/artifacts`, else
    /// `~/.cache/kbundle/artifacts`.
    pub(crate) fn new(cache: Option<PathBuf>, mirror: Option<String>) -> anyhow::Result<Self> {
        let cache = match cache {
            Some(cache) => cache,
            None => match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
                Some(base) => PathBuf::from(base).join("kbundle/artifacts"),
                None => PathBuf::from(
                    std::env::var_os("HOME")
                        .context("HOME is not set: give --artifacts-cache DIR")?,
                )
                .join(".cache/kbundle/artifacts"),
            },
        };
        Ok(Self { cache, mirror })
    }
}

/// The cached artifacts folder of `bundle`'s versions, holding the binaries of `arches`:
/// whatever is missing from it is fetched first (a folder that no longer checks out is fetched
/// again whole). Every file is checked against its published checksum when fetched and against
/// the folder's record when used, as an `--artifacts` folder is.
pub(crate) fn cached(
    bundle: &Bundle,
    settings: &FetchSettings,
    arches: &BTreeSet<String>,
) -> anyhow::Result<ArtifactSet> {
    let listed_bytes = &bundle
        .entry(layout::ARTIFACTS_JSON)
        .context("the bundle has no artifacts.json (made by an older kbundle?)")?
        .contents;
    let listed: serde_json::Value =
        serde_json::from_slice(listed_bytes).context("the bundle's artifacts.json is not JSON")?;
    // Keyed by what is fetched (names, versions, addresses), so bundles of the same versions
    // share a folder and another version never finds a stale one.
    let key = sha256_hex(listed["binaries"].to_string().as_bytes());
    let directory = settings.cache.join(format!(
        "{}-{}",
        bundle.manifest.kubernetes_version,
        &key[..16]
    ));
    let mut record = match fetch::verified(&directory) {
        Ok(record) => record,
        Err(_) => {
            let _ = std::fs::remove_dir_all(&directory);
            Vec::new()
        }
    };
    let missing: Vec<String> = arches
        .iter()
        .filter(|arch| !record.iter().any(|fetched| &fetched.arch == *arch))
        .cloned()
        .collect();
    if !missing.is_empty() {
        std::fs::create_dir_all(&directory)
            .with_context(|| format!("creating the cache `{}`", directory.display()))?;
        let fetched = fetch::binaries(
            &listed,
            &missing,
            &directory,
            settings.mirror.as_deref(),
            |_| {},
        )
        .with_context(|| format!("fetching into `{}`", directory.display()))?;
        record.extend(fetched);
        let text = serde_json::to_string_pretty(&record)? + "\n";
        crate::files::write_atomically(&directory.join(fetch::FETCHED), text.as_bytes(), true)?;
    }
    load(&directory, bundle)
}

/// The hint every refusal ends with.
fn fetch_again(directory: &Path) -> String {
    format!(
        "hint: fetch the artifacts of this bundle again on a connected machine: kbundle artifacts fetch BUNDLE_ZIP -o {} (add --arch for the nodes' architectures)",
        directory.display()
    )
}

/// Checks `directory` completely against its fetch record and the bundle's artifacts list, and
/// plans what it places. Every problem found is in the error.
pub(crate) fn load(directory: &Path, bundle: &Bundle) -> anyhow::Result<ArtifactSet> {
    let listed: serde_json::Value = serde_json::from_slice(
        &bundle
            .entry(layout::ARTIFACTS_JSON)
            .context("the bundle has no artifacts.json (made by an older kbundle?)")?
            .contents,
    )
    .context("the bundle's artifacts.json is not JSON")?;
    // Every checksum first: nothing else is worth saying about a damaged folder.
    let fetched = fetch::verified(directory)?;
    let mut problems = Vec::new();
    let text = |value: &serde_json::Value, key: &str| value[key].as_str().unwrap_or("").to_owned();
    let wanted: Vec<&serde_json::Value> = listed["binaries"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let (images, binaries): (Vec<&Fetched>, Vec<&Fetched>) = fetched
        .iter()
        .partition(|artifact| artifact.install_path == "image");

    let mut planned = Vec::new();
    for artifact in &binaries {
        let Some(listed) = wanted
            .iter()
            .find(|w| text(w, "name") == artifact.name && text(w, "arch") == artifact.arch)
        else {
            problems.push(format!(
                "`{}`: this bundle lists no {} for {}",
                artifact.file, artifact.name, artifact.arch
            ));
            continue;
        };
        if text(listed, "version") != artifact.version {
            problems.push(format!(
                "`{}` is {} {}, this bundle needs {}",
                artifact.file,
                artifact.name,
                artifact.version,
                text(listed, "version")
            ));
            continue;
        }
        // Where it goes is the bundle's word, not the record's (an older fetch may say /usr/bin).
        match plan(directory, artifact, &text(listed, "install_path")) {
            Ok((is_archive, placed)) => planned.push(Binary {
                name: artifact.name.clone(),
                version: artifact.version.clone(),
                arch: artifact.arch.clone(),
                file: artifact.file.clone(),
                sha256: artifact.sha256.clone(),
                is_control_plane_only: text(listed, "nodes") == "control-plane",
                is_archive,
                placed,
                service: match artifact.name.as_str() {
                    "kubelet" => Some("kubelet"),
                    "containerd" => Some("containerd"),
                    _ => None,
                },
            }),
            Err(error) => problems.push(format!("`{}`: {error:#}", artifact.file)),
        }
    }
    let architectures: BTreeSet<&str> = binaries.iter().map(|a| a.arch.as_str()).collect();
    if architectures.is_empty() {
        problems.push("it holds no binaries".to_owned());
    }
    for arch in &architectures {
        for listed in wanted.iter().filter(|w| text(w, "arch") == *arch) {
            let name = text(listed, "name");
            if !binaries.iter().any(|a| a.arch == *arch && a.name == name) {
                problems.push(format!(
                    "{name} {} for {arch} is missing",
                    text(listed, "version")
                ));
            }
        }
    }
    // Images: all of them, or none (fetched with --no-images: nodes pull them).
    if !images.is_empty() {
        for image in listed["images"].as_array().into_iter().flatten() {
            let image = image.as_str().unwrap_or_default();
            if !images.iter().any(|artifact| artifact.name == image) {
                problems.push(format!("the image {image} is missing"));
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "it does not hold what this bundle needs:\n{}\n{}",
            problems.join("\n"),
            fetch_again(directory)
        );
    }
    Ok(ArtifactSet {
        directory: directory.to_owned(),
        binaries: planned,
        images: images
            .iter()
            .map(|artifact| Image {
                name: artifact.name.clone(),
                file: artifact.file.clone(),
                sha256: artifact.sha256.clone(),
            })
            .collect(),
    })
}

/// What one artifact places under `install_path`: a plain binary goes there itself (0755); an
/// archive's regular files go below it at their paths in the archive (0755 when executable).
fn plan(
    directory: &Path,
    artifact: &Fetched,
    install_path: &str,
) -> anyhow::Result<(bool, Vec<Placed>)> {
    if !install_path.starts_with('/') || install_path.contains("..") {
        bail!("the bundle names an unsafe install path `{install_path}`");
    }
    let is_archive = artifact.file.ends_with(".tar.gz") || artifact.file.ends_with(".tgz");
    if !is_archive {
        return Ok((
            false,
            vec![Placed {
                path: install_path.to_owned(),
                entry: None,
                sha256: artifact.sha256.clone(),
                mode: 0o755,
            }],
        ));
    }
    let file = std::fs::File::open(directory.join(&artifact.file)).context("opening it")?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut placed = Vec::new();
    for entry in archive.entries().context("not a .tar.gz")? {
        let mut entry = entry.context("not a .tar.gz")?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let name = entry
            .path()
            .context("an entry's name")?
            .to_string_lossy()
            .into_owned();
        let name = name.trim_start_matches("./").to_owned();
        let parts: Vec<&str> = name.split('/').collect();
        if name.starts_with('/') || parts.iter().any(|part| part.is_empty() || *part == "..") {
            bail!("the archive holds an unsafe entry `{name}`");
        }
        if !kind.is_file() {
            // Links are refused rather than followed: a link could point anywhere on the node.
            bail!("the archive holds `{name}`, which is not a regular file");
        }
        let executable = entry.header().mode().context("an entry's mode")? & 0o111 != 0;
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .context("reading the archive")?;
        placed.push(Placed {
            path: format!("{}/{name}", install_path.trim_end_matches('/')),
            entry: Some(name),
            sha256: sha256_hex(&bytes),
            mode: if executable { 0o755 } else { 0o644 },
        });
    }
    if placed.is_empty() {
        bail!("the archive holds no files");
    }
    Ok((true, placed))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `.tar.gz` of `(name, contents, mode)`.
    pub(crate) fn targz(files: &[(&str, &str, u32)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, contents, mode) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(*mode);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, name, contents.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    /// Fills `directory` the way `kbundle artifacts fetch --arch amd64` would for `bundle`,
    /// with small stand-ins, plus one image when `with_images`.
    pub(crate) fn fake_fetch(directory: &Path, bundle: &Bundle, with_images: bool) {
        let listed: serde_json::Value =
            serde_json::from_slice(&bundle.entry(layout::ARTIFACTS_JSON).unwrap().contents)
                .unwrap();
        let mut record = Vec::new();
        for binary in listed["binaries"].as_array().unwrap() {
            if binary["arch"] != "amd64" {
                continue;
            }
            let name = binary["name"].as_str().unwrap();
            let file_name = binary["url"].as_str().unwrap().rsplit('/').next().unwrap();
            let bytes = match name {
                "containerd" => targz(&[
                    ("bin/containerd", "#!/bin/sh\n# containerd\n", 0o755),
                    ("bin/ctr", "#!/bin/sh\n# ctr\n", 0o755),
                ]),
                "cni-plugins" => targz(&[
                    ("./bridge", "#!/bin/sh\n# bridge\n", 0o755),
                    ("./LICENSE", "license\n", 0o644),
                ]),
                "crictl" => targz(&[("crictl", "#!/bin/sh\n# crictl\n", 0o755)]),
                _ => format!("#!/bin/sh\n# {name}\n").into_bytes(),
            };
            let file = format!("binaries/amd64/{file_name}");
            std::fs::create_dir_all(directory.join("binaries/amd64")).unwrap();
            std::fs::write(directory.join(&file), &bytes).unwrap();
            record.push(Fetched {
                name: name.into(),
                version: binary["version"].as_str().unwrap().into(),
                arch: "amd64".into(),
                file,
                sha256: sha256_hex(&bytes),
                install_path: binary["install_path"].as_str().unwrap().into(),
                nodes: binary["nodes"].as_str().unwrap().into(),
            });
        }
        if with_images {
            std::fs::create_dir_all(directory.join("images")).unwrap();
            for image in listed["images"].as_array().unwrap() {
                let image = image.as_str().unwrap();
                let file = format!("images/{}.tar", image.replace(['/', ':'], "_"));
                let bytes = format!("image {image}\n");
                std::fs::write(directory.join(&file), &bytes).unwrap();
                record.push(Fetched {
                    name: image.into(),
                    version: String::new(),
                    arch: String::new(),
                    file,
                    sha256: sha256_hex(bytes.as_bytes()),
                    install_path: "image".into(),
                    nodes: "all".into(),
                });
            }
        }
        std::fs::write(
            directory.join(fetch::FETCHED),
            serde_json::to_string_pretty(&record).unwrap(),
        )
        .unwrap();
    }

    pub(crate) fn bundle() -> Bundle {
        use kbundle_core::config::{ExampleKind, RawClusterConfig, example_yaml};
        use kbundle_core::pki::PkiInputs;
        let raw = RawClusterConfig::from_yaml(&example_yaml(ExampleKind::Basic)).unwrap();
        Bundle::generate(
            &raw,
            &PkiInputs {
                seed: [1; 32],
                issued_at: 1_790_000_000,
                existing_cas: Vec::new(),
            },
        )
        .unwrap()
    }

    pub(crate) fn scratch(name: &str) -> PathBuf {
        let directory =
            std::env::temp_dir().join(format!("kbundle-artifacts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        directory
    }

    #[test]
    fn plans_plain_binaries_and_every_file_of_an_archive() {
        let directory = scratch("plan");
        let bundle = bundle();
        fake_fetch(&directory, &bundle, true);
        let set = load(&directory, &bundle).unwrap();
        assert_eq!(
            set.architectures().into_iter().collect::<Vec<_>>(),
            ["amd64"]
        );
        let placed: Vec<(String, u32)> = set
            .binaries
            .iter()
            .flat_map(|binary| &binary.placed)
            .map(|placed| (placed.path.clone(), placed.mode))
            .collect();
        for expected in [
            ("/usr/local/bin/kubelet", 0o755),
            ("/usr/local/bin/kubectl", 0o755),
            ("/usr/local/bin/containerd", 0o755),
            ("/usr/local/bin/ctr", 0o755),
            ("/usr/local/sbin/runc", 0o755),
            ("/opt/cni/bin/bridge", 0o755),
            ("/opt/cni/bin/LICENSE", 0o644),
            ("/usr/local/bin/crictl", 0o755),
        ] {
            assert!(
                placed.contains(&(expected.0.to_owned(), expected.1)),
                "{expected:?} in {placed:?}"
            );
        }
        assert_eq!(
            set.binaries_for("amd64", false).count(),
            5,
            "no kubectl on workers"
        );
        assert_eq!(set.binaries_for("arm64", true).count(), 0);
        assert!(!set.images.is_empty());
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn refuses_a_damaged_file_naming_both_checksums_and_the_fix() {
        let directory = scratch("damaged");
        let bundle = bundle();
        fake_fetch(&directory, &bundle, false);
        let kubelet = directory.join("binaries/amd64/kubelet");
        let mut bytes = std::fs::read(&kubelet).unwrap();
        let expected = sha256_hex(&bytes);
        bytes[0] ^= 1;
        std::fs::write(&kubelet, &bytes).unwrap();
        let error = format!("{:#}", load(&directory, &bundle).unwrap_err());
        assert!(
            error.contains("`binaries/amd64/kubelet` does not match"),
            "{error}"
        );
        assert!(
            error.contains(&format!("expected sha256 {expected}")),
            "{error}"
        );
        assert!(
            error.contains(&format!("found {}", sha256_hex(&bytes))),
            "{error}"
        );
        assert!(error.contains("kbundle artifacts fetch"), "{error}");
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn refuses_a_folder_missing_a_binary_or_some_images() {
        let directory = scratch("missing");
        let bundle = bundle();
        fake_fetch(&directory, &bundle, true);
        let record = directory.join(fetch::FETCHED);
        let mut fetched: Vec<Fetched> =
            serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
        fetched.retain(|artifact| artifact.name != "runc");
        let image = fetched
            .iter()
            .position(|artifact| artifact.install_path == "image")
            .unwrap();
        let dropped = fetched.remove(image).name;
        std::fs::write(&record, serde_json::to_string(&fetched).unwrap()).unwrap();
        let error = format!("{:#}", load(&directory, &bundle).unwrap_err());
        assert!(
            error.contains("runc v1.3.0 for amd64 is missing"),
            "{error}"
        );
        assert!(
            error.contains(&format!("the image {dropped} is missing")),
            "{error}"
        );
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
