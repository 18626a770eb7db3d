//! Static pods for etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kube-vip,
//! with the flags, probes, volumes and images kubeadm uses for the cluster's Kubernetes version
//! (`docs/kubeadm-reference-v1.37.md`, written from the real kubeadm's output). Where kbundle
//! differs from kubeadm on purpose, the difference is listed in
//! [`crate::parity::DELIBERATE_DIFFERENCES`], which the kubeadm comparison checks.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::RenderedFile;
use super::k8s::{
    Container, ContainerPort, EnvVar, HttpGet, Object, ObjectMeta, PodBody, PodSecurityContext,
    PodSpec, PortRef, Probe, Resources, SeccompProfile, Volume, VolumeMount, host_mount, map,
};
use crate::config::{ClusterConfig, DEFAULT_IMAGE_REPOSITORY, HighAvailability, Host, Node};
use crate::net::IpFamily;

/// Where static pod manifests go.
pub const MANIFEST_DIR: &str = "/etc/kubernetes/manifests";
/// Where kube-vip's manifest is.
pub const KUBE_VIP_MANIFEST: &str = "/etc/kubernetes/manifests/kube-vip.yaml";
/// In kube-vip's manifest: where `install.sh` puts the name of the interface that holds the
/// node's address.
pub const NODE_INTERFACE: &str = "@NODE_INTERFACE@";
const PKI: &str = "/etc/kubernetes/pki";
const API_PORT: u16 = 6443;
const KUBE_VIP_IMAGE: &str = "ghcr.io/kube-vip/kube-vip:v0.8.9";

/// The flags of one component, sorted as kubeadm sorts them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Flags(pub BTreeMap<String, String>);

impl Flags {
    fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(name.to_owned(), value.into());
    }

    fn arguments(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(name, value)| format!("--{name}={value}"))
            .collect()
    }
}

/// Images for the cluster's version and repository.
pub(crate) fn image(config: &ClusterConfig, component: &str) -> String {
    let repository = &config.registry.image_repository;
    let release = config.kubernetes_version.release;
    match component {
        "etcd" => format!("{repository}/etcd:{}", release.etcd),
        "pause" => format!("{repository}/pause:{}", release.pause),
        // kubeadm adds the extra path segment only for the default repository.
        "coredns" if repository == DEFAULT_IMAGE_REPOSITORY => {
            format!("{repository}/coredns/coredns:{}", release.coredns)
        }
        "coredns" => format!("{repository}/coredns:{}", release.coredns),
        _ => format!("{repository}/{component}:{}", config.kubernetes_version),
    }
}

