//! Preflight: what the node must offer before anything is installed. One remote script collects
//! every fact; each failed check is reported, and all are fatal unless `--ignore-preflight`;
//! warnings are reported and never fatal. What the bundle needs, per node: containerd 2.0 or
//! newer (its `config.toml` is version 3, which 1.x refuses or misreads), runc, the CNI plugins
//! flannel's configuration names, a kubelet within the version skew policy, curl where the
//! wait phases run, and no other kubelet drop-in replacing the command line.

use super::root;
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

pub(crate) struct Preflight;

/// What a node's checks depend on.
struct Needs<'a> {
    address: &'a str,
    is_control_plane: bool,
    /// The wait-etcd phase runs here (the first etcd member): it needs curl too.
    runs_etcd_wait: bool,
    staging: &'a str,
    /// With `--artifacts`, containerd, runc, the CNI plugins, the kubelet and kubectl come next,
    /// so they need not be there.
    from_artifacts: bool,
    /// The bundle's Kubernetes minor version, for the kubelet's version skew.
    minor: u32,
    /// The CNI plugins the CNI configuration uses (flannel's), if the bundle installs one.
    cni_plugins: &'a [&'a str],
}

/// The CNI plugins flannel's configuration calls (`flannel` itself comes with its DaemonSet),
/// and `loopback`, which containerd uses for every pod.
const FLANNEL_CNI_PLUGINS: [&str; 4] = ["bridge", "host-local", "portmap", "loopback"];

