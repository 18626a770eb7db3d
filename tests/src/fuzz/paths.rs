//! The invariant that every diagnostic names a field of the input: its path
//! (`spec.nodes[2].address`) either leads to something the document holds, or leaves it only for
//! fields the cluster.yaml schema knows (a missing `metadata.name` is named though it is not
//! there). A path that names an index past a list's end, or a field nobody wrote and no schema
//! has, would send the user looking for something that does not exist.

use serde_yaml::Value;

/// Every field name of `cluster.yaml` (core's `config/raw.rs`), at any depth.
pub(crate) const SCHEMA_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "spec",
    "kubernetesVersion",
    "controlPlaneEndpoint",
    "highAvailability",
    "mode",
    "interface",
    "ssh",
    "user",
    "port",
    "identityFile",
    "jumpHosts",
    "nodes",
    "address",
    "roles",
    "labels",
    "taints",
    "networking",
    "podSubnet",
    "serviceSubnet",
    "nodeCIDRMaskSize",
    "dnsDomain",
    "dnsServiceIP",
    "maxPodsPerNode",
    "cni",
    "mtu",
    "kubeProxyMode",
    "containerRuntime",
    "socket",
    "cgroupDriver",
    "registry",
    "imageRepository",
    "mirrors",
    "endpoints",
    "credentials",
    "username",
    "password",
    "pullSecretNamespaces",
    "proxy",
    "http",
    "https",
    "noProxy",
    "certificates",
    "keyAlgorithm",
    "validity",
    "caValidity",
    "bootstrapTokenTTL",
    "extraSANs",
    "existingCAs",
    "cluster",
    "frontProxy",
    "etcd",
    "certFile",
    "keyFile",
];

/// Why `path` does not name a field of `document` (the input parsed as plain YAML), or `None`
/// when it does. A document that is not YAML at all is not checked: the parser stopped part
/// way, and the path says where, in a document that has no whole shape to compare with.
pub(crate) fn unknown_path(document: Option<&Value>, path: &str) -> Option<String> {
    if path.is_empty() || document.is_none() {
        return None;
    }
    let mut here = document.map(untagged);
    let mut rest = path;
    let mut first = true;
    while !rest.is_empty() {
        // `[` indexes a list; in a mapping it starts a key written so (`"[x": 1`).
        if let Some(after) = rest.strip_prefix('[')
            && !matches!(here, Some(Value::Mapping(_)))
        {
            let Some(close) = after.find(']') else {
                return Some(format!("`{path}`: an unclosed `[`"));
            };
            let Ok(index) = after[..close].parse::<usize>() else {
                return Some(format!("`{path}`: `{}` is not an index", &after[..close]));
            };
            match here {
                Some(Value::Sequence(list)) if index < list.len() => {
                    here = list.get(index).map(untagged);
                }
                _ => return Some(format!("`{path}`: index {index} is not in the input")),
            }
            rest = &after[close + 1..];
            first = false;
            continue;
        }
        let field_text = if first {
            rest
        } else {
            match rest.strip_prefix('.') {
                Some(field_text) => field_text,
                None => return Some(format!("`{path}` is not a field path")),
            }
        };
        first = false;
        // A key the input wrote (an unknown field, a label such as `kubernetes.io/os`, even an
        // empty one) is named as written, dots and all: the longest key of the mapping that the
        // path goes on with.
        let written = match here {
            Some(Value::Mapping(map)) => map
                .iter()
                .flat_map(|(key, value)| key_texts(key).into_iter().map(move |text| (text, value)))
                .filter(|(key, _)| {
                    field_text.strip_prefix(key).is_some_and(|after| {
                        after.is_empty() || after.starts_with('.') || after.starts_with('[')
                    })
                })
                .max_by_key(|(key, _)| key.len()),
            _ => None,
        };
        // A number key (`.2:`, `1e3:`) reaches the path as the text it was written with, which
        // the parsed number no longer holds: from such a mapping on, the path is taken as is
        // (before an empty key, which would match any path: `.0:` beside `?` is `.0`, not `` + `.0`).
        let has_number_key = matches!(here, Some(Value::Mapping(map))
            if map.keys().any(|key| matches!(key, Value::Number(_))));
        if has_number_key && written.as_ref().is_none_or(|(key, _)| key.is_empty()) {
            return None;
        }
        if let Some((key, value)) = written {
            here = Some(untagged(value));
            rest = &field_text[key.len()..];
            continue;
        }
        let end = field_text.find(['.', '[']).unwrap_or(field_text.len());
        let name = &field_text[..end];
        if !SCHEMA_FIELDS.contains(&name) {
            return Some(format!(
                "`{path}`: `{name}` is neither in the input nor a known field"
            ));
        }
        here = None;
        rest = &field_text[end..];
    }
    None
}

