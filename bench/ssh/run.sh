#!/usr/bin/env bash
# SSH benchmark: a private OpenSSH sshd on 127.0.0.1 as the target, reached directly, through a
# second private sshd as a bastion (`ssh -J`), and — when configured — through Vigil. For each
# cipher: bulk transfer both ways (MiB/s, median of --runs), keystroke echo round trip (p50/p99 of
# --rtt-count single bytes through a pty, echoed by `cat` in raw mode), session setup (median of
# --setup-count `ssh host true`); once: memory per idle session (summed PSS of the middle hop's
# process tree with --idle sessions open through Vigil, --idle-ref through the others, minus
# before, per session) and, through Vigil only, the recording's size per minute of a scripted
# interactive admin session (~20 commands typed key by key; --no-admin skips it). With
# --write, puts a dated "## SSH" section into docs/benchmarks.md (replacing the previous one).
# Usage: bench/ssh/run.sh [--write] [--size-mib 1024] [--runs 1] [--rtt-count 1000] [--setup-count 20]
#                         [--idle 1000] [--idle-ref 100] [--no-admin] [--vigil|--no-vigil]
#                         [--ciphers "aes128-gcm@openssh.com chacha20-poly1305@openssh.com"]
# The "through Vigil" column: --vigil (the default when $VIGIL_BIN or build-release/server/vigil
# exists) starts a Release `vigil serve` for this run with bench/ssh/vigil_setup.py and stops it
# at the end; or see vigil_path() below (VIGIL_SSH, VIGIL_SSH_PASSWORD, VIGIL_PID, VIGIL_SETUP).
# Without any of them the column shows "—".
set -euo pipefail
cd "$(dirname "$0")/../.."
write=0; size_mib=1024; runs=1; rtt_count=1000; setup_count=20; idle=1000; idle_ref=100; admin=1
vigil=auto
ciphers="aes128-gcm@openssh.com chacha20-poly1305@openssh.com"
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=1 ;;
    --size-mib) size_mib=$2; shift ;;
    --runs) runs=$2; shift ;;
    --rtt-count) rtt_count=$2; shift ;;
    --setup-count) setup_count=$2; shift ;;
    --idle) idle=$2; shift ;;
    --idle-ref) idle_ref=$2; shift ;;
    --no-admin) admin=0 ;;
    --vigil) vigil=1 ;;
    --no-vigil) vigil=0 ;;
    --ciphers) ciphers=$2; shift ;;
    -h|--help) sed -n 2,17p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
for n in "$idle" "$idle_ref"; do
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 1000 ] || { echo "bench: --idle/--idle-ref must be 1..1000" >&2; exit 2; }
done
tools=bench/ssh/tools.py
vigil_bin=${VIGIL_BIN:-build-release/server/vigil}
if [ "$vigil" = auto ]; then
  # An explicitly configured Vigil (VIGIL_SSH / VIGIL_SETUP) wins over starting one.
  if [ -z "${VIGIL_SSH:-}${VIGIL_SETUP:-}" ] && [ -x "$vigil_bin" ]; then vigil=1; else vigil=0; fi
fi
if [ "$vigil" = 1 ]; then
  [ -x "$vigil_bin" ] || { echo "bench: --vigil: no vigil binary at $vigil_bin (set VIGIL_BIN)" >&2; exit 2; }
  export VIGIL_BIN=$vigil_bin
  VIGIL_SETUP=bench/ssh/vigil_setup.py
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

