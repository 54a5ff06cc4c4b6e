"""Benchmark: cost of one POP3S connection, without and with a login
(yescrypt verification, STAT, RETR), with the generated ECDSA P-256
certificate and with RSA-3072.
Prints figures; asserts nothing. Run from a build tree:
    top_builddir=$PWD top_srcdir=.. python3 ../tests/bench/connections.py [N]
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from pop3test import Server  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
TICK = os.sysconf("SC_CLK_TCK")


def children_cpu(pid):
    """CPU seconds of reaped children of pid (cutime + cstime)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / TICK


def rsa_cert(srv):
    subprocess.run(["certtool", "--generate-privkey", "--key-type=rsa", "--bits=3072",
                    "--outfile", srv.key], check=True, capture_output=True)
    tmpl = srv.key + ".tmpl"
    with open(tmpl, "w") as f:
        f.write('cn = "localhost"\nexpiration_days = 30\ntls_www_server\nsigning_key\nencryption_key\n')
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey", srv.key,
                    "--template", tmpl, "--outfile", srv.cert], check=True, capture_output=True)


def run(label, prepare=None, login=True):
    with Server(AUTH_DELAY_MS=0) as srv:
        if prepare:
            prepare(srv)
        srv.start()
        user, pw = "alice", Server.USERS["alice"]
        t0 = time.monotonic()
        for _ in range(N):
            c = srv.raw()
            if login:
                c.send(f"USER {user}\r\nPASS {pw}\r\nSTAT\r\nRETR 1\r\n".encode())
                c.line(); c.line(); c.line(); c.line(); c.multiline()
            c.send(b"QUIT\r\n")
            c.line()
            c.closed()
            c.close()
        wall = time.monotonic() - t0
        srv.wait_sessions_gone()
        time.sleep(0.2)
        cpu = children_cpu(srv.activator.pid)
        print(f"{label:18s} {N} sequential sessions: {N / wall:7.1f} sessions/s, "
              f"{wall / N * 1e3:6.2f} ms wall and {cpu / N * 1e3:6.2f} ms server CPU per session")


print("pop3s connection benchmark")
print("handshake + greeting + QUIT (start-up cost of one session process):")
run("  ECDSA P-256", login=False)
run("  RSA-3072", rsa_cert, login=False)
print("handshake + USER/PASS (yescrypt) + STAT + RETR 1 + QUIT:")
run("  ECDSA P-256")
