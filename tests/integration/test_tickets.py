#!/usr/bin/env python3
"""TLS session resumption across sessions: every connection is a new
pop3s-session process, so a ticket issued by one must be accepted by the
next because they share the key (POP3S_TICKET_KEY, written by
`pop3sctl ticket-key`, handed over by EnvironmentFile= under systemd and
by systemd-socket-activate -E here). Real clients (Python's ssl,
gnutls-cli), real processes; the CONNECT records are read off the queue."""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import TOP_BUILDDIR, Results, Server  # noqa: E402
import logrec_wire as wire  # noqa: E402

R = Results("tickets")
CTL = os.path.join(TOP_BUILDDIR, "src", "ctl", "pop3sctl")
ENV = "POP3S_TICKET_KEY"


def new_key():
    """A key as the service makes it: `pop3sctl ticket-key` into a file,
    whose one line is what EnvironmentFile= reads."""
    d = tempfile.mkdtemp(prefix="pop3s-tk.")
    try:
        path = os.path.join(d, "ticket-key")
        subprocess.run([CTL, "ticket-key", "--file", path], check=True, capture_output=True)
        with open(path) as f:
            name, value = f.read().rstrip("\n").split("=", 1)
        assert name == ENV, name
        return value
    finally:
        shutil.rmtree(d)


class Tickets:
    """A server (sessions only; a QueueReader stands in for the logger)."""

    def __init__(self, key):
        self.srv = Server()
        self.q = wire.QueueReader(self.srv.queue)
        self.srv.start_sessions({ENV: key} if key is not None else None)

    def connect(self, ctx, session=None):
        raw = socket.create_connection((self.srv.host, self.srv.port), timeout=20)
        t = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
        greeting = b""
        while not greeting.endswith(b"\r\n"):
            greeting += t.recv(100)
        # The TLS 1.3 ticket comes after the handshake: reading the
        # greeting has processed it.
        return t, greeting

    def connect_records(self, since, want):
        return self.q.details(wire.CONNECT, since=since, want=want)

    def close(self):
        self.srv.close()


def ctx_for(srv, version):
    ctx = srv.ssl_context()
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


def quit_(t):
    t.sendall(b"QUIT\r\n")
    t.recv(100)
    t.close()


def login_retr(t):
    """USER/PASS, RETR 1: the resumed session is a working session."""
    buf = b""

    def reply(cmd, multi=False):
        nonlocal buf
        t.sendall(cmd + b"\r\n")
        end = b"\r\n.\r\n" if multi else b"\r\n"
        while end not in buf:
            chunk = t.recv(65536)
            if not chunk:
                raise EOFError(cmd)
            buf += chunk
        out, buf = buf.split(end, 1)
        return out
    ok = reply(b"USER alice").startswith(b"+OK")
    ok = reply(b"PASS " + Server.USERS["alice"].encode()).startswith(b"+OK") and ok
    retr = reply(b"RETR 1", multi=True)
    ok = retr.startswith(b"+OK") and len(retr) > 100 and ok
    quit_(t)
    return ok


def resume_case(r, srv, ctx, what):
    since = srv.q.count()
    t, g = srv.connect(ctx)
    sess = t.session
    quit_(t)
    r.check(g.startswith(b"+OK") and sess is not None and sess.has_ticket,
            f"{what}: the first session hands out a ticket", repr(g))
    t2, g2 = srv.connect(ctx, session=sess)
    reused = t2.session_reused
    r.check(g2.startswith(b"+OK") and reused, f"{what}: a second session process resumes it",
            f"reused={reused}")
    r.check(login_retr(t2), f"{what}: the resumed session logs in and retrieves a message")
    recs = srv.connect_records(since, 2)
    r.check(len(recs) == 2 and not recs[0].endswith(" resumed") and recs[1].endswith(" resumed"),
            f"{what}: CONNECT records say full handshake, then resumed", repr(recs))
    return sess


