//! `cluster.sh`: the cluster-wide steps of `kbundle apply` (those that go through the API
//! server, and the waits before them) as one POSIX shell script, for the exports: the Ansible
//! playbook runs it step by step on the first control-plane node (and on the first etcd member
//! for `wait-etcd`), cloud-init runs it at first boot. It carries what the steps need from the
//! bundle (the planned pod ranges, the Node objects, the etcd members, when the bootstrap token
//! expires); the addons are staged beside the node's files.
//!
//! Each step is what the apply phase of the same name does, with the same checks and messages,
//! and says `kbundle: changed: …` for every change it makes, so that an engine can report
//! changes (a step that finds everything in place prints no such line). Two differences from
//! apply, both because a shell has no CIDR arithmetic: a Node outside the bundle conflicts when
//! it holds exactly a planned range (apply: any overlap; with one `nodeCIDRMaskSize`, ranges
//! of the pod subnet overlap only when equal), and changes are found with `kubectl diff`.

use std::fmt::Write as _;

use super::{Cluster, shell_quote};
use crate::bundle::token::without_expired_tokens;
use crate::render::control_plane::KUBE_VIP_MANIFEST;

/// The script's name in the staging folder and the exports.
pub(crate) const NAME: &str = "cluster.sh";

/// Where, in the staging folder, the addons go whose bootstrap token Secrets have expired: the
/// same file without them, applied once the token's expiration has passed.
pub(crate) const EXPIRED_DIR: &str = "expired";

/// The steps, in apply's order, with the phase each one is and where it runs.
pub(crate) const STEPS: [(&str, &str); 7] = [
    (
        "new-nodes",
        "first control-plane node: on a running cluster, the Nodes of planned nodes not registered yet, with their pod ranges, before their kubelets start",
    ),
    ("wait-etcd", "first etcd member: every member healthy"),
    (
        "wait-apiserver",
        "first control-plane node: /readyz through the control-plane endpoint",
    ),
    (
        "node-ranges",
        "first control-plane node: every Node with its labels, planned pod range and taints",
    ),
    (
        "addons",
        "first control-plane node: the addons, in file order",
    ),
    (
        "kube-vip",
        "first control-plane node: kube-vip moves from super-admin.conf to admin.conf",
    ),
    (
        "validate",
        "first control-plane node: every node registered, Ready, with its planned pod range",
    ),
];

/// What a node waits for before it places kube-controller-manager when nothing orders the
/// nodes (cloud-init): the first control-plane node's `node-ranges` and `addons` done.
pub(crate) const WAIT_RANGES: &str = "wait-ranges";

/// The addon that `node-ranges` applies its own way (labels and ranges by server-side apply,
/// taints one by one), never as a file.
const NODES_ADDON: &str = "addons/00-nodes.yaml";

/// The script for `cluster`.
pub(crate) fn script(cluster: &Cluster) -> String {
    let name = &cluster.bundle.manifest.cluster_name;
    let mut out = format!(
        r#"#!/bin/sh
# The cluster-wide steps of `kbundle apply` for cluster {name}, from its bundle (kbundle export).
# Run as root:  sh {NAME} STEP...
"#
    );
    for (step, what) in STEPS {
        out.push_str(&format!("#   {step:<15} {what}\n"));
    }
    out.push_str(&format!(
        r#"#   {WAIT_RANGES:<15} other control-plane nodes, when nothing orders the nodes (cloud-init):
#                   until the first one gave every Node its range and applied the addons
# Each change a step makes is printed as "kbundle: changed: ...": a step that prints none
# changed nothing. KBUNDLE_WAIT_TIMEOUT bounds each wait (seconds, {wait} by default).
set -eu

staging={staging}
endpoint={endpoint}
wait_timeout=${{KBUNDLE_WAIT_TIMEOUT:-{wait}}}
pki=/etc/kubernetes/pki
"#,
        staging = shell_quote(&cluster.staging),
        endpoint = shell_quote(&cluster.bundle.manifest.control_plane_endpoint),
        wait = DEFAULT_WAIT_SECONDS,
    ));
    out.push_str(HELPERS);
    out.push_str(&data(cluster));
    out.push_str(STEP_FUNCTIONS);
    out.push_str(&addons_step(cluster));
    out.push_str(&kube_vip_step(cluster));
    out.push_str(DISPATCH);
    out
}

/// How long a wait lasts unless `KBUNDLE_WAIT_TIMEOUT` says otherwise (apply's
/// `--wait-timeout` default).
pub(crate) const DEFAULT_WAIT_SECONDS: u64 = 300;

