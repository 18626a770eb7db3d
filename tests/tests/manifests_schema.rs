//! Every rendered Kubernetes object (static pods and addons) validates in strict mode against
//! the official OpenAPI schemas of each supported version, with `kubernetes-validate` (PyPI,
//! installed by scripts/install-test-deps.sh into `.venv-tests`).

use std::path::{Path, PathBuf};
use std::process::Command;

use kbundle_core::config::{ClusterConfig, ExampleKind, example_yaml};
use kbundle_core::pki::{Pki, PkiInputs};
use kbundle_core::plan::NetworkPlan;
use kbundle_core::render::render;
use kbundle_core::versions::RELEASES;
use kbundle_tests::{cluster_fixtures, repository_root};

fn validator() -> PathBuf {
    let path = repository_root().join(".venv-tests/bin/kubernetes-validate");
    assert!(
        path.exists(),
        "kubernetes-validate is missing at {}: run scripts/install-test-deps.sh",
        path.display()
    );
    path
}

fn scratch(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("kbundle-schema-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

/// Writes every static pod and addon of `yaml` at Kubernetes 1.`minor` into `directory`.
fn write_manifests(yaml: &str, minor: u32, directory: &Path, label: &str) -> Vec<PathBuf> {
    let yaml = yaml.replace("kubernetesVersion: \"1.37\"", "");
    let mut config = ClusterConfig::from_yaml(&yaml)
        .expect("fixture validates")
        .config;
    config.kubernetes_version =
        kbundle_core::versions::parse_version(&format!("1.{minor}")).expect("supported");
    let plan = NetworkPlan::new(&config);
    let issued_at = 1_790_000_000;
    let pki = Pki::issue(
        &config,
        &PkiInputs {
            seed: [5; 32],
            issued_at,
            existing_cas: Vec::new(),
        },
    )
    .expect("PKI");
    let rendered = render(&config, &plan, &pki, issued_at);
    let mut files = Vec::new();
    for node in &rendered.nodes {
        for file in node
            .files
            .iter()
            .filter(|f| f.path.starts_with("/etc/kubernetes/manifests/"))
        {
            let name = file.path.rsplit('/').next().unwrap_or("manifest.yaml");
            let path = directory.join(format!("{label}-{}-{name}", node.node));
            std::fs::write(&path, &file.contents).expect("write manifest");
            files.push(path);
        }
    }
    for addon in &rendered.addons {
        let path = directory.join(format!("{label}-addon-{}", addon.name));
        std::fs::write(&path, &addon.contents).expect("write addon");
        files.push(path);
    }
    files
}

fn validate(minor: u32, files: &[PathBuf]) -> std::process::Output {
    Command::new(validator())
        .args(["-k", &format!("1.{minor}.0"), "--strict", "--quiet"])
        .args(files)
        .output()
        .expect("kubernetes-validate runs")
}

#[test]
fn rendered_objects_validate_strictly_for_every_supported_version() {
    let fixtures = [
        ("single", example_yaml(ExampleKind::Basic)),
        ("ha", example_yaml(ExampleKind::HighAvailability)),
        (
            "dual",
            std::fs::read_to_string(cluster_fixtures().join("dual-stack.yaml")).expect("fixture"),
        ),
        (
            "registry",
            std::fs::read_to_string(cluster_fixtures().join("registry-proxy.yaml"))
                .expect("fixture"),
        ),
    ];
    for release in RELEASES {
        let directory = scratch(&format!("v{}", release.minor));
        let mut files = Vec::new();
        for (label, yaml) in &fixtures {
            files.extend(write_manifests(yaml, release.minor, &directory, label));
        }
        assert!(
            files.len() > 20,
            "too few manifests rendered: {}",
            files.len()
        );
        let output = validate(release.minor, &files);
        assert!(
            output.status.success(),
            "1.{}: {}{}",
            release.minor,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::remove_dir_all(&directory).expect("clean up");
    }
}

#[test]
fn the_validator_refuses_an_unknown_field() {
    // Proves the check above can fail: the same validator in the same mode rejects a typo.
    let directory = scratch("negative");
    let path = directory.join("pod.yaml");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  hostNetwrk: true\n  containers: [{name: x, image: x}]\n",
    )
    .expect("write");
    let output = validate(37, &[path]);
    assert!(!output.status.success(), "a typo passed strict validation");
    std::fs::remove_dir_all(&directory).expect("clean up");
}
