//! The bundle door: zip bytes → `Bundle::from_zip` under the default limits and tight ones,
//! without a passphrase and with a wrong one, then what the CLI does with a bundle it accepted
//! (verify, list certificates, pod ranges, identity, node files).
//!
//! Invariants, besides "no panic":
//! - a refusal is an `Err` and nothing else; an accepted bundle holds only what the checks let
//!   through: safe unique paths, sorted, within every limit, each entry listed in `bundle.json`
//!   with its checksum and mode;
//! - limits only refuse: what tight limits accept, the default ones accept the same;
//! - a passphrase changes nothing for a bundle that is not encrypted, and an encrypted one is
//!   refused without it or with a wrong one;
//! - (edit recipes, where the passphrase is known) an encrypted zip reads as its plain twin.
//!
//! Edit recipes start from a real single-node bundle and drop, alter, add, rename or duplicate
//! entries, write some as links or folders, and may index the result again so that it passes
//! the checksum checks and reaches what lies behind them.

use std::io::{Cursor, Write};
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use kbundle_core::bundle::layout::BUNDLE_JSON;
use kbundle_core::bundle::manifest::FileEntry;
use kbundle_core::bundle::read::{Limits, ReadError};
use kbundle_core::bundle::{Bundle, Entry, sha256_hex};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::samples;

/// The passphrase edit recipes encrypt with.
const PASSPHRASE: &str = "correct horse battery staple";
/// The passphrase every zip is also tried with.
const WRONG_PASSPHRASE: &str = "not the passphrase";

/// Limits small enough that the fuzzer's inputs reach them.
pub const TIGHT_LIMITS: Limits = Limits {
    max_entries: 24,
    max_entry_size: 16 << 10,
    max_total_size: 64 << 10,
    max_ratio: 4,
};

/// The `bundle` target.
pub fn run(data: &[u8]) {
    let (edit, rest) = super::split_mode(data);
    if !edit {
        check_zip(rest);
        return;
    }
    let Ok(recipe) = Recipe::arbitrary(&mut Unstructured::new(rest)) else {
        return;
    };
    let entries = recipe.entries(samples::single_node_bundle());
    let Some(plain) = write(&entries, &recipe.layout, None) else {
        return;
    };
    let read_plain = check_zip(&plain);
    if let Some(encryption) = recipe.encryption {
        let Some(encrypted) = write(&entries, &recipe.layout, Some(encryption)) else {
            return;
        };
        check_zip(&encrypted);
        for passphrase in [None, Some(WRONG_PASSPHRASE)] {
            let read = Bundle::from_zip(&encrypted, passphrase, Limits::default());
            assert!(
                read.is_err(),
                "an encrypted bundle is read with passphrase {passphrase:?}"
            );
        }
        let read = Bundle::from_zip(&encrypted, Some(PASSPHRASE), Limits::default());
        assert_eq!(
            read.as_ref().ok(),
            read_plain.as_ref(),
            "an encrypted bundle reads otherwise than its plain twin: {:?}",
            read.as_ref().err()
        );
    }
}

/// Reads `zip` every way and checks what comes back; returns what the default limits without a
/// passphrase give. The reads with a wrong passphrase are made only where they can differ (an
/// accepted bundle, or one that asks for a passphrase): each costs a full read.
pub fn check_zip(zip: &[u8]) -> Option<Bundle> {
    let default = Bundle::from_zip(zip, None, Limits::default());
    let tight = Bundle::from_zip(zip, None, TIGHT_LIMITS);
    if let Ok(bundle) = &default {
        check_accepted(bundle, Limits::default());
    }
    if let Ok(bundle) = &tight {
        check_accepted(bundle, TIGHT_LIMITS);
        assert_eq!(
            Some(bundle),
            default.as_ref().ok(),
            "tight limits accept what the default ones do not: {:?}",
            default.as_ref().err()
        );
    }
    match &default {
        Ok(bundle) => {
            let with = Bundle::from_zip(zip, Some(WRONG_PASSPHRASE), Limits::default());
            assert_eq!(
                with.as_ref().ok(),
                Some(bundle),
                "a passphrase changes how a plain bundle reads: {:?}",
                with.as_ref().err()
            );
        }
        Err(ReadError::NeedsPassphrase) => {
            for limits in [Limits::default(), TIGHT_LIMITS] {
                if let Ok(bundle) = Bundle::from_zip(zip, Some(WRONG_PASSPHRASE), limits) {
                    check_accepted(&bundle, limits);
                }
            }
        }
        Err(_) => {}
    }
    let bundle = default.ok()?;
    use_accepted(&bundle);
    Some(bundle)
}

