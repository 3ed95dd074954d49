#!/usr/bin/env bash
# PostgreSQL passthrough benchmark: pgbench against a private PostgreSQL 15 target directly and
# through PgBouncer and through Vigil's PostgreSQL proxy, in the same run, alternating.
# Both paths use TLS (sslmode=require) and SCRAM-SHA-256 on the target; through Vigil each
# pgbench connection is an identity login (user%account%target) and one recorded session.
# Cases: select-only (-S) and tpcb-like (the default script), --clients connections, --seconds
# per run, --rounds rounds; prints tps medians, the ratios, per-transaction latency p50/p99, and
# the statements Vigil recorded per second. With --write, puts a "## PostgreSQL passthrough"
# section into docs/benchmarks.md (replacing the previous one).
# Usage: bench/db/run.sh [--write] [--seconds 10] [--clients 4] [--rounds 2] [--scale 5]
# VIGIL_BIN selects the binary (default build-release/server/vigil, else build/server/vigil).
set -euo pipefail
cd "$(dirname "$0")/../.."
# PgBouncer is the obvious alternative hop measured beside Vigil (Debian package, not started as a service).
if ! command -v pgbouncer >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbouncer
fi
exec python3 bench/db/bench.py "$@"
