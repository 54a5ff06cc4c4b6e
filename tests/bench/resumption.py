"""Benchmark: a full TLS handshake against one resumed from a session
ticket (pop3s-session(8), SESSION RESUMPTION), each a new pop3s-session
process as under pop3s.socket: server CPU and client-side latency per
connection (connect, handshake, greeting, QUIT), or with --login per full
session (USER/PASS, STAT, RETR 1, QUIT); with --rsa the certificate is
RSA-3072 instead of ECDSA P-256 (a costlier signature per full handshake).
Prints figures; asserts nothing. Run from a build tree:
    top_builddir=$PWD top_srcdir=.. python3 ../tests/bench/resumption.py [N] [--login] [--rsa]
"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from pop3test import TOP_BUILDDIR, Server, make_cert  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 200
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


def run(vname, version, login):
    """Full and resumed connections interleaved on one server, so that the
    load of a shared machine weighs on both alike; each session's CPU is
    counted once it is reaped (children_cpu of the activator)."""
    with Server(AUTH_DELAY_MS=0) as srv:
        if RSA:
            make_cert(srv.cert, srv.key, rsa=True)
        srv.start({"POP3S_TICKET_KEY": new_key()})
        ctx = srv.ssl_context()
        ctx.minimum_version = ctx.maximum_version = version
        _, sess, _ = one(srv, ctx, None, False)          # the first ticket
        srv.wait_sessions_gone()
        cpu = {False: 0.0, True: 0.0}
        hs = {False: 0.0, True: 0.0}
        resumed = {False: 0, True: 0}
        for _ in range(N):
            for resume in (False, True):
                c0 = children_cpu(srv.activator.pid)
                h, new, reused = one(srv, ctx, sess if resume else None, login)
                srv.wait_sessions_gone()
                time.sleep(0.005)   # reaped by the activator
                cpu[resume] += children_cpu(srv.activator.pid) - c0
                hs[resume] += h
                resumed[resume] += reused
                if resume:
                    sess = new      # each resumed session brings a fresh ticket
        what = "login+STAT+RETR" if login else "greeting+QUIT"
        for resume in (False, True):
            label = f"{vname} {what} {'resumed' if resume else 'full'}"
            print(f"{label:30s} {N} sessions, {resumed[resume]:3d} resumed: "
                  f"{hs[resume] / N * 1e3:6.2f} ms to the greeting, "
                  f"{cpu[resume] / N * 1e3:6.2f} ms server CPU per session", flush=True)
        print(f"{vname} {what}: resumed/full server CPU {cpu[True] / max(cpu[False], 1e-9):.2f}",
              flush=True)


RSA = "--rsa" in sys.argv
print(f"pop3s TLS session resumption benchmark ({'RSA-3072' if RSA else 'ECDSA P-256'}, X25519); the")
print("time to the greeting includes Nagle delays the test activator causes")
print("(pop3s.socket sets NoDelay=yes)")
login = "--login" in sys.argv
for version, vname in ((ssl.TLSVersion.TLSv1_3, "TLS1.3"), (ssl.TLSVersion.TLSv1_2, "TLS1.2")):
    run(vname, version, login)
