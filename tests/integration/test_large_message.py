"""A 1 GiB message is listed with its exact size and streams through a
fixed buffer: the session's memory does not grow with the message."""
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import Results, Server  # noqa: E402

R = Results("large")
GIB = 1 << 30
LINE = b"A" * 75 + b"\n"          # LF only: every line grows by one CR on the wire
BLOCK = LINE * (1 << 14)          # 1.2 MB


def peak_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmHWM:"):
                return int(l.split()[1])
    return 0


with Server() as srv:
    user = os.path.join(srv.home, "bob")
    for n in os.listdir(user):
        p = os.path.join(user, n)
        if os.path.isfile(p):
            os.unlink(p)
    big = os.path.join(user, "huge-message")
    lines = 0
    with open(big, "wb") as f:
        f.write(b"Subject: one gibibyte\n\n")
        written = 23
        while written + len(BLOCK) <= GIB:
            f.write(BLOCK)
            written += len(BLOCK)
            lines += len(BLOCK) // len(LINE)
        f.write(b"end")             # no final newline
        written += 3
    want = written + 2 + lines + 2  # CR per LF (2 header lines), final CRLF
    srv.start()
    c = srv.raw(timeout=120)
    c.send(f"USER bob\r\nPASS {Server.USERS['bob']}\r\nLIST 1\r\n".encode())
    c.line()
    c.line()
    m = re.match(rb"\+OK 1 (\d+)$", c.line())
    R.check(m and int(m.group(1)) == want, "LIST gives the exact CRLF size of a 1 GiB message",
            f"{m.group(1) if m else None} vs {want}")
    pid = srv.session_pids()[0]
    peaks = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                peaks.append(peak_kib(pid))
            except OSError:
                return
            time.sleep(0.1)

    th = threading.Thread(target=sample)
    th.start()
    t0 = time.monotonic()
    c.send(b"RETR 1\r\n")
    head = c.line()
    got = 0
    buf = c.buf
    c.buf = b""
    tail = b""
    while True:
        if buf:
            got += len(buf)
            tail = (tail + buf)[-8:]
            if tail.endswith(b"\r\n.\r\n"):
                break
        buf = c.sock.recv(1 << 20)
        if not buf:
            break
    secs = time.monotonic() - t0
    stop.set()
    th.join()
    R.check(head == f"+OK {want} octets".encode(), "RETR announces the same size", head)
    R.check(got - 3 == want, "RETR sends exactly that many octets, then '.'", f"{got - 3} vs {want}")
    peak = max(peaks) if peaks else 0
    R.check(0 < peak < 32 * 1024, "the session's peak memory stays small while sending 1 GiB",
            f"{peak} KiB")
    print(f"# 1 GiB RETR in {secs:.1f} s ({want / secs / 1e6:.0f} MB/s), session peak RSS {peak} KiB")
    c.send(b"QUIT\r\n")
    R.check(c.line().startswith(b"+OK"), "QUIT after the big RETR")
R.finish()
