"""A session opens only what it serves from: no name service (NSS), time
zone, locale or libsystemd files, which would be paid at every connection
(DESIGN.md, "Starting a session"). Full sessions (TLS, USER/PASS, STAT,
RETR, QUIT), with the logger and with the journal fallback, run under
strace; the trace must show the config, users file and mailbox opened and
none of the files below."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import SESSION, Results, Server, skip  # noqa: E402

FORBIDDEN = ("/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/shadow", "/etc/hosts",
             "/etc/host.conf", "/etc/resolv.conf", "/etc/gai.conf", "/etc/localtime",
             "/usr/share/zoneinfo", "/usr/lib/locale", "/gconv/", "libnss_", "libsystemd")

if shutil.which("strace") is None:
    skip("strace is not installed (packaging/build-deps.sh)")
if subprocess.run(["strace", "-f", "-o", "/dev/null", "true"], capture_output=True).returncode != 0:
    skip("strace cannot trace here (no ptrace)")

R = Results("session_files")


def traced_session(srv, trace, login=True):
    """One session under strace -f (opens and execs), the way
    systemd-socket-activate starts it: strace -D leaves the session its
    pid, which LISTEN_PID names. Returns the trace's lines."""
    env = dict(os.environ)
    # LeakSanitizer cannot run under ptrace; the other checks stay on.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    p = subprocess.Popen(["systemd-socket-activate", "--accept", "-l", f"127.0.0.1:{srv.port}",
                          "strace", "-D", "-f", "-qq", "-e", "trace=open,openat,openat2,execve",
                          "-o", trace, SESSION, "-c", srv.conf],
                         env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    srv.procs.append(p)
    line = p.stderr.readline().decode()
    if "Listening" not in line:
        raise RuntimeError(f"systemd-socket-activate did not start: {line}")
    c = srv.poplib()
    if login:
        c.user("alice")
        c.pass_(Server.USERS["alice"])
        count, _ = c.stat()
        R.check(count > 0, "the traced session logs in and sees the mailbox", str(count))
        c.retr(1)
    c.quit()
    # The detached tracer writes the trace until the session has exited.
    end = time.time() + 20
    text = ""
    while time.time() < end:
        with open(trace) as f:
            text = f.read()
        if "+++ exited with" in text or "exited with" in text:
            break
        time.sleep(0.05)
    os.killpg(p.pid, 15)
    p.wait(timeout=10)
    return text.splitlines()


def check_trace(lines, srv, what):
    opens = [l for l in lines if "open" in l]
    R.check(any(srv.conf in l for l in opens) and any(srv.settings["CERT"] in l for l in opens),
            f"{what}: the trace shows the session opening its config and certificate",
            "\n".join(lines[-20:]))
    bad = [l for l in lines if any(f in l for f in FORBIDDEN)]
    R.check(not bad, f"{what}: no NSS, time zone, locale or libsystemd file opened",
            "\n".join(bad[:10]))
    return opens


def test_with_logger(R):
    with Server(AUTH_DELAY_MS=0) as srv:
        srv.start_logger()
        lines = traced_session(srv, os.path.join(srv.dir, "trace"))
        opens = check_trace(lines, srv, "full session")
        R.check(any(srv.settings["USERS"] in l for l in opens)
                and any(srv.home in l or "cur" in l for l in opens),
                "full session: the trace shows the users file and the mailbox opened")


def test_journal_fallback(R):
    # No logger: every record goes to the journal fallback.
    with Server(AUTH_DELAY_MS=0, QUEUE_TIMEOUT_MS=10) as srv:
        lines = traced_session(srv, os.path.join(srv.dir, "trace"))
        check_trace(lines, srv, "session logging to the journal")


R.run(test_with_logger)
R.run(test_journal_fallback)
R.finish()
