//! Reading a bundle someone handed us. Everything about the zip is treated as hostile and
//! checked before any content is used: paths that escape (absolute, `..`, backslashes), links,
//! directories, duplicate names, oversize entries and zip bombs, unknown format versions,
//! entries the index does not list (or lists but are missing), checksum and mode mismatches, and
//! truncated or corrupt archives.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use super::layout::{BUNDLE_JSON, FORMAT_VERSION};
use super::manifest::BundleManifest;
use super::{Bundle, Entry, sha256_hex};

/// How much a bundle may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries.
    pub max_entries: usize,
    /// Largest entry, uncompressed, in bytes.
    pub max_entry_size: u64,
    /// Largest total, uncompressed, in bytes.
    pub max_total_size: u64,
    /// Highest uncompressed/compressed ratio for entries over 1 MiB.
    pub max_ratio: u64,
}

impl Default for Limits {
    /// Generous for real bundles (a 1,000-node bundle is ~30,000 entries, a few MB); binaries
    /// for air-gapped installs travel beside the bundle, not inside it.
    fn default() -> Self {
        Self {
            max_entries: 200_000,
            max_entry_size: 64 << 20,
            max_total_size: 1 << 30,
            max_ratio: 100,
        }
    }
}

/// Why a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Not a zip, or truncated or corrupt.
    #[error("not a readable zip (truncated or corrupt?): {0}")]
    Corrupt(String),
    /// Encrypted, and no passphrase was given.
    #[error("the bundle is encrypted: give its passphrase")]
    NeedsPassphrase,
    /// The passphrase does not open it.
    #[error("the passphrase does not open the bundle")]
    WrongPassphrase,
    /// Encrypted, and this build cannot decrypt.
    #[error("the bundle is encrypted and this build of kbundle has no encryption support")]
    NoEncryptionSupport,
    /// A name that could escape the extraction folder.
    #[error("entry `{0}` has an unsafe path (absolute, `..`, backslash or empty part)")]
    UnsafePath(String),
    /// A symbolic link.
    #[error("entry `{0}` is a link; bundles hold regular files only")]
    Link(String),
    /// A directory entry or any other non-file.
    #[error("entry `{0}` is not a regular file")]
    NotAFile(String),
    /// The same name twice.
    #[error("the zip holds the same name twice")]
    DuplicateNames,
    /// Too many entries.
    #[error("the zip holds {0} entries, more than a bundle can")]
    TooManyEntries(usize),
    /// An entry over the size limit.
    #[error("entry `{path}` is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Entry.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A suspicious compression ratio.
    #[error("entry `{0}` compresses suspiciously well (zip bomb?)")]
    Bomb(String),
    /// The whole is over the size limit.
    #[error("the bundle unpacks to more than {0} bytes")]
    TotalTooLarge(u64),
    /// An entry's size differs from its header.
    #[error("entry `{0}` is larger than its header says")]
    SizeMismatch(String),
    /// No `bundle.json`.
    #[error("bundle.json is missing: this is not a kbundle bundle")]
    MissingManifest,
    /// `bundle.json` unreadable.
    #[error("bundle.json is invalid: {0}")]
    BadManifest(String),
    /// A format this kbundle does not read.
    #[error(
        "bundle format {found} is not supported (this kbundle reads format {FORMAT_VERSION}); use a matching kbundle"
    )]
    UnknownFormat {
        /// The bundle's format.
        found: u64,
    },
    /// Contents differ from the index.
    #[error("entry `{0}` does not match its checksum in bundle.json")]
    ChecksumMismatch(String),
    /// Mode differs from the index.
    #[error("entry `{0}` has another mode than bundle.json lists")]
    ModeMismatch(String),
    /// In the zip but not in the index.
    #[error("entry `{0}` is not listed in bundle.json")]
    Unlisted(String),
    /// In the index but not in the zip.
    #[error("entry `{0}` is listed in bundle.json but missing")]
    Missing(String),
}

