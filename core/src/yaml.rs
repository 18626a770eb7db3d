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
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let location = inner.location().map(|location| Location {
            line: location.line(),
            column: location.column(),
        });
        let mut diagnostic = Diagnostic::error(
            if path == "." { String::new() } else { path },
            strip_location(&inner.to_string()),
        );
        diagnostic.location = location;
        Diagnostics(vec![diagnostic])
    })
}

/// Renders a value as YAML. Used only for our own plain structs of strings, numbers, lists and
/// maps with string keys, which cannot fail to serialise.
pub(crate) fn to_yaml<T: Serialize>(value: &T) -> String {
    serde_yaml::to_string(value).unwrap_or_default()
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
