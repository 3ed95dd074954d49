#!/usr/bin/env bash
# Installs everything, builds a Release `vigil`, and starts `vigil serve` with its embedded
# defaults (private PostgreSQL, generated TLS certificate and master key, initial superuser).
# Usage: sudo deploy/quickstart.sh [extra `vigil serve` arguments, e.g. -c /etc/vigil/vigil.yaml]
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh --runtime-only
bash deploy/build.sh Release build-release

echo "quickstart: starting vigil serve (Ctrl-C stops it and its embedded PostgreSQL)"
exec build-release/server/vigil serve "$@"
