"""Python's poplib.POP3_SSL against the real pop3s-session and pop3s-logger
under systemd-socket-activate --accept, with the demo mailbox."""
import os
import poplib
import re
import signal
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import Results, Server, to_crlf  # noqa: E402

R = Results("poplib")
PW = Server.USERS["alice"]


def stored(srv, user):
    """{uidl: bytes as RETR must send them} for a user's stored messages."""
    out = {}
    for rel in srv.messages(user):
        base = os.path.basename(rel).split(":")[0]
        with open(os.path.join(srv.home, user, rel), "rb") as f:
            out[base] = to_crlf(f.read())
    return out


def login(srv, user="alice", pw=PW):
    p = srv.poplib()
    p.user(user)
    p.pass_(pw)
    return p


def session_log(srv, before):
    """Log lines written since the log had `before` lines."""
    return srv.log_lines()[before:]


def commands(lines):
    return [l.split(" ", 2)[2] for l in lines]


def check_log_format(r, lines, ip="127.0.0.1"):
    now = time.time()
    pat = re.compile(r"^(\d+) (\S+) ([A-Z?\-]+)$")
    good = all(pat.match(l) and abs(int(l.split()[0]) - now) < 300 and l.split()[1] == ip
               for l in lines)
    r.check(good and lines, f"log lines are 'UNIX_TS {ip} COMMAND'", repr(lines[:5]))


def test_stat_list_uidl_retr(r):
    with Server().start() as srv:
        want = stored(srv, "alice")
        p = login(srv)
        count, octets = p.stat()
        r.check(count == len(want), "STAT counts every stored message", f"{count} vs {len(want)}")
        r.check(octets == sum(len(v) for v in want.values()),
                "STAT octets = sum of CRLF sizes", f"{octets}")
        resp, listing, _ = p.list()
        sizes = {int(a): int(b) for a, b in (l.split() for l in listing)}
        resp, uidls, _ = p.uidl()
        uid = {int(a): b.decode() for a, b in (l.split() for l in uidls)}
        r.check(sorted(uid.values()) == sorted(want), "UIDL names every message by its base name",
                f"{sorted(uid.values())} vs {sorted(want)}")
        r.check(len(set(uid.values())) == len(uid), "UIDLs are unique")
        all_equal = True
        for n, u in uid.items():
            resp, lines, octets = p.retr(n)
            body = b"\r\n".join(lines) + b"\r\n"
            m = re.match(rb"\+OK (\d+) octets", resp)
            if body != want[u] or sizes[n] != len(want[u]) or not m or int(m.group(1)) != sizes[n]:
                all_equal = False
                print(f"# message {n} ({u}): LIST {sizes[n]}, RETR {len(body)}, stored {len(want[u])}")
        r.check(all_equal, "RETR is byte-for-byte the stored message (CRLF), LIST size exact")
        resp, lines, _ = p.top(1, 0)
        header = want[uid[1]].split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        r.check(lines == header + [b""], "TOP n 0 sends the header and the blank line")
        resp, lines, _ = p.top(1, 2)
        r.check(len(lines) <= len(header) + 1 + 2, "TOP n 2 sends at most two body lines")
        r.check(p.noop().startswith(b"+OK"), "NOOP")
        before = len(srv.log_lines())
        p.quit()
        lines = srv.wait_log(lambda l: l and l[-1].endswith(" QUIT"))
        cmds = commands(lines)
        r.check(cmds[:3] == ["USER", "PASS", "STAT"] and cmds[-1] == "QUIT",
                "the logger wrote one line per command, in order", repr(cmds[:6]))
        check_log_format(r, lines)
        with open(srv.logs, "rb") as f:
            text = f.read()
        r.check(PW.encode() not in text and b"alice-demo" not in text, "no password in the log")
        r.check(before <= len(lines), "log complete")


def test_dele(r):
    with Server().start() as srv:
        first = srv.messages("alice")
        # DELE + RSET keeps everything
        p = login(srv)
        p.dele(1)
        p.dele(2)
        p.rset()
        p.quit()
        r.check(srv.messages("alice") == first, "DELE then RSET then QUIT removes nothing")
        # DELE + dropped connection removes nothing
        p = login(srv)
        p.dele(1)
        p.sock.shutdown(socket.SHUT_RDWR)
        p.sock.close()
        r.check(srv.wait_sessions_gone(), "the session ends when the client drops")
        r.check(srv.messages("alice") == first, "DELE then a dropped connection removes nothing")
        # DELE + QUIT removes exactly the marked message
        p = login(srv)
        _, uidls, _ = p.uidl()
        victim = uidls[0].split()[1].decode()
        resp = p.dele(1)
        r.check(resp.startswith(b"+OK"), "DELE 1 accepted")
        try:
            p.retr(1)
            r.check(False, "RETR of a deleted message fails")
        except poplib.error_proto as e:
            r.check(b"deleted" in e.args[0], "RETR of a deleted message fails", e.args[0])
        p.quit()
        now = srv.messages("alice")
        r.check(len(now) == len(first) - 1 and all(not os.path.basename(m).startswith(victim) for m in now),
                "DELE then QUIT removes exactly that message", f"{victim}: {now}")
        lines = srv.wait_log(lambda l: commands(l).count("DELE") >= 4 and commands(l)[-1] == "QUIT")
        r.check(commands(lines).count("DELE") == 4 and commands(lines).count("RSET") == 1,
                "DELE and RSET are in the log", repr(commands(lines)))


