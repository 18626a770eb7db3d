//! YAML text ⇄ values. The only file that knows which YAML crate we use, so that replacing the
//! deprecated serde_yaml stays a one-file change.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{Diagnostic, Diagnostics, Location};

/// Parses YAML text (a cluster config). Syntax errors, unknown fields and wrong types are
/// reported with the field path and the line and column.
pub(crate) fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<T, Diagnostics> {
    let only_comments = text
        .lines()
        .all(|line| line.trim().is_empty() || line.trim_start().starts_with('#'));
    if only_comments {
        return Err(Diagnostics(vec![
            Diagnostic::error("", "the cluster config is empty")
                .hint("run `kbundle init` for a commented example"),
        ]));
    }
    if let Some(location) = too_deep(text) {
        let mut diagnostic = Diagnostic::error(
            "",
            format!(
                "lists and mappings are nested more than {MAX_FLOW_DEPTH} deep in `[…]`/`{{…}}`"
            ),
        )
        .hint(
            "a cluster config needs a few levels: write it in block style, as `kbundle init` does",
        );
        diagnostic.location = Some(location);
        return Err(Diagnostics(vec![diagnostic]));
    }
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = known_part(error.path());
        let inner = error.into_inner();
        let location = inner.location().map(|location| Location {
            line: location.line(),
            column: location.column(),
        });
        let mut diagnostic = Diagnostic::error(path, strip_location(&inner.to_string()));
        diagnostic.location = location;
        Diagnostics(vec![diagnostic])
    })
}

/// How deep `[…]` and `{…}` may nest. A cluster config needs three levels
/// (`nodes: [{labels: {…}}]`); serde_yaml refuses beyond 128 anyway, but only after its scanner
/// has read every level, at a cost that grows with the square of the depth: 100,000 `[` (200 KB)
/// took minutes (found by fuzzing, issue #17). Block nesting (indentation, `- - -`) costs
/// nothing extra.
const MAX_FLOW_DEPTH: usize = 64;

/// Where the text first nests `[`/`{` deeper than [`MAX_FLOW_DEPTH`], if it does.
///
/// A light scanner that may only overestimate the depth YAML's scanner reaches, so no
/// document gets past it: every `[`/`{` counts, except in comments (`#` at a line start or
/// after a space or tab, as in YAML); a `]`/`}` counts only outside comments and quoted scalars.
/// A quote opens a quoted scalar wherever YAML's can (and in a few places where it cannot, such
/// as `rock 'n roll`): after a line start, a space or tab, or one of `:,[{-?`. What it costs is
/// that unclosed brackets inside quotes count (dozens of them would be needed to refuse).
fn too_deep(text: &str) -> Option<Location> {
    #[derive(PartialEq)]
    enum State {
        Plain,
        Single,
        Double,
        Comment,
    }
    let mut state = State::Plain;
    let mut depth = 0usize;
    let (mut line, mut column) = (1, 0);
    let mut previous = '\n';
    let mut escaped = false;
    for character in text.chars() {
        column += 1;
        let opens = matches!(character, '[' | '{');
        match state {
            State::Comment if character == '\n' => state = State::Plain,
            State::Comment => {}
            State::Double if escaped => escaped = false,
            State::Double if character == '\\' => escaped = true,
            State::Double if character == '"' => state = State::Plain,
            // A doubled '' inside single quotes reopens at once: the same as staying inside.
            State::Single if character == '\'' => state = State::Plain,
            State::Double | State::Single => depth += usize::from(opens),
            State::Plain => match character {
                '#' if matches!(previous, '\n' | ' ' | '\t') => state = State::Comment,
                '"' | '\''
                    if matches!(
                        previous,
                        '\n' | '\r' | ' ' | '\t' | ':' | ',' | '[' | '{' | '-' | '?'
                    ) =>
                {
                    state = if character == '"' {
                        State::Double
                    } else {
                        State::Single
                    };
                }
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        if depth > MAX_FLOW_DEPTH {
            return Some(Location { line, column });
        }
        if character == '\n' {
            line += 1;
            column = 0;
        }
        previous = character;
    }
    None
}

/// Renders a value as YAML. Used only for our own plain structs of strings, numbers, lists and
/// maps with string keys, which cannot fail to serialise.
pub(crate) fn to_yaml<T: Serialize>(value: &T) -> String {
    serde_yaml::to_string(value).unwrap_or_default()
}

/// The field path of a serde_path_to_error path, as its `Display` writes it, up to the first
/// step it cannot name: it writes `?` for a key that is itself a list or a mapping
/// (`? {a: b}: c`), which names nothing the user could look for. The finding goes to the field
/// that holds that key instead (the document itself at the top); its line and column still
/// point at the key.
fn known_part(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut known = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => known.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !known.is_empty() {
                    known.push('.');
                }
                known.push_str(key);
            }
            Segment::Unknown => break,
        }
    }
    known
}

/// serde_yaml appends " at line L column C" and prefixes its own path ("spec.nodes[0]: "); we
/// carry both separately, so both are cut from the message.
fn strip_location(message: &str) -> String {
    let without_location = match message.rfind(" at line ") {
        Some(index) => &message[..index],
        None => message,
    };
    let is_path = |text: &str| {
        !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._[]-".contains(c))
    };
    match without_location.split_once(": ") {
        Some((prefix, rest)) if is_path(prefix) && prefix != "invalid type" => rest.to_owned(),
        _ => without_location.to_owned(),
    }
}
