//! `nodes/<node>/install.sh`: installs one node by hand, as root, from an unpacked bundle.
//! POSIX shell (shellcheck-clean), idempotent: each file is compared with what is installed and
//! only a changed file is replaced (written beside it, then renamed, so a reader never sees half
//! a file and a running binary is never overwritten in place; the replaced file is kept under
//! /var/lib/kbundle/backup/<time>/); services restart only when their files changed; a second run
//! changes nothing and says so. `join/install.sh`, for a worker that joins later, is the same
//! script around the same placing, with the node's name and address as arguments.
//!
//! What the bundle cannot know of the machine (whether systemd-resolved's stub is its resolver,
//! which interface holds its address, whether that interface takes router advertisements) is
//! looked at by the script, which adapts the few files that depend on it as it places them
//! ([`ADAPTED`]). What it placed, as placed, is recorded in `/var/lib/kbundle/installed.sha256`,
//! which `kbundle apply` checks to see that a node has nothing to do.

use std::net::IpAddr;

use super::{Bundle, layout, sha256_hex};
use crate::net::IpFamily;
use crate::render::control_plane::KUBE_VIP_MANIFEST;
use crate::render::{JOIN_NODE_IP, JOIN_NODE_NAME, RenderedFile};

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
        || path == "/etc/kubernetes/bootstrap-kubelet.conf"
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

/// Where `install.sh` records what it placed, as placed (adapted files included).
pub const INSTALLED_SUMS: &str = "/var/lib/kbundle/installed.sha256";

/// Where a node records, after each install, which cluster and bundle it runs ([`journal`]):
/// `kbundle apply` refuses a node of another cluster, and skips a node that runs this very
/// bundle. The Ansible and cloud-init exports write it the same way.
pub const JOURNAL: &str = "/var/lib/kbundle/journal";

/// What identifies the cluster on its nodes: the hash of its CA certificate, the same for every
/// bundle of one cluster as long as its CA is kept (`generate --from`, or the CA brought back as
/// an existing CA).
pub fn cluster_id(bundle: &Bundle) -> String {
    bundle
        .entries
        .iter()
        .find(|entry| entry.path.ends_with("/rootfs/etc/kubernetes/pki/ca.crt"))
        .map(|entry| sha256_hex(&entry.contents))
        .unwrap_or_default()
}

/// What identifies the bundle: the hash of its index, `bundle.json`.
pub fn bundle_hash(bundle: &Bundle) -> String {
    bundle
        .entry(layout::BUNDLE_JSON)
        .map(|entry| sha256_hex(&entry.contents))
        .unwrap_or_default()
}

/// The [`JOURNAL`] a node keeps once `bundle` is installed on it.
pub fn journal(bundle: &Bundle) -> String {
    format!(
        "cluster={}\ncluster_id={}\nbundle={}\n",
        bundle.manifest.cluster_name,
        cluster_id(bundle),
        bundle_hash(bundle)
    )
}

/// The files adapted to the machine as they are placed, and the shell function (in `PREPARE`)
/// that writes the adapted copy.
const ADAPTED: [(&str, &str); 3] = [
    (crate::render::KUBELET_CONFIG, "adapt_kubelet_config"),
    (crate::render::SYSCTL, "adapt_sysctl"),
    (KUBE_VIP_MANIFEST, "adapt_kube_vip"),
];