def test_in_use_and_auth(r):
    with Server().start() as srv:
        a = login(srv)
        try:
            login(srv)
            r.check(False, "a second login gets [IN-USE]")
        except poplib.error_proto as e:
            r.check(e.args[0].startswith(b"-ERR [IN-USE]"), "a second login gets [IN-USE]", e.args[0])
        a.quit()
        b = login(srv)
        r.check(b.stat()[0] >= 0, "after QUIT the mailbox can be opened again")
        b.quit()

        p = srv.poplib()
        r.check(p.user("alice").startswith(b"+OK"), "USER alice")
        t = time.monotonic()
        try:
            p.pass_("wrong")
            r.check(False, "wrong password refused")
        except poplib.error_proto as e:
            took = time.monotonic() - t
            r.check(e.args[0].startswith(b"-ERR [AUTH]"), "wrong password gets -ERR [AUTH]", e.args[0])
            r.check(took >= 0.9, "a failed login is answered after about a second", f"{took:.2f}s")
        r.check(p.user("nosuchuser").startswith(b"+OK"), "USER answers the same for an unknown user")
        t = time.monotonic()
        try:
            p.pass_("whatever")
        except poplib.error_proto as e:
            took = time.monotonic() - t
            r.check(e.args[0].startswith(b"-ERR [AUTH]"), "unknown user gets the same -ERR [AUTH]", e.args[0])
            r.check(took >= 0.9, "an unknown user costs the same delay", f"{took:.2f}s")
        p.user("alice")
        try:
            p.pass_("wrong again")
        except poplib.error_proto as e:
            r.check(b"closing" in e.args[0], "the third failure closes the connection", e.args[0])
        try:
            p.noop()
            r.check(False, "connection closed after 3 failures")
        except (poplib.error_proto, OSError, EOFError):
            r.check(True, "connection closed after 3 failures")
        lines = srv.wait_log(lambda l: commands(l).count("PASS") >= 6)
        r.check(commands(lines).count("PASS") == 6, "every PASS is logged (word only)", repr(commands(lines)))
        with open(srv.logs, "rb") as f:
            text = f.read()
        r.check(b"wrong" not in text and b"whatever" not in text, "failed passwords are not logged")


def test_pipelining_long_line(r):
    with Server().start() as srv:
        c = srv.raw()
        r.check(c.greeting.startswith(b"+OK"), "greeting", c.greeting)
        c.send(f"USER alice\r\nPASS {PW}\r\nSTAT\r\nLIST 1\r\nNOOP\r\n".encode())
        replies = [c.line() for _ in range(5)]
        r.check(replies[0].startswith(b"+OK") and replies[1].startswith(b"+OK Logged in")
                and re.match(rb"\+OK \d+ \d+$", replies[2]) and replies[3].startswith(b"+OK 1 ")
                and replies[4].startswith(b"+OK"), "pipelined commands are answered in order", replies)
        c.send(b"NOOP " + b"A" * 300 + b"\r\nNOOP\r\n")
        r.check(c.line() == b"-ERR Line too long", "an over-long line gets -ERR")
        r.check(c.line().startswith(b"+OK"), "and the session goes on")
        c.send(b"X" * 100000 + b"\r\nSTAT\r\n")
        r.check(c.line() == b"-ERR Line too long", "a 100 KB line gets one -ERR")
        r.check(re.match(rb"\+OK \d+ \d+$", c.line()) is not None, "and the next command works")
        c.send(b"LIST abc\r\nRETR 0\r\nRETR 99999999999999999999\r\nFOO\r\nST\0AT\r\n")
        errs = [c.line() for _ in range(5)]
        r.check(all(e.startswith(b"-ERR") for e in errs), "bad arguments and commands get -ERR", errs)
        c.send(b"QUIT\r\n")
        r.check(c.line().startswith(b"+OK"), "QUIT")
        r.check(c.closed(), "the server closes after QUIT")


def test_idle_timeout(r):
    with Server(TIMEOUT=2).start() as srv:
        first = srv.messages("alice")
        c = srv.raw()
        c.send(f"USER alice\r\nPASS {PW}\r\nDELE 1\r\n".encode())
        for _ in range(3):
            c.line()
        c.send(b"NOO")  # a partial command does not reset the timer
        t = time.monotonic()
        closed = c.closed(timeout=10)
        took = time.monotonic() - t
        r.check(closed and 1.5 <= took <= 6, "an idle session is dropped after TIMEOUT", f"{took:.1f}s")
        r.check(c.buf == b"", "with no reply", c.buf)
        r.check(srv.messages("alice") == first, "and nothing marked by DELE is removed")


