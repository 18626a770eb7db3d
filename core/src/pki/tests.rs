//! PKI tests on the structure of what is issued (subjects, usages, SANs, servers, file modes),
//! reproducibility and least privilege. Real TLS peers check the same output in `tests/`.

use std::collections::BTreeSet;

use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};

use super::*;
use crate::config::{ClusterConfig, KeyAlgorithm};
use p256::pkcs8::EncodePrivateKey;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const ISSUED_AT: i64 = 1_790_000_000;

fn config(yaml: &str) -> ClusterConfig {
    ClusterConfig::from_yaml(yaml)
        .expect("test config validates")
        .config
}

fn single_node() -> ClusterConfig {
    config(
        "apiVersion: kbundle.dev/v1alpha1\nkind: Cluster\nmetadata: {name: one}\nspec:\n  kubernetesVersion: \"1.36\"\n  nodes:\n    - {name: cp1, address: 192.0.2.11, roles: [control-plane, worker]}\n    - {name: w1, address: 192.0.2.21, roles: [worker]}\n",
    )
}

fn high_availability() -> ClusterConfig {
    config(&crate::config::example_yaml(
        crate::config::ExampleKind::HighAvailability,
    ))
}

fn issue(config: &ClusterConfig, seed: u8) -> Pki {
    let inputs = PkiInputs {
        seed: [seed; 32],
        issued_at: ISSUED_AT,
        existing_cas: Vec::new(),
    };
    Pki::issue(config, &inputs).expect("PKI issues")
}

/// Subject, issuer, SANs and EKUs of a PEM certificate, as text for assertions.
struct Parsed {
    subject: String,
    issuer: String,
    dns: Vec<String>,
    ips: Vec<String>,
    server: bool,
    client: bool,
    is_ca: bool,
    not_before: i64,
    not_after: i64,
    serial_len: usize,
}

fn parse(pem_text: &str) -> Parsed {
    let parsed = ::pem::parse(pem_text).expect("PEM");
    let (_, certificate) = X509Certificate::from_der(parsed.contents()).expect("DER");
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    let (mut server, mut client) = (false, false);
    for extension in certificate.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(names) => {
                for name in &names.general_names {
                    match name {
                        GeneralName::DNSName(dns_name) => dns.push((*dns_name).to_owned()),
                        GeneralName::IPAddress(bytes) => ips.push(match bytes.len() {
                            4 => std::net::IpAddr::from(<[u8; 4]>::try_from(*bytes).unwrap())
                                .to_string(),
                            _ => std::net::IpAddr::from(<[u8; 16]>::try_from(*bytes).unwrap())
                                .to_string(),
                        }),
                        _ => {}
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(usage) => {
                server = usage.server_auth;
                client = usage.client_auth;
            }
            _ => {}
        }
    }
    Parsed {
        subject: certificate.subject().to_string(),
        issuer: certificate.issuer().to_string(),
        dns,
        ips,
        server,
        client,
        is_ca: certificate.is_ca(),
        not_before: certificate.validity().not_before.timestamp(),
        not_after: certificate.validity().not_after.timestamp(),
        serial_len: certificate.raw_serial().len(),
    }
}

fn leaf<'a>(pki: &'a Pki, file: &str, node: &str) -> &'a IssuedCert {
    pki.certificates
        .iter()
        .find(|c| c.spec.file == file && c.node == node)
        .unwrap_or_else(|| panic!("no {file} for {node}"))
}

#[test]
fn cas_are_self_signed_with_their_name_as_san() {
    let pki = issue(&single_node(), 1);
    for (authority, (cn, _)) in
        pki.authorities
            .iter()
            .zip([("kubernetes", 0), ("front-proxy-ca", 0), ("etcd-ca", 0)])
    {
        let parsed = parse(&authority.material().certificate_pem);
        assert!(parsed.is_ca);
        assert_eq!(parsed.subject, format!("CN={cn}"));
        assert_eq!(parsed.issuer, parsed.subject);
        assert_eq!(parsed.dns, [cn]);
        assert_eq!(parsed.not_before, ISSUED_AT - 300);
        assert_eq!(parsed.not_after, ISSUED_AT + 10 * 365 * 24 * 3600);
        assert!(parsed.serial_len <= 20);
    }
}

