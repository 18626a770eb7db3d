//! openssl, a verifier independent of the Rust crates that issue the PKI, accepts what kbundle
//! generates: every CA, every leaf certificate and every kubeconfig's client certificate
//! chains to the CA the certificate table names, for the TLS purposes its EKU allows and no
//! other, carries the subject, SANs, key usages and validity of the table (written out by hand
//! here, after kubeadm), matches its private key, and is refused by every other CA, including
//! a same-named CA of another PKI. Four cluster shapes with ECDSA P-256 (single node, three
//! control-plane nodes behind a VIP plus workers, IPv6, dual-stack) and one with RSA-2048.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kbundle_core::config::{ClusterConfig, KeyAlgorithm};
use kbundle_core::pki::{CaKind, CertAndKey, Pki};
use kbundle_tests::pki_files::{self, FOREIGN_SEED, SEED};
use kbundle_tests::programs::{self, Finished};

const SINGLE_NODE: &str = r#"
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata: {name: single}
spec:
  kubernetesVersion: "1.36"
  nodes:
    - {name: solo, address: 198.51.100.10, roles: [control-plane, etcd, worker]}
  networking:
    podSubnet: 10.244.0.0/16
    serviceSubnet: 10.96.0.0/12
"#;

const HA: &str = r#"
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata: {name: ha}
spec:
  kubernetesVersion: "1.37"
  controlPlaneEndpoint: "198.51.100.100:6443"
  nodes:
    - {name: cp1, address: 198.51.100.11, roles: [control-plane, etcd]}
    - {name: cp2, address: 198.51.100.12, roles: [control-plane, etcd]}
    - {name: cp3, address: 198.51.100.13, roles: [control-plane, etcd]}
    - {name: w1, address: 198.51.100.21, roles: [worker]}
    - {name: w2, address: 198.51.100.22, roles: [worker]}
  networking:
    podSubnet: 10.244.0.0/16
    serviceSubnet: 10.112.0.0/16
    dnsDomain: corp.test
  certificates:
    extraSANs: [api.example.test, 198.51.100.200]
"#;

const IPV6: &str = r#"
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata: {name: six}
spec:
  nodes:
    - {name: cp6, address: "2001:db8::11", roles: [control-plane, etcd]}
    - {name: w6, address: "2001:db8::21", roles: [worker]}
  networking:
    podSubnet: fd00:10:244::/56
    serviceSubnet: fd00:10:96::/112
    nodeCIDRMaskSize: 64
"#;

const DUAL_STACK: &str = r#"
apiVersion: kbundle.dev/v1alpha1
kind: Cluster
metadata: {name: dual}
spec:
  controlPlaneEndpoint: "[2001:db8::100]:6443"
  nodes:
    - {name: cp1, address: "198.51.100.11,2001:db8::11", roles: [control-plane, etcd, worker]}
    - {name: cp2, address: "2001:db8::12,198.51.100.12", roles: [control-plane, etcd, worker]}
    - {name: cp3, address: "198.51.100.13,2001:db8::13", roles: [control-plane, etcd, worker]}
  networking:
    podSubnet: 10.244.0.0/16,fd00:10:244::/56
    serviceSubnet: 10.96.0.0/16,fd00:10:96::/112
    nodeCIDRMaskSize: "24,64"
"#;

/// What a cluster description implies for its certificates, written out by hand so that the
/// test does not reuse the code under test.
struct Shape {
    yaml: &'static str,
    /// Kubernetes minor: organisations depend on it.
    minor: u32,
    dns_domain: &'static str,
    /// First address of each service range.
    service_ips: &'static [&'static str],
    /// The URL admin.conf, super-admin.conf and worker kubelets use.
    endpoint_url: &'static str,
    /// The endpoint's IP when it is one (an apiserver SAN).
    endpoint_ip: Option<&'static str>,
    extra_dns: &'static [&'static str],
    extra_ips: &'static [&'static str],
    nodes: &'static [NodeShape],
}

struct NodeShape {
    name: &'static str,
    /// Primary (first pod-subnet family) first, whatever order the YAML wrote.
    addresses: &'static [&'static str],
    control_plane: bool,
    etcd: bool,
}

