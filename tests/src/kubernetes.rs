//! The real Kubernetes components in the lab: where the binaries built from the Go module live
//! (`scripts/build-kubernetes.sh` builds them into a cache outside the checkout, keyed by
//! version), and how a lab node is made to run them the way a node would.
//!
//! On every node [`install_node_runtime`] puts:
//! - the real `kubelet` and `kubectl` on the node's PATH (`/usr/local/bin`, links to the cache);
//! - the lab kubelet (`kbundle-lab-kubelet`, a test fixture): started, restarted and stopped by
//!   the lab's `systemctl` stand-in whenever the kubelet is. It runs each static pod with the
//!   real binary of its image, a hollow kubelet (`kubemark --morph=kubelet`) for the node, and
//!   the real kubelet once with the installed unit's command line (see its source);
//! - stand-ins, clearly named, for what cannot run here: `containerd` (answers `--version` as
//!   2.1.4, otherwise exits 0), `crictl` (`rmp` stops the node's pods, as removing every pod
//!   sandbox would), and `runc` and the CNI plugins in `/opt/cni/bin` (never called: no
//!   container runs).

use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use std::time::Duration;

use crate::lab::{Lab, SUDO_USER};

/// The Kubernetes release the lab runs: the newest patch the Go module proxy serves for the
/// default minor (bundles for the lab name it explicitly).
pub const KUBERNETES_VERSION: &str = "v1.37.2";
/// The etcd the bundles of that minor pin (`3.7.0-0`), built from `go.etcd.io/etcd/server/v3`.
pub const ETCD_VERSION: &str = "v3.7.0";
/// The components built for the lab, all from `k8s.io/kubernetes`.
pub const COMPONENTS: [&str; 8] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
    "kubeadm",
    "kubemark",
];
/// What to run when the binaries are missing.
pub const BUILD_HINT: &str = "run scripts/build-kubernetes.sh (scripts/test.sh does): it builds \
     the real components from the Go module proxy into ~/.cache/kbundle (KBUNDLE_CACHE)";

/// The folders of the real binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `kube-apiserver`, …, `kubemark`.
    pub kubernetes: PathBuf,
    /// `etcd` and `etcdctl`.
    pub etcd: PathBuf,
}

impl Binaries {
    /// The cached binaries of [`KUBERNETES_VERSION`] and [`ETCD_VERSION`]; panics with
    /// [`BUILD_HINT`] if any is missing (tests never skip).
    pub fn locate() -> Self {
        let cache = std::env::var_os("KBUNDLE_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/kbundle"))
            })
            .unwrap_or_else(|| PathBuf::from("/root/.cache/kbundle"));
        // Lab nodes mount their own /tmp and /run: binaries there would be invisible to them.
        for hidden in ["/tmp", "/run"] {
            assert!(
                !cache.starts_with(hidden),
                "KBUNDLE_CACHE={} lies under {hidden}, which every lab node hides behind its own \
                 mount: choose a folder elsewhere (the default is ~/.cache/kbundle)",
                cache.display()
            );
        }
        let binaries = Self {
            kubernetes: cache
                .join("kubernetes")
                .join(KUBERNETES_VERSION)
                .join("bin"),
            etcd: cache.join("etcd").join(ETCD_VERSION).join("bin"),
        };
        for component in COMPONENTS {
            let path = binaries.kubernetes.join(component);
            assert!(
                path.is_file(),
                "{} is missing: {BUILD_HINT}",
                path.display()
            );
        }
        for program in ["etcd", "etcdctl"] {
            let path = binaries.etcd.join(program);
            assert!(
                path.is_file(),
                "{} is missing: {BUILD_HINT}",
                path.display()
            );
        }
        binaries
    }

    /// The path of a Kubernetes component.
    pub fn component(&self, name: &str) -> PathBuf {
        self.kubernetes.join(name)
    }
}

