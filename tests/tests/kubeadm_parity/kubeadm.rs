//! The kubeadm side of the comparison: the kubeadm configuration (v1beta4) equivalent to a
//! kbundle cluster, and the real kubeadm run on it, phase by phase, without a container runtime
//! and without touching the machine.
//!
//! Safety: every phase that would change the machine runs with `--dry-run` and
//! `KUBEADM_INIT_DRYRUN_DIR` in the scratch directory (without that variable kubeadm's dry run
//! writes into the host's `/etc/kubernetes/tmp`); the two phases that only write files (`certs`,
//! `kubeconfig`) get scratch paths (`certificatesDir`, `--kubeconfig-dir`). [`run`] refuses any
//! other call, and refuses to start when `/etc/kubernetes` or `/var/lib/kubelet` exists on the
//! host (a real node: the comparison must not run there), and checks both are still absent after.
//! kubeadm runs in a network namespace of its own (`unshare --net`, hence root), with no
//! network: nothing it does can reach another machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kbundle_core::config::{CgroupDriver, ClusterConfig, Host, KubeProxyMode, TaintEffect};
use kbundle_tests::programs;

/// Directories a kubeadm that went wrong would write to; absent on the machines the test runs
/// on, and still absent afterwards.
const HOST_DIRECTORIES: [&str; 2] = ["/etc/kubernetes", "/var/lib/kubelet"];
/// Where kubeadm puts certificates on a node: the scratch `certificatesDir` is shown as this.
pub(crate) const NODE_PKI: &str = "/etc/kubernetes/pki";

/// The bootstrap token of the kbundle bundle, given to kubeadm so that both create the same one.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// `<id>.<secret>`.
    pub token: String,
    /// Its description.
    pub description: String,
}

/// One file as written: its text and its Unix mode.
#[derive(Debug, Clone)]
pub(crate) struct File {
    /// Its contents.
    pub text: String,
    /// Its permission bits.
    pub mode: u32,
}

/// What kubeadm wrote and would create.
#[derive(Debug)]
pub(crate) struct KubeadmOutput {
    /// Files by their path on the node; the scratch `certificatesDir` reads as [`NODE_PKI`].
    /// kubelet's flags are one per line under `/var/lib/kubelet/kubeadm-flags.env`.
    pub files: BTreeMap<String, File>,
    /// The objects the dry-run phases would create, with the phase that creates each.
    pub objects: Vec<(String, serde_yaml::Value)>,
    /// Unix seconds just before the bootstrap token was made (its expiration counts from here).
    pub token_made_at: i64,
}

