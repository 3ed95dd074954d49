#!/usr/bin/env python3
"""bench/db/run.sh: see there. Python 3 standard library, psql/pgbench/openssl on PATH."""
import argparse
import datetime
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "bench", "ssh"))
from vigil_setup import Api, start_server, stop  # noqa: E402

PGBIN = "/usr/lib/postgresql/15/bin"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def sh(cmd, env=None, check=True):
    r = subprocess.run(cmd, shell=True, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"bench: {cmd}\n{r.stdout}\n{r.stderr}")
    return r.stdout + r.stderr


class Target:
    def __init__(self, top):
        self.dir = tempfile.mkdtemp(prefix="vigil-pgbench-", dir=top)
        os.chmod(self.dir, 0o711)
        shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.password = "bench-" + secrets.token_hex(8)
        data = self.dir + "/data"
        sh(f"runuser -u postgres -- {PGBIN}/initdb -D {data} -A trust --no-sync -E UTF8 --locale=C.UTF-8 -U postgres")
        sh(f"openssl req -x509 -newkey rsa:2048 -nodes -keyout {data}/server.key -out {data}/server.crt -days 2 "
           f"-subj /CN=pgbench && chown postgres {data}/server.key {data}/server.crt && chmod 600 {data}/server.key")
        with open(data + "/postgresql.conf", "a") as f:
            f.write(f"ssl = on\npassword_encryption = 'scram-sha-256'\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.dir}'\nfsync = off\nsynchronous_commit = off\nmax_connections = 100\n")
        with open(data + "/pg_hba.conf", "w") as f:
            f.write("local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
        sh(f"runuser -u postgres -- {PGBIN}/pg_ctl -w -D {data} -l {self.dir}/log start")
        sh(f"runuser -u postgres -- psql -X -q -h {self.dir} -p {self.port} -U postgres -d postgres "
           f"-c \"CREATE ROLE dba LOGIN PASSWORD '{self.password}'\" -c \"CREATE DATABASE bench OWNER dba\"")

    def stop(self):
        sh(f"runuser -u postgres -- {PGBIN}/pg_ctl -D {self.dir}/data -m fast stop", check=False)


class Bouncer:
    """PgBouncer (session pooling) between pgbench and the target: the obvious PostgreSQL proxy hop
    without recording. TLS to the client and to the target, SCRAM-SHA-256 on both legs, like Vigil."""

    def __init__(self, top, target):
        self.dir = tempfile.mkdtemp(prefix="vigil-pgbouncer-", dir=top)
        os.chmod(self.dir, 0o711)
        self.port = free_port()
        self.password = "bouncer-" + secrets.token_hex(8)
        d = self.dir
        sh(f"openssl req -x509 -newkey rsa:2048 -nodes -keyout {d}/key.pem -out {d}/cert.pem -days 2 -subj /CN=pgbouncer")
        with open(d + "/userlist.txt", "w") as f:
            f.write(f'"dba" "{self.password}"\n')
        with open(d + "/pgbouncer.ini", "w") as f:
            f.write(f"[databases]\nbench = host=127.0.0.1 port={target.port} dbname=bench user=dba password={target.password}\n"
                    f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
                    f"auth_type = scram-sha-256\nauth_file = {d}/userlist.txt\npool_mode = session\n"
                    f"max_client_conn = 100\ndefault_pool_size = 20\nlogfile = {d}/log\npidfile = {d}/pid\n"
                    f"client_tls_sslmode = require\nclient_tls_key_file = {d}/key.pem\nclient_tls_cert_file = {d}/cert.pem\n"
                    f"server_tls_sslmode = require\nlog_connections = 0\nlog_disconnections = 0\n")
        sh(f"chown -R postgres {d} && chmod 600 {d}/key.pem {d}/userlist.txt")
        sh(f"runuser -u postgres -- pgbouncer -d {d}/pgbouncer.ini")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        sys.exit("bench: pgbouncer did not start:\n" + open(d + "/log", errors="replace").read()[-2000:])

    def stop(self):
        try:
            os.kill(int(open(self.dir + "/pid").read().strip()), 15)
        except (OSError, ValueError):
            pass


def pgbench(port, user, password, args, logdir=None):
    env = dict(os.environ, PGPASSWORD=password, PGSSLMODE="require")
    log = ""
    if logdir:
        for f in os.listdir(logdir):
            os.unlink(os.path.join(logdir, f))
        log = f" -l --log-prefix={logdir}/tx"
    out = sh(f"pgbench -h 127.0.0.1 -p {port} -U '{user}' {args}{log} bench", env=env)
    if " -i " in f" {args} ":
        return None
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if failed and int(failed.group(1)) != 0:
        sys.exit("bench: failed transactions\n" + out)
    lat = []
    for f in os.listdir(logdir or "/nonexistent") if logdir else []:
        with open(os.path.join(logdir, f)) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]) / 1000.0)  # microseconds -> ms
    lat.sort()
    p50 = lat[len(lat) // 2] if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    return tps, p50, p99


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--scale", type=int, default=5)
    a = ap.parse_args()
    binary = os.environ.get("VIGIL_BIN") or next(
        (p for p in (os.path.join(REPO, "build-release/server/vigil"), os.path.join(REPO, "build/server/vigil"))
         if os.path.exists(p)), None)
    if not binary:
        sys.exit("bench: no vigil binary (set VIGIL_BIN)")
    top = tempfile.mkdtemp(prefix="vigil-pgb-", dir="/tmp")
    os.chmod(top, 0o711)
    target = Target(top)
    bouncer = None
    proc = None
    try:
        proc, dir_, http_port, vport, initial_pw = start_server(
            os.path.abspath(binary), top, "ssh: {enabled: false}\npostgres_proxy: {enabled: true, port: 0}\n", "PostgreSQL")
        api = Api(f"https://127.0.0.1:{http_port}")
        api.login_and_replace_password("admin", initial_pw)
        pw = "Bench-" + secrets.token_hex(8)
        u = api.call("POST", "/api/v1/users", {"username": "bench", "roles": [], "password": pw})
        user_api = Api(f"https://127.0.0.1:{http_port}")
        pw = user_api.login_and_replace_password("bench", pw)
        safe = api.call("POST", "/api/v1/safes", {"name": "bench"})["id"]
        t = api.call("POST", "/api/v1/targets", {"name": "pgbench", "protocol": "postgres", "address": "127.0.0.1",
                                                 "port": target.port})["id"]
        api.call("POST", "/api/v1/accounts", {"safe_id": safe, "target_id": t, "username": "dba",
                                               "secret_kind": "password", "secret": target.password})
        api.call("PUT", f"/api/v1/safes/{safe}/members/{u['id']}", {"permissions": ["connect"]})
        vuser = "bench%dba%pgbench"
        bouncer = Bouncer(top, target)
        logdir = tempfile.mkdtemp(prefix="tx-", dir=top)
        pgbench(target.port, "dba", target.password, f"-i -q -s {a.scale}")
        results = {}
        cases = [("select-only", "-S"), ("tpcb-like", "")]
        t0 = time.time()
        for name, flag in cases:
            d, b, v = [], [], []
            for _ in range(a.rounds):
                args = f"-n -c {a.clients} -j {min(a.clients, 2)} -T {a.seconds} {flag}"
                d.append(pgbench(target.port, "dba", target.password, args, logdir))
                b.append(pgbench(bouncer.port, "dba", bouncer.password, args, logdir))
                v.append(pgbench(vport, vuser, pw, args, logdir))
                print(f"{name}: direct {d[-1][0]:.0f} tps, pgbouncer {b[-1][0]:.0f} tps, vigil {v[-1][0]:.0f} tps", flush=True)
            results[name] = (d, b, v)
        elapsed_vigil = a.rounds * len(cases) * a.seconds
        pgpw = open(os.path.join(dir_, "data/pg/password")).read().strip()
        count = sh(f"PGPASSWORD='{pgpw}' runuser -u postgres -- psql -X -At -h {dir_}/data/pg/run -p 5432 -U vigil -d vigil "
                   "-c \"SELECT count(*) FROM session_events WHERE kind = 'sql'\"").strip()
        _ = t0
    finally:
        if proc:
            stop(proc)
        if bouncer:
            bouncer.stop()
        target.stop()
        shutil.rmtree(top, ignore_errors=True)

    lines = []
    lines.append("| case | direct tps | PgBouncer tps | Vigil tps | Vigil / direct | PgBouncer / direct | Vigil / PgBouncer "
                 "| latency p50 direct / PgBouncer / Vigil | latency p99 direct / PgBouncer / Vigil |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---|---|")
    med = statistics.median
    for name, (d, b, v) in results.items():
        dt, bt, vt = (med(x[0] for x in r) for r in (d, b, v))
        p50 = " / ".join(f"{med(x[1] for x in r):.2f}" for r in (d, b, v))
        p99 = " / ".join(f"{med(x[2] for x in r):.2f}" for r in (d, b, v))
        lines.append(f"| {name} | {dt:.0f} | {bt:.0f} | {vt:.0f} | {vt / dt:.2f} | {bt / dt:.2f} | {vt / bt:.2f} "
                     f"| {p50} ms | {p99} ms |")
    lines.append("")
    lines.append(f"Statements recorded (session_events of kind sql, pgbench -i included): {count} "
                 f"in {elapsed_vigil} s of pgbench through Vigil ≈ {int(count) / elapsed_vigil:.0f} statements/s.")
    table = "\n".join(lines)
    print(table)
    if a.write:
        kind = "Release" if "release" in binary else "Debug"
        load = os.getloadavg()[0]
        section = (f"## PostgreSQL passthrough — {datetime.date.today()}, {os.cpu_count()} cores, {platform.machine()}, "
                   f"{kind} `vigil` (load average ≈ {load:.0f} at the end: shared machine)\n\n"
                   f"Command: `bench/db/run.sh --write --seconds {a.seconds} --clients {a.clients} --rounds {a.rounds} "
                   f"--scale {a.scale}`. A private PostgreSQL 15 target (TLS, SCRAM-SHA-256, fsync off), pgbench "
                   f"scale {a.scale}, {a.clients} clients, {a.seconds} s per run, {a.rounds} rounds alternating direct and "
                   "through PgBouncer (session pooling: the same proxy hop without recording) and through Vigil; all paths with "
                   "sslmode=require (TLS on both legs of the proxies, SCRAM-SHA-256 to the target). Latencies are per "
                   "transaction (pgbench -l). Through Vigil every statement is decoded, screened by "
                   "the risk rules and recorded as a `sql` event.\n\n" + table + "\n")
        path = os.path.join(REPO, "docs/benchmarks.md")
        text = open(path).read()
        text = re.sub(r"## PostgreSQL passthrough.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip() + "\n\n" + section
        open(path, "w").write(text)


if __name__ == "__main__":
    main()
