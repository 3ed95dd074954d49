#!/bin/sh
# Recording throughput: plain vs sealed (hash chain) vs sealed + encrypted (docs/benchmarks.md).
# Builds only the recorder, crypto and this benchmark in Release, in build-bench-recording/.
#   bench/recording/run.sh [megabytes=64] [runs=5]
set -e
cd "$(dirname "$0")/../.."
cmake -S . -B build-bench-recording -DCMAKE_BUILD_TYPE=Release ${CCACHE:+-DCMAKE_CXX_COMPILER_LAUNCHER=ccache} >/dev/null
cmake --build build-bench-recording -j2 --target bench_recording >/dev/null
build-bench-recording/bench/recording/bench_recording "${1:-64}" "${2:-5}" "${TMPDIR:-/tmp}"
