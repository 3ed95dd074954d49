#!/usr/bin/env python3
"""Runs a command with pipes and records both directions of its stdin/stdout, in order.

Usage: tee.py LOG COMMAND [ARGS...]
LOG gets one record per read: b'c' (our stdin -> command) or b's' (command -> our stdout), a
4-byte big-endian length, the bytes. Each record is written before the bytes are passed on, so
the log keeps the causal order the peers saw (a reply is logged before the request it allows).
Test helper for the SFTP/scp decoder tests: stands in for the sshd channel between a real client
and a real sftp-server or `scp -t`/`scp -f`.
"""
import os
import struct
import subprocess
import sys
import threading

log_path, cmd = sys.argv[1], sys.argv[2:]
log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
lock = threading.Lock()
to_child_r, to_child_w = os.pipe()
from_child_r, from_child_w = os.pipe()
child = subprocess.Popen(cmd, stdin=to_child_r, stdout=from_child_w, close_fds=True)
os.close(to_child_r)
os.close(from_child_w)


def pump(src, dst, tag):
    """Copies src to dst, logging each read; True if src ended, False if dst went away."""
    ended = True
    try:
        while True:
            data = os.read(src, 65536)
            if not data:
                break
            with lock:
                os.write(log, tag + struct.pack(">I", len(data)) + data)
            view = memoryview(data)
            while view:
                n = os.write(dst, view)
                view = view[n:]
    except OSError:
        ended = False  # the reader went away
    # Closing both ends lets the peers see EOF or EPIPE instead of blocking on a full pipe.
    os.close(dst)
    os.close(src)
    return ended


up = threading.Thread(target=pump, args=(0, to_child_w, b"c"), daemon=True)
up.start()
if not pump(from_child_r, 1, b"s"):
    # The client side is gone (a dropped channel): leave now, so the command sees EOF on its
    # input and exits rather than waiting for requests that will never come.
    os._exit(1)
sys.exit(child.wait())
