"""The private key can reach an unprivileged session as its standard input
(StandardInput=file:KEY in pop3s@.service), so the key file itself stays
readable by root only: a session running as nobody completes a handshake
only when systemd (here: the test) opened the key for it."""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import SESSION, Results, free_port, make_cert, mq_unlink, skip  # noqa: E402

R = Results("key-stdin")
if os.geteuid() != 0:
    skip("needs root to run the session as another user")
if subprocess.run(["setpriv", "--version"], capture_output=True).returncode != 0:
    skip("setpriv (util-linux) is not installed")

d = tempfile.mkdtemp(prefix="pop3s-key.")
os.chmod(d, 0o755)
cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
make_cert(cert, key)
os.chmod(cert, 0o644)
os.chmod(key, 0o600)
queue = f"/pop3s-key-{os.getpid()}"
conf = os.path.join(d, "pop3s.conf")
with open(conf, "w") as f:
    f.write(f"CERT={cert}\nKEY={key}\nHOME={d}\nUSERS={d}/users\nLOGS={d}/log\nQUEUE={queue}\n"
            "HANDSHAKE_TIMEOUT=5\n")
os.chmod(conf, 0o644)


def serve(stdin):
    """Sessions as user nobody, one per connection; returns the activator."""
    port = free_port()
    p = subprocess.Popen(["systemd-socket-activate", "--accept", "-l", f"127.0.0.1:{port}",
                          "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          SESSION, "-c", conf],
                         stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    p.stderr.readline()
    return p, port


def greeting(port):
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                line = t.recv(512)
                t.sendall(b"QUIT\r\n")
                return line
    except (OSError, ssl.SSLError) as e:
        return repr(e).encode()


def stop(p):
    os.killpg(p.pid, 15)
    p.wait(timeout=10)
    time.sleep(0.3)
    return p.stderr.read().decode(errors="replace")


try:
    with open(key, "rb") as k:
        p, port = serve(k)
        first = greeting(port)
        second = greeting(port)
        err = stop(p)
    R.check(first.startswith(b"+OK") and second.startswith(b"+OK"),
            "a session as nobody gets the root-only key on standard input", f"{first!r} {err}")

    p, port = serve(subprocess.DEVNULL)
    line = greeting(port)
    err = stop(p)
    R.check(not line.startswith(b"+OK") and "Permission denied" in err and key in err,
            "without it the session cannot read the key and says which file", f"{line!r} {err}")

    with open(cert, "rb") as other:
        p, port = serve(other)
        line = greeting(port)
        err = stop(p)
    R.check(not line.startswith(b"+OK") and "Permission denied" in err,
            "another file on standard input is not taken for the key", f"{line!r} {err}")
finally:
    mq_unlink(queue)
    subprocess.run(["rm", "-rf", d])
R.finish()
