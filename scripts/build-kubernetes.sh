#!/usr/bin/env bash
# Builds the real Kubernetes components (and etcd) that the lab runs, from source through the Go
# module proxy, into a cache outside the checkout keyed by version:
#
#   $KBUNDLE_CACHE/kubernetes/v1.37.2/bin/{kube-apiserver,…,kubemark}
#   $KBUNDLE_CACHE/etcd/v3.7.0/bin/{etcd,etcdctl}
#
# Usage: scripts/build-kubernetes.sh [KUBERNETES_VERSION] [ETCD_VERSION]
#   (defaults: the newest patch the proxy serves for the default minor, and the etcd it pins)
# Prints the bin directories, one per line, on stdout. A second run builds nothing.
#
# Why a wrapper module: k8s.io/kubernetes requires its staging modules (k8s.io/api, …) at v0.0.0
# with `replace => ./staging/…`, and replace lines only apply in the main module, so `go install
# k8s.io/kubernetes/cmd/…@v1.37.2` is refused. The wrapper's go.mod replaces each staging module
# named in that version's own go.mod with its published tag v0.<minor>.<patch>.
# These binaries are for tests only; none is committed.
set -euo pipefail

KUBERNETES_VERSION=${1:-v1.37.2}
ETCD_VERSION=${2:-v3.7.0}
CACHE=${KBUNDLE_CACHE:-$HOME/.cache/kbundle}
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl kubeadm kubemark)

log() { printf 'build-kubernetes: %s\n' "$*" >&2; }

version_re='^v1\.([0-9]+)\.([0-9]+)$'
[[ $KUBERNETES_VERSION =~ $version_re ]] || {
  log "KUBERNETES_VERSION: \`$KUBERNETES_VERSION\` is not of the form v1.MINOR.PATCH (e.g. v1.37.2)"
  exit 2
}
minor=${BASH_REMATCH[1]} patch=${BASH_REMATCH[2]}

build_kubernetes() {
  local out=$CACHE/kubernetes/$KUBERNETES_VERSION
  local missing=()
  for c in "${COMPONENTS[@]}"; do [[ -x $out/bin/$c ]] || missing+=("$c"); done
  if ((${#missing[@]} == 0)); then
    echo "$out/bin"
    return
  fi
  log "building ${missing[*]} $KUBERNETES_VERSION (a cold build takes tens of minutes on 2 cores)"
  local started=$SECONDS
  local work=$out/module
  rm -rf "$work" && mkdir -p "$work" "$out/bin"
  local upstream_mod
  upstream_mod=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  # The wrapper's go.mod: upstream's own requirements (so every dependency is at the version
  # upstream pinned, google.golang.org/protobuf included), its go and godebug lines (they apply
  # only in the main module), and each staging module replaced by its published tag.
  python3 - "$upstream_mod" "$KUBERNETES_VERSION" "$minor" "$patch" "${missing[@]}" >"$work/go.mod" <<'PY'
import re, sys
upstream, version, minor, patch, *commands = sys.argv[1:]
text = open(upstream).read()
staging = re.findall(r'^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/', text, re.M)
if not staging:
    sys.exit(f"no staging replace lines in {upstream}: has k8s.io/kubernetes changed its layout?")
out = ["module kbundle.test/kubernetes-build", ""]
out += [line for line in text.splitlines() if re.match(r'^(go|godebug|toolchain) ', line)]
out.append("")
requires = re.findall(r'^require \((.*?)^\)', text, re.M | re.S)
out.append("require (")
out.append(f"\tk8s.io/kubernetes {version}")
for block in requires:
    for line in block.splitlines():
        line = line.strip()
        if line and not line.startswith("//"):
            out.append("\t" + line)
out.append(")")
out.append("")
out.append("replace (")
for module in staging:
    out.append(f"\t{module} => {module} v0.{minor}.{patch}")
out.append(")")
out.append("")
for command in commands:
    out.append(f"tool k8s.io/kubernetes/cmd/{command}")
print("\n".join(out))
PY
  (cd "$work" && go mod tidy >&2)
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${missing[@]}"; do
    local t=$SECONDS
    (cd "$work" && CGO_ENABLED=0 go build -trimpath -tags selinux,notest -ldflags "$ldflags" \
      -o "$out/bin/$c.partial" "k8s.io/kubernetes/cmd/$c")
    mv "$out/bin/$c.partial" "$out/bin/$c"
    log "$c: $((SECONDS - t)) s"
  done
  log "kubernetes $KUBERNETES_VERSION built in $((SECONDS - started)) s"
  # For the cluster benchmark: how long this cache took to build (and whether Go's caches
  # were cold then).
  printf '%s seconds for %s\n' "$((SECONDS - started))" "${missing[*]}" >"$out/build-time"
  echo "$out/bin"
}

build_etcd() {
  local out=$CACHE/etcd/$ETCD_VERSION
  if [[ -x $out/bin/etcd && -x $out/bin/etcdctl ]]; then
    echo "$out/bin"
    return
  fi
  log "building etcd $ETCD_VERSION"
  local work=$out/module
  rm -rf "$work" && mkdir -p "$work/etcd" "$out/bin"
  # etcd's own main (go.etcd.io/etcd/v3, the repository root) is a two-line call of etcdmain.Main;
  # the server module publishes that package, so the wrapper calls it the same way.
  cat >"$work/etcd/main.go" <<'GO'
// Command etcd is etcd's own server main, built from go.etcd.io/etcd/server/v3 for the lab.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  cat >"$work/go.mod" <<EOF
module kbundle.test/etcd-build

go 1.26.0

require (
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
	go.etcd.io/etcd/etcdctl/v3 $ETCD_VERSION
)

tool go.etcd.io/etcd/etcdctl/v3
EOF
  (cd "$work" && go mod tidy >&2)
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/bin/etcd.partial" ./etcd &&
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/bin/etcdctl.partial" go.etcd.io/etcd/etcdctl/v3)
  mv "$out/bin/etcd.partial" "$out/bin/etcd"
  mv "$out/bin/etcdctl.partial" "$out/bin/etcdctl"
  echo "$out/bin"
}

build_etcd
build_kubernetes
