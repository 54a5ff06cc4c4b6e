"""Shared harness for the integration tests: a throw-away installation of
pop3s (certificate, users file, mailbox copy, config), the real pop3s-logger
and real pop3s-session processes under systemd-socket-activate --accept, and
a tiny check/report helper. Every test file is a script run by `make check`;
it exits 0 (pass), 1 (fail) or 77 (skip) and ends with "N passed, M failed".
"""
import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")))
TOP_BUILDDIR = os.path.abspath(os.environ.get("top_builddir", TOP_SRCDIR))
SESSION = os.path.join(TOP_BUILDDIR, "src", "session", "pop3s-session")
LOGGER = os.path.join(TOP_BUILDDIR, "src", "logger", "pop3s-logger")

_libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
_librt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
_librt.mq_unlink.argtypes = [ctypes.c_char_p]


def crypt_hash(password, prefix=b"$y$"):
    """A real crypt(3) hash made by libcrypt, as pop3s verifies it."""
    salt = _libcrypt.crypt_gensalt(prefix, 0, None, 0)
    return _libcrypt.crypt(password.encode(), salt).decode()


def mq_unlink(name):
    _librt.mq_unlink(name.encode())


class _MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long),
                ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]


_librt.mq_open.restype = ctypes.c_int
_librt.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(_MqAttr)]


def mq_fill_budget(prefix):
    """Creates message queues named prefix-... until this user's
    RLIMIT_MSGQUEUE has no room for even the smallest; returns their names
    (mq_unlink each to give the room back)."""
    names = []
    for size in (8192, 1024, 128):
        a = _MqAttr(0, 10, size, 0)
        for i in range(1000):
            name = f"{prefix}-{size}-{i}"
            q = _librt.mq_open(name.encode(), os.O_RDONLY | os.O_CREAT, 0o600, ctypes.byref(a))
            if q < 0:
                break
            os.close(q)
            names.append(name)
    return names


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def processes():
    """(pid, fields of /proc/PID/stat after the command name: state, ppid,
    ...) of every process now."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    out.append((int(d), f.read().rsplit(")", 1)[1].split()))
            except OSError:
                continue
    return out


def proc_argv(pid):
    """pid's arguments as strings; [] once it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def to_crlf(data):
    """The stored message as POP3 sends it: CRLF line ends, a final CRLF."""
    out = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


class Results:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print(f"ok - {what}", flush=True)
        else:
            self.failed += 1
            print(f"not ok - {what}" + (f": {detail}" if detail else ""), flush=True)
        return cond

    def run(self, fn):
        """Runs one test function; an exception is one failure."""
        try:
            fn(self)
        except Exception:  # noqa: BLE001 - report and go on
            self.failed += 1
            print(f"not ok - {fn.__name__} raised:", flush=True)
            traceback.print_exc(file=sys.stdout)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