/// Prints `name|ok|detail`, `name|fail|detail` or `name|warn|detail` per check.
fn script(needs: &Needs<'_>) -> String {
    let mut script = String::from(
        r#"check() { if eval "$2"; then echo "$1|ok|$3"; else echo "$1|fail|$4"; fi; }
warn() { if eval "$2"; then echo "$1|ok|$3"; else echo "$1|warn|$4"; fi; }
arch=$(uname -m)
check arch '[ "$arch" = x86_64 ] || [ "$arch" = aarch64 ]' "$arch" "unsupported architecture $arch"
check os '[ -r /etc/os-release ]' "$(. /etc/os-release 2>/dev/null; echo "$PRETTY_NAME")" "no /etc/os-release"
check swap '[ -z "$(tail -n +2 /proc/swaps 2>/dev/null)" ]' "off" "swap is on: kubelet refuses to run (swapoff -a and remove it from /etc/fstab)"
free=$(df -Pk /var 2>/dev/null | awk 'NR==2 {print $4}')
check disk '[ "${free:-0}" -ge 2097152 ]' "2 GiB or more free in /var" "less than 2 GiB free in /var"
check sha256sum 'command -v sha256sum >/dev/null' "present" "sha256sum is missing (coreutils)"
check tar 'command -v tar >/dev/null' "present" "tar is missing"
echo "clock|value|$(date +%s)"
"#,
    );
    if needs.from_artifacts {
        script.push_str(
            "echo \"binaries|info|containerd, runc, the CNI plugins, kubelet and kubectl come from --artifacts\"\n",
        );
    } else {
        script.push_str(
            r#"check containerd 'command -v containerd >/dev/null' "present" "containerd is not installed (2.0.1 or newer; or install it with --artifacts)"
if command -v containerd >/dev/null; then
  containerd_version=$(containerd --version 2>/dev/null | awk '{print $3}')
  containerd_major=$(echo "${containerd_version#v}" | cut -d. -f1)
  check containerd-version '[ "${containerd_major:-0}" -ge 2 ] 2>/dev/null' "$containerd_version" "containerd ${containerd_version:-of unknown version} is too old: the bundle's config.toml is version 3, which containerd 1.x refuses or misreads (its CRI settings, SystemdCgroup among them, would be ignored and the cgroup driver would no longer match the kubelet's); install containerd 2.0.1 or newer (or use --artifacts)"
fi
check runc 'command -v runc >/dev/null' "present" "runc is not installed: containerd runs containers with it (install runc, or use --artifacts)"
check kubelet 'command -v kubelet >/dev/null' "present" "kubelet is not installed (or install it with --artifacts)"
"#,
        );
        script.push_str(&format!(
            r#"if command -v kubelet >/dev/null; then
  kubelet_version=$(kubelet --version 2>/dev/null | awk '{{print $2}}')
  kubelet_minor=$(echo "$kubelet_version" | cut -d. -f2)
  check kubelet-version '[ "${{kubelet_minor:-0}}" -le {minor} ] 2>/dev/null && [ "${{kubelet_minor:-0}}" -ge {oldest} ] 2>/dev/null' "$kubelet_version" "kubelet ${{kubelet_version:-of unknown version}} is outside the version skew policy for Kubernetes 1.{minor} (a kubelet may be up to three minors older than the API server, never newer): install kubelet 1.{minor} (or use --artifacts)"
fi
"#,
            minor = needs.minor,
            oldest = needs.minor.saturating_sub(3),
        ));
        if !needs.cni_plugins.is_empty() {
            script.push_str(&format!(
                "missing_plugins=; for plugin in {}; do [ -x \"/opt/cni/bin/$plugin\" ] || missing_plugins=\"$missing_plugins $plugin\"; done\ncheck cni-plugins '[ -z \"$missing_plugins\" ]' present \"the CNI plugins$missing_plugins are missing from /opt/cni/bin: the pod network's configuration calls them (install the CNI plugins release, or use --artifacts)\"\n",
                needs.cni_plugins.join(" ")
            ));
        }
    }
    // Another kubelet drop-in that sets ExecStart (the kubeadm package's 10-kubeadm.conf) may
    // replace kbundle's command line: systemd applies drop-ins in lexical order.
    script.push_str(
        r#"foreign=; for dropin in /etc/systemd/system/kubelet.service.d/*.conf /usr/lib/systemd/system/kubelet.service.d/*.conf /lib/systemd/system/kubelet.service.d/*.conf; do
  case $dropin in */99-kbundle.conf|*/10-kbundle.conf|*'*'*) continue ;; esac
  [ -f "$dropin" ] && grep -q '^ExecStart=.' "$dropin" && foreign="$foreign $dropin"
done
warn kubelet-drop-ins '[ -z "$foreign" ]' "none but kbundle's" "another kubelet drop-in sets ExecStart and may replace kbundle's command line:$foreign (remove it; the kubeadm package installs 10-kubeadm.conf)"
"#,
    );
    script.push_str(&format!(
        "address={}\ncheck address 'ip -o addr show | grep -qw -- \"$address\"' \"$address is on this node\" \"$address is not an address of this node: the bundle was made for another machine\"\n",
        quote(needs.address)
    ));
    // Ports the cluster's components will bind, checked only before the first install (on a
    // re-apply they are ours).
    let mut ports = vec![10250];
    if needs.is_control_plane {
        ports.extend([6443, 10257, 10259, 2379, 2380]);
    }
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    script.push_str(&format!(
        "if [ ! -f \"{staging}/SHA256SUMS\" ] && command -v ss >/dev/null; then for port in {ports}; do check \"port-$port\" '[ -z \"$(ss -Hltn \"sport = :'$port'\")\" ]' free \"port $port is already in use by another program\"; done; fi\n",
        staging = needs.staging,
        ports = ports.join(" ")
    ));
    script.push_str("echo \"hostname|info|$(hostname)\"\n");
    if needs.is_control_plane || needs.runs_etcd_wait {
        script.push_str("check curl 'command -v curl >/dev/null' present \"curl is missing (the wait phases use it)\"\n");
    }
    if needs.is_control_plane && !needs.from_artifacts {
        script.push_str("check kubectl 'command -v kubectl >/dev/null' present \"kubectl is missing (the addons phase uses it)\"\n");
    }
    script
}