/// What `from_zip` promises of a bundle it returns.
fn check_accepted(bundle: &Bundle, limits: Limits) {
    assert!(bundle.entries.len() <= limits.max_entries);
    let mut total = 0u64;
    for pair in bundle.entries.windows(2) {
        assert!(pair[0].path < pair[1].path, "entries unsorted or twice");
    }
    for entry in &bundle.entries {
        let size = entry.contents.len() as u64;
        assert!(size <= limits.max_entry_size, "{entry:?} is over the limit");
        total += size;
        assert!(
            !entry.path.is_empty()
                && !entry.path.starts_with('/')
                && !entry.path.contains('\\')
                && entry
                    .path
                    .split('/')
                    .all(|part| !part.is_empty() && part != "." && part != ".."),
            "an unsafe path is accepted: {:?}",
            entry.path
        );
        assert_eq!(entry.mode & !0o7777, 0, "{entry:?} has type bits");
        if entry.path == BUNDLE_JSON {
            continue;
        }
        let listed = bundle
            .manifest
            .files
            .iter()
            .find(|file| file.path == entry.path)
            .unwrap_or_else(|| panic!("{entry:?} is not listed"));
        assert_eq!(listed.sha256, sha256_hex(&entry.contents));
        assert_eq!(listed.mode, entry.mode);
    }
    assert!(total <= limits.max_total_size);
    assert!(bundle.entry(BUNDLE_JSON).is_some(), "no bundle.json");
}

/// What the CLI does with a bundle it accepted: nothing of it may panic.
fn use_accepted(bundle: &Bundle) {
    let report = kbundle_core::bundle::verify::verify(bundle, super::ISSUED_AT + 60);
    let _ = report.is_ok();
    let _ = bundle.certificates();
    let _ = bundle.pod_ranges();
    let _ = bundle.identity();
    let _ = bundle.join_files();
    for node in &bundle.manifest.nodes {
        let _ = bundle.node_files(&node.name);
    }
}

/// Which entries of an edited bundle are encrypted, with zip's AES-256 as kbundle writes (the
/// zip crate no longer writes the old ZipCrypto, which raw inputs still reach). A few, by index:
/// each costs a key derivation (PBKDF2) to write and to read, and a whole encrypted bundle per
/// input would leave the fuzzer doing nothing else; a zip that mixes both is fair game anyway.
#[derive(Debug, Arbitrary)]
struct Encryption {
    entries: [u8; 3],
}

impl Encryption {
    fn covers(&self, index: usize, count: usize) -> bool {
        self.entries
            .iter()
            .any(|entry| usize::from(*entry) % count.max(1) == index)
    }
}

/// How entries are written.
#[derive(Debug, Arbitrary)]
struct Layout {
    deflate: bool,
    /// Entries written as symbolic links to this target (by index).
    links: Vec<u8>,
    /// Folders written among the entries.
    folders: Vec<PathText>,
}

/// A path: often a hostile one, sometimes anything.
#[derive(Debug, Arbitrary)]
pub(crate) enum PathText {
    Hostile(u8),
    Known(u8),
    Text(String),
}

const HOSTILE_PATHS: &[&str] = &[
    "../escape",
    "/etc/passwd",
    "nodes/cp1/../../escape",
    "nodes\\cp1\\install.sh",
    "",
    ".",
    "nodes//cp1",
    "nodes/./cp1",
    "a\0b",
    "nodes/",
    "bundle.json/",
    "C:/windows",
];

impl PathText {
    fn text(&self, entries: &[Entry]) -> String {
        match self {
            Self::Hostile(index) => HOSTILE_PATHS[usize::from(*index) % HOSTILE_PATHS.len()].into(),
            Self::Known(index) if !entries.is_empty() => {
                entries[usize::from(*index) % entries.len()].path.clone()
            }
            Self::Known(_) => BUNDLE_JSON.into(),
            Self::Text(text) => text.clone(),
        }
    }
}

