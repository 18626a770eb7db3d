#!/usr/bin/env bash
# Installs the real programs the end-to-end suites run against (Debian packages only), then the
# Rust pieces. Idempotent; needs root for apt (CI and developer machines run as root).
set -euo pipefail

# haproxy: the external load balancer of the HA cluster suite; iptables: kube-proxy's rules in
# the lab nodes; g++: libFuzzer, which the fuzz targets link, is C++ built from its crate;
# cloud-init: its own schema checks the user-data of `kbundle export cloud-init`.
packages=(openssl iproute2 python3 python3-venv procps shellcheck unzip openssh-server openssh-client sudo curl chromium haproxy iptables g++ cloud-init)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# Node runs the browser tests (playwright-core drives Debian's Chromium); the machine image ships
# one, Debian's is the fallback.
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Packages may try to start their daemons; the tests start their own.
for service in haproxy; do
  if command -v service >/dev/null && service "$service" status >/dev/null 2>&1; then
    service "$service" stop >/dev/null 2>&1 || true
  fi
done

# The manifest schema validator and ansible-core (which runs the playbook of `kbundle export
# ansible` against the lab nodes), in a venv inside the checkout (ignored by git).
venv=$(cd "$(dirname "$0")/.." && pwd)/.venv-tests
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  "$venv/bin/pip" install -q kubernetes-validate==1.37.0
fi
if ! "$venv/bin/ansible-playbook" --version 2>/dev/null | grep -q "core 2.19.14\]"; then
  "$venv/bin/pip" install -q ansible-core==2.19.14
fi

# playwright-core for the browser tests, exactly as locked (it drives /usr/bin/chromium and
# never downloads a browser).
web_tests=$(cd "$(dirname "$0")/.." && pwd)/tests/web
if [ ! -d "$web_tests/node_modules/playwright-core" ]; then
  npm ci --prefix "$web_tests" --no-audit --no-fund >/dev/null
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true

# cargo-fuzz for the fuzz smoke run (scripts/fuzz.sh), from the crate registry, once: it stays in
# ~/.cargo/bin, so a warm run installs nothing. Pinned: its flags are in the scripts.
cargo_fuzz_version=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q " $cargo_fuzz_version\$"; then
  echo "== installing cargo-fuzz $cargo_fuzz_version (once, about 3 minutes)"
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi
rustup target add wasm32-unknown-unknown >/dev/null

# The real Kubernetes components (and etcd) for the lab's cluster suites, built from the Go module
# proxy into a cache outside the checkout, keyed by version: a second run builds nothing.
command -v go >/dev/null || { echo "go is missing: the lab builds Kubernetes from source with Go 1.26" >&2; exit 1; }
"$(dirname "$0")/build-kubernetes.sh" >/dev/null
