#!/usr/bin/env bash
# Search benchmark (issue 4): a Release `vigil serve` with its embedded PostgreSQL, loaded with
# --sessions sessions and --events timeline rows per session (default 1,000,000 x 20 =
# 20,000,000 rows; bench/search/generate.sql), then filtered listings (GET /api/v1/sessions) and
# text searches (GET /api/v1/search) timed through the API over one keep-alive connection
# (bench/search/query.py), side by side with the same text searched by a plain `ILIKE` scan in
# psql (what one would do without Vigil's indexes). Prints Markdown; --write replaces the
# "Search" section of docs/benchmarks.md.
# --data DIR keeps the loaded server in DIR (created if missing) so later runs skip the load.
# Usage: bench/search/run.sh [--sessions N] [--events N] [--runs N] [--data DIR] [--load-only] [--write]
set -euo pipefail
cd "$(dirname "$0")/../.."
sessions=1000000; events=20; runs=30; write=0; data=""; load_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sessions) sessions=$2; shift ;;
    --events) events=$2; shift ;;
    --runs) runs=$2; shift ;;
    --write) write=1 ;;
    --data) data=$2; shift ;;
    --load-only) load_only=1 ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
bin=${VIGIL_BIN:-build-release/server/vigil}
[ -x "$bin" ] || bash deploy/build.sh Release build-release >/dev/null

