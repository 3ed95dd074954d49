#!/usr/bin/env bash
# RDP proxy + recorder cost: a scripted session (typing in an xterm on the target through
# xfreerdp -> vigil -> freerdp-shadow-cli) for BENCH_SECONDS (default 120). Prints vigil's CPU
# share of one core, its memory growth and the recording's KB per minute, once per codec
# (BENCH_CODECS, default "h264 av1"). Usage: bench/rdp/run.sh [build-dir]
set -euo pipefail
build=${1:-build}
export BENCH_SECONDS=${BENCH_SECONDS:-120}
export BENCH_CODECS=${BENCH_CODECS:-h264 av1}
"$build/tests/integration_rdp" "[.bench]" -s 2>&1 | grep -E "RDP bench|passed|failed"
