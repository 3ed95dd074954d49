#!/usr/bin/env python3
"""Helpers for bench/ssh/run.sh (standard library only).

  tools.py echo-rtt COUNT -- SSH_ARGV...   keystroke echo round trips through a pty: prints
                                           "p50_ms p99_ms". SSH_ARGV must request a tty (-tt) and
                                           run "stty raw -echo; echo READY; exec cat" remotely.
  tools.py pss PID...                      summed PSS (KiB) of each PID and all its descendants
  tools.py median FILE                     median of the numbers in FILE, one a line
  tools.py write-units PATH                a `systemctl list-units`-like listing, for the admin
                                           session to `cat` (no systemd in the bench)
  tools.py admin-session UNITS -- SSH_ARGV...
                                           a scripted interactive admin session through a pty
                                           (120x40, TERM=xterm-256color): ~20 typical commands
                                           typed key by key with human pauses, then `exit`.
                                           SSH_ARGV must request a tty (-tt) and open a shell.
                                           Prints "seconds commands".
  tools.py ratio A B                       A / B for cells "x" or "x / y" (per part); "—" when
                                           either is missing
  tools.py replace-section FILE HEADING_PREFIX NEW_FILE
                                           replaces the section of FILE whose "## " heading
                                           starts with HEADING_PREFIX by NEW_FILE's text (appends
                                           when there is none)
"""
import fcntl
import random
import re
import struct
import termios
import os
import pty
import select
import signal
import statistics
import sys
import time


def read_until(fd, token, deadline, buf=b""):
    while token not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {token!r} from ssh; got {buf[-200:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise EOFError(f"ssh ended before {token!r}; got {buf[-200:]!r}")
            buf += chunk
    return buf[buf.index(token) + len(token):]


def echo_rtt(count, argv):
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    try:
        rest = read_until(fd, b"READY", time.monotonic() + 60)
        times = []
        for i in range(count):
            c = bytes([97 + i % 26])
            t0 = time.perf_counter()
            os.write(fd, c)
            rest = read_until(fd, c, time.monotonic() + 10, rest)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p50 = times[len(times) // 2]
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"{p50:.3f} {p99:.3f}")
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def pss(pids):
    kids = children_map()
    total = 0
    todo = list(pids)
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, []))
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass  # gone meanwhile
    print(total)


UNITS = [
    ("cron.service", "Regular background program processing daemon"),
    ("dbus.service", "D-Bus System Message Bus"),
    ("getty@tty1.service", "Getty on tty1"),
    ("haveged.service", "Entropy Daemon based on the HAVEGE algorithm"),
    ("ifup@eth0.service", "ifup for eth0"),
    ("keyboard-setup.service", "Set the console keyboard layout"),
    ("kmod-static-nodes.service", "Create List of Static Device Nodes"),
    ("networking.service", "Raise network interfaces"),
    ("nginx.service", "A high performance web server and a reverse proxy server"),
    ("postgresql@15-main.service", "PostgreSQL Cluster 15-main"),
    ("rsyslog.service", "System Logging Service"),
    ("ssh.service", "OpenBSD Secure Shell server"),
    ("systemd-journal-flush.service", "Flush Journal to Persistent Storage"),
    ("systemd-journald.service", "Journal Service"),
    ("systemd-logind.service", "User Login Management"),
    ("systemd-modules-load.service", "Load Kernel Modules"),
    ("systemd-random-seed.service", "Load/Save Random Seed"),
    ("systemd-remount-fs.service", "Remount Root and Kernel File Systems"),
    ("systemd-sysctl.service", "Apply Kernel Variables"),
    ("systemd-timesyncd.service", "Network Time Synchronization"),
    ("systemd-tmpfiles-setup.service", "Create Volatile Files and Directories"),
    ("systemd-udev-trigger.service", "Coldplug All udev Devices"),
    ("systemd-udevd.service", "Rule-based Manager for Device Events and Files"),
    ("systemd-update-utmp.service", "Record System Boot/Shutdown in UTMP"),
    ("systemd-user-sessions.service", "Permit User Sessions"),
    ("unattended-upgrades.service", "Unattended Upgrades Shutdown"),
    ("user-runtime-dir@0.service", "User Runtime Directory /run/user/0"),
    ("user@0.service", "User Manager for UID 0"),
]


