//! SSH test nodes for the `kbundle apply` end-to-end suites: a [`Lab`] is a network namespace
//! holding a bridge, plus N nodes, each a real Debian sshd running as PID 1 of its own network,
//! mount, UTS and PID namespaces, with private copies (overlayfs) of the directories an install
//! writes to. The guard kills what it started, by pid, deletes its namespaces and removes its
//! scratch directory when it drops, also when a test panics.
//!
//! Layout (recipe and pitfalls: the test-environment spike, sections 2, 6 and 8):
//!
//! ```text
//! root netns: nothing but the guard route `unreachable 198.51.100.0/24 metric 4000`
//! lab netns  <prefix>:       br0 198.51.100.1/24, ports v1…vN; clients (ssh, kbundle) run here
//!   └─ veth vI ── netns <prefix>-nI: eth0 198.51.100.(10+I)/24, no default route
//!                 unshare --mount --uts --pid --fork --mount-proc --kill-child:
//!                 overlays on /etc /opt /var /home /root /srv /usr/local (upper dirs in the
//!                 scratch dir, so the host reads what landed on a node), tmpfs /run and /tmp,
//!                 read-only /proc/sys and /sys, hostname nodeI, users `kube` and `kubepw`,
//!                 record-only stand-ins for systemctl, modprobe, sysctl, swapoff, swapon
//!                 and ctr, PID 1 = `sshd -D -e`
//! ```
//!
//! The root namespace has no route to the nodes at all (only the guard route, which answers
//! "unreachable" at once), so every client must run inside the lab namespace:
//! [`Lab::command`] and [`Lab::ssh_command`] do that. Links live inside their lab's namespace,
//! so they need no lab-specific names (`br0`, `vI`: interface names are limited to 15
//! characters anyway), and two labs may use the same addresses without colliding; the
//! namespaces carry `kbl-<test pid>-<counter>-<lab name>`, so labs in parallel threads and
//! parallel test binaries never share one.
//!
//! Any node can serve as a jump host: all nodes share the bridge ([`Lab::ssh_command_via`]).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::netns::{TEST_NET_V4, TEST_NET_V6};
use crate::programs::{self, Finished};

/// What to run when a program the lab needs, or root, is missing.
pub const LAB_INSTALL_HINT: &str = "run scripts/install-test-deps.sh as root (it installs \
     openssh-server, openssh-client, sudo and iproute2 among others), then run the tests as \
     root";

/// The user on every node with passwordless sudo.
pub const SUDO_USER: &str = "kube";
/// The user on every node whose sudo asks for a password ([`Lab::sudo_password`]).
pub const PASSWORD_SUDO_USER: &str = "kubepw";
/// The address of the lab namespace's bridge; clients run with [`Lab::command`] use it.
pub const BRIDGE_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The bridge's IPv6 address in a dual-stack lab ([`Lab::new_dual_stack`]).
pub const BRIDGE_ADDRESS6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// The `ConnectTimeout` of every ssh client the lab builds.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The node directories backed by an overlay, whose writes the host can read
/// ([`Lab::node_file`]). Everything else is the host's (read-through) or a node-private tmpfs.
pub const OVERLAID: [&str; 7] = [
    "/etc",
    "/opt",
    "/var",
    "/home",
    "/root",
    "/srv",
    "/usr/local",
];
/// The programs replaced on every node by a record-only stand-in (the kbundle test fixture
/// `/usr/local/sbin/<tool>`, also bind-mounted over the real program inside the node only), so
/// nothing a node does reaches the host's service manager, kernel modules, global sysctls or
/// swap. Each logs to `/var/log/<tool>-calls.log` ([`Lab::recorded_calls`]). `ctr` is there
/// because containerd cannot run on a lab node: image imports are recorded instead.
pub const STAND_INS: [&str; 6] = [
    "systemctl",
    "modprobe",
    "sysctl",
    "swapoff",
    "swapon",
    "ctr",
];