#[test]
fn apiserver_certificate_has_kubeadms_sans() {
    let pki = issue(&high_availability(), 2);
    let parsed = parse(&leaf(&pki, "apiserver", "cp2").material.certificate_pem);
    assert_eq!(parsed.subject, "CN=kube-apiserver");
    assert_eq!(parsed.issuer, "CN=kubernetes");
    assert!(parsed.server && !parsed.client && !parsed.is_ca);
    assert_eq!(
        parsed.dns,
        [
            "cp2",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local"
        ]
    );
    assert_eq!(parsed.ips, ["10.96.0.1", "192.0.2.12", "192.0.2.100"]);
    assert_eq!(parsed.not_after, ISSUED_AT + 365 * 24 * 3600);
}

#[test]
fn dual_stack_apiserver_lists_both_families() {
    let pki = issue(
        &config(include_str!(
            "../../../tests/fixtures/clusters/dual-stack.yaml"
        )),
        3,
    );
    let parsed = parse(&leaf(&pki, "apiserver", "cp1").material.certificate_pem);
    assert_eq!(
        parsed.ips,
        [
            "10.96.0.1",
            "fd00:10:96::1",
            "192.0.2.11",
            "2001:db8::11",
            "2001:db8::100"
        ]
    );
    let etcd = parse(&leaf(&pki, "etcd/server", "cp3").material.certificate_pem);
    assert_eq!(etcd.subject, "CN=cp3");
    assert_eq!(etcd.dns, ["cp3", "localhost"]);
    // Only the address etcd listens on, as kubeadm: the other family's is never etcd's.
    assert_eq!(etcd.ips, ["192.0.2.13", "127.0.0.1", "::1"]);
    assert!(etcd.server && etcd.client);
}

#[test]
fn client_subjects_follow_the_kubernetes_version() {
    let mut config = single_node();
    let pki = issue(&config, 4);
    let kubelet_client = parse(
        &leaf(&pki, "apiserver-kubelet-client", "cp1")
            .material
            .certificate_pem,
    );
    assert_eq!(
        kubelet_client.subject,
        "O=kubeadm:cluster-admins, CN=kube-apiserver-kubelet-client"
    );
    assert!(kubelet_client.client && !kubelet_client.server);
    config.kubernetes_version = crate::versions::parse_version("1.37").unwrap();
    let pki = issue(&config, 4);
    let kubelet_client = parse(
        &leaf(&pki, "apiserver-kubelet-client", "cp1")
            .material
            .certificate_pem,
    );
    assert_eq!(kubelet_client.subject, "CN=kube-apiserver-kubelet-client");
    assert_eq!(
        parse(
            &leaf(&pki, "apiserver-etcd-client", "cp1")
                .material
                .certificate_pem
        )
        .issuer,
        "CN=etcd-ca"
    );
    assert_eq!(
        parse(
            &leaf(&pki, "front-proxy-client", "cp1")
                .material
                .certificate_pem
        )
        .issuer,
        "CN=front-proxy-ca"
    );
}