/// The script for `node` of `cluster`, at `addresses`, installing `files`. On the first
/// control-plane node (`is_first_control_plane`) kube-vip starts with super-admin.conf.
pub fn script(
    cluster: &str,
    node: &str,
    addresses: &[IpAddr],
    is_first_control_plane: bool,
    files: &[RenderedFile],
) -> String {
    let addresses: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    let mut out = format!(
        r#"#!/bin/sh
# Installs node {node} of cluster {cluster} from this kbundle bundle.
# Run as root on {node}, from anywhere:  sh nodes/{node}/install.sh
# Safe to run again: unchanged files are left alone and nothing restarts.
# KBUNDLE_ROOT=/some/dir installs the files under that directory instead of / and only
# prints the service actions (for inspection and tests). KBUNDLE_HOLD: see held() below.
set -eu

node={node}
addresses='{addresses}'
bootstrap_kube_vip={bootstrap}
"#,
        addresses = addresses.join(" "),
        bootstrap = u8::from(is_first_control_plane),
    );
    out.push_str(STATE);
    out.push_str(PREPARE);
    if files
        .iter()
        .any(|file| file.path == "/etc/kubernetes/manifests/etcd.yaml")
    {
        // etcd's data is the cluster's every secret: only root may read it, as kubeadm leaves it.
        out.push_str(
            "(umask 077 && mkdir -p \"$root/var/lib/etcd\")\nchmod 700 \"$root/var/lib/etcd\"\n",
        );
    }
    out.push_str(&placements(files));
    out.push_str(SERVICES);
    out
}

/// Where `join/install.sh` puts the kubelet drop-in it writes for the node.
const JOIN_DROP_IN_SOURCE: &str = "$generated/kubelet-drop-in.conf";

/// `join/install.sh` of `cluster`: joins a new worker, run as root as
/// `sh join/install.sh NODE_NAME NODE_ADDRESS`. It refuses a name that is not a DNS subdomain or
/// that a node of the plan (`planned_nodes`) has, and an address that is not one IP of each of
/// the cluster's `families`; then it places `files` as a node's script does, writes
/// `kubelet_drop_in` with the name and address in place of [`JOIN_NODE_NAME`] and
/// [`JOIN_NODE_IP`], and starts containerd and the kubelet.
pub fn join_script(
    cluster: &str,
    planned_nodes: &[&str],
    families: &[IpFamily],
    files: &[RenderedFile],
    kubelet_drop_in: &RenderedFile,
) -> String {
    let address_form = address_form(families);
    let mut out = format!(
        r#"#!/bin/sh
# Joins a new worker node to cluster {cluster}, once the cluster is up, from this kbundle bundle.
# Run as root on the new node, from anywhere:  sh join/install.sh NODE_NAME NODE_ADDRESS
#   NODE_NAME     its name, like a hostname (lower-case letters, digits, `-` and `.`)
#   NODE_ADDRESS  its address: {address_form}
# The kubelet asks for its client certificate with the bundle's bootstrap token (kubelet TLS
# bootstrap); kube-controller-manager approves and signs it and gives the node a pod range.
# The token expires (the bundle's README.md says when): after that, the API server refuses
# the kubelet. `kbundle join-token BUNDLE.zip -o DIR` writes this folder with a fresh token.
# Safe to run again: unchanged files are left alone; containerd and the kubelet restart.
# KBUNDLE_ROOT=/some/dir installs the files under that directory instead of / and only
# prints the service actions (for inspection and tests).
set -eu

node="join"
"#
    );
    out.push_str(STATE);
    out.push_str(&join_arguments(planned_nodes, families, &address_form));
    out.push_str(PREPARE);
    out.push_str(&placements(files));
    // An unquoted here-document: only the node's name and addresses expand.
    let template = escape_here_document(&kubelet_drop_in.contents)
        .replace(JOIN_NODE_NAME, "${node}")
        .replace(JOIN_NODE_IP, "${node_ip}");
    out.push_str(&format!(
        r#"
# The kubelet drop-in names this node: written here, then placed like the files above.
cat >"{JOIN_DROP_IN_SOURCE}" <<KBUNDLE_DROP_IN
{template}KBUNDLE_DROP_IN
place '{path}' {mode:o} {effect} "{JOIN_DROP_IN_SOURCE}"

# A joining node starts its services whatever changed: after a run that stopped half-way
# (containerd not installed yet, say), the next run must still start them.
load_modules=1
reload_sysctl=1
restart_containerd=1
restart_kubelet=1
"#,
        path = kubelet_drop_in.path.trim_start_matches('/'),
        mode = kubelet_drop_in.mode,
        effect = effect_of(&kubelet_drop_in.path).name(),
    ));
    out.push_str(SERVICES);
    out.push_str(
        r#"say "the kubelet asks for its certificate now; where admin.conf is, check with:"
say "  kubectl --kubeconfig admin.conf get node $node"
"#,
    );
    out
}