/// The largest lab: node addresses run from .11 up.
const MAX_NODES: usize = 200;
const IP_LIMIT: Duration = Duration::from_secs(10);
const SSH_LIMIT: Duration = Duration::from_secs(30);
const TEARDOWN_LIMIT: Duration = Duration::from_secs(10);
static GUARD_ROUTE: Once = Once::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The record-only stand-in, installed as every tool in [`STAND_INS`]. It names itself after
/// `$0`, so one file serves all of them (and every name of a multi-call program it may be
/// bind-mounted over, such as kmod).
const STAND_IN: &str = r#"#!/bin/sh
# kbundle test fixture: records service-manager calls (and the other programs that would reach
# the host kernel: modprobe, sysctl, swapoff, swapon; and ctr, whose containerd cannot run on a
# lab node) instead of running them. Installed by
# tests/src/lab.rs on every lab node as /usr/local/sbin/<tool> and bind-mounted over the real
# program inside that node's mount namespace only. Record-only: always exits 0.
# One line per call in /var/log/<tool>-calls.log: "uid=<uid> <tool> <arguments>".
tool=${0##*/}
{ printf 'uid=%s %s%s\n' "$(/usr/bin/id -u)" "$tool" "${*:+ $*}" >> "/var/log/$tool-calls.log"; } 2>/dev/null
# A test may install a hook that plays the part of a real daemon (e.g. starts etcd from its
# installed manifest when the kubelet is started).
hook=/usr/local/lib/kbundle-test-fixture/$tool-hook
if [ -x "$hook" ]; then "$hook" "$@"; fi
exit 0
"#;

/// The init of one node: runs inside the node's fresh namespaces (`unshare`), sets it up, then
/// becomes sshd. Arguments: node name, address, node dir, lab dir. `@OVERLAID@` stands
/// for [`OVERLAID`].
const NODE_INIT: &str = r#"#!/bin/sh
# kbundle test fixture: the init of one lab node (tests/src/lab.rs). Runs as PID 1 of the node's
# PID namespace, in its own mount, UTS and network namespaces, and ends as sshd.
set -eu
name=$1 address=$2 dir=$3 lab=$4 address6=${5:-}
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# Network: loopback and eth0 only, no default route; IPv6 only in a dual-stack lab (no
# link-local chatter otherwise), and never from router advertisements.
if [ -n "$address6" ]; then
  for conf in all default; do
    echo 0 > "/proc/sys/net/ipv6/conf/$conf/accept_ra"
    echo 0 > "/proc/sys/net/ipv6/conf/$conf/autoconf"
  done
else
  echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
  echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
fi
ip -batch - <<EOF
link set lo up
addr add $address/24 dev eth0
link set eth0 up
EOF
if [ -n "$address6" ]; then
  ip -6 addr add "$address6/64" dev eth0 nodad
fi

# Global kernel settings are not namespaced: the node may read them, never write them. The
# network settings are the node's own (its network namespace's), as kube-proxy expects.
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw /proc/sys/net
mount -o remount,bind,ro /sys

# Private copies of what an install writes; the host reads the node's writes in upper/.
dirs= n=0
for path in @OVERLAID@; do n=$((n + 1)); dirs="$dirs $dir/upper$path $dir/work/$n"; done
mkdir -p $dirs
n=0
for path in @OVERLAID@; do
  n=$((n + 1))
  mount -t overlay "kbl-$name-$n" -o "lowerdir=$path,upperdir=$dir/upper$path,workdir=$dir/work/$n" "$path"
done
mount -t tmpfs -o mode=755,size=64m "kbl-$name-run" /run
mkdir -m 755 /run/sshd

hostname "$name"
echo "$name" > /etc/hostname
cp "$lab/hosts" /etc/hosts
tr -d - < /proc/sys/kernel/random/uuid > /etc/machine-id

useradd -m -s /bin/bash kube
useradd -m -s /bin/bash kubepw
echo "kubepw:pw-$name" | chpasswd
echo 'kube ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/kube
echo 'kubepw ALL=(ALL) ALL' > /etc/sudoers.d/kubepw
chmod 440 /etc/sudoers.d/kube /etc/sudoers.d/kubepw
for user in kube kubepw; do
  install -d -m 700 -o "$user" -g "$user" "/home/$user/.ssh"
  install -m 600 -o "$user" -g "$user" "$lab/keys/id_ed25519.pub" "/home/$user/.ssh/authorized_keys"
done

# Stand-ins: first on sudo's secure_path, and over the real programs (this namespace only).
mkdir -p /usr/local/sbin
cp -p "$lab"/bin/sbin/* /usr/local/sbin/
logs=
for tool in "$lab"/bin/sbin/*; do logs="$logs /var/log/${tool##*/}-calls.log"; done
touch $logs
chmod 666 $logs
while read -r tool target; do
  mount --bind "/usr/local/sbin/$tool" "$target"
done < "$lab/bin/stand-in-targets"

# sshd: a fresh host key (the host's keys are hidden by whiteouts), keys only, no root.
rm -f /etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C "$name" -f /etc/ssh/ssh_host_ed25519_key
cat > /etc/ssh/sshd_config.d/00-kbundle-lab.conf <<EOF
# kbundle test fixture (tests/src/lab.rs); the first value of an option wins
HostKey /etc/ssh/ssh_host_ed25519_key
AddressFamily inet
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PidFile /run/sshd.pid
EOF

# Last: hide the lab's scratch dir and the host's /tmp from the node.
mount -t tmpfs -o mode=755,size=1m "kbl-$name-hide" "$lab"
mount -t tmpfs -o mode=1777,size=256m "kbl-$name-tmp" /tmp
exec /usr/sbin/sshd -D -e
"#;

/// One call a stand-in recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// The caller's uid (0 under sudo).
    pub uid: u32,
    /// The arguments, joined by single spaces (quoting is not kept).
    pub args: String,
}

/// A process identified beyond its pid, so that a reused pid is not mistaken for it.
#[derive(Debug, Clone, Copy)]
struct Process {
    pid: u32,
    start_time: u64,
}

impl Process {
    /// The process `pid` as it is now, if it exists.
    fn now(pid: u32) -> Option<Self> {
        let (_, start_time) = stat(pid)?;
        Some(Self { pid, start_time })
    }

