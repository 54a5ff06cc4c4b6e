#!/usr/bin/env python3
"""TLS layer of pop3s-session, end to end: real GnuTLS server processes
started per connection by systemd-socket-activate --accept, Python's ssl
(OpenSSL) as the client.

Checks protocol versions, cipher suites, key exchange, ALPN (RFC 9325
section 3.8), clients that do not speak TLS or say nothing, and the
configuration check (-n) for certificate, key and priority errors. Relies
only on the TLS layer and a greeting that starts with "+OK".

Run by `make check` with top_srcdir and top_builddir in the environment.
Exit status 0 pass, 1 fail, 77 skip; prints one line per check and
finally "N passed, M failed".
"""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

# TLSv1 and TLSv1_1 are deprecated in ssl; using them is the point here.
warnings.filterwarnings("ignore", category=DeprecationWarning)

TOP_SRCDIR = os.path.abspath(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
TOP_BUILDDIR = os.path.abspath(os.environ.get("top_builddir", TOP_SRCDIR))
SESSION = os.path.join(TOP_BUILDDIR, "src", "session", "pop3s-session")

PASSED = 0
FAILED = 0


def check(cond, what, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"ok - {what}", flush=True)
    else:
        FAILED += 1
        print(f"not ok - {what}" + (f": {detail}" if detail else ""), flush=True)
    return cond


def skip_row(what, why):
    print(f"skip - {what}: {why}", flush=True)


def skip_all(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(77)


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60, check=False, **kw)


def make_cert(cert, key, kind="ecdsa"):
    """Self-signed certificate for localhost / 127.0.0.1: ECDSA P-256 by
    default, RSA 2048 for the key exchange checks. certtool (gnutls-bin),
    else openssl."""
    d = os.path.dirname(cert)
    if shutil.which("certtool"):
        tmpl = os.path.join(d, f"{kind}.tmpl")
        with open(tmpl, "w") as f:
            f.write("cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\n"
                    "expiration_days = 2\nsigning_key\nencryption_key\ntls_www_server\n")
        if kind == "ecdsa":
            gen = ["certtool", "--generate-privkey", "--key-type=ecdsa",
                   "--curve=secp256r1", "--outfile", key]
        else:
            gen = ["certtool", "--generate-privkey", "--key-type=rsa",
                   "--bits=2048", "--outfile", key]
        for cmd in (gen, ["certtool", "--generate-self-signed", "--load-privkey", key,
                          "--template", tmpl, "--outfile", cert]):
            r = run(cmd)
            if r.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    elif shutil.which("openssl"):
        newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
                  if kind == "ecdsa" else ["-newkey", "rsa:2048"])
        r = run(["openssl", "req", "-x509", *newkey, "-nodes", "-days", "2",
                 "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                 "-keyout", key, "-out", cert])
        if r.returncode != 0:
            raise RuntimeError(f"openssl req: {r.stderr.strip()}")
    else:
        skip_all("neither certtool (gnutls-bin) nor openssl is installed")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_conf(path, settings):
    """KEY=VALUE lines; returns {key: line number}."""
    lines = {}
    with open(path, "w") as f:
        f.write("# pop3s test configuration\n")
        n = 1
        for k, v in settings.items():
            n += 1
            f.write(f"{k}={v}\n")
            lines[k] = n
    return lines


class Server:
    """systemd-socket-activate --accept running pop3s-session on a port."""

    def __init__(self, tmp, name, cert, key, **extra):
        self.dir = os.path.join(tmp, name)
        os.mkdir(self.dir)
        self.cert = cert
        self.conf = os.path.join(self.dir, "pop3s.conf")
        os.mkdir(os.path.join(self.dir, "mail"))
        with open(os.path.join(self.dir, "users"), "w") as f:
            f.write("# no users: only the TLS layer is tested here\n")
        settings = {
            "HOME": os.path.join(self.dir, "mail"),
            "USERS": os.path.join(self.dir, "users"),
            "LOGS": os.path.join(self.dir, "pop3s.log"),
            "CERT": cert,
            "KEY": key,
            # no logger runs: records fall back to the journal, quickly
            "QUEUE": f"/pop3s-tls-test-{os.getpid()}-{name}",
            "QUEUE_TIMEOUT_MS": "0",
            "TIMEOUT": "30",
            "HANDSHAKE_TIMEOUT": "2",
        }
        settings.update(extra)
        write_conf(self.conf, settings)
        self.port = free_port()
        self.log = os.path.join(self.dir, "activate.log")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(
            ["systemd-socket-activate", "--accept", "-l", f"127.0.0.1:{self.port}",
             SESSION, "-c", self.conf],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 10
        while "Listening on" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"systemd-socket-activate did not start:\n{self.text()}")
            time.sleep(0.05)

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def exits(self):
        """Exit codes of the session processes so far, in order."""
        return [int(c) for c in re.findall(r"died with code (\d+)", self.text())]

    def wait_exits(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.exits()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.exits()

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.logf.close()


def client_ctx(cafile, minimum=None, maximum=None, ciphers=None, alpn=None):
    """A verifying client context; raises for settings this OpenSSL refuses."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def read_line(sock, timeout=5):
    sock.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\r\n") and len(buf) < 512:
        chunk = sock.recv(512)
        if not chunk:
            break
        buf += chunk
    return buf


def tls_greeting(srv, ctx):
    """Handshake and read the first line. Returns (tls socket info, line)."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            line = read_line(t)
            return (t.version(), t.cipher()[0], t.selected_alpn_protocol()), line


def expect_refused(srv, ctx, what):
    """The server must end the handshake with an alert (so the refusal is
    the server's, not a local client error). Returns the error text."""
    try:
        info, line = tls_greeting(srv, ctx)
    except ssl.SSLError as e:
        msg = str(e)
        if "alert" in msg.lower():
            check(True, what)
        else:
            skip_row(what, f"the local OpenSSL refused before contacting the server: {msg}")
        return msg
    except OSError as e:
        check(False, what, f"connection error without a TLS alert: {e!r}")
        return str(e)
    check(False, what, f"accepted: {info} {line!r}")
    return ""


def test_versions(srv):
    info, line = tls_greeting(srv, client_ctx(srv.cert, minimum=ssl.TLSVersion.TLSv1_3))
    check(info[0] == "TLSv1.3" and line.startswith(b"+OK"), "TLS 1.3 client gets +OK greeting",
          f"{info} {line!r}")
    check(info[2] is None, "no ALPN offered: accepted, none selected", f"{info}")

    info, line = tls_greeting(srv, client_ctx(srv.cert, maximum=ssl.TLSVersion.TLSv1_2))
    check(info[0] == "TLSv1.2" and line.startswith(b"+OK"), "TLS 1.2 client gets +OK greeting",
          f"{info} {line!r}")
    check("ECDHE" in info[1] and ("GCM" in info[1] or "CHACHA20" in info[1]),
          "TLS 1.2 negotiates ECDHE with an AEAD cipher", info[1])

    for name, ver in (("TLS 1.1", ssl.TLSVersion.TLSv1_1), ("TLS 1.0", ssl.TLSVersion.TLSv1)):
        what = f"{name} client refused with protocol_version alert"
        try:
            # SECLEVEL=0 so that OpenSSL 3 still offers the old protocols
            ctx = client_ctx(srv.cert, minimum=ver, maximum=ver, ciphers="DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError) as e:
            skip_row(what, f"this OpenSSL cannot be set to {name}: {e}")
            continue
        msg = expect_refused(srv, ctx, what)
        if "alert" in msg.lower():
            check("PROTOCOL_VERSION" in msg.upper(), f"{name}: the alert is protocol_version", msg)


def test_ciphers(srv, rsa):
    tls12 = ssl.TLSVersion.TLSv1_2
    expect_refused(srv, client_ctx(srv.cert, maximum=tls12, ciphers="ECDHE-ECDSA-AES128-SHA"),
                   "TLS 1.2 client limited to CBC (ECDHE-ECDSA-AES128-SHA) refused")
    expect_refused(srv, client_ctx(srv.cert, maximum=tls12, ciphers="AES128-SHA"),
                   "TLS 1.2 client limited to AES128-SHA refused")

    # With an RSA certificate, RSA key exchange would be possible but for
    # the priority string; the ECDHE-RSA control shows the server works.
    info, line = tls_greeting(rsa, client_ctx(rsa.cert, maximum=tls12,
                                              ciphers="ECDHE-RSA-AES128-GCM-SHA256"))
    check(line.startswith(b"+OK") and info[1] == "ECDHE-RSA-AES128-GCM-SHA256",
          "RSA certificate: ECDHE-RSA-AES128-GCM-SHA256 accepted (control)", f"{info} {line!r}")
    expect_refused(rsa, client_ctx(rsa.cert, maximum=tls12, ciphers="AES128-GCM-SHA256:AES256-GCM-SHA384"),
                   "RSA key exchange only (AES128-GCM-SHA256) refused")
    expect_refused(rsa, client_ctx(rsa.cert, maximum=tls12, ciphers="ECDHE-RSA-AES128-SHA"),
                   "RSA certificate: CBC only (ECDHE-RSA-AES128-SHA) refused")


def test_alpn(srv):
    info, line = tls_greeting(srv, client_ctx(srv.cert, alpn=["pop3"]))
    check(info[2] == "pop3" and line.startswith(b"+OK"), "ALPN [pop3] accepted and selected",
          f"{info} {line!r}")
    info, line = tls_greeting(srv, client_ctx(srv.cert, alpn=["imap", "pop3"]))
    check(info[2] == "pop3" and line.startswith(b"+OK"), "ALPN [imap, pop3]: pop3 selected",
          f"{info} {line!r}")
    msg = expect_refused(srv, client_ctx(srv.cert, alpn=["http/1.1"]), "ALPN [http/1.1] refused")
    check("NO_APPLICATION_PROTOCOL" in msg.upper() or "NO APPLICATION PROTOCOL" in msg.upper(),
          "ALPN [http/1.1]: the alert is no_application_protocol", msg)
    expect_refused(srv, client_ctx(srv.cert, maximum=ssl.TLSVersion.TLSv1_2, alpn=["http/1.1"]),
                   "ALPN [http/1.1] over TLS 1.2 refused")


def read_until_eof(sock, timeout):
    """Reads until the peer closes or timeout. Returns (data, closed, secs)."""
    start = time.monotonic()
    data = b""
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            return data, False, time.monotonic() - start
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, True, time.monotonic() - start
        if not chunk:
            return data, True, time.monotonic() - start
        data += chunk


def test_not_tls(srv):
    before = len(srv.exits())
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"USER x\r\n")
        data, closed, secs = read_until_eof(s, 5)
    check(closed, "plain-text client: connection closed within 5 s", f"{secs:.1f}s")
    check(b"+OK" not in data, "plain-text client: no POP3 greeting", repr(data))
    exits = srv.wait_exits(before + 1)
    check(len(exits) > before and exits[before] == 0,
          "plain-text client: session process exited with status 0", f"{exits[before:]}")

    before = len(exits)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x00\x05garbage and more garbage\r\n" * 4)
        data, closed, secs = read_until_eof(s, 5)
    check(closed and b"+OK" not in data, "garbage TLS record: closed, no greeting",
          f"closed={closed} {data!r}")
    exits = srv.wait_exits(before + 1)
    check(len(exits) > before and exits[before] == 0,
          "garbage TLS record: session process exited with status 0", f"{exits[before:]}")


def test_silent_client(srv):
    before = len(srv.exits())
    with socket.create_connection(("127.0.0.1", srv.port), timeout=15) as s:
        data, closed, secs = read_until_eof(s, 12)
    check(closed and secs < 10, "silent client dropped after HANDSHAKE_TIMEOUT=2 (< 10 s)",
          f"closed={closed} after {secs:.1f}s")
    check(secs >= 1.5, "silent client: not dropped before the handshake timeout", f"{secs:.1f}s")
    exits = srv.wait_exits(before + 1)
    check(len(exits) > before and exits[before] == 0,
          "silent client: session process exited with status 0", f"{exits[before:]}")
    check("TLS handshake failed: timed out" in srv.text(),
          "silent client: handshake timeout reported on stderr")


def session_pids(srv):
    return [int(p) for p in re.findall(r"as PID (\d+)", srv.text())]


def open_session(srv):
    """A TLS connection past the greeting."""
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    t = client_ctx(srv.cert).wrap_socket(raw, server_hostname="localhost")
    line = read_line(t)
    if not line.startswith(b"+OK"):
        t.close()
        raise RuntimeError(f"no greeting: {line!r}")
    return t


def tls_read_until_eof(t, timeout):
    """Like read_until_eof, over TLS; a reset or TLS error counts as closed."""
    start = time.monotonic()
    data = b""
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            return data, False, time.monotonic() - start
        t.settimeout(left)
        try:
            chunk = t.recv(4096)
        except socket.timeout:
            continue
        except (ssl.SSLError, ConnectionResetError):
            return data, True, time.monotonic() - start
        if not chunk:
            return data, True, time.monotonic() - start
        data += chunk


def test_session_loop(short):
    """The loop around the state machine, on a server with TIMEOUT=2."""
    # QUIT: reply, then the server closes
    before = len(short.exits())
    with open_session(short) as t:
        t.sendall(b"QUIT\r\n")
        data, closed, secs = tls_read_until_eof(t, 5)
    check(data.startswith(b"+OK") and closed, "QUIT: +OK and the connection is closed",
          f"closed={closed} {data!r}")
    exits = short.wait_exits(before + 1)
    check(len(exits) > before and exits[before] == 0, "QUIT: session exited with status 0",
          f"{exits[before:]}")

    # pipelined commands are all answered, in order, in one go
    with open_session(short) as t:
        t.sendall(b"CAPA\r\nQUIT\r\n")
        data, closed, secs = tls_read_until_eof(t, 5)
    lines = data.split(b"\r\n")
    check(closed and lines[0].startswith(b"+OK") and b"." in lines
          and lines[lines.index(b".") + 1].startswith(b"+OK"),
          "pipelined CAPA and QUIT both answered, in order", repr(data))

    # idle timeout: no reply, just closed
    with open_session(short) as t:
        data, closed, secs = tls_read_until_eof(t, 12)
    check(closed and 1.5 <= secs < 10 and data == b"",
          "idle client dropped after TIMEOUT=2 without a reply",
          f"closed={closed} after {secs:.1f}s, {data!r}")

    # trickling bytes without a line end does not reset the idle timer
    with open_session(short) as t:
        start = time.monotonic()
        closed = False
        data = b""
        while time.monotonic() - start < 12 and not closed:
            try:
                t.sendall(b"N")
            except OSError:
                closed = True
                break
            d, closed, _ = tls_read_until_eof(t, 0.5)
            data += d
        secs = time.monotonic() - start
    check(closed and secs < 10, "trickling client (no line end) still times out",
          f"closed={closed} after {secs:.1f}s, {data!r}")

    # SIGTERM: the session ends at once, exit status 0
    with open_session(short) as t:
        pid = session_pids(short)[-1]
        before = len(short.exits())
        os.kill(pid, signal.SIGTERM)
        data, closed, secs = tls_read_until_eof(t, 5)
    check(closed and secs < 2, "SIGTERM: connection closed promptly",
          f"closed={closed} after {secs:.1f}s")
    exits = short.wait_exits(before + 1)
    check(len(exits) > before and exits[before] == 0, "SIGTERM: session exited with status 0",
          f"{exits[before:]}")


def test_check_mode(tmp, cert, key, other_key):
    base = {
        "HOME": os.path.join(tmp, "mail"), "USERS": os.path.join(tmp, "users"),
        "LOGS": os.path.join(tmp, "log"), "CERT": cert, "KEY": key,
    }
    conf = os.path.join(tmp, "check.conf")

    write_conf(conf, base)
    r = run([SESSION, "-n", "-c", conf])
    check(r.returncode == 0 and f"CERT={cert}" in r.stdout,
          "-n with a good configuration: exit 0 and prints it", f"{r.returncode} {r.stderr.strip()}")

    missing = os.path.join(tmp, "no-such-cert.pem")
    lines = write_conf(conf, {**base, "CERT": missing})
    r = run([SESSION, "-n", "-c", conf])
    err = r.stderr.strip()
    check(r.returncode != 0, "-n missing CERT: non-zero exit", str(r.returncode))
    check(f"{conf}:{lines['CERT']}:" in err and missing in err
          and "No such file or directory" in err and len(err.splitlines()) == 1,
          "-n missing CERT: one line naming the file, line, path and reason", err)

    lines = write_conf(conf, {**base, "KEY": other_key})
    r = run([SESSION, "-n", "-c", conf])
    err = r.stderr.strip()
    check(r.returncode != 0 and "does not match" in err and f"{conf}:{lines['KEY']}:" in err,
          "-n KEY not matching CERT: \"does not match\" with the KEY line", err)

    lines = write_conf(conf, {**base, "CERT": key})
    r = run([SESSION, "-n", "-c", conf])
    err = r.stderr.strip()
    check(r.returncode != 0 and f"{conf}:{lines['CERT']}:" in err and "certificate" in err,
          "-n CERT holding a key: not a certificate, with the CERT line", err)

    bad = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+BOGUS-THING:+AEAD"
    lines = write_conf(conf, {**base, "PRIORITY": bad})
    r = run([SESSION, "-n", "-c", conf])
    err = r.stderr.strip()
    check(r.returncode != 0 and f"{conf}:{lines['PRIORITY']}: PRIORITY" in err
          and "+BOGUS-THING" in err,
          "-n bad PRIORITY: names the PRIORITY line and the offending element", err)


def main():
    if not os.access(SESSION, os.X_OK):
        skip_all(f"{SESSION} is not built")
    if shutil.which("systemd-socket-activate") is None:
        skip_all("systemd-socket-activate is not installed")
    tmp = tempfile.mkdtemp(prefix="pop3s-tls.")
    servers = []
    try:
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        rsa_cert, rsa_key = os.path.join(tmp, "rsa-cert.pem"), os.path.join(tmp, "rsa-key.pem")
        make_cert(cert, key)
        make_cert(rsa_cert, rsa_key, kind="rsa")
        srv = Server(tmp, "ecdsa", cert, key)
        servers.append(srv)
        rsa = Server(tmp, "rsa", rsa_cert, rsa_key)
        servers.append(rsa)
        short = Server(tmp, "short", cert, key, TIMEOUT="2")
        servers.append(short)
        for name, fn in (("versions", lambda: test_versions(srv)),
                         ("ciphers", lambda: test_ciphers(srv, rsa)),
                         ("alpn", lambda: test_alpn(srv)),
                         ("not tls", lambda: test_not_tls(srv)),
                         ("silent client", lambda: test_silent_client(srv)),
                         ("session loop", lambda: test_session_loop(short)),
                         ("check mode", lambda: test_check_mode(tmp, cert, key, rsa_key))):
            try:
                fn()
            except Exception:  # noqa: BLE001 - one failure, go on
                check(False, f"{name} raised", traceback.format_exc())
        for s in servers:
            exits = s.wait_exits(len(session_pids(s)))
            text = s.text()
            check(exits and all(c == 0 for c in exits),
                  f"{os.path.basename(s.dir)} server: every session exited with status 0",
                  f"{exits}")
            check(not re.search(r"Sanitizer|runtime error:", text),
                  f"{os.path.basename(s.dir)} server: no sanitizer report")
        if FAILED:
            for s in servers:
                print(f"--- {s.dir}/activate.log\n{s.text()}", flush=True)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{PASSED} passed, {FAILED} failed", flush=True)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
