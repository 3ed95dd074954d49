#!/usr/bin/env bash
# The whole test suite: installs packages, builds (Debug with tests, plus an ASan/UBSan build of
# the unit tests), runs ctest (unit + integration against real PostgreSQL, slapd, ...) and the
# browser tests (Chromium), and ends with one summary line: "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CI=${CI:-}

bash deploy/install-deps.sh || { echo "tests: 0 passed, 1 failed"; exit 1; }

passed=0
failed=0
add_ctest_counts() {  # parses "NN% tests passed, F tests failed out of T"
  local line
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$1" | tail -1)
  if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
  local f t
  f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + t - f))
  failed=$((failed + f))
}

mkdir -p tests/artifacts
echo "=== build (Debug, with tests)"
if ! bash deploy/build.sh Debug build; then
  echo "tests: $passed passed, $((failed + 1)) failed"; exit 1
fi

echo "=== ctest: unit and integration"
(cd build && ctest --output-on-failure --timeout 600 -j2) 2>&1 | tee tests/artifacts/ctest.log
add_ctest_counts tests/artifacts/ctest.log

echo "=== ASan/UBSan build of the unit tests"
if cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVIGIL_SANITIZE=ON > build-asan.cmake.log 2>&1 &&
   targets=$(cd build-asan && cmake --build . --target help | grep -oE '^\.\.\. unit_[a-z_]+' | sed 's/^\.\.\. //') &&
   cmake --build build-asan -j"$(nproc)" --target $targets; then
  (cd build-asan && ctest --output-on-failure -L unit --timeout 600) 2>&1 | tee tests/artifacts/ctest-asan.log
  add_ctest_counts tests/artifacts/ctest-asan.log
else
  echo "ASan build failed"; failed=$((failed + 1))
fi

echo "=== fuzz: every protocol decoder for a bounded time (libFuzzer, ASan/UBSan)"
if bash tests/fuzz/run.sh 30 2>&1 | tee tests/artifacts/fuzz.log; then
  passed=$((passed + 1))
else
  echo "fuzzing found a problem (inputs under tests/artifacts/fuzz/)"; failed=$((failed + 1))
fi

echo "=== browser tests (playwright-core + Chromium)"
if [ -d tests/browser ]; then
  VIGIL_BIN="$root/build/server/vigil" node --test --test-reporter=tap tests/browser/ 2>&1 | tee tests/artifacts/browser.log
  bp=$(grep -E '^# pass [0-9]+' tests/artifacts/browser.log | tail -1 | awk '{print $3}')
  bf=$(grep -E '^# fail [0-9]+' tests/artifacts/browser.log | tail -1 | awk '{print $3}')
  if [ -z "$bp" ]; then failed=$((failed + 1)); else passed=$((passed + bp)); failed=$((failed + ${bf:-0})); fi
fi

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