def write_units(path):
    lines = ["  UNIT                            LOAD   ACTIVE SUB     DESCRIPTION"]
    for name, desc in UNITS:
        lines.append(f"  {name:<31} loaded active {'exited ' if 'setup' in name or 'load' in name else 'running'} {desc}")
    lines += ["", "LOAD   = Reflects whether the unit definition was properly loaded.",
              "ACTIVE = The high-level unit activation state, i.e. generalization of SUB.",
              "SUB    = The low-level unit activation state, values depend on unit type.",
              f"{len(UNITS)} loaded units listed."]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o644)


def admin_commands(units):
    return [
        "exec bash", "uptime", "ls -la /etc", "cat /etc/os-release", "ps aux | head -20", "df -h",
        "free -m", f"cat {units}", "ip -br addr", "ss -tln", "tail -n 15 /var/log/dpkg.log",
        "uname -a", "id", "cd /var/log", "ls -la", "head -n 20 /etc/passwd",
        "grep -c processor /proc/cpuinfo", "cat /proc/loadavg", "du -sh /etc 2>/dev/null", "who",
        "history | tail -5",
    ]


def drain(fd, quiet, limit):
    """Reads until `quiet` seconds pass without output (or `limit` in all); False at EOF."""
    end = time.monotonic() + limit
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return True
        ready, _, _ = select.select([fd], [], [], min(quiet, left))
        if not ready:
            return True
        try:
            if not os.read(fd, 65536):
                return False
        except OSError:
            return False


def admin_session(units, argv):
    rnd = random.Random(20261125)  # the same keystroke rhythm every run
    env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8")
    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    cmds = admin_commands(units)
    try:
        read_until(fd, b"$ ", time.monotonic() + 60)
        drain(fd, 0.5, 5)
        for cmd in cmds + ["exit"]:
            for ch in cmd:
                os.write(fd, ch.encode())
                # A key every 60-200 ms, echoes read meanwhile.
                drain(fd, rnd.uniform(0.06, 0.2), 1)
            os.write(fd, b"\r")
            if cmd == "exit":
                break
            drain(fd, 0.5, 15)  # the output
            drain(fd, rnd.uniform(1.0, 4.0), 10)  # reading it before the next command
        drain(fd, 5, 15)  # until the connection closes
    finally:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    print(f"{time.monotonic() - t0:.1f} {len(cmds)}")


def ratio(a, b):
    num = re.compile(r"^\s*([0-9.]+)")
    pa, pb = a.split(" / "), b.split(" / ")
    if len(pa) != len(pb):
        return "—"
    out = []
    for x, y in zip(pa, pb):
        mx, my = num.match(x), num.match(y)
        if not mx or not my or float(my.group(1)) == 0:
            return "—"
        out.append(f"{float(mx.group(1)) / float(my.group(1)):.2f}")
    return " / ".join(out)


def replace_section(path, prefix, new_path):
    with open(path) as f:
        text = f.read()
    with open(new_path) as f:
        new = f.read().strip("\n") + "\n"
    parts = re.split(r"(?m)^(?=## )", text)
    kept, placed = [], False
    for p in parts:
        if p.startswith("## " + prefix):
            if not placed:
                kept.append(new)
                placed = True
        else:
            kept.append(p)
    if not placed:
        kept.append(new)
    out = ""
    for p in kept:
        out += ("\n" if out and not out.endswith("\n\n") else "") + p.rstrip("\n") + "\n"
    with open(path, "w") as f:
        f.write(out)


def main():
    cmd = sys.argv[1]
    if cmd == "echo-rtt":
        sep = sys.argv.index("--")
        echo_rtt(int(sys.argv[2]), sys.argv[sep + 1:])
    elif cmd == "pss":
        pss([int(p) for p in sys.argv[2:]])
    elif cmd == "write-units":
        write_units(sys.argv[2])
    elif cmd == "admin-session":
        sep = sys.argv.index("--")
        admin_session(sys.argv[2], sys.argv[sep + 1:])
    elif cmd == "ratio":
        print(ratio(sys.argv[2], sys.argv[3]))
    elif cmd == "replace-section":
        replace_section(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "median":
        with open(sys.argv[2]) as f:
            print(f"{statistics.median(float(x) for x in f if x.strip()):.1f}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
