#!/usr/bin/env python3
"""Integration test for pop3s-logger: the real binary, a real POSIX message
queue, records written from Python in the session's wire format.

Run by `make check` with top_srcdir and top_builddir in the environment.
Exit status: 0 pass, 1 fail, 77 skip (automake convention).
"""

import errno
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import logrec_wire as wire  # noqa: E402

SKIP = 77
TIMEOUT = 10.0          # every wait is bounded by this many seconds
T0 = 1731570447         # a fixed timestamp, seconds

builddir = os.environ.get("top_builddir",
                          os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LOGGER = os.path.join(builddir, "src", "logger", "pop3s-logger")


def wait_for(predicate, timeout=TIMEOUT):
    """Polls predicate until it returns something true; returns that or None."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def command(seconds, ip, word, user="alice"):
    """A COMMAND record as a session would send it."""
    return wire.encode(wire.COMMAND, time_us=seconds * 1000000 + 123456, pid=4242,
                       session="0123456789abcdef", client_ip=ip, user=user,
                       command=word, status="OK")


class Logger:
    """One pop3s-logger with its own config, queue, log file and notify
    socket (so READY=1 and STOPPING=1 can be checked without systemd)."""

    def __init__(self, tmp, tag):
        self.dir = os.path.join(tmp, tag)
        os.mkdir(self.dir)
        self.queue = "/pop3s-itest-%d-%s" % (os.getpid(), tag)
        self.log = os.path.join(self.dir, "pop3s.log")
        self.conf = os.path.join(self.dir, "pop3s.conf")
        self.stderr_path = os.path.join(self.dir, "stderr")
        with open(self.conf, "w") as f:
            f.write("# pop3s-logger integration test\nQUEUE=%s\nLOGS=%s\nQUEUE_DEPTH=10\n"
                    % (self.queue, self.log))
        self.proc = None
        self.stderr = None
        self.mq = None
        self.notify_path = os.path.join(self.dir, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.settimeout(TIMEOUT)
        wire.unlink(self.queue)

    def start(self, listen_fd=None):
        """Starts the logger; with listen_fd, hands that queue descriptor
        over as fd 3 the way systemd does (LISTEN_FDS, LISTEN_PID)."""
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        argv = [LOGGER, "-c", self.conf]
        preexec = None
        if listen_fd is not None:
            env["LISTEN_FDS"] = "1"
            # LISTEN_PID must be the logger's pid: sh execs it in place.
            argv = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', "sh"] + argv

            def preexec():
                # close_fds would run after this and close fd 3; without it
                # only inheritable descriptors pass, and Python's are not.
                os.dup2(listen_fd, 3)
                os.set_inheritable(3, True)
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     close_fds=listen_fd is None, preexec_fn=preexec)
        if not self.wait_notify("READY=1"):
            raise AssertionError("no READY=1 within %ss; stderr: %s" % (TIMEOUT, self.errors()))
        if self.mq is None:
            self.mq = wire.MessageQueue(self.queue)

    def wait_notify(self, what):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                msg = self.notify.recv(4096).decode(errors="replace")
            except socket.timeout:
                return False
            if what in msg.split("\n"):
                return True
        return False

    def send(self, *records):
        for r in records:
            self.mq.send(r)

    def stop(self, sig=signal.SIGTERM):
        """Signals the logger and returns its exit status."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            self.stderr.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def lines(self, path=None):
        text = read(path or self.log)
        return [] if text is None else text.splitlines()

    def wait_lines(self, want, path=None):
        """Waits until the file holds at least the lines in want."""
        return wait_for(lambda: len(self.lines(path)) >= len(want)) and self.lines(path) == want

    def errors(self):
        return (read(self.stderr_path) or "").strip()

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        if self.stderr is not None:
            self.stderr.close()
        if self.mq is not None:
            self.mq.close()
        self.notify.close()
        wire.unlink(self.queue)


# --- checks: each returns None on success or raises AssertionError ---------

def difference(got, want):
    """A short description of how two lists of lines differ."""
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return "line %d is %r, want %r" % (i + 1, a, b)
    return "%d lines, want %d" % (len(got), len(want))


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def check_config_dump(tmp):
    lg = Logger(tmp, "dump")
    try:
        p = subprocess.run([LOGGER, "-c", lg.conf, "-n"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        expect(p.returncode == 0, "exit status %d: %s" % (p.returncode, p.stderr))
        for line in ("QUEUE=" + lg.queue, "LOGS=" + lg.log, "QUEUE_DEPTH=10"):
            expect(line in p.stdout.splitlines(), "%r missing from:\n%s" % (line, p.stdout))
    finally:
        lg.cleanup()


def check_bad_config(tmp):
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write("# comment\nQUEUE=/pop3s-itest-bad\nNO_SUCH_KEY=1\n")
    p = subprocess.run([LOGGER, "-c", conf], capture_output=True, text=True, timeout=TIMEOUT)
    expect(p.returncode != 0, "exit status 0")
    expect(p.stderr.startswith("pop3s-logger: " + conf + ":3: unknown key"), "stderr %r lacks %s:3:" % (p.stderr, conf))


def check_command_lines(tmp):
    lg = Logger(tmp, "commands")
    try:
        lg.start()
        lg.send(command(T0, "194.10.15.3", "USER"),
                command(T0 + 1, "::ffff:194.10.15.3", "PASS"),
                command(T0 + 2, "2001:db8::1", "RETR"),
                command(T0 + 3, "::ffff:127.0.0.1", "QUIT", user=""))
        want = ["%d 194.10.15.3 USER" % T0, "%d 194.10.15.3 PASS" % (T0 + 1),
                "%d 2001:db8::1 RETR" % (T0 + 2), "%d 127.0.0.1 QUIT" % (T0 + 3)]
        expect(lg.wait_lines(want), "log file %r, want %r" % (lg.lines(), want))
    finally:
        lg.cleanup()


def check_other_records_not_in_file(tmp):
    lg = Logger(tmp, "others")
    try:
        lg.start()
        common = dict(pid=7, session="00ff00ff00ff00ff", client_ip="10.0.0.1")
        lg.send(wire.encode(wire.CONNECT, time_us=T0 * 1000000, **common),
                wire.encode(wire.LOGIN_OK, time_us=T0 * 1000000, user="bob", **common),
                wire.encode(wire.LOGIN_FAIL, time_us=T0 * 1000000, user="eve",
                            detail="bad password", **common),
                wire.encode(wire.DISCONNECT, time_us=T0 * 1000000, sent=100, detail="QUIT",
                            **common),
                command(T0 + 9, "10.0.0.1", "NOOP"))
        want = ["%d 10.0.0.1 NOOP" % (T0 + 9)]
        expect(lg.wait_lines(want), "log file %r, want only %r" % (lg.lines(), want))
    finally:
        lg.cleanup()


def check_malformed_dropped(tmp):
    lg = Logger(tmp, "malformed")
    try:
        lg.start()
        rng = random.Random(1939)
        valid = command(T0, "1.2.3.4", "STAT")
        garbage = [
            b"\x00",
            bytes(rng.getrandbits(8) for _ in range(100)),
            valid[:-1],                                         # truncated
            valid + b"x",                                       # trailing byte
            b"\x02" + valid[1:],                                # bad version
            valid[:1] + b"\x09" + valid[2:],                    # bad type
            wire.encode(wire.COMMAND, client_ip="1.2.3.4", command="US\nER", check=False),
            wire.encode(wire.COMMAND, client_ip="1.2.3.4 5", command="USER", check=False),
            wire.encode(wire.COMMAND, client_ip="1.2.3.4", command="X" * 17, check=False),
            b"\xff" * wire.MAX_SIZE,
        ]
        garbage += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 512)))
                    for _ in range(40)]
        lg.send(*garbage)
        lg.send(command(T0 + 1, "1.2.3.4", "LIST"))
        want = ["%d 1.2.3.4 LIST" % (T0 + 1)]
        expect(lg.wait_lines(want), "log file %r, want %r" % (lg.lines(), want))
        expect(lg.alive(), "logger died")
        expect("malformed records dropped" in lg.errors(),
               "no report of malformed records in stderr: %r" % lg.errors())
    finally:
        lg.cleanup()


