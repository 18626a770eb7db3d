#!/usr/bin/env bash
# Builds the web configurator (dist/index.html) and serves it on this machine only, printing the
# address to open. The page starts with the built-in example cluster; everything it computes
# stays in the browser. PORT=8080 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-web.sh
port=${PORT:-8080}
echo
echo "kbundle configurator: open http://127.0.0.1:$port/ (or dist/index.html directly); Ctrl-C stops"
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory dist
