//! Addons: the cluster objects applied, in file order, once the API server answers. Node
//! objects carrying their planned pod ranges come first (see [`nodes`]), then the RBAC and
//! bootstrap material kubeadm creates at `init`, kube-proxy, CoreDNS, the CNI and registry pull
//! secrets. Objects are built as JSON values with the API's field names (keys sorted, so output
//! is deterministic) and checked against the official schemas in strict mode in CI.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::control_plane::image;
use crate::config::{ClusterConfig, Cni, KubeProxyMode, TaintEffect};
use crate::net::IpFamily;
use crate::pki::Pki;
use crate::plan::NetworkPlan;

/// Flannel images (upstream's current release).
const FLANNEL_IMAGE: &str = "ghcr.io/flannel-io/flannel:v0.26.7";
const FLANNEL_CNI_PLUGIN_IMAGE: &str = "ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1";

/// One addon file: a multi-document YAML applied with `kubectl apply -f`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addon {
    /// File name under `addons/`; the number gives the order.
    pub name: String,
    /// The documents.
    pub contents: String,
    /// Whether it holds secrets (bootstrap token, registry credentials).
    pub is_secret: bool,
}

fn file(name: &str, objects: &[Value], is_secret: bool) -> Addon {
    let documents: Vec<String> = objects.iter().map(super::k8s::to_yaml).collect();
    Addon {
        name: name.to_owned(),
        contents: super::k8s::documents(&documents),
        is_secret,
    }
}

/// Every addon for the cluster, in apply order.
pub fn addons(config: &ClusterConfig, plan: &NetworkPlan, pki: &Pki, issued_at: i64) -> Vec<Addon> {
    let mut addons = vec![
        file("00-nodes.yaml", &nodes(config, plan), false),
        file("10-rbac.yaml", &rbac(config), false),
        file(
            "20-bootstrap.yaml",
            &bootstrap(config, plan, pki, issued_at),
            true,
        ),
        file("30-kube-proxy.yaml", &kube_proxy(config, plan), false),
        file("40-coredns.yaml", &coredns(config, plan), false),
    ];
    if config.networking.cni == Cni::Flannel {
        addons.push(file("50-flannel.yaml", &flannel(config, plan), false));
    }
    let pull_secrets = registry_secrets(config);
    if !pull_secrets.is_empty() {
        addons.push(file("60-registry-credentials.yaml", &pull_secrets, true));
    }
    addons
}

/// Node objects with each node's planned `spec.podCIDRs`, labels and taints. Applied right
/// after the API server answers and before kube-controller-manager's manifest is placed: a
/// node's pod range can be set once while it is empty, and kube-controller-manager's range
/// allocator then treats these ranges as taken, so every node gets exactly its planned range
/// and nodes that join later get free ones of the same size.
pub fn nodes(config: &ClusterConfig, plan: &NetworkPlan) -> Vec<Value> {
    config
        .nodes
        .iter()
        .zip(&plan.nodes)
        .map(|(node, node_plan)| {
            let mut labels = serde_json::Map::new();
            for (key, value) in &node.labels {
                labels.insert(key.clone(), value.clone().into());
            }
            let taints: Vec<Value> = super::node::node_taints(node)
                .iter()
                .map(|taint| {
                    let mut value = json!({"key": taint.key, "effect": effect_name(taint.effect)});
                    if let Some(taint_value) = &taint.value {
                        value["value"] = taint_value.clone().into();
                    }
                    value
                })
                .collect();
            if node.roles.control_plane {
                labels.insert("node-role.kubernetes.io/control-plane".into(), "".into());
                labels.insert(
                    "node.kubernetes.io/exclude-from-external-load-balancers".into(),
                    "".into(),
                );
            }
            if node.roles.etcd && !node.roles.control_plane && !node.roles.worker {
                labels.insert(super::node::ETCD_TAINT.into(), "".into());
            }
            let cidrs: Vec<String> = node_plan
                .pod_cidrs
                .iter()
                .map(|c| crate::net::canonical(*c))
                .collect();
            let mut spec = json!({"podCIDR": cidrs[0], "podCIDRs": cidrs});
            if !taints.is_empty() {
                spec["taints"] = taints.into();
            }
            json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": node.name, "labels": labels},
                "spec": spec,
            })
        })
        .collect()
}

