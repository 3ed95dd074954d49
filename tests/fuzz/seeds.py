#!/usr/bin/env python3
"""Writes a few valid conversations as starting inputs for a decoder fuzz target.

Usage: seeds.py TARGET DIR. Format (see fuzz_support.hpp): reads of <ctrl><bytes>, ctrl bit 0 =
server -> client, bits 1-7 = length (reads over 127 bytes are cut in pieces).
"""
import os
import struct
import sys


def reads(chunks):
    out = b""
    for client, data in chunks:
        while True:
            piece, data = data[:127], data[127:]
            out += bytes([(len(piece) << 1) | (0 if client else 1)]) + piece
            if not data:
                break
    return out


def u32(v): return struct.pack(">I", v)
def s(b): return u32(len(b)) + b
def pkt(t, body): return u32(len(body) + 1) + bytes([t]) + body
def req(t, i, body=b""): return pkt(t, u32(i) + body)
def status(i, code=0): return req(101, i, u32(code) + s(b"ok") + s(b""))


H = b"\0\0\0\1"
C, S = True, False
sftp = {
    "upload": [(C, req(3, 1, s(b"/tmp/a") + u32(0x1a) + u32(0))), (S, req(102, 1, s(H))),
               (C, req(6, 2, s(H) + b"\0" * 8 + s(b"hello"))), (S, status(2)),
               (C, req(4, 3, s(H))), (S, status(3))],
    "download": [(C, req(3, 1, s(b"/etc/motd") + u32(1) + u32(0))), (S, req(102, 1, s(H))),
                 (C, req(5, 2, s(H) + b"\0" * 8 + u32(100))), (S, req(103, 2, s(b"data"))),
                 (C, req(5, 3, s(H) + b"\0" * 7 + b"\4" + u32(100))), (S, status(3, 1)),
                 (C, req(4, 4, s(H))), (S, status(4))],
    "ops": [(C, req(13, 1, s(b"/x"))), (S, status(1)), (C, req(18, 2, s(b"/a") + s(b"/b"))), (S, status(2, 4)),
            (C, req(14, 3, s(b"/d") + u32(0))), (S, status(3)), (C, req(20, 4, s(b"/t") + s(b"/l"))), (S, status(4)),
            (C, req(200, 5, s(b"posix-rename@openssh.com") + s(b"/b") + s(b"/c"))), (S, status(5))],
}
Z = b"\0"
scp = {  # the first byte picks the command line in scp_decoder_fuzz.cpp: 0 "scp -t /d/", 1 "scp -r -p -t /d", 2 "scp -f /s/file"
    "upload": (0, [(S, Z), (C, b"C0644 5 a.txt\n"), (S, Z), (C, b"hello" + Z), (S, Z)]),
    "tree": (1, [(S, Z), (C, b"D0755 0 p\n"), (S, Z), (C, b"T1 0 1 0\n"), (S, Z), (C, b"C0644 1 x\n"), (S, Z),
                 (C, b"x" + Z), (S, Z), (C, b"E\n"), (S, Z)]),
    "download": (2, [(C, Z), (S, b"C0640 4 file\n"), (C, Z), (S, b"data" + Z), (C, Z)]),
    "refused": (0, [(S, Z), (C, b"C0644 5 a\n"), (S, b"\x01scp: denied\n"), (C, b"C0644 0 b\n"), (S, Z), (C, Z), (S, Z)]),
}

def tpkt(t, payload, eom=True):
    return bytes([t, 1 if eom else 0]) + struct.pack(">H", len(payload) + 8) + b"\0\0\1\0" + payload
def u16le(v): return struct.pack("<H", v)
def w(text): return text.encode("utf-16-le")
ALLH = struct.pack("<I", 22) + struct.pack("<IH", 18, 2) + b"\0" * 8 + struct.pack("<I", 1)
def done(tok, status, rows): return bytes([tok]) + struct.pack("<HHQ", status, 0, rows)
def err(msg):
    body = struct.pack("<IBB", 208, 1, 16) + u16le(len(msg)) + w(msg) + b"\x01" + w("s") + b"\0" + struct.pack("<I", 1)
    return b"\xAA" + u16le(len(body)) + body
COLS = b"\x81" + u16le(1) + struct.pack("<IH", 0, 1) + b"\xE7" + u16le(40) + b"\x09\x04\xD0\x00\x34" + b"\x01" + w("v")
ROW = b"\xD1" + u16le(2) + w("a")
NV = lambda name, v: bytes([len(name)]) + w(name) + b"\0\xE7" + u16le(8000) + b"\x09\x04\xD0\x00\x34" + u16le(len(v) * 2) + w(v)
RPC = ALLH + u16le(0xFFFF) + u16le(10) + u16le(0) + NV("", "select @p1") + NV("", "@p1 int") + bytes([3]) + w("@p1") + b"\0\x26\x04\x04" + struct.pack("<i", 42)
tds = {
    "batch": [(C, tpkt(1, ALLH + w("select 1"))), (S, tpkt(4, COLS + ROW + done(0xFD, 0x10, 1))),
              (C, tpkt(1, ALLH + w("bad"))), (S, tpkt(4, err("Invalid") + done(0xFD, 2, 0)))],
    "rpc": [(C, tpkt(3, RPC)), (S, tpkt(4, COLS + ROW + done(0xFF, 0x11, 1) + b"\x79" + struct.pack("<i", 0) + done(0xFE, 0, 0)))],
    "attention": [(C, tpkt(1, ALLH + w("waitfor delay '1:00'"))), (C, tpkt(6, b"")), (S, tpkt(4, done(0xFD, 0x20, 0)))],
}