def test_with_key(r):
    key = new_key()
    srv = Tickets(key)
    # the same server with another key, as after a rotation (Python
    # offers a ticket only through the context that got it: the same
    # certificate, so one context fits both)
    other = Tickets(new_key())
    shutil.copy(srv.srv.cert, other.srv.cert)
    shutil.copy(srv.srv.key, other.srv.key)
    ctx13 = ctx_for(srv.srv, ssl.TLSVersion.TLSv1_3)
    try:
        sess13 = resume_case(r, srv, ctx13, "TLS 1.3")
        resume_case(r, srv, ctx_for(srv.srv, ssl.TLSVersion.TLSv1_2), "TLS 1.2")

        # gnutls-cli as a second, independent client implementation
        if shutil.which("gnutls-cli"):
            since = srv.q.count()
            p = subprocess.run(["gnutls-cli", "--resume", "--x509cafile", srv.srv.cert,
                                "-p", str(srv.srv.port), "localhost"],
                               input=b"", capture_output=True, timeout=60)
            out = p.stdout.decode(errors="replace")
            r.check("This is a resumed session" in out and "+OK" in out,
                    "gnutls-cli --resume: the second connection is resumed", out[-600:])
            recs = srv.connect_records(since, 2)
            r.check(len(recs) == 2 and recs[1].endswith(" resumed"),
                    "gnutls-cli --resume: the CONNECT record says resumed", repr(recs))
        else:
            r.check(False, "gnutls-cli is installed (packaging/build-deps.sh: gnutls-bin)")

        # the key is nowhere the administrator's tools show: not in a live
        # session's environment, not on its stderr (the log file has no
        # CONNECT records; the records sent are checked below)
        t, _ = srv.connect(ctx_for(srv.srv, ssl.TLSVersion.TLSv1_3))
        pids = srv.srv.session_pids()
        envs = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    envs.append(f.read())
            except OSError:
                pass
        quit_(t)
        r.check(envs and all(key.encode() not in e and ENV.encode() not in e for e in envs),
                "a live session's /proc/PID/environ holds neither the key nor its variable",
                f"{len(envs)} of {len(pids)} read")
        srv.srv.wait_sessions_gone()
        with srv.q.lock:
            texts = [repr(rec) for rec in srv.q.records]
        r.check(all(key not in x for x in texts + srv.srv.stderr_lines),
                "the key appears in no log record and not on the sessions' stderr")
        r.check(not any(ENV in l for l in srv.srv.stderr_lines),
                "a valid key gives no message on stderr", repr(srv.srv.stderr_lines[-3:]))
    finally:
        srv.close()

    # The same ticket presented to sessions with another key (a rotation):
    # a full handshake, and a working session.
    try:
        since = other.q.count()
        t, g = other.connect(ctx13, session=sess13)
        r.check(g.startswith(b"+OK") and not t.session_reused,
                "after a key change an old ticket is not resumed, but served")
        r.check(login_retr(t), "after a key change the session works")
        recs = other.connect_records(since, 1)
        r.check(len(recs) == 1 and "resumed" not in recs[0],
                "after a key change the CONNECT record has no 'resumed'", repr(recs))
    finally:
        other.close()


def test_without_key(r):
    srv = Tickets(None)
    try:
        for version, name in ((ssl.TLSVersion.TLSv1_3, "TLS 1.3"), (ssl.TLSVersion.TLSv1_2, "TLS 1.2")):
            ctx = ctx_for(srv.srv, version)
            t, g = srv.connect(ctx)
            sess = t.session
            quit_(t)
            r.check(g.startswith(b"+OK") and not sess.has_ticket,
                    f"without a key no ticket is offered ({name})")
            t, g = srv.connect(ctx, session=sess)
            r.check(g.startswith(b"+OK") and not t.session_reused,
                    f"without a key the next session is a full handshake ({name})")
            quit_(t)
        r.check(srv.srv.stderr_lines and not any("TICKET" in l for l in srv.srv.stderr_lines),
                "without a key nothing about it is said on stderr")
    finally:
        srv.close()


def test_malformed(r):
    for bad, why in (("bm90IGEga2V5", "wrong length"), ("!" * 88, "not valid base64")):
        srv = Tickets(bad)
        try:
            ctx = ctx_for(srv.srv, ssl.TLSVersion.TLSv1_3)
            t, g = srv.connect(ctx)
            sess = t.session
            r.check(g.startswith(b"+OK") and login_retr(t),
                    f"a malformed key ({why}): the session is served")
            r.check(not sess.has_ticket, f"a malformed key ({why}): no ticket")
            end = time.time() + 10
            while time.time() < end and not any(ENV in l for l in srv.srv.stderr_lines):
                time.sleep(0.05)
            lines = [l for l in srv.srv.stderr_lines if ENV in l]
            r.check(len(lines) == 1 and "/run/pop3s/ticket-key" in lines[0] and why in lines[0]
                    and "without TLS session resumption" in lines[0] and bad not in lines[0],
                    f"a malformed key ({why}): one stderr line names the variable and file",
                    repr(lines))
        finally:
            srv.close()


R.run(test_with_key)
R.run(test_without_key)
R.run(test_malformed)
R.finish()
