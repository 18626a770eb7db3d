//! `kbundle diff`: two bundles → per node, what changed and what restarts. The bundles are real
//! ones (the basic example, with other keys, with another kube-proxy mode, a single node) with
//! entries dropped, altered, added, renamed or re-moded by the fuzzer: `diff` takes `Bundle`
//! values, and every bundle `from_zip` accepts is one of those, so no zip is written per input.
//!
//! Invariants, besides "no panic": a bundle against itself has no changes; `diff(a, b)` mirrors
//! `diff(b, a)` (added ⇄ removed, modes swapped); nodes and paths come sorted and once; the
//! contents of a secret (a key, a kubeconfig, a file only its owner reads) are never shown.
//! (`is_secret`'s own rule, on modes, is core's to keep; here only the names that are always
//! secret are checked.)

use arbitrary::{Arbitrary, Unstructured};
use kbundle_core::bundle::Bundle;
use kbundle_core::bundle::diff::{Change, NodeDiff, diff};

use super::bundle::{EntryEdit, apply};
use super::samples;

#[derive(Debug, Arbitrary)]
struct Recipe {
    old: u8,
    new: u8,
    old_edits: Vec<EntryEdit>,
    new_edits: Vec<EntryEdit>,
}

/// The `diff` target.
pub fn run(data: &[u8]) {
    let Ok(recipe) = Recipe::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let bundles = samples::diff_bundles();
    let pick = |index: u8| bundles[usize::from(index) % bundles.len()].clone();
    let (mut old, mut new) = (pick(recipe.old), pick(recipe.new));
    for edit in recipe.old_edits.iter().take(16) {
        apply(&mut old, edit);
    }
    for edit in recipe.new_edits.iter().take(16) {
        apply(&mut new, edit);
    }
    check(&old, &new);
}

/// Diffs `old` and `new` both ways and checks the invariants of the module doc.
pub fn check(old: &Bundle, new: &Bundle) {
    assert!(diff(old, old).is_empty(), "a bundle differs from itself");
    let forward = diff(old, new);
    let backward = diff(new, old);
    assert_eq!(
        mirrored(&backward),
        forward.iter().map(strip_texts).collect::<Vec<_>>(),
        "diff(a, b) does not mirror diff(b, a)"
    );
    for pair in forward.windows(2) {
        assert!(pair[0].node < pair[1].node, "nodes unsorted or twice");
    }
    for node in &forward {
        for pair in node.changes.windows(2) {
            assert!(pair[0].path() < pair[1].path(), "paths unsorted or twice");
        }
        for change in &node.changes {
            if let Change::Modified {
                path,
                diff: Some(_),
            } = change
            {
                assert!(
                    !path.ends_with(".key") && !path.ends_with(".conf") && !path.ends_with(".crt"),
                    "a secret's contents are shown: {path}"
                );
            }
        }
        let _ = render(node);
    }
}

/// What `kbundle diff` prints for one node (cli/src/commands/diff.rs).
fn render(node: &NodeDiff) -> String {
    let mut out = String::new();
    for change in &node.changes {
        match change {
            Change::Added { path } => out += &format!("  added     {path}\n"),
            Change::Removed { path } => out += &format!("  removed   {path}\n"),
            Change::ModeChanged { path, from, to } => {
                out += &format!("  mode      {path} {from:o} -> {to:o}\n")
            }
            Change::Modified { path, diff: None } => out += &format!("  changed   {path}\n"),
            Change::Modified {
                path,
                diff: Some(text),
            } => {
                out += &format!("  changed   {path}\n");
                for line in text.lines() {
                    out += &format!("    {line}\n");
                }
            }
        }
    }
    out
}

/// `diff(b, a)` turned into what `diff(a, b)` must be.
fn mirrored(changes: &[NodeDiff]) -> Vec<NodeDiff> {
    changes
        .iter()
        .map(|node| NodeDiff {
            node: node.node.clone(),
            changes: node
                .changes
                .iter()
                .map(|change| match change {
                    Change::Added { path } => Change::Removed { path: path.clone() },
                    Change::Removed { path } => Change::Added { path: path.clone() },
                    Change::ModeChanged { path, from, to } => Change::ModeChanged {
                        path: path.clone(),
                        from: *to,
                        to: *from,
                    },
                    Change::Modified { path, diff } => Change::Modified {
                        path: path.clone(),
                        // The text of the other direction is another text; that one is shown
                        // or not is the same.
                        diff: diff.as_ref().map(|_| String::new()),
                    },
                })
                .collect(),
            restarts: node.restarts.clone(),
        })
        .map(|node| strip_texts(&node))
        .collect()
}

fn strip_texts(node: &NodeDiff) -> NodeDiff {
    NodeDiff {
        changes: node
            .changes
            .iter()
            .map(|change| match change {
                Change::Modified { path, diff } => Change::Modified {
                    path: path.clone(),
                    diff: diff.as_ref().map(|_| String::new()),
                },
                other => other.clone(),
            })
            .collect(),
        ..node.clone()
    }
}