    /// Whether it still runs: it exists, is the same process, and is not a zombie (a zombie
    /// holds no namespaces or mounts any more; the machine's init reaps it lazily, F8).
    fn running(self) -> bool {
        stat(self.pid).is_some_and(|(state, start)| start == self.start_time && state != 'Z')
    }
}

/// The state letter and start time of `pid`, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields follow the last ')'.
    let fields: Vec<&str> = text
        .get(text.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some((state, start_time))
}

/// One test node.
#[derive(Debug)]
struct Node {
    name: String,
    address: Ipv4Addr,
    netns: String,
    dir: PathBuf,
    /// `unshare` (`ip netns exec` execs it, so this is its pid); `None` once killed.
    child: Option<Child>,
    /// The node's PID 1 (sshd), seen from the host.
    init: Option<Process>,
    host_key: String,
    /// The node's IPv6 address in a dual-stack lab.
    address6: Option<Ipv6Addr>,
}

/// A lab of SSH test nodes; see the module documentation. Nodes are numbered from 1 (`node1`
/// at 198.51.100.11).
#[derive(Debug)]
pub struct Lab {
    name: String,
    netns: String,
    /// Every namespace this lab may have created, lab namespace last.
    namespaces: Vec<String>,
    scratch: PathBuf,
    nodes: Vec<Node>,
    /// Whether the bridge and the nodes have IPv6 addresses too ([`Lab::new_dual_stack`]).
    dual_stack: bool,
}

/// `ip args…`, which must succeed.
fn ip(args: &[&str]) {
    let mut command = programs::command("ip");
    command.args(args);
    programs::run(command, IP_LIMIT).expect_success();
}

/// `ip [-n netns] -batch file` with `lines`, which must succeed.
fn ip_batch(scratch: &Path, label: &str, netns: Option<&str>, lines: &[String]) {
    let file = scratch.join(format!("ip-{label}.batch"));
    write(&file, &(lines.join("\n") + "\n"));
    let mut command = programs::command("ip");
    if let Some(netns) = netns {
        command.args(["-n", netns]);
    }
    command.arg("-batch").arg(&file);
    programs::run(command, IP_LIMIT).expect_success();
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
}

/// Belt and braces for the root namespace, as in [`crate::netns`]: should anything there ever
/// address the test range, it gets "unreachable" at once instead of leaving through the default
/// route (F10). Never removed: it only ever blocks traffic to a documentation range.
fn ensure_guard_route() {
    GUARD_ROUTE.call_once(|| {
        ip(&[
            "-4",
            "route",
            "replace",
            "unreachable",
            TEST_NET_V4,
            "metric",
            "4000",
        ]);
        ip(&[
            "-6",
            "route",
            "replace",
            "unreachable",
            TEST_NET_V6,
            "metric",
            "4000",
        ]);
    });
}

/// Panics with [`LAB_INSTALL_HINT`] unless the tests run as root and every program the lab
/// runs is installed.
fn require_prerequisites() {
    programs::require_root();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let system_path = std::env::join_paths(
        std::env::split_paths(&path)
            .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from)),
    )
    .unwrap_or(path);
    for program in [
        "ip",
        "unshare",
        "mount",
        "ssh",
        "ssh-keygen",
        "sshd",
        "sudo",
        "useradd",
        "chpasswd",
        "install",
        "id",
        "hostname",
    ] {
        let found = std::env::split_paths(&system_path)
            .map(|dir| dir.join(program))
            .any(|candidate| candidate.is_file());
        assert!(found, "`{program}` is not installed: {LAB_INSTALL_HINT}");
    }
    assert!(
        Path::new("/usr/sbin/sshd").is_file(),
        "/usr/sbin/sshd is missing: {LAB_INSTALL_HINT}"
    );
    for dir in OVERLAID {
        assert!(
            Path::new(dir).is_dir(),
            "{dir} is missing on this machine; the lab overlays it on every node"
        );
    }
}

/// `<tool> <host path>` for every real program a stand-in must cover inside the nodes: each
/// existing `/usr/{s,}bin/<tool>` and `/{s,}bin/<tool>`, resolved through symlinks (a bind
/// mount follows them anyway), once each.
fn stand_in_targets() -> String {
    let mut seen = HashSet::new();
    let mut lines = String::new();
    for tool in STAND_INS {
        for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let Ok(target) = std::fs::canonicalize(Path::new(dir).join(tool)) else {
                continue;
            };
            if target.is_file() && seen.insert(target.clone()) {
                let _ = writeln!(lines, "{tool} {}", target.display());
            }
        }
    }
    lines
}

