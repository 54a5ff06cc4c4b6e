#!/usr/bin/env python3
"""Slowloris: HANDSHAKE_TIMEOUT, TIMEOUT and MIN_SEND_RATE are absolute
limits that no trickle of bytes can extend (issue 8, item 1).

Against real pop3s-session processes under systemd-socket-activate
--accept, with HANDSHAKE_TIMEOUT=3 and TIMEOUT=5:
- a ClientHello sent one octet every 0.5 s is cut at HANDSHAKE_TIMEOUT;
- a TLS record header announcing 16384 octets, then one octet a second,
  is cut at TIMEOUT, before and after login (and nothing marked is deleted);
- a client that stops reading a large RETR is cut within TIMEOUT once its
  buffers are full; one that reads it steadily below MIN_SEND_RATE=1 MiB/s
  (fast enough that each send() makes progress) within two windows;
- a slow but legitimate client (handshake in pieces, commands typed over
  several seconds) is served, and so is a reader after a FILTER that took
  longer than TIMEOUT.
Each session's DISCONNECT record, read straight from the log queue, says
why it ended.
"""
import os
import select
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import Results, Server  # noqa: E402
import logrec_wire as wire  # noqa: E402

R = Results("deadlines")
HS = 3          # HANDSHAKE_TIMEOUT
TO = 5          # TIMEOUT
RATE = 1 << 20  # MIN_SEND_RATE: a reader below 1 MiB/s is cut
SLOW = 400000   # octets/s of the slow reader: fast enough to keep each
                # send() moving (SO_SNDTIMEO-style timeouts never fire)
SLACK = 2       # the bound: limit + 2 s
BIG = 64 << 20  # larger than every kernel buffer between server and client


QueueReader = wire.QueueReader


class BioClient:
    """A TLS client over a plain socket through Python's ssl MemoryBIO, so
    the test decides exactly which octets go out and when."""

    def __init__(self, srv, timeout=20):
        self.sock = socket.create_connection((srv.host, srv.port), timeout=timeout)
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.tls = srv.ssl_context().wrap_bio(self.inc, self.out, server_hostname="localhost")
        self.buf = b""

    def client_hello(self):
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.out.read()

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.inc.write(data)

    def finish_handshake(self):
        """Completes the handshake once the ClientHello has been sent."""
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                self._fill()
        self._flush()

    def send(self, data):
        self.tls.write(data)
        self._flush()

    def line(self):
        while b"\r\n" not in self.buf:
            try:
                self.buf += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def close(self):
        self.sock.close()


