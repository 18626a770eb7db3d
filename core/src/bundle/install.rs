//! `nodes/<node>/install.sh`: installs one node by hand, as root, from an unpacked bundle.
//! POSIX shell (shellcheck-clean), idempotent: each file is compared with what is installed and
//! only a changed file is replaced (written beside it, then renamed, so a reader never sees half
//! a file and a running binary is never overwritten in place; the replaced file is kept under
//! /var/lib/kbundle/backup/<time>/); services restart only when their files changed; a second run
//! changes nothing and says so.

use crate::render::RenderedFile;

/// What must happen when a file changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    /// Nothing: the kubelet watches its static pod folder, certificates are re-read.
    None,
    /// `systemctl daemon-reload`, then restart containerd.
    Containerd,
    /// `systemctl daemon-reload`, then restart the kubelet.
    Kubelet,
    /// `sysctl --system`.
    Sysctl,
    /// Load the kernel modules.
    Modules,
}

impl Effect {
    /// The name install.sh and the reports use: `none`, `containerd`, `kubelet`, `sysctl`,
    /// `modules`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Containerd => "containerd",
            Self::Kubelet => "kubelet",
            Self::Sysctl => "sysctl",
            Self::Modules => "modules",
        }
    }
}

/// What a change of this node file restarts: a service, a kernel setting, or the static pod the
/// kubelet recreates; `None` when nothing restarts (certificates are re-read).
pub fn restart_of(path: &str) -> Option<String> {
    match effect_of(path) {
        Effect::None => path
            .strip_prefix("/etc/kubernetes/manifests/")
            .and_then(|pod| pod.strip_suffix(".yaml"))
            .map(|pod| format!("static pod {pod}")),
        effect => Some(effect.name().to_owned()),
    }
}

/// Which service a node file belongs to.
pub fn effect_of(path: &str) -> Effect {
    if path.starts_with("/etc/containerd/") || path.contains("/containerd.service") {
        Effect::Containerd
    } else if path.starts_with("/etc/systemd/system/kubelet.service")
        || path.starts_with("/var/lib/kubelet/")
        || path == "/etc/kubernetes/kubelet.conf"
        || path == "/etc/kubernetes/pki/ca.crt"
    {
        Effect::Kubelet
    } else if path.starts_with("/etc/sysctl.d/") {
        Effect::Sysctl
    } else if path.starts_with("/etc/modules-load.d/") {
        Effect::Modules
    } else {
        Effect::None
    }
}

/// `sha256sum -c` input for the node's files, paths relative to its rootfs.
pub fn checksums(files: &[RenderedFile], sha256: impl Fn(&[u8]) -> String) -> String {
    files
        .iter()
        .map(|file| {
            format!(
                "{}  {}\n",
                sha256(file.contents.as_bytes()),
                file.path.trim_start_matches('/')
            )
        })
        .collect()
}

/// The script for `node` of `cluster`, installing `files`.
pub fn script(cluster: &str, node: &str, files: &[RenderedFile]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        r#"#!/bin/sh
# Installs node {node} of cluster {cluster} from this kbundle bundle.
# Run as root on {node}, from anywhere:  sh nodes/{node}/install.sh
# Safe to run again: unchanged files are left alone and nothing restarts.
# KBUNDLE_ROOT=/some/dir installs the files under that directory instead of / and only
# prints the service actions (for inspection and tests). KBUNDLE_HOLD: see held() below.
set -eu

node={node}
here=$(cd "$(dirname "$0")" && pwd)
rootfs="$here/rootfs"
root="${{KBUNDLE_ROOT:-}}"
changed=0
run_started=$(date +%Y%m%dT%H%M%S)
restart_containerd=0
restart_kubelet=0
reload_sysctl=0
load_modules=0

say() {{ printf 'kbundle[%s]: %s\n' "$node" "$*"; }}
fail() {{ say "error: $*" >&2; exit 1; }}

[ "$(id -u)" -eq 0 ] || fail "run me as root (sudo sh $0)"
command -v sha256sum >/dev/null || fail "sha256sum is missing (coreutils)"

say "checking the bundle's files"
(cd "$rootfs" && sha256sum --quiet --strict -c "$here/SHA256SUMS") ||
  fail "checksums do not match: the bundle is damaged or was altered"

# KBUNDLE_HOLD="kube-controller-manager.yaml ..." leaves those static pods out for now:
# kbundle apply holds kube-controller-manager back until every Node carries its planned pod range.
held() {{
  for name in ${{KBUNDLE_HOLD:-}}; do
    [ "etc/kubernetes/manifests/$name" = "$1" ] && return 0
  done
  return 1
}}

# place PATH MODE EFFECT: installs rootfs/PATH at $root/PATH unless it is already there.
place() {{
  if held "$1"; then
    say "holding /$1 back for now"
    return 0
  fi
  source_file="$rootfs/$1"
  target="$root/$1"
  if [ -f "$target" ] && cmp -s "$source_file" "$target" &&
    [ "$(stat -c %a "$target")" = "$2" ]; then
    return 0
  fi
  directory=$(dirname "$target")
  # Folders readable as kubeadm leaves them; files are private until their mode is set.
  (umask 022 && mkdir -p "$directory")
  # What is replaced is kept: /var/lib/kbundle/backup/<time of this run>/<path>.
  if [ -f "$target" ]; then
    kept="$root/var/lib/kbundle/backup/$run_started/$1"
    (umask 077 && mkdir -p "$(dirname "$kept")")
    cp -p "$target" "$kept"
  fi
  # Write beside the target, then rename: readers never see half a file, and a running
  # binary is replaced instead of overwritten ("Text file busy").
  temporary="$target.kbundle-new.$$"
  cp "$source_file" "$temporary"
  chmod "$2" "$temporary"
  mv -f "$temporary" "$target"
  say "installed /$1"
  changed=$((changed + 1))
  case "$3" in
    containerd) restart_containerd=1 ;;
    kubelet) restart_kubelet=1 ;;
    sysctl) reload_sysctl=1 ;;
    modules) load_modules=1 ;;
  esac
}}