/// What the steps need from the bundle, as shell functions printing it.
fn data(cluster: &Cluster) -> String {
    let mut out = String::from(
        "\n# planned_ranges: each planned node and its pod ranges, a line each (plan.json).\nplanned_ranges() {\n  cat <<'KBUNDLE_RANGES'\n",
    );
    for (node, ranges) in &cluster.ranges {
        let _ = writeln!(out, "{node} {}", ranges.join(" "));
    }
    out.push_str("KBUNDLE_RANGES\n}\n");

    out.push_str(
        "\n# node_object NAME: the Node of a planned node: labels and pod ranges (taints apart).\nnode_object() {\n  case $1 in\n",
    );
    for object in &cluster.node_objects.objects {
        let node = object["metadata"]["name"].as_str().unwrap_or_default();
        let _ = writeln!(
            out,
            "    {node})\n      cat <<'KBUNDLE_NODE'\n{object}\nKBUNDLE_NODE\n      ;;"
        );
    }
    out.push_str("    *) fail \"no planned node \\`$1\\`\" ;;\n  esac\n}\n");

    out.push_str(
        "\n# declared_taints: NODE TAINT AS-LISTED, a line per taint cluster.yaml declares: the taint as\n# `kubectl taint` takes it, and as the listing in give_nodes prints it (key=value:Effect).\ndeclared_taints() {\n  cat <<'KBUNDLE_TAINTS'\n",
    );
    for (node, taint) in &cluster.node_objects.taints {
        let listed = match taint.split_once(':') {
            Some((key, effect)) if !key.contains('=') => format!("{key}=:{effect}"),
            _ => taint.clone(),
        };
        let _ = writeln!(out, "{node} {taint} {listed}");
    }
    out.push_str("KBUNDLE_TAINTS\n}\n");

    let members: Vec<String> = cluster
        .config
        .etcd_nodes()
        .map(|node| match node.primary_address() {
            std::net::IpAddr::V6(v6) => format!("https://[{v6}]:2379"),
            address => format!("https://{address}:2379"),
        })
        .collect();
    let _ = writeln!(
        out,
        "\n# The etcd members' client URLs.\netcd_members='{}'",
        members.join(" ")
    );
    out
}

/// Shared functions: output, retries, the scratch folder.
const HELPERS: &str = r#"
say() { printf 'kbundle: %s\n' "$*"; }
changed() { say "changed: $*"; }
fail() {
  printf 'kbundle: error: %s\n' "$*" >&2
  exit 1
}

# admin.conf gets its rights from an addon: until then only super-admin.conf can act.
super_kubectl() { kubectl --kubeconfig /etc/kubernetes/super-admin.conf "$@"; }

# retry COMMAND...: runs COMMAND every 2 s until it succeeds or the wait timeout passes.
retry() {
  deadline=$(($(date +%s) + wait_timeout))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 2
  done
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"#;

/// The steps that do not depend on the bundle's shape.
const STEP_FUNCTIONS: &str = r#"
# Each Node's name and pod ranges, a line each (none yet: only the name).
list_ranges() {
  super_kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.podCIDRs[*]}{"\n"}{end}'
}