/// The Node objects of [`nodes`] as a running cluster takes them: each Node without its taints,
/// and the taints apart. A Node's taints are one atomic list, so applying it would drop the
/// taints administrators and the node lifecycle controller added: taints go one by one with
/// `kubectl taint`, labels and pod ranges by server-side apply (which leaves others' alone).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeObjects {
    /// Each Node with its labels and planned pod ranges, without taints.
    pub objects: Vec<Value>,
    /// `(node, key[=value]:Effect)`, as `kubectl taint` takes them, in node order.
    pub taints: Vec<(String, String)>,
}

/// [`nodes`], with the taints apart ([`NodeObjects`]).
pub fn node_objects(config: &ClusterConfig, plan: &NetworkPlan) -> NodeObjects {
    let mut taints = Vec::new();
    let objects = nodes(config, plan)
        .into_iter()
        .map(|mut node| {
            let name = node["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if let Some(spec) = node["spec"].as_object_mut() {
                for taint in spec
                    .remove("taints")
                    .and_then(|t| t.as_array().cloned())
                    .unwrap_or_default()
                {
                    let key = taint["key"].as_str().unwrap_or_default();
                    let effect = taint["effect"].as_str().unwrap_or_default();
                    let text = match taint["value"].as_str() {
                        Some(value) => format!("{key}={value}:{effect}"),
                        None => format!("{key}:{effect}"),
                    };
                    taints.push((name.clone(), text));
                }
            }
            node
        })
        .collect();
    NodeObjects { objects, taints }
}

fn effect_name(effect: TaintEffect) -> &'static str {
    match effect {
        TaintEffect::NoSchedule => "NoSchedule",
        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
        TaintEffect::NoExecute => "NoExecute",
    }
}

fn cluster_role_binding(name: &str, role: &str, subjects: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

/// A Group subject, written as kubeadm writes it: without `apiGroup`, which the API server sets
/// to `rbac.authorization.k8s.io` for groups and users.
fn group(name: &str) -> Value {
    json!({"kind": "Group", "name": name})
}

/// A User subject, as [`group`].
fn user(name: &str) -> Value {
    json!({"kind": "User", "name": name})
}

pub(crate) const BOOTSTRAP_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";

/// The RBAC kubeadm creates at `init` (its `bootstrap-token` phase, and `kubeadm:cluster-admins`
/// once the API server answers).
fn rbac(config: &ClusterConfig) -> Vec<Value> {
    let mut objects = vec![
        // Without it admin.conf (O=kubeadm:cluster-admins) has no rights.
        cluster_role_binding(
            "kubeadm:cluster-admins",
            "cluster-admin",
            json!([group("kubeadm:cluster-admins")]),
        ),
        cluster_role_binding(
            "kubeadm:kubelet-bootstrap",
            "system:node-bootstrapper",
            json!([group(BOOTSTRAP_GROUP)]),
        ),
        cluster_role_binding(
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            json!([group(BOOTSTRAP_GROUP)]),
        ),
        cluster_role_binding(
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            json!([group("system:nodes")]),
        ),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "kubeadm:get-nodes"},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
        }),
        cluster_role_binding(
            "kubeadm:get-nodes",
            "kubeadm:get-nodes",
            json!([group(BOOTSTRAP_GROUP)]),
        ),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "kubeadm:bootstrap-signer-clusterinfo", "namespace": "kube-public"},
            "rules": [{"apiGroups": [""], "resourceNames": ["cluster-info"], "resources": ["configmaps"], "verbs": ["get"]}],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "kubeadm:bootstrap-signer-clusterinfo", "namespace": "kube-public"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kubeadm:bootstrap-signer-clusterinfo"},
            "subjects": [user("system:anonymous")],
        }),
    ];
    // 1.37 authorises the API server's kubelet client by name instead of by group.
    if config.kubernetes_version.minor() >= 37 {
        objects.push(cluster_role_binding(
            "kubeadm:apiserver-kubelet-client",
            "system:kubelet-api-admin",
            json!([user("kube-apiserver-kubelet-client")]),
        ));
    }
    objects
}

/// When the bootstrap token expires (RFC 3339, UTC): `spec.certificates.bootstrapTokenTTL`
/// after the PKI was issued at `issued_at` (unix seconds).
pub fn bootstrap_token_expiration(config: &ClusterConfig, issued_at: i64) -> String {
    rfc3339(bootstrap_token_expires_at(config, issued_at))
}