/// The scratch dir of a new lab: under the temporary directory, which must not be one the
/// nodes overlay (overlayfs refuses an upper dir inside its lower dir) and must be usable in
/// ssh options without quoting.
fn scratch_dir(prefix: &str) -> PathBuf {
    let parent = std::env::temp_dir();
    for dir in OVERLAID {
        assert!(
            !parent.starts_with(dir),
            "the temporary directory {} lies under {dir}, which the lab nodes overlay; set \
             TMPDIR to a directory elsewhere, such as /tmp",
            parent.display()
        );
    }
    let scratch = parent.join(prefix);
    let text = scratch.to_string_lossy();
    assert!(
        !text.contains(|c: char| c.is_whitespace() || "'\"\\%$`".contains(c)),
        "the lab scratch dir {text} must not hold whitespace, quotes, `\\`, `%`, `$` or a \
         backquote (it goes into ssh options); set TMPDIR to a plain path such as /tmp"
    );
    let _ = std::fs::remove_dir_all(&scratch);
    for sub in ["bin", "keys", "nodes"] {
        std::fs::create_dir_all(scratch.join(sub)).unwrap_or_else(|error| {
            panic!("cannot create {}: {error}", scratch.join(sub).display())
        });
    }
    scratch
}

/// Whether a socket listens on TCP port 22 in the network namespace of `pid`.
fn listens_on_ssh(pid: u32) -> bool {
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1).is_some_and(|local| local.ends_with(":0016")) && fields.get(3) == Some(&"0A")
    })
}

/// The first child of `pid` (`unshare --fork` has exactly one: the node's PID 1).
fn first_child(pid: u32) -> Option<Process> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    Process::now(children.split_whitespace().next()?.parse().ok()?)
}

/// Waits until none of `processes` runs, at most until `deadline`; says which still run.
fn wait_gone(processes: &[Process], deadline: Instant) -> Vec<u32> {
    loop {
        let left: Vec<u32> = processes
            .iter()
            .filter(|process| process.running())
            .map(|process| process.pid)
            .collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// `kill -KILL pid…`, by pid; an already-gone process only makes it complain.
fn kill_pids(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let mut kill = programs::command("kill");
    kill.arg("-KILL").args(pids.iter().map(u32::to_string));
    let _ = programs::run(kill, IP_LIMIT);
}

/// Stops `nodes` without leaving zombies behind: SIGKILL (by pid) to each node's PID 1, which
/// takes its whole PID namespace along; the node's `unshare` then reaps it and exits, and is
/// reaped here through its `Child`. An `unshare` still running after a moment (or whose PID 1
/// was never seen) gets SIGKILL itself (F7: it ignores SIGTERM); `--kill-child` then takes the
/// node down, and the machine's init reaps the orphaned PID 1 (a zombie, which holds nothing:
/// F8). Returns the pids of PID 1s still running after [`TEARDOWN_LIMIT`].
fn stop_nodes<'a>(nodes: impl Iterator<Item = &'a mut Node>) -> Vec<u32> {
    let mut children = Vec::new();
    let mut inits = Vec::new();
    for node in nodes {
        children.extend(node.child.take());
        inits.extend(node.init.take());
    }
    let running: Vec<u32> = inits
        .iter()
        .filter(|init| init.running())
        .map(|init| init.pid)
        .collect();
    kill_pids(&running);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        children.retain_mut(|child| !matches!(child.try_wait(), Ok(Some(_)) | Err(_)));
        if children.is_empty() || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    wait_gone(&inits, Instant::now() + TEARDOWN_LIMIT)
}

/// The processes (other than zombies) whose network namespace is one of `inodes`: what
/// `ip netns pids` finds, for several namespaces in one pass over `/proc`.
fn processes_in(inodes: &HashSet<u64>) -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/net"))
                .ok()
                .and_then(|link| {
                    let text = link.to_string_lossy().into_owned();
                    text.strip_prefix("net:[")?
                        .strip_suffix(']')?
                        .parse::<u64>()
                        .ok()
                })
                .is_some_and(|inode| inodes.contains(&inode))
        })
        .filter_map(Process::now)
        .filter(|process| process.running())
        .collect()
}

/// Runs `command` with `input` on its standard input and waits at most `limit`, like
/// [`programs::run`] (which gives no input); a program still running then is killed by its pid
/// and reported with status `None`.
pub fn run_with_input(command: Command, input: &str, limit: Duration) -> Finished {
    programs::run_with(command, Some(input), limit, LAB_INSTALL_HINT)
}

impl Lab {
    /// Brings up a lab named `name` (lower-case letters, digits and `-`, at most 24
    /// characters) with `node_count` nodes, `node1` … `nodeN` at 198.51.100.11 …, and returns
    /// once every node's sshd listens and the lab's known_hosts holds every node's host key.
    /// Panics with the node's log if a node fails to come up, and with [`LAB_INSTALL_HINT`]
    /// when a program is missing; whatever was made by then is torn down.
    pub fn new(name: &str, node_count: usize) -> Self {
        Self::create(name, node_count, false)
    }

    /// Like [`Lab::new`], with IPv6 too: the bridge has [`BRIDGE_ADDRESS6`] and node *I* also
    /// `2001:db8::(10+I)` ([`Lab::node_address6`]), for dual-stack clusters. The root
    /// namespace's guard covers 2001:db8::/32 as well.
    pub fn new_dual_stack(name: &str, node_count: usize) -> Self {
        Self::create(name, node_count, true)
    }