# check_ranges: stops, changing nothing, when a Node of the bundle has other pod ranges than
# planned (the API server never changes a Node's range) or a Node outside the bundle holds a
# planned one. Reads the listing of list_ranges in $work/current.
check_ranges() {
  planned_ranges >"$work/planned"
  conflicts=$(awk '
    # words NUMBER: the fields from NUMBER on, one space apart.
    function words(from,    i, text) {
      text = ""
      for (i = from; i <= NF; i++) text = text (i > from ? " " : "") $i
      return text
    }
    FNR == NR {
      planned[$1] = words(2)
      for (i = 2; i <= NF; i++) owner[$i] = $1
      next
    }
    NF > 1 {
      name = $1; current = words(2)
      if (name in planned) {
        if (current != planned[name]) {
          shown = current; gsub(/ /, ",", shown); wanted = planned[name]; gsub(/ /, ",", wanted)
          printf "%snode %s has the pod range %s and this bundle plans %s for it", sep, name, shown, wanted
          sep = "; "
        }
      } else {
        for (i = 2; i <= NF; i++) if (($i in owner) && !((name, owner[$i]) in told)) {
          told[name, owner[$i]] = 1
          shown = current; gsub(/ /, ",", shown)
          printf "%snode %s, which is not in this bundle, has the pod range %s that this bundle plans for node %s", sep, name, shown, owner[$i]
          sep = "; "
        }
      }
    }' "$work/planned" "$work/current")
  if [ -n "$conflicts" ]; then
    fail "$conflicts; no Node was changed
hint: the API server cannot change a Node's pod range: generate this bundle again with \`kbundle generate --from OLD_BUNDLE.zip\`, OLD_BUNDLE.zip being the bundle applied last to this cluster"
  fi
}

# give_nodes NAME...: those Nodes get their labels and pod ranges (server-side apply, as field
# manager kbundle: what others manage stays) and every declared taint they lack (one by one: a
# Node's taints are one list, which applying would replace).
give_nodes() {
  {
    printf '{"apiVersion":"v1","kind":"List","items":['
    separator=
    for node in "$@"; do
      printf '%s' "$separator"
      node_object "$node"
      separator=,
    done
    printf ']}\n'
  } >"$work/nodes.json"
  if ! super_kubectl diff --server-side --force-conflicts --field-manager=kbundle -f "$work/nodes.json" >/dev/null 2>&1; then
    super_kubectl apply --server-side --force-conflicts --field-manager=kbundle -f "$work/nodes.json" >/dev/null ||
      fail "addons/00-nodes.yaml: the Node objects were refused"
    changed "Node objects with their labels and pod ranges: $*"
  fi
  super_kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{range .spec.taints[*]}{" "}{.key}={.value}:{.effect}{end}{"\n"}{end}' >"$work/taints" ||
    fail "listing the Nodes' taints failed"
  declared_taints >"$work/declared"
  while read -r node taint listed; do
    case " $* " in *" $node "*) ;; *) continue ;; esac
    if ! awk -v node="$node" -v taint="$listed" '$1 == node { for (i = 2; i <= NF; i++) if ($i == taint) found = 1 } END { exit !found }' "$work/taints"; then
      super_kubectl taint node "$node" "$taint" --overwrite >/dev/null ||
        fail "addons/00-nodes.yaml: tainting $node with $taint failed"
      changed "taint $taint on $node"
    fi
  done <"$work/declared"
}

step_new_nodes() {
  # Before the first install there is no API server (nor super-admin.conf): node-ranges gives
  # every range while kube-controller-manager is held back.
  if ! { [ -f /etc/kubernetes/super-admin.conf ] && super_kubectl --request-timeout=5s get --raw /readyz >/dev/null 2>&1; }; then
    say "the API server is not up yet: node-ranges gives the ranges"
    return 0
  fi
  list_ranges >"$work/current" || fail "listing the Nodes failed"
  new=$(planned_ranges | awk 'FNR == NR { registered[$1] = 1; next } !($1 in registered) { print $1 }' "$work/current" -)
  if [ -z "$new" ]; then
    say "no new node"
    return 0
  fi
  check_ranges
  # shellcheck disable=SC2086 # one word per node name
  give_nodes $new
}

step_wait_etcd() {
  healthy() {
    for member in $etcd_members; do
      curl -fsS --max-time 3 --cacert "$pki/etcd/ca.crt" --cert "$pki/etcd/healthcheck-client.crt" \
        --key "$pki/etcd/healthcheck-client.key" "$member/health" 2>/dev/null | grep -q '"health":"true"' || return 1
    done
  }
  retry healthy || fail "etcd has no quorum after ${wait_timeout}s: not every member of $etcd_members is healthy"
  say "every etcd member healthy: $etcd_members"
}

step_wait_apiserver() {
  ready() { curl -fsS --max-time 3 --cacert "$pki/ca.crt" "$endpoint/readyz" 2>/dev/null | grep -q ok; }
  retry ready || fail "$endpoint/readyz did not answer ok within ${wait_timeout}s"
  say "$endpoint is ready"
}

step_node_ranges() {
  list_ranges >"$work/current" || fail "listing the Nodes' pod ranges failed"
  check_ranges
  # shellcheck disable=SC2046 # one word per node name
  give_nodes $(planned_ranges | awk '{ print $1 }')
  say "Node objects carry their planned pod ranges"
}

# nodes_problems [ready]: what differs between the plan and the Nodes in $work/listing (name|pod
# ranges|Ready status, a line each); with `ready`, a node must also be Ready.
nodes_problems() {
  planned_ranges | awk -v ready="${1:-}" '
    FNR == NR {
      split($0, field, "|")
      registered[field[1]] = 1; ranges[field[1]] = field[2]; status[field[1]] = field[3]
      next
    }
    {
      name = $1; wanted = ""
      for (i = 2; i <= NF; i++) wanted = wanted (i > 2 ? " " : "") $i
      if (!(name in registered)) { printf "%s%s is not registered", sep, name; sep = "; "; next }
      if (ranges[name] != wanted) { printf "%s%s does not have its planned pod range %s", sep, name, wanted; sep = "; " }
      if (ready != "" && status[name] != "True") { printf "%s%s is not Ready", sep, name; sep = "; " }
    }' "$work/listing" -
}

