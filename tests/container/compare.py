"""Benchmark: pop3s against Dovecot 2.3 under the same systemd as PID 1.

Run by driver.py's t_compare step when run.sh gets POP3S_CT_COMPARE
(tests/bench/systemd-vs-dovecot.sh sets it). Prints figures; the only things
it checks are that every session was served correctly and that the servers
came back to idle: a failed session is an error, not a data point.

Three servers listen in the container at the same time, with the same ECDSA
P-256 certificate and key (/etc/pop3s), the same user "bench" with the same
SHA-512-crypt ($6$) hash and the same message in maildirs of their own
(users bench0.., one per client process: pop3s locks a mailbox):
  pop3s-shipped  port 995, pop3s.socket + pop3s@.service as installed
  pop3s-plain    port 996, copies of both named pop3s-plain.socket and
                 pop3s-plain@.service, with driver._PLAIN as a drop-in
                 (every sandboxing option off)
  dovecot        port 1995, Debian's /usr/sbin/dovecot (dovecot-pop3d) with
                 a private "anchor" config (DOVECOT_CONF below), as its own
                 unit dovecot-bench.service
A session: connect, TLS 1.3, greeting, USER, PASS, STAT, RETR 1 (checked
byte for byte), QUIT, read to end of stream. Client processes (not threads)
are forked from the driver, so they stay in the driver's cgroup.

Server CPU: cgroup v2 cpu.stat usage_usec of the container's root cgroup
(the parent of PID 1's init.scope: PID 1, journald, pop3s-logger, every
session, Dovecot) minus that of the driver's own unit
(pop3s-container-test.service: the driver and its client processes), read
before the clients start and after every session of the run has ended and
its processes and cgroups are gone. PID 1's own share is its cgroup's
(init.scope) over the same window.
"""
import grp
import multiprocessing
import os
import pwd
import shutil
import socket
import ssl
import statistics
import time

BENCH_USERS = []      # bench0.. one per client process (pop3s locks a mailbox); set by t_compare
BENCH_PASSWORD = "bench-compare-password"
DC_DIR = "/var/lib/dovecot-bench"
DC_CONF = f"{DC_DIR}/dovecot.conf"
DC_USERS = f"{DC_DIR}/users"
DC_MAIL = f"{DC_DIR}/mail"
DC_UNIT = "dovecot-bench.service"
DC_PORT = 1995
PLAIN_PORT = 996
SETTLE = 0.3          # seconds after the servers are idle, before the read

# Debian's defaults for processes are Dovecot 2.3's own: login processes in
# high-security mode (service_count=1: one process per connection), a
# post-login pop3 process per session, resident master/auth/config/log/anvil/
# stats. Only what the benchmark needs is set here; logging goes to syslog,
# i.e. the journal, as Debian's default does.
DOVECOT_CONF = """\
# Dovecot 2.3 anchor for tests/container/compare.py (private: not /etc/dovecot)
protocols = pop3
listen = 127.0.0.1
base_dir = /run/dovecot-bench
state_dir = {dir}/state
instance_name = dovecot-bench
first_valid_uid = {uid}
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}
mail_location = maildir:{mail}/%u
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = {port}
    ssl = yes
  }}
}}
"""

DOVECOT_UNIT = """\
[Unit]
Description=Dovecot 2.3 anchor for the pop3s benchmark (tests/container/compare.py)
After=network.target

[Service]
Type=notify
ExecStart=/usr/sbin/dovecot -F -c {conf}
NonBlocking=yes
LimitNOFILE=65535
"""


def bench_message():
    """A few KB, with lines that need dot-stuffing."""
    lines = ["From: sender@example.org", "To: bench@example.org", "Subject: benchmark message",
             "Message-ID: <bench-1@example.org>", ""]
    for i in range(60):
        lines.append(f".{i:03d} line of the benchmark message, dot first on every tenth line" if i % 10 == 0
                     else f"{i:03d} line of the benchmark message body, some text to make it a few KB")
    return ("\n".join(lines) + "\n").encode()


