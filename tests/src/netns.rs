//! Throw-away test networks for suites that run real servers and clients: one network
//! namespace per test host, each with loopback and an `eth0` holding its test addresses, all
//! joined by a bridge in a hub namespace, and no route out of any of them, so test traffic
//! cannot leave the machine. Every server and client runs inside a host's namespace
//! (`ip netns exec`). The [`TestNetwork`] guard kills what it started, by pid, and deletes
//! the namespaces, also when a test panics.
//!
//! One namespace per host (not one for all) because programs check the address a connection
//! comes from: etcd verifies a peer's client certificate against the peer's source address,
//! and inside a single namespace every connection to a local address comes from that address.
//! A veth pair stands in for a dummy interface, which not every kernel has.

use std::ffi::OsStr;
use std::fs::File;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::programs::{self, INSTALL_HINT};

/// The only IPv4 range test addresses may use (TEST-NET-2, documentation).
pub const TEST_NET_V4: &str = "198.51.100.0/24";
/// The only IPv6 range test addresses may use (documentation).
pub const TEST_NET_V6: &str = "2001:db8::/32";

/// Whether `address` is one the suites may use: inside [`TEST_NET_V4`] or [`TEST_NET_V6`].
pub fn is_test_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.octets()[..3] == [198, 51, 100],
        IpAddr::V6(v6) => v6.segments()[..2] == [0x2001, 0x0db8],
    }
}

/// A test host: a name the test chose, and its network namespace.
#[derive(Debug)]
struct Host {
    name: String,
    netns: String,
}

/// Network namespaces owned by one test, joined by a bridge, and the processes started in
/// them.
#[derive(Debug)]
pub struct TestNetwork {
    hub: String,
    hosts: Vec<Host>,
    children: Vec<(String, Child)>,
}

static GUARD_ROUTES: Once = Once::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);
const IP_LIMIT: Duration = Duration::from_secs(10);

/// Belt and braces for the root namespace: should anything there ever address a test range,
/// it gets "unreachable" at once instead of leaving through the default route. Never removed:
/// it only ever blocks traffic to documentation ranges.
fn ensure_guard_routes() {
    GUARD_ROUTES.call_once(|| {
        for (family, range) in [("-4", TEST_NET_V4), ("-6", TEST_NET_V6)] {
            let mut command = programs::command("ip");
            command.args([
                family,
                "route",
                "replace",
                "unreachable",
                range,
                "metric",
                "4000",
            ]);
            programs::run(command, IP_LIMIT).expect_success();
        }
    });
}

/// `ip args…`, which must succeed.
fn ip(args: &[&str]) {
    let mut command = programs::command("ip");
    command.args(args);
    programs::run(command, IP_LIMIT).expect_success();
}