work=$(mktemp -d /tmp/vigil-bench-ssh-XXXXXX); chmod 711 "$work"
sshd_pids=()
vigil_started=""  # PID of the `vigil serve` VIGIL_SETUP started for this run
cleanup() {
  local p
  if [ -n "$vigil_started" ] && kill -0 "$vigil_started" 2>/dev/null; then
    # Not our child (the setup program started it in its own session): SIGTERM, then wait for
    # it to stop its embedded PostgreSQL and exit.
    kill -TERM "$vigil_started" 2>/dev/null || true
    for _ in $(seq 1 600); do kill -0 "$vigil_started" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$vigil_started" 2>/dev/null && echo "bench: vigil $vigil_started did not stop" >&2
  fi
  # Idle sessions run in process groups of their own, listed here by the subshells that start them.
  if [ -f "$work/idle.groups" ]; then
    while read -r p; do kill -- "-$p" 2>/dev/null || true; done < "$work/idle.groups"
  fi
  for p in "${sshd_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${sshd_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# ---- the private sshds: own host key, key login from a key made here, 127.0.0.1 only ----
# The login user has /bin/sh and no rc files, so no shell start-up cost is measured (root's
# .bashrc is sourced for every `ssh host cmd`).
user=vigil-bench
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/sh "$user"
# "!" (useradd's default) marks the account locked, and sshd without PAM then refuses even keys.
usermod -p '*' "$user"
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -C vigil-bench-host -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -C vigil-bench-client -f "$work/id"
cp "$work/id.pub" "$work/authorized_keys"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_sshd() {  # name port
  cat > "$work/sshd_$1.conf" <<CONF
Port $2
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd_$1.pid
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin no
AllowUsers $user
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
AllowTcpForwarding yes
X11Forwarding no
MaxStartups 1000
MaxSessions 10
LogLevel ERROR
CONF
  /usr/sbin/sshd -f "$work/sshd_$1.conf" -D -e 2> "$work/sshd_$1.log" &
  sshd_pids+=($!)
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $2), 0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: sshd $1 did not start" >&2; cat "$work/sshd_$1.log" >&2; exit 1
}
target_port=$(free_port); start_sshd target "$target_port"; target_pid=${sshd_pids[-1]}
bastion_port=$(free_port); start_sshd bastion "$bastion_port"; bastion_pid=${sshd_pids[-1]}

client_config() {  # cipher -> path of an ssh_config using it (the -J hop inherits -F)
  local f="$work/ssh_config.${1%%@*}"
  cat > "$f" <<CONF
Host *
  User $user
  IdentityFile $work/id
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  GlobalKnownHostsFile /dev/null
  LogLevel ERROR
  BatchMode yes
  Ciphers $1
  Compression no
  ControlMaster no
  ControlPath none
CONF
  echo "$f"
}

# ---- the paths: one ssh command line each, destination last; options are inserted before it ----
# direct_path / jump_path / vigil_path fill the array PATH_WORDS for a cipher's config file, or
# return 1 when the path is not available.
direct_path() { PATH_WORDS=(ssh -F "$1" -p "$target_port" 127.0.0.1); }
jump_path() { PATH_WORDS=(ssh -F "$1" -J "$user@127.0.0.1:$bastion_port" -p "$target_port" 127.0.0.1); }

