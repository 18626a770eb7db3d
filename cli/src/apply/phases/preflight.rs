//! Preflight: what the node must offer before anything is installed. One remote script collects
//! every fact; each failed check is reported, and all are fatal unless `--ignore-preflight`.

use super::root;
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

pub(crate) struct Preflight;

/// Prints `name|ok|detail` or `name|fail|detail` per check. With `--artifacts`
/// (`from_artifacts`), containerd, the kubelet and kubectl come next, so they need not be there.
fn script(address: &str, is_control_plane: bool, staging: &str, from_artifacts: bool) -> String {
    let mut script = String::from(
        r#"check() { if eval "$2"; then echo "$1|ok|$3"; else echo "$1|fail|$4"; fi; }
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
    if from_artifacts {
        script.push_str(
            "echo \"binaries|info|containerd, kubelet and kubectl come from --artifacts\"\n",
        );
    } else {
        script.push_str(
            r#"check containerd 'command -v containerd >/dev/null' "present" "containerd is not installed (2.0.1 or newer; or install it with --artifacts)"
check kubelet 'command -v kubelet >/dev/null' "present" "kubelet is not installed (or install it with --artifacts)"
"#,
        );
    }
    // The address is a validated IP (digits, dots, colons): safe inside the quotes.
    script.push_str(&format!(
        "address={}\ncheck address 'ip -o addr show | grep -qw -- \"$address\"' \"$address is on this node\" \"$address is not an address of this node: the bundle was made for another machine\"\n",
        quote(address)
    ));
    // Ports the cluster's components will bind, checked only before the first install (on a
    // re-apply they are ours).
    let mut ports = vec![10250];
    if is_control_plane {
        ports.extend([6443, 10257, 10259, 2379, 2380]);
    }
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    script.push_str(&format!(
        "if [ ! -f \"{staging}/SHA256SUMS\" ] && command -v ss >/dev/null; then for port in {ports}; do check \"port-$port\" '[ -z \"$(ss -Hltn \"sport = :'$port'\")\" ]' free \"port $port is already in use by another program\"; done; fi\n",
        ports = ports.join(" ")
    ));
    script.push_str("echo \"hostname|info|$(hostname)\"\n");
    if is_control_plane {
        script.push_str("check curl 'command -v curl >/dev/null' present \"curl is missing (the wait phases use it)\"\n");
        if !from_artifacts {
            script.push_str("check kubectl 'command -v kubectl >/dev/null' present \"kubectl is missing (the addons phase uses it)\"\n");
        }
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
        let output = root(
            context,
            node,
            &script(
                &address,
                node.has_role("control-plane"),
                &context.staging,
                context.artifacts.is_some(),
            ),
        )?;
        let now = crate::clock::unix_now();
        let mut failures = Vec::new();
        let mut ignored = Vec::new();
        for line in output.stdout.lines() {
            let mut parts = line.splitn(3, '|');
            let (Some(name), Some(status), Some(detail)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let failed = match status {
                "fail" => Some(detail.to_owned()),
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
            Ok(if ignored.is_empty() {
                "all checks passed".into()
            } else {
                format!("passed; {}", ignored.join(", "))
            })
        } else {
            Err(format!(
                "{} (--ignore-preflight <check> to go on anyway)",
                failures.join("; ")
            ))
        }
    }
}