impl Phase for Preflight {
    fn name(&self) -> &'static str {
        "preflight"
    }

    fn title(&self) -> &'static str {
        "Check the nodes"
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        // Checks are for what is about to be installed; a node already running this very
        // bundle has nothing to install.
        if context.facts(&node.name).up_to_date {
            return Ok("nothing to check: the node already runs this bundle".into());
        }
        let address = node.addresses.first().cloned().unwrap_or_default();
        let first_etcd = context.nodes.iter().position(|n| n.has_role("etcd"));
        let with_flannel = context
            .bundle
            .manifest
            .files
            .iter()
            .any(|file| file.path == "addons/50-flannel.yaml");
        let minor = context
            .bundle
            .manifest
            .kubernetes_version
            .trim_start_matches('v')
            .split('.')
            .nth(1)
            .and_then(|minor| minor.parse().ok())
            .unwrap_or(0);
        let needs = Needs {
            address: &address,
            is_control_plane: node.has_role("control-plane"),
            runs_etcd_wait: first_etcd.is_some_and(|index| context.nodes[index].name == node.name),
            staging: &context.staging,
            from_artifacts: context.artifacts.is_some(),
            minor,
            cni_plugins: if with_flannel {
                &FLANNEL_CNI_PLUGINS
            } else {
                &[]
            },
        };
        let output = root(context, node, &script(&needs))?;
        let now = crate::clock::unix_now();
        let mut failures = Vec::new();
        let mut ignored = Vec::new();
        let mut warnings = Vec::new();
        for line in output.stdout.lines() {
            let mut parts = line.splitn(3, '|');
            let (Some(name), Some(status), Some(detail)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let failed = match status {
                "fail" => Some(detail.to_owned()),
                "warn" => {
                    warnings.push(format!("warning: {name}: {detail}"));
                    None
                }
                "value" if name == "clock" => detail
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|remote| (remote - now).abs() > 30)
                    .map(|remote| format!("clock is {} s off this machine's: certificates may look not yet valid or expired", remote - now)),
                _ => None,
            };
            if let Some(reason) = failed {
                if context
                    .options
                    .ignore_preflight
                    .iter()
                    .any(|ignore| ignore == name || ignore == "all")
                {
                    ignored.push(format!("{name} (ignored)"));
                } else {
                    failures.push(format!("{name}: {reason}"));
                }
            }
        }
        if failures.is_empty() {
            let passed = if ignored.is_empty() {
                "all checks passed".to_owned()
            } else {
                format!("passed; {}", ignored.join(", "))
            };
            Ok(if warnings.is_empty() {
                passed
            } else {
                format!("{passed}; {}", warnings.join("; "))
            })
        } else {
            Err(format!(
                "{} (--ignore-preflight <check> to go on anyway)",
                failures.join("; ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FLANNEL_CNI_PLUGINS, Needs, script};

    fn needs() -> Needs<'static> {
        Needs {
            address: "192.0.2.21",
            is_control_plane: false,
            runs_etcd_wait: false,
            staging: ".kbundle/demo",
            from_artifacts: false,
            minor: 37,
            cni_plugins: &FLANNEL_CNI_PLUGINS,
        }
    }

    #[test]
    fn checks_follow_what_the_node_needs() {
        let worker = script(&needs());
        assert!(worker.contains("check containerd-version"));
        assert!(worker.contains("check runc"));
        assert!(worker.contains("for plugin in bridge host-local portmap loopback"));
        // The skew window for 1.37: kubelets 1.34 to 1.37.
        assert!(worker.contains("-le 37") && worker.contains("-ge 34"));
        assert!(
            !worker.contains("check curl"),
            "a plain worker runs no wait phase"
        );

        let first_etcd = script(&Needs {
            runs_etcd_wait: true,
            ..needs()
        });
        assert!(
            first_etcd.contains("check curl"),
            "wait-etcd runs curl there"
        );

        let no_cni = script(&Needs {
            cni_plugins: &[],
            ..needs()
        });
        assert!(!no_cni.contains("cni-plugins"));

        let from_artifacts = script(&Needs {
            from_artifacts: true,
            ..needs()
        });
        for absent in [
            "containerd-version",
            "check runc",
            "kubelet-version",
            "cni-plugins",
        ] {
            assert!(
                !from_artifacts.contains(absent),
                "{absent} comes from --artifacts"
            );
        }
        assert!(from_artifacts.contains("warn kubelet-drop-ins"));
    }
}
