#!/usr/bin/env bash
# RDP proxy + recorder cost: a scripted session (typing in an xterm on the target through
# xfreerdp -> vigil -> freerdp-shadow-cli) for BENCH_SECONDS (default 120). Prints vigil's CPU
# share of one core and the recording's KB per minute. Usage: bench/rdp/run.sh [build-dir]
set -euo pipefail
build=${1:-build}
export BENCH_SECONDS=${BENCH_SECONDS:-120}
"$build/tests/integration_rdp" "[.bench]" -s 2>&1 | grep -E "RDP bench|passed|failed"
