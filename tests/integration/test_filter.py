"""FILTER= end to end: RETR and TOP through a real filter program run by the
real pop3s-session, failures answered with -ERR [SYS/TEMP] without ending the
session, the time limit, and what reaches the logger."""
import os
import poplib
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import Results, Server, proc_argv, processes, to_crlf  # noqa: E402

R = Results("filter")
PW = Server.USERS["alice"]
# No shell: words are split on spaces, so the header's space is sed's \x20.
TAGGER = r"/usr/bin/sed 1iX-Spam:\x20no"
# A filter that never ends. Its argument is this file's own: the unit tests,
# which make may run at the same time, hang on "/bin/sleep 30", and the
# check that the filter was killed looks for this command line in /proc.
HANG = "/bin/sleep 31"
HANG_ARGV = HANG.split()


def server(**conf):
    """A server whose logger keeps its metrics in a private directory."""
    state = tempfile.mkdtemp(prefix="pop3s-state.")
    srv = Server(STATE=state, **conf)
    srv.state = state
    return srv


def finish(srv):
    srv.close()
    shutil.rmtree(srv.state, ignore_errors=True)


def login(srv):
    p = srv.poplib()
    p.user("alice")
    p.pass_(PW)
    return p


def stored(srv):
    """{uidl: bytes as RETR sends them unfiltered}."""
    out = {}
    for rel in srv.messages("alice"):
        with open(os.path.join(srv.home, "alice", rel), "rb") as f:
            out[os.path.basename(rel).split(":")[0]] = to_crlf(f.read())
    return out


def uidls(p):
    return {int(n): u.decode() for n, u in (l.split() for l in p.uidl()[1])}


def metrics(srv, key, want, timeout=10):
    """The value of key in STATE/metrics once it equals want (or the last one)."""
    end = time.time() + timeout
    value = None
    while time.time() < end:
        try:
            with open(os.path.join(srv.state, "metrics")) as f:
                values = dict(l.strip().split("=", 1) for l in f if "=" in l)
            value = int(values.get(key, -1))
        except FileNotFoundError:
            pass
        if value == want:
            break
        time.sleep(0.1)
    return value


def test_tagging_filter(r):
    srv = server(FILTER=TAGGER)
    try:
        srv.start()
        want = stored(srv)
        p = login(srv)
        names = uidls(p)
        ok = True
        for n, uidl in sorted(names.items()):
            resp, lines, _ = p.retr(n)
            sent = b"".join(l + b"\r\n" for l in lines)
            announced = int(resp.split()[1])
            expect = b"X-Spam: no\r\n" + want[uidl]
            # lines come back un-stuffed: compare with the unstuffed message
            if sent != expect or announced != len(expect):
                ok = False
                r.check(False, f"RETR {n} through the filter", f"{resp!r} {sent[:80]!r}")
                break
            listed = int(p.list(n).split()[2])
            if listed != len(want[uidl]):
                ok = False
                r.check(False, f"LIST {n} is the unfiltered size", f"{listed}")
                break
        r.check(ok and names, "RETR: tagged header, exact '+OK N octets' of the filtered "
                "message; LIST keeps the stored size", f"{len(names)} messages")
        resp, lines, _ = p.top(1, 0)
        r.check(lines[0] == b"X-Spam: no" and lines[-1] == b"",
                "TOP 1 0 goes through the filter too", repr(lines[:3]))
        p.quit()
        r.check(metrics(srv, "messages_retrieved", len(names)) == len(names),
                "the logger counts each filtered RETR")
        lines = srv.wait_log(lambda l: sum(x.endswith(" RETR") for x in l) >= len(names))
        r.check(sum(x.endswith(" RETR") for x in lines) == len(names), "the log has the RETRs")
    finally:
        finish(srv)