/// One change to the entries.
#[derive(Debug, Arbitrary)]
pub(crate) enum EntryEdit {
    Drop(u8),
    Contents(u8, Vec<u8>),
    Flip {
        entry: u8,
        offset: u16,
        xor: u8,
    },
    Truncate {
        entry: u8,
        length: u16,
    },
    Mode {
        entry: u8,
        mode: u32,
    },
    Rename {
        entry: u8,
        to: PathText,
    },
    Add {
        path: PathText,
        contents: Vec<u8>,
        mode: u32,
    },
    Duplicate(u8),
    /// Index the entries again in `bundle.json`, so the checksums match what the edits made.
    Reindex,
    /// Replace `bundle.json`'s format version.
    Format(u64),
}

/// A whole edit recipe.
#[derive(Debug, Arbitrary)]
struct Recipe {
    edits: Vec<EntryEdit>,
    layout: Layout,
    encryption: Option<Encryption>,
}

impl Recipe {
    fn entries(&self, base: &Bundle) -> Vec<Entry> {
        let mut bundle = base.clone();
        for edit in self.edits.iter().take(16) {
            apply(&mut bundle, edit);
        }
        bundle.entries
    }
}

pub(crate) fn apply(bundle: &mut Bundle, edit: &EntryEdit) {
    let entries = &mut bundle.entries;
    let pick = |index: u8, count: usize| (count > 0).then(|| usize::from(index) % count);
    match edit {
        EntryEdit::Drop(index) => {
            if let Some(index) = pick(*index, entries.len()) {
                entries.remove(index);
            }
        }
        EntryEdit::Contents(index, contents) => {
            if let Some(index) = pick(*index, entries.len()) {
                entries[index].contents = contents.clone();
            }
        }
        EntryEdit::Flip { entry, offset, xor } => {
            if let Some(index) = pick(*entry, entries.len()) {
                let contents = &mut entries[index].contents;
                if !contents.is_empty() {
                    let at = usize::from(*offset) % contents.len();
                    contents[at] ^= xor;
                }
            }
        }
        EntryEdit::Truncate { entry, length } => {
            if let Some(index) = pick(*entry, entries.len()) {
                entries[index].contents.truncate(usize::from(*length));
            }
        }
        EntryEdit::Mode { entry, mode } => {
            if let Some(index) = pick(*entry, entries.len()) {
                entries[index].mode = *mode;
            }
        }
        EntryEdit::Rename { entry, to } => {
            if let Some(index) = pick(*entry, entries.len()) {
                entries[index].path = to.text(entries);
            }
        }
        EntryEdit::Add {
            path,
            contents,
            mode,
        } => {
            let path = path.text(entries);
            entries.push(Entry {
                path,
                contents: contents.clone(),
                mode: *mode,
            });
        }
        EntryEdit::Duplicate(index) => {
            if let Some(index) = pick(*index, entries.len()) {
                let copy = entries[index].clone();
                entries.push(copy);
            }
        }
        EntryEdit::Reindex => {
            bundle.manifest.files = bundle
                .entries
                .iter()
                .filter(|entry| entry.path != BUNDLE_JSON)
                .map(|entry| FileEntry {
                    path: entry.path.clone(),
                    sha256: sha256_hex(&entry.contents),
                    mode: entry.mode,
                    node: None,
                })
                .collect();
            write_manifest(bundle);
        }
        EntryEdit::Format(version) => {
            if let Some(entry) = bundle
                .entries
                .iter_mut()
                .find(|entry| entry.path == BUNDLE_JSON)
                && let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&entry.contents)
                // Indexing a JSON value that is not an object panics: an edit may have made
                // bundle.json a number.
                && let Some(object) = json.as_object_mut()
            {
                object.insert("format_version".into(), (*version).into());
                entry.contents = json.to_string().into_bytes();
            }
        }
    }
}

fn write_manifest(bundle: &mut Bundle) {
    let json = serde_json::to_vec_pretty(&bundle.manifest).expect("a manifest serialises");
    match bundle
        .entries
        .iter_mut()
        .find(|entry| entry.path == BUNDLE_JSON)
    {
        Some(entry) => entry.contents = json,
        None => bundle.entries.push(Entry {
            path: BUNDLE_JSON.into(),
            contents: json,
            mode: 0o644,
        }),
    }
}

/// The entries as a zip, as the recipe says; `None` when the zip writer itself refuses (a name
/// it cannot hold).
fn write(entries: &[Entry], layout: &Layout, encryption: Option<Encryption>) -> Option<Vec<u8>> {
    write_reusing(entries, layout, encryption, true)
}