const fn node(
    name: &'static str,
    addresses: &'static [&'static str],
    control_plane: bool,
    etcd: bool,
) -> NodeShape {
    NodeShape {
        name,
        addresses,
        control_plane,
        etcd,
    }
}

const SINGLE_NODE_SHAPE: Shape = Shape {
    yaml: SINGLE_NODE,
    minor: 36,
    dns_domain: "cluster.local",
    service_ips: &["10.96.0.1"],
    endpoint_url: "https://198.51.100.10:6443",
    endpoint_ip: None,
    extra_dns: &[],
    extra_ips: &[],
    nodes: &[node("solo", &["198.51.100.10"], true, true)],
};

const HA_SHAPE: Shape = Shape {
    yaml: HA,
    minor: 37,
    dns_domain: "corp.test",
    service_ips: &["10.112.0.1"],
    endpoint_url: "https://198.51.100.100:6443",
    endpoint_ip: Some("198.51.100.100"),
    extra_dns: &["api.example.test"],
    extra_ips: &["198.51.100.200"],
    nodes: &[
        node("cp1", &["198.51.100.11"], true, true),
        node("cp2", &["198.51.100.12"], true, true),
        node("cp3", &["198.51.100.13"], true, true),
        node("w1", &["198.51.100.21"], false, false),
        node("w2", &["198.51.100.22"], false, false),
    ],
};

const IPV6_SHAPE: Shape = Shape {
    yaml: IPV6,
    minor: 37,
    dns_domain: "cluster.local",
    service_ips: &["fd00:10:96::1"],
    endpoint_url: "https://[2001:db8::11]:6443",
    endpoint_ip: None,
    extra_dns: &[],
    extra_ips: &[],
    nodes: &[
        node("cp6", &["2001:db8::11"], true, true),
        node("w6", &["2001:db8::21"], false, false),
    ],
};

const DUAL_STACK_SHAPE: Shape = Shape {
    yaml: DUAL_STACK,
    minor: 37,
    dns_domain: "cluster.local",
    service_ips: &["10.96.0.1", "fd00:10:96::1"],
    endpoint_url: "https://[2001:db8::100]:6443",
    endpoint_ip: Some("2001:db8::100"),
    extra_dns: &[],
    extra_ips: &[],
    nodes: &[
        node("cp1", &["198.51.100.11", "2001:db8::11"], true, true),
        node("cp2", &["198.51.100.12", "2001:db8::12"], true, true),
        node("cp3", &["198.51.100.13", "2001:db8::13"], true, true),
    ],
};

const LEAF_HOURS: i64 = 365 * 24;
const CA_HOURS: i64 = 3650 * 24;
const BACKDATE_SECONDS: i64 = 5 * 60;

#[test]
fn single_node_pki_is_accepted_by_openssl() {
    check_cluster(&SINGLE_NODE_SHAPE, KeyAlgorithm::EcdsaP256);
}

#[test]
fn ha_pki_with_a_vip_and_workers_is_accepted_by_openssl() {
    check_cluster(&HA_SHAPE, KeyAlgorithm::EcdsaP256);
}

#[test]
fn ipv6_pki_is_accepted_by_openssl() {
    check_cluster(&IPV6_SHAPE, KeyAlgorithm::EcdsaP256);
}

#[test]
fn dual_stack_pki_is_accepted_by_openssl() {
    check_cluster(&DUAL_STACK_SHAPE, KeyAlgorithm::EcdsaP256);
}

#[test]
fn rsa_2048_pki_is_accepted_by_openssl() {
    check_cluster(&SINGLE_NODE_SHAPE, KeyAlgorithm::Rsa2048);
}

/// The verification below is not vacuous: openssl refuses a certificate whose signature has
/// one bit flipped, and accepts the untouched one.
#[test]
fn openssl_refuses_a_certificate_with_a_damaged_signature() {
    let config = pki_files::cluster(SINGLE_NODE);
    let pki = pki_files::issue(&config, SEED);
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = write_ca(dir.path(), "ca", &pki, CaKind::Cluster);
    let apiserver = &certificate(&pki, "apiserver", "solo").material;
    let good = dir.path().join("good.crt");
    pki_files::write_file(&good, &apiserver.certificate_pem, 0o644);
    verify(&ca, &good, Some("sslserver")).expect_success();

    let mut der = pem_body(&apiserver.certificate_pem);
    // The DER ends inside the signature value.
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let damaged = dir.path().join("damaged.crt");
    pki_files::write_file(&damaged, &to_pem("CERTIFICATE", &der), 0o644);
    let refused = verify(&ca, &damaged, Some("sslserver"));
    refused.expect_failure();
    assert!(
        refused.output().contains("signature"),
        "expected a signature failure:\n{refused}"
    );
}