def test_failing_filter(r):
    srv = server(FILTER="/bin/sh -c echo${IFS}half;exit${IFS}1")
    try:
        srv.start()
        p = login(srv)
        count = p.stat()[0]
        try:
            p.retr(1)
            r.check(False, "a failing filter gives -ERR")
        except poplib.error_proto as e:
            r.check(str(e).startswith("b'-ERR [SYS/TEMP] Message 1 could not be filtered"),
                    "a failing filter gives -ERR [SYS/TEMP], nothing of the message", str(e))
        r.check(p.noop().startswith(b"+OK") and p.stat()[0] == count,
                "and the session goes on")
        try:
            p.top(1, 0)
            r.check(False, "TOP through a failing filter gives -ERR")
        except poplib.error_proto as e:
            r.check("[SYS/TEMP]" in str(e), "TOP through a failing filter gives -ERR [SYS/TEMP]")
        p.quit()
        lines = srv.wait_log(lambda l: l and l[-1].endswith(" QUIT"))
        cmds = [l.split()[2] for l in lines]
        r.check("RETR" in cmds and "TOP" in cmds, "the log has the failed RETR and TOP",
                repr(cmds))
        # the log file has no status column: the counter shows it was ERR
        r.check(metrics(srv, "logins_ok", 1) == 1 and
                metrics(srv, "messages_retrieved", 0, timeout=2) == 0,
                "the logger saw the RETR as ERR (not counted as retrieved)")
    finally:
        finish(srv)


def test_missing_filter(r):
    srv = server(FILTER="/nonexistent/filter --flag")
    try:
        srv.start()
        p = login(srv)
        try:
            p.retr(1)
            r.check(False, "a missing filter program gives -ERR")
        except poplib.error_proto as e:
            r.check("[SYS/TEMP]" in str(e), "a missing filter program gives -ERR [SYS/TEMP]")
        r.check(p.noop().startswith(b"+OK"), "and the session goes on")
        p.quit()
    finally:
        finish(srv)


def test_hanging_filter(r):
    srv = server(FILTER=HANG, FILTER_TIMEOUT_MS="500")
    try:
        srv.start()
        p = login(srv)
        t = time.monotonic()
        try:
            p.retr(1)
            r.check(False, "a hanging filter gives -ERR")
        except poplib.error_proto as e:
            took = time.monotonic() - t
            r.check("[SYS/TEMP]" in str(e) and took < 3,
                    "a hanging filter gives -ERR [SYS/TEMP] after FILTER_TIMEOUT_MS",
                    f"{e} after {took:.1f}s")
        r.check(p.noop().startswith(b"+OK"), "and the session goes on")
        p.quit()
        r.check(srv.wait_sessions_gone(), "the session ends normally afterwards")
        sleepers = [pid for pid, stat in processes() if stat[0] != "Z" and proc_argv(pid) == HANG_ARGV]
        r.check(not sleepers, "the filter was killed", repr(sleepers))
    finally:
        finish(srv)


def test_sigterm_during_filter(r):
    srv = server(FILTER=HANG, FILTER_TIMEOUT_MS="60000")
    try:
        srv.start()
        c = srv.raw()
        c.send(b"USER alice\r\n")
        c.line()
        c.send(b"PASS " + PW.encode() + b"\r\n")
        c.line()
        c.send(b"RETR 1\r\n")

        # SIGTERM only once the session is waiting for its filter (between
        # fork and exec the child still looks like a session in /proc)
        def filtering():
            pids = srv.session_pids()
            return pids if any(int(stat[1]) in pids and proc_argv(child) == HANG_ARGV
                               for child, stat in processes()) else None
        end = time.monotonic() + 20
        while time.monotonic() < end and not filtering():
            time.sleep(0.05)
        pids = filtering() or []
        r.check(bool(pids), "the session runs its filter for RETR")
        t = time.monotonic()
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        gone = srv.wait_sessions_gone(timeout=5)
        took = time.monotonic() - t
        r.check(len(pids) == 1 and gone and took < 3,
                "SIGTERM ends a session waiting for its filter at once", f"{took:.1f}s, pids {pids}")
        reply = c.line() if c.closed(timeout=5) or c.buf else b""
        r.check(reply.startswith(b"-ERR [SYS/TEMP]"), "the RETR is answered -ERR [SYS/TEMP]",
                repr(reply))
        c.close()
    finally:
        finish(srv)


for t in (test_tagging_filter, test_failing_filter, test_missing_filter, test_hanging_filter,
          test_sigterm_during_filter):
    R.run(t)
R.finish()
