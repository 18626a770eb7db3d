//! Real etcd (v3.7.0, the version Kubernetes 1.37 pins, built from the Go module proxy by
//! scripts/build-kubernetes.sh) runs on the generated etcd PKI: three members with
//! mutual TLS between peers and for clients, each using the files `Pki::node_files` gives its
//! node, form a cluster; etcdctl with the healthcheck and API-server client certificates finds
//! every member healthy and can write and read; a client certificate from another PKI or from
//! the wrong CA of this one, a client without a certificate, and a client that trusts another
//! etcd CA are all refused. A single IPv6 member answers on its IPv6 address and on 127.0.0.1,
//! ::1 and localhost, as its SANs promise. Each member runs on its own test host (a network
//! namespace with its own address), as etcd checks a peer certificate against the address the
//! peer connects from.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::Duration;

use kbundle_core::config::ClusterConfig;
use kbundle_core::pki::Pki;
use kbundle_tests::kubernetes::Binaries;
use kbundle_tests::netns::TestNetwork;
use kbundle_tests::pki_files::{self, FOREIGN_SEED, SEED, node_path};
use kbundle_tests::programs::{self, Finished};

const STACKED_HA: &str = r#"
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata: {name: etcd-ha}
spec:
  controlPlaneEndpoint: "198.51.100.100:6443"
  nodes:
    - {name: cp1, address: 198.51.100.11, roles: [control-plane, etcd]}
    - {name: cp2, address: 198.51.100.12, roles: [control-plane, etcd]}
    - {name: cp3, address: 198.51.100.13, roles: [control-plane, etcd]}
    - {name: w1, address: 198.51.100.21, roles: [worker]}
"#;

const IPV6_SINGLE: &str = r#"
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata: {name: etcd-six}
spec:
  nodes:
    - {name: cp6, address: "2001:db8::11", roles: [control-plane, etcd, worker]}
  networking:
    podSubnet: fd00:10:244::/56
    serviceSubnet: fd00:10:96::/112
    nodeCIDRMaskSize: 64
"#;

const PKI: &str = "/etc/kubernetes/pki";
const CLIENT_LIMIT: Duration = Duration::from_secs(20);

/// `https://<address>:<port>`, bracketing IPv6.
fn url(address: IpAddr, port: u16) -> String {
    match address {
        IpAddr::V4(v4) => format!("https://{v4}:{port}"),
        IpAddr::V6(v6) => format!("https://[{v6}]:{port}"),
    }
}

/// A running etcd cluster of a test: its network (which kills the members on drop), where
/// the node files are, and the client URLs.
struct EtcdCluster {
    network: TestNetwork,
    /// The host clients run on: the first node.
    client_host: String,
    root: PathBuf,
    /// Member name, client URL, log file.
    members: Vec<(String, String, PathBuf)>,
    _dir: tempfile::TempDir,
}

/// Writes every node's PKI files and starts one etcd per etcd member, on its own test host,
/// with kubeadm's flags, using only that node's files. With `loopback`,
/// members also listen on 127.0.0.1 and ::1.
fn start(suffix: &str, config: &ClusterConfig, pki: &Pki, loopback: bool) -> EtcdCluster {
    let etcd = Binaries::locate().etcd.join("etcd");
    let hosts: Vec<(&str, Vec<IpAddr>)> = config
        .nodes
        .iter()
        .map(|node| (node.name.as_str(), node.addresses.clone()))
        .collect();
    let mut network = TestNetwork::new(suffix, &hosts);
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_owned();
    pki_files::write_node_files(&root, pki, config);

    let members: Vec<_> = config.etcd_nodes().collect();
    let initial_cluster = members
        .iter()
        .map(|node| format!("{}={}", node.name, url(node.primary_address(), 2380)))
        .collect::<Vec<_>>()
        .join(",");
    let mut started = Vec::new();
    for node in &members {
        let address = node.primary_address();
        let file = |name: &str| node_path(&root, &node.name, &format!("{PKI}/{name}"));
        let mut listen = vec![url(address, 2379)];
        if loopback {
            listen.push("https://127.0.0.1:2379".to_owned());
            listen.push("https://[::1]:2379".to_owned());
        }
        let log = root.join(format!("etcd-{}.log", node.name));
        let mut command = network.command(&node.name, &etcd);
        command
            .arg(format!("--name={}", node.name))
            .arg(format!(
                "--data-dir={}",
                root.join(&node.name).join("var/lib/etcd").display()
            ))
            .arg(format!("--advertise-client-urls={}", url(address, 2379)))
            .arg(format!(
                "--initial-advertise-peer-urls={}",
                url(address, 2380)
            ))
            .arg(format!("--initial-cluster={initial_cluster}"))
            .arg("--initial-cluster-state=new")
            .arg(format!("--initial-cluster-token={suffix}"))
            .arg(format!("--listen-client-urls={}", listen.join(",")))
            .arg(format!("--listen-peer-urls={}", url(address, 2380)))
            .arg(format!("--cert-file={}", file("etcd/server.crt").display()))
            .arg(format!("--key-file={}", file("etcd/server.key").display()))
            .arg("--client-cert-auth=true")
            .arg(format!(
                "--trusted-ca-file={}",
                file("etcd/ca.crt").display()
            ))
            .arg(format!(
                "--peer-cert-file={}",
                file("etcd/peer.crt").display()
            ))
            .arg(format!(
                "--peer-key-file={}",
                file("etcd/peer.key").display()
            ))
            .arg("--peer-client-cert-auth=true")
            .arg(format!(
                "--peer-trusted-ca-file={}",
                file("etcd/ca.crt").display()
            ))
            .arg("--snapshot-count=10000")
            .arg("--feature-gates=InitialCorruptCheck=true")
            .arg("--watch-progress-notify-interval=5s");
        network.spawn(&node.name, command, &log);
        started.push((node.name.clone(), url(address, 2379), log));
    }
    for (name, _, log) in &started {
        network.wait_for_log(
            name,
            log,
            "ready to serve client requests",
            Duration::from_secs(30),
        );
    }
    EtcdCluster {
        network,
        client_host: config.nodes[0].name.clone(),
        root,
        members: started,
        _dir: dir,
    }
}

