#!/usr/bin/env bash
# SSH benchmark: a private OpenSSH sshd on 127.0.0.1 as the target, reached directly, through a
# second private sshd as a bastion (`ssh -J`), and — when configured — through Vigil. For each
# cipher: bulk transfer both ways (MiB/s, median of --runs), keystroke echo round trip (p50/p99 of
# --rtt-count single bytes through a pty, echoed by `cat` in raw mode), session setup (median of
# --setup-count `ssh host true`); once: memory per idle session (summed PSS of the middle hop's
# process tree with --idle open sessions, minus before, divided by --idle). With --write, appends
# a dated section to docs/benchmarks.md.
# Usage: bench/ssh/run.sh [--write] [--size-mib 1024] [--runs 1] [--rtt-count 1000]
#                         [--setup-count 20] [--idle 100] [--ciphers "aes128-gcm@openssh.com chacha20-poly1305@openssh.com"]
# The "through Vigil" column: see vigil_path() below (VIGIL_SSH, VIGIL_SSH_PASSWORD, VIGIL_PID,
# or VIGIL_SETUP). Without them the column shows "—".
set -euo pipefail
cd "$(dirname "$0")/../.."
write=0; size_mib=1024; runs=1; rtt_count=1000; setup_count=20; idle=100
ciphers="aes128-gcm@openssh.com chacha20-poly1305@openssh.com"
while [ $# -gt 0 ]; do
  case "$1" in
    --write) write=1 ;;
    --size-mib) size_mib=$2; shift ;;
    --runs) runs=$2; shift ;;
    --rtt-count) rtt_count=$2; shift ;;
    --setup-count) setup_count=$2; shift ;;
    --idle) idle=$2; shift ;;
    --ciphers) ciphers=$2; shift ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$idle" -ge 1 ] && [ "$idle" -le 1000 ] || { echo "bench: --idle must be 1..1000" >&2; exit 2; }
tools=bench/ssh/tools.py

work=$(mktemp -d /tmp/vigil-bench-ssh-XXXXXX); chmod 711 "$work"
sshd_pids=()
cleanup() {
  local p
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
        BENCH_CLIENT_PUBKEY=$work/id.pub "$VIGIL_SETUP") || { echo "bench: VIGIL_SETUP failed" >&2; return 0; }
  eval "$out"
}
vigil_path() {
  [ -n "${VIGIL_SSH:-}" ] || return 1
  local words
  read -r -a words <<<"$VIGIL_SSH"
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
      argv "$1" "$2" -- 'cat > /dev/null' || return 1
      t0=$(now_ms); head -c "$bytes" /dev/zero | "${ARGV[@]}" || { echo "bench: $1 upload failed" >&2; return 1; }
      t1=$(now_ms)
    else
      argv "$1" "$2" -- "head -c $bytes /dev/zero" || return 1
      t0=$(now_ms); "${ARGV[@]}" < /dev/null | wc -c > "$work/bulk.count"; t1=$(now_ms)
      [ "$(cat "$work/bulk.count")" = "$bytes" ] || { echo "bench: short download" >&2; return 1; }
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

idle_memory() {  # path cfg pid... -> KiB of PSS per idle session in the trees of the given PIDs
  local path=$1 cfg=$2; shift 2
  [ $# -gt 0 ] || return 1
  argv "$path" "$cfg" -- 'echo up; exec cat' || return 1
  local before after i ok=1 groups=() dir="$work/idle.$path"
  mkdir -p "$dir"
  before=$(python3 "$tools" pss "$@")
  for i in $(seq 1 "$idle"); do
    # Each session in its own process group (stopped as a group by its id); stdin is a pipe
    # from sleep, so the remote cat ends when the connection does. Batches of 20 stay under
    # sshd's MaxStartups for connections still authenticating.
    setsid bash -c 'sleep 3600 | exec "$@"' _ "${ARGV[@]}" > "$dir/$i" 2>&1 &
    groups+=($!)
    echo $! >> "$work/idle.groups"
    if [ $((i % 20)) = 0 ]; then wait_up "$dir" "$i" || { ok=0; break; }; fi
  done
  if [ $ok = 1 ] && wait_up "$dir" "$idle"; then
    sleep 2
    after=$(python3 "$tools" pss "$@")
  else
    ok=0
  fi
  for i in "${groups[@]}"; do kill -- "-$i" 2>/dev/null || true; done
  for i in "${groups[@]}"; do wait "$i" 2>/dev/null || true; done
  : > "$work/idle.groups"
  sleep 1  # let the hops reap the closed sessions before the next measurement
  [ $ok = 1 ] || return 1
  python3 -c "print(round(($after - $before) / $idle))"
}
wait_up() {  # dir count: until count sessions printed "up" (120 s at most)
  local n
  for _ in $(seq 1 1200); do
    n=$(grep -l '^up' "$1"/* 2>/dev/null | wc -l)
    [ "$n" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "bench: only $n of $2 idle sessions came up" >&2
  return 1
}

cell() { local v; if v=$("$@" 2>>"$work/errors.log"); then echo "$v"; else echo "—"; fi; }

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
    rows+="| $cipher | $label | $d | $j | $v |"$'\n'
    echo "$cipher: $label: direct $d, -J $j, Vigil $v" >&2
  done
done
cfg=$(client_config "${ciphers%% *}")
d=$(cell idle_memory direct "$cfg" "$target_pid")
j=$(cell idle_memory jump "$cfg" "$bastion_pid")
v=$(cell idle_memory vigil "$cfg" $(vigil_pids))
rows+="| any | memory per idle session ($idle sessions), KiB PSS | $d (target sshd) | $j (bastion sshd) | $v (vigil) |"$'\n'
echo "memory per idle session: direct $d, -J $j, Vigil $v" >&2
[ -s "$work/errors.log" ] && { echo "bench: errors:" >&2; sort -u "$work/errors.log" | head -20 >&2; }

header="| cipher | measure | direct | \`ssh -J\` (OpenSSH bastion) | through Vigil |
| --- | --- | --- | --- | --- |"
echo "$header"
printf '%s' "$rows"

if [ "$write" = 1 ]; then
  {
    echo
    echo "## SSH — $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), $(ssh -V 2>&1 | cut -d, -f1)"
    echo
    echo "Command: \`bench/ssh/run.sh --write --size-mib $size_mib --runs $runs --rtt-count $rtt_count --setup-count $setup_count --idle $idle\`."
    echo "Private sshds on 127.0.0.1 (key login); bulk = \`head -c | ssh host 'cat > /dev/null'\` and back,"
    echo "median of $runs; echo = one byte through a pty to \`cat\` in raw mode and back, $rtt_count times;"
    echo "memory = PSS of the middle hop's process tree with $idle open sessions minus before, per session"
    echo "(for \"direct\" the target sshd itself, as a reference). Client, hops and target share the cores."
    echo
    echo "$header"
    printf '%s' "$rows"
  } >> docs/benchmarks.md
fi