fn certificate<'a>(pki: &'a Pki, file: &str, node: &str) -> &'a kbundle_core::pki::IssuedCert {
    pki.certificates
        .iter()
        .find(|issued| issued.spec.file == file && issued.node == node)
        .unwrap_or_else(|| panic!("no {file} certificate for {node}"))
}

fn check_cluster(shape: &Shape, algorithm: KeyAlgorithm) {
    programs::require_program("openssl");
    let mut config = pki_files::cluster(shape.yaml);
    config.certificates.key_algorithm = algorithm;
    let earliest = pki_files::now();
    let pki = pki_files::issue(&config, SEED);
    let latest = pki_files::now();
    let foreign = pki_files::issue(&config, FOREIGN_SEED);
    let dir = tempfile::tempdir().expect("temp dir");
    let context = Context {
        dir: dir.path().to_owned(),
        algorithm,
        issued: (earliest, latest),
        cas: CA_KINDS.map(|kind| write_ca(dir.path(), ca_label(kind), &pki, kind)),
        wrong_cas: CA_KINDS.map(|kind| write_wrong_cas(dir.path(), &pki, &foreign, kind)),
    };

    for kind in CA_KINDS {
        check_ca(&context, &pki, kind);
    }
    check_leaves(&context, shape, &pki);
    check_kubeconfigs(&context, shape, &config, &pki);
    check_service_account_key(&context, &pki);
}

const CA_KINDS: [CaKind; 3] = [CaKind::Cluster, CaKind::FrontProxy, CaKind::Etcd];

fn ca_label(kind: CaKind) -> &'static str {
    match kind {
        CaKind::Cluster => "ca",
        CaKind::FrontProxy => "front-proxy-ca",
        CaKind::Etcd => "etcd-ca",
    }
}

fn ca_common_name(kind: CaKind) -> &'static str {
    match kind {
        CaKind::Cluster => "kubernetes",
        CaKind::FrontProxy => "front-proxy-ca",
        CaKind::Etcd => "etcd-ca",
    }
}

fn ca_index(kind: CaKind) -> usize {
    CA_KINDS
        .iter()
        .position(|candidate| *candidate == kind)
        .expect("every kind is listed")
}

struct Context {
    dir: PathBuf,
    algorithm: KeyAlgorithm,
    /// Unix seconds just before and just after issuing.
    issued: (i64, i64),
    /// The CA certificate files, in `CA_KINDS` order.
    cas: [PathBuf; 3],
    /// Per kind: every CA that must not verify its leaves (the two other CAs of this PKI and
    /// the same-named CA of another PKI).
    wrong_cas: [PathBuf; 3],
}

fn write_ca(dir: &Path, label: &str, pki: &Pki, kind: CaKind) -> PathBuf {
    let path = dir.join(format!("{label}.crt"));
    pki_files::write_file(
        &path,
        &pki.authority(kind).material().certificate_pem,
        0o644,
    );
    path
}

fn write_wrong_cas(dir: &Path, pki: &Pki, foreign: &Pki, kind: CaKind) -> PathBuf {
    let mut bundle = foreign.authority(kind).material().certificate_pem.clone();
    for other in CA_KINDS.into_iter().filter(|other| *other != kind) {
        bundle.push_str(&pki.authority(other).material().certificate_pem);
    }
    let path = dir.join(format!("not-{}.crt", ca_label(kind)));
    pki_files::write_file(&path, &bundle, 0o644);
    path
}