# ==== SLOT: the third column, "through Vigil" (the lead fills in the Vigil side) ====
# Vigil must be serving with an SSH listener and an account on the target this script started.
# Either export before running:
#   VIGIL_SSH="ssh -p PORT alice%vigil-bench%bench-target@127.0.0.1"  (identity login; a launch token is
#                                      single-use and this script opens hundreds of sessions)
#   VIGIL_SSH_PASSWORD=...            (optional: the Vigil password, given to sshpass via SSHPASS;
#                                      without it, the bench client key $work/id must be registered
#                                      as alice's public key)
#   VIGIL_PID=...                     (optional: `vigil serve`'s PID, for the memory row)
# or set VIGIL_SETUP to a program that creates the target/account in Vigil for this run's sshd
# and prints those assignments as shell lines (VIGIL_SSH=..., VIGIL_SSH_PASSWORD=..., VIGIL_PID=...).
# It gets BENCH_TARGET_ADDR, BENCH_TARGET_PORT, BENCH_TARGET_USER (vigil-bench), BENCH_TARGET_KEY (the
# private key the target accepts; vault it as the account's credential), BENCH_TARGET_HOSTKEY_FP
# ("SHA256:..." to pin) and BENCH_CLIENT_PUBKEY (the key this script logs in with).
# The cipher of the client -> Vigil leg follows the same ssh_config (-F); the Vigil -> target leg is
# whatever Vigil negotiates.
vigil_init() {  # once, before the measurements
  [ -n "${VIGIL_SETUP:-}" ] || return 0
  local out
  out=$(BENCH_TARGET_ADDR=127.0.0.1 BENCH_TARGET_PORT=$target_port BENCH_TARGET_USER=$user \
        BENCH_TARGET_KEY=$work/id \
        BENCH_TARGET_HOSTKEY_FP=$(ssh-keygen -lf "$work/host_key.pub" | awk '{print $2}') \
        BENCH_CLIENT_PUBKEY=$work/id.pub BENCH_WORK=$work "$VIGIL_SETUP") || { echo "bench: VIGIL_SETUP failed" >&2; return 0; }
  eval "$out"
  vigil_started=${VIGIL_PID:-}
}
vigil_path() { vigil_words "${VIGIL_SSH:-}" "$1"; }
# Optional: VIGIL_SSH_NOREC, the same login to an account in a safe that does not record (a
# diagnostic row: what the proxy does without the recorder).
vigilnorec_path() { vigil_words "${VIGIL_SSH_NOREC:-}" "$1"; }
vigil_words() {  # "ssh ..." cfg
  [ -n "$1" ] || return 1
  local words
  read -r -a words <<<"$1"
  shift
  [ "${words[0]}" = ssh ] || { echo "bench: VIGIL_SSH must start with ssh" >&2; return 1; }
  PATH_WORDS=(ssh -F "$1")
  if [ -n "${VIGIL_SSH_PASSWORD:-}" ]; then
    export SSHPASS=$VIGIL_SSH_PASSWORD
    PATH_WORDS=(sshpass -e ssh -F "$1" -o BatchMode=no -o PubkeyAuthentication=no
                -o PreferredAuthentications=password,keyboard-interactive)
  fi
  PATH_WORDS+=("${words[@]:1}")
}
vigil_pids() { [ -n "${VIGIL_PID:-}" ] && echo "$VIGIL_PID"; }
# Optional, from VIGIL_SETUP: VIGIL_PG_PID (its PostgreSQL's postmaster: reported beside vigil's
# own memory) and VIGIL_RECORDINGS (where the .cast.zst files are: the recording row).
# ==== end of SLOT ====