# list_nodes KUBECONFIG: name|pod ranges|Ready status of each Node, a line each, into
# $work/listing.
list_nodes() {
  kubectl --kubeconfig "$1" get nodes -o jsonpath='{range .items[*]}{.metadata.name}|{.spec.podCIDRs[*]}|{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' >"$work/listing" 2>/dev/null
}

step_validate() {
  settled() { list_nodes /etc/kubernetes/admin.conf && [ -z "$(nodes_problems ready)" ]; }
  if ! retry settled; then
    list_nodes /etc/kubernetes/admin.conf || fail "after ${wait_timeout}s: the nodes could not be listed"
    fail "after ${wait_timeout}s: $(nodes_problems ready)"
  fi
  say "every node Ready with its planned pod range"
}

step_wait_ranges() {
  # admin.conf works once the addons gave it its rights, which the first control-plane node
  # does after node-ranges.
  given() { list_nodes /etc/kubernetes/admin.conf && [ -z "$(nodes_problems)" ]; }
  retry given || fail "after ${wait_timeout}s the Nodes still lack their pod ranges (the first control-plane node gives them): kube-controller-manager stays held back"
  say "every Node has its planned pod range"
}

# apply_addon FILE NAME: server-side applies FILE unless the cluster holds it already.
apply_addon() {
  if super_kubectl diff --server-side --force-conflicts -f "$1" >/dev/null 2>&1; then
    return 0
  fi
  super_kubectl apply --server-side --force-conflicts -f "$1" >/dev/null || fail "$2: refused by the API server"
  changed "$2"
}
"#;

/// `step_addons`: every addon but the Nodes, in file order; a bootstrap token Secret only
/// until it expires.
fn addons_step(cluster: &Cluster) -> String {
    let mut out = String::from("\nstep_addons() {\n");
    let mut count = 0;
    for entry in cluster.addons() {
        if entry.path == NODES_ADDON {
            continue;
        }
        count += 1;
        let path = &entry.path;
        match expiry(cluster, path) {
            None => {
                let _ = writeln!(out, "  apply_addon \"$staging/{path}\" {path}");
            }
            Some(Expiry {
                expires_at,
                token,
                expiration,
                has_rest,
            }) => {
                // kube-controller-manager's token cleaner deletes an expired token: applying
                // it again would only bring back a Secret that no client can use.
                let rest = if has_rest {
                    format!(
                        "\n    apply_addon \"$staging/{EXPIRED_DIR}/{file}\" {path}",
                        file = file_name(path)
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "  if [ \"$(date +%s)\" -lt {expires_at} ]; then\n    apply_addon \"$staging/{path}\" {path}\n  else\n    say \"{path}: bootstrap token {token} expired at {expiration}, not applied (\\`kbundle join-token\\` mints a fresh one for a node that joins)\"{rest}\n  fi"
                );
            }
        }
    }
    let _ = writeln!(out, "  say \"{count} addons in place\"\n}}");
    out
}

/// When an addon's bootstrap token expires, and whether anything is left of it without it.
struct Expiry {
    expires_at: i64,
    token: String,
    expiration: String,
    has_rest: bool,
}

fn expiry(cluster: &Cluster, path: &str) -> Option<Expiry> {
    let entry = cluster.bundle.entry(path)?;
    let text = String::from_utf8_lossy(&entry.contents);
    if !text.contains(crate::bundle::token::TOKEN_SECRET_TYPE) {
        return None;
    }
    // Every token with a readable expiration goes; the earliest decides.
    let without = without_expired_tokens(&text, i64::MAX);
    let token = without
        .expired
        .iter()
        .filter_map(|token| {
            let expiration = token.expiration.clone()?;
            let at = crate::bundle::token::parse_rfc3339(&expiration)?;
            Some((at, token.id.clone(), expiration))
        })
        .min()?;
    Some(Expiry {
        expires_at: token.0,
        token: token.1,
        expiration: token.2,
        has_rest: !without.documents.trim().is_empty(),
    })
}

/// The addon files whose expired-token variant is staged (`expired/<file>`), with it.
pub(crate) fn expired_variants(cluster: &Cluster) -> Vec<(String, String)> {
    cluster
        .addons()
        .filter_map(|entry| {
            let expiry = expiry(cluster, &entry.path)?;
            if !expiry.has_rest {
                return None;
            }
            let text = String::from_utf8_lossy(&entry.contents);
            Some((
                format!("{EXPIRED_DIR}/{}", file_name(&entry.path)),
                without_expired_tokens(&text, i64::MAX).documents,
            ))
        })
        .collect()
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `step_kube_vip`, when the first control-plane node runs kube-vip.
fn kube_vip_step(cluster: &Cluster) -> String {
    if !cluster.has_kube_vip() {
        return "\nstep_kube_vip() {\n  say \"no kube-vip in this cluster\"\n}\n".to_owned();
    }
    format!(
        r#"
# kube-vip starts with super-admin.conf on the first control-plane node (admin.conf's rights
# come from an addon); once the addons are in, install.sh moves it to admin.conf.
step_kube_vip() {{
  if grep -q 'path: /etc/kubernetes/super-admin.conf' {KUBE_VIP_MANIFEST}; then
    KBUNDLE_RBAC_READY=1 sh "$staging/install.sh" >/dev/null
    changed "kube-vip now uses admin.conf"
  fi
}}
"#
    )
}

/// Runs the steps named on the command line.
const DISPATCH: &str = r#"
[ "$#" -gt 0 ] || fail "usage: sh $0 STEP... (new-nodes wait-etcd wait-apiserver node-ranges addons kube-vip validate wait-ranges)"
[ "$(id -u)" -eq 0 ] || fail "run me as root"
for step in "$@"; do
  case $step in
    new-nodes) step_new_nodes ;;
    wait-etcd) step_wait_etcd ;;
    wait-apiserver) step_wait_apiserver ;;
    node-ranges) step_node_ranges ;;
    addons) step_addons ;;
    kube-vip) step_kube_vip ;;
    validate) step_validate ;;
    wait-ranges) step_wait_ranges ;;
    *) fail "no step \`$step\`" ;;
  esac
