"""pop3sctl against a running installation: users, passwords and settings
change for the next login or connection without restarting anything;
refusals leave the files as they were; stats and log read what the logger
keeps. The journal checks run in a private mount namespace with a private
systemd-journald (root only), so the real system journal is not touched."""
import base64
import json
import os
import poplib
import pty
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pop3test  # noqa: E402

CTL = os.path.join(pop3test.TOP_BUILDDIR, "src", "ctl", "pop3sctl")
JOURNALD = "/lib/systemd/systemd-journald"


def ctl(srv, *args, stdin=None):
    """Runs pop3sctl in a new session: no controlling terminal."""
    p = subprocess.run([CTL, "-c", srv.conf, *args], input=stdin.encode() if stdin is not None else None,
                       stdin=None if stdin is not None else subprocess.DEVNULL,
                       capture_output=True, timeout=120, start_new_session=True)
    p.out = p.stdout.decode(errors="replace")
    p.err = p.stderr.decode(errors="replace")
    if "Sanitizer" in p.err or "runtime error:" in p.err:
        raise AssertionError("sanitizer report from pop3sctl:\n" + p.err)
    return p


def login(srv, user, password):
    """True if user/password logs in; the session is closed at once."""
    c = srv.poplib()
    try:
        c.user(user)
        c.pass_(password)
    except poplib.error_proto:
        c.quit()
        return False
    c.quit()
    return True


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_add(r, srv):
    p = ctl(srv, "user", "add", "--stdin", "carol", stdin="carol pass 1\n")
    r.check(p.returncode == 0, "user add --stdin carol", p.err)
    r.check("carol pass 1" not in p.out + p.err, "the password is not printed")
    r.check(login(srv, "carol", "carol pass 1"), "carol logs in at once, nothing restarted")
    ok = all(stat.S_IMODE(os.stat(os.path.join(srv.home, "carol", d)).st_mode) == 0o700
             for d in ("cur", "new", "tmp"))
    r.check(ok and stat.S_IMODE(os.stat(os.path.join(srv.home, "carol")).st_mode) == 0o700,
            "the Maildir carol/{cur,new,tmp} is made with mode 0700")
    with open(srv.settings["USERS"]) as f:
        text = f.read()
    r.check(text.startswith("# test users\n") and "\ncarol:$y$" in text,
            "the users file keeps its comment and gets a yescrypt hash")
    p = ctl(srv, "user", "add", "--stdin", "alice", stdin="x\n")
    r.check(p.returncode == 1 and "already exists" in p.err, "a second add of alice is refused", p.err)


def test_refusals(r, srv):
    users = srv.settings["USERS"]
    before = read_bytes(users)
    for name in ("../x", ".x", "a/b", "a:b", "a b", "", "#x"):
        p = ctl(srv, "user", "add", "--stdin", name, stdin="pw\n")
        r.check(p.returncode == 1 and "invalid user name" in p.err, f"user add {name!r} is refused",
                f"rc={p.returncode} {p.err}")
    p = ctl(srv, "user", "add", "erin")
    r.check(p.returncode == 1 and "no terminal" in p.err and "--stdin" in p.err,
            "user add without --stdin and without a terminal says so", p.err)
    p = ctl(srv, "user", "add", "--stdin", "erin", stdin="")
    r.check(p.returncode == 1 and "no password" in p.err, "user add --stdin with no input is refused", p.err)
    p = ctl(srv, "user", "add", "--stdin", "erin", stdin="\n")
    r.check(p.returncode == 1 and "empty password" in p.err, "an empty password is refused", p.err)
    p = ctl(srv, "user", "add", "--stdin", "erin", stdin="x" * 300 + "\n")
    r.check(p.returncode == 1 and "longer than" in p.err, "a 300-octet password is refused", p.err)
    p = ctl(srv, "user", "passwd", "--stdin", "nobody", stdin="pw\n")
    r.check(p.returncode == 1 and "no user 'nobody'" in p.err, "passwd of an unknown user is refused", p.err)
    p = ctl(srv, "user", "del", "nobody")
    r.check(p.returncode == 1 and "no user 'nobody'" in p.err, "del of an unknown user is refused", p.err)
    p = ctl(srv, "user", "del", "--stdin", "alice")
    r.check(p.returncode == 2, "user del --stdin is a usage error", p.err)
    p = ctl(srv, "user", "frobnicate")
    r.check(p.returncode == 2, "an unknown user command is a usage error", p.err)
    r.check(read_bytes(users) == before, "the users file is byte for byte unchanged after the refusals")


