"""Benchmark: a full TLS handshake against one resumed from a session
ticket (pop3s-session(8), SESSION RESUMPTION), each a new pop3s-session
process as under pop3s.socket: server CPU and client-side latency per
connection (connect, handshake, greeting, QUIT), and per full session
(USER/PASS, STAT, RETR 1, QUIT). Prints figures; asserts nothing.
Run from a build tree:
    top_builddir=$PWD top_srcdir=.. python3 ../tests/bench/resumption.py [N]
"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from pop3test import TOP_BUILDDIR, Server  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
TICK = os.sysconf("SC_CLK_TCK")


def children_cpu(pid):
    """CPU seconds of reaped children of pid (cutime + cstime)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / TICK


def new_key():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "k")
        subprocess.run([os.path.join(TOP_BUILDDIR, "src", "ctl", "pop3sctl"), "ticket-key",
                        "--file", path], check=True, capture_output=True)
        return open(path).read().rstrip("\n").split("=", 1)[1]


def one(srv, ctx, session, login):
    """One connection; returns (handshake+greeting seconds, new session, reused)."""
    t0 = time.monotonic()
    raw = socket.create_connection((srv.host, srv.port), timeout=20)
    t = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += t.recv(4096)
    hs = time.monotonic() - t0
    if login:
        t.sendall(f"USER alice\r\nPASS {Server.USERS['alice']}\r\nSTAT\r\nRETR 1\r\n".encode())
        buf = b""
        while buf.count(b"\r\n") < 3 or not buf.endswith(b"\r\n.\r\n"):
            buf += t.recv(65536)
    t.sendall(b"QUIT\r\n")
    t.recv(100)
    sess, reused = t.session, t.session_reused
    t.close()
    return hs, sess, reused


def run(label, version, resume, login):
    with Server(AUTH_DELAY_MS=0) as srv:
        srv.start({"POP3S_TICKET_KEY": new_key()})
        ctx = srv.ssl_context()
        ctx.minimum_version = ctx.maximum_version = version
        _, sess, _ = one(srv, ctx, None, False)          # the first ticket
        srv.wait_sessions_gone()
        time.sleep(0.1)
        cpu0 = children_cpu(srv.activator.pid)
        hs_total, resumed = 0.0, 0
        t0 = time.monotonic()
        for _ in range(N):
            hs, new, reused = one(srv, ctx, sess if resume else None, login)
            hs_total += hs
            resumed += reused
            if resume:
                sess = new          # each resumed session brings a fresh ticket
        wall = time.monotonic() - t0
        srv.wait_sessions_gone()
        time.sleep(0.2)
        cpu = children_cpu(srv.activator.pid) - cpu0
        print(f"{label:28s} {N} sessions, {resumed:3d} resumed: {wall / N * 1e3:6.2f} ms wall, "
              f"{hs_total / N * 1e3:6.2f} ms to the greeting, {cpu / N * 1e3:6.2f} ms server CPU "
              f"per session", flush=True)


print("pop3s TLS session resumption benchmark (ECDSA P-256, X25519)")
for login in (False, True):
    what = "login+STAT+RETR" if login else "greeting+QUIT"
    for version, vname in ((ssl.TLSVersion.TLSv1_3, "TLS1.3"), (ssl.TLSVersion.TLSv1_2, "TLS1.2")):
        run(f"{vname} {what} full", version, False, login)
        run(f"{vname} {what} resumed", version, True, login)
