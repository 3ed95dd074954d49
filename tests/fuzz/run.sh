#!/usr/bin/env bash
# Builds the decoder fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each for a bounded
# time. Exits non-zero if a build fails or any target finds a crash, a leak, undefined behaviour or
# a report that depends on how the input was cut (the targets abort on that).
# Usage: tests/fuzz/run.sh [seconds per target, default 30] [target...]
# Crash inputs are kept in tests/artifacts/fuzz/<target>/ (reproduce: build-fuzz/<target> FILE).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
shift || true
build=${FUZZ_BUILD_DIR:-build-fuzz}
all=(sftp_decoder_fuzz scp_decoder_fuzz tds_decoder_fuzz pg_decoder_fuzz clipboard_text_fuzz)
targets=("${@:-${all[@]}}")

command -v clang++ >/dev/null || { echo "fuzz: clang++ is missing" >&2; exit 1; }
cmake -S tests/fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug > "$build.cmake.log" 2>&1 ||
  { cat "$build.cmake.log" >&2; exit 1; }
cmake --build "$build" -j2 --target "${targets[@]}" >> "$build.cmake.log" 2>&1 ||
  { tail -50 "$build.cmake.log" >&2; exit 1; }

status=0
for t in "${targets[@]}"; do
  corpus=$(mktemp -d /tmp/vigil-fuzz-XXXXXX)
  python3 tests/fuzz/seeds.py "$t" "$corpus"
  out=tests/artifacts/fuzz/$t
  mkdir -p "$out"
  echo "fuzz: $t for ${secs}s"
  if "$build/$t" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$out/" -print_final_stats=1 "$corpus" > "$out/log.txt" 2>&1; then
    echo "fuzz: $t ok ($(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$out/log.txt" | grep -oE '[0-9]+$') runs)"
  else
    status=1
    echo "fuzz: $t FAILED; input and log in $out/" >&2
    grep -E "ERROR|SUMMARY|runtime error|deadly signal" "$out/log.txt" | head -5 >&2
  fi
  rm -rf "$corpus"
done
exit $status
