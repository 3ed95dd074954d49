#!/usr/bin/env python3
"""Helpers for bench/ssh/run.sh (standard library only).

  tools.py echo-rtt COUNT -- SSH_ARGV...   keystroke echo round trips through a pty: prints
                                           "p50_ms p99_ms". SSH_ARGV must request a tty (-tt) and
                                           run "stty raw -echo; echo READY; exec cat" remotely.
  tools.py pss PID...                      summed PSS (KiB) of each PID and all its descendants
  tools.py median FILE                     median of the numbers in FILE, one a line
"""
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


def main():
    cmd = sys.argv[1]
    if cmd == "echo-rtt":
        sep = sys.argv.index("--")
        echo_rtt(int(sys.argv[2]), sys.argv[sep + 1:])
    elif cmd == "pss":
        pss([int(p) for p in sys.argv[2:]])
    elif cmd == "median":
        with open(sys.argv[2]) as f:
            print(f"{statistics.median(float(x) for x in f if x.strip()):.1f}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
