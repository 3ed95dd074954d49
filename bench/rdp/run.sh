#!/usr/bin/env bash
# RDP proxy + recorder cost, with real programs (xfreerdp -> vigil -> freerdp-shadow-cli on Xvfb):
#  - frame latency target -> client, xfreerdp straight to the target and through Vigil (same run);
#  - a scripted session per codec (BENCH_CODECS, default "h264 av1"; options after "+": "enc" on a
#    safe that encrypts recordings at rest, "low"/"high" quality, "<N>fps" cap: "av1+low+2fps") for
#    BENCH_SECONDS (default 120): typing in an xterm while a second window opens and moves; vigil's CPU share of one core,
#    its memory growth, the recording's KB per minute and the frame latency under load;
#  - concurrent recorded sessions (BENCH_SESSIONS, default "1 2 4"), each client on its own display.
# Usage: bench/rdp/run.sh [build-dir]   (a Release build gives the figures in docs/benchmarks.md)
set -euo pipefail
build=${1:-build}
export BENCH_SECONDS=${BENCH_SECONDS:-120}
export BENCH_CODECS=${BENCH_CODECS:-h264 av1}
export BENCH_SESSIONS=${BENCH_SESSIONS:-1 2 4}
export RDP_FRAME_PROBE=${RDP_FRAME_PROBE:-$build/bench/rdp/rdp_frame_probe}
[ -x "$RDP_FRAME_PROBE" ] || { echo "bench/rdp: $RDP_FRAME_PROBE is missing (build the rdp_frame_probe target)" >&2; exit 1; }
"$build/tests/integration_rdp" "[.bench]" -s 2>&1 | grep -E "RDP bench|passed|failed"