impl TestNetwork {
    /// Creates the hub `kbt-<pid>-<n>-<suffix>` with bridge `br0`, and for each `(name,
    /// addresses)` a namespace `kbt-<pid>-<n>-<suffix>-<index>` with loopback up (127.0.0.1
    /// and ::1) and `eth0` on the bridge holding `addresses` (IPv4 /24, IPv6 /64 without
    /// duplicate address detection). No namespace has a default route. Panics unless every
    /// address is a test address.
    pub fn new(suffix: &str, hosts: &[(&str, Vec<IpAddr>)]) -> Self {
        programs::require_root();
        programs::require_program("ip");
        for address in hosts.iter().flat_map(|(_, addresses)| addresses) {
            assert!(
                is_test_address(*address),
                "{address} is outside the test ranges {TEST_NET_V4} and {TEST_NET_V6}"
            );
        }
        ensure_guard_routes();
        let hub = format!(
            "kbt-{}-{}-{suffix}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &hub]);
        // From here on Drop deletes whatever was made, whatever fails next.
        let mut network = Self {
            hub,
            hosts: Vec::new(),
            children: Vec::new(),
        };
        let hub = network.hub.clone();
        ip(&["-n", &hub, "link", "set", "lo", "up"]);
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &hub, "link", "set", "br0", "up"]);
        for (index, (name, addresses)) in hosts.iter().enumerate() {
            let netns = format!("{hub}-{index}");
            ip(&["netns", "add", &netns]);
            network.hosts.push(Host {
                name: (*name).to_owned(),
                netns: netns.clone(),
            });
            let port = format!("p{index}");
            ip(&[
                "-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &netns,
            ]);
            ip(&["-n", &hub, "link", "set", &port, "master", "br0", "up"]);
            let mut sysctl = network.command(name, "sysctl");
            sysctl.args([
                "-q",
                "-w",
                "net.ipv6.conf.all.disable_ipv6=0",
                "net.ipv6.conf.default.disable_ipv6=0",
                "net.ipv6.conf.eth0.disable_ipv6=0",
            ]);
            programs::run(sysctl, IP_LIMIT).expect_success();
            ip(&["-n", &netns, "link", "set", "lo", "up"]);
            ip(&["-n", &netns, "link", "set", "eth0", "up"]);
            for address in addresses {
                match address {
                    IpAddr::V4(v4) => {
                        ip(&[
                            "-n",
                            &netns,
                            "addr",
                            "add",
                            &format!("{v4}/24"),
                            "dev",
                            "eth0",
                        ]);
                    }
                    IpAddr::V6(v6) => ip(&[
                        "-n",
                        &netns,
                        "addr",
                        "add",
                        &format!("{v6}/64"),
                        "dev",
                        "eth0",
                        "nodad",
                    ]),
                }
            }
        }
        network
    }

    fn netns(&self, host: &str) -> &str {
        self.hosts
            .iter()
            .find(|candidate| candidate.name == host)
            .map(|found| found.netns.as_str())
            .unwrap_or_else(|| panic!("no test host `{host}`"))
    }

    /// A command that runs `program` on `host` (`ip netns exec <its namespace> program`),
    /// without proxy variables. `ip netns exec` execs the program, so the child's pid is the
    /// program's.
    pub fn command(&self, host: &str, program: impl AsRef<OsStr>) -> Command {
        let mut command = programs::command("ip");
        command
            .args(["netns", "exec", self.netns(host)])
            .arg(program);
        command
    }

    /// Starts a long-running program (built with [`TestNetwork::command`]) with stdout and
    /// stderr going to `log`; it is killed when the guard drops. Returns its pid.
    pub fn spawn(&mut self, label: &str, mut command: Command, log: &Path) -> u32 {
        let out = File::create(log)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|error| panic!("cannot reopen {}: {error}", log.display()));
        let described = programs::describe(&command);
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start `{described}`: {error}: {INSTALL_HINT}"));
        let pid = child.id();
        self.children.push((label.to_owned(), child));
        pid
    }

    /// Waits until `log` (of the process `label` started by [`TestNetwork::spawn`]) contains
    /// `marker`; panics with the log if the process exits first or `limit` passes.
    pub fn wait_for_log(&mut self, label: &str, log: &Path, marker: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains(marker) {
                return;
            }
            let exited = self
                .children
                .iter_mut()
                .find(|(name, _)| name == label)
                .and_then(|(_, child)| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("{label} exited ({status}) before logging `{marker}`:\n{text}");
            }
            if Instant::now() >= deadline {
                panic!("{label} did not log `{marker}` within {limit:?}:\n{text}");
            }
            thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            // SIGKILL by pid, then reap; an already-exited child only fails the kill.
            let _ = child.kill();
            let _ = child.wait();
        }
        let namespaces = self
            .hosts
            .iter()
            .map(|host| host.netns.clone())
            .chain([self.hub.clone()]);
        for netns in namespaces {
            // Anything a started program left behind in our namespace (none is expected):
            // by pid.
            let mut pids = programs::command("ip");
            pids.args(["netns", "pids", &netns]);
            let left = programs::run(pids, IP_LIMIT);
            for pid in left.stdout.split_whitespace() {
                let mut kill = programs::command("kill");
                kill.args(["-KILL", pid]);
                let _ = programs::run(kill, IP_LIMIT);
            }
            let mut delete = programs::command("ip");
            delete.args(["netns", "del", &netns]);
            let deleted = programs::run(delete, IP_LIMIT);
            if !deleted.success() {
                eprintln!("could not delete network namespace {netns}:\n{deleted}");
            }
        }
    }
}
