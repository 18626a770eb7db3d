//! The node configuration of one node, as whole files: kubelet (its `KubeletConfiguration`, unit
//! and flags drop-in), containerd (`config.toml` and one `hosts.toml` per mirrored registry),
//! kernel modules and sysctls, and the HTTP proxy drop-ins for containerd and kubelet.
//!
//! Every file is written whole at a fixed path, so applying again rewrites it instead of adding
//! to it. Files that hold a secret (registry passwords, a proxy URL with `user:password@`) are
//! 0600; everything else is 0644. What depends on the running machine rather than on the config
//! (whether systemd-resolved runs, which interface holds the node's address) is decided by
//! `install.sh` on the node, which adapts these files as it places them (`bundle::install`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::RenderedFile;
use crate::config::{CgroupDriver, ClusterConfig, KubeProxyMode, Node, Proxy, Taint, TaintEffect};
use crate::net::IpFamily;
use crate::pki::inventory::{BOOTSTRAP_KUBECONFIG, CaKind, KUBECONFIG_DIR, PKI_DIR, ca_spec};
use crate::plan::NetworkPlan;

/// First line of every file, so that whoever edits one on the node knows it will not last.
const HEADER: &str = "# Written by kbundle; changes are overwritten on the next apply.\n";

/// Mode of ordinary configuration files.
const MODE_PUBLIC: u32 = 0o644;
/// Mode of files that hold a secret.
const MODE_SECRET: u32 = 0o600;

pub(crate) const KUBELET_CONFIG: &str = "/var/lib/kubelet/config.yaml";
const KUBELET_UNIT: &str = "/etc/systemd/system/kubelet.service";
/// Named to sort after every numbered drop-in (systemd applies them in lexical order, the last
/// `ExecStart` winning), so that a packaged `10-kubeadm.conf` cannot replace kbundle's command
/// line.
const KUBELET_DROP_IN: &str = "/etc/systemd/system/kubelet.service.d/99-kbundle.conf";
const KUBELET_PROXY_DROP_IN: &str = "/etc/systemd/system/kubelet.service.d/http-proxy.conf";
const CONTAINERD_UNIT: &str = "/etc/systemd/system/containerd.service";
const CONTAINERD_PROXY_DROP_IN: &str = "/etc/systemd/system/containerd.service.d/http-proxy.conf";
const CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";
/// containerd's registry host directory: `<dir>/<registry host[:port]>/hosts.toml`.
const REGISTRY_HOSTS_DIR: &str = "/etc/containerd/certs.d";
const MODULES_LOAD: &str = "/etc/modules-load.d/kubernetes.conf";
pub(crate) const SYSCTL: &str = "/etc/sysctl.d/99-kubernetes.conf";
const STATIC_POD_PATH: &str = "/etc/kubernetes/manifests";
/// The kubelet by name, not by path: systemd (239 and later) resolves a bare name through its
/// fixed search path, `/usr/local/bin` before `/usr/bin`, so one unit starts the kubelet of the
/// Kubernetes packages (`/usr/bin/kubelet`) and the one `kbundle apply --artifacts` places
/// (`/usr/local/bin/kubelet`, see `crate::artifacts`), whichever the node has; the one placed
/// by kbundle wins when both are there.
const KUBELET_BINARY: &str = "kubelet";

/// The taint kubeadm puts on control-plane nodes, so that workloads stay off them unless the node
/// also has the worker role.
const CONTROL_PLANE_TAINT: &str = "node-role.kubernetes.io/control-plane";

/// Docker Hub: images say `docker.io`, but the registry answers at `registry-1.docker.io`.
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_HOST: &str = "registry-1.docker.io";

