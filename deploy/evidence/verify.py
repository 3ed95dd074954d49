#!/usr/bin/env python3
"""Offline verifier of a Vigil evidence bundle (written by `vigil evidence export`).

Needs only Python 3 and the `openssl` command (OpenSSL 3, for Ed25519); no Vigil, no database,
no network. Run it from anywhere:

    python3 verify.py [BUNDLE_DIR] [--public-key KEY_B64_OR_FILE]... [--json]

What it checks:
  1. bundle.json is signed (Ed25519) by the key in signing-key.b64, and every file the bundle lists
     has the SHA-256 it names (so report.csv and session.json files are as Vigil exported them);
  2. each session's recording: its manifest (written and signed by the Vigil node when the
     recording closed) has a valid signature, and the recording's bytes re-hash into the chain the
     manifest pins: h_i = SHA-256(h_(i-1) || chunk_i), h_(-1) = 32 zero bytes, the last h equal to
     the manifest's final_hash, the chunk count and file size equal. Encrypted recordings are
     verified as stored, without the key.
Pass --public-key with the key(s) you obtained from the Vigil operator out of band; without it the
keys in the bundle are reported (with their SHA-256) but trusted as given.

Per session: INTACT, MODIFIED (naming the first bad chunk and its byte offset), TRUNCATED,
MISSING (recorded, not deleted by retention, but the file was gone at export), UNSEALED (the
recording was never sealed: it was still running or its node crashed; the chained prefix is
checked) or NO_RECORDING. Exit code: 0 everything intact, 1 any tampering, a missing recording or
a bad signature, 2 usage error or an unreadable bundle, 3 only unsealed recordings besides intact
ones.
"""
import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

SPKI_ED25519_PREFIX = bytes.fromhex("302a300506032b6570032100")


def ed25519_verify(public_b64, message, signature_b64):
    """True when `signature_b64` is a valid Ed25519 signature of `message` by `public_b64`."""
    try:
        raw = base64.b64decode(public_b64.strip(), validate=True)
        sig = base64.b64decode(signature_b64.strip(), validate=True)
    except ValueError:
        return False
    if len(raw) != 32 or len(sig) != 64:
        return False
    pem = ("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(SPKI_ED25519_PREFIX + raw).decode() +
           "\n-----END PUBLIC KEY-----\n")
    with tempfile.TemporaryDirectory(prefix="vigil-verify-") as d:
        paths = {name: os.path.join(d, name) for name in ("key.pem", "message", "signature")}
        for name, data in (("key.pem", pem.encode()), ("message", message), ("signature", sig)):
            with open(paths[name], "wb") as f:
                f.write(data)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths["key.pem"], "-rawin",
                            "-in", paths["message"], "-sigfile", paths["signature"]],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        return r.returncode == 0


def key_label(public_b64):
    return "SHA256:" + hashlib.sha256(public_b64.strip().encode()).hexdigest()[:16]


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def parse_chunks(text):
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) != 4:
            raise ValueError(f"chunks.txt line {n} is malformed")
        out.append((int(parts[0]), int(parts[1]), int(parts[2]), parts[3].lower()))
    return out


def check_chain(data, entries):
    """(first bad chunk index or None, its offset, chunks verified, last hash hex, short read)."""
    h = bytes(32)
    for i, (index, offset, length, expect) in enumerate(entries):
        chunk = data[offset:offset + length]
        if index != i or len(chunk) != length:
            return i, offset, i, h.hex(), len(chunk) != length
        h = hashlib.sha256(h + chunk).digest()
        if h.hex() != expect:
            return i, offset, i, h.hex(), False
    return None, 0, len(entries), h.hex(), False