def login7():
    fields = [w("host"), w("user"), bytes(((b << 4 | b >> 4) & 0xFF) ^ 0xA5 for b in w("pw")), w("app"), w("srv")]
    data, refs, base = b"", [], 94
    for f in fields:
        refs.append(u16le(base + len(data)) + u16le(len(f) // 2)); data += f
    refs.append(u16le(0) + u16le(0))  # extension
    for f in [w("lib"), b"", w("db")]:
        refs.append(u16le(base + len(data)) + u16le(len(f) // 2)); data += f
    fixed = struct.pack("<IIIIII", 0, 0x74000004, 4096, 7, 1, 0) + b"\xE0\x03\0\0" + struct.pack("<iI", 0, 0x409)
    fixed += b"".join(refs) + b"\0" * 6 + u16le(0) + u16le(0) + u16le(base + len(data)) + u16le(0) * 3 + u16le(0) + struct.pack("<I", 0)
    fixed = fixed[:94]
    body = fixed + data
    return struct.pack("<I", len(body)) + body[4:]

target, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
if target == "sftp_decoder_fuzz":
    for name, chunks in sftp.items():
        open(os.path.join(out, name), "wb").write(b"\0" + reads(chunks))
elif target == "scp_decoder_fuzz":
    for name, (pick, chunks) in scp.items():
        open(os.path.join(out, name), "wb").write(bytes([pick]) + reads(chunks))
elif target == "tds_decoder_fuzz":
    for name, chunks in tds.items():
        open(os.path.join(out, name), "wb").write(b"\0" + reads(chunks))
    open(os.path.join(out, "login7"), "wb").write(b"\1" + login7())


def i32(v): return struct.pack(">i", v)
def i16(v): return struct.pack(">h", v)
def z(b): return b + b"\0"
def m(t, body): return t + i32(len(body) + 4) + body


pg_startup = i32(8 + len(z(b"user") + z(b"dba") + z(b"database") + z(b"shop") + b"\0")) + i32(196608) + \
    z(b"user") + z(b"dba") + z(b"database") + z(b"shop") + b"\0"
pg_login = [(C, pg_startup), (S, m(b"R", i32(3))), (C, m(b"p", z(b"token"))),
            (S, m(b"R", i32(0)) + m(b"K", i32(7) + i32(9)) + m(b"Z", b"I"))]
pg = {  # the first byte: 0 = after the login (typed both ways), 1 = from the startup packet
    "simple": (0, [(C, m(b"Q", z(b"SELECT 1"))),
                   (S, m(b"T", i16(1) + z(b"x") + i32(0) + i16(0) + i32(23) + i16(4) + i32(-1) + i16(0)) +
                    m(b"D", i16(1) + i32(1) + b"1") + m(b"C", z(b"SELECT 1")) + m(b"Z", b"I"))]),
    "extended": (0, [(C, m(b"P", z(b"") + z(b"SELECT $1") + i16(0)) + m(b"B", z(b"") + z(b"") + i16(0) + i16(2) + i32(2) + b"42" + i32(-1) + i16(0)) +
                      m(b"D", b"P" + z(b"")) + m(b"E", z(b"") + i32(0)) + m(b"S", b"")),
                     (S, m(b"1", b"") + m(b"2", b"") + m(b"n", b"") + m(b"C", z(b"SELECT 1")) + m(b"Z", b"I")),
                     (C, m(b"B", z(b"") + z(b"") + i16(0) + i16(0) + i16(0)) + m(b"E", z(b"") + i32(0)) + m(b"S", b"")),
                     (S, m(b"E", b"SERROR\0C22P02\0Mbad\0\0") + m(b"Z", b"E"))]),
    "copy": (0, [(C, m(b"Q", z(b"COPY t FROM STDIN"))), (S, m(b"G", b"\0" + i16(0))),
                 (C, m(b"d", b"1\n") + m(b"c", b"")), (S, m(b"C", z(b"COPY 1")) + m(b"Z", b"I"))]),
    "login": (1, pg_login + [(C, m(b"Q", z(b"DROP TABLE x"))), (S, m(b"E", b"SERROR\0C42P01\0Mno\0\0") + m(b"Z", b"I"))]),
    "ssl": (1, [(C, i32(8) + i32(80877103)), (S, b"N")] + pg_login),
    "cancel": (1, [(C, i32(16) + i32(80877102) + i32(7) + i32(9))]),
}
if target == "pg_decoder_fuzz":
    for name, (pick, chunks) in pg.items():
        open(os.path.join(out, name), "wb").write(bytes([pick]) + reads(chunks))

# RDP clipboard text: a format byte (1, 7 or 13), a 16-bit budget, then the data.
clip = {
    "unicode": bytes([13]) + struct.pack("<H", 8) + "Grüße 😀\0tail".encode("utf-16-le"),
    "lone-surrogate": bytes([13]) + struct.pack("<H", 3) + b"a\0\x00\xd8\x00\xdcb",
    "ansi": bytes([1]) + struct.pack("<H", 4) + b"caf\xe9\0rest",
}
if target == "clipboard_text_fuzz":
    for name, data in clip.items():
        open(os.path.join(out, name), "wb").write(data)