/// A client identity: CA to trust, and optionally a client certificate and key.
struct Client {
    ca: PathBuf,
    certificate: Option<(PathBuf, PathBuf)>,
}

impl EtcdCluster {
    /// `<node>`'s `/etc/kubernetes/pki/<name>` on disk.
    fn file(&self, node: &str, name: &str) -> PathBuf {
        node_path(&self.root, node, &format!("{PKI}/{name}"))
    }

    /// A client using `<node>`'s etcd CA and its `<base>.crt`/`<base>.key`.
    fn client_of(&self, node: &str, base: &str) -> Client {
        Client {
            ca: self.file(node, "etcd/ca.crt"),
            certificate: Some((
                self.file(node, &format!("{base}.crt")),
                self.file(node, &format!("{base}.key")),
            )),
        }
    }

    fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(|(_, url, _)| url.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn etcdctl(&self, endpoints: &str, client: &Client, timeout: &str, args: &[&str]) -> Finished {
        let mut command: Command = self
            .network
            .command(&self.client_host, Binaries::locate().etcd.join("etcdctl"));
        command
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={endpoints}"))
            .arg(format!("--cacert={}", client.ca.display()))
            .arg(format!("--dial-timeout={timeout}"))
            .arg(format!("--command-timeout={timeout}"));
        if let Some((certificate, key)) = &client.certificate {
            command
                .arg(format!("--cert={}", certificate.display()))
                .arg(format!("--key={}", key.display()));
        }
        command.args(args);
        programs::run(command, CLIENT_LIMIT)
    }

    fn log(&self, member: usize) -> String {
        std::fs::read_to_string(&self.members[member].2).unwrap_or_default()
    }
}

fn assert_all_healthy(cluster: &EtcdCluster, client: &Client, who: &str) {
    let health = cluster.etcdctl(
        &cluster.endpoints(),
        client,
        "5s",
        &["endpoint", "health", "--cluster"],
    );
    health.expect_success();
    let output = health.output();
    for (name, url, _) in &cluster.members {
        assert!(
            output
                .lines()
                .any(|line| line.starts_with(&format!("{url} is healthy"))),
            "{who}: member {name} ({url}) is not reported healthy:\n{health}"
        );
    }
    assert_eq!(
        output.matches("is healthy").count(),
        cluster.members.len(),
        "{who}: one healthy line per member:\n{health}"
    );
}

#[test]
fn three_etcd_members_form_a_cluster_on_the_generated_pki_and_refuse_strangers() {
    let config = pki_files::cluster(STACKED_HA);
    let pki = pki_files::issue(&config, SEED);
    let foreign = pki_files::issue(&config, FOREIGN_SEED);
    let cluster = start("etcd3", &config, &pki, false);

    // Peers authenticated each other (peer-client-cert-auth): all three are started members.
    let healthcheck = cluster.client_of("cp1", "etcd/healthcheck-client");
    let members = cluster.etcdctl(
        &cluster.endpoints(),
        &healthcheck,
        "5s",
        &["member", "list"],
    );
    let list = members.expect_success();
    for node in ["cp1", "cp2", "cp3"] {
        assert!(
            list.lines()
                .any(|line| line.contains(", started, ") && line.contains(&format!(" {node}, "))),
            "{node} is not a started member:\n{members}"
        );
    }
    assert_eq!(list.lines().count(), 3, "three members:\n{members}");

    // The two client certificates of the table that talk to etcd.
    assert_all_healthy(&cluster, &healthcheck, "etcd/healthcheck-client");
    let apiserver = cluster.client_of("cp2", "apiserver-etcd-client");
    assert_all_healthy(&cluster, &apiserver, "apiserver-etcd-client");

    // Writes through one member are read back through another.
    let cp1 = &cluster.members[0].1;
    let cp3 = &cluster.members[2].1;
    cluster
        .etcdctl(
            cp1,
            &apiserver,
            "5s",
            &["put", "/kbundle-test/hello", "world"],
        )
        .expect_success();
    let read = cluster.etcdctl(
        cp3,
        &healthcheck,
        "5s",
        &["get", "--print-value-only", "/kbundle-test/hello"],
    );
    assert_eq!(read.expect_success(), "world\n", "{read}");

    // Refusals, in parallel (each waits out its dial timeout). Control: the same commands
    // with the right identities succeeded above.
    let dir = tempfile::tempdir().expect("temp dir");
    let foreign_client = pki_files::write_pair(
        dir.path(),
        "foreign-healthcheck-client",
        &foreign
            .certificates
            .iter()
            .find(|cert| cert.spec.file == "etcd/healthcheck-client" && cert.node == "cp1")
            .expect("foreign healthcheck client")
            .material,
    );
    let foreign_ca = dir.path().join("foreign-etcd-ca.crt");
    pki_files::write_file(
        &foreign_ca,
        &foreign
            .authority(kbundle_core::pki::CaKind::Etcd)
            .material()
            .certificate_pem,
        0o644,
    );
    let cp2 = &cluster.members[1].1;
    let get = ["get", "/kbundle-test/hello"];
    let refusals: Vec<(&str, String, Client)> = vec![
        (
            "a client certificate of another PKI's etcd CA",
            cp1.clone(),
            Client {
                ca: healthcheck.ca.clone(),
                certificate: Some(foreign_client),
            },
        ),
        (
            "a client certificate of this PKI's cluster CA (apiserver-kubelet-client)",
            cp2.clone(),
            Client {
                ca: healthcheck.ca.clone(),
                certificate: Some((
                    cluster.file("cp1", "apiserver-kubelet-client.crt"),
                    cluster.file("cp1", "apiserver-kubelet-client.key"),
                )),
            },
        ),
        (
            "no client certificate",
            cp3.clone(),
            Client {
                ca: healthcheck.ca.clone(),
                certificate: None,
            },
        ),
        (
            "a client that trusts another PKI's etcd CA",
            cp3.clone(),
            Client {
                ca: foreign_ca,
                certificate: healthcheck.certificate.clone(),
            },
        ),
    ];
    let results: Vec<(&str, Finished)> = thread::scope(|scope| {
        let handles: Vec<_> = refusals
            .iter()
            .map(|(what, endpoint, client)| {
                let cluster = &cluster;
                scope.spawn(move || (*what, cluster.etcdctl(endpoint, client, "2s", &get)))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("etcdctl thread"))
            .collect()
    });
    for (what, result) in &results {
        assert!(
            result.status.is_some() && !result.success() && !result.stdout.contains("world"),
            "etcd must refuse {what}:\n{result}"
        );
    }
    // The refusals were TLS verdicts of the server, not timeouts of a dead member.
    for (member, what) in [(0, "another PKI's client"), (1, "the cluster CA's client")] {
        let log = cluster.log(member);
        assert!(
            log.contains("rejected connection") && log.contains("unknown authority"),
            "{} did not log a rejected {what}:\n{log}",
            cluster.members[member].0
        );
    }
    assert_all_healthy(&cluster, &healthcheck, "after the refusals");
}

#[test]
fn an_ipv6_etcd_member_answers_on_every_address_its_certificate_names() {
    let config = pki_files::cluster(IPV6_SINGLE);
    let pki = pki_files::issue(&config, SEED);
    let cluster = start("etcd6", &config, &pki, true);
    let client = cluster.client_of("cp6", "etcd/healthcheck-client");
    for endpoint in [
        "https://[2001:db8::11]:2379",
        "https://127.0.0.1:2379",
        "https://[::1]:2379",
        "https://localhost:2379",
    ] {
        let health = cluster.etcdctl(endpoint, &client, "5s", &["endpoint", "health"]);
        assert!(
            health.success() && health.output().contains(&format!("{endpoint} is healthy")),
            "{endpoint}:\n{health}"
        );
    }
}
