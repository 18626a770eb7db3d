//! Command-line definitions only (clap). What each command does lives in `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Stand up a Kubernetes cluster on machines you already have.
///
/// Describe the cluster in a cluster.yaml (`kbundle init` writes a commented example), check it
/// with `kbundle validate`, see its network plan with `kbundle plan`, and turn it into a bundle
/// with `kbundle generate` (check one with `kbundle verify`, look inside with `kbundle inspect`).
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
    /// Generate the bundle: every certificate, manifest and config for every node, in one zip.
    Generate(GenerateArgs),
    /// Show what a bundle holds: nodes, files, certificates with SANs and expiry, the plan.
    Inspect(BundleArgs),
    /// Check a bundle: checksums, certificate chains and keys, kubeconfigs, least privilege.
    Verify(BundleArgs),
    /// Show, per node, what changes between two bundles and what would restart.
    Diff(DiffArgs),
    /// What the nodes need from outside (binaries and images), for air-gapped installs.
    #[command(subcommand)]
    Artifacts(ArtifactsCommand),
    /// Install a bundle on its nodes over SSH and bring the cluster up, in phases.
    Apply(ApplyArgs),
    /// Report, per node, reachability and whether what the bundle installed is in place.
    Status(ApplyArgs),
    /// Remove what the bundle installed from its nodes (backed up), ready for a fresh apply.
    Reset(ApplyArgs),
    /// Mint a bootstrap token and write a join folder with it, for a node that joins later.
    JoinToken(JoinTokenArgs),
    /// Every certificate of a bundle with its expiry, soonest first; with --installed, what the
    /// nodes have; `certs renew` issues them again from the same CAs.
    Certs(CertsArgs),
    /// Export a bundle for the engine your fleet runs: an Ansible playbook, or cloud-init
    /// user-data for machines that install themselves at first boot.
    #[command(subcommand)]
    Export(ExportCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
    /// An Ansible inventory (nodes grouped by role, SSH settings of cluster.yaml) and a playbook
    /// doing what apply does, in its order; each node's files in files/<node>.tar.
    Ansible(ExportArgs),
    /// One #cloud-config user-data per node (user-data/<node>.yaml): the node's files, then its
    /// install at first boot; the first control-plane node finishes the cluster.
    CloudInit(CloudInitArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// The bundle zip.
    #[arg(value_name = "BUNDLE_ZIP")]
    pub(crate) bundle: PathBuf,
    /// The folder to write (written whole or not at all; it holds the nodes' keys, 0700).
    #[arg(short, long, value_name = "DIR")]
    pub(crate) output: PathBuf,
    /// Replace the folder if it holds files.
    #[arg(long)]
    pub(crate) force: bool,
    /// Passphrase file for an encrypted bundle (asked for otherwise).
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CloudInitArgs {
    #[command(flatten)]
    pub(crate) export: ExportArgs,
    /// The cloud whose user-data limit every node must fit (docs/export.md lists them; a
    /// control-plane node does not fit aws's 16 KB).
    #[arg(
        long,
        value_name = "CLOUD",
        default_value = kbundle_core::export::cloud_init::DEFAULT_LIMIT,
        value_parser = clap::builder::PossibleValuesParser::new(
            kbundle_core::export::cloud_init::LIMITS.map(|limit| limit.name)
        )
    )]
    pub(crate) limit: String,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct CertsArgs {
    #[command(subcommand)]
    pub(crate) command: Option<CertsCommand>,
    /// Also read the certificates installed on the nodes (over SSH, as apply connects; only
    /// certificates, never a key) and compare them with the bundle's.
    #[arg(long)]
    pub(crate) installed: bool,
    /// The bundle, and how to reach its nodes with --installed: the same options as apply
    /// (absent with a subcommand).
    #[command(flatten)]
    pub(crate) apply: Option<ApplyArgs>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CertsCommand {
    /// Issue every leaf certificate and kubeconfig of a bundle again, from its CAs, for the same
    /// names: a new bundle, in which nothing else changes; `kbundle apply` it to roll the new
    /// certificates out (control-plane nodes one at a time).
    Renew(CertsRenewArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct CertsRenewArgs {
    /// The bundle applied last to the cluster.
    pub(crate) bundle: PathBuf,
    /// The new bundle.
    #[arg(short, long, value_name = "ZIP")]
    pub(crate) output: PathBuf,
    /// Replace the output if it exists.
    #[arg(long)]
    pub(crate) force: bool,
    /// Passphrase file of an encrypted bundle (the new one is encrypted with it too).
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// Seed (64 hex digits) for the new keys; for tests only.
    #[arg(long, value_name = "HEX", hide = true)]
    pub(crate) seed: Option<String>,
    /// Issue time (unix seconds) instead of now; for tests only.
    #[arg(long, value_name = "SECONDS", hide = true)]
    pub(crate) issued_at: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct JoinTokenArgs {
    /// The folder to write: the bundle's join/ with the new token (must not exist).
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub(crate) output_dir: PathBuf,
    /// How long the token lets nodes join: whole hours, days or years (`1h`, `2d`), at most the
    /// certificates' validity.
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    pub(crate) ttl: String,
    /// How to reach the cluster: the same options as apply (only the first control-plane node
    /// is contacted).
    #[command(flatten)]
    pub(crate) apply: ApplyArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ArtifactsCommand {
    /// List every binary (version, architecture, address, checksum address) and image.
    List(ArtifactsListArgs),
    /// Download them into a folder (on a connected machine), each checked against its checksum.
    Fetch(ArtifactsFetchArgs),
    /// Check a fetched folder: every file against the checksum recorded when it was fetched.
    Check {
        /// The folder `kbundle artifacts fetch` filled.
        #[arg(value_name = "DIR")]
        directory: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ArtifactsFetchArgs {
    /// The bundle zip.
    #[arg(value_name = "BUNDLE_ZIP")]
    pub(crate) bundle: PathBuf,
    /// The folder to fill.
    #[arg(short, long, value_name = "DIR")]
    pub(crate) output: PathBuf,
    /// Only these architectures (amd64, arm64) [default: both].
    #[arg(long, value_delimiter = ',', value_name = "ARCH")]
    pub(crate) arch: Vec<String>,
    /// A mirror holding a copy of the upstream layout (`<mirror>/<host>/<path>`).
    #[arg(long, value_name = "URL")]
    pub(crate) mirror: Option<String>,
    /// Binaries only: the nodes pull images from their registry or mirror.
    #[arg(long)]
    pub(crate) no_images: bool,
    /// Passphrase file for an encrypted bundle (asked for otherwise).
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ArtifactsListArgs {
    /// The bundle zip.
    #[arg(value_name = "BUNDLE_ZIP")]
    pub(crate) bundle: PathBuf,
    /// Passphrase file for an encrypted bundle (asked for otherwise).
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// Only this architecture (amd64, arm64).
    #[arg(long, value_name = "ARCH")]
    pub(crate) arch: Option<String>,
    /// A readable list, or JSON.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub(crate) output: Format,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DiffArgs {
    /// The bundle installed now.
    #[arg(value_name = "OLD_ZIP")]
    pub(crate) old: PathBuf,
    /// The bundle to install.
    #[arg(value_name = "NEW_ZIP")]
    pub(crate) new: PathBuf,
    /// Passphrase file for encrypted bundles (the same for both).
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    /// The bundle zip.
    #[arg(value_name = "BUNDLE_ZIP")]
    pub(crate) bundle: PathBuf,
    /// Passphrase file for an encrypted bundle (asked for otherwise).
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// Only these nodes (comma-separated names).
    #[arg(long, value_delimiter = ',', value_name = "NODES")]
    pub(crate) nodes: Vec<String>,
    /// Nodes worked on at once.
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub(crate) concurrency: usize,
    /// SSH user for every node, instead of the bundle's.
    #[arg(long, value_name = "USER")]
    pub(crate) user: Option<String>,
    /// SSH port for every node, instead of the bundle's.
    #[arg(long, value_name = "PORT")]
    pub(crate) port: Option<u16>,
    /// Private key for every node, instead of the bundle's (ssh-agent is used otherwise).
    #[arg(short = 'i', long, value_name = "FILE")]
    pub(crate) identity: Option<String>,
    /// Jump host(s), as for `ssh -J`, instead of the bundle's.
    #[arg(short = 'J', long, value_name = "[USER@]HOST[:PORT]")]
    pub(crate) jump: Option<String>,
    /// OpenSSH client config file instead of ~/.ssh/config.
    #[arg(long, value_name = "FILE")]
    pub(crate) ssh_config: Option<PathBuf>,
    /// known_hosts file to check host keys against instead of OpenSSH's default.
    #[arg(long, value_name = "FILE")]
    pub(crate) known_hosts: Option<PathBuf>,
    /// Trust host keys of nodes seen for the first time, and record them (never a changed key).
    #[arg(long)]
    pub(crate) accept_new_host_keys: bool,
    /// Ask once for the sudo password (kept in memory only).
    #[arg(short = 'K', long)]
    pub(crate) ask_become_pass: bool,
    /// Read the sudo password from this file instead of asking.
    #[arg(long, value_name = "FILE")]
    pub(crate) become_pass_file: Option<PathBuf>,
    /// Seconds to wait for an SSH connection.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub(crate) connect_timeout: u64,
    /// Seconds a single remote command may take.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub(crate) command_timeout: u64,
    /// Seconds to wait for etcd and the API server.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub(crate) wait_timeout: u64,
    /// Preflight checks to report without stopping (names, or `all`).
    #[arg(long, value_delimiter = ',', value_name = "CHECKS")]
    pub(crate) ignore_preflight: Vec<String>,
    /// Phases not to run (names as `--list-phases` shows them).
    #[arg(long, value_delimiter = ',', value_name = "PHASES")]
    pub(crate) skip_phase: Vec<String>,
    /// List the phases and exit.
    #[arg(long)]
    pub(crate) list_phases: bool,
    /// Show, per node, what would change and restart; change nothing (only reads on the nodes).
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Install the binaries and import the images of this folder (filled by `kbundle artifacts
    /// fetch`, checked completely before any connection) instead of relying on the nodes'
    /// packages and registry.
    #[arg(long, value_name = "DIR")]
    pub(crate) artifacts: Option<PathBuf>,
    /// Where the binaries nodes lack (containerd, runc, the CNI plugins, crictl, kubelet,
    /// kubectl) are downloaded once, checked against their published checksums, and kept, by
    /// the bundle's versions [default: $XDG_CACHE_HOME/kbundle/artifacts, or
    /// ~/.cache/kbundle/artifacts].
    #[arg(long, value_name = "DIR")]
    pub(crate) artifacts_cache: Option<PathBuf>,
    /// Download what nodes lack from this copy of the upstream layout (`<URL>/<host>/<path>`).
    #[arg(long, value_name = "URL")]
    pub(crate) artifacts_mirror: Option<String>,
    /// Download nothing: a node that lacks a binary is refused by preflight instead.
    #[arg(long, conflicts_with = "artifacts")]
    pub(crate) no_fetch: bool,

    /// Remove what this bundle no longer has: drain and delete the Nodes kbundle gave ranges to
    /// and remove the etcd members of nodes gone from cluster.yaml (without it they are only
    /// reported). The removed machines are not contacted.
    #[arg(long)]
    pub(crate) prune: bool,
    /// Install over nodes that belong to another cluster.
    #[arg(long)]
    pub(crate) force: bool,
    /// Take the nodes' locks even if another run holds them.
    #[arg(long)]
    pub(crate) break_lock: bool,
    /// With reset: also remove etcd's data and the kubelet's pods.
    #[arg(long)]
    pub(crate) wipe_data: bool,
    /// Progress as plain lines, or JSON events (one per line) for machines.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) output: Format,
    /// Log file (secrets redacted) [default: kbundle-<cluster>.log].
    #[arg(long, value_name = "FILE")]
    pub(crate) log: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct GenerateArgs {
    /// The cluster description.
    #[arg(value_name = "CLUSTER_YAML")]
    pub(crate) config: PathBuf,
    /// Where to write the bundle [default: <cluster name>-bundle.zip].
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Replace the output if it exists.
    #[arg(long)]
    pub(crate) force: bool,
    /// Encrypt the bundle (AES-256) with a passphrase, asked for unless --passphrase-file.
    #[arg(long)]
    pub(crate) encrypt: bool,
    /// Read the passphrase from this file (first line) instead of asking.
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// The bundle applied last to this cluster: the new one keeps the cluster's identity (its
    /// CAs, service-account keys, every certificate whose subject, names and usages did not
    /// change and that is not near expiry) and every node's pod range (the API server refuses
    /// to change a Node's); only what is new or changed is issued. An encrypted one opens with
    /// --passphrase-file or asks.
    #[arg(long, visible_alias = "previous", value_name = "OLD_BUNDLE_ZIP")]
    pub(crate) from: Option<PathBuf>,
    /// Seed (64 hex digits) for every key: the same seed and inputs give the same bundle. For
    /// tests and reproducibility checks only; without it the operating system's generator is used.
    #[arg(long, value_name = "HEX", hide = true)]
    pub(crate) seed: Option<String>,
    /// Issue time (unix seconds) instead of now; with --seed, for reproducible bundles.
    #[arg(long, value_name = "SECONDS", hide = true)]
    pub(crate) issued_at: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct BundleArgs {
    /// The bundle zip.
    #[arg(value_name = "BUNDLE_ZIP")]
    pub(crate) bundle: PathBuf,
    /// Passphrase file for an encrypted bundle (asked for otherwise).
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
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
    /// The bundle applied last to this cluster: show the plan that keeps its pod ranges, as
    /// `kbundle generate --from` would make it.
    #[arg(long, visible_alias = "previous", value_name = "OLD_BUNDLE_ZIP")]
    pub(crate) from: Option<PathBuf>,
    /// Passphrase file for an encrypted previous bundle (asked for otherwise).
    #[arg(long, value_name = "FILE", requires = "from")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Human-readable text.
    Text,
    /// JSON.
    Json,
}