def closed_by_server(sock, timeout):
    """True if the server closes (EOF or reset) within timeout; anything
    it sends before (an alert) is read and ignored."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return False
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True


def trickle_until_closed(sock, data, interval, limit):
    """Sends data one octet per interval until the server closes the
    connection or limit seconds pass. Returns the seconds it stayed open,
    or None if it was still open at the limit."""
    start = time.monotonic()
    for b in data:
        try:
            sock.sendall(bytes([b]))
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
        if closed_by_server(sock, interval):
            return time.monotonic() - start
        if time.monotonic() - start > limit:
            return None
    return None


def login(c, user="bob"):
    for cmd in (f"USER {user}", f"PASS {Server.USERS[user]}"):
        c.send(cmd.encode() + b"\r\n")
        if not c.line().startswith(b"+OK"):
            raise RuntimeError(f"{cmd.split()[0]} refused")


def test_trickled_handshake(srv, q):
    """A ClientHello at one octet per 0.5 s would take minutes: the
    session must end HANDSHAKE_TIMEOUT after it started."""
    c = BioClient(srv)
    hello = c.client_hello()
    since = q.count()
    start = time.monotonic()
    secs = trickle_until_closed(c.sock, hello, 0.5, HS + 10)
    c.close()
    R.check(secs is not None and HS - 0.5 <= secs <= HS + SLACK,
            f"trickled ClientHello ({len(hello)} octets at 2/s) closed at HANDSHAKE_TIMEOUT={HS}",
            f"open for {secs if secs is not None else time.monotonic() - start:.1f} s")
    d = q.disconnects(since)
    R.check(any(x.startswith("tls-handshake: timed out") for x in d),
            "trickled ClientHello: DISCONNECT says the handshake timed out", repr(d))


def test_slow_handshake_within_limit(srv):
    """The same ClientHello in four pieces over 1.8 s (within the limit)
    gets a handshake and a greeting."""
    c = BioClient(srv)
    hello = c.client_hello()
    n = (len(hello) + 3) // 4
    for i in range(4):
        # no pause after the last piece: the rest of the handshake needs
        # the time left before HANDSHAKE_TIMEOUT on a loaded machine
        if i:
            time.sleep(0.6)
        c.sock.sendall(hello[i * n:(i + 1) * n])
    c.finish_handshake()
    greeting = c.line()
    R.check(greeting.startswith(b"+OK"), "a ClientHello sent in pieces over 1.8 s still gets the greeting",
            repr(greeting))
    c.send(b"QUIT\r\n")
    R.check(c.line().startswith(b"+OK"), "and the session works (QUIT)")
    c.close()


RECORD_HEADER = bytes([0x17, 0x03, 0x03, 0x40, 0x00])  # application data, 16384 octets


def test_trickled_record(srv, q, logged_in):
    """A record header announcing 16384 octets, then one octet a second:
    the session ends TIMEOUT after it started waiting for the command."""
    what = "after login with a DELE pending" if logged_in else "before login"
    before = srv.messages("bob")
    c = BioClient(srv)
    c.sock.sendall(c.client_hello())
    c.finish_handshake()
    c.line()
    if logged_in:
        login(c)
        c.send(b"DELE 1\r\n")
        if not c.line().startswith(b"+OK"):
            raise RuntimeError("DELE 1 refused")
    since = q.count()
    start = time.monotonic()          # the server now waits for a command
    c.sock.sendall(RECORD_HEADER)
    secs = trickle_until_closed(c.sock, b"\x42" * 64, 1.0, TO + 10)
    took = time.monotonic() - start
    c.close()
    R.check(secs is not None and TO - 0.5 <= took <= TO + SLACK,
            f"record header for 16384 octets then 1 octet/s ({what}) closed at TIMEOUT={TO}",
            f"open for {took:.1f} s, closed={secs is not None}")
    d = q.disconnects(since)
    R.check(d == ["timeout"], f"trickled record ({what}): DISCONNECT reason is 'timeout'", repr(d))
    R.check(srv.messages("bob") == before, f"trickled record ({what}): no message was removed")


def make_big_message(srv):
    path = os.path.join(srv.home, "bob", "9999-big")
    line = b"B" * 78 + b"\r\n"
    with open(path, "wb") as f:
        f.write(b"Subject: big\r\n\r\n")
        f.write(line * (BIG // len(line)))
    return path


def retr_big(srv):
    """A logged-in client that marked message 1 and asked for the big
    message (the last one). Returns the client and the RETR's start."""
    c = srv.raw(timeout=30)
    login(c)
    c.send(b"STAT\r\n")
    n = int(c.line().split()[1])
    if not c.cmd("DELE 1").startswith(b"+OK"):
        raise RuntimeError("DELE 1 refused")
    c.send(f"RETR {n}\r\n".encode())
    return c, time.monotonic()


def wait_gone(srv, pids, limit):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not set(pids) & set(srv.session_pids()):
            return True
        time.sleep(0.05)
    return False


def test_stalled_reader(srv, q):
    """RETR of a message larger than every buffer, then the client reads
    nothing: the session ends within TIMEOUT once the buffers are full."""
    before = srv.messages("bob")
    since = q.count()
    c, start = retr_big(srv)
    pids = srv.session_pids()
    gone = wait_gone(srv, pids, TO + SLACK + 5)
    took = time.monotonic() - start
    R.check(gone and took <= TO + SLACK,
            f"a client that stops reading a {BIG >> 20} MiB RETR is cut within TIMEOUT={TO} + {SLACK} s",
            f"gone={gone} after {took:.1f} s")
    c.close()
    d = q.disconnects(since)
    R.check(len(d) == 1 and d[0].startswith("send-timeout"),
            "stalled reader: DISCONNECT reason is send-timeout", repr(d))
    R.check(srv.messages("bob") == before, "stalled reader: the message marked with DELE is still there")


def test_slow_reader(srv, q):
    """The same RETR read steadily at 400 kB/s, below MIN_SEND_RATE: every
    send makes progress, but too little. The first window may still be
    filled (the kernel's buffers take megabytes at once), the next cannot:
    the session ends within two windows of the RETR."""
    before = srv.messages("bob")
    since = q.count()
    c, start = retr_big(srv)
    pids = srv.session_pids()
    got = len(c.buf)
    c.sock.settimeout(0.05)
    took = None
    next_check = 0
    while time.monotonic() - start < 2 * TO + SLACK + 15:
        now = time.monotonic() - start
        if got < SLOW * now:
            try:
                chunk = c.sock.recv(min(65536, int(SLOW * now - got) + 1))
            except socket.timeout:
                chunk = b"-"
            except (ssl.SSLError, OSError):
                chunk = b""
            if not chunk:
                break
            got += len(chunk)
        else:
            time.sleep(0.01)
        if now >= next_check:   # reading /proc is slow: four times a second
            next_check = now + 0.25
            if not set(pids) & set(srv.session_pids()):
                took = now
                break
    rate = got / (time.monotonic() - start)
    c.close()
    R.check(took is not None and took <= 2 * TO + SLACK and rate < RATE,
            f"a client reading a big RETR at {rate / 1000:.0f} kB/s is cut within 2 x TIMEOUT + {SLACK} s "
            f"(MIN_SEND_RATE={RATE})",
            f"session ended after {took if took is not None else time.monotonic() - start:.1f} s, "
            f"{got} octets read")
    d = q.disconnects(since)
    R.check(len(d) == 1 and d[0].startswith("send-timeout"),
            "slow reader: DISCONNECT reason is send-timeout", repr(d))
    R.check(srv.messages("bob") == before, "slow reader: the message marked with DELE is still there")


