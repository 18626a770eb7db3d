//! `kbundle artifacts fetch`: on a connected machine, downloads every binary the bundle lists
//! (with the system's curl), checks each against the checksum upstream publishes, and records
//! what it got in `DIR/artifacts-fetched.json`, which `kbundle apply --artifacts DIR` checks
//! again before anything is installed. Images are copied with skopeo when present. `kbundle
//! apply` fetches the binaries nodes lack the same way, into its cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use kbundle_core::bundle::{layout, sha256_hex};
use serde::{Deserialize, Serialize};

use super::{Failure, read_bundle};
use crate::args::ArtifactsFetchArgs;

/// Name of the record of a fetch, in the artifacts folder.
pub(crate) const FETCHED: &str = "artifacts-fetched.json";

/// One fetched file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Fetched {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) arch: String,
    /// Path relative to the artifacts folder.
    pub(crate) file: String,
    pub(crate) sha256: String,
    pub(crate) install_path: String,
    pub(crate) nodes: String,
}

/// `mirror/<host>/<path>` for `https://<host>/<path>`: a mirror is a plain copy of the upstream
/// layout (as `wget -x` leaves it).
fn through_mirror(url: &str, mirror: Option<&str>) -> String {
    match mirror {
        Some(mirror) => format!(
            "{}/{}",
            mirror.trim_end_matches('/'),
            url.trim_start_matches("https://")
                .trim_start_matches("http://")
        ),
        None => url.to_owned(),
    }
}

fn download(url: &str, to: &Path) -> anyhow::Result<()> {
    let status = Command::new("curl")
        .args(["-fsSL", "--retry", "2", "--max-time", "600", "-o"])
        .arg(to)
        .arg(url)
        .status()
        .context("running curl (is it installed?)")?;
    if !status.success() {
        bail!("downloading {url} failed (curl exit {:?})", status.code());
    }
    Ok(())
}

/// The SHA-256 a checksum file gives for `file_name`: a file of one bare hash, or
/// `sha256sum` lines (`<hash>  <name>`).
pub(crate) fn published_checksum(text: &str, file_name: &str) -> Option<String> {
    let is_hash = |word: &str| word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit());
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    if let [line] = lines.as_slice()
        && let Some(word) = line.split_whitespace().next()
        && is_hash(word)
        && line
            .split_whitespace()
            .nth(1)
            .is_none_or(|name| name.trim_start_matches('*').ends_with(file_name))
    {
        return Some(word.to_ascii_lowercase());
    }
    lines.iter().find_map(|line| {
        let mut words = line.split_whitespace();
        let (hash, name) = (words.next()?, words.next()?);
        (is_hash(hash) && name.trim_start_matches('*') == file_name)
            .then(|| hash.to_ascii_lowercase())
    })
}

/// Downloads every binary `listed` (a bundle's `artifacts.json`) names for `arches` (all when
/// empty) into `output` (`binaries/<arch>/<file>`), through `mirror` if given, and checks each
/// against the checksum upstream publishes: a file that does not match is removed and is an
/// error naming both checksums. `progress` hears one line per file.
pub(crate) fn binaries(
    listed: &serde_json::Value,
    arches: &[String],
    output: &Path,
    mirror: Option<&str>,
    mut progress: impl FnMut(String),
) -> anyhow::Result<Vec<Fetched>> {
    let mut fetched = Vec::new();
    for binary in listed["binaries"].as_array().into_iter().flatten() {
        let text = |key: &str| binary[key].as_str().unwrap_or_default().to_owned();
        if !arches.is_empty() && !arches.contains(&text("arch")) {
            continue;
        }
        let url = text("url");
        let file_name = url.rsplit('/').next().unwrap_or("artifact").to_owned();
        let relative = PathBuf::from("binaries")
            .join(text("arch"))
            .join(&file_name);
        let target = output.join(&relative);
        std::fs::create_dir_all(target.parent().context("a folder")?)
            .with_context(|| format!("creating `{}`", output.display()))?;
        download(&through_mirror(&url, mirror), &target)?;
        let sums = output
            .join("binaries")
            .join(text("arch"))
            .join(format!("{file_name}.published-sha256"));
        download(&through_mirror(&text("checksum_url"), mirror), &sums)?;
        let published = std::fs::read_to_string(&sums)?;
        let _ = std::fs::remove_file(&sums);
        let expected = published_checksum(&published, &file_name).with_context(|| {
            format!("{} gives no checksum for {file_name}", text("checksum_url"))
        })?;
        let actual = sha256_hex(&std::fs::read(&target)?);
        if actual != expected {
            let _ = std::fs::remove_file(&target);
            return Err(ChecksumMismatch(format!(
                "{file_name} from {}: sha256 {actual} is not the published {expected}; removed (a damaged download, or a mirror that serves another file)",
                through_mirror(&url, mirror)
            ))
            .into());
        }
        progress(format!(
            "fetched {} {} {} (sha256 checked)",
            text("name"),
            text("version"),
            text("arch")
        ));
        fetched.push(Fetched {
            name: text("name"),
            version: text("version"),
            arch: text("arch"),
            file: relative.to_string_lossy().into_owned(),
            sha256: actual,
            install_path: text("install_path"),
            nodes: text("nodes"),
        });
    }
    Ok(fetched)
}

/// A downloaded file whose SHA-256 is not the one upstream publishes.
#[derive(Debug)]
struct ChecksumMismatch(String);

impl std::fmt::Display for ChecksumMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ChecksumMismatch {}

