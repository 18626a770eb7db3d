//! kbundle's core: everything kbundle computes, with no I/O, no clock and no ambient randomness,
//! so that the same code runs in the CLI and in the browser (wasm32).
//!
//! - [`config`]: `cluster.yaml` → validated [`config::ClusterConfig`], with every problem named
//!   by its field path.
//! - [`plan`]: the network plan (service IPs, per-node pod ranges, capacity, `NO_PROXY`).
//! - [`versions`]: the table of supported Kubernetes releases.
//! - [`net`]: address arithmetic shared by validation and planning.
//! - [`parity`]: where kbundle's output differs from kubeadm's on purpose, and why.
//! - [`export`]: a bundle as an Ansible playbook or as cloud-init user-data, for the engines
//!   fleets already run.
//!
//! ```
//! use kbundle_core::config::{example_yaml, ClusterConfig, ExampleKind};
//! use kbundle_core::plan::NetworkPlan;
//!
//! let validated = ClusterConfig::from_yaml(&example_yaml(ExampleKind::Basic)).unwrap();
//! let plan = NetworkPlan::new(&validated.config);
//! assert_eq!(plan.apiserver_service_ip.to_string(), "10.96.0.1");
//! assert_eq!(plan.nodes[0].pod_cidrs[0].to_string(), "10.244.74.0/24");
//! ```

pub mod artifacts;
pub mod bundle;
pub mod config;
pub mod export;
pub mod net;
pub mod parity;
pub mod pki;
pub mod plan;
pub mod render;
pub mod versions;
mod yaml;
