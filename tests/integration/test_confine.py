"""The confinement of real sessions: pop3s-session -T under
systemd-socket-activate --accept (the same start-up as a served connection,
then probes of what the confined process can do, reported on the
connection), with and without FILTER=, a probe that must fail, and a full
session that works confined (NoNewPrivs and seccomp seen in /proc)."""
import ctypes
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import SESSION, Results, Server  # noqa: E402

R = Results("confine")
PW = Server.USERS["alice"]


def landlock_abi():
    """The running kernel's Landlock ABI, 0 if none (x86-64/arm64 number 444)."""
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint(1))
    return r if r > 0 else 0


def sanitizer_build():
    with open(SESSION, "rb") as f:
        return b"__asan_init" in f.read()


def probe(srv):
    """Runs one `pop3s-session -T` connection; returns (exit code, lines)."""
    srv.start_sessions(args=["-T"])
    data = b""
    with socket.create_connection((srv.host, srv.port), timeout=20) as s:
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
    code = None
    end = time.time() + 10
    while code is None and time.time() < end:
        for l in srv.stderr_lines:
            m = re.search(r"Child \d+ died with code (\d+)", l)
            if m:
                code = int(m.group(1))
        time.sleep(0.05)
    return code, data.decode().split("\n")


def probe_files():
    return {n for n in os.listdir("/tmp") if n.startswith("pop3s-probe.")}


def parse(lines):
    """{probe name: outcome text}, the CONFINEMENT line, the PROBE-END line."""
    probes, head, end = {}, None, None
    for l in lines:
        if l.startswith("CONFINEMENT "):
            head = l
        elif l.startswith("PROBE-END "):
            end = l
        elif l.startswith("PROBE "):
            name, outcome = l[len("PROBE "):].split(": ", 1)
            probes[name] = outcome
    return head, probes, end


DENIED_EACCES = "denied (Permission denied)"
DENIED_EPERM = "denied (Operation not permitted)"


def check_ptrace(r, probes):
    if sanitizer_build():
        r.check(probes.get("ptrace") in (DENIED_EPERM, "allowed (sanitizer build)"),
                "ptrace: denied, or allowed in this sanitizer build", probes.get("ptrace"))
    else:
        r.check(probes.get("ptrace") == DENIED_EPERM, "ptrace is denied (seccomp)",
                probes.get("ptrace"))


def test_probe_default(r):
    abi = landlock_abi()
    before = probe_files()
    with Server() as srv:
        srv.start_logger()
        code, lines = probe(srv)
        head, probes, end = parse(lines)
        r.check(head == f"CONFINEMENT landlock={abi or 'off'} seccomp=on no_new_privs=on",
                "the CONFINEMENT line names the kernel's Landlock ABI, seccomp and no_new_privs",
                head)
        if abi == 0:
            r.check(False, "this kernel has no Landlock: the file-system probes cannot pass")
            return
        want = {
            "read_shadow": DENIED_EACCES, "read_outside": DENIED_EACCES,
            "write_outside": DENIED_EACCES, "mkdir_outside": DENIED_EACCES,
            "socket_inet": DENIED_EPERM, "socket_unix": DENIED_EPERM, "exec": DENIED_EPERM,
            "home_write": "allowed", "home_read": "allowed",
        }
        for name, outcome in want.items():
            r.check(probes.get(name) == outcome, f"{name}: {outcome}", probes.get(name))
        check_ptrace(r, probes)
        r.check(set(probes) == set(want) | {"ptrace"}, "no other probe", sorted(probes))
        r.check(end == "PROBE-END ok" and code == 0, "PROBE-END ok, exit status 0",
                f"{end!r} code={code}")
        r.check(probe_files() == before, "nothing was left in /tmp", probe_files() - before)
        r.check(not [n for n in os.listdir(srv.home) if n.startswith(".pop3s-probe")],
                "the HOME probe file was removed")


def test_probe_filter(r):
    if landlock_abi() == 0:
        return
    before = probe_files()
    with Server(FILTER="/usr/bin/sed 1iX-Spam:\\x20no") as srv:
        srv.start_logger()
        code, lines = probe(srv)
        head, probes, end = parse(lines)
        widened = "allowed (FILTER= widening)"
        r.check(probes.get("exec") == widened, "FILTER=: exec is allowed, as documented",
                probes.get("exec"))
        r.check(probes.get("read_outside") == widened, "FILTER=: /etc is readable",
                probes.get("read_outside"))
        r.check(probes.get("socket_inet") == DENIED_EPERM and probes.get("socket_unix") == DENIED_EPERM,
                "FILTER=: sockets stay denied", f"{probes.get('socket_inet')} {probes.get('socket_unix')}")
        check_ptrace(r, probes)
        r.check(end == "PROBE-END ok" and code == 0, "FILTER=: PROBE-END ok, exit status 0",
                f"{end!r} code={code}")
        r.check(probe_files() == before, "FILTER=: the probe removed what it made in /tmp",
                probe_files() - before)


