//! A plain POSIX (ustar) tar, written in memory: how the Ansible export carries each node's
//! files in one transfer, with their modes. Only what that needs: regular files owned by root,
//! a fixed time, no links; deterministic, so that an unchanged bundle gives an unchanged tar and
//! Ansible's `copy` reports no change.

/// The time every entry carries (2000-01-01, the bundle zip's entry time).
const ENTRY_TIME: u64 = 946_684_800;
const BLOCK: usize = 512;

/// Why an entry cannot go into a ustar archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Error {
    /// ustar holds at most 255 bytes of path, split at a `/` into 155 + 100.
    #[error("`{0}` is too long a path for a tar entry")]
    PathTooLong(String),
}

/// An archive of `entries` (path, contents, mode), in the order given.
pub(crate) fn archive<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a [u8], u32)>,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for (path, contents, mode) in entries {
        out.extend_from_slice(&header(path, contents.len(), mode)?);
        out.extend_from_slice(contents);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    // The end: two empty blocks.
    out.resize(out.len() + 2 * BLOCK, 0);
    Ok(out)
}

/// The header block of a regular file.
fn header(path: &str, size: usize, mode: u32) -> Result<[u8; BLOCK], Error> {
    let mut block = [0u8; BLOCK];
    let (prefix, name) = split_path(path)?;
    put(&mut block, 0, 100, name.as_bytes());
    put_octal(&mut block, 100, 8, u64::from(mode & 0o7777));
    put_octal(&mut block, 108, 8, 0); // uid: root
    put_octal(&mut block, 116, 8, 0); // gid: root
    put_octal(&mut block, 124, 12, size as u64);
    put_octal(&mut block, 136, 12, ENTRY_TIME);
    block[156] = b'0'; // a regular file
    put(&mut block, 257, 6, b"ustar\0");
    put(&mut block, 263, 2, b"00");
    put(&mut block, 265, 32, b"root");
    put(&mut block, 297, 32, b"root");
    put(&mut block, 345, 155, prefix.as_bytes());
    // The checksum is computed with its own field as spaces.
    block[148..156].fill(b' ');
    let sum: u64 = block.iter().map(|byte| u64::from(*byte)).sum();
    put(&mut block, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    Ok(block)
}

/// `path` as ustar's prefix and name fields.
fn split_path(path: &str) -> Result<(&str, &str), Error> {
    if path.len() <= 100 {
        return Ok(("", path));
    }
    // The name takes what follows the first `/` that leaves at most 100 bytes after it.
    path.char_indices()
        .filter(|(_, c)| *c == '/')
        .map(|(index, _)| (&path[..index], &path[index + 1..]))
        .find(|(prefix, name)| prefix.len() <= 155 && name.len() <= 100 && !name.is_empty())
        .ok_or_else(|| Error::PathTooLong(path.to_owned()))
}

fn put(block: &mut [u8; BLOCK], at: usize, width: usize, bytes: &[u8]) {
    let length = bytes.len().min(width);
    block[at..at + length].copy_from_slice(&bytes[..length]);
}

/// `value` in octal, zero-padded, ending with a NUL, in a field of `width` bytes.
fn put_octal(block: &mut [u8; BLOCK], at: usize, width: usize, value: u64) {
    let text = format!("{value:0digits$o}\0", digits = width - 1);
    put(block, at, width, text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_block_aligned_with_mode_size_and_checksum() {
        let tar = archive([
            ("install.sh", b"#!/bin/sh\n".as_slice(), 0o755),
            ("rootfs/etc/kubernetes/pki/ca.key", b"key".as_slice(), 0o600),
        ])
        .unwrap();
        // Two headers, two data blocks, the two closing blocks.
        assert_eq!(tar.len(), 6 * BLOCK);
        assert_eq!(&tar[..10], b"install.sh");
        assert_eq!(&tar[100..108], b"0000755\0");
        assert_eq!(&tar[124..136], b"00000000012\0");
        assert_eq!(&tar[257..263], b"ustar\0");
        assert_eq!(&tar[2 * BLOCK + 100..2 * BLOCK + 108], b"0000600\0");
        // The checksum is the sum of the header with its field taken as spaces.
        let mut header = tar[..BLOCK].to_vec();
        let written = String::from_utf8(header[148..154].to_vec()).unwrap();
        header[148..156].fill(b' ');
        let sum: u64 = header.iter().map(|b| u64::from(*b)).sum();
        assert_eq!(u64::from_str_radix(&written, 8).unwrap(), sum);
        assert!(tar[4 * BLOCK..].iter().all(|b| *b == 0));
    }

    #[test]
    fn long_paths_go_into_the_prefix_and_overlong_ones_are_refused() {
        let long = format!("rootfs/{}/file.conf", "d".repeat(120));
        let header = header(&long, 0, 0o644).unwrap();
        assert_eq!(&header[..9], b"file.conf");
        assert!(header[345..].starts_with(b"rootfs/ddd"));
        let overlong = format!("{}/x", "d".repeat(300));
        assert!(matches!(
            archive([(overlong.as_str(), b"".as_slice(), 0o644)]),
            Err(Error::PathTooLong(_))
        ));
    }
}
