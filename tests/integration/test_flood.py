"""Log and journal floods over real TLS against the real pop3s-session and
pop3s-logger: 100,000 bad commands end the session after MAX_BAD_COMMANDS
with one final -ERR; 100,000 valid commands leave at most MAX_LOG_RECORDS
lines in the log file; a logged-in session gets 5 more records per
message, so reading a mailbox is never cut short; forged queue records do
not pin the metrics; logrotate rotates by size. Prints the figures."""
import os
import subprocess
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import Results, Server  # noqa: E402

R = Results("flood")
FLOOD = 100000


def log_size(srv):
    try:
        return os.path.getsize(srv.logs)
    except FileNotFoundError:
        return 0


def flood(c, line, count, chunk=1000):
    """Sends count copies of line, chunk at a time, reading each chunk's
    replies before sending the next, then QUIT; stops when the server
    closes. (One TLS socket must not be written and read from two threads
    at once: OpenSSL's state is shared, and that raced.) Returns (reply
    lines, seconds, octets sent)."""
    replies, sent = [], 0
    t0 = time.monotonic()
    c.sock.settimeout(60)
    try:
        for _ in range(count // chunk):
            c.sock.sendall(line * chunk)
            sent += len(line) * chunk
            for _ in range(chunk):
                replies.append(c.line())
        c.sock.sendall(b"QUIT\r\n")
        replies.append(c.line())
    except (EOFError, OSError, ssl.SSLError):
        pass   # the server closed the connection: the point of the test
    took = time.monotonic() - t0
    c.close()
    return replies, took, sent


def wait_settled(srv, want, timeout=15):
    """Log lines once there are at least want, and no more arrive."""
    lines = srv.log_lines(want, timeout=timeout)
    while True:
        time.sleep(0.5)
        again = srv.log_lines()
        if len(again) == len(lines):
            return lines
        lines = again


def test_bad_command_flood(r):
    with Server().start() as srv:
        before, size0 = len(srv.log_lines()), log_size(srv)
        c = srv.raw()
        replies, took, sent = flood(c, b"XYZZY\r\n", FLOOD)
        r.check(replies[:19] == [b"-ERR Unknown command"] * 19,
                "the first 19 bad commands get their usual answer", repr(replies[:3]))
        r.check(replies[19:] == [b"-ERR Too many bad commands, closing connection"],
                "the 20th gets one final -ERR, then nothing", repr(replies[17:23]))
        r.check(srv.wait_sessions_gone(), "the session has ended")
        lines = wait_settled(srv, before + 20)[before:]
        grown = log_size(srv) - size0
        r.check(len(lines) == 20 and all(l.endswith(" XYZZY") for l in lines),
                "the log file grew by 20 lines", f"{len(lines)} lines: {lines[:2]} ... {lines[-2:]}")
        r.check(grown <= 20 * 40, "and by at most 800 octets", f"{grown} octets")
        print(f"# {FLOOD} bad commands ({sent} octets written by the client): closed after "
              f"{len(replies)} replies in {took:.2f} s; log file +{len(lines)} lines, +{grown} octets",
              flush=True)


def test_valid_command_flood(r):
    """USER is valid any number of times: the session goes on, the log stops."""
    with Server().start() as srv:
        before, size0 = len(srv.log_lines()), log_size(srv)
        c = srv.raw()
        replies, took, sent = flood(c, b"USER alice\r\n", FLOOD)
        r.check(len(replies) == FLOOD + 1 and replies[-1] == b"+OK Logging out",
                "every USER answered, then QUIT", f"{len(replies)} replies, last {replies[-1:]}")
        r.check(srv.wait_sessions_gone(), "the session has ended")
        lines = wait_settled(srv, before + 101)[before:]
        grown = log_size(srv) - size0
        r.check(len(lines) == 101 and all(l.endswith(" USER") for l in lines[:100])
                and lines[100].endswith(" LOG-LIMIT"),
                "the log file grew by MAX_LOG_RECORDS=100 lines and one LOG-LIMIT line",
                f"{len(lines)} lines, last {lines[-2:]}")
        r.check(grown <= 101 * 40, "and by at most 4,040 octets", f"{grown} octets")
        print(f"# {FLOOD} USER commands + QUIT in {took:.2f} s: log file +{len(lines)} lines, "
              f"+{grown} octets", flush=True)


def test_mailbox_allowance(r):
    """MAX_LOG_RECORDS=10: reading every message of the mailbox one by one is
    logged in full; the limit applies to what comes after."""
    with Server(MAX_LOG_RECORDS=10).start() as srv:
        k = len(srv.messages("alice"))
        before = len(srv.log_lines())
        c = srv.raw()
        c.cmd("USER alice")
        r.check(c.cmd("PASS " + Server.USERS["alice"]).startswith(b"+OK"), "logged in")
        for n in range(1, k + 1):
            for cmd, multi in ((f"LIST {n}", False), (f"UIDL {n}", False), (f"TOP {n} 0", True),
                               (f"RETR {n}", True)):
                reply = c.cmd(cmd)
                if multi and reply.startswith(b"+OK"):
                    c.multiline()
        noops = [c.cmd("NOOP") for _ in range(50)]
        r.check(noops == [b"+OK Still here"] * 50, "the session goes on past the limit")
        r.check(c.cmd("QUIT").startswith(b"+OK"), "QUIT")
        c.close()
        limit = 10 + 5 * k
        lines = wait_settled(srv, before + limit + 1)[before:]
        cmds = [l.split(" ", 2)[2] for l in lines]
        want = ["USER", "PASS"] + ["LIST", "UIDL", "TOP", "RETR"] * k
        want += ["NOOP"] * (limit - len(want)) + ["LOG-LIMIT"]
        r.check(cmds == want, f"{limit} command lines ({k} messages: 10 + 5 x {k}), then LOG-LIMIT",
                f"{len(cmds)} lines: {cmds[-4:]}")


def test_forged_records(r):
    """Issue 8: records forged into the real queue (any process in group
    pop3s can) do not make sessions current nor wrap counters."""
    import logrec_wire as wire
    with Server().start() as srv:
        q = wire.MessageQueue(srv.queue)
        # Live processes that are no session and cannot become one (other
        # tests running beside this one fork processes that exec
        # pop3s-session later): children of this test, itself, the logger.
        sleepers = [subprocess.Popen(["sleep", "120"]) for _ in range(32)]
        pids = [p.pid for p in sleepers] + [os.getpid(), srv.procs[0].pid]
        pids += [0, 1, 2 ** 31, 2 ** 32 - 1, 4194305]
        sent = 0
        for pid in pids:
            for i in range(4):
                q.send(wire.encode(wire.CONNECT, pid=pid, session=f"forged{pid}x{i}"))
                sent += 1
        q.send(wire.encode(wire.DISCONNECT, pid=pids[0], session="x", sent=2 ** 64 - 1))
        q.send(wire.encode(wire.UPDATE, pid=pids[0], session="x", removed=2 ** 64 - 1))
        q.close()
        m = srv.wait_metrics(lambda m: m.get("records_malformed") == 2)
        r.check(m.get("connections") == sent and m.get("sessions_current") == 0
                and m.get("sessions_peak") == 0,
                f"{sent} forged CONNECTs from {len(pids)} pids that are no session: none current",
                repr(m))
        r.check(m.get("bytes_sent") == 0 and m.get("messages_deleted") == 0
                and m.get("records_malformed") == 2,
                "forged 2^64-1 byte and deletion counts are not added", repr(m))
        p = srv.poplib()
        m = srv.wait_metrics(lambda m: m.get("sessions_current") == 1)
        r.check(m.get("sessions_current") == 1, "a real session is current", repr(m))
        p.quit()
        m = srv.wait_metrics(lambda m: m.get("sessions_current") == 0)
        r.check(m.get("sessions_current") == 0 and m.get("sessions_peak") == 1,
                "and ends", repr(m))
        print(f"# {sent} forged CONNECT records: sessions_current {m.get('sessions_current')}, "
              f"peak {m.get('sessions_peak')}", flush=True)
        for p in sleepers:
            p.kill()
            p.wait()


def test_logrotate_maxsize(r):
    """packaging/logrotate.d/pop3s rotates by size too, as logrotate reads it."""
    import shutil
    import subprocess
    import tempfile
    from pop3test import TOP_SRCDIR
    if not r.check(shutil.which("logrotate") is not None, "logrotate is installed",
                   "packaging/build-deps.sh installs it"):
        return
    d = tempfile.mkdtemp(prefix="pop3s-logrotate.")
    try:
        log = os.path.join(d, "pop3s.log")
        with open(os.path.join(TOP_SRCDIR, "packaging", "logrotate.d", "pop3s")) as f:
            conf = f.read()
        # the shipped file, on a test path, without su and the reload
        conf = conf.replace("/var/log/pop3s/pop3s.log", log)
        conf = "\n".join(l for l in conf.splitlines() if not l.strip().startswith("su "))
        conf = conf.replace("systemctl reload pop3s-logger.service", "true")
        with open(os.path.join(d, "conf"), "w") as f:
            f.write(conf)
        state = os.path.join(d, "state")
        # logrotate remembers when it last rotated: a weekly rule is not due
        # right after the first run, so only the size can rotate the file
        with open(log, "wb") as f:
            f.write(b"1731570447 194.10.15.3 USER\n")
        p = subprocess.run(["logrotate", "-s", state, os.path.join(d, "conf")], capture_output=True)
        r.check(p.returncode == 0, "logrotate accepts the shipped file", p.stderr.decode()[-300:])
        with open(log, "ab") as f:
            f.truncate(101 * 1024 * 1024)
        p = subprocess.run(["logrotate", "-s", state, os.path.join(d, "conf")], capture_output=True)
        r.check(os.path.exists(log + ".1") and not os.path.exists(log),
                "a 101 MiB log is rotated before its week is over", repr(sorted(os.listdir(d))))
    finally:
        shutil.rmtree(d, ignore_errors=True)


for t in (test_bad_command_flood, test_valid_command_flood, test_mailbox_allowance,
          test_forged_records, test_logrotate_maxsize):
    R.run(t)
R.finish()
