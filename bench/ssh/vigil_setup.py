#!/usr/bin/env python3
"""VIGIL_SETUP program for bench/ssh/run.sh (Python 3 standard library only).

Starts a `vigil serve` ($VIGIL_BIN, default build-release/server/vigil) in a fresh directory
(under $BENCH_WORK when set, so the bench's cleanup removes it), on free ports, with its embedded
PostgreSQL. Through the REST API it then creates:
  - a person `bench` with the role `admin` (one-time password changed, as a person would),
  - a safe `bench` whose policy records sessions, `bench` a member with `connect`,
  - a target `bench-target` = $BENCH_TARGET_ADDR:$BENCH_TARGET_PORT, host key pinned to
    $BENCH_TARGET_HOSTKEY_FP,
  - an account $BENCH_TARGET_USER on it whose vaulted secret is the private key $BENCH_TARGET_KEY,
  - for diagnosis, the same again in a safe `bench-norec` that does not record, with the target
    named `bench-target-norec`.
It prints shell assignments for run.sh to eval:
  VIGIL_SSH, VIGIL_SSH_NOREC, VIGIL_SSH_PASSWORD, VIGIL_PID, VIGIL_DIR, VIGIL_RECORDINGS, VIGIL_PG_PID.
`vigil serve` keeps running after this program exits; run.sh stops it by VIGIL_PID (SIGTERM,
which also stops the embedded PostgreSQL). On any failure the server is stopped and the exit
status is non-zero.

Config: log level $VIGIL_LOG_LEVEL (default warn); fast Argon2 (t=1, 8 MiB) as in the tests, so 1,000 password logins stay quick; the SSH
listener's connection limit is raised above the bench's 1,000 idle sessions plus stragglers.
"""
import http.cookiejar
import json
import os
import re
import secrets
import shlex
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def die(msg):
    print(f"vigil_setup: {msg}", file=sys.stderr)
    sys.exit(1)