pub(crate) fn run(args: &ArtifactsFetchArgs) -> Result<(), Failure> {
    let bundle = read_bundle(&args.bundle, args.passphrase_file.as_deref())?;
    let entry = bundle
        .entry(layout::ARTIFACTS_JSON)
        .context("the bundle has no artifacts.json (made by an older kbundle?)")?;
    let artifacts: serde_json::Value =
        serde_json::from_slice(&entry.contents).context("artifacts.json is not JSON")?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating `{}`", args.output.display()))?;
    let arches: Vec<String> = args.arch.clone();
    let mut fetched = binaries(
        &artifacts,
        &arches,
        &args.output,
        args.mirror.as_deref(),
        |line| eprintln!("{line}"),
    )
    .map_err(|error| {
        // A file that is not what upstream published is refused as bad input, as it always
        // was; a download that failed is an error like any other.
        if error.downcast_ref::<ChecksumMismatch>().is_some() {
            eprintln!("error: {error:#}");
            Failure::Invalid
        } else {
            Failure::Other(error)
        }
    })?;
    if args.no_images {
        eprintln!(
            "images not fetched (--no-images): nodes pull them from their registry or mirror"
        );
    } else {
        let images: Vec<&str> = artifacts["images"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_str())
            .collect();
        let skopeo = Command::new("skopeo").arg("--version").output();
        if skopeo.is_err() {
            return Err(anyhow::anyhow!(
                "skopeo is needed to fetch the {} images (apt-get install skopeo), or pass --no-images",
                images.len()
            )
            .into());
        }
        std::fs::create_dir_all(args.output.join("images"))?;
        for image in images {
            let file = format!("images/{}.tar", image.replace(['/', ':'], "_"));
            let status = Command::new("skopeo")
                .args([
                    "copy",
                    &format!("docker://{image}"),
                    &format!(
                        "docker-archive:{}:{image}",
                        args.output.join(&file).display()
                    ),
                ])
                .status()
                .context("running skopeo")?;
            if !status.success() {
                return Err(anyhow::anyhow!("copying {image} failed").into());
            }
            let sha256 = sha256_hex(&std::fs::read(args.output.join(&file))?);
            fetched.push(Fetched {
                name: image.to_owned(),
                version: String::new(),
                arch: String::new(),
                file,
                sha256,
                install_path: "image".into(),
                nodes: "all".into(),
            });
        }
    }
    let record = serde_json::to_string_pretty(&fetched).map_err(anyhow::Error::from)? + "\n";
    crate::files::write_atomically(&args.output.join(FETCHED), record.as_bytes(), true)?;
    eprintln!(
        "wrote {}: {} artifacts; next: kbundle apply --artifacts {}",
        args.output.join(FETCHED).display(),
        fetched.len(),
        args.output.display()
    );
    Ok(())
}

/// Reads an artifacts folder and checks every file against its recorded checksum, before
/// anything is installed anywhere. Every problem is listed (the file, the checksum recorded at
/// fetch time and the one found now), not only the first.
pub(crate) fn verified(directory: &Path) -> anyhow::Result<Vec<Fetched>> {
    let record = std::fs::read_to_string(directory.join(FETCHED)).with_context(|| {
        format!(
            "reading `{}` (made by kbundle artifacts fetch)",
            directory.join(FETCHED).display()
        )
    })?;
    let fetched: Vec<Fetched> =
        serde_json::from_str(&record).context("the fetch record is not valid")?;
    let mut problems = Vec::new();
    for artifact in &fetched {
        if artifact.file.contains("..") || artifact.file.starts_with('/') {
            bail!("the fetch record names an unsafe path `{}`", artifact.file);
        }
        match std::fs::read(directory.join(&artifact.file)) {
            Err(error) => problems.push(format!("`{}`: cannot read it: {error}", artifact.file)),
            Ok(bytes) => {
                let actual = sha256_hex(&bytes);
                if actual != artifact.sha256 {
                    problems.push(format!(
                        "`{}` does not match its recorded checksum: expected sha256 {}, found {actual}",
                        artifact.file, artifact.sha256
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "{}\nthe artifacts folder was altered or damaged after it was fetched\nhint: fetch it again on a connected machine: kbundle artifacts fetch BUNDLE_ZIP -o {}",
            problems.join("\n"),
            directory.display()
        );
    }
    Ok(fetched)
}

/// `kbundle artifacts check DIR`.
pub(crate) fn check(directory: &Path) -> Result<(), Failure> {
    match verified(directory) {
        Ok(fetched) => {
            println!(
                "{}: ok: {} artifacts match their recorded checksums",
                directory.display(),
                fetched.len()
            );
            Ok(())
        }
        Err(error) => {
            eprintln!("error: {}: {error:#}", directory.display());
            Err(Failure::Invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_checksum_file_shapes() {
        let hash = "a".repeat(64);
        assert_eq!(
            published_checksum(&format!("{hash}\n"), "kubelet"),
            Some(hash.clone())
        );
        assert_eq!(
            published_checksum(&format!("{hash}  kubelet\n"), "kubelet"),
            Some(hash.clone())
        );
        let list = format!("{}  runc.arm64\n{hash}  runc.amd64\n", "b".repeat(64));
        assert_eq!(published_checksum(&list, "runc.amd64"), Some(hash));
        assert_eq!(published_checksum("not a hash", "x"), None);
    }

    #[test]
    fn mirrors_keep_the_upstream_layout() {
        assert_eq!(
            through_mirror(
                "https://dl.k8s.io/release/v1.37.1/bin/linux/amd64/kubelet",
                Some("http://127.0.0.1:8080/")
            ),
            "http://127.0.0.1:8080/dl.k8s.io/release/v1.37.1/bin/linux/amd64/kubelet"
        );
    }
}