def test_tty(r, srv):
    """The password from a terminal: prompted twice, never echoed."""
    def run(answers):
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(CTL, [CTL, "-c", srv.conf, "user", "add", "frank"])
        out = b""
        answers = list(answers)
        end = time.time() + 60
        while time.time() < end:
            rl, _, _ = select.select([fd], [], [], 1)
            if not rl:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if answers and out.rstrip().endswith(b":"):
                os.write(fd, answers.pop(0).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

    rc, out = run(["tty one", "tty two"])
    r.check(rc == 1 and "do not match" in out, "different passwords on the terminal are refused", out)
    rc, out = run(["frank tty pw", "frank tty pw"])
    r.check(rc == 0 and "New password for frank:" in out and "Retype" in out,
            "user add on a terminal prompts twice", out)
    r.check("frank tty pw" not in out, "the typed password is not echoed", out)
    r.check(login(srv, "frank", "frank tty pw"), "frank logs in with the password typed on the terminal")


def test_passwd(r, srv):
    p = ctl(srv, "user", "passwd", "--stdin", "carol", stdin="carol pass 2\n")
    r.check(p.returncode == 0, "user passwd --stdin carol", p.err)
    r.check(not login(srv, "carol", "carol pass 1"), "the old password no longer works")
    r.check(login(srv, "carol", "carol pass 2"), "the new password works")


def test_del(r, srv):
    c = srv.poplib()
    c.user("carol")
    c.pass_("carol pass 2")
    p = ctl(srv, "user", "del", "carol")
    r.check(p.returncode == 1 and "logged in" in p.err, "del while carol is logged in is refused", p.err)
    c.quit()
    r.check(srv.wait_sessions_gone(), "carol's session ended")
    r.check(login(srv, "carol", "carol pass 2"), "carol is still there after the refused del")
    # a session holds the lock until its process ends, a little after QUIT
    srv.wait_sessions_gone()
    p = ctl(srv, "user", "del", "carol")
    r.check(p.returncode == 0, "user del carol once she has logged out", p.err)
    r.check(not login(srv, "carol", "carol pass 2"), "carol can no longer log in")
    r.check(os.path.isdir(os.path.join(srv.home, "carol", "new")), "without --purge the mailbox stays")

    # --purge: the mailbox goes, and nothing outside it, whatever links it holds
    outside = os.path.join(srv.dir, "outside")
    os.makedirs(os.path.join(outside, "sub"))
    with open(os.path.join(outside, "sub", "keep"), "w") as f:
        f.write("keep me\n")
    p = ctl(srv, "user", "add", "--stdin", "dave", stdin="dave pw\n")
    r.check(p.returncode == 0, "user add dave", p.err)
    box = os.path.join(srv.home, "dave")
    with open(os.path.join(box, "new", "1.msg"), "w") as f:
        f.write("Subject: x\n\nbody\n")
    os.symlink(outside, os.path.join(box, "cur", "dirlink"))
    os.symlink(os.path.join(outside, "sub", "keep"), os.path.join(box, "filelink"))
    os.makedirs(os.path.join(box, "deep", "er", "still"))
    p = ctl(srv, "user", "del", "--purge", "dave")
    r.check(p.returncode == 0 and not os.path.exists(box), "user del --purge removes the mailbox", p.err)
    r.check(os.path.isfile(os.path.join(outside, "sub", "keep")),
            "--purge removes symbolic links, not what they point to")


def test_list(r, srv):
    p = ctl(srv, "user", "list")
    names = p.out.split()
    r.check(p.returncode == 0 and "alice" in names and "bob" in names and "frank" in names
            and "carol" not in names, "user list shows the users", p.out)
    r.check(p.err == "", "user list warns about nothing in a file without weak hashes", p.err)


def test_weak_hash(r, srv):
    """A weak legacy hash never logs in; user list names its line, user
    passwd replaces it."""
    users = srv.settings["USERS"]
    legacy = pop3test._libcrypt.crypt(b"legacy pw", pop3test._libcrypt.crypt_gensalt(b"$1$", 0, None, 0))
    with open(users, "a") as f:
        f.write("olduser:" + legacy.decode() + "\n")
    lineno = len(open(users).read().splitlines())
    p = ctl(srv, "user", "list")
    want = (f"{users}:{lineno}: user 'olduser': MD5-crypt ($1$) is a weak legacy hash method, "
            "refused at login; set a new password with 'pop3sctl user passwd olduser'")
    r.check(p.returncode == 0 and "olduser" in p.out.split() and want in p.err,
            "user list names the file, line and method of a weak hash", p.err)
    p = ctl(srv, "user", "passwd", "--stdin", "olduser", stdin="new pw\n")
    r.check(p.returncode == 0, "user passwd replaces the weak hash", p.err)
    p = ctl(srv, "user", "list")
    r.check(p.returncode == 0 and p.err == "" and "\nolduser:$y$" in open(users).read(),
            "after user passwd the line holds a yescrypt hash and list warns no more", p.err)


def test_config(r, srv):
    conf = srv.conf
    os.chmod(conf, 0o640)
    old_lines = open(conf).read().splitlines()
    p = ctl(srv, "config", "set", "TIMEOUT", "900")
    r.check(p.returncode == 0, "config set TIMEOUT 900", p.err)
    s = subprocess.run([pop3test.SESSION, "-n", "-c", conf], capture_output=True, text=True, timeout=60)
    r.check("TIMEOUT=900" in s.stdout.splitlines(), "pop3s-session -n shows TIMEOUT=900", s.stdout + s.stderr)
    p = ctl(srv, "config", "get", "TIMEOUT")
    r.check(p.returncode == 0 and p.out == "900\n", "config get TIMEOUT prints 900", p.out)
    new_lines = open(conf).read().splitlines()
    want = ["TIMEOUT=900" if l.startswith("TIMEOUT=") else l for l in old_lines]
    r.check(new_lines == want and new_lines[0] == "# written by pop3test.py",
            "the comment is kept and TIMEOUT replaced in place", "\n".join(new_lines))
    r.check(stat.S_IMODE(os.stat(conf).st_mode) == 0o640, "the file keeps its mode")
    before = read_bytes(conf)
    p = ctl(srv, "config", "set", "TIMEOUT", "abc")
    r.check(p.returncode == 1 and "TIMEOUT" in p.err and "abc" in p.err and conf in p.err,
            "config set TIMEOUT abc is refused naming file, key and value", p.err)
    p2 = ctl(srv, "config", "set", "TIMEOUT", "0")
    p3 = ctl(srv, "config", "set", "HOME", "relative/path")
    p4 = ctl(srv, "config", "set", "UNKNOWN", "1")
    r.check(p2.returncode == 1 and p3.returncode == 1 and p4.returncode == 1 and "unknown key" in p4.err,
            "an out-of-range number, a relative path and an unknown key are refused", p2.err + p3.err + p4.err)
    p = ctl(srv, "config", "get", "UNKNOWN")
    r.check(p.returncode == 1 and "unknown key" in p.err, "config get of an unknown key is an error", p.err)
    r.check(read_bytes(conf) == before, "the file is byte for byte unchanged after the refusals")
    left = [n for n in os.listdir(srv.dir) if n.startswith(".pop3s.conf.")]
    r.check(not left, "no temporary file is left behind", str(left))
    p = ctl(srv, "config", "set", "MAX_AUTH_FAILURES", "5")
    r.check(p.returncode == 0 and open(conf).read().endswith("\nMAX_AUTH_FAILURES=5\n"),
            "a key not in the file is appended", open(conf).read())
    r.check(login(srv, "alice", pop3test.Server.USERS["alice"]), "the next connection works with the new file")
    # A running server picks a changed value up at the next connection:
    # with MAX_AUTH_FAILURES=1 the first wrong password ends the session.
    p = ctl(srv, "config", "set", "MAX_AUTH_FAILURES", "1")
    c = srv.poplib()
    c.user("alice")
    try:
        c.pass_("wrong")
        closing = b""
    except poplib.error_proto as e:
        closing = e.args[0]
    r.check(p.returncode == 0 and b"closing connection" in closing,
            "the next connection uses the new value, with no restart", closing)
    c.close()
    ctl(srv, "config", "set", "MAX_AUTH_FAILURES", "5")
    p = ctl(srv, "config", "list")
    r.check(p.returncode == 0 and "TIMEOUT=900" in p.out.splitlines(), "config list shows the effective values")
    p = ctl(srv, "config", "set", "TIMEOUT")
    r.check(p.returncode == 2, "config set without a value is a usage error")


def test_stats(r, srv):
    if ctl(srv, "config", "get", "STATE").returncode != 0:
        print("# skip: this build has no STATE key, so no metrics to show")
        return
    state = os.path.join(srv.dir, "state")
    os.makedirs(state, exist_ok=True)
    p = ctl(srv, "config", "set", "STATE", state)
    r.check(p.returncode == 0, "config set STATE", p.err)
    p = ctl(srv, "stats", "--json")
    try:
        data = json.loads(p.out)
    except ValueError:
        data = None
    if p.returncode == 0 and data is None and p.out.strip() == "":
        print("# skip: metrics_print prints nothing (metrics.c is still a stub)")
        return
    keys = {"connections", "sessions_current", "sessions_peak", "logins_ok", "logins_failed",
            "messages_retrieved", "messages_deleted", "bytes_sent", "records_malformed", "updated"}
    r.check(p.returncode == 0 and isinstance(data, dict) and keys <= set(data),
            "stats --json is one JSON object with the counters", p.out + p.err)
    p = ctl(srv, "stats")
    r.check(p.returncode == 0 and "Connections" in p.out, "stats prints the counters for people", p.out + p.err)
    p = ctl(srv, "stats", "--yaml")
    r.check(p.returncode == 2, "stats --yaml is a usage error")


def test_log_args(r, srv):
    empty = os.path.join(srv.dir, "emptyjournal")
    os.mkdir(empty)
    for bad in ("yesterday", "2024-02-30", "2024-13-01", "2024-1-01", "-5x", "-h", "1e9", "2024-01-01 25:00"):
        p = ctl(srv, "log", "--since", bad, "--journal-dir", empty, "alice")
        r.check(p.returncode == 2 and "invalid --since" in p.err and bad in p.err,
                f"log --since {bad!r} is refused", f"rc={p.returncode} {p.err}")
    for good in ("2024-02-29", "2024-11-14 08:47", "2024-11-14 08:47:27", "2024-11-14T08:47:27",
                 "1731570447", "@1731570447", "-1h", "-2d", "-30m", "-1w"):
        p = ctl(srv, "log", "--since", good, "--journal-dir", empty, "alice")
        r.check(p.returncode == 0 and p.out == "", f"log --since {good!r} is accepted",
                f"rc={p.returncode} {p.err}")
    p = ctl(srv, "log", "--journal-dir", empty, "../x")
    r.check(p.returncode == 1 and "invalid user name" in p.err, "log of an invalid user name is refused", p.err)
    p = ctl(srv, "log", "--journal-dir", os.path.join(srv.dir, "missing"), "alice")
    r.check(p.returncode == 1 and "missing" in p.err, "log with a missing journal directory names it", p.err)
    p = ctl(srv, "log")
    r.check(p.returncode == 2, "log without a user is a usage error")


# --- the journal, in a private mount namespace ------------------------------

def journal_child():
    """Runs in `unshare -m`: /run and /var/log/journal are private tmpfs,
    a private journald listens on /run/systemd/journal, and a real logger
    and real sessions write to it."""
    r = pop3test.Results("pop3sctl-journal")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
    # whatever journald.conf says (Storage=persistent too), it writes here
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/var/log"], check=True)
    os.makedirs("/run/systemd/journal")
    os.makedirs("/run/log/journal")
    jd = subprocess.Popen([JOURNALD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.time() + 10
        while not os.path.exists("/run/systemd/journal/socket") and time.time() < end:
            time.sleep(0.05)
        with pop3test.Server(AUTH_DELAY_MS="100") as srv:
            srv.start()
            t0 = int(time.time())
            login(srv, "alice", pop3test.Server.USERS["alice"])
            login(srv, "alice", "wrong password")
            lines = []
            end = time.time() + 15
            while time.time() < end:
                p = ctl(srv, "log", "alice")
                lines = p.out.splitlines()
                # both sessions whole: the later reads below must see the same records
                if sum(" DISCONNECT " in l for l in lines) == 2 and any("LOGIN_FAIL" in l for l in lines):
                    break
                time.sleep(0.2)
            r.check(p.returncode == 0 and any(" LOGIN_OK OK" in l for l in lines),
                    "log alice shows the login from the system journal", p.out + p.err)
            r.check(any(l.split()[1] == "127.0.0.1" for l in lines if l.split()),
                    "the lines carry the client address", p.out)
            r.check(any("LOGIN_FAIL ERR" in l for l in lines), "the failed login is there with its detail", p.out)
            r.check(all(l[:4].isdigit() and l[10] == "T" for l in lines), "each line starts with an ISO time", p.out)
            r.check("wrong password" not in p.out, "no password in the output")
            p2 = ctl(srv, "log", "--journal-dir", "/run/log/journal", "alice")
            r.check(p2.out == p.out, "--journal-dir reads the same records", p2.out + p2.err)
            p3 = ctl(srv, "log", "--since", str(t0 + 3600), "alice")
            r.check(p3.returncode == 0 and p3.out == "", "--since an hour ahead shows nothing", p3.out)
            p4 = ctl(srv, "log", "--since", "-1h", "alice")
            r.check(p4.out == p.out, "--since -1h shows them all", p4.out)
            p5 = ctl(srv, "log", "bob")
            r.check(p5.returncode == 0 and p5.out == "" and "no records" in p5.err,
                    "a user without records gets none", p5.out + p5.err)
    finally:
        jd.send_signal(signal.SIGTERM)
        jd.wait(timeout=10)
    r.finish()


def test_journal(r):
    if os.geteuid() != 0 or shutil.which("unshare") is None or not os.access(JOURNALD, os.X_OK):
        print("# skip: the journal checks need root, unshare and systemd-journald")
        return
    probe = subprocess.run(["unshare", "-m", "mount", "-t", "tmpfs", "tmpfs", "/run"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"# skip: no private mount namespace here: {probe.stderr.strip()}")
        return
    p = subprocess.run(["unshare", "-m", sys.executable, os.path.abspath(__file__), "--journal-child"],
                       capture_output=True, text=True, timeout=300)
    for line in p.stdout.splitlines():
        if line.startswith("ok - "):
            r.check(True, line[5:])
        elif line.startswith("not ok - "):
            r.check(False, line[9:])
        else:
            print("# " + line)
    r.check(p.returncode == 0, "the journal checks ran", p.stderr[-2000:])


def test_ticket_key(r, srv):
    """pop3sctl ticket-key: a fresh 64-octet key, mode 0600, replaced
    atomically (a reader sees a whole old or new key, never a part)."""
    d = os.path.join(srv.dir, "run-pop3s")        # created by the command
    path = os.path.join(d, "ticket-key")
    p = ctl(srv, "ticket-key", "--file", path)
    r.check(p.returncode == 0 and path in p.out, "ticket-key: writes the key", p.err)
    st = os.stat(path)
    r.check(stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid(),
            "ticket-key: the file is 0600, owned by the caller", oct(st.st_mode))
    r.check(stat.S_IMODE(os.stat(d).st_mode) == 0o755, "ticket-key: a missing directory is made 0755")

    def key_of(text):
        name, _, value = text.rstrip("\n").partition("=")
        raw = base64.b64decode(value, validate=True)
        return name, raw, text.count("\n")
    name, k1, nl = key_of(read_bytes(path).decode())
    r.check(name == "POP3S_TICKET_KEY" and len(k1) == 64 and nl == 1,
            "ticket-key: one line POP3S_TICKET_KEY=<base64 of 64 octets>")
    p = ctl(srv, "ticket-key", "--file", path)
    st2 = os.stat(path)
    _, k2, _ = key_of(read_bytes(path).decode())
    r.check(p.returncode == 0 and k2 != k1 and st2.st_ino != st.st_ino,
            "ticket-key: a second run writes a different key into a new file (rename)")

    # a reader racing 30 rotations only ever sees whole keys
    bad, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                name, raw, nl = key_of(read_bytes(path).decode())
                if name != "POP3S_TICKET_KEY" or len(raw) != 64 or nl != 1:
                    bad.append(raw)
            except Exception as e:  # noqa: BLE001 - a torn file
                bad.append(e)
    t = threading.Thread(target=reader)
    t.start()
    for _ in range(30):
        ctl(srv, "ticket-key", "--file", path)
    stop.set()
    t.join()
    r.check(not bad and sorted(os.listdir(d)) == ["ticket-key"],
            "ticket-key: concurrent readers see whole keys; no temporary file is left", repr(bad[:2]))

    p = ctl(srv, "ticket-key", "--file", os.path.join(srv.dir, "no", "such", "ticket-key"))
    r.check(p.returncode == 1 and "No such file or directory" in p.err,
            "ticket-key: a missing parent directory is an error", p.err)
    p = ctl(srv, "ticket-key", "extra")
    r.check(p.returncode == 2 and "unexpected argument" in p.err, "ticket-key: usage error", p.err)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--journal-child":
        journal_child()
        return
    if not os.access(CTL, os.X_OK):
        pop3test.skip(f"{CTL} is not built")
    r = pop3test.Results("pop3sctl")
    with pop3test.Server(AUTH_DELAY_MS="100") as srv:
        srv.start()
        for fn in (test_add, test_refusals, test_tty, test_passwd, test_del, test_list, test_weak_hash,
                   test_config, test_stats, test_log_args, test_ticket_key):
            r.run(lambda res, fn=fn: fn(res, srv))
    r.run(test_journal)
    r.finish()


if __name__ == "__main__":
    main()