/// [`bootstrap_token_expiration`] as unix seconds.
pub fn bootstrap_token_expires_at(config: &ClusterConfig, issued_at: i64) -> i64 {
    issued_at + i64::from(config.certificates.bootstrap_token_ttl_hours) * 3600
}

/// The bootstrap token Secret and `kube-public/cluster-info`, so that workers can join later:
/// the bundle's `join/` folder holds a bootstrap kubeconfig with this token, with which the
/// kubelet asks for its certificate (kubelet TLS bootstrap); `cluster-info` serves kubeadm's
/// discovery. The token expires after `bootstrapTokenTTL` (24 hours unless set), so that an old
/// bundle cannot add nodes; `kbundle join-token` makes fresh ones (revoke one earlier by deleting
/// its Secret).
fn bootstrap(config: &ClusterConfig, plan: &NetworkPlan, pki: &Pki, issued_at: i64) -> Vec<Value> {
    let token = &pki.bootstrap_token;
    let expiration = bootstrap_token_expiration(config, issued_at);
    let ca = &pki
        .authority(crate::pki::CaKind::Cluster)
        .material()
        .certificate_pem;
    let cluster_info = crate::yaml::to_yaml(&json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "", "cluster": {"certificate-authority-data": STANDARD.encode(ca), "server": plan.control_plane_endpoint}}],
        "contexts": [],
        "current-context": "",
        "preferences": {},
        "users": [],
    }));
    vec![
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": format!("bootstrap-token-{}", token.id), "namespace": "kube-system"},
            "type": "bootstrap.kubernetes.io/token",
            // `data`, not `stringData`: an unquoted RFC 3339 value reads as a YAML timestamp.
            "data": base64_values(&[
                ("auth-extra-groups", BOOTSTRAP_GROUP),
                ("description", "kbundle bootstrap token for nodes that join later"),
                ("expiration", &expiration),
                ("token-id", &token.id),
                ("token-secret", &token.secret),
                ("usage-bootstrap-authentication", "true"),
                ("usage-bootstrap-signing", "true"),
            ]),
        }),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cluster-info", "namespace": "kube-public"},
            "data": {"kubeconfig": cluster_info},
        }),
    ]
}

/// kube-proxy as kubeadm deploys it, pointed at the control-plane endpoint.
fn kube_proxy(config: &ClusterConfig, plan: &NetworkPlan) -> Vec<Value> {
    let primary_is_v6 = plan.ip_families.first() == Some(&IpFamily::V6);
    let mode = match config.networking.kube_proxy_mode {
        KubeProxyMode::Iptables => "iptables",
        KubeProxyMode::Ipvs => "ipvs",
        KubeProxyMode::Nftables => "nftables",
    };
    let cluster_cidr: Vec<String> = plan
        .pod_subnets
        .iter()
        .map(|c| crate::net::canonical(*c))
        .collect();
    let proxy_config = crate::yaml::to_yaml(&json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "bindAddress": if primary_is_v6 { "::" } else { "0.0.0.0" },
        "clientConnection": {"kubeconfig": "/var/lib/kube-proxy/kubeconfig.conf"},
        "clusterCIDR": cluster_cidr.join(","),
        "mode": mode,
    }));
    let kubeconfig = crate::yaml::to_yaml(&json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default", "cluster": {
            "certificate-authority": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
            "server": plan.control_plane_endpoint,
        }}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "namespace": "default", "user": "default"}}],
        "current-context": "default",
        "users": [{"name": "default", "user": {"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}}],
    }));
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kube-proxy", "namespace": "kube-system"}}),
        cluster_role_binding(
            "kubeadm:node-proxier",
            "system:node-proxier",
            json!([{"kind": "ServiceAccount", "name": "kube-proxy", "namespace": "kube-system"}]),
        ),
        // Bootstrap tokens may read kube-proxy's configuration, as with kubeadm.
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            "rules": [{"apiGroups": [""], "resourceNames": ["kube-proxy"], "resources": ["configmaps"], "verbs": ["get"]}],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kube-proxy"},
            "subjects": [group(BOOTSTRAP_GROUP)],
        }),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"app": "kube-proxy"}},
            "data": {"config.conf": proxy_config, "kubeconfig.conf": kubeconfig},
        }),
        json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
            "spec": {
                "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                "updateStrategy": {"type": "RollingUpdate"},
                "template": {
                    "metadata": {"labels": {"k8s-app": "kube-proxy"}},
                    "spec": {
                        "containers": [{
                            "name": "kube-proxy",
                            "image": image(config, "kube-proxy"),
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"],
                            "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                            "securityContext": {"privileged": true},
                            "volumeMounts": [
                                {"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"},
                                {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": true},
                                {"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
                            ],
                        }],
                        "hostNetwork": true,
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "priorityClassName": "system-node-critical",
                        "serviceAccountName": "kube-proxy",
                        "tolerations": [{"operator": "Exists"}],
                        "volumes": [
                            {"name": "kube-proxy", "configMap": {"name": "kube-proxy"}},
                            {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}},
                            {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                        ],
                    },
                },
            },
        }),
    ]
}

