//! kubectl accepts every kubeconfig kbundle generates, against the real kube-apiserver: on test
//! hosts standing in for the nodes, each control-plane node runs kube-apiserver v1.37.2 (built
//! by scripts/build-kubernetes.sh) with its rendered command line and its own generated files,
//! over a local etcd v3.7.0 (the one the bundle pins) serving with the node's etcd certificate;
//! the control-plane VIP sits on the first control-plane node, and `kubectl get --raw /healthz`
//! (the real kubectl v1.37.2) with each node's kubeconfigs (run on that node) and the
//! operator's admin.conf prints `ok`. It fails when the address dialled is not in the server
//! certificate's SANs, when the client certificate comes from another PKI or from the
//! front-proxy CA (the API server answers 401), and when the kubeconfig trusts another CA.
//! IPv4 with a VIP, and dual-stack with an IPv6 VIP.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kbundle_core::config::{ClusterConfig, Host};
use kbundle_core::pki::{CaKind, CertAndKey, Pki};
use kbundle_core::plan::NetworkPlan;
use kbundle_core::render::render;
use kbundle_tests::kubernetes::Binaries;
use kbundle_tests::netns::TestNetwork;
use kbundle_tests::pki_files::{self, FOREIGN_SEED, SEED, node_path};
use kbundle_tests::programs::{self, Finished};

const HA: &str = r#"
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata: {name: kc-ha}
spec:
  controlPlaneEndpoint: "198.51.100.100:6443"
  nodes:
    - {name: cp1, address: 198.51.100.11, roles: [control-plane, etcd]}
    - {name: cp2, address: 198.51.100.12, roles: [control-plane, etcd]}
    - {name: cp3, address: 198.51.100.13, roles: [control-plane, etcd]}
    - {name: w1, address: 198.51.100.21, roles: [worker]}
    - {name: w2, address: 198.51.100.22, roles: [worker]}
"#;

const DUAL_STACK: &str = r#"
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata: {name: kc-dual}
spec:
  controlPlaneEndpoint: "[2001:db8::100]:6443"
  nodes:
    - {name: cp1, address: "198.51.100.11,2001:db8::11", roles: [control-plane, etcd]}
    - {name: cp2, address: "198.51.100.12,2001:db8::12", roles: [control-plane, etcd]}
    - {name: cp3, address: "198.51.100.13,2001:db8::13", roles: [control-plane, etcd]}
    - {name: w1, address: "198.51.100.21,2001:db8::21", roles: [worker]}
  networking:
    podSubnet: 10.244.0.0/16,fd00:10:244::/56
    serviceSubnet: 10.96.0.0/16,fd00:10:96::/112
    nodeCIDRMaskSize: "24,64"
"#;

/// The operator's machine, where admin.conf is used.
const OPERATOR: &str = "operator";
const OPERATOR_ADDRESSES: [&str; 2] = ["198.51.100.250", "2001:db8::250"];
/// A host that is no node: its server presents cp1's apiserver certificate, which does not
/// name this address.
const STRANGER: &str = "stranger";
const STRANGER_ADDRESS: &str = "198.51.100.50";

const KUBECTL_LIMIT: Duration = Duration::from_secs(30);

fn ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or_else(|_| panic!("`{text}` is not an IP"))
}

/// The test hosts of a cluster with their stub API servers, and the PKI on disk.
struct Lab {
    network: TestNetwork,
    dir: tempfile::TempDir,
    config: ClusterConfig,
    pki: Pki,
    /// Per node, the absolute paths `Pki::node_files` gave it.
    node_files: Vec<Vec<String>>,
    /// kube-apiserver per host: its log.
    servers: BTreeMap<String, PathBuf>,
    kubectl: PathBuf,
}