/// A value without its tags (`!x {a: b}` is read as `{a: b}`).
fn untagged(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => untagged(&tagged.value),
        other => other,
    }
}

/// The texts a mapping key may reach a path as: YAML keys may be numbers or booleans (`2.11:`),
/// and a null key is named as it was written, which the parsed value no longer says.
fn key_texts(key: &Value) -> Vec<String> {
    match key {
        Value::String(text) => vec![text.clone()],
        Value::Number(number) => vec![number.to_string()],
        Value::Bool(value) => vec![value.to_string()],
        // `: x`, a key left empty, is read as the field named ``; `~: x` as `~`, and so on.
        Value::Null => ["", "~", "null", "Null", "NULL"].map(String::from).to_vec(),
        // `!tag key: x`: serde reads the key under its tag.
        Value::Tagged(tagged) => key_texts(&tagged.value),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(yaml: &str) -> Value {
        serde_yaml::from_str(yaml).expect("yaml")
    }

    #[test]
    fn a_path_into_the_input_or_the_schema_is_known() {
        let doc = document(
            "spec:\n  nodes:\n    - name: a\n      labels: {x/y: z, kubernetes.io/os: linux}\n",
        );
        for path in [
            "",
            "spec.nodes[0].name",
            "spec.nodes[0].address",
            "spec.nodes[0].labels.x/y",
            "spec.nodes[0].labels.kubernetes.io/os",
            "metadata.name",
            "spec.networking.podSubnet",
        ] {
            assert_eq!(unknown_path(Some(&doc), path), None, "{path}");
        }
    }

    #[test]
    fn an_index_past_the_end_or_an_invented_field_is_not() {
        let doc = document("spec:\n  nodes:\n    - name: a\n");
        for path in [
            "spec.nodes[1].name",
            "spec.nodes[0].colour",
            "spec.networking[0]",
            "spec..nodes",
        ] {
            assert!(unknown_path(Some(&doc), path).is_some(), "{path}");
        }
    }

    #[test]
    fn a_null_key_is_named_as_written() {
        for (yaml, path) in [
            ("~: x\n", "~"),
            ("null: x\n", "null"),
            ("NULL: x\n", "NULL"),
        ] {
            assert_eq!(unknown_path(Some(&document(yaml)), path), None, "{yaml}");
        }
        assert!(unknown_path(Some(&document("~: x\n")), "nil").is_some());
    }

    #[test]
    fn a_number_key_beside_an_empty_one_is_taken_as_written() {
        let doc = document(".0:\r?");
        assert_eq!(unknown_path(Some(&doc), ".0"), None);
    }

    #[test]
    fn a_key_that_starts_like_an_index_is_a_key() {
        let doc = document("\"[x\": 1\n");
        assert_eq!(unknown_path(Some(&doc), "[x"), None);
        let doc = document("spec:\n  nodes:\n    - name: a\n");
        assert!(unknown_path(Some(&doc), "[0]").is_some());
        assert!(unknown_path(Some(&doc), "spec.nodes[1]").is_some());
    }
}