def test_killed_sessions_remove_nothing(r):
    """SIGTERM (systemctl stop) and SIGKILL after DELE remove nothing, and
    the lock goes with the process."""
    with Server().start() as srv:
        first = srv.messages("alice")
        for sig in (signal.SIGTERM, signal.SIGKILL):
            p = login(srv)
            p.dele(1)
            p.dele(2)
            pids = srv.session_pids()
            r.check(len(pids) == 1, "one session process", repr(pids))
            os.kill(pids[0], sig)
            r.check(srv.wait_sessions_gone(), f"the session ends on {sig.name}")
            r.check(srv.messages("alice") == first, f"{sig.name} after DELE removes nothing")
            q = login(srv)
            r.check(q.stat()[0] == len(first), f"after {sig.name} the mailbox is not locked")
            q.quit()
            p.sock.close()
            # the next pass counts session processes: q's must be gone
            r.check(srv.wait_sessions_gone(), f"the session after {sig.name} ends at QUIT")


def test_priority_override(r):
    """PRIORITY= in the config replaces the built-in priority string."""
    prio = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305:%SERVER_PRECEDENCE"
    with Server(PRIORITY=prio).start() as srv:
        ctx = srv.ssl_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        try:
            with socket.create_connection((srv.host, srv.port), timeout=10) as s:
                ctx.wrap_socket(s, server_hostname="localhost").recv(100)
            r.check(False, "PRIORITY limited to TLS 1.2 refuses a TLS 1.3-only client")
        except (ssl.SSLError, OSError):
            r.check(True, "PRIORITY limited to TLS 1.2 refuses a TLS 1.3-only client")
        c = srv.raw()
        r.check(c.sock.version() == "TLSv1.2" and "CHACHA20" in c.sock.cipher()[0],
                "and a default client gets TLS 1.2 with the configured cipher",
                f"{c.sock.version()} {c.sock.cipher()}")
        c.close()


def test_ipv6(r):
    if not socket.has_ipv6:
        print("# no IPv6: skipping ::1")
        return
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        print("# ::1 not available: skipping")
        return
    with Server(host="::1").start() as srv:
        p = login(srv)
        p.stat()
        p.quit()
        lines = srv.wait_log(lambda l: l and l[-1].endswith("QUIT"))
        check_log_format(r, lines, ip="::1")


def test_logger_down_or_stalled(r):
    """A session never hangs on the logger: with no logger (no queue) the
    records go to the journal directly; with a stalled logger the queue
    fills, the session waits at most QUEUE_TIMEOUT_MS once, goes on, and
    what was queued lands when the logger resumes."""
    with Server(QUEUE_TIMEOUT_MS=200) as srv:
        srv.start_sessions()
        t = time.monotonic()
        p = login(srv)
        n = p.stat()[0]
        for i in range(1, n + 1):
            p.retr(i)
        p.quit()
        took = time.monotonic() - t
        r.check(took < 15, "with no logger at all a full session completes", f"{took:.1f}s")
        r.check(not os.path.exists(srv.logs), "and nothing pretends to have written the log file")

    with Server(QUEUE_TIMEOUT_MS=200, QUEUE_DEPTH=10) as srv:
        srv.start()
        srv.logger.send_signal(signal.SIGSTOP)
        try:
            t = time.monotonic()
            p = login(srv)
            for _ in range(30):     # three times the queue depth
                p.noop()
            p.quit()
            took = time.monotonic() - t
            r.check(took < 10, "a stalled logger with a full queue does not stall the session",
                    f"{took:.1f}s for 33 commands")
        finally:
            srv.logger.send_signal(signal.SIGCONT)
        lines = srv.wait_log(lambda l: len(l) >= 8)
        cmds = commands(lines)
        r.check(cmds[:3] == ["USER", "PASS", "NOOP"] and len(cmds) >= 8,
                "what fitted in the queue lands once the logger resumes", repr(cmds[:12]))
        # the stalled session's last records may still be on their way:
        # let it finish, so they cannot land between CAPA and QUIT
        r.check(srv.wait_sessions_gone(), "the session that met the stalled logger ends")
        c = srv.raw()
        c.send(b"CAPA\r\n")
        r.check(c.line().startswith(b"+OK"), "CAPA after the logger resumed")
        c.multiline()
        c.send(b"QUIT\r\n")
        c.line()
        lines = srv.wait_log(lambda l: l and l[-1].endswith(" QUIT") and "CAPA" in commands(l))
        r.check(commands(lines)[-2:] == ["CAPA", "QUIT"], "and later sessions log normally again",
                repr(commands(lines)[-4:]))


for t in (test_logger_down_or_stalled, test_stat_list_uidl_retr, test_dele, test_in_use_and_auth, test_pipelining_long_line,
          test_idle_timeout, test_killed_sessions_remove_nothing, test_priority_override,
          test_ipv6):
    R.run(t)
R.finish()
