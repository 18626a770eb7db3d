//! File access for commands: reading inputs (or standard input for `-`) and writing outputs
//! atomically, so an interrupted run never leaves a half-written file.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

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
