"""Both programs refuse a bad configuration with one line naming the file,
the line and the problem, and a non-zero exit, so the unit fails visibly."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import LOGGER, SESSION, Results, make_cert, skip  # noqa: E402

R = Results("config")
for prog in (SESSION, LOGGER):
    if not os.access(prog, os.X_OK):
        skip(f"{prog} is not built")

d = tempfile.mkdtemp(prefix="pop3s-conf.")
cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
make_cert(cert, key)
cert2, key2 = os.path.join(d, "cert2.pem"), os.path.join(d, "key2.pem")
make_cert(cert2, key2)
notcert = os.path.join(d, "garbage.pem")
with open(notcert, "w") as f:
    f.write("this is not a certificate\n")
unreadable = os.path.join(d, "unreadable.pem")
os.symlink(os.path.join(d, "no", "such", "dir"), unreadable)


def conf(text):
    path = os.path.join(d, "pop3s.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def run(prog, path):
    p = subprocess.run([prog, "-n", "-c", path], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr.strip(), p.stdout


GOOD = f"# pop3s\nCERT={cert}\nKEY={key}\nQUEUE=/pop3s-conf-test\n"

# (config text, programs it applies to, regexp the one error line must match)
rows = [
    ("FOO=bar\n", (SESSION, LOGGER), r":1: unknown key 'FOO'$"),
    ("# x\nTIMEOUT=ten\n", (SESSION, LOGGER), r":2: TIMEOUT: 'ten' is not a number$"),
    ("TIMEOUT=0\n", (SESSION, LOGGER), r":1: TIMEOUT: 0 is out of range"),
    ("HOME=/a\nHOME=/b\n", (SESSION, LOGGER), r":2: duplicate key HOME \(first set on line 1\)$"),
    ("LOGS\n", (SESSION, LOGGER), r":1: expected KEY=VALUE"),
    (f"CERT={d}/missing.pem\nKEY={key}\n", (SESSION,), r":1: .*missing\.pem.*No such file or directory"),
    (f"# c\nCERT={unreadable}\nKEY={key}\n", (SESSION,), r":2: .*unreadable\.pem"),
    (f"CERT={notcert}\nKEY={key}\n", (SESSION,), r":1: .*garbage\.pem"),
    (f"CERT={cert}\nKEY={d}/nokey.pem\n", (SESSION,), r":2: .*nokey\.pem.*No such file or directory"),
    (f"CERT={cert}\n\nKEY={key2}\n", (SESSION,), r":3: .*does not match"),
    (GOOD + "PRIORITY=NORMAL:+BOGUS-THING\n", (SESSION,), r":5: .*PRIORITY"),
]

for text, progs, pat in rows:
    path = conf(text)
    for prog in progs:
        rc, err, _ = run(prog, path)
        name = os.path.basename(prog)
        R.check(rc == 1, f"{name} refuses {text.strip()!r} with exit 1", f"exit {rc}")
        lines = err.splitlines()
        # "PROGRAM: FILE:LINE: problem", the program name being optional
        R.check(len(lines) == 1 and re.match(r"^(pop3s-\w+: )?" + re.escape(path) + ":", lines[0])
                and re.search(pat, lines[0]),
                f"{name}: one line naming file, line and problem for {text.strip()!r}", err)

rc, err, _ = run(SESSION, os.path.join(d, "absent.conf"))
R.check(rc != 0 and "absent.conf: cannot open: No such file or directory" in err,
        "a missing config file is an error", err)

path = conf(GOOD)
rc, err, out = run(SESSION, path)
R.check(rc == 0 and f"CERT={cert}" in out and "TIMEOUT=600" in out,
        "pop3s-session -n accepts a good config and prints it", err)
rc, err, out = run(LOGGER, path)
R.check(rc == 0 and "QUEUE=/pop3s-conf-test" in out, "pop3s-logger -n accepts a good config", err)

# Run without a connection: a clear error, never a listen() of its own.
p = subprocess.run([SESSION, "-c", path], capture_output=True, text=True, timeout=30,
                   stdin=subprocess.DEVNULL)
R.check(p.returncode != 0 and "no connection" in p.stderr, "pop3s-session without a socket says so",
        p.stderr)


def activated(sock, nfds="1"):
    """pop3s-session with sock as fd 3 (and 4) and LISTEN_PID/LISTEN_FDS
    naming it, as systemd passes sockets (sh execs the session in place,
    keeping its pid). Returns (exit status, stderr)."""

    def pass_sock():
        os.dup2(sock.fileno(), 3)
        os.dup2(sock.fileno(), 4)

    argv = ["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=$0 exec "$@"', nfds, SESSION, "-c", path]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                       pass_fds=[3, 4], preexec_fn=pass_sock)
    return p.returncode, p.stderr


# A listening socket passed (Accept=no): refused, not served.
import socket  # noqa: E402
lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lsock.bind(("127.0.0.1", 0))
lsock.listen()
rc, err = activated(lsock)
R.check(rc == 1 and "fd 3 is not a connected stream socket (the socket unit needs Accept=yes)" in err,
        "a listening socket from systemd is refused (Accept=no)", err)
# A datagram socket is not a connection either.
dsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rc, err = activated(dsock)
R.check(rc == 1 and "fd 3 is not a connected stream socket" in err, "a datagram socket is refused", err)
# Two sockets: the socket unit is not Accept=yes.
rc, err = activated(lsock, "2")
R.check(rc == 1 and "got 2 sockets from systemd, expected 1" in err, "two passed sockets are refused", err)
# A malformed LISTEN_FDS is reported, not taken for "no socket".
rc, err = activated(lsock, "1x")
R.check(rc == 1 and "sd_listen_fds: Invalid argument" in err, "a malformed LISTEN_FDS is an error", err)
lsock.close()
dsock.close()

p = subprocess.run([SESSION, "-x"], capture_output=True, text=True, timeout=30)
R.check(p.returncode != 0 and "usage" in p.stderr.lower(), "unknown option prints usage", p.stderr)

subprocess.run(["rm", "-rf", d])
R.finish()
