//! Command-line definitions only (clap). What each command does lives in `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Stand up a Kubernetes cluster on machines you already have.
///
/// Describe the cluster in a cluster.yaml (`kbundle init` writes a commented example), check it
/// with `kbundle validate` and see its network plan with `kbundle plan`.
///
/// Exit codes: 0 success, 2 invalid input (every error is printed), 1 any other failure.
#[derive(Debug, Parser)]
#[command(
    name = "kbundle",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a commented example cluster.yaml to start from.
    Init(InitArgs),
    /// Check a cluster.yaml and list every problem with its field and fix.
    Validate(ValidateArgs),
    /// Show the network plan: service IPs, each node's pod range, capacity and NO_PROXY.
    Plan(PlanArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// Three control-plane nodes behind a virtual IP instead of one control-plane node.
    #[arg(long)]
    pub(crate) ha: bool,
    /// Where to write; `-` for standard output.
    #[arg(short, long, value_name = "FILE", default_value = "cluster.yaml")]
    pub(crate) output: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// The cluster description; `-` reads standard input.
    #[arg(value_name = "CLUSTER_YAML")]
    pub(crate) config: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) output: Format,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PlanArgs {
    /// The cluster description; `-` reads standard input.
    #[arg(value_name = "CLUSTER_YAML")]
    pub(crate) config: PathBuf,
    /// Output format: a readable table, or JSON for scripts.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub(crate) output: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Human-readable text.
    Text,
    /// JSON.
    Json,
}