/// Every configuration file of `node`, sorted by path.
pub(crate) fn node_files(
    config: &ClusterConfig,
    plan: &NetworkPlan,
    node: &Node,
) -> Vec<RenderedFile> {
    let mut files = shared_files(config, plan);
    files.push(kubelet_drop_in(node));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// The configuration files that are the same on every node (all but the kubelet drop-in, which
/// names the node), sorted by path: what a worker that joins later receives as it is.
pub(crate) fn shared_files(config: &ClusterConfig, plan: &NetworkPlan) -> Vec<RenderedFile> {
    let mut files = vec![
        kubelet_config(config, plan),
        kubelet_unit(),
        containerd_config(config),
        containerd_unit(),
        modules_load(config),
        sysctl(config),
    ];
    files.extend(registry_hosts(config));
    if let Some(proxy) = &config.proxy {
        files.extend(proxy_drop_ins(proxy, plan));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// kubelet's `KubeletConfiguration`, with the values kubeadm enforces (compared with the real
/// kubeadm's by `tests/tests/kubeadm_parity.rs`). Field names are the API's; serde writes them in
/// declaration order, which is kept alphabetical after `apiVersion` and `kind` like kubeadm's.
/// `serverTLSBootstrap` is left at kubelet's default (false), as kubeadm leaves it: the serving
/// certificate stays self-signed, since nothing would approve the CSRs kubelet would send.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KubeletConfiguration {
    api_version: &'static str,
    kind: &'static str,
    authentication: KubeletAuthentication,
    authorization: KubeletAuthorization,
    cgroup_driver: &'static str,
    #[serde(rename = "clusterDNS")]
    cluster_dns: Vec<String>,
    cluster_domain: String,
    container_runtime_endpoint: String,
    healthz_bind_address: &'static str,
    healthz_port: u16,
    max_pods: u32,
    read_only_port: u16,
    rotate_certificates: bool,
    static_pod_path: &'static str,
}

#[derive(Serialize)]
struct KubeletAuthentication {
    anonymous: Enabled,
    webhook: Enabled,
    x509: KubeletX509,
}

#[derive(Serialize)]
struct Enabled {
    enabled: bool,
}

#[derive(Serialize)]
struct KubeletX509 {
    #[serde(rename = "clientCAFile")]
    client_ca_file: String,
}

#[derive(Serialize)]
struct KubeletAuthorization {
    mode: &'static str,
}

/// `/var/lib/kubelet/config.yaml`. The container runtime endpoint is part of the configuration
/// (the 1.34+ way; kubeadm dropped `--container-runtime-endpoint`), so kubelet and containerd
/// read the socket from the same config value.
///
/// `resolvConf` is left out on purpose: on nodes where systemd-resolved's stub is in
/// `/etc/resolv.conf`, `install.sh` adds `/run/systemd/resolve/resolv.conf` (otherwise CoreDNS
/// would forward to the 127.0.0.53 stub, itself inside the pod, and loop). That is a fact of the
/// running machine, which only the node can see.
fn kubelet_config(config: &ClusterConfig, plan: &NetworkPlan) -> RenderedFile {
    let kubelet = KubeletConfiguration {
        api_version: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        authentication: KubeletAuthentication {
            // Only the API server (a client certificate from the cluster CA) and tokens checked
            // by the API server may talk to kubelet.
            anonymous: Enabled { enabled: false },
            webhook: Enabled { enabled: true },
            x509: KubeletX509 {
                client_ca_file: format!("{PKI_DIR}/{}.crt", ca_spec(CaKind::Cluster).file),
            },
        },
        authorization: KubeletAuthorization { mode: "Webhook" },
        cgroup_driver: cgroup_driver_name(config.container_runtime.cgroup_driver),
        cluster_dns: vec![plan.dns_service_ip.to_string()],
        cluster_domain: config.networking.dns_domain.clone(),
        container_runtime_endpoint: format!("unix://{}", config.container_runtime.socket),
        healthz_bind_address: "127.0.0.1",
        healthz_port: 10248,
        max_pods: config.networking.max_pods_per_node,
        read_only_port: 0,
        rotate_certificates: true,
        static_pod_path: STATIC_POD_PATH,
    };
    RenderedFile::new(
        KUBELET_CONFIG,
        format!("{HEADER}{}", crate::yaml::to_yaml(&kubelet)),
        MODE_PUBLIC,
    )
}

fn cgroup_driver_name(driver: CgroupDriver) -> &'static str {
    match driver {
        CgroupDriver::Systemd => "systemd",
        CgroupDriver::Cgroupfs => "cgroupfs",
    }
}

/// The kubelet unit as the Kubernetes packages ship it, plus ordering after containerd so that
/// kubelet does not start (and crash-loop) before its runtime is up. Written under
/// `/etc/systemd/system`, which takes precedence over a packaged unit of the same name.
fn kubelet_unit() -> RenderedFile {
    let contents = format!(
        "{HEADER}\
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target containerd.service

[Service]
ExecStart={KUBELET_BINARY}
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"
    );
    RenderedFile::new(KUBELET_UNIT, contents, MODE_PUBLIC)
}

/// containerd's unit as upstream ships it with its release archive, which has none: a node
/// installed from `kbundle apply --artifacts` has no package to bring one. `ExecStart` names the
/// binary without a path for the same reason as the kubelet's (systemd's search path finds
/// `/usr/local/bin/containerd` from the artifacts or `/usr/bin/containerd` from a package); the
/// unit under `/etc/systemd/system` takes precedence over a packaged one.
fn containerd_unit() -> RenderedFile {
    let contents = format!(
        "{HEADER}\
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target dbus.service

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
"
    );
    RenderedFile::new(CONTAINERD_UNIT, contents, MODE_PUBLIC)
}

/// kubelet's command line. kbundle issues `kubelet.conf` itself, so there is no
/// `--bootstrap-kubeconfig` (only a node that joins later has one, [`join_kubelet_drop_in`]).
/// Everything that can live in the configuration file does; what
/// remains is per node: its addresses, name, labels and taints.
///
/// Drop-ins apply in file-name order across every unit directory: this one sorts last, so a
/// packaged `10-kubeadm.conf` (from the kubeadm package) cannot replace its `ExecStart`
/// (preflight still warns about such a drop-in).
fn kubelet_drop_in(node: &Node) -> RenderedFile {
    let addresses = node
        .addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut arguments = vec![
        format!("--kubeconfig={KUBECONFIG_DIR}/kubelet.conf"),
        format!("--config={KUBELET_CONFIG}"),
        format!("--node-ip={addresses}"),
        format!("--hostname-override={}", node.name),
    ];
    let labels: Vec<String> = node
        .labels
        .iter()
        .filter(|(key, _)| kubelet_may_set_label(key))
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if !labels.is_empty() {
        arguments.push(format!("--node-labels={}", labels.join(",")));
    }
    let taints = registered_taints(node);
    if !taints.is_empty() {
        arguments.push(format!("--register-with-taints={}", taints.join(",")));
    }
    kubelet_command(&arguments)
}

/// The kubelet drop-in of a worker that joins later, for node `name` at `addresses` (the
/// `--node-ip` value): it starts with the bootstrap kubeconfig, and the kubelet writes
/// `kubelet.conf` itself once its certificate is signed (kubelet TLS bootstrap). No labels or
/// taints: the plan knows nothing of this node.
pub(crate) fn join_kubelet_drop_in(name: &str, addresses: &str) -> RenderedFile {
    kubelet_command(&[
        format!("--bootstrap-kubeconfig={KUBECONFIG_DIR}/{BOOTSTRAP_KUBECONFIG}"),
        format!("--kubeconfig={KUBECONFIG_DIR}/kubelet.conf"),
        format!("--config={KUBELET_CONFIG}"),
        format!("--node-ip={addresses}"),
        format!("--hostname-override={name}"),
    ])
}

/// The kubelet drop-in running the kubelet with `arguments`.
fn kubelet_command(arguments: &[String]) -> RenderedFile {
    let command_line = arguments
        .iter()
        .map(|argument| format!(" \\\n    {}", exec_argument(argument)))
        .collect::<String>();
    let contents = format!(
        "{HEADER}\
[Service]
# Clears the ExecStart of kubelet.service: a drop-in must reset it before replacing it.
ExecStart=
ExecStart={KUBELET_BINARY}{command_line}
"
    );
    RenderedFile::new(KUBELET_DROP_IN, contents, MODE_PUBLIC)
}

/// Whether kubelet may put label `key` on its own Node. The NodeRestriction admission plugin
/// refuses most labels under `kubernetes.io` and `k8s.io` from a kubelet (and kubelet refuses to
/// start with them); rather than track its short allow-list, every label under those domains is
/// left to whoever labels nodes through the API.
pub(crate) fn kubelet_may_set_label(key: &str) -> bool {
    let Some((prefix, _)) = key.split_once('/') else {
        return true;
    };
    !["kubernetes.io", "k8s.io"].iter().any(|domain| {
        prefix == *domain
            || prefix
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

/// The taint that keeps workloads off nodes whose only role is etcd.
pub(crate) const ETCD_TAINT: &str = "node-role.kubernetes.io/etcd";

/// Every taint a node carries: its taints in config order, then kubeadm's control-plane taint
/// for control-plane nodes that do not also take workloads, and [`ETCD_TAINT`] for nodes that
/// only run etcd (each unless the config already lists it). The kubelet registers with them
/// and the Node objects carry them.
pub(crate) fn node_taints(node: &Node) -> Vec<Taint> {
    let mut taints = node.taints.clone();
    let mut add = |key: &str| {
        let listed = taints
            .iter()
            .any(|taint| taint.key == key && taint.effect == TaintEffect::NoSchedule);
        if !listed {
            taints.push(Taint {
                key: key.to_owned(),
                value: None,
                effect: TaintEffect::NoSchedule,
            });
        }
    };
    if node.roles.control_plane && !node.roles.worker {
        add(CONTROL_PLANE_TAINT);
    }
    if node.roles.etcd && !node.roles.control_plane && !node.roles.worker {
        add(ETCD_TAINT);
    }
    taints
}

/// [`node_taints`] as the kubelet registers them: no pod is ever scheduled in the moment
/// before a taint would be added.
fn registered_taints(node: &Node) -> Vec<String> {
    node_taints(node).iter().map(taint_text).collect()
}

/// `key[=value]:Effect`, as `--register-with-taints` and `kubectl taint` take it.
fn taint_text(taint: &Taint) -> String {
    let effect = match taint.effect {
        TaintEffect::NoSchedule => "NoSchedule",
        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
        TaintEffect::NoExecute => "NoExecute",
    };
    match &taint.value {
        Some(value) => format!("{}={value}:{effect}", taint.key),
        None => format!("{}:{effect}", taint.key),
    }
}

/// containerd 2.x configuration (version 3; unlisted settings keep containerd's defaults):
/// its socket (the one kubelet is given), the sandbox image pinned to the configured image
/// repository and the release's pause tag, the registry host directory for mirrors, the runc
/// cgroup driver matching kubelet's, and any registry credentials.
///
/// Registry credentials: containerd 2.x has no field for them in `hosts.toml` (on purpose: no
/// plain-text secrets there), and a kubelet image credential provider would need a plugin binary
/// on every node. What works is the CRI image service's
/// `registry.configs."<host>".auth` table: deprecated, but kept until a secret plugin replaces it,
/// read for every CRI pull also when `config_path` is set, and since containerd 2.0.1 also for
/// the sandbox image (containerd#10916). `<host>` is the host containerd contacts, so Docker Hub
/// credentials are keyed by `registry-1.docker.io`. Because the file then holds passwords it is
/// written 0600.
fn containerd_config(config: &ClusterConfig) -> RenderedFile {
    let runtime = &config.container_runtime;
    let sandbox = format!(
        "{}/pause:{}",
        config.registry.image_repository, config.kubernetes_version.release.pause
    );
    let systemd_cgroup = runtime.cgroup_driver == CgroupDriver::Systemd;
    let mut contents = format!(
        "{HEADER}\
version = 3

[grpc]
address = {socket}

[plugins.'io.containerd.cri.v1.images'.pinned_images]
sandbox = {sandbox}

[plugins.'io.containerd.cri.v1.images'.registry]
config_path = {hosts_dir}

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
# Repeated from containerd's default so that this table alone defines a working runtime.
runtime_type = 'io.containerd.runc.v2'

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
SystemdCgroup = {systemd_cgroup}
",
        socket = toml_string(&runtime.socket),
        sandbox = toml_string(&sandbox),
        hosts_dir = toml_string(REGISTRY_HOSTS_DIR),
    );
    // One table per host: a repeated table is a TOML error, so the first credentials win.
    let mut credentials = BTreeMap::new();
    for credential in &config.registry.credentials {
        credentials
            .entry(contacted_host(&credential.registry))
            .or_insert(credential);
    }
    if !credentials.is_empty() {
        contents.push_str(
            "\n# Registry credentials (deprecated in containerd 2.x but read for every CRI pull;\n\
             # hosts.toml has no field for them). This is why this file is 0600.\n",
        );
    }
    for (host, credential) in &credentials {
        contents.push_str(&format!(
            "\n[plugins.'io.containerd.cri.v1.images'.registry.configs.{host}.auth]\n\
             username = {username}\n\
             password = {password}\n",
            host = toml_string(host),
            username = toml_string(&credential.username),
            password = toml_string(&credential.password),
        ));
    }
    let mode = if credentials.is_empty() {
        MODE_PUBLIC
    } else {
        MODE_SECRET
    };
    RenderedFile::new(CONTAINERD_CONFIG, contents, mode)
}

/// The host containerd contacts for images of `registry`.
fn contacted_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_HOST
    } else {
        registry
    }
}

/// One `hosts.toml` per mirrored registry: containerd tries each mirror in order and falls back
/// to the registry itself (`server`). Several config entries for the same registry become one
/// file, since they share its path.
fn registry_hosts(config: &ClusterConfig) -> Vec<RenderedFile> {
    let mut endpoints_by_registry: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for mirror in &config.registry.mirrors {
        let endpoints = endpoints_by_registry.entry(&mirror.registry).or_default();
        for endpoint in &mirror.endpoints {
            if !endpoints.contains(&endpoint.as_str()) {
                endpoints.push(endpoint);
            }
        }
    }
    endpoints_by_registry
        .into_iter()
        .map(|(registry, endpoints)| {
            let mut contents = format!(
                "{HEADER}server = {}\n",
                toml_basic_string(&format!("https://{}", contacted_host(registry)))
            );
            for endpoint in endpoints {
                contents.push_str(&format!(
                    "\n[host.{}]\ncapabilities = [\"pull\", \"resolve\"]\n",
                    toml_basic_string(endpoint)
                ));
            }
            RenderedFile::new(
                format!("{REGISTRY_HOSTS_DIR}/{registry}/hosts.toml"),
                contents,
                MODE_PUBLIC,
            )
        })
        .collect()
}

/// Modules loaded at boot: overlay for containerd's snapshotter, br_netfilter so that bridged pod
/// traffic passes through iptables (kube-proxy's rules), and IPVS's with `kubeProxyMode: ipvs`.
/// The install script also loads them at once: the `net.bridge` sysctls below only exist once
/// br_netfilter is loaded.
fn modules_load(config: &ClusterConfig) -> RenderedFile {
    let mut contents = format!("{HEADER}overlay\nbr_netfilter\n");
    if config.networking.kube_proxy_mode == KubeProxyMode::Ipvs {
        // kube-proxy's IPVS mode needs IPVS and its schedulers, and conntrack.
        contents.push_str("ip_vs\nip_vs_rr\nip_vs_wrr\nip_vs_sh\nnf_conntrack\n");
    }
    RenderedFile::new(MODULES_LOAD, contents, MODE_PUBLIC)
}

/// Forwarding and bridge filtering, which pod networking and kube-proxy need; IPv6 forwarding
/// only when the cluster has IPv6, so that single-stack IPv4 nodes keep their IPv6 behaviour
/// (enabling forwarding turns off accepting router advertisements where `accept_ra` is 1:
/// `install.sh` sets 2 on the interface that holds the node's address).
fn sysctl(config: &ClusterConfig) -> RenderedFile {
    let mut contents = format!(
        "{HEADER}\
net.bridge.bridge-nf-call-ip6tables = 1
net.bridge.bridge-nf-call-iptables = 1
net.ipv4.ip_forward = 1
"
    );
    let has_ipv6 = config
        .networking
        .families
        .iter()
        .any(|family| family.family == IpFamily::V6);
    if has_ipv6 {
        contents.push_str("net.ipv6.conf.all.forwarding = 1\n");
    }
    RenderedFile::new(SYSCTL, contents, MODE_PUBLIC)
}

/// The proxy for containerd (image pulls) and kubelet, as systemd drop-ins of their own: never
/// system-wide (`/etc/environment`), where every program on the node would pick it up.
/// `NO_PROXY` is the plan's complete list, so cluster traffic never goes to the proxy. Both
/// spellings are set because some programs read only the lower-case variables.
///
/// Each drop-in is one whole file at a fixed path, so a re-apply rewrites it rather than adding
/// lines to it. A proxy URL may carry `user:password@`; the files are then 0600.
fn proxy_drop_ins(proxy: &Proxy, plan: &NetworkPlan) -> Vec<RenderedFile> {
    let no_proxy = plan.no_proxy_value();
    let mut variables: Vec<(&str, &str)> = Vec::new();
    if let Some(http) = &proxy.http {
        variables.push(("HTTP_PROXY", http));
    }
    if let Some(https) = &proxy.https {
        variables.push(("HTTPS_PROXY", https));
    }
    variables.push(("NO_PROXY", &no_proxy));
    let mut contents = format!("{HEADER}[Service]\n");
    for (name, value) in &variables {
        for spelling in [name.to_string(), name.to_ascii_lowercase()] {
            contents.push_str(&format!(
                "Environment={}\n",
                environment_assignment(&spelling, value)
            ));
        }
    }
    let has_secret = [&proxy.http, &proxy.https]
        .into_iter()
        .flatten()
        .any(|url| has_userinfo(url));
    let mode = if has_secret { MODE_SECRET } else { MODE_PUBLIC };
    [CONTAINERD_PROXY_DROP_IN, KUBELET_PROXY_DROP_IN]
        .into_iter()
        .map(|path| RenderedFile::new(path, contents.clone(), mode))
        .collect()
}

/// Whether a URL carries `user[:password]@` before its host.
fn has_userinfo(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.contains('@')
}

/// One argument of a systemd `ExecStart=` line (systemd.syntax(7), "Quoting"; systemd.service(5),
/// "Command lines"). `%` starts a specifier and `$` a variable everywhere, so both are doubled;
/// an argument with any other unusual character is double-quoted with C escapes. Validated
/// names, labels, taints and addresses never need the quotes, but nothing relies on that.
fn exec_argument(argument: &str) -> String {
    let escaped = argument.replace('%', "%%").replace('$', "$$");
    let plain = !escaped.is_empty()
        && escaped
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=.,:/@+%$".contains(c));
    if plain {
        escaped
    } else {
        systemd_quoted(&escaped)
    }
}

/// `"NAME=value"` for `Environment=`: there `%` is a specifier (doubled) but `$` is literal.
fn environment_assignment(name: &str, value: &str) -> String {
    systemd_quoted(&format!("{name}={}", value.replace('%', "%%")))
}

/// A double-quoted systemd word: backslash, quote and control characters escaped C-style.
fn systemd_quoted(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_ascii_control() => quoted.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A TOML string for `config.toml`: a literal string (`'…'`, as containerd's own `config dump`
/// writes them) when the text can be one, else an escaped basic string. Passwords may hold
/// anything, quotes included.
fn toml_string(text: &str) -> String {
    let literal_ok = !text.contains('\'') && !text.chars().any(|c| c.is_control() && c != '\t');
    if literal_ok {
        format!("'{text}'")
    } else {
        toml_basic_string(text)
    }
}

/// A TOML basic string (`"…"`) with the escapes TOML requires.
fn toml_basic_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