/// CoreDNS as kubeadm deploys it, its Service at the planned DNS IP.
fn coredns(config: &ClusterConfig, plan: &NetworkPlan) -> Vec<Value> {
    let domain = &config.networking.dns_domain;
    let corefile = format!(
        ".:53 {{\n    errors\n    health {{\n       lameduck 5s\n    }}\n    ready\n    kubernetes {domain} in-addr.arpa ip6.arpa {{\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }}\n    prometheus :9153\n    forward . /etc/resolv.conf {{\n       max_concurrent 1000\n    }}\n    cache 30 {{\n       disable success {domain}\n       disable denial {domain}\n    }}\n    loop\n    reload\n    loadbalance\n}}\n"
    );
    let mut service_spec = json!({
        "clusterIP": plan.dns_service_ip.to_string(),
        "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
        ],
        "selector": {"k8s-app": "kube-dns"},
    });
    if config.networking.is_dual_stack() {
        service_spec["ipFamilyPolicy"] = "PreferDualStack".into();
    }
    let probe_port = |name: &str| json!(name);
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coredns", "namespace": "kube-system"}}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        }),
        cluster_role_binding(
            "system:coredns",
            "system:coredns",
            json!([{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]),
        ),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": corefile},
        }),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "template": {
                    "metadata": {"labels": {"k8s-app": "kube-dns"}},
                    "spec": {
                        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                            "weight": 100,
                            "podAffinityTerm": {
                                "labelSelector": {"matchExpressions": [{"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]},
                                "topologyKey": "kubernetes.io/hostname",
                            },
                        }]}},
                        "containers": [{
                            "name": "coredns",
                            "image": image(config, "coredns"),
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["-conf", "/etc/coredns/Corefile"],
                            "ports": [
                                {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
                                {"name": "liveness-probe", "containerPort": 8080, "protocol": "TCP"},
                                {"name": "readiness-probe", "containerPort": 8181, "protocol": "TCP"},
                            ],
                            "livenessProbe": {
                                "httpGet": {"path": "/health", "port": probe_port("liveness-probe"), "scheme": "HTTP"},
                                "initialDelaySeconds": 60, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 5,
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/ready", "port": probe_port("readiness-probe"), "scheme": "HTTP"},
                            },
                            "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
                            "securityContext": {
                                "allowPrivilegeEscalation": false,
                                "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                                "readOnlyRootFilesystem": true,
                            },
                            "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": true}],
                        }],
                        "dnsPolicy": "Default",
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "priorityClassName": "system-cluster-critical",
                        "serviceAccountName": "coredns",
                        "tolerations": [
                            {"key": "CriticalAddonsOnly", "operator": "Exists"},
                            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                        ],
                        "volumes": [{"name": "config-volume", "configMap": {"name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}}],
                    },
                },
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kube-dns",
                "namespace": "kube-system",
                "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
                "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
            },
            "spec": service_spec,
        }),
    ]
}