def read_whole(c):
    """Reads a RETR reply at full speed: (status line, octets after it,
    whether it ended with the terminating dot line)."""
    head = c.line()
    got = len(c.buf)
    c.buf = b""
    tail = b""
    while not tail.endswith(b"\r\n.\r\n"):
        chunk = c.sock.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
        tail = (tail + chunk)[-5:]
    return head, got, tail.endswith(b"\r\n.\r\n")


def test_fast_reader(srv):
    """A normal client reads the same big message whole."""
    c, _ = retr_big(srv)
    head, got, ended = read_whole(c)
    size = int(head.split()[1]) if head.startswith(b"+OK") else -1
    R.check(ended and got == size + 3 and size > BIG - 100,
            "a normal reader gets the whole big message", f"{head!r}, {got} octets")
    R.check(c.cmd("RSET").startswith(b"+OK"), "and the session goes on")
    c.close()


def test_slow_typist(srv):
    """Each command typed over about 3.5 s (within TIMEOUT=5), for a
    session longer than TIMEOUT in total: the deadline is per command."""
    c = srv.raw()
    start = time.monotonic()
    replies = []
    for cmd in (b"USER bob\r\n", f"PASS {Server.USERS['bob']}\r\n".encode(), b"STAT\r\n"):
        n = (len(cmd) + 3) // 4
        for i in range(4):
            c.send(cmd[i * n:(i + 1) * n])
            time.sleep(0.9)
        replies.append(c.line())
    took = time.monotonic() - start
    R.check(all(r.startswith(b"+OK") for r in replies) and took > TO,
            f"commands typed over ~3.5 s each are answered ({took:.0f} s in all, TIMEOUT={TO})",
            repr(replies))
    c.close()


def test_slow_filter(srv):
    """A FILTER that takes longer than TIMEOUT before its output starts:
    that is the server's time, not the reader's; a normal reader then gets
    the whole filtered message."""
    c, _ = retr_big(srv)
    head, got, ended = read_whole(c)
    size = int(head.split()[1]) if head.startswith(b"+OK") else -1
    R.check(got == size + 3 and size > BIG - 100,
            f"after a filter that ran {TO + 1} s (> TIMEOUT), a normal reader gets the whole message",
            f"{head!r}, {got} octets")
    c.close()


with Server(HANDSHAKE_TIMEOUT=HS, TIMEOUT=TO, MIN_SEND_RATE=RATE, AUTH_DELAY_MS=0) as srv:
    make_big_message(srv)
    q = QueueReader(srv.queue)
    srv.start_sessions()
    for i, test in enumerate((lambda: test_trickled_handshake(srv, q),
                 lambda: test_slow_handshake_within_limit(srv),
                 lambda: test_trickled_record(srv, q, False),
                 lambda: test_trickled_record(srv, q, True),
                 lambda: test_slow_typist(srv),
                 lambda: test_stalled_reader(srv, q),
                 lambda: test_slow_reader(srv, q),
                 lambda: test_fast_reader(srv))):
        # Each test makes one connection and sees only its session's
        # records: wait for every earlier session's DISCONNECT.
        srv.wait_sessions_gone(TO + 5)
        q.disconnects(0, want=i)
        R.run(lambda r: test())

# The same with a filter slower than TIMEOUT (only possible when
# FILTER_TIMEOUT_MS is above TIMEOUT): the send window must not have run
# out before the first octet could be sent.
with Server(TIMEOUT=TO, MIN_SEND_RATE=RATE, AUTH_DELAY_MS=0, FILTER_TIMEOUT_MS=30000) as srv:
    slow = os.path.join(srv.dir, "slow-filter")
    with open(slow, "w") as f:
        f.write(f"#!/bin/sh\nsleep {TO + 1}\nexec cat\n")
    os.chmod(slow, 0o755)
    with open(srv.conf, "a") as f:
        f.write(f"FILTER={slow}\n")
    make_big_message(srv)
    srv.start()
    R.run(lambda r: test_slow_filter(srv))
R.finish()