/// `host:port` with IPv6 in brackets.
fn host_port(address: IpAddr, port: u16) -> String {
    match address {
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

fn loopback_for(address: IpAddr) -> IpAddr {
    match IpFamily::of(address) {
        IpFamily::V4 => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpFamily::V6 => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
    }
}

/// etcd's flags on `node`.
pub fn etcd_flags(config: &ClusterConfig, node: &Node) -> Flags {
    let advertise = node.primary_address();
    let mut flags = Flags::default();
    let client_url = format!("https://{}", host_port(advertise, 2379));
    let peer_url = format!("https://{}", host_port(advertise, 2380));
    let members: Vec<String> = config
        .etcd_nodes()
        .map(|member| {
            format!(
                "{}=https://{}",
                member.name,
                host_port(member.primary_address(), 2380)
            )
        })
        .collect();
    flags.set("advertise-client-urls", &client_url);
    flags.set("cert-file", format!("{PKI}/etcd/server.crt"));
    flags.set("client-cert-auth", "true");
    flags.set("data-dir", "/var/lib/etcd");
    // etcd ≥3.6 spellings: every supported release pins etcd 3.6 or newer.
    flags.set("feature-gates", "InitialCorruptCheck=true");
    flags.set("initial-advertise-peer-urls", &peer_url);
    flags.set("initial-cluster", members.join(","));
    flags.set("initial-cluster-state", "new");
    flags.set("key-file", format!("{PKI}/etcd/server.key"));
    flags.set(
        "listen-client-urls",
        format!(
            "https://{},{client_url}",
            host_port(loopback_for(advertise), 2379)
        ),
    );
    flags.set(
        "listen-metrics-urls",
        format!("http://{}", host_port(loopback_for(advertise), 2381)),
    );
    flags.set("listen-peer-urls", &peer_url);
    flags.set("name", &node.name);
    flags.set("peer-cert-file", format!("{PKI}/etcd/peer.crt"));
    flags.set("peer-client-cert-auth", "true");
    flags.set("peer-key-file", format!("{PKI}/etcd/peer.key"));
    flags.set("peer-trusted-ca-file", format!("{PKI}/etcd/ca.crt"));
    flags.set("snapshot-count", "10000");
    flags.set("trusted-ca-file", format!("{PKI}/etcd/ca.crt"));
    flags.set("watch-progress-notify-interval", "5s");
    flags
}

fn joined_subnets(config: &ClusterConfig, pods: bool) -> String {
    config
        .networking
        .families
        .iter()
        .map(|family| {
            crate::net::canonical(if pods {
                family.pod_subnet
            } else {
                family.service_subnet
            })
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// kube-apiserver's flags on `node`.
pub fn apiserver_flags(config: &ClusterConfig, node: &Node) -> Flags {
    let advertise = node.primary_address();
    // With stacked etcd, the local member first (as kubeadm), then every other member: the
    // client fails over when the local member restarts (a rolling restart, a renewal), so the
    // API server stays ready instead of answering "etcd failed" until its member is back.
    let etcd_servers = if node.roles.etcd {
        std::iter::once(format!(
            "https://{}",
            host_port(loopback_for(advertise), 2379)
        ))
        .chain(
            config
                .etcd_nodes()
                .filter(|member| member.name != node.name)
                .map(|member| format!("https://{}", host_port(member.primary_address(), 2379))),
        )
        .collect::<Vec<_>>()
        .join(",")
    } else {
        config
            .etcd_nodes()
            .map(|member| format!("https://{}", host_port(member.primary_address(), 2379)))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut flags = Flags::default();
    flags.set("advertise-address", advertise.to_string());
    flags.set("allow-privileged", "true");
    flags.set("authorization-mode", "Node,RBAC");
    flags.set("client-ca-file", format!("{PKI}/ca.crt"));
    flags.set("enable-admission-plugins", "NodeRestriction");
    flags.set("enable-bootstrap-token-auth", "true");
    flags.set("etcd-cafile", format!("{PKI}/etcd/ca.crt"));
    flags.set("etcd-certfile", format!("{PKI}/apiserver-etcd-client.crt"));
    flags.set("etcd-keyfile", format!("{PKI}/apiserver-etcd-client.key"));
    flags.set("etcd-servers", etcd_servers);
    flags.set(
        "kubelet-client-certificate",
        format!("{PKI}/apiserver-kubelet-client.crt"),
    );
    flags.set(
        "kubelet-client-key",
        format!("{PKI}/apiserver-kubelet-client.key"),
    );
    flags.set(
        "kubelet-preferred-address-types",
        "InternalIP,ExternalIP,Hostname",
    );
    flags.set(
        "proxy-client-cert-file",
        format!("{PKI}/front-proxy-client.crt"),
    );
    flags.set(
        "proxy-client-key-file",
        format!("{PKI}/front-proxy-client.key"),
    );
    flags.set("requestheader-allowed-names", "front-proxy-client");
    flags.set(
        "requestheader-client-ca-file",
        format!("{PKI}/front-proxy-ca.crt"),
    );
    flags.set("requestheader-extra-headers-prefix", "X-Remote-Extra-");
    flags.set("requestheader-group-headers", "X-Remote-Group");
    flags.set("requestheader-username-headers", "X-Remote-User");
    flags.set("secure-port", API_PORT.to_string());
    if config.control_plane_nodes().count() > 1 {
        // Behind a load balancer, a restarting API server first reports itself not ready
        // while it still serves, so the balancer's health check takes it out before it stops
        // accepting connections: rolling restarts lose no request.
        flags.set("shutdown-delay-duration", "5s");
    }
    flags.set(
        "service-account-issuer",
        format!(
            "https://kubernetes.default.svc.{}",
            config.networking.dns_domain
        ),
    );
    flags.set("service-account-key-file", format!("{PKI}/sa.pub"));
    flags.set("service-account-signing-key-file", format!("{PKI}/sa.key"));
    flags.set("service-cluster-ip-range", joined_subnets(config, false));
    flags.set("tls-cert-file", format!("{PKI}/apiserver.crt"));
    flags.set("tls-private-key-file", format!("{PKI}/apiserver.key"));
    flags
}

/// kube-controller-manager's flags.
pub fn controller_manager_flags(config: &ClusterConfig) -> Flags {
    let kubeconfig = "/etc/kubernetes/controller-manager.conf";
    let mut flags = Flags::default();
    flags.set("allocate-node-cidrs", "true");
    flags.set("authentication-kubeconfig", kubeconfig);
    flags.set("authorization-kubeconfig", kubeconfig);
    flags.set("bind-address", "127.0.0.1");
    flags.set("client-ca-file", format!("{PKI}/ca.crt"));
    flags.set("cluster-cidr", joined_subnets(config, true));
    flags.set("cluster-name", &config.name);
    flags.set("cluster-signing-cert-file", format!("{PKI}/ca.crt"));
    flags.set("cluster-signing-key-file", format!("{PKI}/ca.key"));
    flags.set("controllers", "*,bootstrapsigner,tokencleaner");
    flags.set("kubeconfig", kubeconfig);
    flags.set("leader-elect", "true");
    if config.networking.is_dual_stack() {
        for family in &config.networking.families {
            let name = match family.family {
                IpFamily::V4 => "node-cidr-mask-size-ipv4",
                IpFamily::V6 => "node-cidr-mask-size-ipv6",
            };
            flags.set(name, family.node_mask.to_string());
        }
    } else {
        flags.set(
            "node-cidr-mask-size",
            config.networking.primary().node_mask.to_string(),
        );
    }
    flags.set(
        "requestheader-client-ca-file",
        format!("{PKI}/front-proxy-ca.crt"),
    );
    flags.set("root-ca-file", format!("{PKI}/ca.crt"));
    flags.set("service-account-private-key-file", format!("{PKI}/sa.key"));
    flags.set("service-cluster-ip-range", joined_subnets(config, false));
    flags.set("use-service-account-credentials", "true");
    flags
}

/// kube-scheduler's flags.
pub fn scheduler_flags() -> Flags {
    let kubeconfig = "/etc/kubernetes/scheduler.conf";
    let mut flags = Flags::default();
    flags.set("authentication-kubeconfig", kubeconfig);
    flags.set("authorization-kubeconfig", kubeconfig);
    flags.set("bind-address", "127.0.0.1");
    flags.set("kubeconfig", kubeconfig);
    flags.set("leader-elect", "true");
    flags
}

/// kubeadm's probes: all HTTP GET with a 15 s timeout; startup allows 24 × 10 s.
struct Probes {
    host: Option<String>,
    port: u16,
    scheme: &'static str,
    liveness: &'static str,
    readiness: Option<&'static str>,
    startup: &'static str,
}

impl Probes {
    fn apply(self, container: &mut Container, minor: u32) {
        // Since 1.34 probes name the port and the container declares it.
        let port = if minor >= 34 {
            container.ports.push(ContainerPort {
                name: Some("probe-port".into()),
                container_port: self.port,
                protocol: "TCP",
            });
            PortRef::Name("probe-port".into())
        } else {
            PortRef::Number(self.port)
        };
        let probe = |path: &str, initial_delay: Option<u32>, period: u32, failures: u32| Probe {
            http_get: HttpGet {
                host: self.host.clone(),
                path: path.to_owned(),
                port: port.clone(),
                scheme: self.scheme,
            },
            initial_delay_seconds: initial_delay,
            period_seconds: period,
            timeout_seconds: 15,
            failure_threshold: failures,
        };
        container.liveness_probe = Some(probe(self.liveness, Some(10), 10, 8));
        container.readiness_probe = self.readiness.map(|path| probe(path, None, 1, 3));
        container.startup_probe = Some(probe(self.startup, Some(10), 10, 24));
    }
}

/// The annotation that carries the digest of the node's certificates, keys and kubeconfigs
/// ([`pki_digest`]): a static pod reads them only when it starts, so when they change (`kbundle
/// certs renew`, a new SAN) its manifest changes too, and the kubelet restarts it.
pub const PKI_DIGEST_ANNOTATION: &str = "kbundle.dev/pki-sha256";

/// The digest of a node's PKI files (`(path, contents)`), for [`PKI_DIGEST_ANNOTATION`]: the
/// first 16 hex digits of their SHA-256, in path order.
pub fn pki_digest<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut files: Vec<(&str, &str)> = files.into_iter().collect();
    files.sort();
    let mut text = String::new();
    for (path, contents) in files {
        text.push_str(path);
        text.push('\0');
        text.push_str(contents);
        text.push('\0');
    }
    crate::bundle::sha256_hex(text.as_bytes())[..16].to_owned()
}

/// The common static pod shape (kubeadm `ComponentPod`), annotated with the node's
/// `pki_digest`.
fn static_pod(
    name: &str,
    container: Container,
    mut mounts: Vec<(Volume, VolumeMount)>,
    mut annotations: BTreeMap<String, String>,
    pki_digest: &str,
) -> String {
    annotations.insert(PKI_DIGEST_ANNOTATION.to_owned(), pki_digest.to_owned());
    mounts.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let (volumes, volume_mounts): (Vec<Volume>, Vec<VolumeMount>) = mounts.into_iter().unzip();
    let pod = Object {
        api_version: "v1",
        kind: "Pod",
        metadata: ObjectMeta::in_kube_system(name)
            .labels(map([("component", name), ("tier", "control-plane")]))
            .annotations(annotations),
        body: PodBody {
            spec: PodSpec {
                containers: vec![Container {
                    volume_mounts,
                    ..container
                }],
                host_network: Some(true),
                priority: Some(2_000_001_000),
                priority_class_name: Some("system-node-critical".into()),
                security_context: Some(PodSecurityContext {
                    seccomp_profile: Some(SeccompProfile {
                        kind: "RuntimeDefault",
                    }),
                }),
                volumes,
                ..PodSpec::default()
            },
        },
    };
    super::k8s::to_yaml(&pod)
}

fn container(name: &str, image: String, command: Vec<String>, cpu: &str) -> Container {
    Container {
        name: name.to_owned(),
        image,
        image_pull_policy: Some("IfNotPresent"),
        command,
        resources: Some(Resources {
            requests: map([("cpu", cpu)]),
            ..Resources::default()
        }),
        ..Container::default()
    }
}

fn with_command(binary: &str, flags: &Flags) -> Vec<String> {
    std::iter::once(binary.to_owned())
        .chain(flags.arguments())
        .collect()
}

/// CA bundles of the host, as kubeadm mounts them on Debian-family hosts.
fn ca_mounts() -> Vec<(Volume, VolumeMount)> {
    vec![
        host_mount("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate", true),
        host_mount(
            "etc-ca-certificates",
            "/etc/ca-certificates",
            "DirectoryOrCreate",
            true,
        ),
        host_mount("k8s-certs", PKI, "DirectoryOrCreate", true),
        host_mount(
            "usr-local-share-ca-certificates",
            "/usr/local/share/ca-certificates",
            "DirectoryOrCreate",
            true,
        ),
        host_mount(
            "usr-share-ca-certificates",
            "/usr/share/ca-certificates",
            "DirectoryOrCreate",
            true,
        ),
    ]
}

/// The static pods of `node`, as files under [`MANIFEST_DIR`] (mode 0600, as kubeadm).
pub(crate) fn static_pods(
    config: &ClusterConfig,
    node: &Node,
    pki_digest: &str,
) -> Vec<RenderedFile> {
    let minor = config.kubernetes_version.minor();
    let mut files = Vec::new();
    let advertise = node.primary_address();
    if node.roles.etcd {
        let mut etcd = container(
            "etcd",
            image(config, "etcd"),
            with_command("etcd", &etcd_flags(config, node)),
            "100m",
        );
        if let Some(resources) = etcd.resources.as_mut() {
            resources.requests.insert("memory".into(), "100Mi".into());
        }
        Probes {
            host: Some(loopback_for(advertise).to_string()),
            port: 2381,
            scheme: "HTTP",
            liveness: "/livez",
            readiness: Some("/readyz"),
            startup: "/readyz",
        }
        .apply(&mut etcd, minor);
        let pod = static_pod(
            "etcd",
            etcd,
            vec![
                host_mount(
                    "etcd-certs",
                    &format!("{PKI}/etcd"),
                    "DirectoryOrCreate",
                    false,
                ),
                host_mount("etcd-data", "/var/lib/etcd", "DirectoryOrCreate", false),
            ],
            map([(
                "kubeadm.kubernetes.io/etcd.advertise-client-urls",
                &format!("https://{}", host_port(advertise, 2379)),
            )]),
            pki_digest,
        );
        files.push(RenderedFile::new(
            format!("{MANIFEST_DIR}/etcd.yaml"),
            pod,
            0o600,
        ));
    }
    if !node.roles.control_plane {
        return files;
    }

    let mut apiserver = container(
        "kube-apiserver",
        image(config, "kube-apiserver"),
        with_command("kube-apiserver", &apiserver_flags(config, node)),
        "250m",
    );
    Probes {
        host: Some(advertise.to_string()),
        port: API_PORT,
        scheme: "HTTPS",
        liveness: "/livez",
        readiness: Some("/readyz"),
        startup: "/livez",
    }
    .apply(&mut apiserver, minor);
    let pod = static_pod(
        "kube-apiserver",
        apiserver,
        ca_mounts(),
        map([(
            "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint",
            &host_port(advertise, API_PORT),
        )]),
        pki_digest,
    );
    files.push(RenderedFile::new(
        format!("{MANIFEST_DIR}/kube-apiserver.yaml"),
        pod,
        0o600,
    ));

    let mut controller_manager = container(
        "kube-controller-manager",
        image(config, "kube-controller-manager"),
        with_command("kube-controller-manager", &controller_manager_flags(config)),
        "200m",
    );
    Probes {
        host: Some("127.0.0.1".into()),
        port: 10257,
        scheme: "HTTPS",
        liveness: "/healthz",
        readiness: None,
        startup: "/healthz",
    }
    .apply(&mut controller_manager, minor);
    let mut mounts = ca_mounts();
    mounts.push(host_mount(
        "kubeconfig",
        "/etc/kubernetes/controller-manager.conf",
        "FileOrCreate",
        true,
    ));
    // kubeadm dropped the flexvolume mount in 1.36.
    if minor <= 35 {
        mounts.push(host_mount(
            "flexvolume-dir",
            "/usr/libexec/kubernetes/kubelet-plugins/volume/exec",
            "DirectoryOrCreate",
            false,
        ));
    }
    let pod = static_pod(
        "kube-controller-manager",
        controller_manager,
        mounts,
        BTreeMap::new(),
        pki_digest,
    );
    files.push(RenderedFile::new(
        format!("{MANIFEST_DIR}/kube-controller-manager.yaml"),
        pod,
        0o600,
    ));

    let mut scheduler = container(
        "kube-scheduler",
        image(config, "kube-scheduler"),
        with_command("kube-scheduler", &scheduler_flags()),
        "100m",
    );
    Probes {
        host: Some("127.0.0.1".into()),
        port: 10259,
        scheme: "HTTPS",
        liveness: "/livez",
        readiness: Some("/readyz"),
        startup: "/livez",
    }
    .apply(&mut scheduler, minor);
    let pod = static_pod(
        "kube-scheduler",
        scheduler,
        vec![host_mount(
            "kubeconfig",
            "/etc/kubernetes/scheduler.conf",
            "FileOrCreate",
            true,
        )],
        BTreeMap::new(),
        pki_digest,
    );
    files.push(RenderedFile::new(
        format!("{MANIFEST_DIR}/kube-scheduler.yaml"),
        pod,
        0o600,
    ));

    if let (HighAvailability::KubeVip { interface }, Some(endpoint)) =
        (&config.high_availability, &config.control_plane_endpoint)
        && let Host::Ip(vip) = endpoint.host
    {
        files.push(kube_vip(
            vip,
            endpoint.port,
            interface.as_deref(),
            pki_digest,
        ));
    }
    files
}

/// kube-vip in ARP mode holding the control-plane VIP. It talks to the local API server as
/// `https://kubernetes:6443` (a host alias to loopback, a name in every apiserver certificate),
/// so it works before the VIP exists. The VIP goes on `interface`, or, when the config names
/// none, on the interface that holds the node's address ([`NODE_INTERFACE`], filled in by
/// `install.sh`): kube-vip's own default, the default-route interface, may be another network.
///
/// Every node's manifest mounts admin.conf. On the first control-plane node `install.sh` first
/// places it with super-admin.conf, because admin.conf only gets its rights from a
/// ClusterRoleBinding that is created after the API is up (the kube-vip documentation's advice
/// for Kubernetes ≥1.29); `kbundle apply` switches it back once that binding exists, so
/// super-admin.conf is not held by a running pod for the life of the cluster.
fn kube_vip(vip: IpAddr, port: u16, interface: Option<&str>, pki_digest: &str) -> RenderedFile {
    let kubeconfig = "/etc/kubernetes/admin.conf";
    let env = |name: &str, value: &str| EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        value_from: None,
    };
    let mut variables = vec![
        env("address", &vip.to_string()),
        env("cp_enable", "true"),
        env("port", &port.to_string()),
        env("vip_arp", "true"),
        env(
            "vip_cidr",
            if IpFamily::of(vip) == IpFamily::V4 {
                "32"
            } else {
                "128"
            },
        ),
        env("vip_leaderelection", "true"),
        env("vip_leasename", "plndr-cp-lock"),
        env("vip_leaseduration", "5"),
        env("vip_renewdeadline", "3"),
        env("vip_retryperiod", "1"),
    ];
    variables.push(env("vip_interface", interface.unwrap_or(NODE_INTERFACE)));
    let (volume, mount) = host_mount("kubeconfig", kubeconfig, "FileOrCreate", true);
    let repository_image = KUBE_VIP_IMAGE.to_owned();
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "annotations": {PKI_DIGEST_ANNOTATION: pki_digest},
            "name": "kube-vip",
            "namespace": "kube-system",
        },
        "spec": {
            "containers": [{
                "name": "kube-vip",
                "image": repository_image,
                "imagePullPolicy": "IfNotPresent",
                "args": ["manager"],
                "env": variables,
                "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}},
                "volumeMounts": [{"name": mount.name, "mountPath": "/etc/kubernetes/admin.conf", "readOnly": true}],
            }],
            "hostAliases": [{"hostnames": ["kubernetes"], "ip": "127.0.0.1"}],
            "hostNetwork": true,
            "volumes": [volume],
        },
    });
    RenderedFile::new(KUBE_VIP_MANIFEST, super::k8s::to_yaml(&pod), 0o600)
}