/// `text` for an unquoted here-document, where it expands to itself: backslashes, `$` and
/// backquotes escaped.
fn escape_here_document(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('`', "\\`")
        .replace('$', "\\$")
}

/// The checks of `join/install.sh`'s arguments, before anything is read or written: exit 2
/// with the reason. Sets `node` (the name) and `node_ip` (the addresses in the cluster's family
/// order, as `--node-ip` takes them).
fn join_arguments(planned_nodes: &[&str], families: &[IpFamily], address_form: &str) -> String {
    let mut out = format!(
        r#"
# refuse MESSAGE: bad arguments; nothing has been read or written yet.
refuse() {{
  say "error: $*" >&2
  say "usage: sh $0 NODE_NAME NODE_ADDRESS   (NODE_ADDRESS: {address_form})" >&2
  exit 2
}}

# is_name TEXT: a DNS subdomain (RFC 1123), as Kubernetes requires of node names.
is_name() {{
  [ "${{#1}}" -le 253 ] || return 1
  case "$1" in
    '' | *[!a-z0-9.-]* | [.-]* | *[.-] | *..* | *.-* | *-.*) return 1 ;;
  esac
  labels_left=$1.
  while [ -n "$labels_left" ]; do
    label=${{labels_left%%.*}}
    labels_left=${{labels_left#*.}}
    [ "${{#label}}" -le 63 ] || return 1
  done
}}

# is_ipv4 TEXT: four numbers 0-255 without leading zeros.
is_ipv4() {{
  case "$1" in
    '' | *[!0-9.]* | .* | *. | *..*) return 1 ;;
  esac
  octets_left=$1.
  octets=0
  while [ -n "$octets_left" ]; do
    octet=${{octets_left%%.*}}
    octets_left=${{octets_left#*.}}
    case "$octet" in
      0?* | ????*) return 1 ;;
    esac
    [ "$octet" -le 255 ] || return 1
    octets=$((octets + 1))
  done
  [ "$octets" -eq 4 ]
}}

# is_ipv6 TEXT: groups of one to four hex digits separated by `:`, eight of them or fewer
# around one `::`.
is_ipv6() {{
  case "$1" in
    '' | *[!0-9a-fA-F:]* | *:::* | *::*::* | :[!:]* | *[!:]:) return 1 ;;
  esac
  groups_left=$1:
  groups=0
  while [ -n "$groups_left" ]; do
    group=${{groups_left%%:*}}
    groups_left=${{groups_left#*:}}
    case "$group" in
      ?????*) return 1 ;;
      ?*) groups=$((groups + 1)) ;;
    esac
  done
  case "$1" in
    *::*) [ "$groups" -le 7 ] ;;
    *) [ "$groups" -eq 8 ] ;;
  esac
}}

[ "$#" -eq 2 ] || refuse "give the node's name and address"
is_name "$1" ||
  refuse "\`$1\` is not a valid node name: use lower-case letters, digits, \`-\` and \`.\`, like a hostname"
case "$1" in
  {planned})
    refuse "\`$1\` is a node of the plan: install it with nodes/$1/install.sh, or choose another name" ;;
