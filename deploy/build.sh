#!/usr/bin/env bash
# Builds Vigil: front-end packages (npm ci + vendored browser modules) and the C++ tree.
# Usage: deploy/build.sh [BuildType=Release] [build dir=build] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
type=${1:-Release}
dir=${2:-build}
shift $(( $# > 2 ? 2 : $# ))

if [ -f package-lock.json ]; then
  echo "build: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  npm run --silent build:web
fi

tests=ON
[ "$type" = "Release" ] && [ "$dir" = "build-release" ] && tests=OFF
echo "build: cmake ($type) in $dir"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DVIGIL_TESTS=$tests "$@" > "$dir.cmake.log" 2>&1 || {
  cat "$dir.cmake.log"; exit 1; }
cmake --build "$dir" -j"$(nproc)"