def test_probe_reports_failure(r):
    """HOME missing: the positive controls fail, and -T says so."""
    with Server() as srv:
        srv.start_logger()
        with open(srv.conf) as f:
            conf = f.read()
        with open(srv.conf, "w") as f:
            f.write(conf.replace(f"HOME={srv.home}", f"HOME={srv.home}-missing"))
        code, lines = probe(srv)
        _, probes, end = parse(lines)
        r.check(probes.get("home_write", "").startswith("denied") and
                probes.get("home_read", "").startswith("denied"),
                "without HOME the home probes are denied", f"{probes}")
        r.check(end == "PROBE-END failed 2" and code == 1, "PROBE-END failed 2, exit status 1",
                f"{end!r} code={code}")


def test_landlock_key(r):
    with Server(LANDLOCK="required") as srv:
        srv.start_logger()
        code, lines = probe(srv)
        _, _, end = parse(lines)
        if landlock_abi() > 0:
            r.check(end == "PROBE-END ok" and code == 0, "LANDLOCK=required on a kernel with it: served",
                    f"{end!r} code={code}")
        else:
            r.check(code == 1 and any("LANDLOCK=required" in l for l in srv.stderr_lines),
                    "LANDLOCK=required on a kernel without it: refused", f"code={code}")
    with Server(LANDLOCK="maybe") as srv:
        rc = subprocess.run([SESSION, "-n", "-c", srv.conf], capture_output=True, text=True)
        r.check(rc.returncode == 1 and "LANDLOCK: 'maybe' is not one of auto/required" in rc.stderr,
                "LANDLOCK=maybe is a configuration error", rc.stderr)


def test_full_session_confined(r):
    with Server() as srv:
        srv.start()
        p = srv.poplib()
        p.user("alice")
        p.pass_(PW)
        pids = srv.session_pids()
        status = ""
        if pids:
            with open(f"/proc/{pids[0]}/status") as f:
                status = f.read()
        r.check("NoNewPrivs:\t1" in status and re.search(r"Seccomp:\t2", status),
                "a serving session has no_new_privs and a seccomp filter",
                "\n".join(l for l in status.splitlines() if l.startswith(("NoNewPrivs", "Seccomp"))))
        count, _ = p.stat()
        before = srv.messages("alice")
        _, lines, _ = p.retr(1)
        r.check(len(lines) > 0, "RETR works confined")
        _, lines, _ = p.top(1, 0)
        r.check(len(lines) > 0, "TOP works confined")
        r.check(len(p.uidl()[1]) == count, "UIDL works confined")
        p.dele(1)
        resp = p.quit()
        r.check(resp.startswith(b"+OK") and b"1 message removed" in resp, "DELE + QUIT removes the message",
                resp)
        r.check(len(srv.messages("alice")) == len(before) - 1, "one message file fewer")


def test_other_mailbox_after_login(r):
    """After login the session is narrowed to the user's own mailbox
    (confine_mailbox): a message filter, which runs inside the session's
    confinement, tries to read another user's mail and to list HOME."""
    if not landlock_abi():
        r.check(False, "this kernel has no Landlock: the mailbox layer cannot be shown")
        return
    tmp = tempfile.mkdtemp(prefix="pop3s-peek.")
    peek = os.path.join(tmp, "peek.sh")
    with Server(FILTER=peek) as srv:
        loot = os.path.join(srv.home, "bob", "0001-lunch")
        with open(peek, "w") as f:
            f.write("#!/bin/sh\n"
                    f"if cat {loot} >/dev/null 2>&1; then b=readable; else b=denied; fi\n"
                    f"if ls {srv.home} >/dev/null 2>&1; then h=listable; else h=denied; fi\n"
                    f"if touch {srv.home}/planted 2>/dev/null; then w=written; else w=denied; fi\n"
                    "echo \"X-Peek: bob=$b home=$h write=$w\"\n"
                    "exec cat\n")
        os.chmod(peek, 0o755)
        r.check(os.path.isfile(loot), "bob has mail to steal")
        # The filter's spool (read-write for it) must not contain HOME, as
        # /tmp would here.
        spool = os.path.join(srv.dir, "spool")
        os.mkdir(spool)
        srv.start(env={"TMPDIR": spool})
        p = srv.poplib()
        p.user("alice")
        p.pass_(PW)
        _, lines, _ = p.retr(1)
        p.quit()
        peeked = [l for l in lines if l.startswith(b"X-Peek:")]
        r.check(peeked == [b"X-Peek: bob=denied home=denied write=denied"],
                "logged in as alice: bob's mail, listing HOME and writing to HOME are all denied",
                peeked or lines[:3])
        r.check(not os.path.exists(os.path.join(srv.home, "planted")), "nothing planted in HOME")
    shutil.rmtree(tmp)


for t in (test_probe_default, test_probe_filter, test_probe_reports_failure, test_landlock_key,
          test_full_session_confined, test_other_mailbox_after_login):
    R.run(t)
R.finish()
