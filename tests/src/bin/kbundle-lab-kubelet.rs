//! The lab's kubelet, run on a lab node by the node's `systemctl` stand-in when the kubelet is
//! started (a test fixture: no container runtime can run here). It plays exactly the parts a
//! container runtime would, and runs the real Kubernetes binaries for everything else:
//!
//! - **static pods**: every manifest in the kubelet's `staticPodPath` is run as a process: its
//!   container's command, arguments and environment, with the real binary of its image
//!   (`…/kube-apiserver:v1.37.2` → `$K8S_BIN/kube-apiserver`, etcd → `$ETCD_BIN/etcd`). A
//!   changed manifest restarts its process, a removed one stops it, a crashed one is restarted
//!   with a back-off, as the kubelet does. Pods outlive a kubelet restart (as containers do);
//!   `stop-pods` plays `crictl rmp -af`. An image without a binary here (kube-vip) is logged
//!   and not run.
//! - **the node**: a hollow kubelet (`kubemark --morph=kubelet`, the real kubelet code with a
//!   fake runtime) under the node's own name, with the installed unit's kubeconfig (or
//!   bootstrap kubeconfig), node labels and taints, so that the node registers, reports Ready
//!   and "runs" the pods scheduled to it.
//! - **the real kubelet**, once per start, with exactly the installed unit's command line (the
//!   unit and its drop-ins, as systemd merges them) plus `--fail-cgroupv1=false` (the lab host
//!   is cgroup v1): it must get past its flag and configuration validation and stop only at the
//!   missing container runtime. Its output and verdict go to `/var/log/kbundle-lab/`. With a
//!   bootstrap kubeconfig, it is the real kubelet that requests the node's client certificate
//!   (TLS bootstrap), before it reaches the runtime; the hollow kubelet starts afterwards.
//!
//! Usage (as root on a node): `kbundle-lab-kubelet start|stop|stop-pods|is-running|run`, with
//! `KBUNDLE_LAB_K8S_BIN` and `KBUNDLE_LAB_ETCD_BIN` naming the folders of the real binaries.
//! State: `/run/kbundle-lab/` (pids), logs: `/var/log/kbundle-lab/` and `/var/log/pods/`.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const STATE: &str = "/run/kbundle-lab";
const LOGS: &str = "/var/log/kbundle-lab";
const POD_LOGS: &str = "/var/log/pods";
const UNIT: &str = "/etc/systemd/system/kubelet.service";
/// Where the verdict on the real kubelet's command line is written.
const REAL_KUBELET_VERDICT: &str = "/var/log/kbundle-lab/kubelet-real.verdict";
/// What the real kubelet prints once its flags and configuration passed and it reaches the
/// container runtime (which does not exist here).
const PAST_VALIDATION: [&str; 2] = ["validate CRI v1 runtime API", "container runtime"];
/// A static pod's process restarts after this, doubling up to [`BACK_OFF_MAX`].
const BACK_OFF_START: Duration = Duration::from_secs(1);
const BACK_OFF_MAX: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    let result = match command.as_str() {
        "start" => start(),
        "stop" => stop_kubelet(),
        "stop-pods" => stop_kubelet().map(|()| stop_all_pods()),
        "run" => run(),
        "is-running" => match running_pid(Path::new(&format!("{STATE}/kubelet.pid"))) {
            Some(_) => Ok(()),
            None => return ExitCode::from(3),
        },
        _ => Err("usage: kbundle-lab-kubelet start|stop|stop-pods|is-running|run".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kbundle-lab-kubelet: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A process id from a pid file, if that process still runs (and is not a zombie).
fn running_pid(file: &Path) -> Option<u32> {
    let pid: u32 = fs::read_to_string(file).ok()?.trim().parse().ok()?;
    alive(pid).then_some(pid)
}

fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.get(stat.rfind(')')? + 2..)?.chars().next()?;
            Some(state != 'Z')
        })
        .unwrap_or(false)
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// SIGTERM, then SIGKILL after 5 s; returns once the process is gone.
fn terminate(pid: u32) {
    signal(pid, "TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        signal(pid, "KILL");
        while alive(pid) {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `systemctl start|restart kubelet`: a fresh lab kubelet in the background (the old one, if
/// any, stopped first; the pods it started keep running and are adopted).
fn start() -> Result<(), String> {
    stop_kubelet()?;
    fs::create_dir_all(LOGS).map_err(|e| format!("{LOGS}: {e}"))?;
    fs::create_dir_all(STATE).map_err(|e| format!("{STATE}: {e}"))?;
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(format!("{LOGS}/kubelet.log"))
        .map_err(|e| format!("{LOGS}/kubelet.log: {e}"))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = Command::new(me)
        .arg("run")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the lab kubelet: {e}"))?;
    fs::write(format!("{STATE}/kubelet.pid"), child.id().to_string()).map_err(|e| e.to_string())?;
    Ok(())
}

/// `systemctl stop kubelet`: the lab kubelet and its hollow kubelet stop; pods keep running.
fn stop_kubelet() -> Result<(), String> {
    if let Some(pid) = running_pid(Path::new(&format!("{STATE}/kubelet.pid"))) {
        terminate(pid);
    }
    if let Some(pid) = running_pid(Path::new(&format!("{STATE}/hollow-kubelet.pid"))) {
        terminate(pid);
    }
    Ok(())
}

/// `crictl rmp -af`: every pod this node runs stops.
fn stop_all_pods() {
    let Ok(entries) = fs::read_dir(format!("{STATE}/pods")) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "pid") {
            if let Some(pid) = running_pid(&path) {
                terminate(pid);
            }
            let _ = fs::remove_file(&path);
        }
    }
}

fn say(message: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    println!("{now:.3} {message}");
    let _ = std::io::stdout().flush();
}

/// The kubelet's command line as systemd would run it: the last `ExecStart=` of the unit and
/// its drop-ins (in lexical order; an empty one resets), continuation lines joined, `$VAR` and
/// `${VAR}` expanded from `Environment=` and `EnvironmentFile=`.
fn unit_command_line() -> Result<Vec<String>, String> {
    let mut files = vec![PathBuf::from(UNIT)];
    if let Ok(entries) = fs::read_dir(format!("{UNIT}.d")) {
        let mut dropins: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        dropins.sort();
        files.extend(dropins);
    }
    let mut exec_start: Option<String> = None;
    let mut environment: HashMap<String, String> = HashMap::new();
    for file in &files {
        let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let joined = text.replace("\\\n", " ");
        for line in joined.lines() {
            let line = line.trim();
            if let Some(value) = line.strip_prefix("ExecStart=") {
                exec_start = (!value.trim().is_empty()).then(|| value.trim().to_owned());
            } else if let Some(value) = line.strip_prefix("Environment=") {
                for word in split_words(value) {
                    if let Some((key, val)) = word.split_once('=') {
                        environment.insert(key.to_owned(), val.to_owned());
                    }
                }
            } else if let Some(value) = line.strip_prefix("EnvironmentFile=") {
                let (optional, path) = match value.strip_prefix('-') {
                    Some(path) => (true, path),
                    None => (false, value),
                };
                match fs::read_to_string(path) {
                    Ok(text) => {
                        for line in text.lines() {
                            if let Some((key, val)) = line.trim().split_once('=') {
                                environment
                                    .insert(key.to_owned(), val.trim_matches('"').to_owned());
                            }
                        }
                    }
                    Err(e) if !optional => return Err(format!("{path}: {e}")),
                    Err(_) => {}
                }
            }
        }
    }
    let exec_start = exec_start.ok_or("the kubelet unit has no ExecStart")?;
    Ok(split_words(&exec_start)
        .into_iter()
        .map(|word| expand(&word, &environment))
        .filter(|word| !word.is_empty())
        .collect())
}

/// Splits a systemd command line into words (double and single quotes group).
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

fn expand(word: &str, environment: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], &braced[end + 1..]),
                None => (braced, ""),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push_str(environment.get(name).map(String::as_str).unwrap_or(""));
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// The value of `--name=value` (or `--name value`) in a command line.
fn flag(command_line: &[String], name: &str) -> Option<String> {
    let long = format!("--{name}");
    let mut words = command_line.iter();
    while let Some(word) = words.next() {
        if let Some(value) = word.strip_prefix(&format!("{long}=")) {
            return Some(value.to_owned());
        }
        if *word == long {
            return words.next().cloned();
        }
    }
    None
}

fn yaml_file(path: &str) -> Result<serde_yaml::Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    serde_yaml::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

fn binaries() -> (PathBuf, PathBuf) {
    let get = |name: &str| PathBuf::from(std::env::var_os(name).unwrap_or_default());
    (get("KBUNDLE_LAB_K8S_BIN"), get("KBUNDLE_LAB_ETCD_BIN"))
}

/// The lab kubelet's main loop.
fn run() -> Result<(), String> {
    let command_line = unit_command_line()?;
    say(&format!(
        "kubelet unit command line: {}",
        command_line.join(" ")
    ));
    let config_path =
        flag(&command_line, "config").unwrap_or_else(|| "/var/lib/kubelet/config.yaml".into());
    let config = yaml_file(&config_path)?;
    let manifests = config["staticPodPath"]
        .as_str()
        .unwrap_or("/etc/kubernetes/manifests")
        .to_owned();

    // The real kubelet: once, while the static pods start. The hollow kubelet starts after it
    // is done: on a node that joins with a bootstrap kubeconfig, the real kubelet is the one
    // that requests the node's certificate, and two kubelets must not race for it.
    let real = command_line.clone();
    let checked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = checked.clone();
    thread::spawn(move || {
        check_real_kubelet(&real);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
    });

    let mut hollow = HollowKubelet::new(&command_line, &config);
    let mut pods = StaticPods::new(PathBuf::from(manifests));
    loop {
        pods.sync();
        if checked.load(std::sync::atomic::Ordering::SeqCst) {
            hollow.keep_running();
        }
        thread::sleep(Duration::from_millis(300));
    }
}

/// Runs the real kubelet with the unit's command line and records whether it got past its
/// flag and configuration validation.
fn check_real_kubelet(command_line: &[String]) {
    let verdict = match real_kubelet_output(command_line) {
        Ok(output) => {
            let _ = fs::write(format!("{LOGS}/kubelet-real.log"), &output);
            if output.contains("failed to validate kubelet") || output.contains("unknown flag") {
                "refused: the kubelet refused its flags or configuration"
            } else if PAST_VALIDATION.iter().any(|m| output.contains(m)) {
                "passed: flags and configuration accepted; stopped at the container runtime"
            } else {
                "unknown: see kubelet-real.log"
            }
        }
        Err(error) => {
            let _ = fs::write(format!("{LOGS}/kubelet-real.log"), &error);
            "unknown: the real kubelet could not be run"
        }
    };
    say(&format!("real kubelet: {verdict}"));
    let _ = fs::write(REAL_KUBELET_VERDICT, format!("{verdict}\n"));
}

fn real_kubelet_output(command_line: &[String]) -> Result<String, String> {
    let (program, args) = command_line.split_first().ok_or("empty command line")?;
    let log = format!("{LOGS}/kubelet-real.out");
    let out = fs::File::create(&log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new(program)
        .args(args)
        .arg("--fail-cgroupv1=false")
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        let so_far = fs::read_to_string(&log).unwrap_or_default();
        if Instant::now() > deadline || PAST_VALIDATION.iter().any(|m| so_far.contains(m)) {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    fs::read_to_string(&log).map_err(|e| e.to_string())
}

/// When a process that ended may start again: at once at first, then after a delay that
/// doubles with every failure up to [`BACK_OFF_MAX`], as the kubelet restarts containers.
struct BackOff {
    delay: Duration,
    next_start: Instant,
}

impl BackOff {
    fn new() -> Self {
        Self {
            delay: BACK_OFF_START,
            next_start: Instant::now(),
        }
    }

    /// It failed: the next start waits, and the one after longer.
    fn failed(&mut self) {
        self.next_start = Instant::now() + self.delay;
        self.delay = (self.delay * 2).min(BACK_OFF_MAX);
    }

    fn may_start(&self) -> bool {
        Instant::now() >= self.next_start
    }
}

/// The hollow kubelet: kubemark under the node's own name and credentials.
struct HollowKubelet {
    args: Vec<String>,
    back_off: BackOff,
    child: Option<std::process::Child>,
}

impl HollowKubelet {
    fn new(command_line: &[String], config: &serde_yaml::Value) -> Self {
        let hostname = fs::read_to_string("/etc/hostname").unwrap_or_default();
        let name =
            flag(command_line, "hostname-override").unwrap_or_else(|| hostname.trim().to_owned());
        let mut args = vec![
            "--morph=kubelet".to_owned(),
            format!("--name={name}"),
            "--use-host-image-service=false".to_owned(),
            "--kubelet-port=10250".to_owned(),
            "--kubelet-read-only-port=0".to_owned(),
            "--cert-dir=/var/lib/kubelet/pki".to_owned(),
        ];
        if let Some(kubeconfig) = flag(command_line, "kubeconfig") {
            args.push(format!("--kubeconfig={kubeconfig}"));
        }
        if let Some(bootstrap) = flag(command_line, "bootstrap-kubeconfig") {
            args.push(format!("--bootstrap-kubeconfig={bootstrap}"));
        }
        if let Some(labels) = flag(command_line, "node-labels") {
            args.push(format!("--node-labels={labels}"));
        }
        let mut taints: Vec<String> = flag(command_line, "register-with-taints")
            .map(|t| t.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        for taint in config["registerWithTaints"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let key = taint["key"].as_str().unwrap_or_default();
            let effect = taint["effect"].as_str().unwrap_or_default();
            match taint["value"].as_str() {
                Some(value) => taints.push(format!("{key}={value}:{effect}")),
                None => taints.push(format!("{key}:{effect}")),
            }
        }
        if !taints.is_empty() {
            args.push(format!("--register-with-taints={}", taints.join(",")));
        }
        if let Some(max_pods) = config["maxPods"].as_u64() {
            args.push(format!("--max-pods={max_pods}"));
        }
        Self {
            args,
            back_off: BackOff::new(),
            child: None,
        }
    }

    fn keep_running(&mut self) {
        if let Some(child) = self.child.as_mut() {
            match child.try_wait() {
                Ok(None) => return,
                Ok(Some(status)) => {
                    say(&format!("hollow kubelet exited ({status}); restarting"));
                    self.back_off.failed();
                }
                Err(_) => {}
            }
            self.child = None;
        }
        if !self.back_off.may_start() {
            return;
        }
        let (k8s, _) = binaries();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(format!("{LOGS}/hollow-kubelet.log"));
        let Ok(log) = log else { return };
        let Ok(log_err) = log.try_clone() else { return };
        say(&format!("hollow kubelet: kubemark {}", self.args.join(" ")));
        match Command::new(k8s.join("kubemark"))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
        {
            Ok(child) => {
                let _ = fs::write(
                    format!("{STATE}/hollow-kubelet.pid"),
                    child.id().to_string(),
                );
                self.child = Some(child);
            }
            Err(error) => {
                say(&format!("cannot start kubemark: {error}"));
                self.back_off.failed();
            }
        }
    }
}

/// One static pod's process.
struct Pod {
    hash: u64,
    pid: Option<u32>,
    back_off: BackOff,
}

struct StaticPods {
    directory: PathBuf,
    pods: BTreeMap<String, Pod>,
    /// Manifests whose image has no binary here, already reported.
    unrunnable: BTreeMap<String, u64>,
}

fn hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

impl StaticPods {
    fn new(directory: PathBuf) -> Self {
        let _ = fs::create_dir_all(format!("{STATE}/pods"));
        let _ = fs::create_dir_all(POD_LOGS);
        Self {
            directory,
            pods: BTreeMap::new(),
            unrunnable: BTreeMap::new(),
        }
    }

    fn pid_file(name: &str) -> PathBuf {
        PathBuf::from(format!("{STATE}/pods/{name}.pid"))
    }

    fn hash_file(name: &str) -> PathBuf {
        PathBuf::from(format!("{STATE}/pods/{name}.hash"))
    }

    /// The manifests as they are now: file stem → contents.
    fn manifests(&self) -> BTreeMap<String, String> {
        let mut found = BTreeMap::new();
        let Ok(entries) = fs::read_dir(&self.directory) else {
            return found;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // The kubelet ignores hidden files (and so the installer's temporary ones).
            if name.starts_with('.') || !(name.ends_with(".yaml") || name.ends_with(".json")) {
                continue;
            }
            let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
            if let Ok(text) = fs::read_to_string(&path) {
                found.insert(stem.to_owned(), text);
            }
        }
        found
    }

    fn sync(&mut self) {
        let manifests = self.manifests();
        // Gone: stop.
        let gone: Vec<String> = self
            .pods
            .keys()
            .filter(|name| !manifests.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            if let Some(pod) = self.pods.remove(&name) {
                say(&format!("{name}: manifest removed; stopping"));
                if let Some(pid) = pod.pid {
                    terminate(pid);
                }
                let _ = fs::remove_file(Self::pid_file(&name));
                let _ = fs::remove_file(Self::hash_file(&name));
            }
        }
        for (name, text) in &manifests {
            let wanted = hash(text);
            if self.unrunnable.get(name) == Some(&wanted) {
                continue;
            }
            let pod = self.pods.entry(name.clone()).or_insert_with(|| {
                // Adopt what an earlier lab kubelet started from the same manifest. One started
                // from another manifest (changed while no lab kubelet ran, or just before the
                // kubelet restarted) is stopped, as the kubelet replaces a container whose pod
                // spec changed: left running it would hold the ports of the new one.
                let running = running_pid(&Self::pid_file(name));
                let same = fs::read_to_string(Self::hash_file(name)).ok().as_deref()
                    == Some(&wanted.to_string());
                if let (Some(pid), false) = (running, same) {
                    say(&format!("{name}: manifest changed; restarting"));
                    terminate(pid);
                }
                let adopted = running.filter(|_| same);
                Pod {
                    hash: wanted,
                    pid: adopted,
                    back_off: BackOff::new(),
                }
            });
            if pod.hash != wanted {
                say(&format!("{name}: manifest changed; restarting"));
                if let Some(pid) = pod.pid.take() {
                    terminate(pid);
                }
                pod.hash = wanted;
                pod.back_off = BackOff::new();
            }
            if let Some(pid) = pod.pid {
                if alive(pid) {
                    continue;
                }
                say(&format!(
                    "{name}: exited; restarting in {:?}",
                    pod.back_off.delay
                ));
                pod.pid = None;
                pod.back_off.failed();
            }
            // A test holds a pod down (a crash loop) with /run/kbundle-lab/hold/<name>.
            if !pod.back_off.may_start() || Path::new(&format!("{STATE}/hold/{name}")).exists() {
                continue;
            }
            match start_pod(name, text) {
                Ok(pid) => {
                    say(&format!("{name}: started (pid {pid})"));
                    pod.pid = Some(pid);
                    let _ = fs::write(Self::pid_file(name), pid.to_string());
                    let _ = fs::write(Self::hash_file(name), wanted.to_string());
                }
                Err(PodError::NoBinary(image)) => {
                    say(&format!(
                        "{name}: no binary for image {image} in the lab; not run"
                    ));
                    self.unrunnable.insert(name.clone(), wanted);
                }
                Err(PodError::Failed(error)) => {
                    say(&format!("{name}: cannot start: {error}"));
                    pod.back_off.failed();
                }
            }
        }
    }
}

enum PodError {
    NoBinary(String),
    Failed(String),
}

/// Starts a static pod's container as a process of its own; returns its pid.
fn start_pod(name: &str, manifest: &str) -> Result<u32, PodError> {
    let pod: serde_yaml::Value =
        serde_yaml::from_str(manifest).map_err(|e| PodError::Failed(e.to_string()))?;
    let container = &pod["spec"]["containers"][0];
    let image = container["image"].as_str().unwrap_or_default().to_owned();
    let repository = image.split(['@']).next().unwrap_or_default();
    let component = repository
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let (k8s, etcd) = binaries();
    let binary = match component.as_str() {
        "etcd" => etcd.join("etcd"),
        "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "kube-proxy" => {
            k8s.join(&component)
        }
        _ => return Err(PodError::NoBinary(image)),
    };
    if !binary.is_file() {
        return Err(PodError::NoBinary(image));
    }
    let strings = |value: &serde_yaml::Value| -> Vec<String> {
        value
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let command = strings(&container["command"]);
    let args = strings(&container["args"]);
    // The image's entrypoint is its component; the manifest's command names it first.
    let rest: Vec<String> = command.into_iter().skip(1).chain(args).collect();
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(format!("{POD_LOGS}/{name}.log"))
        .map_err(|e| PodError::Failed(e.to_string()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| PodError::Failed(e.to_string()))?;
    let mut process = Command::new(&binary);
    process
        .args(&rest)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0);
    for variable in container["env"].as_sequence().into_iter().flatten() {
        if let (Some(key), Some(value)) = (variable["name"].as_str(), variable["value"].as_str()) {
            process.env(key, value);
        }
    }
    let child = process
        .spawn()
        .map_err(|e| PodError::Failed(format!("{}: {e}", binary.display())))?;
    let pid = child.id();
    // Pods outlive this lab kubelet (as containers outlive a kubelet restart); a thread waits
    // for the child so that an exited one leaves no zombie while this process runs.
    thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_systemd_command_line_into_words() {
        assert_eq!(
            split_words(r#"kubelet  --a=1 "--b=two words" '--c=x' $ARGS"#),
            ["kubelet", "--a=1", "--b=two words", "--c=x", "$ARGS"]
        );
        assert!(split_words("   ").is_empty());
    }

    #[test]
    fn expands_variables_as_systemd_does() {
        let environment: HashMap<String, String> = [
            ("KUBELET_ARGS".to_owned(), "--v=2".to_owned()),
            ("X".to_owned(), "y".to_owned()),
        ]
        .into();
        assert_eq!(expand("$KUBELET_ARGS", &environment), "--v=2");
        assert_eq!(expand("--a=${X}z", &environment), "--a=yz");
        assert_eq!(expand("$MISSING", &environment), "");
    }

    #[test]
    fn finds_flags_in_both_spellings() {
        let line: Vec<String> = ["kubelet", "--kubeconfig=/k", "--node-labels", "a=b"]
            .map(str::to_owned)
            .into();
        assert_eq!(flag(&line, "kubeconfig").as_deref(), Some("/k"));
        assert_eq!(flag(&line, "node-labels").as_deref(), Some("a=b"));
        assert_eq!(flag(&line, "config"), None);
    }
}
