//! File access for commands: reading inputs (or standard input for `-`) and writing outputs
//! atomically, so an interrupted run never leaves a half-written file or folder.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Reads a text input; `-` means standard input.
pub(crate) fn read_input(path: &Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        return Ok(text);
    }
    fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename.
/// Refuses to replace an existing file unless `force`.
pub(crate) fn write_atomically(path: &Path, contents: &[u8], force: bool) -> anyhow::Result<()> {
    if !force && path.exists() {
        bail!(
            "`{}` already exists\nhint: pass --force to replace it, or -o to write elsewhere",
            path.display()
        );
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .with_context(|| format!("`{}` names no file", path.display()))?;
    let temporary = directory.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if let Err(error) = result {
        let _ = fs::remove_file(&temporary);
        return Err(error).with_context(|| format!("writing `{}`", path.display()));
    }
    Ok(())
}

/// A hidden sibling of `path` for this process (`.<name>.<pid>.<purpose>`): in the same
/// directory, so that renaming it into place is atomic.
pub(crate) fn hidden_sibling(path: &Path, purpose: &str) -> anyhow::Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("`{}` names no file or folder", path.display()))?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Ok(parent.join(format!(
        ".{}.{}.{purpose}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Writes `files` (path inside the folder, contents, mode) under `folder`, which must not
/// exist: the folder and its subfolders are made 0700 (what is written may hold keys), and each
/// file is created with its final mode, so that a key is never readable by others, even
/// briefly.
pub(crate) fn write_folder<'a>(
    folder: &Path,
    files: impl IntoIterator<Item = (&'a str, &'a [u8], u32)>,
) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
    fs::DirBuilder::new().mode(0o700).create(folder)?;
    for (name, contents, mode) in files {
        let path = folder.join(name);
        if let Some(parent) = path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)?;
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode & 0o700)
            .open(&path)?;
        file.write_all(contents)?;
        file.sync_all()?;
        // The umask may have narrowed the mode; the group and other bits come last.
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Puts the folder written at `staging` in place at `output` by renames: where nothing is, or
/// over an empty folder; over a folder with files only with `force`, and then the old folder is
/// removed only once the new one is in place. `staging` is removed when anything fails.
pub(crate) fn put_folder_in_place(
    staging: &Path,
    output: &Path,
    force: bool,
) -> anyhow::Result<()> {
    let result = (|| -> anyhow::Result<()> {
        match fs::symlink_metadata(output) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                fs::rename(staging, output)?;
            }
            Err(error) => return Err(error.into()),
            Ok(metadata) if !metadata.is_dir() => {
                bail!("it exists and is not a folder");
            }
            // rename(2) replaces an empty folder, atomically.
            Ok(_) if fs::read_dir(output)?.next().is_none() => fs::rename(staging, output)?,
            Ok(_) if !force => bail!("it is not empty"),
            Ok(_) => {
                let old = hidden_sibling(output, "old")?;
                fs::rename(output, &old)?;
                if let Err(error) = fs::rename(staging, output) {
                    let _ = fs::rename(&old, output);
                    return Err(error.into());
                }
                fs::remove_dir_all(&old)?;
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(staging);
    }
    result.with_context(|| format!("putting `{}` in place", output.display()))
}