impl Lab {
    /// One host per node (the VIP on the first control-plane node, where kube-vip would hold
    /// it at first), the operator and the stranger; on every control-plane node an etcd and
    /// kube-apiserver with its own files, and on the stranger the same with cp1's.
    fn start(suffix: &str, yaml: &str) -> Self {
        let binaries = Binaries::locate();
        // kubectl validates kubeconfigs the way every Go client of the API does.
        let kubectl = binaries.component("kubectl");
        let config = pki_files::cluster(yaml);
        let pki = pki_files::issue(&config, SEED);
        let rendered = render(&config, &NetworkPlan::new(&config), &pki, pki_files::now());
        let vip = match config.control_plane_endpoint.as_ref().map(|e| &e.host) {
            Some(Host::Ip(address)) => Some(*address),
            _ => None,
        };
        let first_control_plane = config
            .control_plane_nodes()
            .next()
            .expect("a control-plane node")
            .name
            .clone();
        let mut hosts: Vec<(&str, Vec<IpAddr>)> = config
            .nodes
            .iter()
            .map(|node| {
                let mut addresses = node.addresses.clone();
                if node.name == first_control_plane {
                    addresses.extend(vip);
                }
                (node.name.as_str(), addresses)
            })
            .collect();
        hosts.push((OPERATOR, OPERATOR_ADDRESSES.map(ip).to_vec()));
        hosts.push((STRANGER, vec![ip(STRANGER_ADDRESS)]));
        let mut network = TestNetwork::new(suffix, &hosts);

        let dir = tempfile::tempdir().expect("temp dir");
        let node_files = pki_files::write_node_files(dir.path(), &pki, &config);
        let mut servers = BTreeMap::new();
        let mut stores = Vec::new();
        let control_plane: Vec<String> = config
            .control_plane_nodes()
            .map(|node| node.name.clone())
            .collect();
        for (host, certificate_of) in control_plane
            .iter()
            .map(|name| (name.as_str(), name.as_str()))
            .chain([(STRANGER, first_control_plane.as_str())])
        {
            let file = |name: &str| node_path(dir.path(), certificate_of, name);
            // etcd on the host's loopback, as the API server's --etcd-servers expects, serving
            // with the node's etcd server certificate (which names 127.0.0.1).
            let store = dir.path().join(format!("etcd-{host}.log"));
            let mut etcd = network.command(host, binaries.etcd.join("etcd"));
            etcd.arg(format!("--name={host}"))
                .arg(format!(
                    "--data-dir={}",
                    dir.path().join(format!("etcd-{host}")).display()
                ))
                .args([
                    "--listen-client-urls=https://127.0.0.1:2379",
                    "--advertise-client-urls=https://127.0.0.1:2379",
                    "--listen-peer-urls=http://127.0.0.1:2380",
                    "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                    "--client-cert-auth=true",
                ])
                .arg(format!("--initial-cluster={host}=http://127.0.0.1:2380"))
                .arg(format!(
                    "--cert-file={}",
                    file("/etc/kubernetes/pki/etcd/server.crt").display()
                ))
                .arg(format!(
                    "--key-file={}",
                    file("/etc/kubernetes/pki/etcd/server.key").display()
                ))
                .arg(format!(
                    "--trusted-ca-file={}",
                    file("/etc/kubernetes/pki/etcd/ca.crt").display()
                ));
            network.spawn(&format!("etcd on {host}"), etcd, &store);
            stores.push((host.to_owned(), store));

            // kube-apiserver with the node's rendered command line, paths under the scratch
            // dir; the stranger advertises its own address.
            let manifest = rendered
                .nodes
                .iter()
                .find(|node| node.node == certificate_of)
                .and_then(|node| {
                    node.files
                        .iter()
                        .find(|f| f.path == "/etc/kubernetes/manifests/kube-apiserver.yaml")
                })
                .unwrap_or_else(|| panic!("{certificate_of} has no kube-apiserver.yaml"));
            let pod: serde_yaml::Value =
                serde_yaml::from_str(&manifest.contents).expect("kube-apiserver.yaml parses");
            let arguments: Vec<String> = pod["spec"]["containers"][0]["command"]
                .as_sequence()
                .expect("a command")
                .iter()
                .skip(1)
                .filter_map(|word| word.as_str())
                .map(|argument| match argument.split_once('=') {
                    Some(("--advertise-address", _)) if host == STRANGER => {
                        format!("--advertise-address={STRANGER_ADDRESS}")
                    }
                    Some((flag, path)) if path.starts_with('/') => {
                        format!(
                            "{flag}={}",
                            node_path(dir.path(), certificate_of, path).display()
                        )
                    }
                    _ => argument.to_owned(),
                })
                .collect();
            let log = dir.path().join(format!("apiserver-{host}.log"));
            let mut command = network.command(host, binaries.component("kube-apiserver"));
            // -v=3 logs every request: the test checks that requests reached the servers.
            command.args(&arguments).arg("--v=3");
            network.spawn(&format!("apiserver on {host}"), command, &log);
            servers.insert(host.to_owned(), log);
        }
        for (host, log) in &stores {
            let label = format!("etcd on {host}");
            network.wait_for_log(
                &label,
                log,
                "ready to serve client requests",
                Duration::from_secs(30),
            );
        }
        for (host, log) in &servers {
            let label = format!("apiserver on {host}");
            network.wait_for_log(&label, log, "Serving securely on", Duration::from_secs(90));
        }
        let lab = Self {
            network,
            dir,
            config,
            pki,
            node_files,
            servers,
            kubectl,
        };
        // Serving is not ready yet: wait until every server answers /readyz to its own node's
        // admin credentials (the stranger's with cp1's), by address, checking the name every apiserver certificate
        // holds (`kubernetes`).
        for host in lab.servers.keys() {
            let deadline = Instant::now() + Duration::from_secs(90);
            let of = if host == STRANGER {
                first_control_plane.as_str()
            } else {
                host.as_str()
            };
            let admin = node_path(lab.dir.path(), of, "/etc/kubernetes/admin.conf");
            let address = if host == STRANGER {
                STRANGER_ADDRESS.to_owned()
            } else {
                lab.config
                    .nodes
                    .iter()
                    .find(|n| &n.name == host)
                    .map(|n| match n.primary_address() {
                        IpAddr::V4(v4) => v4.to_string(),
                        IpAddr::V6(v6) => format!("[{v6}]"),
                    })
                    .expect("node")
            };
            loop {
                let mut command = lab.network.command(host, &lab.kubectl);
                command
                    .env("KUBECACHEDIR", lab.dir.path().join("kube-cache"))
                    .arg("--kubeconfig")
                    .arg(&admin)
                    .arg(format!("--server=https://{address}:6443"))
                    .arg("--tls-server-name=kubernetes")
                    .args(["get", "--raw", "/readyz"]);
                let ready = programs::run(command, KUBECTL_LIMIT);
                if ready.success() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "kube-apiserver on {host} not ready:\n{ready}\n{}",
                    lab.server_log(host)
                );
                thread::sleep(Duration::from_millis(300));
            }
        }
        lab
    }

    /// `kubectl --kubeconfig <kubeconfig> [--server <server>] get --raw /healthz`, on `host`.
    fn healthz(&self, host: &str, kubeconfig: &Path, server: Option<&str>) -> Finished {
        let mut command = self.network.command(host, &self.kubectl);
        command
            .env("KUBECACHEDIR", self.dir.path().join("kube-cache"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--request-timeout=10s");
        if let Some(server) = server {
            command.arg(format!("--server={server}"));
        }
        command.args(["get", "--raw", "/healthz"]);
        programs::run(command, KUBECTL_LIMIT)
    }

    fn server_log(&self, host: &str) -> String {
        std::fs::read_to_string(&self.servers[host]).unwrap_or_default()
    }

    /// Writes a kubeconfig by hand (kubeadm's shape) from the given parts; for mixing
    /// identities that no generated kubeconfig mixes.
    fn handmade_kubeconfig(
        &self,
        name: &str,
        server: &str,
        ca: &str,
        client: &CertAndKey,
    ) -> PathBuf {
        let encode = |text: &str| STANDARD.encode(text);
        let text = [
            "apiVersion: v1".to_owned(),
            "kind: Config".to_owned(),
            "clusters:".to_owned(),
            "- name: test".to_owned(),
            "  cluster:".to_owned(),
            format!("    server: {server}"),
            format!("    certificate-authority-data: {}", encode(ca)),
            "contexts:".to_owned(),
            "- name: user@test".to_owned(),
            "  context: {cluster: test, user: user}".to_owned(),
            "current-context: user@test".to_owned(),
            "users:".to_owned(),
            "- name: user".to_owned(),
            "  user:".to_owned(),
            format!(
                "    client-certificate-data: {}",
                encode(&client.certificate_pem)
            ),
            format!("    client-key-data: {}", encode(&client.key_pem)),
            String::new(),
        ]
        .join("\n");
        let path = self.dir.path().join(name);
        pki_files::write_file(&path, &text, 0o600);
        path
    }
}

fn assert_ok(result: &Finished, what: &str) {
    assert!(
        result.success() && result.stdout.trim() == "ok",
        "{what}: expected `ok` from the API server:\n{result}"
    );
}

/// Every kubeconfig, used by kubectl on the host it belongs to, reaches an API server that
/// accepts it, at the URL the table prescribes.
fn every_kubeconfig_reaches_its_api_server(suffix: &str, yaml: &str) -> Lab {
    let lab = Lab::start(suffix, yaml);
    let endpoint = lab.config.api_endpoint().url();
    let mut checks: Vec<(String, String, PathBuf, String)> = Vec::new(); // host, label, file, URL
    for (node, files) in lab.config.nodes.iter().zip(&lab.node_files) {
        let mut kubeconfigs: Vec<&str> = files
            .iter()
            .filter_map(|path| path.strip_prefix("/etc/kubernetes/"))
            .filter(|name| name.ends_with(".conf") && !name.contains('/'))
            .collect();
        kubeconfigs.sort_unstable();
        let first = lab.config.control_plane_nodes().next().map(|n| &n.name) == Some(&node.name);
        let expected: &[&str] = match (node.roles.control_plane, first) {
            (true, true) => &[
                "admin.conf",
                "controller-manager.conf",
                "kubelet.conf",
                "scheduler.conf",
                "super-admin.conf",
            ],
            (true, false) => &[
                "admin.conf",
                "controller-manager.conf",
                "kubelet.conf",
                "scheduler.conf",
            ],
            (false, _) => &["kubelet.conf"],
        };
        assert_eq!(kubeconfigs, expected, "kubeconfigs placed on {}", node.name);
        let local = match node.primary_address() {
            IpAddr::V4(v4) => format!("https://{v4}:6443"),
            IpAddr::V6(v6) => format!("https://[{v6}]:6443"),
        };
        for name in kubeconfigs {
            let url = match (name, node.roles.control_plane) {
                ("admin.conf" | "super-admin.conf", _) | ("kubelet.conf", false) => {
                    endpoint.clone()
                }
                _ => local.clone(),
            };
            checks.push((
                node.name.clone(),
                format!("{}:/etc/kubernetes/{name}", node.name),
                node_path(
                    lab.dir.path(),
                    &node.name,
                    &format!("/etc/kubernetes/{name}"),
                ),
                url,
            ));
        }
    }
    let operator = lab.dir.path().join("operator-admin.conf");
    let admin = lab
        .pki
        .admin_kubeconfig()
        .expect("the operator's admin.conf");
    pki_files::write_file(&operator, &admin.contents, 0o600);
    checks.push((
        OPERATOR.to_owned(),
        "operator's admin.conf".to_owned(),
        operator,
        endpoint,
    ));

    for (_, label, file, url) in &checks {
        let text = std::fs::read_to_string(file).expect("kubeconfig written");
        let parsed =
            pki_files::parse_kubeconfig(&text).unwrap_or_else(|error| panic!("{label}: {error}"));
        assert_eq!(&parsed.server, url, "{label}: server URL");
    }
    // kubectl runs take a moment each; run them side by side.
    let results: Vec<(String, Finished)> = thread::scope(|scope| {
        let handles: Vec<_> = checks
            .iter()
            .map(|(host, label, file, _)| {
                let lab = &lab;
                scope.spawn(move || (label.clone(), lab.healthz(host, file, None)))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("kubectl thread"))
            .collect()
    });
    for (label, result) in &results {
        assert_ok(result, label);
    }
    // Requests really went to the servers (not, say, to a proxy): every control-plane server
    // answered some of them.
    for node in lab.config.control_plane_nodes() {
        let log = lab.server_log(&node.name);
        let requests: Vec<&str> = log
            .lines()
            .filter(|line| line.contains("/healthz"))
            .collect();
        assert!(
            requests
                .iter()
                .any(|line| line.contains("verb=\"GET\" URI=\"/healthz")
                    && line.ends_with("resp=200")),
            "the API server on {} saw no request:\n{}",
            node.name,
            requests.join("\n")
        );
    }
    lab
}

#[test]
fn every_kubeconfig_of_an_ha_cluster_with_a_vip_works_with_kubectl() {
    every_kubeconfig_reaches_its_api_server("kc-ha", HA);
}

#[test]
fn every_kubeconfig_of_a_dual_stack_cluster_with_an_ipv6_vip_works_with_kubectl() {
    let lab = every_kubeconfig_reaches_its_api_server("kc-dual", DUAL_STACK);
    // The secondary family works too: each control-plane node's kubelet reaches its API
    // server by the node's IPv6 address, which its apiserver certificate names.
    for node in lab.config.control_plane_nodes() {
        let v6 = node
            .addresses
            .iter()
            .find(|address| address.is_ipv6())
            .expect("an IPv6 address");
        let kubelet = node_path(lab.dir.path(), &node.name, "/etc/kubernetes/kubelet.conf");
        let result = lab.healthz(&node.name, &kubelet, Some(&format!("https://[{v6}]:6443")));
        assert_ok(&result, &format!("{}'s kubelet.conf by [{v6}]", node.name));
    }
}

#[test]
fn kubectl_refuses_an_api_server_whose_certificate_does_not_name_the_address_dialled() {
    let lab = Lab::start("kc-san", HA);
    let admin = lab.dir.path().join("admin.conf");
    pki_files::write_file(
        &admin,
        &lab.pki.admin_kubeconfig().expect("admin.conf").contents,
        0o600,
    );
    // Control: cp1's certificate names cp1's address, so cp1's own server is accepted.
    assert_ok(
        &lab.healthz(OPERATOR, &admin, Some("https://198.51.100.11:6443")),
        "cp1 by its address",
    );
    // The stranger presents the very same certificate on an address it does not name.
    let refused = lab.healthz(
        OPERATOR,
        &admin,
        Some(&format!("https://{STRANGER_ADDRESS}:6443")),
    );
    refused.expect_failure();
    assert!(
        refused.output().contains("x509") && refused.output().contains(STRANGER_ADDRESS),
        "expected a certificate name mismatch for {STRANGER_ADDRESS}:\n{refused}"
    );
    assert!(
        !refused.stdout.contains("ok"),
        "no answer may be read from an unverified server:\n{refused}"
    );
}

#[test]
fn api_server_and_kubectl_refuse_certificates_of_the_wrong_ca() {
    let lab = Lab::start("kc-ca", HA);
    let foreign = pki_files::issue(&lab.config, FOREIGN_SEED);
    let vip = "https://198.51.100.100:6443";
    let cluster_ca = &lab
        .pki
        .authority(CaKind::Cluster)
        .material()
        .certificate_pem;
    let admin_client = &lab.pki.admin_kubeconfig().expect("admin.conf").client;

    // Control: the hand-made kubeconfig works when its parts are right.
    let good = lab.handmade_kubeconfig("good.conf", vip, cluster_ca, admin_client);
    assert_ok(
        &lab.healthz(OPERATOR, &good, None),
        "hand-made admin kubeconfig",
    );

    // A client certificate of another PKI's cluster CA: the API server refuses it.
    let foreign_admin = &foreign
        .admin_kubeconfig()
        .expect("foreign admin.conf")
        .client;
    let stranger_client =
        lab.handmade_kubeconfig("foreign-client.conf", vip, cluster_ca, foreign_admin);
    // A client certificate of this PKI's front-proxy CA, which the API server does not trust
    // for clients.
    let front_proxy = &lab
        .pki
        .certificates
        .iter()
        .find(|cert| cert.spec.file == "front-proxy-client")
        .expect("front-proxy-client")
        .material;
    let front_proxy_client =
        lab.handmade_kubeconfig("front-proxy-client.conf", vip, cluster_ca, front_proxy);
    for (what, kubeconfig) in [
        ("a client certificate of another PKI", &stranger_client),
        ("the front-proxy client certificate", &front_proxy_client),
    ] {
        let before = lab
            .server_log("cp1")
            .matches("Unable to authenticate the request")
            .count();
        let refused = lab.healthz(OPERATOR, kubeconfig, None);
        refused.expect_failure();
        assert!(
            !refused.stdout.contains("ok") && refused.output().contains("Unauthorized"),
            "{what} must not be served:\n{refused}"
        );
        // The server logs the refusal as it answers 401: give it a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        let refused_by_server = |log: &str| {
            log.matches("Unable to authenticate the request").count() > before
                && log.contains("certificate signed by unknown authority")
        };
        let mut log = lab.server_log("cp1");
        while !refused_by_server(&log) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
            log = lab.server_log("cp1");
        }
        assert!(
            refused_by_server(&log),
            "the API server (holding the VIP) must refuse {what}:\n{log}\n{refused}"
        );
    }

    // A kubeconfig that trusts another PKI's CA: kubectl refuses the genuine server.
    let foreign_ca = &foreign
        .authority(CaKind::Cluster)
        .material()
        .certificate_pem;
    let wrong_trust = lab.handmade_kubeconfig("foreign-ca.conf", vip, foreign_ca, admin_client);
    let refused = lab.healthz(OPERATOR, &wrong_trust, None);
    refused.expect_failure();
    assert!(
        refused.output().contains("x509") && refused.output().contains("unknown authority"),
        "kubectl must refuse a server its kubeconfig's CA did not sign:\n{refused}"
    );
}