#[test]
fn kubeconfigs_name_the_endpoint_or_the_local_api_server() {
    let pki = issue(&high_availability(), 5);
    let server = |file: &str, node: Option<&str>| {
        pki.kubeconfigs
            .iter()
            .find(|k| k.spec.file == file && k.node.as_deref() == node)
            .map(|k| k.server.clone())
            .unwrap_or_else(|| panic!("no {file} for {node:?}"))
    };
    assert_eq!(server("admin.conf", None), "https://192.0.2.100:6443");
    assert_eq!(
        server("super-admin.conf", Some("cp1")),
        "https://192.0.2.100:6443"
    );
    assert_eq!(
        server("controller-manager.conf", Some("cp2")),
        "https://192.0.2.12:6443"
    );
    assert_eq!(
        server("scheduler.conf", Some("cp3")),
        "https://192.0.2.13:6443"
    );
    assert_eq!(
        server("kubelet.conf", Some("cp2")),
        "https://192.0.2.12:6443"
    );
    assert_eq!(
        server("kubelet.conf", Some("worker1")),
        "https://192.0.2.100:6443"
    );
    assert!(
        !pki.kubeconfigs
            .iter()
            .any(|k| k.spec.file == "super-admin.conf" && k.node.as_deref() != Some("cp1"))
    );
    let kubelet = pki
        .kubeconfigs
        .iter()
        .find(|k| k.node.as_deref() == Some("worker2") && k.spec.file == "kubelet.conf")
        .unwrap();
    let client = parse(&kubelet.client.certificate_pem);
    assert_eq!(client.subject, "O=system:nodes, CN=system:node:worker2");
    assert!(
        kubelet
            .contents
            .contains("current-context: system:node:worker2@demo")
    );
    assert!(kubelet.contents.contains("client-key-data: "));
    let admin = parse(&pki.admin_kubeconfig().unwrap().client.certificate_pem);
    assert_eq!(
        admin.subject,
        "O=kubeadm:cluster-admins, CN=kubernetes-admin"
    );
}

#[test]
fn single_control_plane_without_endpoint_uses_its_address() {
    let pki = issue(&single_node(), 6);
    assert_eq!(
        pki.admin_kubeconfig().unwrap().server,
        "https://192.0.2.11:6443"
    );
}

#[test]
fn same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let config = single_node();
    let (first, second, other) = (issue(&config, 7), issue(&config, 7), issue(&config, 8));
    let files = |pki: &Pki| pki.node_files(&config.nodes[0]);
    assert_eq!(files(&first), files(&second));
    assert_ne!(files(&first), files(&other));
    assert_eq!(first.bootstrap_token, second.bootstrap_token);
}

#[test]
fn workers_get_only_the_ca_certificate_and_their_kubelet_credentials() {
    let config = high_availability();
    let pki = issue(&config, 9);
    let worker = config.nodes.iter().find(|n| n.name == "worker1").unwrap();
    let files = pki.node_files(worker);
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/etc/kubernetes/kubelet.conf", "/etc/kubernetes/pki/ca.crt"]
    );
    assert!(
        !files
            .iter()
            .any(|f| f.contents.contains("PRIVATE KEY-----") && f.path.ends_with(".crt"))
    );
    let kubelet = &files[0];
    assert_eq!(kubelet.mode, 0o600);
    assert!(kubelet.contents.contains("system:node:worker1"));
    assert_eq!(files[1].mode, 0o644);
}

#[test]
fn control_plane_nodes_get_what_their_components_read_and_no_other_ca_key() {
    let config = high_availability();
    let pki = issue(&config, 10);
    let cp2 = &config.nodes[1];
    let files = pki.node_files(cp2);
    let paths: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for expected in [
        "/etc/kubernetes/pki/ca.key",
        "/etc/kubernetes/pki/apiserver.crt",
        "/etc/kubernetes/pki/sa.key",
        "/etc/kubernetes/pki/sa.pub",
        "/etc/kubernetes/pki/front-proxy-ca.crt",
        "/etc/kubernetes/pki/etcd/ca.crt",
        "/etc/kubernetes/pki/etcd/server.key",
        "/etc/kubernetes/pki/apiserver-etcd-client.key",
        "/etc/kubernetes/admin.conf",
        "/etc/kubernetes/controller-manager.conf",
        "/etc/kubernetes/scheduler.conf",
    ] {
        assert!(paths.contains(expected), "cp2 lacks {expected}");
    }
    for absent in [
        "/etc/kubernetes/pki/front-proxy-ca.key",
        "/etc/kubernetes/pki/etcd/ca.key",
        "/etc/kubernetes/super-admin.conf",
    ] {
        assert!(!paths.contains(absent), "cp2 must not get {absent}");
    }
    for file in &files {
        let secret = file.path.ends_with(".key")
            || file.path.ends_with(".conf")
            || file.path.ends_with("sa.pub");
        assert_eq!(
            file.mode,
            if secret { 0o600 } else { 0o644 },
            "{}",
            file.path
        );
    }
    let cp1_files = pki.node_files(&config.nodes[0]);
    assert!(
        cp1_files
            .iter()
            .any(|f| f.path == "/etc/kubernetes/super-admin.conf")
    );
    // cp2's own certificates, not cp1's.
    let server = files
        .iter()
        .find(|f| f.path.ends_with("etcd/server.crt"))
        .unwrap();
    assert_eq!(parse(&server.contents).subject, "CN=cp2");
}