/// The lab kubelet, built beside `kbundle` by `cargo test --workspace`
/// (`tests/src/bin/kbundle-lab-kubelet.rs`); `kbundle` is the path of the kbundle binary the
/// test runs.
pub fn lab_kubelet(kbundle: &Path) -> PathBuf {
    let path = kbundle.with_file_name("kbundle-lab-kubelet");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build{} -p kbundle-tests --bin kbundle-lab-kubelet` \
         (cargo test --workspace does; scripts/test.sh builds the release one for the benchmarks)",
        path.display(),
        if path.components().any(|c| c.as_os_str() == "release") {
            " --release"
        } else {
            ""
        }
    );
    path
}

/// The lab's service manager for the kubelet: the node's `systemctl` stand-in calls it with
/// its arguments (after recording them). `enable --now`/`start` start the lab kubelet unless it
/// runs, `restart` restarts it, `stop`/`disable --now` stop it, as systemd would.
const SYSTEMCTL_HOOK: &str = r#"#!/bin/sh
# kbundle test fixture (tests/src/kubernetes.rs): plays systemd for kubelet.service on a lab node.
verb= now= kubelet=
for word in "$@"; do
  case $word in
    --now) now=1 ;;
    -*) ;;
    kubelet|kubelet.service) kubelet=1 ;;
    *) [ -n "$verb" ] || verb=$word ;;
  esac
done
[ -n "$kubelet" ] || exit 0
export KBUNDLE_LAB_K8S_BIN=@K8S@ KBUNDLE_LAB_ETCD_BIN=@ETCD@
runner=@RUNNER@
case $verb in
  stop) exec "$runner" stop ;;
  disable) [ -z "$now" ] || exec "$runner" stop ;;
  restart|try-restart|reload-or-restart) exec "$runner" start ;;
  start) "$runner" is-running || exec "$runner" start ;;
  enable) [ -z "$now" ] || "$runner" is-running || exec "$runner" start ;;
esac
exit 0
"#;

/// `crictl` on a lab node: `rmp` removes every pod (stops the static pods' processes).
const CRICTL: &str = r#"#!/bin/sh
# kbundle test fixture (tests/src/kubernetes.rs): stands in for crictl; no container runtime runs here.
case " $* " in *" rmp "*) exec @RUNNER@ stop-pods ;; esac
exit 0
"#;

/// `containerd` on a lab node: nothing can run it here. It answers `--version` as containerd
/// 2.1.4 does (preflight checks it).
const CONTAINERD: &str = "#!/bin/sh\n# kbundle test fixture: stands in for containerd, which cannot run here.\ncase \"$1\" in --version|-v) echo 'containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376' ;; esac\nexit 0\n";

/// `runc` and the CNI plugins on a lab node: no container runs here, so they are never called;
/// preflight checks that they are installed.
const NEVER_CALLED: &str = "#!/bin/sh\n# kbundle test fixture: stands in for a container runtime's helper, never called in the lab.\nexit 1\n";

/// The CNI plugins flannel's configuration uses, as the CNI plugins release installs them.
pub const CNI_PLUGINS: [&str; 4] = ["bridge", "host-local", "portmap", "loopback"];

/// `text` as one single-quoted shell word.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Makes every node of `lab` run the real components (see the module documentation).
pub fn install_node_runtime(lab: &Lab, binaries: &Binaries, lab_kubelet: &Path) {
    let runner = lab_kubelet.display().to_string();
    let hook = SYSTEMCTL_HOOK
        .replace(
            "@K8S@",
            &shell_quote(&binaries.kubernetes.display().to_string()),
        )
        .replace("@ETCD@", &shell_quote(&binaries.etcd.display().to_string()))
        .replace("@RUNNER@", &shell_quote(&runner));
    let crictl = CRICTL.replace("@RUNNER@", &shell_quote(&runner));
    for index in 1..=lab.node_count() {
        let script = format!(
            "set -e; sudo mkdir -p /usr/local/bin /usr/local/lib/kbundle-test-fixture; \
             printf '%s' {containerd} | sudo tee /usr/local/bin/containerd >/dev/null; \
             sudo mkdir -p /opt/cni/bin; for helper in /usr/local/sbin/runc {cni}; do printf '%s' {never} | sudo tee \"$helper\" >/dev/null; sudo chmod 755 \"$helper\"; done; \
             printf '%s' {crictl} | sudo tee /usr/local/bin/crictl >/dev/null; \
             printf '%s' {hook} | sudo tee /usr/local/lib/kbundle-test-fixture/systemctl-hook >/dev/null; \
             sudo chmod 755 /usr/local/bin/containerd /usr/local/bin/crictl /usr/local/lib/kbundle-test-fixture/systemctl-hook; \
             sudo ln -sf {kubelet} /usr/local/bin/kubelet; sudo ln -sf {kubectl} /usr/local/bin/kubectl",
            containerd = shell_quote(CONTAINERD),
            never = shell_quote(NEVER_CALLED),
            cni = CNI_PLUGINS
                .map(|plugin| format!("/opt/cni/bin/{plugin}"))
                .join(" "),
            crictl = shell_quote(&crictl),
            hook = shell_quote(&hook),
            kubelet = shell_quote(&binaries.component("kubelet").display().to_string()),
            kubectl = shell_quote(&binaries.component("kubectl").display().to_string()),
        );
        let finished = lab.ssh(index, SUDO_USER, &script);
        assert!(
            finished.success(),
            "node runtime on node {index}: {finished}"
        );
    }
}

/// The pid the lab kubelet on node `index` recorded in `/run/kbundle-lab/<file>`
/// (`kubelet.pid`, `pods/<pod>.pid`, …), if that process runs.
pub fn lab_kubelet_pid(lab: &Lab, index: usize, file: &str) -> Option<u32> {
    let script = format!(
        "p=$(cat /run/kbundle-lab/{file} 2>/dev/null) && kill -0 \"$p\" 2>/dev/null && echo \"$p\" || true"
    );
    let run = lab.ssh(
        index,
        SUDO_USER,
        &format!("sudo sh -c {}", shell_quote(&script)),
    );
    assert!(run.success(), "{run}");
    run.stdout.trim().parse().ok()
}

/// The verdict of the lab kubelet on node `index`'s real kubelet run (`passed: …`,
/// `refused: …`), waiting for it at most `limit`; with the kubelet's output on failure.
pub fn real_kubelet_verdict(lab: &Lab, index: usize, limit: Duration) -> String {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(verdict) =
            lab.read_node_file(index, "/var/log/kbundle-lab/kubelet-real.verdict")
        {
            if verdict.starts_with("passed") {
                return verdict;
            }
            let output = lab
                .read_node_file(index, "/var/log/kbundle-lab/kubelet-real.log")
                .unwrap_or_default();
            return format!("{verdict}\n{output}");
        }
        if std::time::Instant::now() > deadline {
            return format!(
                "no verdict after {limit:?}; lab kubelet log:\n{}",
                lab.read_node_file(index, "/var/log/kbundle-lab/kubelet.log")
                    .unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What node `index`'s lab kubelet, hollow kubelet and static pods logged (for failures).
pub fn node_logs(lab: &Lab, index: usize) -> String {
    let mut text = String::new();
    for log in [
        "/var/log/kbundle-lab/kubelet.log",
        "/var/log/kbundle-lab/hollow-kubelet.log",
        "/var/log/pods/kube-apiserver.log",
        "/var/log/pods/etcd.log",
        "/var/log/pods/kube-controller-manager.log",
    ] {
        if let Some(contents) = lab.read_node_file(index, log) {
            let tail: Vec<&str> = contents.lines().rev().take(15).collect();
            text.push_str(&format!(
                "--- {} {log}\n{}\n",
                lab.node_name(index),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
    }
    text
}

/// How a lab cluster is laid out: which lab nodes are in `cluster.yaml`, with which roles.
#[derive(Debug, Clone)]
pub struct ClusterShape {
    /// `metadata.name`.
    pub name: String,
    /// Lab nodes 1…`control_planes` are control-plane (and etcd) nodes.
    pub control_planes: usize,
    /// The next ones are workers.
    pub workers: usize,
    /// `spec.controlPlaneEndpoint` with `highAvailability: {mode: external}` (a load balancer
    /// the test runs), or the first control-plane node when `None`.
    pub external_endpoint: Option<String>,
    /// IPv4 and IPv6 (the lab must be [`Lab::new_dual_stack`]).
    pub dual_stack: bool,
    /// More fields for some nodes' entries, by lab node index (e.g. `labels: {disk: ssd}`).
    pub node_fields: Vec<(usize, String)>,
}

impl ClusterShape {
    /// `control_planes` + `workers` nodes, single-stack, no load balancer.
    pub fn new(name: &str, control_planes: usize, workers: usize) -> Self {
        Self {
            name: name.to_owned(),
            control_planes,
            workers,
            external_endpoint: None,
            dual_stack: false,
            node_fields: Vec::new(),
        }
    }

    /// The lab node indexes in the cluster.
    pub fn nodes(&self) -> std::ops::RangeInclusive<usize> {
        1..=self.control_planes + self.workers
    }

    /// The `cluster.yaml` of this shape on `lab`, for [`KUBERNETES_VERSION`], logging in as
    /// the lab's sudo user with the lab's key.
    pub fn cluster_yaml(&self, lab: &Lab) -> String {
        let mut yaml = format!(
            "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: {}}}\nspec:\n  kubernetesVersion: \"{}\"\n",
            self.name,
            KUBERNETES_VERSION.trim_start_matches('v')
        );
        if let Some(endpoint) = &self.external_endpoint {
            yaml.push_str(&format!(
                "  controlPlaneEndpoint: \"{endpoint}\"\n  highAvailability: {{mode: external}}\n"
            ));
        }
        yaml.push_str(&format!(
            "  ssh: {{user: {SUDO_USER}, port: 22, identityFile: {}}}\n  nodes:\n",
            lab.client_key().display()
        ));
        for index in self.nodes() {
            let roles = if index <= self.control_planes {
                "[control-plane, etcd]"
            } else {
                "[worker]"
            };
            let address = match (self.dual_stack, lab.node_address6(index)) {
                (true, Some(v6)) => format!("{},{v6}", lab.node_address(index)),
                _ => lab.node_address(index).to_string(),
            };
            let extra: String = self
                .node_fields
                .iter()
                .filter(|(node, _)| *node == index)
                .map(|(_, fields)| format!(", {fields}"))
                .collect();
            yaml.push_str(&format!(
                "    - {{name: {}, address: \"{address}\", roles: {roles}{extra}}}\n",
                lab.node_name(index)
            ));
        }
        if self.dual_stack {
            yaml.push_str(
                "  networking:\n    podSubnet: 10.244.0.0/16,fd00:10:244::/56\n    serviceSubnet: 10.96.0.0/16,fd00:10:96::/112\n    nodeCIDRMaskSize: \"24,64\"\n",
            );
        }
        yaml
    }
}

/// A cluster in a lab: the lab, the real binaries, and the `kbundle` binary under test.
#[derive(Debug)]
pub struct ClusterLab {
    /// The lab (its nodes already run [`install_node_runtime`]).
    pub lab: Lab,
    /// The real components.
    pub binaries: Binaries,
    /// The `kbundle` binary under test.
    pub kbundle: PathBuf,
    /// The shape of the cluster.
    pub shape: ClusterShape,
    /// Load balancers and other helpers the test started in the lab namespace (ended by the
    /// lab's teardown, which kills every process in its namespaces by pid).
    helpers: Vec<std::process::Child>,
}

/// The result of a `kbundle` run.
#[derive(Debug)]
pub struct Run {
    /// Exit status (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n{}{}", self.code, self.stdout, self.stderr)
    }
}

impl ClusterLab {
    /// A lab of `lab_nodes` nodes (at least the shape's) running the real components.
    pub fn new(shape: ClusterShape, lab_nodes: usize, kbundle: &Path) -> Self {
        let binaries = Binaries::locate();
        let runner = lab_kubelet(kbundle);
        let lab = if shape.dual_stack {
            Lab::new_dual_stack(&shape.name, lab_nodes)
        } else {
            Lab::new(&shape.name, lab_nodes)
        };
        install_node_runtime(&lab, &binaries, &runner);
        Self {
            lab,
            binaries,
            kbundle: kbundle.to_owned(),
            shape,
            helpers: Vec::new(),
        }
    }

    /// Starts Debian's haproxy in the lab namespace as the external load balancer in front of
    /// the control-plane nodes' API servers, on [`crate::lab::BRIDGE_ADDRESS`]`:6443` (TCP,
    /// with health checks, as a production load balancer in front of kube-apiserver is set
    /// up). Returns the endpoint.
    pub fn start_load_balancer(&mut self) -> String {
        let endpoint = format!("{}:6443", crate::lab::BRIDGE_ADDRESS);
        // The runtime socket lets a test take a server out of rotation, as an operator does
        // before removing a control-plane node (see `disable_backend`).
        let mut config = format!(
            "global\n  maxconn 1000\n  stats socket {} level admin\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 1h\n  timeout server 1h\nfrontend kube-apiserver\n  bind {endpoint}\n  default_backend control-plane\nbackend control-plane\n  option httpchk GET /readyz\n  http-check expect status 200\n  default-server inter 1s fall 2 rise 1 check check-ssl verify none\n",
            self.haproxy_socket().display()
        );
        for index in 1..=self.shape.control_planes {
            config.push_str(&format!(
                "  server {} {}:6443\n",
                self.lab.node_name(index),
                self.lab.node_address(index)
            ));
        }
        let path = self.lab.scratch_dir().join("haproxy.cfg");
        std::fs::write(&path, config).expect("write haproxy.cfg");
        let log =
            std::fs::File::create(self.lab.scratch_dir().join("haproxy.log")).expect("haproxy log");
        let mut command = self
            .lab
            .command(crate::programs::require_program("haproxy"));
        command
            .args(["-db", "-f"])
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        self.helpers.push(
            command
                .spawn()
                .expect("haproxy starts in the lab namespace"),
        );
        self.shape.external_endpoint = Some(endpoint.clone());
        endpoint
    }

    fn haproxy_socket(&self) -> PathBuf {
        self.lab.scratch_dir().join("haproxy.sock")
    }

    /// Takes control-plane node `index` out of the load balancer's rotation (haproxy's runtime
    /// API), as an operator does before removing the node from the cluster.
    pub fn disable_backend(&self, index: usize) {
        use std::io::{Read as _, Write as _};
        let mut socket = std::os::unix::net::UnixStream::connect(self.haproxy_socket())
            .expect("haproxy's runtime socket (start_load_balancer first)");
        writeln!(
            socket,
            "disable server control-plane/{}",
            self.lab.node_name(index)
        )
        .expect("write to haproxy");
        let mut answer = String::new();
        let _ = socket.read_to_string(&mut answer);
        assert!(answer.trim().is_empty(), "haproxy: {answer}");
    }

    /// Writes `yaml` to the scratch dir and runs `kbundle generate` on it (a fresh CA each
    /// time); returns the bundle's path.
    pub fn generate(&self, yaml: &str, name: &str) -> PathBuf {
        self.generate_with(yaml, name, &[])
    }

    /// [`ClusterLab::generate`] with more `kbundle generate` arguments (`--from OLD.zip`,
    /// `--issued-at …`).
    pub fn generate_with(&self, yaml: &str, name: &str, extra: &[&str]) -> PathBuf {
        let dir = self.lab.scratch_dir();
        let config = dir.join(format!("{name}.yaml"));
        std::fs::write(&config, yaml).expect("write cluster.yaml");
        let zip = dir.join(format!("{name}.zip"));
        let (config, output) = (config.display().to_string(), zip.display().to_string());
        let mut args = vec![
            "generate",
            config.as_str(),
            "-o",
            output.as_str(),
            "--force",
        ];
        args.extend_from_slice(extra);
        let run = self.kbundle_run(&args);
        assert!(run.success(), "generate: {run}");
        zip
    }

    /// `kbundle apply <zip>` in the lab namespace with the lab's ssh settings, every phase run
    /// (plus `extra` arguments).
    pub fn apply_command(&self, zip: &Path, extra: &[&str]) -> std::process::Command {
        let mut command = self.lab.command(&self.kbundle);
        command
            .current_dir(self.lab.scratch_dir())
            .args(["apply"])
            .arg(zip)
            .args(["--ssh-config", "/dev/null", "--known-hosts"])
            .arg(self.lab.known_hosts())
            .args(["--connect-timeout", "5", "--log"])
            .arg(self.lab.scratch_dir().join("apply.log"))
            // Every node has the lab's binaries: nothing is ever downloaded in the lab.
            .arg("--no-fetch")
            .args(extra);
        command
    }

    /// Runs [`ClusterLab::apply_command`] to its end.
    pub fn apply(&self, zip: &Path, extra: &[&str]) -> Run {
        output(self.apply_command(zip, extra))
    }

    /// `kbundle <args>` in the lab namespace, from the scratch dir.
    pub fn kbundle_run(&self, args: &[&str]) -> Run {
        let mut command = self.lab.command(&self.kbundle);
        command.current_dir(self.lab.scratch_dir()).args(args);
        output(command)
    }

    /// The bundle `zip`, read and checked as kbundle reads it.
    pub fn bundle(&self, zip: &Path) -> kbundle_core::bundle::Bundle {
        kbundle_core::bundle::Bundle::from_zip(
            &std::fs::read(zip).expect("read bundle"),
            None,
            kbundle_core::bundle::read::Limits::default(),
        )
        .expect("bundle reads")
    }

    /// Where [`ClusterLab::extract`] puts the entries of `zip`.
    fn extracted(&self, zip: &Path) -> PathBuf {
        self.lab
            .scratch_dir()
            .join("extracted")
            .join(zip.file_stem().unwrap_or_default())
    }

    /// Writes an entry of `bundle` (read from `zip`) under [`ClusterLab::extracted`].
    fn write_entry(&self, zip: &Path, entry: &kbundle_core::bundle::Entry) -> PathBuf {
        let path = self.extracted(zip).join(&entry.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &entry.contents).expect("write");
        path
    }

    /// Writes a file of the bundle (its path inside the zip) to the scratch dir; returns where.
    pub fn extract(&self, zip: &Path, entry: &str) -> PathBuf {
        let bundle = self.bundle(zip);
        let found = bundle
            .entry(entry)
            .unwrap_or_else(|| panic!("{entry} is not in {}", zip.display()));
        self.write_entry(zip, found)
    }

    /// The real kubectl, run in the lab namespace with `kubeconfig` (at most 60 s).
    pub fn kubectl(&self, kubeconfig: &Path, args: &[&str]) -> crate::programs::Finished {
        let mut command = self.lab.command(self.binaries.component("kubectl"));
        command
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--request-timeout", "20s"])
            .args(args);
        crate::programs::run(command, Duration::from_secs(60))
    }

    /// Waits until every node of the shape is Ready (at most `limit`); panics with the nodes'
    /// logs otherwise.
    pub fn wait_ready(&self, admin: &Path, limit: Duration) {
        let names: Vec<&str> = self.shape.nodes().map(|i| self.lab.node_name(i)).collect();
        self.wait_nodes_ready(admin, &names, limit);
    }

    /// Waits until the nodes `names` are Ready (at most `limit`); panics with the lab nodes'
    /// logs otherwise.
    pub fn wait_nodes_ready(&self, admin: &Path, names: &[&str], limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let ready = self.kubectl(
                admin,
                &[
                    "get",
                    "nodes",
                    "-o",
                    r#"jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
                ],
            );
            let all = names
                .iter()
                .all(|name| ready.stdout.lines().any(|l| l == format!("{name}=True")));
            if all {
                return;
            }
            if std::time::Instant::now() > deadline {
                let logs: String = self
                    .shape
                    .nodes()
                    .map(|i| node_logs(&self.lab, i))
                    .collect();
                panic!("nodes not Ready within {limit:?}:\n{ready}\n{logs}");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Runs `script` as root on node `index` (at most 30 s).
    pub fn root(&self, index: usize, script: &str) -> crate::programs::Finished {
        self.lab.ssh(
            index,
            SUDO_USER,
            &format!("sudo sh -c {}", shell_quote(script)),
        )
    }

    /// The pid of static pod `name`'s process on node `index`, if it runs.
    pub fn static_pod_pid(&self, index: usize, name: &str) -> Option<u32> {
        lab_kubelet_pid(&self.lab, index, &format!("pods/{name}.pid"))
    }
}

fn output(mut command: std::process::Command) -> Run {
    let output = command.output().expect("kbundle runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl ClusterLab {
    /// Runs the real kube-proxy on node `index` the way its DaemonSet pod would: the rendered
    /// ConfigMap's `config.conf` and `kubeconfig.conf` at `/var/lib/kube-proxy`, a token of the
    /// `kube-proxy` ServiceAccount issued by the API server with the cluster CA beside it (what
    /// the pod's projected volume holds), the container's command with `$(NODE_NAME)`, in the
    /// node's network namespace. Returns the process id on the node (it runs until the node
    /// goes; the test ends it by pid).
    pub fn start_kube_proxy(&self, index: usize, zip: &Path, admin: &Path) -> u32 {
        let addon = std::fs::read_to_string(self.extract(zip, "addons/30-kube-proxy.yaml"))
            .expect("kube-proxy addon");
        let mut config = String::new();
        let mut kubeconfig = String::new();
        let mut command: Vec<String> = Vec::new();
        for document in serde_yaml::Deserializer::from_str(&addon) {
            let value = serde_yaml::Value::deserialize(document).expect("addon parses");
            match value["kind"].as_str() {
                Some("ConfigMap") => {
                    config = value["data"]["config.conf"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    kubeconfig = value["data"]["kubeconfig.conf"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                }
                Some("DaemonSet") => {
                    let container = &value["spec"]["template"]["spec"]["containers"][0];
                    command = ["command", "args"]
                        .iter()
                        .flat_map(|key| container[*key].as_sequence().cloned().unwrap_or_default())
                        .filter_map(|word| word.as_str().map(str::to_owned))
                        .collect();
                }
                _ => {}
            }
        }
        assert!(
            !config.is_empty() && !kubeconfig.is_empty() && !command.is_empty(),
            "the kube-proxy addon lacks its ConfigMap or DaemonSet"
        );
        let token = self.kubectl(
            admin,
            &["create", "token", "kube-proxy", "-n", "kube-system"],
        );
        let token = token.expect_success().trim().to_owned();
        let ca = std::fs::read_to_string(self.extract(
            zip,
            &format!(
                "nodes/{}/rootfs/etc/kubernetes/pki/ca.crt",
                self.lab.node_name(index)
            ),
        ))
        .expect("ca.crt");
        let name = self.lab.node_name(index);
        let binary = self.binaries.component("kube-proxy").display().to_string();
        let argv: Vec<String> = command
            .iter()
            .skip(1)
            .map(|word| shell_quote(&word.replace("$(NODE_NAME)", name)))
            .collect();
        let secrets = "/var/run/secrets/kubernetes.io/serviceaccount";
        // Lab nodes have no default route (nothing may leave the lab); a real node's default
        // route is what lets a packet to a Service IP reach the OUTPUT chain, where kube-proxy's
        // rules rewrite it. An on-link route to the service range plays that part.
        let plan: serde_yaml::Value = serde_yaml::from_str(
            &std::fs::read_to_string(self.extract(zip, "plan.json")).expect("plan.json"),
        )
        .expect("plan.json parses");
        let service_range = plan["service_subnets"][0]
            .as_str()
            .expect("plan.json names the service range");
        let script = format!(
            "set -e; ip route replace {service_range} dev eth0; mkdir -p /var/lib/kube-proxy {secrets}; \
             printf '%s' {config} > /var/lib/kube-proxy/config.conf; \
             printf '%s' {kubeconfig} > /var/lib/kube-proxy/kubeconfig.conf; \
             printf '%s' {ca} > {secrets}/ca.crt; \
             (umask 077; printf '%s' {token} > {secrets}/token); \
             NODE_NAME={name} setsid {binary} {argv} >/var/log/kube-proxy.log 2>&1 </dev/null & echo $!",
            config = shell_quote(&config),
            kubeconfig = shell_quote(&kubeconfig),
            ca = shell_quote(&ca),
            token = shell_quote(&token),
            binary = shell_quote(&binary),
            argv = argv.join(" "),
        );
        let started = self.root(index, &script);
        started
            .expect_success()
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("kube-proxy did not start on {name}: {started}"))
    }
}

impl ClusterLab {
    /// Copies the bundle's `join/` folder to node `index` (into `~/bundle/join` of the sudo
    /// user), as the README's procedure for nodes that join later says.
    pub fn copy_join_folder(&self, zip: &Path, index: usize) {
        let bundle = self.bundle(zip);
        let mut copied = 0;
        for entry in bundle
            .entries
            .iter()
            .filter(|e| e.path.starts_with("join/"))
        {
            self.write_entry(zip, entry);
            copied += 1;
        }
        assert!(copied > 0, "the bundle has no join/ folder");
        let local = self.extracted(zip).join("join");
        let made = self
            .lab
            .ssh(index, SUDO_USER, "rm -rf bundle && mkdir -p bundle");
        assert!(made.success(), "{made}");
        let mut scp = self.lab.command("scp");
        scp.args(self.lab.ssh_options())
            .arg("-r")
            .arg(&local)
            .arg(format!(
                "{SUDO_USER}@{}:bundle/",
                self.lab.node_address(index)
            ));
        let copied = crate::programs::run(scp, Duration::from_secs(30));
        assert!(copied.success(), "{copied}");
    }
}