class Server:
    """One installation: logger + socket-activated sessions on a port."""

    USERS = {"alice": "alice-demo-password", "bob": "bob demo password"}

    def __init__(self, mailbox=None, host="127.0.0.1", **conf):
        for prog in (SESSION, LOGGER):
            if not os.access(prog, os.X_OK):
                skip(f"{prog} is not built")
        if shutil.which("systemd-socket-activate") is None:
            skip("systemd-socket-activate is not installed")
        self.dir = tempfile.mkdtemp(prefix="pop3s-it.")
        self.home = os.path.join(self.dir, "mail")
        self.logs = os.path.join(self.dir, "pop3s.log")
        self.queue = f"/pop3s-test-{os.getpid()}-{id(self) & 0xffff}"
        self.host = host
        self.port = free_port(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        self.procs = []
        make_cert(self.cert, self.key)
        with open(os.path.join(self.dir, "users"), "w") as f:
            f.write("# test users\n")
            for u, p in self.USERS.items():
                f.write(f"{u}:{crypt_hash(p)}\n")
        shutil.copytree(mailbox or os.path.join(TOP_SRCDIR, "mailbox"), self.home,
                        ignore=shutil.ignore_patterns("README*", ".gitkeep", "*.sh", "*.py"))
        settings = {
            "HOME": self.home, "USERS": os.path.join(self.dir, "users"), "LOGS": self.logs,
            "CERT": self.cert, "KEY": self.key, "QUEUE": self.queue, "TIMEOUT": "600",
            "HANDSHAKE_TIMEOUT": "10", "AUTH_DELAY_MS": "1000", "STATE": os.path.join(self.dir, "state"),
            "AUTH_PENALTY_FILE": os.path.join(self.dir, "auth-penalty"),
            # Sessions wait this long for room in the (10-deep) queue before
            # writing to the journal instead: long enough for a logger that
            # a busy machine runs late, so tests that count log lines do not
            # depend on the machine's load. Tests of the fallback set less.
            "QUEUE_TIMEOUT_MS": "5000",
        }
        settings.update({k: str(v) for k, v in conf.items()})
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        self.conf = os.path.join(self.dir, "pop3s.conf")
        with open(self.conf, "w") as f:
            f.write("# written by pop3test.py\n")
            for k, v in settings.items():
                f.write(f"{k}={v}\n")
        self.settings = settings

    # --- processes ---------------------------------------------------
    def start_logger(self):
        """Starts pop3s-logger and waits for its READY=1 (sd_notify)."""
        path = os.path.join(self.dir, f"notify-{len(self.procs)}")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(path)
        ns.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=path)
        p = subprocess.Popen([LOGGER, "-c", self.conf], env=env, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.procs.append(p)
        self.logger = p
        try:
            while b"READY=1" not in ns.recv(4096):
                pass
        finally:
            ns.close()
            os.unlink(path)
        return p

    def stop_logger(self, sig=signal.SIGTERM):
        self.logger.send_signal(sig)
        return self.logger.wait(timeout=10)

    def start_sessions(self, env=None, args=()):
        """systemd-socket-activate --accept on the port, as pop3s.socket does.
        env: variables for the sessions (as EnvironmentFile= sets them),
        passed by name (-E NAME), so their values stay off command lines;
        args: more arguments for pop3s-session (-T)."""
        env = env or {}
        setenv = [a for name in env for a in ("-E", name)]
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for attempt in range(5):
            addr = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
            p = subprocess.Popen(["systemd-socket-activate", "--accept", "-l", addr, *setenv,
                                  SESSION, "-c", self.conf, *args],
                                 start_new_session=True, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, env=dict(os.environ, **env))
            line = p.stderr.readline().decode()
            if "Listening" in line:
                break
            p.wait()
            # free_port() released the port when it chose it: another
            # test's client or server may have taken it since
            if "in use" not in line or attempt == 4:
                raise RuntimeError(f"systemd-socket-activate did not start on {addr}: {line}")
            self.port = free_port(family, self.host)
        self.procs.append(p)
        self.activator = p
        # Keep draining the sessions' stderr (a full pipe would block them)
        # and keep it for the sanitizer check in close().
        self.stderr_lines = []
        self.drain = threading.Thread(target=self._drain, args=(p.stderr,), daemon=True)
        self.drain.start()
        return p

    def _drain(self, pipe):
        for raw in iter(pipe.readline, b""):
            self.stderr_lines.append(raw.decode(errors="replace").rstrip())

    def start(self, env=None):
        self.start_logger()
        self.start_sessions(env)
        return self

    def session_pids(self):
        """pop3s-session processes started for this server."""
        return [pid for pid, _ in processes()
                if (argv := proc_argv(pid)) and argv[0].endswith("pop3s-session") and self.conf in argv]

    def wait_sessions_gone(self, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if not self.session_pids():
                return True
            time.sleep(0.05)
        return False

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        for pid in self.session_pids():
            os.kill(pid, signal.SIGKILL)
        mq_unlink(self.queue)
        shutil.rmtree(self.dir, ignore_errors=True)
        if getattr(self, "drain", None):
            self.drain.join(timeout=10)
            bad = [l for l in self.stderr_lines
                   if "AddressSanitizer" in l or "runtime error:" in l or "LeakSanitizer" in l]
            if bad:
                raise AssertionError("sanitizer report from a session:\n" + "\n".join(self.stderr_lines[-40:]))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- clients -----------------------------------------------------
    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = False
        return ctx

    def poplib(self, timeout=20):
        import poplib
        return poplib.POP3_SSL(self.host, self.port, context=self.ssl_context(), timeout=timeout)

    def raw(self, timeout=20):
        """A TLS socket after the greeting, for exact protocol bytes."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        t = self.ssl_context().wrap_socket(s, server_hostname="localhost")
        return RawClient(t)

    # --- files -------------------------------------------------------
    def log_lines(self, want=0, timeout=10):
        """Lines of the log file, waiting until there are at least want."""
        end = time.time() + timeout
        while True:
            try:
                with open(self.logs) as f:
                    lines = f.read().splitlines()
            except FileNotFoundError:
                lines = []
            if len(lines) >= want or time.time() > end:
                return lines
            time.sleep(0.05)

    def wait_log(self, pred, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            lines = self.log_lines()
            if pred(lines):
                return lines
            time.sleep(0.05)
        return self.log_lines()

    def metrics(self):
        """pop3s-logger's saved counters (STATE/metrics); {} before the
        first save, or for a malformed file a test wrote itself."""
        try:
            with open(os.path.join(self.settings["STATE"], "metrics")) as f:
                return {k: int(v) for k, v in (l.rstrip("\n").split("=", 1) for l in f)}
        except (FileNotFoundError, ValueError):
            return {}

    def wait_metrics(self, pred, timeout=20):
        """The metrics once pred holds for them (or the last ones read)."""
        end = time.time() + timeout
        m = self.metrics()
        while time.time() < end and not pred(m):
            time.sleep(0.1)
            m = self.metrics()
        return m

    def messages(self, user):
        """Relative paths of the stored messages of a user."""
        base = os.path.join(self.home, user)
        out = []
        for sub in ("new", "cur", ""):
            d = os.path.join(base, sub)
            if not os.path.isdir(d):
                continue
            for n in os.listdir(d):
                p = os.path.join(d, n)
                if not n.startswith(".") and os.path.isfile(p) and not os.path.islink(p):
                    out.append(os.path.relpath(p, base))
        return sorted(out)


class RawClient:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, command):
        """Sends one command line and returns the first reply line."""
        self.send(command.encode() + b"\r\n")
        return self.line()

    def lport(self):
        return self.sock.getsockname()[1]

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def multiline(self):
        lines = []
        while True:
            l = self.line()
            if l == b".":
                return lines
            lines.append(l)

    def closed(self, timeout=10):
        """True if the server closes the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def make_cert(cert, key, rsa=False):
    """A self-signed ECDSA P-256 certificate, as the demo and packages make
    (rsa: RSA-3072 instead)."""
    tmpl = key + ".tmpl"
    with open(tmpl, "w") as f:
        f.write('cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\n'
                'ip_address = "::1"\nexpiration_days = 30\ntls_www_server\nsigning_key\n'
                + ("encryption_key\n" if rsa else ""))
    kind = ["--key-type=rsa", "--bits=3072"] if rsa else ["--key-type=ecdsa", "--curve=secp256r1"]
    subprocess.run(["certtool", "--generate-privkey", *kind, "--outfile", key], check=True,
                   capture_output=True)
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey", key,
                    "--template", tmpl, "--outfile", cert], check=True, capture_output=True)
    os.unlink(tmpl)
