#!/bin/sh
# The cost of watching a live session: throughput of one SSH session through Vigil (head -c
# 100 MB of /dev/zero on the target, read by a real ssh client) with 0 and with 10 watchers
# reading the live stream over the watch WebSocket. Real vigil serve, real sshd, real ssh.
#   bench/live/watch_cost.sh [build-dir]
set -e
BUILD=${1:-build}
exec "$BUILD/tests/integration_live" "[bench]" --durations no
