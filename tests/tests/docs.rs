//! The documentation does not lie: every `cluster.yaml` shown in the README and in `docs/`
//! validates, every example and fixture is where the docs say it is, and the tables the docs
//! copy from the code (certificates, deliberate differences from kubeadm) are complete.

use std::fs;

use kbundle_core::config::ClusterConfig;
use kbundle_core::plan::NetworkPlan;
use kbundle_tests::{cluster_fixtures, repository_root};

/// The ```yaml blocks of a Markdown text that hold a whole cluster document.
fn cluster_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```yaml") => current = Some(String::new()),
            (Some(block), "```") => {
                if block.contains("kind: Cluster") {
                    blocks.push(block.clone());
                }
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_cluster_document_in_the_docs_validates() {
    let mut documents = vec![repository_root().join("README.md")];
    for entry in fs::read_dir(repository_root().join("docs")).expect("docs/") {
        documents.push(entry.expect("entry").path());
    }
    let mut checked = 0;
    for document in documents
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        let text = fs::read_to_string(document).expect("readable doc");
        for block in cluster_blocks(&text) {
            let validated = ClusterConfig::from_yaml(&block).unwrap_or_else(|diagnostics| {
                panic!(
                    "{}: example does not validate: {:#?}",
                    document.display(),
                    diagnostics
                )
            });
            assert!(!NetworkPlan::new(&validated.config).nodes.is_empty());
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "expected cluster examples in README.md and docs/, found {checked}"
    );
}

#[test]
fn examples_and_valid_fixtures_validate_and_plan() {
    let mut files: Vec<_> = fs::read_dir(repository_root().join("examples"))
        .expect("examples/")
        .chain(fs::read_dir(cluster_fixtures()).expect("fixtures"))
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "examples or fixtures went missing: {files:?}"
    );
    for file in files {
        let text = fs::read_to_string(&file).expect("readable");
        let validated = ClusterConfig::from_yaml(&text)
            .unwrap_or_else(|d| panic!("{}: {:#?}", file.display(), d));
        let plan = NetworkPlan::new(&validated.config);
        assert_eq!(plan.nodes.len(), validated.config.nodes.len());
    }
}

#[test]
fn every_invalid_fixture_is_refused() {
    for entry in fs::read_dir(cluster_fixtures().join("invalid")).expect("invalid fixtures") {
        let path = entry.expect("entry").path();
        let text = fs::read_to_string(&path).expect("readable");
        let diagnostics = ClusterConfig::from_yaml(&text)
            .err()
            .unwrap_or_else(|| panic!("{} was accepted", path.display()));
        for error in diagnostics.errors() {
            assert!(!error.message.is_empty());
            assert!(
                !error.path.is_empty() || error.location.is_some(),
                "{}: an error names neither a field nor a line: {error}",
                path.display()
            );
        }
    }
}

#[test]
fn pki_doc_lists_every_entry_of_the_certificate_table() {
    use kbundle_core::pki::inventory::{CERTIFICATE_AUTHORITIES, CERTIFICATES, KUBECONFIGS};
    let doc = fs::read_to_string(repository_root().join("docs/pki.md")).expect("docs/pki.md");
    let files = CERTIFICATE_AUTHORITIES
        .iter()
        .map(|ca| ca.file)
        .chain(CERTIFICATES.iter().map(|certificate| certificate.file))
        .chain(KUBECONFIGS.iter().map(|kubeconfig| kubeconfig.file));
    for file in files {
        assert!(
            doc.contains(&format!("| `{file}` |")),
            "docs/pki.md has no row for `{file}`"
        );
    }
}

#[test]
fn kubeadm_parity_doc_lists_every_deliberate_difference_with_its_reason() {
    use kbundle_core::parity::DELIBERATE_DIFFERENCES;
    let doc = fs::read_to_string(repository_root().join("docs/kubeadm-parity.md"))
        .expect("docs/kubeadm-parity.md");
    for entry in DELIBERATE_DIFFERENCES {
        let row = format!(
            "| `{}` | `{}` | {} |",
            entry.subject, entry.field, entry.reason
        );
        assert!(
            doc.lines().any(|line| line == row),
            "docs/kubeadm-parity.md has no row for {} {} with the table's reason; expected:\n{row}",
            entry.subject,
            entry.field
        );
    }
    let listed = doc
        .lines()
        .skip_while(|line| !line.starts_with("## Deliberate differences"))
        .filter(|line| line.starts_with("| `"))
        .count();
    assert_eq!(
        listed,
        DELIBERATE_DIFFERENCES.len(),
        "docs/kubeadm-parity.md lists differences that are not in kbundle_core::parity"
    );
}

#[test]
fn export_doc_lists_every_user_data_limit() {
    use kbundle_core::export::cloud_init::LIMITS;
    let doc = fs::read_to_string(repository_root().join("docs/export.md")).expect("docs/export.md");
    for limit in &LIMITS {
        let row = format!(
            "| `{}` | {} | {} bytes |",
            limit.name,
            limit.cloud,
            limit.largest()
        );
        assert!(
            doc.lines().any(|line| line.starts_with(&row)),
            "docs/export.md has no row for the limit `{}`; expected it to start with:\n{row}",
            limit.name
        );
    }
}
