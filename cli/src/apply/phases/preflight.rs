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
    /// Binaries the node lacks are reported (`missing|NAME|`), to be fetched and installed,
    /// rather than failed. A binary present at a wrong version still fails.
    fetch_missing: bool,
    /// The versions the bundle pins for containerd and the kubelet (what a fix installs).
    containerd_version: &'a str,
    kubelet_version: &'a str,
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
        // present NAME TEST MESSAGE: without it the node fails, or, when apply fetches what
        // nodes lack, it is reported missing and installed.
        let present = |name: &str, test: &str, message: &str| {
            if needs.fetch_missing {
                format!(
                    "if {test}; then echo '{name}|ok|present'; else echo 'missing|{name}|'; fi\n"
                )
            } else {
                format!("check {name} '{test}' present \"{message}\"\n")
            }
        };
        script.push_str(&present(
            "containerd",
            "command -v containerd >/dev/null",
            "containerd is not installed (2.0.1 or newer; or let kbundle install it: apply without --no-fetch, or with --artifacts)",
        ));
        script.push_str(&format!(
            r#"if command -v containerd >/dev/null; then
  containerd_version=$(containerd --version 2>/dev/null | awk '{{print $3}}')
  containerd_major=$(echo "${{containerd_version#v}}" | cut -d. -f1)
  check containerd-version '[ "${{containerd_major:-0}}" -ge 2 ] 2>/dev/null' "$containerd_version" "containerd ${{containerd_version:-of unknown version}} ($(command -v containerd)) is too old: the bundle's config.toml is version 3, which containerd 1.x refuses or misreads (its CRI settings, SystemdCgroup among them, would be ignored and the cgroup driver would no longer match the kubelet's); remove it (apt-get remove containerd) and apply again, and kbundle installs containerd {containerd} itself (or install 2.0.1 or newer yourself)"
fi
"#,
            containerd = needs.containerd_version,
        ));
        script.push_str(&present(
            "runc",
            "command -v runc >/dev/null",
            "runc is not installed: containerd runs containers with it (install runc, or let kbundle install it: apply without --no-fetch, or with --artifacts)",
        ));
        script.push_str(&present(
            "kubelet",
            "command -v kubelet >/dev/null",
            "kubelet is not installed (or let kbundle install it: apply without --no-fetch, or with --artifacts)",
        ));
        script.push_str(&format!(
            r#"if command -v kubelet >/dev/null; then
  kubelet_version=$(kubelet --version 2>/dev/null | awk '{{print $2}}')
  kubelet_minor=$(echo "$kubelet_version" | cut -d. -f2)
  check kubelet-version '[ "${{kubelet_minor:-0}}" -le {minor} ] 2>/dev/null && [ "${{kubelet_minor:-0}}" -ge {oldest} ] 2>/dev/null' "$kubelet_version" "kubelet ${{kubelet_version:-of unknown version}} ($(command -v kubelet)) is outside the version skew policy for Kubernetes 1.{minor} (a kubelet may be up to three minors older than the API server, never newer): remove it (apt-get remove kubelet) and apply again, and kbundle installs kubelet {kubelet} itself (or install kubelet 1.{minor} yourself)"
fi
"#,
            minor = needs.minor,
            oldest = needs.minor.saturating_sub(3),
            kubelet = needs.kubelet_version,
        ));
        if !needs.cni_plugins.is_empty() {
            script.push_str(&format!(
                "missing_plugins=; for plugin in {}; do [ -x \"/opt/cni/bin/$plugin\" ] || missing_plugins=\"$missing_plugins $plugin\"; done\n",
                needs.cni_plugins.join(" ")
            ));
            script.push_str(&present(
                "cni-plugins",
                "[ -z \"$missing_plugins\" ]",
                "the CNI plugins$missing_plugins are missing from /opt/cni/bin: the pod network's configuration calls them (install the CNI plugins release, or let kbundle install it: apply without --no-fetch, or with --artifacts)",
            ));
        }
        if needs.is_control_plane {
            script.push_str(&present(
                "kubectl",
                "command -v kubectl >/dev/null",
                "kubectl is missing: the node-ranges, addons and validate phases run it here (or let kbundle install it: apply without --no-fetch, or with --artifacts)",
            ));
        }
        if needs.fetch_missing {
            // crictl is no requirement (reset uses it when present), but it comes along.
            script.push_str("command -v crictl >/dev/null || echo 'missing|crictl|'\n");
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
    // re-apply they are ours). Installed before: apply's upload is there, or the journal every
    // install writes (a node installed by the Ansible or cloud-init export has no upload of
    // apply's).
    let mut ports = vec![10250];
    if needs.is_control_plane {
        ports.extend([6443, 10257, 10259, 2379, 2380]);
    }
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    script.push_str(&format!(
        "if [ ! -f \"{staging}/SHA256SUMS\" ] && [ ! -f {JOURNAL} ] && command -v ss >/dev/null; then for port in {ports}; do check \"port-$port\" '[ -z \"$(ss -Hltn \"sport = :'$port'\")\" ]' free \"port $port is already in use by another program\"; done; fi\n",
        staging = needs.staging,
        JOURNAL = kbundle_core::bundle::install::JOURNAL,
        ports = ports.join(" ")
    ));
    script.push_str("echo \"hostname|info|$(hostname)\"\n");
    if needs.is_control_plane || needs.runs_etcd_wait {
        script.push_str("check curl 'command -v curl >/dev/null' present \"curl is missing (the wait phases use it)\"\n");
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
        let listed: serde_json::Value = context
            .bundle
            .entry(kbundle_core::bundle::layout::ARTIFACTS_JSON)
            .and_then(|entry| serde_json::from_slice(&entry.contents).ok())
            .unwrap_or_default();
        let pinned = |name: &str| {
            listed["binaries"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|binary| binary["name"] == name)
                .and_then(|binary| binary["version"].as_str())
                .unwrap_or("of the bundle's version")
                .to_owned()
        };
        let needs = Needs {
            address: &address,
            is_control_plane: node.has_role("control-plane"),
            runs_etcd_wait: first_etcd.is_some_and(|index| context.nodes[index].name == node.name),
            staging: &context.staging,
            from_artifacts: context.artifacts.is_some(),
            fetch_missing: context.fetch.is_some(),
            containerd_version: &pinned("containerd"),
            kubelet_version: &pinned("kubelet"),
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
        let mut missing = Vec::new();
        let mut arch = String::new();
        for line in output.stdout.lines() {
            let mut parts = line.splitn(3, '|');
            let (Some(name), Some(status), Some(detail)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if name == "missing" {
                missing.push(status.to_owned());
                continue;
            }
            if name == "arch" {
                arch = match detail {
                    "x86_64" => "amd64".to_owned(),
                    "aarch64" => "arm64".to_owned(),
                    other => other.to_owned(),
                };
            }
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
        context.learn(&node.name, |facts| {
            facts.arch = arch;
            facts.missing.clone_from(&missing);
        });
        if failures.is_empty() {
            let mut passed = if ignored.is_empty() {
                "all checks passed".to_owned()
            } else {
                format!("passed; {}", ignored.join(", "))
            };
            if !missing.is_empty() {
                passed.push_str(&format!(
                    "; missing, to be installed by kbundle: {}",
                    missing.join(", ")
                ));
            }
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
            fetch_missing: false,
            containerd_version: "2.1.4",
            kubelet_version: "v1.37.2",
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

        // A node installed before, by apply or by an export (which writes the journal but
        // stages elsewhere), binds the ports itself: they are checked only on a fresh node.
        assert!(worker.contains(
            "if [ ! -f \".kbundle/demo/SHA256SUMS\" ] && [ ! -f /var/lib/kbundle/journal ] && command -v ss"
        ));

        // When apply fetches what nodes lack, a missing binary is reported, a wrong version
        // still fails with the fix naming what kbundle installs.
        let fetching = script(&Needs {
            fetch_missing: true,
            is_control_plane: true,
            ..needs()
        });
        assert!(fetching.contains(
            "if command -v containerd >/dev/null; then echo 'containerd|ok|present'; else echo 'missing|containerd|'; fi"
        ));
        assert!(fetching.contains("else echo 'missing|kubectl|'"));
        assert!(fetching.contains("echo 'missing|crictl|'"));
        assert!(!fetching.contains("check containerd "));
        assert!(fetching.contains("check containerd-version"));
        assert!(fetching.contains("kbundle installs containerd 2.1.4 itself"));
        assert!(fetching.contains("kbundle installs kubelet v1.37.2 itself"));
    }
}