/// What one certificate must look like.
#[derive(Debug)]
struct Expected {
    label: String,
    ca: CaKind,
    /// Subject attributes in DER order, e.g. `[("O", …), ("CN", …)]`.
    subject: Vec<(&'static str, String)>,
    server: bool,
    client: bool,
    sans: BTreeSet<San>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum San {
    Dns(String),
    Ip(IpAddr),
}

fn ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or_else(|_| panic!("`{text}` is not an IP"))
}

fn subject(organization: Option<&str>, common_name: &str) -> Vec<(&'static str, String)> {
    let mut subject = Vec::new();
    if let Some(organization) = organization {
        subject.push(("O", organization.to_owned()));
    }
    subject.push(("CN", common_name.to_owned()));
    subject
}

/// The certificate table (kubeadm's, `shared/reference/kubeadm.md` §1.2–1.3) for one node.
fn expected_leaves(shape: &Shape, node: &NodeShape) -> Vec<Expected> {
    let mut leaves = Vec::new();
    let leaf = |file: &str, ca, subject, server, client, sans| Expected {
        label: format!("{}/{file}", node.name),
        ca,
        subject,
        server,
        client,
        sans,
    };
    if node.control_plane {
        let mut sans: BTreeSet<San> = [
            node.name.to_owned(),
            "kubernetes".to_owned(),
            "kubernetes.default".to_owned(),
            "kubernetes.default.svc".to_owned(),
            format!("kubernetes.default.svc.{}", shape.dns_domain),
        ]
        .into_iter()
        .chain(shape.extra_dns.iter().map(|name| (*name).to_owned()))
        .map(San::Dns)
        .collect();
        let ips = shape
            .service_ips
            .iter()
            .chain(node.addresses)
            .chain(&shape.endpoint_ip)
            .chain(shape.extra_ips);
        sans.extend(ips.map(|address| San::Ip(ip(address))));
        let kubelet_client_organization = (shape.minor < 37).then_some("kubeadm:cluster-admins");
        leaves.extend([
            leaf(
                "apiserver",
                CaKind::Cluster,
                subject(None, "kube-apiserver"),
                true,
                false,
                sans,
            ),
            leaf(
                "apiserver-kubelet-client",
                CaKind::Cluster,
                subject(kubelet_client_organization, "kube-apiserver-kubelet-client"),
                false,
                true,
                BTreeSet::new(),
            ),
            leaf(
                "front-proxy-client",
                CaKind::FrontProxy,
                subject(None, "front-proxy-client"),
                false,
                true,
                BTreeSet::new(),
            ),
            leaf(
                "apiserver-etcd-client",
                CaKind::Etcd,
                subject(None, "kube-apiserver-etcd-client"),
                false,
                true,
                BTreeSet::new(),
            ),
        ]);
    }
    if node.etcd {
        let mut sans: BTreeSet<San> = [node.name, "localhost"]
            .into_iter()
            .map(|name| San::Dns(name.to_owned()))
            .collect();
        // The primary address only: etcd listens on no other (as kubeadm issues them).
        let ips = node.addresses[..1].iter().chain(&["127.0.0.1", "::1"]);
        sans.extend(ips.map(|address| San::Ip(ip(address))));
        for file in ["etcd/server", "etcd/peer"] {
            leaves.push(leaf(
                file,
                CaKind::Etcd,
                subject(None, node.name),
                true,
                true,
                sans.clone(),
            ));
        }
        leaves.push(leaf(
            "etcd/healthcheck-client",
            CaKind::Etcd,
            subject(None, "kube-etcd-healthcheck-client"),
            false,
            true,
            BTreeSet::new(),
        ));
    }
    leaves
}

fn check_leaves(context: &Context, shape: &Shape, pki: &Pki) {
    let expected: Vec<Expected> = shape
        .nodes
        .iter()
        .flat_map(|node| expected_leaves(shape, node))
        .collect();
    let issued: BTreeSet<String> = pki
        .certificates
        .iter()
        .map(|cert| format!("{}/{}", cert.node, cert.spec.file))
        .collect();
    let wanted: BTreeSet<String> = expected.iter().map(|leaf| leaf.label.clone()).collect();
    assert_eq!(issued, wanted, "the set of issued leaf certificates");
    assert_eq!(
        pki.certificates.len(),
        expected.len(),
        "no leaf certificate is issued twice"
    );
    for leaf in &expected {
        let cert = pki
            .certificates
            .iter()
            .find(|cert| format!("{}/{}", cert.node, cert.spec.file) == leaf.label)
            .expect("checked above");
        assert_eq!(
            cert.spec.ca, leaf.ca,
            "{}: signing CA in the table",
            leaf.label
        );
        assert_eq!(
            (cert.spec.usage.is_server(), cert.spec.usage.is_client()),
            (leaf.server, leaf.client),
            "{}: usage in the table",
            leaf.label
        );
        check_leaf(context, &cert.material, leaf);
    }
}

/// What one kubeconfig must be.
struct WantedKubeconfig {
    file: &'static str,
    /// `None` for the operator's copy.
    node: Option<&'static str>,
    common_name: String,
    organization: Option<&'static str>,
    server: String,
}

/// Every kubeconfig: its embedded data is the cluster CA and its own client certificate and
/// key, it names the right server, and its client certificate passes `check_leaf`.
fn check_kubeconfigs(context: &Context, shape: &Shape, config: &ClusterConfig, pki: &Pki) {
    let control_plane: Vec<&NodeShape> = shape.nodes.iter().filter(|n| n.control_plane).collect();
    let local_url = |node: &NodeShape| match ip(node.addresses[0]) {
        IpAddr::V4(v4) => format!("https://{v4}:6443"),
        IpAddr::V6(v6) => format!("https://[{v6}]:6443"),
    };
    let want = |file, node, common_name: &str, organization, server: &str| WantedKubeconfig {
        file,
        node,
        common_name: common_name.to_owned(),
        organization,
        server: server.to_owned(),
    };
    let mut wanted = vec![
        want(
            "admin.conf",
            None,
            "kubernetes-admin",
            Some("kubeadm:cluster-admins"),
            shape.endpoint_url,
        ),
        want(
            "super-admin.conf",
            Some(control_plane[0].name),
            "kubernetes-super-admin",
            Some("system:masters"),
            shape.endpoint_url,
        ),
    ];
    for node in &control_plane {
        let local = local_url(node);
        wanted.push(want(
            "controller-manager.conf",
            Some(node.name),
            "system:kube-controller-manager",
            None,
            &local,
        ));
        wanted.push(want(
            "scheduler.conf",
            Some(node.name),
            "system:kube-scheduler",
            None,
            &local,
        ));
    }
    for node in shape.nodes {
        let server = if node.control_plane {
            local_url(node)
        } else {
            shape.endpoint_url.to_owned()
        };
        wanted.push(want(
            "kubelet.conf",
            Some(node.name),
            &format!("system:node:{}", node.name),
            Some("system:nodes"),
            &server,
        ));
    }
    assert_eq!(
        pki.kubeconfigs.len(),
        wanted.len(),
        "number of kubeconfigs: {:?}",
        pki.kubeconfigs
            .iter()
            .map(|kubeconfig| (kubeconfig.spec.file, &kubeconfig.node))
            .collect::<Vec<_>>()
    );
    let cluster_ca = &pki.authority(CaKind::Cluster).material().certificate_pem;
    for WantedKubeconfig {
        file,
        node,
        common_name,
        organization,
        server,
    } in wanted
    {
        let label = format!("{}/{file}", node.unwrap_or("operator"));
        let issued = pki
            .kubeconfigs
            .iter()
            .find(|kubeconfig| kubeconfig.spec.file == file && kubeconfig.node.as_deref() == node)
            .unwrap_or_else(|| panic!("{label}: not issued"));
        let parsed = pki_files::parse_kubeconfig(&issued.contents)
            .unwrap_or_else(|error| panic!("{label}: {error}\n{}", issued.contents));
        assert_eq!(parsed.server, server, "{label}: server URL");
        assert_eq!(issued.server, server, "{label}: `server` field");
        assert_eq!(parsed.user, common_name, "{label}: user name");
        assert_eq!(
            parsed.current_context,
            format!("{common_name}@{}", config.name),
            "{label}: context name"
        );
        assert_eq!(
            &parsed.certificate_authority_pem, cluster_ca,
            "{label}: certificate-authority-data is the cluster CA"
        );
        assert_eq!(
            parsed.client_certificate_pem, issued.client.certificate_pem,
            "{label}: client-certificate-data"
        );
        assert_eq!(
            parsed.client_key_pem, issued.client.key_pem,
            "{label}: client-key-data"
        );
        // Check what kubectl would read: the decoded data, not the struct beside it.
        let embedded = CertAndKey {
            certificate_pem: parsed.client_certificate_pem,
            key_pem: parsed.client_key_pem,
        };
        let expected = Expected {
            label,
            ca: CaKind::Cluster,
            subject: subject(organization, &common_name),
            server: false,
            client: true,
            sans: BTreeSet::new(),
        };
        check_leaf(context, &embedded, &expected);
    }
}

fn check_service_account_key(context: &Context, pki: &Pki) {
    let key = context.dir.join("sa.key");
    pki_files::write_file(&key, &pki.service_account.key_pem, 0o600);
    assert_eq!(
        public_key_of(&key),
        normalize(&pki.service_account.certificate_pem),
        "sa.pub is the public half of sa.key"
    );
}

fn check_ca(context: &Context, pki: &Pki, kind: CaKind) {
    let label = ca_label(kind);
    let material = pki.authority(kind).material();
    let certificate = &context.cas[ca_index(kind)];
    let key = context.dir.join(format!("{label}.key"));
    pki_files::write_file(&key, &material.key_pem, 0o600);

    let mut strict = openssl(["verify", "-x509_strict", "-CAfile"]);
    strict.arg(certificate).arg(certificate);
    expect_ok(&programs::run(strict, LIMIT), certificate);

    let parsed = inspect(certificate);
    let common_name = ca_common_name(kind);
    assert_eq!(
        parsed.subject,
        subject(None, common_name),
        "{label}: subject"
    );
    assert_eq!(parsed.issuer, parsed.subject_line, "{label}: self-signed");
    assert_eq!(parsed.basic_constraints, "CA:TRUE", "{label}: a CA");
    assert!(
        parsed.basic_constraints_critical,
        "{label}: basicConstraints must be critical in a CA (RFC 5280 4.2.1.9)"
    );
    assert_eq!(
        parsed.key_usage,
        set(&["Digital Signature", "Key Encipherment", "Certificate Sign"]),
        "{label}: key usage"
    );
    assert!(parsed.extended_key_usage.is_empty(), "{label}: no EKU");
    assert_eq!(
        parsed.sans,
        BTreeSet::from([San::Dns(common_name.to_owned())]),
        "{label}: its CN as its only SAN, as kubeadm writes it"
    );
    check_algorithm(context, label, &parsed);
    check_validity(context, label, &parsed, CA_HOURS);
    assert_eq!(
        public_key_of(&key),
        parsed.public_key_pem,
        "{label}: the key belongs to the certificate"
    );
}

const LIMIT: Duration = Duration::from_secs(20);

fn openssl<const N: usize>(args: [&str; N]) -> Command {
    let mut command = programs::command("openssl");
    command.args(args);
    command
}

fn verify(ca: &Path, certificate: &Path, purpose: Option<&str>) -> Finished {
    let mut command = openssl(["verify", "-x509_strict", "-CAfile"]);
    command.arg(ca);
    if let Some(purpose) = purpose {
        command.args(["-purpose", purpose]);
    }
    command.arg(certificate);
    programs::run(command, LIMIT)
}

fn expect_ok(finished: &Finished, certificate: &Path) {
    assert_eq!(
        finished.expect_success(),
        format!("{}: OK\n", certificate.display()),
        "{finished}"
    );
}

fn check_leaf(context: &Context, material: &CertAndKey, expected: &Expected) {
    let label = &expected.label;
    let base = label.replace('/', "_");
    let (certificate, key) = pki_files::write_pair(&context.dir, &base, material);
    let ca = &context.cas[ca_index(expected.ca)];

    for (allowed, purpose) in [
        (expected.server, "sslserver"),
        (expected.client, "sslclient"),
    ] {
        let result = verify(ca, &certificate, Some(purpose));
        if allowed {
            expect_ok(&result, &certificate);
        } else {
            result.expect_failure();
            assert!(
                result.output().contains("unsuitable certificate purpose"),
                "{label}: must be refused for {purpose} because of its EKU:\n{result}"
            );
        }
    }
    let wrong = verify(
        &context.wrong_cas[ca_index(expected.ca)],
        &certificate,
        None,
    );
    wrong.expect_failure();
    assert!(
        wrong.output().contains("verification failed"),
        "{label}: every other CA must refuse it:\n{wrong}"
    );

    let parsed = inspect(&certificate);
    assert_eq!(parsed.subject, expected.subject, "{label}: subject");
    assert_eq!(
        parsed.issuer,
        format!("CN={}", ca_common_name(expected.ca)),
        "{label}: issuer"
    );
    assert_eq!(parsed.basic_constraints, "CA:FALSE", "{label}: not a CA");
    assert_eq!(
        parsed.key_usage,
        set(&["Digital Signature", "Key Encipherment"]),
        "{label}: key usage"
    );
    let mut extended = BTreeSet::new();
    if expected.server {
        extended.insert("TLS Web Server Authentication".to_owned());
    }
    if expected.client {
        extended.insert("TLS Web Client Authentication".to_owned());
    }
    assert_eq!(parsed.extended_key_usage, extended, "{label}: EKU");
    assert_eq!(parsed.sans, expected.sans, "{label}: SANs");
    check_algorithm(context, label, &parsed);
    check_validity(context, label, &parsed, LEAF_HOURS);
    assert_eq!(
        public_key_of(&key),
        parsed.public_key_pem,
        "{label}: the private key belongs to the certificate"
    );
    let key_type = match context.algorithm {
        KeyAlgorithm::EcdsaP256 => "EC PRIVATE KEY",
        _ => "RSA PRIVATE KEY",
    };
    assert!(
        material
            .key_pem
            .starts_with(&format!("-----BEGIN {key_type}-----")),
        "{label}: the key is written as kubeadm writes it ({key_type})"
    );
}

fn check_algorithm(context: &Context, label: &str, parsed: &Inspected) {
    let (key_algorithm, bits, signature) = match context.algorithm {
        KeyAlgorithm::EcdsaP256 => ("id-ecPublicKey", 256, "ecdsa-with-SHA256"),
        KeyAlgorithm::Rsa2048 => ("rsaEncryption", 2048, "sha256WithRSAEncryption"),
        other => panic!("no expectation for {other:?}"),
    };
    assert_eq!(
        (
            parsed.public_key_algorithm.as_str(),
            parsed.key_bits,
            parsed.signature_algorithm.as_str()
        ),
        (key_algorithm, bits, signature),
        "{label}: key and signature algorithm"
    );
    if context.algorithm == KeyAlgorithm::EcdsaP256 {
        assert_eq!(
            parsed.curve.as_deref(),
            Some("prime256v1"),
            "{label}: curve"
        );
    }
}

/// NotBefore is the issue time minus kubeadm's five-minute backdate, NotAfter the issue time
/// plus the default validity.
fn check_validity(context: &Context, label: &str, parsed: &Inspected, hours: i64) {
    let (earliest, latest) = context.issued;
    let issued = parsed.not_before + BACKDATE_SECONDS;
    assert!(
        (earliest..=latest).contains(&issued),
        "{label}: NotBefore {} is not five minutes before the issue time ({earliest}..={latest})",
        parsed.not_before
    );
    assert_eq!(
        parsed.not_after - issued,
        hours * 3600,
        "{label}: validity period"
    );
}

/// `openssl pkey -pubout` of a private key, normalised.
fn public_key_of(key: &Path) -> String {
    let mut command = openssl(["pkey", "-pubout", "-in"]);
    command.arg(key);
    normalize(programs::run(command, LIMIT).expect_success())
}

fn normalize(pem: &str) -> String {
    pem.trim().replace("\r\n", "\n")
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

/// What `openssl x509 -text` says about a certificate.
#[derive(Debug, Default)]
struct Inspected {
    subject: Vec<(&'static str, String)>,
    /// The subject as openssl prints it (RFC 2253), to compare with an issuer.
    subject_line: String,
    issuer: String,
    signature_algorithm: String,
    public_key_algorithm: String,
    key_bits: u32,
    curve: Option<String>,
    not_before: i64,
    not_after: i64,
    basic_constraints: String,
    basic_constraints_critical: bool,
    key_usage: BTreeSet<String>,
    extended_key_usage: BTreeSet<String>,
    sans: BTreeSet<San>,
    public_key_pem: String,
}

fn inspect(certificate: &Path) -> Inspected {
    let mut command = openssl(["x509", "-noout", "-text", "-pubkey", "-nameopt", "RFC2253"]);
    command.arg("-in").arg(certificate);
    let finished = programs::run(command, LIMIT);
    let text = finished.expect_success();
    let mut parsed = Inspected::default();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let next = |index: usize| lines.get(index + 1).copied().unwrap_or_default();
    for (index, line) in lines.iter().enumerate() {
        if let Some(value) = line.strip_prefix("Subject: ") {
            parsed.subject_line = value.to_owned();
            parsed.subject = rfc2253(value);
        } else if let Some(value) = line.strip_prefix("Issuer: ") {
            parsed.issuer = value.to_owned();
        } else if let Some(value) = line.strip_prefix("Signature Algorithm: ") {
            if parsed.signature_algorithm.is_empty() {
                parsed.signature_algorithm = value.to_owned();
            }
        } else if let Some(value) = line.strip_prefix("Public Key Algorithm: ") {
            parsed.public_key_algorithm = value.to_owned();
        } else if let Some(value) = line
            .strip_prefix("Public-Key: (")
            .and_then(|rest| rest.strip_suffix(" bit)"))
        {
            parsed.key_bits = value.parse().expect("a bit count");
        } else if let Some(value) = line.strip_prefix("ASN1 OID: ") {
            parsed.curve = Some(value.to_owned());
        } else if let Some(value) = line.strip_prefix("Not Before: ") {
            parsed.not_before = openssl_time(value);
        } else if let Some(value) = line.strip_prefix("Not After : ") {
            parsed.not_after = openssl_time(value);
        } else if line.starts_with("X509v3 Basic Constraints:") {
            parsed.basic_constraints = next(index).to_owned();
            parsed.basic_constraints_critical = line.ends_with("critical");
        } else if line.starts_with("X509v3 Key Usage:") {
            parsed.key_usage = next(index).split(", ").map(str::to_owned).collect();
        } else if line.starts_with("X509v3 Extended Key Usage:") {
            parsed.extended_key_usage = next(index).split(", ").map(str::to_owned).collect();
        } else if line.starts_with("X509v3 Subject Alternative Name:") {
            parsed.sans = next(index).split(", ").map(san).collect();
        }
    }
    let begin = text
        .find("-----BEGIN PUBLIC KEY-----")
        .unwrap_or_else(|| panic!("no public key in:\n{finished}"));
    parsed.public_key_pem = normalize(&text[begin..]);
    parsed
}

/// `CN=a,O=b` (RFC 2253, most specific first) as `[("O", "b"), ("CN", "a")]` (DER order).
fn rfc2253(line: &str) -> Vec<(&'static str, String)> {
    let mut attributes: Vec<(&'static str, String)> = line
        .split(',')
        .map(|pair| {
            let (kind, value) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("`{pair}` in `{line}`"));
            let kind = match kind {
                "CN" => "CN",
                "O" => "O",
                other => panic!("unexpected subject attribute {other} in `{line}`"),
            };
            (kind, value.to_owned())
        })
        .collect();
    attributes.reverse();
    attributes
}

fn san(entry: &str) -> San {
    if let Some(name) = entry.strip_prefix("DNS:") {
        San::Dns(name.to_owned())
    } else if let Some(address) = entry.strip_prefix("IP Address:") {
        // openssl prints IPv6 uppercase and uncompressed, which parses all the same.
        San::Ip(ip(address))
    } else {
        panic!("unexpected SAN `{entry}`")
    }
}

/// `Nov 26 05:27:37 2026 GMT` as unix seconds.
fn openssl_time(text: &str) -> i64 {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [month, day, time, year, "GMT"] = parts[..] else {
        panic!("unexpected time `{text}`");
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|name| *name == month)
    .unwrap_or_else(|| panic!("month in `{text}`")) as i64
        + 1;
    let number = |text: &str| -> i64 { text.parse().expect("a number") };
    let clock: Vec<i64> = time.split(':').map(number).collect();
    days_from_civil(number(year), month, number(day)) * 86_400
        + clock[0] * 3600
        + clock[1] * 60
        + clock[2]
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn pem_body(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).expect("PEM base64")
}

fn to_pem(label: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[test]
fn openssl_times_parse() {
    assert_eq!(openssl_time("Jan  1 00:00:00 1970 GMT"), 0);
    assert_eq!(openssl_time("Nov 26 05:27:37 2026 GMT"), 1_795_670_857);
}