    fn create(name: &str, node_count: usize, dual_stack: bool) -> Self {
        assert!(
            !name.is_empty()
                && name.len() <= 24
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "lab name `{name}`: use 1 to 24 lower-case letters, digits and `-`"
        );
        assert!(
            (1..=MAX_NODES).contains(&node_count),
            "a lab has 1 to {MAX_NODES} nodes, not {node_count}"
        );
        require_prerequisites();
        ensure_guard_route();

        let prefix = format!(
            "kbl-{}-{}-{name}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let scratch = scratch_dir(&prefix);
        // From here on Drop removes whatever was made, whatever fails next.
        let mut lab = Self {
            name: name.to_owned(),
            netns: prefix.clone(),
            namespaces: Vec::new(),
            scratch,
            nodes: Vec::new(),
            dual_stack,
        };
        for index in 1..=node_count {
            let dir = lab.scratch.join(format!("nodes/n{index}"));
            std::fs::create_dir_all(&dir)
                .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
            lab.nodes.push(Node {
                name: format!("node{index}"),
                address: node_ip(index),
                netns: format!("{prefix}-n{index}"),
                dir,
                child: None,
                init: None,
                host_key: String::new(),
                address6: dual_stack.then(|| node_ip6(index)),
            });
        }

        // The client key every node authorizes.
        let mut keygen = programs::command("ssh-keygen");
        keygen
            .args(["-q", "-t", "ed25519", "-N", "", "-C"])
            .arg(format!("kbundle-lab-{name}"))
            .arg("-f")
            .arg(lab.client_key());
        programs::run(keygen, IP_LIMIT).expect_success();

        // Namespaces: listed before they are made, so Drop deletes even half-made ones.
        lab.namespaces = lab.nodes.iter().map(|node| node.netns.clone()).collect();
        lab.namespaces.push(lab.netns.clone());
        ip(&["netns", "add", &lab.netns]);
        let adds: Vec<String> = lab
            .nodes
            .iter()
            .map(|node| format!("netns add {}", node.netns))
            .collect();
        ip_batch(&lab.scratch, "netns", None, &adds);
        let mut no_ipv6 = lab.command("sysctl");
        let disable = if dual_stack { 0 } else { 1 };
        no_ipv6.args([
            "-q",
            "-w",
            &format!("net.ipv6.conf.all.disable_ipv6={disable}"),
            &format!("net.ipv6.conf.default.disable_ipv6={disable}"),
            "net.ipv6.conf.all.accept_ra=0",
            "net.ipv6.conf.default.accept_ra=0",
        ]);
        programs::run(no_ipv6, IP_LIMIT).expect_success();
        let mut links = vec![
            "link set lo up".to_owned(),
            "link add br0 type bridge".to_owned(),
            format!("addr add {BRIDGE_ADDRESS}/24 dev br0"),
            "link set br0 up".to_owned(),
        ];
        if dual_stack {
            links.push(format!("addr add {BRIDGE_ADDRESS6}/64 dev br0 nodad"));
        }
        for (index, node) in (1..).zip(&lab.nodes) {
            links.push(format!(
                "link add v{index} type veth peer name eth0 netns {}",
                node.netns
            ));
            links.push(format!("link set v{index} master br0 up"));
        }
        ip_batch(&lab.scratch, "links", Some(&lab.netns), &links);

        // What every node's init reads.
        let mut hosts = "127.0.0.1 localhost\n".to_owned();
        for node in &lab.nodes {
            let _ = writeln!(hosts, "{} {}", node.address, node.name);
            if let Some(address6) = node.address6 {
                let _ = writeln!(hosts, "{address6} {}", node.name);
            }
        }
        write(&lab.scratch.join("hosts"), &hosts);
        write(
            &lab.scratch.join("bin/node-init.sh"),
            &NODE_INIT.replace("@OVERLAID@", &OVERLAID.join(" ")),
        );
        std::fs::create_dir_all(lab.scratch.join("bin/sbin"))
            .unwrap_or_else(|error| panic!("cannot create the stand-ins' folder: {error}"));
        for tool in STAND_INS {
            let path = lab.scratch.join("bin/sbin").join(tool);
            write(&path, STAND_IN);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(
                |error| panic!("cannot make {} executable: {error}", path.display()),
            );
        }
        write(
            &lab.scratch.join("bin/stand-in-targets"),
            &stand_in_targets(),
        );
        let started = Instant::now();
        for index in 1..=node_count {
            lab.start_node(index);
        }
        lab.wait_until_listening(started);
        let mut known_hosts = String::new();
        for node in &lab.nodes {
            let _ = writeln!(known_hosts, "{} {}", node.address, node.host_key);
        }
        write(&lab.known_hosts(), &known_hosts);
        lab
    }

    /// Starts node `index`'s init in its network namespace; its output goes to `nodes/nI/log`.
    fn start_node(&mut self, index: usize) {
        let lab_dir = self.scratch.clone();
        let node = self.node_mut(index);
        let log_path = node.dir.join("log");
        let log = std::fs::File::create(&log_path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", log_path.display()));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|error| panic!("cannot reopen {}: {error}", log_path.display()));
        let mut command = Command::new("ip");
        command
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .args(["netns", "exec", &node.netns])
            .args([
                "unshare",
                "--mount",
                "--uts",
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child",
                "--propagation",
                "private",
                "/bin/sh",
            ])
            .arg(lab_dir.join("bin/node-init.sh"))
            .arg(&node.name)
            .arg(node.address.to_string())
            .arg(&node.dir)
            .arg(&lab_dir)
            .args(node.address6.map(|address| address.to_string()))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let child = command.spawn().unwrap_or_else(|error| {
            panic!("cannot start node {index}: {error}: {LAB_INSTALL_HINT}")
        });
        node.child = Some(child);
    }

    /// Waits until every node's sshd listens on port 22, then records its PID 1 and host key.
    fn wait_until_listening(&mut self, started: Instant) {
        let limit = Duration::from_secs(20) + Duration::from_millis(250) * self.nodes.len() as u32;
        let deadline = started + limit;
        let mut waiting: Vec<usize> = (1..=self.nodes.len()).collect();
        while !waiting.is_empty() {
            let mut still = Vec::new();
            for index in waiting {
                let node = self.node_mut(index);
                let Some(child) = node.child.as_mut() else {
                    continue;
                };
                if let Ok(Some(status)) = child.try_wait() {
                    node.child = None;
                    panic!(
                        "{} exited ({status}) while coming up:\n{}",
                        node.name,
                        read_log(&node.dir)
                    );
                }
                if listens_on_ssh(child.id()) {
                    node.init = first_child(child.id());
                    let key_path = node.dir.join("upper/etc/ssh/ssh_host_ed25519_key.pub");
                    let key = std::fs::read_to_string(&key_path).unwrap_or_default();
                    node.host_key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
                    assert!(
                        node.host_key.starts_with("ssh-ed25519 "),
                        "{} listens but has no host key at {}:\n{}",
                        node.name,
                        key_path.display(),
                        read_log(&node.dir)
                    );
                } else {
                    still.push(index);
                }
            }
            waiting = still;
            if let Some(&index) = waiting.first() {
                let node = self.node(index);
                assert!(
                    Instant::now() < deadline,
                    "{} did not listen on port 22 within {limit:?}:\n{}",
                    node.name,
                    read_log(&node.dir)
                );
                thread::sleep(Duration::from_millis(10));
            }
        }
    }

    fn node(&self, index: usize) -> &Node {
        assert!(
            (1..=self.nodes.len()).contains(&index),
            "lab {} has nodes 1 to {}, not {index}",
            self.name,
            self.nodes.len()
        );
        &self.nodes[index - 1]
    }

    fn node_mut(&mut self, index: usize) -> &mut Node {
        self.node(index);
        &mut self.nodes[index - 1]
    }

    /// The lab's name, as given to [`Lab::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many nodes the lab has.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Node `index`'s host name: `node<index>`.
    pub fn node_name(&self, index: usize) -> &str {
        &self.node(index).name
    }

    /// Node `index`'s address: 198.51.100.(10 + index).
    pub fn node_address(&self, index: usize) -> Ipv4Addr {
        self.node(index).address
    }

    /// Node `index`'s IPv6 address, `2001:db8::(10 + index)`, in a dual-stack lab.
    pub fn node_address6(&self, index: usize) -> Option<Ipv6Addr> {
        self.node(index).address6
    }

    /// Whether the lab has IPv6 too ([`Lab::new_dual_stack`]).
    pub fn is_dual_stack(&self) -> bool {
        self.dual_stack
    }

    /// The sudo password of [`PASSWORD_SUDO_USER`] on node `index`: `pw-node<index>`.
    pub fn sudo_password(&self, index: usize) -> String {
        format!("pw-{}", self.node(index).name)
    }

    /// Node `index`'s host key as known_hosts holds it: `ssh-ed25519 <base64>`.
    pub fn host_key(&self, index: usize) -> &str {
        &self.node(index).host_key
    }

    /// The lab namespace, where the bridge lives and clients must run.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// Every network namespace of the lab: one per node, then the lab namespace.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// The lab's scratch dir on the host (removed on drop).
    pub fn scratch_dir(&self) -> &Path {
        &self.scratch
    }

    /// The private key (ed25519, no passphrase) every node authorizes for both users.
    pub fn client_key(&self) -> PathBuf {
        self.scratch.join("keys/id_ed25519")
    }

    /// The known_hosts file with every node's host key, by address.
    pub fn known_hosts(&self) -> PathBuf {
        self.scratch.join("known_hosts")
    }

    /// A command running `program` inside the lab namespace (`ip netns exec <lab> program`),
    /// without proxy variables or an ssh agent. `ip netns exec` execs the program, so the
    /// child's pid is the program's. The lab namespace reaches the nodes and nothing else.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = programs::command("ip");
        command
            .env_remove("SSH_AUTH_SOCK")
            .args(["netns", "exec", &self.netns])
            .arg(program);
        command
    }

    /// The OpenSSH client options for reaching the nodes: no config file, batch mode, strict
    /// host-key checking against the lab's known_hosts only, the lab's client key only, and
    /// [`CONNECT_TIMEOUT`].
    pub fn ssh_options(&self) -> Vec<String> {
        self.ssh_options_with_known_hosts(&self.known_hosts())
    }

    /// [`Lab::ssh_options`] with another known_hosts file, for tests of host-key checking.
    pub fn ssh_options_with_known_hosts(&self, known_hosts: &Path) -> Vec<String> {
        [
            "-F".to_owned(),
            "none".to_owned(),
            "-o".to_owned(),
            "BatchMode=yes".to_owned(),
            "-o".to_owned(),
            "StrictHostKeyChecking=yes".to_owned(),
            "-o".to_owned(),
            format!("UserKnownHostsFile={}", known_hosts.display()),
            "-o".to_owned(),
            "GlobalKnownHostsFile=/dev/null".to_owned(),
            "-o".to_owned(),
            "UpdateHostKeys=no".to_owned(),
            "-o".to_owned(),
            "IdentitiesOnly=yes".to_owned(),
            "-o".to_owned(),
            format!("ConnectTimeout={}", CONNECT_TIMEOUT.as_secs()),
            "-i".to_owned(),
            self.client_key().display().to_string(),
        ]
        .into()
    }

    /// `ssh <options> user@<node address>` run inside the lab namespace; append the remote
    /// command with `.arg(…)`.
    pub fn ssh_command(&self, index: usize, user: &str) -> Command {
        let mut command = self.command("ssh");
        command
            .args(self.ssh_options())
            .arg(format!("{user}@{}", self.node_address(index)));
        command
    }

    /// Like [`Lab::ssh_command`], but through node `jump` as a jump host (a `ProxyCommand`
    /// with the same options, since `-J` would not pass them on to the jump connection).
    pub fn ssh_command_via(
        &self,
        index: usize,
        user: &str,
        jump: usize,
        jump_user: &str,
    ) -> Command {
        let proxy = format!(
            "ProxyCommand=ssh {} -W %h:%p {jump_user}@{}",
            self.ssh_options().join(" "),
            self.node_address(jump)
        );
        let mut command = self.command("ssh");
        command
            .args(self.ssh_options())
            .args(["-o", &proxy])
            .arg(format!("{user}@{}", self.node_address(index)));
        command
    }

    /// Runs `script` on node `index` as `user` over ssh (at most 30 s).
    pub fn ssh(&self, index: usize, user: &str, script: &str) -> Finished {
        let mut command = self.ssh_command(index, user);
        command.arg(script);
        programs::run(command, SSH_LIMIT)
    }

    /// Like [`Lab::ssh`], with `input` on the remote command's standard input (for `sudo -S`).
    pub fn ssh_with_input(&self, index: usize, user: &str, script: &str, input: &str) -> Finished {
        let mut command = self.ssh_command(index, user);
        command.arg(script);
        run_with_input(command, input, SSH_LIMIT)
    }

    /// The host-side directory holding node `index`'s writes: the overlays' upper dirs, laid
    /// out as from `/`, so `node_root(1).join("etc/kubernetes/pki/ca.crt")` is the CA node 1
    /// wrote. Only the [`OVERLAID`] directories are there, and only what the node created or
    /// changed (a deleted file shows as a 0:0 character device, overlayfs's whiteout).
    pub fn node_root(&self, index: usize) -> PathBuf {
        self.node(index).dir.join("upper")
    }

    /// The host-side path of the absolute `path` written on node `index` (see
    /// [`Lab::node_root`]); panics unless `path` lies in an [`OVERLAID`] directory, since
    /// nothing else a node writes is visible from the host.
    pub fn node_file(&self, index: usize, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        assert!(
            OVERLAID.iter().any(|dir| path.starts_with(dir)),
            "{} on a node is not visible from the host: only {OVERLAID:?} are overlays (/run \
             and /tmp are node-private tmpfs, the rest is the host's, read through)",
            path.display()
        );
        let relative = path.strip_prefix("/").unwrap_or(path);
        self.node_root(index).join(relative)
    }

    /// What node `index` wrote to the absolute `path`, if it wrote (and did not delete) it.
    pub fn read_node_file(&self, index: usize, path: impl AsRef<Path>) -> Option<String> {
        let host_path = self.node_file(index, path);
        let metadata = std::fs::symlink_metadata(&host_path).ok()?;
        if metadata.file_type().is_char_device() && metadata.rdev() == 0 {
            return None;
        }
        std::fs::read_to_string(host_path).ok()
    }

    /// Every call of `tool` (one of [`STAND_INS`]) on node `index`, in order.
    pub fn recorded_calls(&self, index: usize, tool: &str) -> Vec<RecordedCall> {
        let log = self
            .read_node_file(index, format!("/var/log/{tool}-calls.log"))
            .unwrap_or_default();
        log.lines()
            .filter_map(|line| {
                let (uid, rest) = line.strip_prefix("uid=")?.split_once(' ')?;
                let args = rest.strip_prefix(tool)?.trim_start();
                Some(RecordedCall {
                    uid: uid.parse().ok()?,
                    args: args.to_owned(),
                })
            })
            .collect()
    }

    /// The arguments of every `systemctl` call on node `index`, in order (e.g.
    /// `"enable --now kubelet"`), whoever made it.
    pub fn service_calls(&self, index: usize) -> Vec<String> {
        self.recorded_calls(index, "systemctl")
            .into_iter()
            .map(|call| call.args)
            .collect()
    }

    /// What node `index`'s init and sshd printed (sshd runs with `-e`).
    pub fn node_log(&self, index: usize) -> String {
        read_log(&self.node(index).dir)
    }

    /// Cuts node `index` off: its bridge port goes down, so connections time out.
    pub fn cut_link(&self, index: usize) {
        ip(&[
            "-n",
            &self.netns,
            "link",
            "set",
            &format!("v{index}"),
            "down",
        ]);
    }

    /// Undoes [`Lab::cut_link`] and waits (at most 5 s) until the link is up again.
    pub fn restore_link(&self, index: usize) {
        self.node(index);
        let port = format!("v{index}");
        ip(&["-n", &self.netns, "link", "set", &port, "up"]);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut show = programs::command("ip");
            show.args(["-n", &self.netns, "-o", "link", "show", &port]);
            let shown = programs::run(show, IP_LIMIT);
            if shown.stdout.contains("state UP") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{port} of lab {} did not come up:\n{shown}",
                self.name
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Crashes node `index`: SIGKILL to its PID 1 (by pid), which takes every process of the
    /// node along; its address then refuses connections. Waits until they are gone and reaps
    /// the node's `unshare`.
    pub fn kill_node(&mut self, index: usize) {
        let node = self.node_mut(index);
        let name = node.name.clone();
        let left = stop_nodes(std::iter::once(node));
        assert!(
            left.is_empty(),
            "{name}'s PID 1 ({left:?}) outlived SIGKILL"
        );
    }

    fn teardown(&mut self) {
        let panicking = thread::panicking();
        // 1. Every node, with its whole PID namespace.
        let left = stop_nodes(self.nodes.iter_mut());
        if !left.is_empty() {
            eprintln!(
                "lab {}: node processes {left:?} outlived SIGKILL",
                self.name
            );
        }
        // 2. Anything else still in our namespaces (a client a test left running): by pid.
        let existing: Vec<&String> = self
            .namespaces
            .iter()
            .filter(|netns| Path::new("/run/netns").join(netns).exists())
            .collect();
        let inodes: HashSet<u64> = existing
            .iter()
            .filter_map(|netns| std::fs::metadata(Path::new("/run/netns").join(netns)).ok())
            .map(|metadata| metadata.ino())
            .collect();
        let stragglers = processes_in(&inodes);
        kill_pids(
            &stragglers
                .iter()
                .map(|process| process.pid)
                .collect::<Vec<_>>(),
        );
        let left = wait_gone(&stragglers, Instant::now() + TEARDOWN_LIMIT);
        if !left.is_empty() {
            eprintln!("lab {}: processes {left:?} outlived SIGKILL", self.name);
        }
        // 3. The namespaces (with them the veths and the bridge), in one `ip` run.
        if !existing.is_empty() {
            let lines: Vec<String> = existing
                .iter()
                .map(|netns| format!("netns del {netns}"))
                .collect();
            let file = self.scratch.join("ip-teardown.batch");
            let deleted = std::fs::write(&file, lines.join("\n") + "\n").map(|()| {
                let mut command = programs::command("ip");
                command.args(["-force", "-batch"]).arg(&file);
                programs::run(command, IP_LIMIT)
            });
            match deleted {
                Ok(finished) if finished.success() => {}
                Ok(finished) => eprintln!(
                    "lab {}: could not delete its namespaces:\n{finished}",
                    self.name
                ),
                Err(error) => eprintln!(
                    "lab {}: cannot write {}: {error}",
                    self.name,
                    file.display()
                ),
            }
        }
        // 4. The scratch dir, after saying what the nodes logged if the test failed.
        if panicking {
            for node in &self.nodes {
                let log = read_log(&node.dir);
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                eprintln!(
                    "lab {} {} log (last lines):\n{}",
                    self.name,
                    node.name,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
        if let Err(error) = std::fs::remove_dir_all(&self.scratch) {
            eprintln!(
                "lab {}: cannot remove {}: {error}",
                self.name,
                self.scratch.display()
            );
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.teardown();
    }
}

fn node_ip(index: usize) -> Ipv4Addr {
    let last = u8::try_from(10 + index).unwrap_or_else(|_| panic!("node {index} has no address"));
    Ipv4Addr::new(198, 51, 100, last)
}

fn node_ip6(index: usize) -> Ipv6Addr {
    let last = u16::try_from(10 + index).unwrap_or_else(|_| panic!("node {index} has no address"));
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("log")).unwrap_or_else(|error| format!("(no log: {error})"))
}
