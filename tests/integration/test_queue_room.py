"""When root's message queue budget (RLIMIT_MSGQUEUE, shared by every queue
one user creates) has no room for the log queue, pop3s-logger says so and
says why, both when probing for pop3s-logger.socket (-Q) and when it creates
the queue itself; with room again, both work.

The budget is per user: the test fills the budget of user nobody, not
root's, so tests running beside it keep theirs."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import LOGGER, Results, mq_fill_budget, mq_unlink, skip  # noqa: E402

R = Results("queue-room")
if not os.access(LOGGER, os.X_OK):
    skip(f"{LOGGER} is not built")
if os.geteuid() != 0:
    skip("needs root to act as another user")

NOBODY = 65534
d = tempfile.mkdtemp(prefix="pop3s-qroom.")
os.chmod(d, 0o755)
queue = f"/pop3s-qroom-{os.getpid()}"
conf = os.path.join(d, "pop3s.conf")
with open(conf, "w") as f:
    f.write(f"QUEUE={queue}\nQUEUE_DEPTH=10\nLOGS={d}/log/pop3s.log\nSTATE={d}/state\n")
os.chmod(conf, 0o644)
os.makedirs(os.path.join(d, "log"))
os.makedirs(os.path.join(d, "state"))
os.chown(os.path.join(d, "log"), NOBODY, NOBODY)
os.chown(os.path.join(d, "state"), NOBODY, NOBODY)


def as_nobody(fn):
    """Runs fn() in a child with uid nobody; returns its (exit code, output)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 1
        try:
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            code, out = fn()
            os.write(w, out.encode())
        finally:
            os._exit(code)
    os.close(w)
    out = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        out += b
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode()


def logger(*args):
    p = subprocess.run([LOGGER, "-c", conf, *args], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr


def scenario():
    lines = []
    names = mq_fill_budget(f"{queue}-fill")
    try:
        lines.append(f"filled {len(names)}")
        rc, err = logger("-Q", "10")
        lines.append(f"probe-full {rc} {err.strip()}")
        p = subprocess.Popen([LOGGER, "-c", conf], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        lines.append(f"start-full {p.returncode} {' | '.join(err.strip().splitlines())}")
    finally:
        for n in names:
            mq_unlink(n)
    rc, err = logger("-Q", "10")
    lines.append(f"probe-room {rc} {err.strip()}")
    return 0, "\n".join(lines) + "\n"


code, out = as_nobody(scenario)
res = {}
for line in out.splitlines():
    k, _, v = line.partition(" ")
    res[k] = v
R.check(code == 0 and int(res.get("filled", "0")) > 0, "nobody's message queue budget is filled",
        out)
rc, _, err = res.get("probe-full", "x ").partition(" ")
R.check(rc == "1" and f"cannot create the log queue {queue} (10 records of 512 octets" in err
        and "user nobody (uid 65534) already use up its limit of" in err
        and "RLIMIT_MSGQUEUE" in err and "MessageQueueMaxMessages=" in err,
        "-Q without room: exit 1, and the message says the budget is used up and what to do", err)
rc, _, err = res.get("start-full", "x ").partition(" ")
R.check(rc == "1" and f"QUEUE_DEPTH=10: cannot create the log queue {queue}" in err
        and "RLIMIT_MSGQUEUE" in err and "or lower QUEUE_DEPTH" in err and err.count("pop3s-logger:") == 1,
        "the logger creating its queue without room: exit 1 with the same reason", err)
rc, _, err = res.get("probe-room", "x ").partition(" ")
R.check(rc == "0" and err == "", "-Q with room again: exit 0, silent", err)
mq_unlink(queue)
subprocess.run(["rm", "-rf", d])
R.finish()
