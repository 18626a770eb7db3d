//! The valid inputs the edit recipes start from: the fixture clusters and examples (compiled
//! in, so a fuzz target needs no files), and bundles generated from them once per process.

use std::sync::OnceLock;

use kbundle_core::bundle::Bundle;
use kbundle_core::config::RawClusterConfig;
use kbundle_core::pki::PkiInputs;

/// Valid cluster.yaml documents, of every shape the fixtures have (the edit recipes' bases).
pub const CLUSTERS: &[&str] = &[
    include_str!("../../../examples/cluster.yaml"),
    include_str!("../../../examples/cluster-ha.yaml"),
    include_str!("../../fixtures/clusters/dual-stack.yaml"),
    include_str!("../../fixtures/clusters/even-etcd.yaml"),
    include_str!("../../fixtures/clusters/registry-proxy.yaml"),
    SINGLE_NODE,
];

/// The smallest useful cluster: its bundle is the base of the zip edits (few entries, so that
/// writing and reading it again per input stays fast).
pub const SINGLE_NODE: &str = "\
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata:
  name: tiny
spec:
  kubernetesVersion: \"1.37\"
  nodes:
    - name: cp1
      address: 192.0.2.11
      roles: [control-plane, etcd, worker]
";

/// A bundle of `yaml` made with `seed` at the fixed issue time.
pub fn generate(yaml: &str, seed: u8) -> Bundle {
    let raw = RawClusterConfig::from_yaml(yaml).expect("a sample cluster parses");
    Bundle::generate(&raw, &inputs(seed)).expect("a sample cluster generates")
}

/// PKI inputs with a fixed seed and [`super::ISSUED_AT`].
pub(crate) fn inputs(seed: u8) -> PkiInputs {
    PkiInputs {
        seed: [seed; 32],
        issued_at: super::ISSUED_AT,
        existing_cas: Vec::new(),
    }
}

/// The single-node bundle.
pub fn single_node_bundle() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| generate(SINGLE_NODE, 1))
}

/// Bundles `kbundle diff` compares: the single node; the same with other keys; with another
/// kube-proxy mode; with a worker more. Small ones, so that each input diffs in well under a
/// millisecond; the edits make the rest.
pub(crate) fn diff_bundles() -> &'static [Bundle] {
    static BUNDLES: OnceLock<Vec<Bundle>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        vec![
            generate(SINGLE_NODE, 1),
            generate(SINGLE_NODE, 2),
            generate(
                &format!("{SINGLE_NODE}  networking: {{kubeProxyMode: nftables}}\n"),
                1,
            ),
            generate(
                &format!(
                    "{SINGLE_NODE}    - {{name: worker1, address: 192.0.2.21, roles: [worker]}}\n"
                ),
                1,
            ),
        ]
    })
}