def check_burst(tmp):
    lg = Logger(tmp, "burst")
    try:
        lg.start()
        n = 300
        lg.send(*[command(T0 + i, "10.1.%d.%d" % (i // 256, i % 256), "RETR")
                  for i in range(n)])
        want = ["%d 10.1.%d.%d RETR" % (T0 + i, i // 256, i % 256) for i in range(n)]
        expect(lg.wait_lines(want), difference(lg.lines(), want))
    finally:
        lg.cleanup()


def check_sighup_reopens(tmp):
    lg = Logger(tmp, "sighup")
    try:
        lg.start()
        rotated = lg.log + ".1"
        lg.send(command(T0, "1.1.1.1", "USER"))
        expect(lg.wait_lines(["%d 1.1.1.1 USER" % T0]), "first line missing")
        os.rename(lg.log, rotated)
        lg.proc.send_signal(signal.SIGHUP)
        expect(wait_for(lambda: os.path.exists(lg.log)), "no new file after SIGHUP")
        lg.send(command(T0 + 1, "2.2.2.2", "PASS"))
        expect(lg.wait_lines(["%d 2.2.2.2 PASS" % (T0 + 1)]),
               "new file %r" % lg.lines())
        expect(lg.lines(rotated) == ["%d 1.1.1.1 USER" % T0],
               "rotated file %r" % lg.lines(rotated))
        expect(lg.alive(), "logger died on SIGHUP")
    finally:
        lg.cleanup()


def check_records_survive_restart(tmp):
    lg = Logger(tmp, "restart")
    try:
        lg.start()
        lg.send(command(T0, "1.1.1.1", "USER"))
        expect(lg.wait_lines(["%d 1.1.1.1 USER" % T0]), "first line missing")
        status = lg.stop()
        expect(status == 0, "exit status %s after SIGTERM" % status)
        later = [command(T0 + i, "3.3.3.3", "RETR") for i in range(1, 6)]
        lg.send(*later)     # the queue outlives the logger
        lg.start()
        want = ["%d 1.1.1.1 USER" % T0] + ["%d 3.3.3.3 RETR" % (T0 + i) for i in range(1, 6)]
        expect(lg.wait_lines(want), "log file %r, want %r" % (lg.lines(), want))
    finally:
        lg.cleanup()


def check_sigterm_drains(tmp):
    lg = Logger(tmp, "drain")
    try:
        lg.start()
        # Stopped, the logger cannot read: the records are still queued
        # when it sees SIGTERM.
        lg.proc.send_signal(signal.SIGSTOP)
        lg.send(*[command(T0 + i, "4.4.4.4", "DELE") for i in range(8)])
        lg.proc.send_signal(signal.SIGTERM)
        lg.proc.send_signal(signal.SIGCONT)
        status = lg.proc.wait(timeout=TIMEOUT)
        lg.stderr.close()
        expect(status == 0, "exit status %s: %s" % (status, lg.errors()))
        expect(lg.wait_notify("STOPPING=1"), "no STOPPING=1")
        want = ["%d 4.4.4.4 DELE" % (T0 + i) for i in range(8)]
        expect(lg.lines() == want, "log file %r, want %r" % (lg.lines(), want))
    finally:
        lg.cleanup()


def check_socket_activation(tmp):
    lg = Logger(tmp, "activation")
    try:
        # A blocking queue of the configured name, then unlinked: only the
        # handed-over descriptor reaches it, so a line proves it was used.
        fd = wire.create(lg.queue, 4)
        lg.mq = wire.MessageQueue(fd=fd)
        wire.unlink(lg.queue)
        lg.start(listen_fd=fd)
        lg.send(command(T0, "5.5.5.5", "UIDL"))
        expect(lg.wait_lines(["%d 5.5.5.5 UIDL" % T0]), "log file %r" % lg.lines())
        status = lg.stop()
        expect(status == 0, "exit status %s: %s" % (status, lg.errors()))
    finally:
        lg.cleanup()


CHECKS = [
    ("-n prints the configuration", check_config_dump),
    ("an unknown key fails with FILE:LINE:", check_bad_config),
    ("command records become 'TS IP CMD' lines", check_command_lines),
    ("other record types stay out of the file", check_other_records_not_in_file),
    ("malformed records are dropped, the logger goes on", check_malformed_dropped),
    ("a burst of records all land, in order", check_burst),
    ("SIGHUP after rename writes a fresh file", check_sighup_reopens),
    ("records sent while the logger is down land after restart",
     check_records_survive_restart),
    ("SIGTERM drains the queue and exits 0", check_sigterm_drains),
    ("a queue handed over by systemd (LISTEN_FDS) is used", check_socket_activation),
]


def main():
    if not os.access(LOGGER, os.X_OK):
        print("SKIP: %s not built" % LOGGER)
        return SKIP
    try:
        probe = "/pop3s-itest-probe-%d" % os.getpid()
        wire.unlink(probe)
        try:
            wire.MessageQueue(probe)
        except OSError as e:
            if e.errno != errno.ENOENT:     # the expected answer
                print("SKIP: POSIX message queues unusable: %s" % e)
                return SKIP
    except OSError as e:
        print("SKIP: POSIX message queues unusable: %s" % e)
        return SKIP

    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="pop3s-logger-test.")
    try:
        for name, fn in CHECKS:
            try:
                fn(tmp)
                print("PASS: %s" % name)
                passed += 1
            except Exception as e:  # one broken check must not hide the others
                print("FAIL: %s: %s" % (name, e))
                if not isinstance(e, AssertionError):
                    traceback.print_exc()
                failed += 1
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