/// Flannel (VXLAN) on the planned pod network. It takes each node's range from the Node
/// object (kube subnet manager), i.e. exactly the planned range.
fn flannel(config: &ClusterConfig, plan: &NetworkPlan) -> Vec<Value> {
    let mut delegate = json!({"hairpinMode": true, "isDefaultGateway": true});
    if let Some(mtu) = config.networking.mtu {
        // The flannel CNI plugin only fills in the MTU it detected when the delegate has none.
        delegate["mtu"] = mtu.into();
    }
    let cni_conf = serde_json::to_string_pretty(&json!({
        "name": "cbr0",
        "cniVersion": "0.3.1",
        "plugins": [
            {"type": "flannel", "delegate": delegate},
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    }))
    .unwrap_or_default();
    let net_conf = serde_json::to_string_pretty(&plan.flannel_net_conf).unwrap_or_default();
    let namespace = "kube-flannel";
    vec![
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {"k8s-app": "flannel", "pod-security.kubernetes.io/enforce": "privileged"}},
        }),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "flannel", "namespace": namespace}}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "flannel"},
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]},
            ],
        }),
        cluster_role_binding(
            "flannel",
            "flannel",
            json!([{"kind": "ServiceAccount", "name": "flannel", "namespace": namespace}]),
        ),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kube-flannel-cfg", "namespace": namespace, "labels": {"app": "flannel", "tier": "node"}},
            "data": {"cni-conf.json": cni_conf, "net-conf.json": net_conf},
        }),
        json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "kube-flannel-ds", "namespace": namespace, "labels": {"app": "flannel", "tier": "node"}},
            "spec": {
                "selector": {"matchLabels": {"app": "flannel"}},
                "template": {
                    "metadata": {"labels": {"app": "flannel", "tier": "node"}},
                    "spec": {
                        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]},
                        ]}}},
                        "hostNetwork": true,
                        "priorityClassName": "system-node-critical",
                        "serviceAccountName": "flannel",
                        "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                        "initContainers": [
                            {
                                "name": "install-cni-plugin",
                                "image": FLANNEL_CNI_PLUGIN_IMAGE,
                                "command": ["cp"],
                                "args": ["-f", "/flannel", "/opt/cni/bin/flannel"],
                                "volumeMounts": [{"name": "cni-plugin", "mountPath": "/opt/cni/bin"}],
                            },
                            {
                                "name": "install-cni",
                                "image": FLANNEL_IMAGE,
                                "command": ["cp"],
                                "args": ["-f", "/etc/kube-flannel/cni-conf.json", "/etc/cni/net.d/10-flannel.conflist"],
                                "volumeMounts": [
                                    {"name": "cni", "mountPath": "/etc/cni/net.d"},
                                    {"name": "flannel-cfg", "mountPath": "/etc/kube-flannel/"},
                                ],
                            },
                        ],
                        "containers": [{
                            "name": "kube-flannel",
                            "image": FLANNEL_IMAGE,
                            "command": ["/opt/bin/flanneld"],
                            "args": ["--ip-masq", "--kube-subnet-mgr"],
                            "env": [
                                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                                {"name": "EVENT_QUEUE_DEPTH", "value": "5000"},
                            ],
                            "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
                            "securityContext": {"privileged": false, "capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
                            "volumeMounts": [
                                {"name": "run", "mountPath": "/run/flannel"},
                                {"name": "flannel-cfg", "mountPath": "/etc/kube-flannel/"},
                                {"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
                            ],
                        }],
                        "volumes": [
                            {"name": "run", "hostPath": {"path": "/run/flannel"}},
                            {"name": "cni-plugin", "hostPath": {"path": "/opt/cni/bin"}},
                            {"name": "cni", "hostPath": {"path": "/etc/cni/net.d"}},
                            {"name": "flannel-cfg", "configMap": {"name": "kube-flannel-cfg"}},
                            {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                        ],
                    },
                },
            },
        }),
    ]
}

/// A `kubernetes.io/dockerconfigjson` Secret named `registry-credentials` in each namespace of
/// `spec.registry.pullSecretNamespaces`, holding every configured credential.
fn registry_secrets(config: &ClusterConfig) -> Vec<Value> {
    if config.registry.credentials.is_empty() {
        return Vec::new();
    }
    let mut auths = serde_json::Map::new();
    for credential in &config.registry.credentials {
        let auth = STANDARD.encode(format!("{}:{}", credential.username, credential.password));
        auths.insert(
            credential.registry.clone(),
            json!({"username": credential.username, "password": credential.password, "auth": auth}),
        );
    }
    let docker_config = serde_json::to_string(&json!({"auths": auths})).unwrap_or_default();
    config
        .registry
        .pull_secret_namespaces
        .iter()
        .map(|namespace| {
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "registry-credentials", "namespace": namespace},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": STANDARD.encode(&docker_config)},
            })
        })
        .collect()
}

fn base64_values(entries: &[(&str, &str)]) -> Value {
    let map: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(key, value)| ((*key).to_owned(), STANDARD.encode(value).into()))
        .collect();
    map.into()
}

/// Unix seconds as RFC 3339 UTC (`2026-11-26T05:00:00Z`).
pub(crate) fn rfc3339(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default()
}