class Api:
    """HTTPS JSON client with a cookie jar and the CSRF header (self-signed cert: not verified)."""

    def __init__(self, base):
        self.base = base
        self.csrf = ""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ctx),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(self, method, path, body=None, ok=(200, 201, 204)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.csrf:
            req.add_header("X-CSRF-Token", self.csrf)
        try:
            with self.opener.open(req, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        if status not in ok:
            # The request body may hold a password or key: name the call, not its content.
            die(f"{method} {path} -> {status} {raw[:300].decode(errors='replace')}")
        return json.loads(raw) if raw else None

    def login(self, username, password):
        self.csrf = ""
        r = self.call("POST", "/api/v1/auth/login", {"username": username, "password": password})
        self.csrf = r["csrf_token"]
        return r

    def login_and_replace_password(self, username, one_time):
        """Logs in with a one-time password, sets a new one, logs in again; returns the new one."""
        self.login(username, one_time)
        new = "bench-" + secrets.token_urlsafe(18)
        self.call("POST", "/api/v1/me/password", {"current_password": one_time, "new_password": new})
        self.login(username, new)
        return new


def start_server(binary, top, listener_config="ssh: {port: 0, max_sessions: 1200}\n", listener="SSH"):
    """Starts `vigil serve` with `listener_config` (its proxy listeners) in a fresh directory under
    `top`; returns (process, directory, portal port, the `listener` port, initial admin password)."""
    dir_ = tempfile.mkdtemp(prefix="vigil-", dir=top)
    # The embedded PostgreSQL runs as `postgres` and must traverse to <data_dir>/pg.
    os.chmod(dir_, 0o711)
    cfg = os.path.join(dir_, "vigil.yaml")
    with open(cfg, "w") as f:
        f.write(f"data_dir: {dir_}/data\n"
                "listen: {address: 127.0.0.1, port: 0}\n"
                f"log: {{level: {os.environ.get('VIGIL_LOG_LEVEL', 'warn')}}}\n"
                "auth: {argon2_t_cost: 1, argon2_m_cost_kib: 8192}\n" + listener_config)
    log_path = os.path.join(dir_, "serve.out")
    with open(log_path, "wb") as out:
        # Own session: the server outlives this program and run.sh's command substitution
        # (stdout is a file, not the pipe $(...) waits on).
        proc = subprocess.Popen([binary, "serve", "-c", cfg], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    text = ""
    while time.monotonic() < deadline:
        with open(log_path, errors="replace") as f:
            text = f.read()
        portal = re.search(r"Portal: https://127\.0\.0\.1:(\d+)/", text)
        port = re.search(re.escape(listener) + r": 127\.0\.0\.1:(\d+)", text)
        pw = re.search(r"Initial superuser: admin  password: (\S+)", text)
        if portal and port and pw:
            return proc, dir_, int(portal.group(1)), int(port.group(1)), pw.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    stop(proc)
    die(f"vigil serve did not start:\n{text[-2000:]}")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    env = os.environ
    need = ["BENCH_TARGET_ADDR", "BENCH_TARGET_PORT", "BENCH_TARGET_USER", "BENCH_TARGET_KEY",
            "BENCH_TARGET_HOSTKEY_FP"]
    missing = [k for k in need if not env.get(k)]
    if missing:
        die("missing " + ", ".join(missing) + " (run through bench/ssh/run.sh --vigil)")
    binary = os.path.abspath(env.get("VIGIL_BIN") or os.path.join(REPO, "build-release/server/vigil"))
    if not os.access(binary, os.X_OK):
        die(f"no vigil binary at {binary} (set VIGIL_BIN)")
    with open(env["BENCH_TARGET_KEY"]) as f:
        target_key = f.read()

    proc, dir_, http_port, ssh_port, initial_pw = start_server(binary, env.get("BENCH_WORK") or None)
    try:
        admin = Api(f"https://127.0.0.1:{http_port}")
        admin.login_and_replace_password("admin", initial_pw)
        one_time = "bench-" + secrets.token_urlsafe(18)
        person = admin.call("POST", "/api/v1/users", {"username": "bench", "roles": ["admin"], "password": one_time})
        password = Api(admin.base).login_and_replace_password("bench", one_time)
        for safe_name, target_name, record in (("bench", "bench-target", True),
                                               ("bench-norec", "bench-target-norec", False)):
            safe = admin.call("POST", "/api/v1/safes", {"name": safe_name, "policy": {"record_sessions": record}})
            if safe["policy"]["record_sessions"] != record:
                die(f"the safe {safe_name} has record_sessions {safe['policy']['record_sessions']}")
            admin.call("PUT", f"/api/v1/safes/{safe['id']}/members/{person['id']}", {"permissions": ["connect"]})
            target = admin.call("POST", "/api/v1/targets", {
                "name": target_name, "protocol": "ssh", "address": env["BENCH_TARGET_ADDR"],
                "port": int(env["BENCH_TARGET_PORT"]), "host_key_fingerprint": env["BENCH_TARGET_HOSTKEY_FP"]})
            admin.call("POST", "/api/v1/accounts", {
                "safe_id": safe["id"], "target_id": target["id"], "username": env["BENCH_TARGET_USER"],
                "secret_kind": "private_key", "secret": target_key})
        pg_pid = ""
        try:
            with open(os.path.join(dir_, "data", "pg", "data", "postmaster.pid")) as f:
                pg_pid = f.readline().strip()
        except OSError:
            pass
    except SystemExit:
        stop(proc)
        raise
    out = {
        "VIGIL_SSH": f"ssh -p {ssh_port} bench%{env['BENCH_TARGET_USER']}%bench-target@127.0.0.1",
        "VIGIL_SSH_NOREC": f"ssh -p {ssh_port} bench%{env['BENCH_TARGET_USER']}%bench-target-norec@127.0.0.1",
        "VIGIL_SSH_PASSWORD": password,
        "VIGIL_PID": str(proc.pid),
        "VIGIL_DIR": dir_,
        "VIGIL_RECORDINGS": os.path.join(dir_, "data", "recordings"),
        "VIGIL_PG_PID": pg_pid,
    }
    for k, v in out.items():
        print(f"{k}={shlex.quote(v)}")


if __name__ == "__main__":
    main()