done
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests::example_bundle;

    #[test]
    fn carries_the_planned_ranges_the_node_objects_and_every_step() {
        let bundle = example_bundle(crate::config::ExampleKind::Basic, 1_790_000_000);
        let cluster = Cluster::read(&bundle).unwrap();
        let script = script(&cluster);
        for (node, ranges) in &cluster.ranges {
            assert!(
                script.contains(&format!("\n{node} {}\n", ranges.join(" "))),
                "{node}"
            );
            assert!(script.contains(&format!("    {node})\n      cat <<'KBUNDLE_NODE'\n{{")));
        }
        for (step, _) in STEPS {
            assert!(script.contains(&format!("\n    {step}) step_")), "{step}");
        }
        // Taints never go into the applied objects (a Node's taints are one list).
        assert!(!script.contains("\"taints\""));
        assert!(script.contains("worker1 ") || !cluster.node_objects.taints.is_empty());
        // The basic example's bootstrap token expires a day after issue; then its Secret is
        // left out and the rest of the file is applied from expired/.
        assert!(script.contains("if [ \"$(date +%s)\" -lt 1790086400 ]; then"));
        assert!(script.contains("apply_addon \"$staging/expired/20-bootstrap.yaml\""));
        assert!(!script.contains("addons/00-nodes.yaml\" addons/00-nodes.yaml"));
        // No secret of the bundle is in the script.
        for entry in &bundle.entries {
            if entry.path.ends_with(".key") {
                let key = String::from_utf8_lossy(&entry.contents);
                let body = key.lines().nth(1).unwrap();
                assert!(!script.contains(body), "{}", entry.path);
            }
        }
    }

    #[test]
    fn the_expired_variant_keeps_everything_but_the_token() {
        let bundle = example_bundle(crate::config::ExampleKind::Basic, 1_790_000_000);
        let cluster = Cluster::read(&bundle).unwrap();
        let variants = expired_variants(&cluster);
        assert_eq!(variants.len(), 1);
        let (path, text) = &variants[0];
        assert_eq!(path, "expired/20-bootstrap.yaml");
        assert!(text.contains("name: cluster-info"));
        assert!(!text.contains(crate::bundle::token::TOKEN_SECRET_TYPE));
    }

    #[test]
    fn kube_vip_moves_only_where_the_cluster_runs_it() {
        let basic = example_bundle(crate::config::ExampleKind::Basic, 1_790_000_000);
        let ha = example_bundle(crate::config::ExampleKind::HighAvailability, 1_790_000_000);
        assert!(!script(&Cluster::read(&basic).unwrap()).contains("KBUNDLE_RBAC_READY"));
        assert!(script(&Cluster::read(&ha).unwrap()).contains("KBUNDLE_RBAC_READY=1"));
    }
}
