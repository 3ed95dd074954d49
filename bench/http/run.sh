#!/usr/bin/env bash
# HTTP benchmark: wrk against /healthz (no auth, no database) and an authenticated list endpoint
# (GET /api/v1/safes: cookie session lookup + a query) on a Release `vigil serve` with its
# embedded PostgreSQL. Runs each case 3 times and prints medians; with --write, appends a dated
# section to docs/benchmarks.md.
# Usage: bench/http/run.sh [--write] [--duration 10s] [--connections 32]
set -euo pipefail
cd "$(dirname "$0")/../.."
write=0; duration=10s; conns=32
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=1 ;;
    --duration) duration=$2; shift ;;
    --connections) conns=$2; shift ;;
    -h|--help) sed -n 2,6p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v wrk >/dev/null || { echo "bench: wrk is missing (deploy/install-deps.sh installs it)" >&2; exit 1; }

bin=${VIGIL_BIN:-build-release/server/vigil}
[ -x "$bin" ] || bash deploy/build.sh Release build-release >/dev/null

work=$(mktemp -d /tmp/vigil-bench-XXXXXX); chmod 711 "$work"
cat > "$work/vigil.yaml" <<YAML
data_dir: $work/data
listen: {address: 127.0.0.1, port: 0}
log: {level: warn}
YAML
"$bin" serve -c "$work/vigil.yaml" > "$work/out.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 120); do grep -q '^Portal:' "$work/out.log" && break; sleep 0.5; done
port=$(grep -oE '^Portal: https://127.0.0.1:[0-9]+' "$work/out.log" | grep -oE '[0-9]+$')
pw=$(grep -oE '^Initial superuser: admin  password: \S+' "$work/out.log" | awk '{print $5}')
url=https://127.0.0.1:$port

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
login=$(curl -sk -c "$work/jar" -H 'Content-Type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$pw\"}" "$url/api/v1/auth/login")
csrf=$(json "['csrf_token']" <<<"$login")
newpw="bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
curl -sk -b "$work/jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
  -d "{\"current_password\":\"$pw\",\"new_password\":\"$newpw\"}" "$url/api/v1/me/password" >/dev/null
for i in $(seq 1 50); do
  curl -sk -b "$work/jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    -d "{\"name\":\"safe-$i\",\"description\":\"benchmark safe $i\"}" "$url/api/v1/safes" >/dev/null
done
cookie=$(awk '$6=="vigil_session"{print $7}' "$work/jar")

run_case() {  # name path [header]
  local name=$1 path=$2 hdr=${3:-} rps=() p50=() p99=()
  for _ in 1 2 3; do
    local out
    if [ -n "$hdr" ]; then out=$(wrk -t2 -c"$conns" -d"$duration" --latency -H "$hdr" "$url$path")
    else out=$(wrk -t2 -c"$conns" -d"$duration" --latency "$url$path"); fi
    rps+=("$(awk '/Requests\/sec/{print $2}' <<<"$out")")
    p50+=("$(awk '$1=="50%"{print $2}' <<<"$out")")
    p99+=("$(awk '$1=="99%"{print $2}' <<<"$out")")
    grep -q "Non-2xx" <<<"$out" && { echo "bench: $name got non-2xx answers" >&2; echo "$out" >&2; exit 1; }
  done
  local med_rps med_p50 med_p99
  med_rps=$(printf '%s\n' "${rps[@]}" | sort -n | sed -n 2p)
  med_p50=$(printf '%s\n' "${p50[@]}" | sort -V | sed -n 2p)
  med_p99=$(printf '%s\n' "${p99[@]}" | sort -V | sed -n 2p)
  echo "| $name | $med_rps | $med_p50 | $med_p99 | ${rps[*]} |"
}

header="| endpoint | req/s (median of 3) | p50 latency | p99 latency | runs (req/s) |
| --- | --- | --- | --- | --- |"
rows="$(run_case 'GET /healthz' /healthz)
$(run_case 'GET /api/v1/safes (50 safes, authenticated)' /api/v1/safes "Cookie: vigil_session=$cookie")"
echo "$header"
echo "$rows"

if [ "$write" = 1 ]; then
  {
    echo
    echo "## HTTP API — $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)"
    echo
    echo "Command: \`bench/http/run.sh --write --duration $duration --connections $conns\` (wrk -t2 -c$conns over TLS, keep-alive; Release build, embedded PostgreSQL; wrk shares the machine's cores with the server)."
    echo
    echo "$header"
    echo "$rows"
  } >> docs/benchmarks.md
fi