def verify_session(sdir, trusted, expected):
    """`expected`: the recording state bundle.json gives the session (sealed, unsealed, missing, ...)."""
    res = {"session_id": os.path.basename(sdir), "status": "", "message": "", "bad_chunk": None, "bad_offset": None}
    files = sorted(os.listdir(sdir))
    recording = next((f for f in files if f.startswith("recording")), None)
    if recording is None and expected in ("sealed", "unsealed"):
        res.update(status="modified", message="the recording listed by the bundle was removed from it")
        return res
    if recording is None and expected == "missing":
        res.update(status="missing", message="the session was recorded and not deleted by retention, but its "
                                             "recording file was gone from the Vigil server at export")
        return res
    if recording is None:
        res.update(status="no_recording", message="the session has no recording (not recorded, or deleted by retention)")
        return res
    data = read(os.path.join(sdir, recording))
    entries = parse_chunks(read(os.path.join(sdir, "chunks.txt"), "r")) if "chunks.txt" in files else []
    if "manifest.txt" not in files:
        bad, off, ok, _, _ = check_chain(data, entries)
        if bad is not None:
            res.update(status="modified", bad_chunk=bad, bad_offset=off,
                       message=f"unsealed, and chunk {bad} (byte offset {off}) does not match its chained hash")
        else:
            res.update(status="unsealed", message=f"never sealed (running or its node crashed); the first {ok} "
                                                   "chunks verify against their hash chain")
        return res
    manifest_text = read(os.path.join(sdir, "manifest.txt"))
    signature = read(os.path.join(sdir, "signature.b64"), "r")
    public = read(os.path.join(sdir, "public-key.b64"), "r").strip()
    if trusted and public not in trusted:
        res.update(status="modified", message=f"sealed by {key_label(public)}, which is not a key you trust")
        return res
    if not ed25519_verify(public, manifest_text, signature):
        res.update(status="modified", message="the manifest's signature is not valid (the manifest was edited)")
        return res
    m = json.loads(manifest_text)
    if m.get("session_id") != res["session_id"]:
        res.update(status="modified", message="the manifest belongs to session " + str(m.get("session_id")))
        return res
    count, final, size = m.get("chunk_count"), m.get("final_hash"), m.get("file_size")
    bad, off, ok, last, short = check_chain(data, entries)
    res["chunks_verified"] = ok
    res["chunk_count"] = count
    if bad is not None:
        if short or off >= len(data):
            res.update(status="truncated", bad_chunk=bad, bad_offset=off,
                       message=f"the recording ends at byte {len(data)}, inside or before chunk {bad} "
                               f"(of {count}); the first {ok} chunks verify")
        else:
            res.update(status="modified", bad_chunk=bad, bad_offset=off,
                       message=f"chunk {bad} (byte offset {off}) does not match its hash; the first {ok} chunks verify")
        return res
    if len(entries) < count:
        res.update(status="truncated", bad_chunk=len(entries),
                   message=f"{len(entries)} of {count} chunks are present; the rest was cut off")
        return res
    if len(entries) != count or last != final:
        res.update(status="modified", message="the chunk index does not lead to the signed final hash")
        return res
    if len(data) != size:
        what = "cut off" if len(data) < size else "appended to"
        res.update(status="truncated" if len(data) < size else "modified",
                   message=f"the recording is {len(data)} bytes, the manifest says {size}: it was {what}")
        return res
    enc = " (encrypted at rest: verified as stored, without the key)" if m.get("encrypted") else ""
    res.update(status="intact", message=f"all {count} chunks verify against the signed manifest{enc}")
    return res


def verify_bundle_index(root, trusted):
    """(problems with bundle.json: signature, listed files; the sessions' recording states)."""
    problems = []
    index_text = read(os.path.join(root, "bundle.json"))
    public = read(os.path.join(root, "signing-key.b64"), "r").strip()
    signature = read(os.path.join(root, "bundle.json.sig"), "r")
    if trusted and public not in trusted:
        problems.append(f"bundle.json is signed by {key_label(public)}, which is not a key you trust")
    if not ed25519_verify(public, index_text, signature):
        problems.append("bundle.json's signature is not valid (the bundle index was edited)")
        return problems, {}
    index = json.loads(index_text)
    states = {s["id"]: s.get("recording", "") for s in index.get("sessions", [])}
    for entry in index.get("files", []):
        path = os.path.normpath(os.path.join(root, entry["path"]))
        if not path.startswith(os.path.normpath(root) + os.sep):
            problems.append(f"{entry['path']}: outside the bundle")
            continue
        if not os.path.exists(path):
            problems.append(f"{entry['path']}: missing")
        elif hashlib.sha256(read(path)).hexdigest() != entry["sha256"]:
            problems.append(f"{entry['path']}: its SHA-256 differs from the signed bundle index")
    return problems, states


def main():
    ap = argparse.ArgumentParser(description="Verify a Vigil evidence bundle offline.")
    ap.add_argument("bundle", nargs="?", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--public-key", action="append", default=[],
                    help="a Vigil signing public key you trust (base64, or a file holding it); repeatable")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    a = ap.parse_args()
    trusted = set()
    for k in a.public_key:
        trusted.add(read(k, "r").strip() if os.path.isfile(k) else k.strip())
    root = os.path.abspath(a.bundle)
    try:
        problems, states = verify_bundle_index(root, trusted)
        sessions_dir = os.path.join(root, "sessions")
        ids = sorted(os.listdir(sessions_dir)) if os.path.isdir(sessions_dir) else []
        missing_dirs = sorted(set(states) - set(ids))
        problems += [f"sessions/{i}: listed by the signed bundle index but not in the bundle" for i in missing_dirs]
        results = [verify_session(os.path.join(sessions_dir, i), trusted, states.get(i, "")) for i in ids]
    except (OSError, ValueError, KeyError) as e:
        print(f"verify.py: cannot read the bundle: {e}", file=sys.stderr)
        return 2
    statuses = [r["status"] for r in results]
    bad = bool(problems) or any(s in ("modified", "truncated", "missing") for s in statuses)
    unsealed = any(s in ("unsealed", "no_recording") for s in statuses)
    if a.json:
        print(json.dumps({"bundle_problems": problems, "sessions": results,
                          "status": "tampered" if bad else ("incomplete" if unsealed else "intact")}, indent=2))
    else:
        for p in problems:
            print(f"BUNDLE: {p}")
        for r in results:
            print(f"{r['status'].upper()}: session {r['session_id']}: {r['message']}")
        print(f"{statuses.count('intact')} intact, "
              f"{sum(s in ('modified', 'truncated', 'missing') for s in statuses)} tampered or missing, "
              f"{sum(s in ('unsealed', 'no_recording') for s in statuses)} unsealed or without recording; "
              f"bundle index {'NOT valid' if problems else 'valid'}")
    return 1 if bad else (3 if unsealed else 0)


if __name__ == "__main__":
    sys.exit(main())