/// Whether a zip name is a plain relative path that stays inside its folder.
fn is_safe_path(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains('\0')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

impl Bundle {
    /// Reads and checks a bundle zip (see the module doc for what is refused).
    pub fn from_zip(
        bytes: &[u8],
        passphrase: Option<&str>,
        limits: Limits,
    ) -> Result<Self, ReadError> {
        let mut archive =
            ZipArchive::new(Cursor::new(bytes)).map_err(|e| ReadError::Corrupt(e.to_string()))?;
        if archive.has_duplicate_names() {
            return Err(ReadError::DuplicateNames);
        }
        if archive.len() > limits.max_entries {
            return Err(ReadError::TooManyEntries(archive.len()));
        }
        // First every entry's metadata, so that a hostile entry is refused before any content
        // is read or decrypted.
        let mut names = Vec::with_capacity(archive.len());
        let mut total: u64 = 0;
        for index in 0..archive.len() {
            let file = archive
                .by_index_raw(index)
                .map_err(|e| ReadError::Corrupt(e.to_string()))?;
            let name = match file.name() {
                Ok(name) => name.into_owned(),
                Err(_) => {
                    return Err(ReadError::UnsafePath(
                        String::from_utf8_lossy(file.name_raw()).into_owned(),
                    ));
                }
            };
            if !is_safe_path(&name) {
                return Err(ReadError::UnsafePath(name));
            }
            let mode = file.unix_mode().unwrap_or(S_IFREG | 0o644);
            if file.is_symlink() || mode & S_IFMT == S_IFLNK {
                return Err(ReadError::Link(name));
            }
            if file.is_dir() || (mode & S_IFMT != 0 && mode & S_IFMT != S_IFREG) {
                return Err(ReadError::NotAFile(name));
            }
            let size = file.size();
            if size > limits.max_entry_size {
                return Err(ReadError::TooLarge {
                    path: name,
                    size,
                    limit: limits.max_entry_size,
                });
            }
            if size > 1 << 20 && size / file.compressed_size().max(1) > limits.max_ratio {
                return Err(ReadError::Bomb(name));
            }
            total = total.saturating_add(size);
            if total > limits.max_total_size {
                return Err(ReadError::TotalTooLarge(limits.max_total_size));
            }
            names.push((name, size, mode & 0o7777));
        }
        let mut entries = Vec::with_capacity(names.len());
        for (index, (name, size, mode)) in names.into_iter().enumerate() {
            let mut file = open(&mut archive, index, passphrase)?;
            let mut contents = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            // Read one byte past the header's size to catch entries that lie about it.
            (&mut file)
                .take(size + 1)
                .read_to_end(&mut contents)
                .map_err(|error| match error.to_string() {
                    message if message.contains("password") => ReadError::WrongPassphrase,
                    message => ReadError::Corrupt(format!("entry `{name}`: {message}")),
                })?;
            if contents.len() as u64 != size {
                return Err(ReadError::SizeMismatch(name));
            }
            entries.push(Entry {
                path: name,
                contents,
                mode,
            });
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let manifest = check_manifest(&entries)?;
        Ok(Self { manifest, entries })
    }
}

fn open<'a, 'b>(
    archive: &'a mut ZipArchive<Cursor<&'b [u8]>>,
    index: usize,
    passphrase: Option<&str>,
) -> Result<zip::read::ZipFile<'a, Cursor<&'b [u8]>>, ReadError> {
    let encrypted = archive
        .by_index_raw(index)
        .map_err(|e| ReadError::Corrupt(e.to_string()))?
        .encrypted();
    if !encrypted {
        return archive
            .by_index(index)
            .map_err(|e| ReadError::Corrupt(e.to_string()));
    }
    let Some(passphrase) = passphrase else {
        return Err(ReadError::NeedsPassphrase);
    };
    #[cfg(feature = "encryption")]
    {
        archive
            .by_index_decrypt(index, passphrase.as_bytes())
            .map_err(|e| match e {
                zip::result::ZipError::InvalidPassword => ReadError::WrongPassphrase,
                other => ReadError::Corrupt(other.to_string()),
            })
    }
    #[cfg(not(feature = "encryption"))]
    {
        let _ = passphrase;
        Err(ReadError::NoEncryptionSupport)
    }
}

/// Parses `bundle.json` (format first, so a newer format gets the right message) and checks the
/// entries against it, both ways.
fn check_manifest(entries: &[Entry]) -> Result<BundleManifest, ReadError> {
    let json = entries
        .iter()
        .find(|entry| entry.path == BUNDLE_JSON)
        .ok_or(ReadError::MissingManifest)?;
    let value: serde_json::Value = serde_json::from_slice(&json.contents)
        .map_err(|e| ReadError::BadManifest(e.to_string()))?;
    let format = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| ReadError::BadManifest("format_version is missing".into()))?;
    if format != u64::from(FORMAT_VERSION) {
        return Err(ReadError::UnknownFormat { found: format });
    }
    let manifest: BundleManifest =
        serde_json::from_value(value).map_err(|e| ReadError::BadManifest(e.to_string()))?;
    let mut listed = std::collections::HashMap::new();
    for file in &manifest.files {
        if !is_safe_path(&file.path) {
            return Err(ReadError::UnsafePath(file.path.clone()));
        }
        listed.insert(file.path.as_str(), file);
    }
    for entry in entries.iter().filter(|entry| entry.path != BUNDLE_JSON) {
        let file = listed
            .remove(entry.path.as_str())
            .ok_or_else(|| ReadError::Unlisted(entry.path.clone()))?;
        if sha256_hex(&entry.contents) != file.sha256 {
            return Err(ReadError::ChecksumMismatch(entry.path.clone()));
        }
        if entry.mode != file.mode {
            return Err(ReadError::ModeMismatch(entry.path.clone()));
        }
    }
    if let Some(missing) = listed.keys().min() {
        return Err(ReadError::Missing((*missing).to_owned()));
    }
    Ok(manifest)
}
