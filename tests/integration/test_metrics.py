"""The logger's metrics end to end: real sessions, then every counter in
STATE/metrics; the counters and the live sessions survive a logger restart;
a session killed with SIGKILL stops being current."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import TOP_BUILDDIR, Results, Server  # noqa: E402

R = Results("metrics")
PCTL = os.path.join(TOP_BUILDDIR, "src", "ctl", "pop3sctl")


class Counting:
    """A raw TLS session counting every plaintext octet the server sends."""

    def __init__(self, srv):
        self.c = srv.raw()
        self.received = len(self.c.greeting) + 2 + len(self.c.buf)
        recv = self.c.sock.recv

        def counting_recv(n):
            data = recv(n)
            self.received += len(data)
            return data
        self.c.sock.recv = counting_recv

    def cmd(self, line, multi=False):
        self.c.send(line.encode() + b"\r\n")
        first = self.c.line()
        if multi and first.startswith(b"+OK"):
            self.c.multiline()
        return first

    def end(self):
        """Reads until the server closes; returns the octets it sent."""
        self.c.closed()
        self.c.close()
        return self.received


def sessions(srv):
    """Runs the sessions; returns (bytes sent by the server, messages)."""
    alice, bob = Server.USERS["alice"], Server.USERS["bob"]
    sent = 0
    # 1: alice reads two messages and deletes one
    s = Counting(srv)
    s.cmd("USER alice")
    r = s.cmd("PASS " + alice)
    assert r.startswith(b"+OK"), r
    assert s.cmd("RETR 1", multi=True).startswith(b"+OK")
    assert s.cmd("RETR 2", multi=True).startswith(b"+OK")
    assert s.cmd("RETR 999").startswith(b"-ERR")
    assert s.cmd("DELE 1").startswith(b"+OK")
    assert s.cmd("QUIT") == b"+OK Logging out, 1 message removed"
    sent += s.end()
    # 2: two failed logins, then QUIT
    s = Counting(srv)
    s.cmd("USER alice")
    assert s.cmd("PASS wrong").startswith(b"-ERR")
    s.cmd("USER nosuchuser")
    assert s.cmd("PASS wrong").startswith(b"-ERR")
    s.cmd("QUIT")
    sent += s.end()
    # 3: bob, DELE then RSET: nothing removed
    s = Counting(srv)
    s.cmd("USER bob")
    s.cmd("PASS " + bob)
    s.cmd("DELE 1")
    s.cmd("RSET")
    s.cmd("QUIT")
    sent += s.end()
    return sent


def test_counters_and_restart(r):
    state = tempfile.mkdtemp(prefix="pop3s-state.")
    srv = Server(STATE=state, AUTH_DELAY_MS="0")
    try:
        srv.start()
        # a session held open for the whole test: peak 2 below
        held = Counting(srv)
        m = srv.wait_metrics(lambda m: m.get("sessions_current") == 1)
        r.check(m.get("connections") == 1, "a CONNECT counts at once", repr(m))
        sent = sessions(srv)
        want = {"connections": 4, "sessions_current": 1, "sessions_peak": 2, "logins_ok": 2,
                "logins_failed": 2, "messages_retrieved": 2, "messages_deleted": 1,
                "bytes_sent": sent, "records_malformed": 0}
        m = srv.wait_metrics(lambda m: all(m.get(k) == v for k, v in want.items()))
        bad = {k: (m.get(k), v) for k, v in want.items() if m.get(k) != v}
        r.check(not bad, "every counter after the sessions", repr(bad))
        r.check(abs(m.get("updated", 0) - time.time()) < 60, "updated is the time of the save")
        r.check(not [n for n in os.listdir(state) if n.startswith(".")],
                "no temporary files in STATE", repr(os.listdir(state)))

        if os.access(PCTL, os.X_OK):
            p = subprocess.run([PCTL, "-c", srv.conf, "stats", "--json"], capture_output=True,
                               text=True, timeout=20)
            if p.returncode == 0:
                j = json.loads(p.stdout)
                r.check(all(j.get(k) == v for k, v in want.items()),
                        "pop3sctl stats --json shows the same", p.stdout)
            else:
                print(f"# pop3sctl stats not usable yet: {p.stderr.strip()}")

        # restart: counters and the live session come back
        r.check(srv.stop_logger() == 0, "the logger stops on SIGTERM")
        before = srv.metrics()
        srv.start_logger()
        time.sleep(1.5)
        after = srv.metrics()
        r.check(all(after.get(k) == v for k, v in want.items()),
                "the counters survive a logger restart", repr(after))
        held.cmd("QUIT")
        held.end()
        m = srv.wait_metrics(lambda m: m.get("sessions_current") == 0)
        r.check(m.get("sessions_current") == 0 and m.get("bytes_sent", 0) > sent,
                "a session from before the restart ends with its DISCONNECT", repr(m))
        s = Counting(srv)
        s.cmd("QUIT")
        s.end()
        m = srv.wait_metrics(lambda m: m.get("connections") == 5)
        r.check(m.get("connections") == 5 and m.get("sessions_peak") == 2,
                "new records count on from the loaded values", repr(m))
        r.check(before.get("connections") == 4, "the file was complete at exit", repr(before))
    finally:
        srv.close()
        shutil.rmtree(state, ignore_errors=True)


def test_sigkill(r):
    state = tempfile.mkdtemp(prefix="pop3s-state.")
    srv = Server(STATE=state)
    try:
        srv.start()
        victim = Counting(srv)
        m = srv.wait_metrics(lambda m: m.get("sessions_current") == 1)
        r.check(m.get("sessions_current") == 1, "the session is current", repr(m))
        pids = srv.session_pids()
        r.check(len(pids) == 1, "one session process", repr(pids))
        os.kill(pids[0], signal.SIGKILL)
        t = time.monotonic()
        m = srv.wait_metrics(lambda m: m.get("sessions_current") == 0, timeout=20)
        took = time.monotonic() - t
        r.check(m.get("sessions_current") == 0 and took < 15,
                "a SIGKILLed session stops being current within 15 s", f"{m} after {took:.1f}s")
        r.check(m.get("sessions_peak") == 1 and m.get("connections") == 1,
                "peak and connections stay", repr(m))
        victim.c.close()
    finally:
        srv.close()
        shutil.rmtree(state, ignore_errors=True)


def test_bad_state_dir(r):
    state = tempfile.mkdtemp(prefix="pop3s-state.")
    with open(os.path.join(state, "metrics"), "w") as f:
        f.write("connections=oops\n")
    srv = Server(STATE=state)
    try:
        srv.start()
        p = srv.poplib()
        p.quit()
        m = srv.wait_metrics(lambda m: m.get("connections") == 1)
        r.check(m.get("connections") == 1,
                "a malformed metrics file: the logger logs on and counts from zero", repr(m))
    finally:
        srv.close()
        shutil.rmtree(state, ignore_errors=True)


for t in (test_counters_and_restart, test_sigkill, test_bad_state_dir):
    R.run(t)
R.finish()