esac
ipv4=
ipv6=
# (sh has no local variables: the functions above keep to their own names.)
addresses_left=$2,
while [ -n "$addresses_left" ]; do
  address=${{addresses_left%%,*}}
  addresses_left=${{addresses_left#*,}}
  case "$address" in
    0.* | 127.* | 22[4-9].* | 23[0-9].* | :: | ::1 | [fF][fF]*:*)
      refuse "\`$address\` is not an address other machines can reach: give the node's own address" ;;
  esac
  if is_ipv4 "$address"; then
    [ -z "$ipv4" ] || refuse "\`$2\` lists two IPv4 addresses: give one address of each family"
    ipv4=$address
  elif is_ipv6 "$address"; then
    [ -z "$ipv6" ] || refuse "\`$2\` lists two IPv6 addresses: give one address of each family"
    ipv6=$address
  else
    refuse "\`$address\` is not an IP address: write {address_form}, e.g. {example}"
  fi
done
"#,
        planned = planned_nodes.join(" | "),
        example = address_example(families),
    );
    for family in [IpFamily::V4, IpFamily::V6] {
        let variable = variable_of(family);
        let name = family.name();
        if families.contains(&family) {
            out.push_str(&format!(
                "[ -n \"${variable}\" ] ||\n  refuse \"\\`$2\\` has no {name} address but the cluster networks use {name}\"\n"
            ));
        } else {
            out.push_str(&format!(
                "[ -z \"${variable}\" ] ||\n  refuse \"\\`$2\\` has an {name} address but the cluster networks do not use {name}\"\n"
            ));
        }
    }
    let node_ip = families
        .iter()
        .map(|family| format!("${}", variable_of(*family)))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str(&format!(
        "node=$1\nnode_ip={node_ip}\naddresses=\"$ipv4 $ipv6\"\nbootstrap_kube_vip=0\n"
    ));
    out
}

/// What a joining node's address looks like in a cluster of `families`: `IPv4`, `IPv6`, or
/// `IPv4,IPv6` (dual-stack, in the cluster's family order).
pub fn address_form(families: &[IpFamily]) -> String {
    families
        .iter()
        .map(|family| family.name())
        .collect::<Vec<_>>()
        .join(",")
}