if [ -n "$data" ]; then mkdir -p "$data"; work=$(cd "$data" && pwd); keep=1
else work=$(mktemp -d /tmp/vigil-bench-search-XXXXXX); keep=0; fi
chmod 711 "$work"
cat > "$work/vigil.yaml" <<YAML
data_dir: $work/data
listen: {address: 127.0.0.1, port: 0}
ssh: {enabled: false}
log: {level: warn}
YAML
"$bin" serve -c "$work/vigil.yaml" > "$work/out.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 7200); do grep -q '^Portal:' "$work/out.log" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
grep -q '^Portal:' "$work/out.log" || { cat "$work/out.log" >&2; exit 1; }
port=$(grep -oE '^Portal: https://127.0.0.1:[0-9]+' "$work/out.log" | grep -oE '[0-9]+$')
pw=$(grep -oE '^Initial superuser: admin  password: \S+' "$work/out.log" | awk '{print $5}' || true)
url=https://127.0.0.1:$port

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
if [ -n "$pw" ]; then  # first start: replace the initial password, keep it for later runs
  login=$(curl -sk -c "$work/jar" -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$pw\"}" "$url/api/v1/auth/login")
  csrf=$(json "['csrf_token']" <<<"$login")
  newpw="bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
  curl -sk -b "$work/jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    -d "{\"current_password\":\"$pw\",\"new_password\":\"$newpw\"}" "$url/api/v1/me/password" >/dev/null
  (umask 077; echo "$newpw" > "$work/admin-password")
fi
export PGPASSWORD
PGPASSWORD=$(cat "$work/data/pg/password")
psql_() { runuser -u postgres -- env PGPASSWORD="$PGPASSWORD" "$pgbin/psql" -X -q -h "$work/data/pg/run" -p 5432 -U vigil -d vigil "$@"; }

if [ ! -f "$work/loaded" ]; then
  echo "bench: loading $sessions sessions x $events timeline rows (this takes a while)..." >&2
  t0=$(date +%s)
  psql_ -v sessions="$sessions" -v events_per_session="$events" -v users=200 -v safes=50 -v targets=1000 \
    -f bench/search/generate.sql 2>&1 | sed "s/^/  /" >&2
  echo $(( $(date +%s) - t0 )) > "$work/loaded"
fi
load_s=$(cat "$work/loaded")
rows=$(psql_ -At -c "select count(*) from session_events")
db_size=$(psql_ -At -c "select pg_size_pretty(pg_database_size('vigil'))")
echo "bench: loaded $rows rows in ${load_s}s, database $db_size" >&2

[ "$load_only" = 1 ] && exit 0
login=$(curl -sk -c "$work/jar" -H 'Content-Type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$(cat "$work/admin-password")\"}" "$url/api/v1/auth/login")
csrf=$(json "['csrf_token']" <<<"$login")
cookie=$(awk '$6=="vigil_session"{print $7}' "$work/jar")

safe=$(psql_ -At -c "select id from safes where name='safe-7'")
target=$(psql_ -At -c "select id from targets where name='host42'")
fname=$(psql_ -At -c "select substr(text, 15, 8) from session_events where kind='file' order by id desc limit 1")
month_from=$(date -u -d '-120 days' +%F); month_to=$(date -u -d '-90 days' +%F)
week_from=$(date -u -d '-60 days' +%F); week_to=$(date -u -d '-53 days' +%F)
cat > "$work/filtered.tsv" <<CASES
newest 50, no filter	/api/v1/sessions?limit=50
one user, one week	/api/v1/sessions?user=user17&from=$week_from&to=$week_to&limit=50
one safe, risk >= 40	/api/v1/sessions?safe_id=$safe&min_risk=40&limit=50
review queue order (unreviewed, by risk)	/api/v1/sessions?review_status=unreviewed&sort=risk_desc&limit=50
one target, rdp/ssh protocol, one month	/api/v1/sessions?target_id=$target&protocol=ssh&from=$month_from&to=$month_to&limit=50
longer than 1 h, one month	/api/v1/sessions?min_duration=3600&from=$month_from&to=$month_to&limit=50
page 20 (keyset)	CURSOR
CASES
# The keyset case: follow next_cursor 19 times, then time the 20th page.
cur=""
for _ in $(seq 1 19); do
  page=$(curl -sk -b "$work/jar" "$url/api/v1/sessions?limit=50${cur:+&cursor=$cur}")
  cur=$(json ".get('next_cursor') or ''" <<<"$page" | python3 -c "import sys,urllib.parse; print(urllib.parse.quote(sys.stdin.read().strip()))")
done
sed -i "s|CURSOR|/api/v1/sessions?limit=50\&cursor=$cur|" "$work/filtered.tsv"
cat > "$work/text.tsv" <<CASES
command: rm -rf	/api/v1/search?text=rm%20-rf&limit=20
command: iptables -L	/api/v1/search?text=iptables%20-L&limit=20
output: connection refused	/api/v1/search?text=connection%20refused&limit=20
file name substring	/api/v1/search?text=$fname&limit=20
punctuation: ps aux | grep java	/api/v1/search?text=ps%20aux%20%7C%20grep%20java&limit=20
text + filter: chmod 777 in one safe	/api/v1/search?text=chmod%20777&safe_id=$safe&limit=20
CASES

head="| case | request | p50 ms | p99 ms | items |
| --- | --- | --- | --- | --- |"
filtered=$(python3 bench/search/query.py "$url" "$cookie" "$csrf" "$work/filtered.tsv" "$runs")
text=$(python3 bench/search/query.py "$url" "$cookie" "$csrf" "$work/text.tsv" "$runs")

# The alternative: the same substring found by a plain scan (no index use), 3 runs, median.
scan() {
  local ms=()
  for _ in 1 2 3; do
    ms+=("$(psql_ -At -c "set enable_bitmapscan=off; set enable_indexscan=off; explain (analyze, format json) select distinct session_id from session_events where text ilike '%$1%' limit 20" \
      | python3 -c "import json,sys; print(round(json.load(sys.stdin)[0]['Execution Time'], 1))")")
  done
  printf '%s\n' "${ms[@]}" | sort -n | sed -n 2p
}
scan_rows="| plain ILIKE scan (psql, no index): rm -rf | $(scan 'rm -rf') ms |
| plain ILIKE scan (psql, no index): connection refused | $(scan 'connection refused') ms |"

report="Data: $sessions sessions, $rows timeline rows ($db_size, loaded in ${load_s} s). $runs runs per case after one warm-up, one keep-alive HTTPS connection, admin (superuser) caller.

Filtered listings (GET /api/v1/sessions):

$head
$filtered

Text search (GET /api/v1/search, trigram + full-text indexes, snippets and highlights included):

$head
$text

Without Vigil's indexes (median of 3):

| query | time |
| --- | --- |
$scan_rows"
echo "$report"

if [ "$write" = 1 ]; then
  python3 - "$report" <<'PY'
import re, sys, datetime, subprocess
p = "docs/benchmarks.md"
doc = open(p).read()
cpu = subprocess.run(["sh", "-c", "nproc; grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.split("\n")
section = (f"## Search — {datetime.date.today()}, {cpu[0]} cores,{cpu[1]}, Release\n\n"
           "Command: `bench/search/run.sh --write` (targets: filtered p50 <= 20 ms, full text p50 <= 100 ms).\n\n"
           + sys.argv[1] + "\n")
doc = re.sub(r"## Search\b.*?(?=\n## |\Z)", "", doc, flags=re.S).rstrip() + "\n\n" + section
open(p, "w").write(doc)
PY
  echo "bench: wrote docs/benchmarks.md" >&2
fi