/// [`write`] with every entry compressed afresh: how [`deflated_base`] is made.
fn write_fresh(
    entries: &[Entry],
    layout: &Layout,
    encryption: Option<Encryption>,
) -> Option<Vec<u8>> {
    write_reusing(entries, layout, encryption, false)
}

fn write_reusing(
    entries: &[Entry],
    layout: &Layout,
    encryption: Option<Encryption>,
    reuse_base: bool,
) -> Option<Vec<u8>> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let method = if layout.deflate {
        CompressionMethod::Deflated
    } else {
        CompressionMethod::Stored
    };
    for (index, entry) in entries.iter().enumerate() {
        // The fastest deflate: what is read back is the same at any level.
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .compression_level(Some(1))
            .unix_permissions(entry.mode);
        let options = match &encryption {
            Some(encryption) if encryption.covers(index, entries.len()) => {
                options.with_aes_encryption(zip::AesMode::Aes256, PASSPHRASE)
            }
            _ => options,
        };
        let link = u8::try_from(index).is_ok_and(|index| layout.links.contains(&index));
        let encrypted = encryption
            .as_ref()
            .is_some_and(|encryption| encryption.covers(index, entries.len()));
        if reuse_base
            && layout.deflate
            && !link
            && !encrypted
            && let Some(kept) = deflated_base_entry(entry)
        {
            let mut archive = deflated_base().clone();
            let file = archive.by_index_raw(kept).ok()?;
            writer.raw_copy_file(file).ok()?;
            continue;
        }
        if link {
            writer
                .add_symlink(entry.path.as_str(), "/etc/shadow", options)
                .ok()?;
            continue;
        }
        writer.start_file(entry.path.as_str(), options).ok()?;
        writer.write_all(&entry.contents).ok()?;
    }
    for folder in layout.folders.iter().take(4) {
        writer
            .add_directory(folder.text(entries), SimpleFileOptions::default())
            .ok()?;
    }
    writer.finish().ok().map(Cursor::into_inner)
}

/// The base bundle deflated once per process: most entries of an edited bundle are the base's
/// own, and deflating them again for every input was most of the target's time (compression
/// is the harness's work, not the code under test, yet it is instrumented all the same).
fn deflated_base() -> &'static ZipArchive<Cursor<&'static [u8]>> {
    static ARCHIVE: OnceLock<ZipArchive<Cursor<&'static [u8]>>> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let layout = Layout {
            deflate: true,
            links: Vec::new(),
            folders: Vec::new(),
        };
        let zip = write_fresh(&samples::single_node_bundle().entries, &layout, None)
            .expect("the base bundle zips");
        ZipArchive::new(Cursor::new(&*Vec::leak(zip))).expect("the base zip reads")
    })
}

/// The index, in [`deflated_base`], of an entry the edits left as the base has it.
fn deflated_base_entry(entry: &Entry) -> Option<usize> {
    let base = &samples::single_node_bundle().entries;
    let index = base
        .binary_search_by(|kept| kept.path.as_str().cmp(&entry.path))
        .ok()?;
    (base[index].mode == entry.mode && base[index].contents == entry.contents).then_some(index)
}

/// A readable zip of `bundle` as kbundle writes it (every entry encrypted when asked): what a
/// fuzzer starts from in raw mode.
pub fn seed_zip(bundle: &Bundle, encrypted: bool) -> Vec<u8> {
    if encrypted {
        bundle.to_encrypted_zip(PASSPHRASE)
    } else {
        bundle.to_zip()
    }
    .expect("a bundle zips")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reused_entries_are_written_as_fresh_ones() {
        let base = samples::single_node_bundle();
        let layout = Layout {
            deflate: true,
            links: Vec::new(),
            folders: Vec::new(),
        };
        let mut entries = base.entries.clone();
        entries[0].contents.push(b'\n');
        let reused = write(&entries, &layout, None).expect("zips");
        let fresh = write_fresh(&entries, &layout, None).expect("zips");
        // Raw copies carry the same bytes a fresh deflate writes: the reads cannot differ.
        assert!(reused == fresh, "a reused entry is written otherwise");
        assert!(deflated_base_entry(&entries[1]).is_some());
        assert!(deflated_base_entry(&entries[0]).is_none());
    }
}