/// An address of [`address_form`], from the documentation ranges.
pub fn address_example(families: &[IpFamily]) -> String {
    families
        .iter()
        .map(|family| match family {
            IpFamily::V4 => "192.0.2.31",
            IpFamily::V6 => "2001:db8::31",
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The shell variable `join/install.sh` keeps the address of `family` in.
fn variable_of(family: IpFamily) -> &'static str {
    match family {
        IpFamily::V4 => "ipv4",
        IpFamily::V6 => "ipv6",
    }
}

/// One `place` line per file. Keys and configuration before the units that read them; static
/// pods last, so the kubelet starts them with everything in place. The copies adapted to the
/// machine are all written first, so that a machine the script cannot adapt to is refused before
/// anything is placed.
fn placements(files: &[RenderedFile]) -> String {
    let mut sorted: Vec<&RenderedFile> = files.iter().collect();
    sorted.sort_by_key(|file| {
        (
            file.path.starts_with("/etc/kubernetes/manifests/"),
            file.path.clone(),
        )
    });
    let mut adapting = String::new();
    let mut placing = String::new();
    for file in sorted {
        let path = file.path.trim_start_matches('/');
        placing.push_str(&format!(
            "place '{path}' {:o} {}",
            file.mode,
            effect_of(&file.path).name()
        ));
        if let Some((_, adapt)) = ADAPTED.iter().find(|(adapted, _)| *adapted == file.path) {
            adapting.push_str(&format!(
                "{adapt}_source=$({adapt} \"$rootfs/{path}\" \"$root/{path}\")\n"
            ));
            placing.push_str(&format!(" \"${adapt}_source\""));
        }
        placing.push('\n');
    }
    adapting + &placing
}

/// The state every script keeps, and how it talks.
const STATE: &str = r#"here=$(cd "$(dirname "$0")" && pwd)
rootfs="$here/rootfs"
root="${KBUNDLE_ROOT:-}"
changed=0
run_started=$(date +%Y%m%dT%H%M%S)
restart_containerd=0
restart_kubelet=0
reload_sysctl=0
load_modules=0

say() { printf 'kbundle[%s]: %s\n' "$node" "$*"; }
fail() { say "error: $*" >&2; exit 1; }
"#;

/// Checks (root, the files' checksums) and the functions that place files.
const PREPARE: &str = r#"
[ "$(id -u)" -eq 0 ] || fail "run me as root (sudo sh $0)"
command -v sha256sum >/dev/null || fail "sha256sum is missing (coreutils)"

say "checking the bundle's files"
(cd "$rootfs" && sha256sum --quiet --strict -c "$here/SHA256SUMS") ||
  fail "checksums do not match: the bundle is damaged or was altered"

# KBUNDLE_HOLD="kube-controller-manager.yaml ..." leaves those static pods out for now:
# kbundle apply holds kube-controller-manager back until every Node carries its planned pod range.
held() {
  for name in ${KBUNDLE_HOLD:-}; do
    [ "etc/kubernetes/manifests/$name" = "$1" ] && return 0
  done
  return 1
}

# Adapted copies of files (see the adapt_ functions below) and the record of this run.
generated=$(mktemp -d)
trap 'rm -rf "$generated"' EXIT
: >"$generated/installed.sha256"

# place PATH MODE EFFECT [SOURCE]: installs SOURCE (rootfs/PATH) at $root/PATH unless it is
# already there.
place() {
  if held "$1"; then
    say "holding /$1 back for now"
    return 0
  fi
  source_file="${4:-$rootfs/$1}"
  target="$root/$1"
  printf '%s  %s\n' "$(sha256sum <"$source_file" | cut -d' ' -f1)" "$1" >>"$generated/installed.sha256"
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
}

# retire PATH EFFECT: removes a file an older bundle placed and this one does not (kept in the
# backup like any replaced file).
retire() {
  target="$root/$1"
  [ -f "$target" ] || return 0
  kept="$root/var/lib/kbundle/backup/$run_started/$1"
  (umask 077 && mkdir -p "$(dirname "$kept")")
  mv -f "$target" "$kept"
  say "removed /$1 (an older bundle's; kept in the backup)"
  changed=$((changed + 1))
  case "$2" in
    kubelet) restart_kubelet=1 ;;
  esac
}

# interface_of_node: the network interface that holds one of this node's addresses.
interface_of_node() {
  for node_address in $addresses; do
    holder=$(ip -o addr show 2>/dev/null |
      awk -v a="$node_address" '{ split($4, cidr, "/"); if (cidr[1] == a) { print $2; exit } }')
    if [ -n "$holder" ]; then
      echo "$holder"
      return 0
    fi
  done
}

# adapt_kubelet_config SOURCE TARGET: prints the kubelet configuration to place. Where
# systemd-resolved's stub (127.0.0.53) is the machine's resolver, a pod given /etc/resolv.conf
# would ask itself: CoreDNS would forward to itself and crash-loop. The kubelet then gives pods
# the servers systemd-resolved itself uses, as kubeadm does on such hosts.
adapt_kubelet_config() {
  if [ -f "$root/run/systemd/resolve/resolv.conf" ] &&
    grep -q '^nameserver 127\.0\.0\.53' "$root/etc/resolv.conf" 2>/dev/null; then
    cp "$1" "$generated/kubelet-config.yaml"
    echo 'resolvConf: /run/systemd/resolve/resolv.conf' >>"$generated/kubelet-config.yaml"
    echo "$generated/kubelet-config.yaml"
  else
    echo "$1"
  fi
}

# adapt_sysctl SOURCE TARGET: prints the kernel settings to place. IPv6 forwarding turns off
# router advertisements where an interface takes them (accept_ra 1); a node whose own IPv6
# default route comes from them would lose it. The interface holding the node's address keeps
# taking them (accept_ra 2); one that never took them is left so.
adapt_sysctl() {
  ra_interface=
  if grep -q '^net.ipv6.conf.all.forwarding = 1' "$1"; then
    ra_interface=$(interface_of_node)
  fi
  if [ -n "$ra_interface" ] &&
    [ "$(cat "/proc/sys/net/ipv6/conf/$ra_interface/accept_ra" 2>/dev/null || echo 0)" -ge 1 ]; then
    cp "$1" "$generated/sysctl.conf"
    # The slash form: an interface name may hold a dot (eth0.100).
    echo "net/ipv6/conf/$ra_interface/accept_ra = 2" >>"$generated/sysctl.conf"
    echo "$generated/sysctl.conf"
  else
    echo "$1"
  fi
}

# adapt_kube_vip SOURCE TARGET: prints kube-vip's manifest to place. The VIP goes on the
# interface that holds this node's address (kube-vip's own default, the default-route interface,
# may be another network). On the first control-plane node kube-vip starts with super-admin.conf:
# admin.conf's rights come from a ClusterRoleBinding made once the API server is up. kbundle apply
# then runs this script with KBUNDLE_RBAC_READY=1 (by hand: once `kubectl --kubeconfig
# /etc/kubernetes/admin.conf get nodes` works), and it goes on with admin.conf.
adapt_kube_vip() {
  cp "$1" "$generated/kube-vip.yaml"
  if grep -q '@NODE_INTERFACE@' "$1"; then
    vip_interface=$(interface_of_node)
    [ -n "$vip_interface" ] ||
      fail "no network interface holds this node's address ($addresses): kube-vip could not announce the VIP (set spec.highAvailability.interface, or check the node's address)"
    sed -i "s/@NODE_INTERFACE@/$vip_interface/" "$generated/kube-vip.yaml"
  fi
  if [ "$bootstrap_kube_vip" = 1 ] && [ "${KBUNDLE_RBAC_READY:-}" != 1 ] &&
    { [ ! -f "$2" ] || grep -q 'path: /etc/kubernetes/super-admin.conf' "$2"; }; then
    sed -i 's#path: /etc/kubernetes/admin.conf$#path: /etc/kubernetes/super-admin.conf#' \
      "$generated/kube-vip.yaml"
  fi
  echo "$generated/kube-vip.yaml"
}

# run COMMAND...: runs it, or only prints it when installing into KBUNDLE_ROOT.
run() {
  if [ -n "$root" ]; then
    say "would run: $*"
  else
    say "running: $*"
    "$@"
  fi
}

umask 077
# Secrets' folders stay private; the rest is readable as kubeadm leaves it.
(umask 022 && mkdir -p "$root/etc/kubernetes/pki" "$root/etc/kubernetes/manifests")
chmod 700 "$root/etc/kubernetes/manifests"

# Older bundles named the kubelet drop-in 10-kbundle.conf, which the kubeadm package's
# 10-kubeadm.conf outranks (drop-ins apply in lexical order); it is now 99-kbundle.conf.
retire 'etc/systemd/system/kubelet.service.d/10-kbundle.conf' kubelet

"#;

/// The services and kernel settings whose files changed, then what was done.
const SERVICES: &str = r#"
if [ "$load_modules" -eq 1 ]; then
  # Every module the modules-load.d file names, now as at boot (IPVS's with kubeProxyMode ipvs).
  grep -v '^#' "$rootfs/etc/modules-load.d/kubernetes.conf" | while read -r module; do
    [ -z "$module" ] || run modprobe "$module"
  done
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

# What this run left in place, as placed: kbundle apply checks it to see there is nothing to do.
(umask 022 && mkdir -p "$root/var/lib/kbundle")
if ! cmp -s "$generated/installed.sha256" "$root/var/lib/kbundle/installed.sha256"; then
  cp "$generated/installed.sha256" "$root/var/lib/kbundle/installed.sha256.new"
  chmod 644 "$root/var/lib/kbundle/installed.sha256.new"
  mv -f "$root/var/lib/kbundle/installed.sha256.new" "$root/var/lib/kbundle/installed.sha256"
fi

if [ "$changed" -eq 0 ]; then
  say "already installed: nothing changed"
else
  say "done: $changed files changed"
fi
"#;

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
        let script = script("demo", "cp1", &[], false, &files);
        let kubelet = script
            .find("place 'var/lib/kubelet/config.yaml' 644 kubelet")
            .unwrap();
        let etcd = script
            .find("place 'etc/kubernetes/manifests/etcd.yaml' 600 none")
            .unwrap();
        assert!(kubelet < etcd);
    }

    #[test]
    fn files_that_depend_on_the_machine_are_placed_from_their_adapted_copy() {
        let files = vec![
            RenderedFile::new(crate::render::KUBELET_CONFIG, "x", 0o644),
            RenderedFile::new(KUBE_VIP_MANIFEST, "y", 0o600),
            RenderedFile::new("/etc/kubernetes/pki/ca.crt", "z", 0o644),
        ];
        let addresses = [
            "192.0.2.11".parse().unwrap(),
            "2001:db8::11".parse().unwrap(),
        ];
        let script = script("demo", "cp1", &addresses, true, &files);
        assert!(script.contains("addresses='192.0.2.11 2001:db8::11'\nbootstrap_kube_vip=1\n"));
        assert!(script.contains(
            "adapt_kube_vip_source=$(adapt_kube_vip \"$rootfs/etc/kubernetes/manifests/kube-vip.yaml\" \"$root/etc/kubernetes/manifests/kube-vip.yaml\")\n"
        ));
        assert!(script.contains(
            "place 'etc/kubernetes/manifests/kube-vip.yaml' 600 none \"$adapt_kube_vip_source\"\n"
        ));
        assert!(script.contains(
            "place 'var/lib/kubelet/config.yaml' 644 kubelet \"$adapt_kubelet_config_source\"\n"
        ));
        // Adapted before anything is placed: a machine it cannot adapt to changes nothing.
        assert!(
            script.find("adapt_kube_vip_source=$(").unwrap() < script.find("\nplace '").unwrap()
        );
        assert!(script.contains("place 'etc/kubernetes/pki/ca.crt' 644 kubelet\n"));
        // The placeholder the renderer writes is the one the script fills in.
        assert!(PREPARE.contains(crate::render::control_plane::NODE_INTERFACE));
        assert!(SERVICES.contains(INSTALLED_SUMS));
    }

    fn join(families: &[IpFamily]) -> String {
        let files = vec![RenderedFile::new(
            "/etc/kubernetes/bootstrap-kubelet.conf",
            "x",
            0o600,
        )];
        let drop_in = RenderedFile::new(
            "/etc/systemd/system/kubelet.service.d/99-kbundle.conf",
            format!(
                "[Service]\nExecStart=kubelet \\\n    --node-ip={JOIN_NODE_IP} \\\n    --hostname-override={JOIN_NODE_NAME} $HOME `x`\n"
            ),
            0o644,
        );
        join_script("demo", &["cp1", "w1"], families, &files, &drop_in)
    }

    #[test]
    fn join_script_shares_the_node_scripts_placing_and_refuses_planned_names() {
        let node = script("demo", "cp1", &[], false, &[]);
        let join = join(&[IpFamily::V4]);
        for shared in [STATE, PREPARE, SERVICES] {
            assert!(node.contains(shared) && join.contains(shared));
        }
        assert!(join.contains("place 'etc/kubernetes/bootstrap-kubelet.conf' 600 kubelet\n"));
        assert!(join.contains("  cp1 | w1)\n"));
        assert!(join.contains("node_ip=$ipv4\n"));
        // The argument checks come before anything is read or written.
        assert!(
            join.find("refuse \"give the node's name").unwrap() < join.find("umask 077").unwrap()
        );
    }

    #[test]
    fn join_script_writes_the_drop_in_with_only_name_and_address_expanded() {
        let join = join(&[IpFamily::V6, IpFamily::V4]);
        assert!(
            join.contains(
                "<<KBUNDLE_DROP_IN\n[Service]\nExecStart=kubelet \\\\\n    --node-ip=${node_ip} \\\\\n    --hostname-override=${node} \\$HOME \\`x\\`\nKBUNDLE_DROP_IN\n"
            ),
            "{join}"
        );
        assert!(join.contains(
            "place 'etc/systemd/system/kubelet.service.d/99-kbundle.conf' 644 kubelet \"$generated/kubelet-drop-in.conf\"\n"
        ));
        // Dual-stack in the cluster's family order, whatever order the user gives.
        assert!(join.contains("node_ip=$ipv6,$ipv4\n"));
        assert!(join.contains("(NODE_ADDRESS: IPv6,IPv4)"));
    }
}