/// The kubeadm configuration for the first control-plane node of `config`: each setting of the
/// kbundle cluster mapped to its kubeadm counterpart (defaults included, so that neither side
/// relies on the other's defaults), certificates into `certificates_dir`.
pub(crate) fn configuration(
    config: &ClusterConfig,
    token: &Token,
    certificates_dir: &Path,
) -> String {
    let node = config
        .control_plane_nodes()
        .next()
        .expect("a control-plane node");
    let node_ip = node
        .addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    // kubeadm puts the control-plane taint on the node unless told otherwise; a control-plane
    // node that takes workloads has none.
    let mut taints: Vec<String> = node
        .taints
        .iter()
        .map(|taint| {
            let effect = match taint.effect {
                TaintEffect::NoSchedule => "NoSchedule",
                TaintEffect::PreferNoSchedule => "PreferNoSchedule",
                TaintEffect::NoExecute => "NoExecute",
            };
            match &taint.value {
                Some(value) => format!("{{key: {}, value: {value}, effect: {effect}}}", taint.key),
                None => format!("{{key: {}, effect: {effect}}}", taint.key),
            }
        })
        .collect();
    if !node.roles.worker {
        taints.push("{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}".into());
    }
    let joined = |pods: bool| {
        config
            .networking
            .families
            .iter()
            .map(|family| {
                if pods {
                    family.pod_subnet.to_string()
                } else {
                    family.service_subnet.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut yaml = format!(
        "apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: \"{token}\"
    description: \"{description}\"
    ttl: \"{token_ttl}h\"
    usages: [signing, authentication]
    groups: [\"system:bootstrappers:kubeadm:default-node-token\"]
localAPIEndpoint:
  advertiseAddress: \"{advertise}\"
  bindPort: 6443
nodeRegistration:
  name: {name}
  criSocket: \"unix://{socket}\"
  kubeletExtraArgs:
    - {{name: node-ip, value: \"{node_ip}\"}}
  taints: [{taints}]
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: {version}
clusterName: {cluster}
certificatesDir: \"{certificates_dir}\"
imageRepository: \"{repository}\"
encryptionAlgorithm: {algorithm}
certificateValidityPeriod: {validity}h
caCertificateValidityPeriod: {ca_validity}h
networking:
  podSubnet: \"{pods}\"
  serviceSubnet: \"{services}\"
  dnsDomain: {domain}
",
        token = token.token,
        description = token.description,
        token_ttl = config.certificates.bootstrap_token_ttl_hours,
        validity = config.certificates.validity_hours,
        ca_validity = config.certificates.ca_validity_hours,
        advertise = node.primary_address(),
        name = node.name,
        socket = config.container_runtime.socket,
        taints = taints.join(", "),
        version = config.kubernetes_version,
        cluster = config.name,
        certificates_dir = certificates_dir.display(),
        repository = config.registry.image_repository,
        algorithm = config.certificates.key_algorithm.name(),
        pods = joined(true),
        services = joined(false),
        domain = config.networking.dns_domain,
    );
    if let Some(endpoint) = &config.control_plane_endpoint {
        yaml.push_str(&format!("controlPlaneEndpoint: \"{endpoint}\"\n"));
    }
    if !config.certificates.extra_sans.is_empty() {
        let sans: Vec<String> = config
            .certificates
            .extra_sans
            .iter()
            .map(|san| match san {
                Host::Ip(address) => format!("\"{address}\""),
                Host::Name(name) => format!("\"{name}\""),
            })
            .collect();
        yaml.push_str(&format!("apiServer:\n  certSANs: [{}]\n", sans.join(", ")));
    }
    yaml.push_str(&format!(
        "---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: {cgroup_driver}
maxPods: {max_pods}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: {mode}
",
        cgroup_driver = match config.container_runtime.cgroup_driver {
            CgroupDriver::Systemd => "systemd",
            CgroupDriver::Cgroupfs => "cgroupfs",
        },
        max_pods = config.networking.max_pods_per_node,
        mode = match config.networking.kube_proxy_mode {
            KubeProxyMode::Iptables => "iptables",
            KubeProxyMode::Ipvs => "ipvs",
            KubeProxyMode::Nftables => "nftables",
        },
    ));
    yaml
}

/// The phases run, in order: each with its arguments after `kubeadm init phase`.
const PHASES: [&[&str]; 8] = [
    &["certs", "all"],
    &["kubeconfig", "all"],
    &["control-plane", "all", "--dry-run"],
    &["etcd", "local", "--dry-run"],
    &["kubelet-start", "--dry-run"],
    &["bootstrap-token", "--dry-run"],
    &["upload-config", "all", "--dry-run"],
    &["addon", "all", "--dry-run"],
];

/// Runs the real kubeadm (`binary`) on `configuration` (from [`configuration`], whose
/// `certificatesDir` must be `<scratch>/pki`) in `scratch`, and collects what it wrote.
pub(crate) fn run(binary: &Path, configuration: &str, scratch: &Path) -> KubeadmOutput {
    assert_host_untouched("before running kubeadm");
    assert_host_like_the_nodes();
    let pki = scratch.join("pki");
    let kubeconfigs = scratch.join("kubeconfig");
    let dry_run = scratch.join("dry-run");
    for dir in [&pki, &kubeconfigs, &dry_run] {
        std::fs::create_dir_all(dir).expect("scratch directory");
    }
    assert!(
        configuration.contains(&format!("certificatesDir: \"{}\"", pki.display())),
        "the kubeadm configuration must put certificates into the scratch directory"
    );
    let config_file = scratch.join("kubeadm.yaml");
    std::fs::write(&config_file, configuration).expect("write kubeadm.yaml");

    let mut outputs = BTreeMap::new();
    let mut token_made_at = 0;
    for phase in PHASES {
        if phase[0] == "bootstrap-token" {
            // The dry-run client reads its kubeconfig from the dry-run directory.
            std::fs::copy(kubeconfigs.join("admin.conf"), dry_run.join("admin.conf"))
                .expect("admin.conf for the dry-run client");
            token_made_at = now();
        }
        let mut args: Vec<String> = ["init", "phase"]
            .iter()
            .chain(phase)
            .map(|arg| (*arg).to_owned())
            .collect();
        args.push("--config".into());
        args.push(config_file.display().to_string());
        if phase[0] == "kubeconfig" {
            args.push("--kubeconfig-dir".into());
            args.push(kubeconfigs.display().to_string());
        }
        let finished = kubeadm(binary, scratch, &dry_run, &args);
        outputs.insert(phase.join(" "), finished);
    }
    assert_host_untouched("after running kubeadm");

    let scratch_pki = pki.display().to_string();
    let file = |path: &Path| {
        use std::os::unix::fs::PermissionsExt as _;
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
            .replace(&scratch_pki, NODE_PKI);
        let mode = std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o7777;
        File { text, mode }
    };
    let mut files = BTreeMap::new();
    for path in walk(&pki) {
        let relative = path.strip_prefix(&pki).expect("under pki");
        files.insert(format!("{NODE_PKI}/{}", relative.display()), file(&path));
    }
    for path in walk(&kubeconfigs) {
        let name = path.file_name().expect("file name").to_string_lossy();
        files.insert(format!("/etc/kubernetes/{name}"), file(&path));
    }
    for path in walk(&dry_run) {
        let name = path
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let node_path = match name.as_str() {
            // Put there by the test for the dry-run client.
            "admin.conf" => continue,
            "etcd.yaml"
            | "kube-apiserver.yaml"
            | "kube-controller-manager.yaml"
            | "kube-scheduler.yaml" => format!("/etc/kubernetes/manifests/{name}"),
            "config.yaml" | "instance-config.yaml" => format!("/var/lib/kubelet/{name}"),
            "kubeadm-flags.env" => {
                let env = file(&path);
                files.insert(
                    "/var/lib/kubelet/kubeadm-flags.env".into(),
                    File {
                        text: kubeadm_flags(&env.text),
                        mode: env.mode,
                    },
                );
                continue;
            }
            // A file kubeadm did not write before: the comparison must learn about it.
            other => {
                panic!("kubeadm wrote {other} in its dry run, which the comparison does not know")
            }
        };
        files.insert(node_path, file(&path));
    }
    let mut objects = Vec::new();
    for (phase, finished) in &outputs {
        let stdout = finished.stdout.replace(&scratch_pki, NODE_PKI);
        for object in created_objects(&stdout) {
            objects.push((phase.clone(), object));
        }
    }
    KubeadmOutput {
        files,
        objects,
        token_made_at,
    }
}

/// Runs one kubeadm command, after checking it is one that cannot change the machine.
fn kubeadm(binary: &Path, scratch: &Path, dry_run: &Path, args: &[String]) -> programs::Finished {
    let phase = args.get(2).map(String::as_str).unwrap_or_default();
    let writes_files_only = match phase {
        "certs" => true,
        "kubeconfig" => args.iter().any(|arg| arg == "--kubeconfig-dir"),
        _ => false,
    };
    assert!(
        args[..2] == ["init", "phase"]
            && (writes_files_only || args.iter().any(|arg| arg == "--dry-run")),
        "refusing to run `kubeadm {}`: only dry runs and the file-writing phases into the scratch \
         directory are allowed",
        args.join(" ")
    );
    // No network at all: the dry-run client first asks the real API server for every object it
    // reads (and falls back to its fake one), which would send packets towards the cluster's
    // addresses and wait seconds for each; in a namespace of its own they fail at once.
    let mut command = programs::command(programs::require_program("unshare"));
    command
        .arg("--net")
        .arg(binary)
        .args(args)
        .current_dir(scratch)
        .env("KUBEADM_INIT_DRYRUN_DIR", dry_run)
        .env("HOME", scratch);
    let finished = programs::run(command, Duration::from_secs(120));
    finished.expect_success();
    finished
}

/// kubeadm writes some things after the machine it runs on: it mounts into kube-apiserver and
/// kube-controller-manager the CA directories that exist there, and points the kubelet at
/// systemd-resolved's `resolv.conf` when that runs. kbundle renders for Debian-family nodes
/// (its CA mounts) and leaves `resolvConf` to the node; the comparison holds on a machine of
/// that shape, and says so rather than reporting differences that come from the machine.
pub(crate) fn assert_host_like_the_nodes() {
    let present = [
        "/etc/ssl/certs",
        "/etc/ca-certificates",
        "/usr/share/ca-certificates",
        "/usr/local/share/ca-certificates",
    ];
    let absent = [
        "/etc/pki/ca-trust",
        "/etc/pki/tls/certs",
        "/run/systemd/resolve/resolv.conf",
    ];
    for dir in present {
        assert!(
            Path::new(dir).exists(),
            "{dir} is missing on this machine: kubeadm mounts the CA directories it finds here, \
             and the comparison expects a Debian-family machine (install ca-certificates)"
        );
    }
    for path in absent {
        assert!(
            !Path::new(path).exists(),
            "{path} exists on this machine: kubeadm would write what it finds here (a Red Hat \
             CA directory, systemd-resolved's resolv.conf) into its files, which kbundle leaves \
             to the node; run the comparison on a Debian-family machine without systemd-resolved"
        );
    }
}

/// Panics if a directory kubeadm must not touch exists.
pub(crate) fn assert_host_untouched(when: &str) {
    for dir in HOST_DIRECTORIES {
        assert!(
            !Path::new(dir).exists(),
            "{dir} exists on this machine {when}: the kubeadm comparison runs only where no \
             Kubernetes node is installed (and must never create it)"
        );
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Every file under `dir`, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read scratch directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `KUBELET_KUBEADM_ARGS="--a=b --c=d"` as one flag per line.
fn kubeadm_flags(env: &str) -> String {
    let value = env
        .trim()
        .strip_prefix("KUBELET_KUBEADM_ARGS=")
        .expect("kubeadm-flags.env sets KUBELET_KUBEADM_ARGS")
        .trim_matches('"');
    value
        .split_whitespace()
        .map(|flag| format!("{flag}\n"))
        .collect()
}

/// The objects a dry-run phase printed it would create: after each
/// `[dryrun] Would perform action CREATE on resource …` comes `[dryrun] Attached object:` and
/// the object as YAML (possibly indented), up to the next line that starts with `[`.
pub(crate) fn created_objects(stdout: &str) -> Vec<serde_yaml::Value> {
    let mut objects = Vec::new();
    let mut lines = stdout.lines().peekable();
    let mut creating = false;
    while let Some(line) = lines.next() {
        if line.starts_with("[dryrun] Would perform action") {
            creating = line.contains("action CREATE ");
            continue;
        }
        if !(creating && line.starts_with("[dryrun] Attached object:")) {
            continue;
        }
        let mut body = Vec::new();
        while let Some(next) = lines.peek() {
            if next.starts_with('[') {
                break;
            }
            body.push(*next);
            lines.next();
        }
        let indent = body
            .iter()
            .filter(|line| !line.trim().is_empty())
            .map(|line| line.len() - line.trim_start().len())
            .min()
            .unwrap_or(0);
        let yaml: String = body
            .iter()
            .map(|line| format!("{}\n", line.get(indent..).unwrap_or_default()))
            .collect();
        let object: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap_or_else(|error| {
            panic!("kubeadm printed an object that does not parse: {error}\n{yaml}")
        });
        objects.push(object);
        creating = false;
    }
    objects
}