# argv PATH CONFIG [ssh options...] -- [remote command...]: fills ARGV with the full command line.
argv() {
  local path=$1 cfg=$2; shift 2
  local opts=()
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  "${path}_path" "$cfg" || return 1
  local n=${#PATH_WORDS[@]}
  ARGV=("${PATH_WORDS[@]:0:n-1}" "${opts[@]}" "${PATH_WORDS[n-1]}" "$@")
}
now_ms() { date +%s%3N; }

bulk() {  # path cfg up|down -> MiB/s, median of $runs
  local bytes=$((size_mib * 1048576)) f="$work/bulk.times" t0 t1
  : > "$f"
  for _ in $(seq 1 "$runs"); do
    if [ "$3" = up ]; then
      # The far end counts what arrived: a hop that loses bytes must not score.
      argv "$1" "$2" -- 'wc -c' || return 1
      t0=$(now_ms); head -c "$bytes" /dev/zero | "${ARGV[@]}" > "$work/bulk.count" || { echo "bench: $1 upload failed" >&2; return 1; }
      t1=$(now_ms)
      [ "$(tr -d ' ' < "$work/bulk.count")" = "$bytes" ] || { echo "bench: $1 short upload: $(cat "$work/bulk.count") of $bytes bytes arrived" >&2; return 1; }
    else
      argv "$1" "$2" -- "head -c $bytes /dev/zero" || return 1
      t0=$(now_ms); "${ARGV[@]}" < /dev/null | wc -c > "$work/bulk.count"; t1=$(now_ms)
      [ "$(cat "$work/bulk.count")" = "$bytes" ] || { echo "bench: $1 short download: $(cat "$work/bulk.count") of $bytes bytes arrived" >&2; return 1; }
    fi
    python3 -c "print($size_mib * 1000 / max(1, $t1 - $t0))" >> "$f"
  done
  python3 "$tools" median "$f"
}

rtt() {  # path cfg -> "p50 / p99" ms
  argv "$1" "$2" -tt -- 'stty raw -echo; echo READY; exec cat' || return 1
  local r
  r=$(python3 "$tools" echo-rtt "$rtt_count" -- "${ARGV[@]}") || return 1
  awk '{printf "%.2f / %.2f", $1, $2}' <<<"$r"
}

setup() {  # path cfg -> median ms of `ssh host true`
  local f="$work/setup.times" t0 t1
  : > "$f"
  argv "$1" "$2" -- true || return 1
  for _ in $(seq 1 "$setup_count"); do
    t0=$(now_ms); "${ARGV[@]}" < /dev/null || { echo "bench: $1 ssh true failed" >&2; return 1; }
    t1=$(now_ms)
    echo $((t1 - t0)) >> "$f"
  done
  python3 "$tools" median "$f"
}

idle_memory() {  # path cfg count "pid..." ["pid..."] -> KiB of PSS per idle session in the trees
                 # of the first PIDs, and " + KiB" for the second ones when given
  local path=$1 cfg=$2 count=$3 pids=($4) extra=(${5:-})
  [ ${#pids[@]} -gt 0 ] || return 1
  argv "$path" "$cfg" -- 'echo up; exec cat' || return 1
  local before after xbefore=0 xafter=0 i ok=1 groups=() dir="$work/idle.$path"
  mkdir -p "$dir"
  before=$(python3 "$tools" pss "${pids[@]}")
  [ ${#extra[@]} -gt 0 ] && xbefore=$(python3 "$tools" pss "${extra[@]}")
  for i in $(seq 1 "$count"); do
    # Each session in its own process group (stopped as a group by its id); stdin is a pipe
    # from sleep, so the remote cat ends when the connection does. Batches of 20 stay under
    # sshd's MaxStartups for connections still authenticating.
    setsid bash -c 'sleep 3600 | exec "$@"' _ "${ARGV[@]}" > "$dir/$i" 2>&1 &
    groups+=($!)
    echo $! >> "$work/idle.groups"
    if [ $((i % 20)) = 0 ]; then wait_up "$dir" "$i" || { ok=0; break; }; fi
  done
  if [ $ok = 1 ] && wait_up "$dir" "$count"; then
    sleep 2
    after=$(python3 "$tools" pss "${pids[@]}")
    [ ${#extra[@]} -gt 0 ] && xafter=$(python3 "$tools" pss "${extra[@]}")
  else
    ok=0
  fi
  for i in "${groups[@]}"; do kill -- "-$i" 2>/dev/null || true; done
  for i in "${groups[@]}"; do wait "$i" 2>/dev/null || true; done
  : > "$work/idle.groups"
  sleep 1  # let the hops reap the closed sessions before the next measurement
  [ $ok = 1 ] || return 1
  if [ ${#extra[@]} -gt 0 ]; then
    python3 -c "print(round(($after - $before) / $count), '+', round(($xafter - $xbefore) / $count))"
  else
    python3 -c "print(round(($after - $before) / $count))"
  fi
}
wait_up() {  # dir count: until count sessions printed "up" (180 s at most)
  local n
  for _ in $(seq 1 1800); do
    n=$(grep -l '^up' "$1"/* 2>/dev/null | wc -l)
    [ "$n" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "bench: only $n of $2 idle sessions came up" >&2
  return 1
}

recording() {  # path cfg -> "KB/min (bytes in s, commands; raw asciicast KB/min)"
  [ -n "${VIGIL_RECORDINGS:-}" ] || return 1
  argv "$1" "$2" -tt -- || return 1
  local before new r secs cmds size last raw
  before=$(find "$VIGIL_RECORDINGS" -name '*.cast.zst' 2>/dev/null | sort)
  r=$(python3 "$tools" admin-session "$work/units.txt" -- "${ARGV[@]}") || return 1
  read -r secs cmds <<<"$r"
  new=$(comm -13 <(echo "$before") <(find "$VIGIL_RECORDINGS" -name '*.cast.zst' | sort))
  [ "$(wc -l <<<"$new")" = 1 ] && [ -n "$new" ] || { echo "bench: expected one new recording, got: $new" >&2; return 1; }
  # The recording is closed (drained, last frame ended, fsynced) just after the session ends.
  last=-1
  for _ in $(seq 1 50); do
    size=$(stat -c %s "$new")
    [ "$size" = "$last" ] && zstd -qt "$new" 2>/dev/null && break
    last=$size; sleep 0.2
  done
  raw=$(zstd -qdc "$new" | wc -c)
  python3 -c "print(f'{$size / 1000 / ($secs / 60):.2f} ($size B in $secs s, $cmds commands; raw asciicast {$raw / 1000 / ($secs / 60):.1f})')"
}

cell() { local v; if v=$("$@" 2>>"$work/errors.log"); then echo "$v"; else echo "—"; fi; }
add_row() {  # cipher label direct jump vigil
  rows+="| $1 | $2 | $3 | $4 | $5 | $(python3 "$tools" ratio "$5" "$4") |"$'\n'
  echo "$1: $2: direct $3, -J $4, Vigil $5" >&2
}

python3 "$tools" write-units "$work/units.txt"
vigil_init
rows=""
for cipher in $ciphers; do
  cfg=$(client_config "$cipher")
  for what in "bulk up" "bulk down" rtt setup; do
    case "$what" in
      "bulk up") label="upload $size_mib MiB, MiB/s"; fn=(bulk); extra=(up) ;;
      "bulk down") label="download $size_mib MiB, MiB/s"; fn=(bulk); extra=(down) ;;
      rtt) label="keystroke echo p50 / p99, ms"; fn=(rtt); extra=() ;;
      setup) label="session setup (\`ssh host true\`), median ms"; fn=(setup); extra=() ;;
    esac
    d=$(cell "${fn[@]}" direct "$cfg" "${extra[@]}")
    j=$(cell "${fn[@]}" jump "$cfg" "${extra[@]}")
    v=$(cell "${fn[@]}" vigil "$cfg" "${extra[@]}")
    add_row "$cipher" "$label" "$d" "$j" "$v"
    if [ "$what" = "bulk down" ] && [ -n "${VIGIL_SSH_NOREC:-}" ]; then
      # Same download to an account whose safe does not record: the proxy without the recorder.
      # direct and -J repeat the row above.
      v=$(cell bulk vigilnorec "$cfg" down)
      add_row "$cipher" "↳ same, Vigil safe *not* recording (diagnostic)" "$d" "$j" "$v"
    fi
  done
done
cfg=$(client_config "${ciphers%% *}")
if [ "$admin" = 1 ]; then
  v=$(cell recording vigil "$cfg")
  add_row "${ciphers%% *}" "recording of a scripted admin session, KB/min (.cast.zst)" "n/a" "n/a" "$v"
fi
# Before the idle sessions: their start and teardown (thousands of processes) load the machine.
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
d=$(cell idle_memory direct "$cfg" "$idle_ref" "$target_pid")
j=$(cell idle_memory jump "$cfg" "$idle_ref" "$bastion_pid")
v=$(cell idle_memory vigil "$cfg" "$idle" "$(vigil_pids)" "${VIGIL_PG_PID:-}")
[ "$d" = — ] || d="$d (target sshd)"
[ "$j" = — ] || j="$j (bastion sshd)"
if [ "$v" != — ]; then
  if [ -n "${VIGIL_PG_PID:-}" ]; then v="${v% + *} (vigil) + ${v#* + } (its PostgreSQL)"; else v="$v (vigil)"; fi
fi
add_row any "memory per idle session ($idle_ref direct / -J, $idle through Vigil), KiB PSS" "$d" "$j" "$v"
[ -s "$work/errors.log" ] && { echo "bench: errors:" >&2; sort -u "$work/errors.log" | head -20 >&2; }

header="| cipher | measure | direct | \`ssh -J\` (OpenSSH bastion) | through Vigil (recorded) | Vigil / \`-J\` |
| --- | --- | --- | --- | --- | --- |"
echo "$header"
printf '%s' "$rows"

if [ "$write" = 1 ]; then
  vigil_desc="not measured"
  if [ -n "${VIGIL_BIN:-}" ] && [ "$vigil" = 1 ]; then
    vigil_desc="\`$VIGIL_BIN\` ($(grep -m1 '^CMAKE_BUILD_TYPE' "$(dirname "$VIGIL_BIN")/../CMakeCache.txt" 2>/dev/null | cut -d= -f2 || echo '?') build, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  fi
  {
    echo "## SSH — $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), $(ssh -V 2>&1 | cut -d, -f1)"
    echo
    echo "Command: \`bench/ssh/run.sh --write --size-mib $size_mib --runs $runs --rtt-count $rtt_count --setup-count $setup_count --idle $idle --idle-ref $idle_ref\`."
    echo "Vigil: $vigil_desc, started for the run by \`bench/ssh/vigil_setup.py\` (embedded PostgreSQL,"
    echo "safe policy \`record_sessions: true\`, the target's host key pinned, the account's key in the vault;"
    echo "identity login \`bench%vigil-bench%bench-target\` with the Vigil password via sshpass, Argon2 t=1/8 MiB)."
    echo "Load average (1/5/15 min) at the start: $load_start; before the idle sessions: $load_end — the machine is shared"
    echo "with other work, and client, hops and target share its cores, so treat these as lower bounds."
    echo
    echo "Private sshds on 127.0.0.1 (key login); bulk = \`head -c | ssh host 'wc -c'\` and back (byte counts checked),"
    echo "median of $runs; echo = one byte through a pty to \`cat\` in raw mode and back, $rtt_count times;"
    echo "setup = \`ssh host true\`, median of $setup_count. Memory = PSS of the middle hop's process tree"
    echo "with N open sessions minus before, per session (for \"direct\" the target sshd itself, as a"
    echo "reference; for Vigil its own process, and its PostgreSQL's separately). Recording = size of the"
    echo ".cast.zst of a scripted interactive admin session (pty 120x40, ~20 commands typed key by key"
    echo "with 1-4 s pauses: ls -la /etc, ps aux | head, df -h, a systemctl-like listing, ...) per"
    echo "minute of session, KB = 1000 bytes. Vigil / \`-J\`: above 1 is better for MiB/s, below 1 for ms and KiB."
    echo "Targets (DESIGN.md): throughput and p99 at least as good as \`ssh -J\`; ≤ 200 KB per idle"
    echo "session; ≤ 5 KB per minute recorded."
    echo
    echo "$header"
    printf '%s' "$rows"
    if [ -s "$work/errors.log" ]; then
      echo
      echo "A \"—\" is a measurement that failed in this run; what the clients said:"
      echo
      tr -d '\r' < "$work/errors.log" | grep -v '^[[:space:]]*$' | sort | uniq -c | sed 's/^ *\([0-9]*\) \(.*\)/- `\2` (×\1)/'
    fi
  } > "$work/section.md"
  python3 "$tools" replace-section docs/benchmarks.md "SSH" "$work/section.md"
fi