# run COMMAND...: runs it, or only prints it when installing into KBUNDLE_ROOT.
run() {{
  if [ -n "$root" ]; then
    say "would run: $*"
  else
    say "running: $*"
    "$@"
  fi
}}

umask 077
"#
    ));
    // Secrets' folders stay private; the rest is readable as kubeadm leaves it.
    out.push_str(
        "(umask 022 && mkdir -p \"$root/etc/kubernetes/pki\" \"$root/etc/kubernetes/manifests\")\n",
    );
    out.push_str("chmod 700 \"$root/etc/kubernetes/manifests\"\n\n");
    let mut sorted: Vec<&RenderedFile> = files.iter().collect();
    // Keys and configuration before the units that read them; static pods last, so the kubelet
    // starts them with everything in place.
    sorted.sort_by_key(|file| {
        (
            file.path.starts_with("/etc/kubernetes/manifests/"),
            file.path.clone(),
        )
    });
    for file in sorted {
        let effect = effect_of(&file.path).name();
        out.push_str(&format!(
            "place '{}' {:o} {effect}\n",
            file.path.trim_start_matches('/'),
            file.mode
        ));
    }
    out.push_str(
        r#"
if [ "$load_modules" -eq 1 ]; then
  run modprobe overlay
  run modprobe br_netfilter
fi
if [ "$reload_sysctl" -eq 1 ]; then
  run sysctl --system
fi
if [ "$restart_containerd" -eq 1 ] || [ "$restart_kubelet" -eq 1 ]; then
  run systemctl daemon-reload
fi
if [ "$restart_containerd" -eq 1 ]; then
  run systemctl enable containerd
  run systemctl restart containerd
fi
if [ "$restart_kubelet" -eq 1 ]; then
  run systemctl enable kubelet
  run systemctl restart kubelet
fi

if [ "$changed" -eq 0 ]; then
  say "already installed: nothing changed"
else
  say "done: $changed files changed"
fi
"#,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_map_to_the_service_that_reads_them() {
        assert_eq!(effect_of("/etc/containerd/config.toml"), Effect::Containerd);
        assert_eq!(
            effect_of("/etc/systemd/system/containerd.service.d/http-proxy.conf"),
            Effect::Containerd
        );
        assert_eq!(effect_of("/var/lib/kubelet/config.yaml"), Effect::Kubelet);
        assert_eq!(effect_of("/etc/kubernetes/kubelet.conf"), Effect::Kubelet);
        assert_eq!(
            effect_of("/etc/kubernetes/manifests/etcd.yaml"),
            Effect::None
        );
        assert_eq!(
            effect_of("/etc/sysctl.d/99-kubernetes.conf"),
            Effect::Sysctl
        );
    }

    #[test]
    fn script_places_static_pods_last() {
        let files = vec![
            RenderedFile::new("/etc/kubernetes/manifests/etcd.yaml", "x", 0o600),
            RenderedFile::new("/var/lib/kubelet/config.yaml", "y", 0o644),
        ];
        let script = script("demo", "cp1", &files);
        let kubelet = script
            .find("place 'var/lib/kubelet/config.yaml' 644 kubelet")
            .unwrap();
        let etcd = script
            .find("place 'etc/kubernetes/manifests/etcd.yaml' 600 none")
            .unwrap();
        assert!(kubelet < etcd);
    }
}