#[test]
fn bootstrap_token_and_discovery_hash_have_kubeadms_format() {
    let pki = issue(&single_node(), 11);
    let token = pki.bootstrap_token.token();
    assert_eq!(token.len(), 23);
    assert!(
        token
            .chars()
            .all(|c| c == '.' || c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    assert_eq!(token.find('.'), Some(6));
    assert!(pki.discovery_hash.starts_with("sha256:"));
    assert_eq!(pki.discovery_hash.len(), 7 + 64);
    assert!(!format!("{:?}", pki.bootstrap_token).contains(&pki.bootstrap_token.secret));
}

#[test]
fn existing_ca_is_used_and_leaves_chain_to_it() {
    let config = single_node();
    let donor = issue(&config, 12);
    let cluster_ca = donor.authority(CaKind::Cluster).material().clone();
    let inputs = PkiInputs {
        seed: [13; 32],
        issued_at: ISSUED_AT,
        existing_cas: vec![ExistingCa {
            kind: CaKind::Cluster,
            certificate_pem: cluster_ca.certificate_pem.clone(),
            key_pem: cluster_ca.key_pem.clone(),
        }],
    };
    let pki = Pki::issue(&config, &inputs).expect("existing CA accepted");
    assert!(pki.authority(CaKind::Cluster).is_provided());
    assert!(!pki.authority(CaKind::Etcd).is_provided());
    assert_eq!(
        pki.authority(CaKind::Cluster).material().certificate_pem,
        cluster_ca.certificate_pem
    );
    assert_eq!(pki.discovery_hash, donor.discovery_hash);
    assert_eq!(
        parse(&leaf(&pki, "apiserver", "cp1").material.certificate_pem).issuer,
        "CN=kubernetes"
    );
}

#[test]
fn existing_ca_with_wrong_key_or_not_a_ca_is_refused() {
    let config = single_node();
    let donor = issue(&config, 14);
    let other = issue(&config, 15);
    let attempt = |certificate_pem: &str, key_pem: &str| {
        let inputs = PkiInputs {
            seed: [16; 32],
            issued_at: ISSUED_AT,
            existing_cas: vec![ExistingCa {
                kind: CaKind::Etcd,
                certificate_pem: certificate_pem.to_owned(),
                key_pem: key_pem.to_owned(),
            }],
        };
        Pki::issue(&config, &inputs)
            .expect_err("refused")
            .to_string()
    };
    let ca = donor.authority(CaKind::Etcd).material();
    let wrong_key = other.authority(CaKind::Etcd).material();
    assert_eq!(
        attempt(&ca.certificate_pem, &wrong_key.key_pem),
        "spec.certificates.existingCAs.etcd: the key does not match the certificate"
    );
    let not_ca = &leaf(&donor, "etcd/server", "cp1").material;
    assert!(attempt(&not_ca.certificate_pem, &not_ca.key_pem).contains("is not a CA"));
    assert!(attempt("garbage", &ca.key_pem).contains("not PEM"));
}

#[test]
fn rsa_keys_are_pkcs1_and_the_requested_size() {
    let mut config = single_node();
    config.certificates.key_algorithm = crate::config::KeyAlgorithm::Rsa2048;
    config.nodes.truncate(1);
    let pki = issue(&config, 17);
    let key = &leaf(&pki, "apiserver", "cp1").material.key_pem;
    assert!(key.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert_eq!(
        KeyPair::from_pem(key).unwrap().algorithm(),
        crate::config::KeyAlgorithm::Rsa2048
    );
    assert!(
        pki.service_account
            .certificate_pem
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
}

#[test]
fn ecdsa_keys_are_sec1() {
    let pki = issue(&single_node(), 18);
    assert!(
        leaf(&pki, "apiserver", "cp1")
            .material
            .key_pem
            .starts_with("-----BEGIN EC PRIVATE KEY-----")
    );
}

#[test]
fn premade_keys_are_used_first_and_the_rest_comes_from_the_seed() {
    let config = single_node();
    let inputs = PkiInputs {
        seed: [3; 32],
        issued_at: 1_800_000_000,
        existing_cas: Vec::new(),
    };
    let from_seed = Pki::issue(&config, &inputs).expect("issues");
    // A key as WebCrypto would export it: PKCS#8 DER.
    let premade_pem = KeyPair::generate(
        KeyAlgorithm::EcdsaP256,
        &mut ChaCha20Rng::from_seed([9; 32]),
    )
    .expect("key")
    .private_pem()
    .expect("pem");
    let der = p256::SecretKey::from_sec1_pem(&premade_pem)
        .expect("sec1")
        .to_pkcs8_der()
        .expect("pkcs8");
    let premade = KeyPair::from_pkcs8_der(der.as_bytes()).expect("reads PKCS#8 DER");
    let mixed = Pki::issue_with_keys(&config, &inputs, vec![premade]).expect("issues");

    // The first key made is the first CA's: it is now the premade one.
    assert_eq!(mixed.authorities[0].material().key_pem, premade_pem);
    assert_ne!(
        from_seed.authorities[0].material().certificate_pem,
        mixed.authorities[0].material().certificate_pem
    );
    // Later keys and the token still come from the seed, unchanged.
    assert_eq!(
        from_seed.service_account.key_pem,
        mixed.service_account.key_pem
    );
    assert_eq!(from_seed.bootstrap_token, mixed.bootstrap_token);
    assert!(Pki::key_count(&config, &[]) > 1);
}

#[test]
fn a_premade_key_of_another_algorithm_is_refused() {
    let config = single_node();
    let inputs = PkiInputs {
        seed: [3; 32],
        issued_at: 1_800_000_000,
        existing_cas: Vec::new(),
    };
    let rsa = KeyPair::generate(KeyAlgorithm::Rsa2048, &mut ChaCha20Rng::from_seed([9; 32]))
        .expect("key");
    let error = Pki::issue_with_keys(&config, &inputs, vec![rsa]).expect_err("refused");
    assert!(error.to_string().contains("RSA-2048"), "{error}");
}

#[test]
fn pkcs8_pem_keys_of_both_algorithms_are_read_and_garbage_is_refused() {
    use p256::pkcs8::EncodePublicKey as _;
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::EncodePrivateKey as _;
    let ecdsa = p256::ecdsa::SigningKey::from_slice(&[7; 32]).expect("scalar");
    let ecdsa_pem = ecdsa
        .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
        .expect("pem");
    let read = KeyPair::from_pem(&ecdsa_pem).expect("reads a PKCS#8 P-256 key");
    assert_eq!(read.algorithm(), KeyAlgorithm::EcdsaP256);
    assert_eq!(
        read.public_pem().expect("public"),
        ecdsa
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .expect("public")
    );

    let rsa = KeyPair::generate(KeyAlgorithm::Rsa2048, &mut ChaCha20Rng::from_seed([5; 32]))
        .expect("key");
    let pkcs1 = rsa.private_pem().expect("pem");
    let rsa_key = rsa::PrivateKey::from_pkcs1_pem(&pkcs1).expect("pkcs1");
    let rsa_pem = rsa_key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .expect("pkcs8");
    let read = KeyPair::from_pem(&rsa_pem).expect("reads a PKCS#8 RSA key");
    assert_eq!(
        read.public_pem().expect("public"),
        rsa.public_pem().expect("public")
    );

    let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    let error = KeyPair::from_pem(garbage).expect_err("refused");
    assert!(
        error.to_string().contains("neither ECDSA P-256 nor RSA"),
        "{error}"
    );
}