# --- cgroup v2 counters ------------------------------------------------------
def _cg_mount():
    with open("/proc/self/mountinfo") as f:
        for l in f:
            a, _, b = l.partition(" - ")
            if b.split()[0] == "cgroup2":
                return a.split()[4]
    raise RuntimeError("no cgroup2 hierarchy mounted in the container: no per-cgroup CPU counters "
                       "(run.sh with SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1, as systemd-vs-dovecot.sh does)")


def _cg_path(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        for l in f:
            if l.startswith("0::"):
                return l[3:].strip()
    raise RuntimeError(f"pid {pid} has no cgroup v2 path")


class Cgroups:
    def __init__(self):
        self.mount = _cg_mount()
        p1 = _cg_path(1)
        if not p1.endswith("/init.scope"):
            raise RuntimeError(f"PID 1 is in cgroup {p1}, not in an init.scope below the container's root")
        self.root_rel = os.path.dirname(p1)
        self.root = os.path.normpath(self.mount + "/" + self.root_rel)
        self.init = os.path.normpath(self.mount + "/" + p1)
        self.driver = os.path.normpath(self.mount + "/" + _cg_path(os.getpid()))
        if not os.path.commonpath([self.root, self.driver]) == self.root or self.root == self.driver:
            raise RuntimeError(f"driver cgroup {self.driver} is not below the container's {self.root}")

    def unit(self, *names):
        return os.path.join(self.root, "system.slice", *names)

    @staticmethod
    def usage(path):
        """usage_usec of a cgroup (and its descendants, dead ones included), 0 if gone."""
        try:
            with open(os.path.join(path, "cpu.stat")) as f:
                for l in f:
                    k, v = l.split()
                    if k == "usage_usec":
                        return int(v)
        except FileNotFoundError:
            return 0
        raise RuntimeError(f"{path}/cpu.stat has no usage_usec")

    @staticmethod
    def procs(path):
        n = 0
        for d, _, _ in os.walk(path):
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    n += len(f.read().split())
            except FileNotFoundError:
                pass
        return n


# --- the client ----------------------------------------------------------------
class SessionError(Exception):
    pass


def _lines(sock):
    buf = b""
    while True:
        while b"\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise SessionError(f"connection closed early (pending {buf[:80]!r})")
            buf += chunk
        line, buf = buf.split(b"\r\n", 1)
        yield line


def one_session(ctx, port, want, user, session=None):
    """One full session; returns the TLS session (for resumption) and whether
    this one was resumed and whether the server sent a ticket. Raises SessionError on any unexpected reply."""
    s = socket.create_connection(("127.0.0.1", port), 20)
    try:
        t = ctx.wrap_socket(s, server_hostname="localhost", session=session)
    except Exception:
        s.close()
        raise
    try:
        if t.version() != "TLSv1.3":
            raise SessionError(f"TLS version {t.version()}")
        rd = _lines(t)

        def cmd(c, expect=b"+OK"):
            if c:
                t.sendall(c.encode() + b"\r\n")
            r = next(rd)
            if not r.startswith(expect):
                raise SessionError(f"{c or 'greeting'}: {r[:120]!r}")
            return r

        cmd(None)
        cmd(f"USER {user}")
        cmd(f"PASS {BENCH_PASSWORD}")
        cmd("STAT", b"+OK 1 ")
        cmd("RETR 1")
        body = []
        for l in rd:
            if l == b".":
                break
            body.append(l[1:] if l.startswith(b".") else l)
        if b"\r\n".join(body) + b"\r\n" != want:
            raise SessionError(f"RETR 1: not the stored message ({len(body)} lines)")
        cmd("QUIT")
        sess, reused = t.session, t.session_reused
        ticket = bool(sess and sess.has_ticket)
        while True:            # the server closes: its process is done
            try:
                if not t.recv(4096):
                    break
            except (ConnectionResetError, ssl.SSLEOFError):
                break
        return sess, reused, ticket
    finally:
        t.close()


def _client(port, n, resume, want, user, cafile, barrier, q):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ok = reused = tickets = 0
    err = None
    sess = None
    barrier.wait()
    for _ in range(n):
        try:
            new, r, tk = one_session(ctx, port, want, user, sess if resume else None)
        except Exception as e:  # noqa: BLE001
            err = repr(e)
            break
        ok += 1
        reused += bool(r)
        tickets += tk
        sess = new
    q.put((ok, reused, err, tickets))


# --- servers -------------------------------------------------------------------
class Server:
    def __init__(self, name, port, idle):
        self.name, self.port, self._idle = name, port, idle

    def wait_idle(self, d, timeout=60):
        if not d.wait_until(self._idle, timeout, step=0.02):
            raise RuntimeError(f"{self.name}: sessions still running {timeout} s after the run")


def _setup_pop3s(d, cg, want):
    # Only the bench users, as in Dovecot's file: for a user whose hash is
    # cheaper than the costliest one in the file, pop3s also spends that
    # costlier hash's time (auth.c, burn()), so the test users' yescrypt
    # entries would add a yescrypt to every $6$ login. t_compare puts the
    # original file back.
    with open(d.USERS_FILE, "w") as f:
        f.write("".join(f"{u}:{HASH}\n" for u in BENCH_USERS))
    for u in BENCH_USERS:
        d.maildir(u, [want.replace(b"\r\n", b"\n")])
    # pop3s-plain: the installed units, copied, with every sandboxing option off.
    for src, dst in (("pop3s@.service", "pop3s-plain@.service"), ("pop3s.socket", "pop3s-plain.socket")):
        shutil.copy(os.path.join(d.UNITDIR, src), os.path.join(d.UNITDIR, dst))
    for unit, text in (("pop3s-plain@.service", "[Service]\n" + d._PLAIN),
                       ("pop3s-plain.socket", f"[Socket]\nListenStream=\nListenStream={PLAIN_PORT}\n")):
        os.makedirs(os.path.join(d.UNITDIR, unit + ".d"), exist_ok=True)
        with open(os.path.join(d.UNITDIR, unit + ".d", "compare.conf"), "w") as f:
            f.write(text)
    slices = {"pop3s-shipped": cg.unit("system-pop3s.slice"),
              "pop3s-plain": cg.unit("system-pop3s\\x2dplain.slice")}

    def idle(sl):
        return lambda: not any(os.path.isdir(os.path.join(sl, e)) for e in
                               (os.listdir(sl) if os.path.isdir(sl) else []))
    logger = cg.unit("pop3s-logger.service")
    res = []
    for name, port in (("pop3s-shipped", d.PORT), ("pop3s-plain", PLAIN_PORT)):
        res.append(Server(name, port, idle(slices[name])))
        res[-1].own = [slices[name], logger]
    return res


def _setup_dovecot(d, cg, want):
    pw = pwd.getpwnam("pop3s")
    if os.path.exists(DC_DIR):
        shutil.rmtree(DC_DIR)
    for sub in ("", "state", "mail"):
        os.makedirs(f"{DC_DIR}/{sub}", exist_ok=True)
    with open(DC_CONF, "w") as f:
        f.write(DOVECOT_CONF.format(dir=DC_DIR, uid=min(pw.pw_uid, 500), cert=d.CERT, key=d.KEY,
                                    users=DC_USERS, mail=DC_MAIL, port=DC_PORT))
    with open(DC_USERS, "w") as f:
        for u in BENCH_USERS:
            f.write(f"{u}:{HASH}:{pw.pw_uid}:{pw.pw_gid}::{DC_MAIL}/{u}::\n")
    os.chown(DC_USERS, 0, grp.getgrnam("dovecot").gr_gid)    # Dovecot's auth process reads it
    os.chmod(DC_USERS, 0o640)
    for u in BENCH_USERS:
        base = f"{DC_MAIL}/{u}"
        for sub in ("", "new", "cur", "tmp"):
            os.makedirs(f"{base}/{sub}", exist_ok=True)
        with open(f"{base}/new/1700000001.M1P1.bench", "wb") as f:
            f.write(want.replace(b"\r\n", b"\n"))
    for dp, _, files in os.walk(DC_MAIL):
        os.chown(dp, pw.pw_uid, pw.pw_gid)
        for n in files:
            os.chown(os.path.join(dp, n), pw.pw_uid, pw.pw_gid)
    with open(os.path.join(d.UNITDIR, DC_UNIT), "w") as f:
        f.write(DOVECOT_UNIT.format(conf=DC_CONF))
    path = cg.unit(DC_UNIT)
    srv = Server("dovecot", DC_PORT, lambda: Cgroups.procs(path) <= srv.resident)
    srv.resident = 1 << 30
    srv.cgroup = path
    srv.own = [path]
    return srv


HASH = None


def _run(d, cg, srv, conc, n, resume, want):
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(conc + 1)
    q = ctx.Queue()
    per = -(-n // conc)
    procs = [ctx.Process(target=_client, args=(srv.port, per, resume, want, BENCH_USERS[i], d.CERT, barrier, q))
             for i in range(conc)]
    def usage():
        """CPU µs so far of the whole container, the client (the driver),
        PID 1, journald and the server's own units, once all is idle."""
        srv.wait_idle(d)
        time.sleep(SETTLE)
        return dict(root=Cgroups.usage(cg.root), driver=Cgroups.usage(cg.driver),
                    init=Cgroups.usage(cg.init), journald=Cgroups.usage(cg.unit("systemd-journald.service")),
                    own=sum(Cgroups.usage(p) for p in srv.own))

    for p in procs:
        p.start()
    u0 = usage()
    t0 = time.monotonic()
    barrier.wait()
    res = [q.get(timeout=300) for _ in procs]
    wall = time.monotonic() - t0
    for p in procs:
        p.join()
    u1 = usage()
    ok = sum(r[0] for r in res)
    errs = [r[2] for r in res if r[2]]
    if errs or ok != per * conc:
        raise RuntimeError(f"{srv.name}: {ok} of {per * conc} sessions served; {errs[:3]}")
    ms = {k: (u1[k] - u0[k]) / 1000 / ok for k in u0}
    return dict(cpu=ms["root"] - ms["driver"], pid1=ms["init"], journald=ms["journald"], rate=ok / wall,
                client=ms["driver"], resumed=sum(r[1] for r in res) / ok, tickets=sum(r[3] for r in res) / ok,
                own=ms["own"])


def _modes(spec):
    out = []
    for m in spec.split(":"):
        resume = m.startswith("r")
        c = int(m[1:] if resume else m)
        if not 1 <= c <= 64:
            raise ValueError(f"bad mode {m!r}")
        out.append((m, c, resume))
    return out


def t_compare(d):
    """The t_compare step; d is the driver module."""
    global HASH, BENCH_USERS
    if not os.path.exists("/results/compare"):
        return
    spec = open("/results/compare").read().strip().split(",")
    rounds = int(spec[0]) if spec and spec[0] else 3
    n = int(spec[1]) if len(spec) > 1 and spec[1] else 100
    modes = _modes(spec[2] if len(spec) > 2 and spec[2] else "1:8:r1")
    BENCH_USERS = [f"bench{i}" for i in range(max(c for _, c, _ in modes))]
    t = time.monotonic()
    cg = Cgroups()
    HASH = d.crypt_hash(BENCH_PASSWORD, b"$6$")
    if not HASH.startswith("$6$"):
        raise RuntimeError(f"libcrypt made no SHA-512-crypt hash: {HASH!r}")
    msg = bench_message()
    want = msg.replace(b"\n", b"\r\n")
    with open(d.USERS_FILE) as f:
        saved_users = f.read()
    try:
        _compare(d, cg, rounds, n, modes, msg, want, t)
    finally:
        with open(d.USERS_FILE, "w") as f:
            f.write(saved_users)


def _compare(d, cg, rounds, n, modes, msg, want, t):
    servers = _setup_pop3s(d, cg, want)
    dc = _setup_dovecot(d, cg, want)
    d.systemctl("daemon-reload")
    d.queue_limit()
    rc, out = d.systemctl("start", "pop3s-logger.socket", "pop3s.socket", "pop3s-plain.socket", DC_UNIT)
    if not d.check(rc == 0, "compare: pop3s.socket, pop3s-plain.socket and dovecot-bench.service started", out):
        d.say(d.sh(["journalctl", "--no-pager", "-n", "30", "-u", DC_UNIT])[1])
        return
    shipped, plain = servers
    byname = {"pop3s-shipped": shipped, "pop3s-plain": plain, "dovecot": dc}
    # Warm up every server (page cache, maildir moved to cur/, Dovecot's
    # index) and learn Dovecot's resident processes.
    wctx = ssl.create_default_context(cafile=d.CERT)
    wctx.check_hostname = False
    for srv in (shipped, plain, dc):
        for i in range(len(BENCH_USERS) + 2):
            one_session(wctx, srv.port, want, BENCH_USERS[i % len(BENCH_USERS)])
    time.sleep(1)
    dc.resident = Cgroups.procs(dc.cgroup)
    for srv in (shipped, plain):
        srv.wait_idle(d)
    i0, t0 = Cgroups.usage(cg.root) - Cgroups.usage(cg.driver), time.monotonic()
    time.sleep(2)
    idle = (Cgroups.usage(cg.root) - Cgroups.usage(cg.driver) - i0) / 1000 / (time.monotonic() - t0)
    ver = d.sh(["/usr/sbin/dovecot", "--version"])[1].strip()
    load0 = open("/proc/loadavg").read().split()[:3]
    d.say(f"# compare: pop3s vs Dovecot {ver} under {d.sh(['systemctl', '--version'])[1].splitlines()[0]} "
          f"as PID 1; {rounds} rounds, {n} sessions per run; load average at start {' '.join(load0)} "
          f"({os.cpu_count()} CPUs)")
    d.say("# compare: session = TLS 1.3 (ECDSA P-256, same cert), USER/PASS ($6$ SHA-512-crypt), STAT, "
          f"RETR 1 ({len(msg)} bytes, checked), QUIT, read to EOF; every reply checked; "
          f"users file of each server: only the {len(BENCH_USERS)} bench users, all with the same $6$ hash")
    d.say(f"# compare: server CPU = cgroup v2 usage_usec of the container's root cgroup {cg.root_rel or '/'} "
          "(PID 1, journald, pop3s-logger, sessions, Dovecot) minus the driver unit's cgroup (driver + client "
          "processes), from before the clients start to after every session's processes and cgroups are gone "
          f"(+{SETTLE} s); 'PID 1' = its cgroup {os.path.relpath(cg.init, cg.root)} (systemd, and a forked child until it moves to its unit's cgroup), 'journald' = its unit's cgroup, both included in "
          f"'server'. Container idle: {idle:.2f} ms CPU per second")
    d.say(f"# compare: Dovecot resident processes: {dc.resident}; login service_count=1 (2.3 default)")
    order = [shipped, dc, plain, dc]
    data = {(m[0], s): [] for m in modes for s in byname}
    bad = []
    for rnd in range(rounds):
        for mname, conc, resume in modes:
            for srv in order:
                try:
                    r = _run(d, cg, srv, conc, n, resume, want)
                except Exception as e:  # noqa: BLE001
                    bad.append(f"round {rnd + 1} {mname} {srv.name}: {e!r}")
                    d.say(f"# compare: {bad[-1]}")
                    continue
                data[(mname, srv.name)].append((rnd, r))
                d.say(f"#   round {rnd + 1} clients {mname} {srv.name}: {r['cpu']:.2f} ms CPU/session "
                      f"(PID 1 {r['pid1']:.2f}), {r['rate']:.1f} sessions/s, resumed {100 * r['resumed']:.0f} %")
        d.say(f"# compare: round {rnd + 1}/{rounds} done, {time.monotonic() - t:.0f} s, "
              f"load {' '.join(open('/proc/loadavg').read().split()[:3])}")
    _report(d, modes, data, rounds)
    d.check(not bad, "compare: every session of every run served and checked", "; ".join(bad[:5]))
    d.check(d.wait_until(lambda: shipped._idle() and plain._idle(), 15), "compare: no pop3s instance left")
    d.systemctl("stop", DC_UNIT, "pop3s-plain.socket")
    d.say(f"# compare: {time.monotonic() - t:.0f} s; load average at end "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}")


def _med(runs, key):
    v = [r[key] for _, r in runs]
    return statistics.median(v) if v else float("nan")


def _report(d, modes, data, rounds):
    names = ["pop3s-shipped", "pop3s-plain", "dovecot"]
    d.say("# compare: medians over the runs (Dovecot runs twice per round); ms CPU per session")
    d.say("# ('own units': pop3s's session slice + pop3s-logger.service, or dovecot-bench.service; "
          "'ticket': the server sent a TLS session ticket; 'resumed': the handshake resumed the previous one)")
    d.say("# | clients | server | server CPU ms/session | of which PID 1 | of which journald | of which own units | "
          "sessions/s | client CPU ms/session | ticket | resumed | runs |")
    d.say("# |---|---|---|---|---|---|---|---|---|---|---|")
    for mname, conc, resume in modes:
        for s in names:
            runs = data[(mname, s)]
            d.say(f"# | {conc}{' resumed' if resume else ''} | {s} | {_med(runs, 'cpu'):.2f} | "
                  f"{_med(runs, 'pid1'):.2f} | {_med(runs, 'journald'):.2f} | {_med(runs, 'own'):.2f} | "
                  f"{_med(runs, 'rate'):.1f} | {_med(runs, 'client'):.2f} | {100 * _med(runs, 'tickets'):.0f} % | "
                  f"{100 * _med(runs, 'resumed'):.0f} % | {len(runs)} |")
    d.say("# | clients | ratio | median CPU ratio | per-round range | target |")
    d.say("# |---|---|---|---|---|")
    for mname, conc, resume in modes:
        per = {s: {} for s in names}
        for s in names:
            for rnd, r in data[(mname, s)]:
                per[s].setdefault(rnd, []).append(r["cpu"])
        for a, b, target in (("pop3s-shipped", "dovecot", "<= 1.6"), ("pop3s-plain", "dovecot", ""),
                             ("pop3s-shipped", "pop3s-plain", "<= 1.15")):
            ma, mb = _med(data[(mname, a)], "cpu"), _med(data[(mname, b)], "cpu")
            rr = [statistics.mean(per[a][k]) / statistics.mean(per[b][k]) for k in range(rounds)
                  if k in per[a] and k in per[b]]
            rng = f"{min(rr):.2f}-{max(rr):.2f}" if rr else "-"
            ratio = ma / mb if mb else float("nan")
            verdict = ""
            if target and ratio == ratio:
                verdict = f"{target} ({'met' if ratio <= float(target.split()[1]) else 'not met'})"
            d.say(f"# | {conc}{' resumed' if resume else ''} | {a} / {b} | {ratio:.2f} | {rng} | {verdict} |")
