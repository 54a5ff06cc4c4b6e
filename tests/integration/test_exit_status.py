"""pop3s-session, pop3s-logger and pop3sctl share one exit status
convention (exitcode.h, EXIT STATUS in each man page): 0 done, 1 error,
2 usage error."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import LOGGER, SESSION, TOP_BUILDDIR, Results, skip  # noqa: E402

CTL = os.path.join(TOP_BUILDDIR, "src", "ctl", "pop3sctl")
R = Results("exit-status")
for prog in (SESSION, LOGGER, CTL):
    if not os.access(prog, os.X_OK):
        skip(f"{prog} is not built")

d = tempfile.mkdtemp(prefix="pop3s-exit.")
bad = os.path.join(d, "bad.conf")
with open(bad, "w") as f:
    f.write("NO_SUCH_KEY=1\n")


def run(*argv):
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


for prog in (SESSION, LOGGER, CTL):
    name = os.path.basename(prog)
    rc, out, err = run(prog, "-h")
    R.check(rc == 0 and "usage" in out.lower() and err == "", f"{name} -h: usage on stdout, exit 0",
            f"rc={rc} err={err!r}")
    rc, out, err = run(prog, "-x")
    R.check(rc == 2 and "usage" in err.lower() and out == "", f"{name} -x: usage on stderr, exit 2",
            f"rc={rc} err={err!r}")
    rc, out, err = run(prog, "-c")
    R.check(rc == 2, f"{name} -c without its file: exit 2", f"rc={rc} err={err!r}")

for prog in (SESSION, LOGGER):
    name = os.path.basename(prog)
    rc, _, err = run(prog, "-n", "extra")
    R.check(rc == 2 and "unexpected argument" in err, f"{name} with an extra argument: exit 2",
            f"rc={rc} err={err!r}")
    rc, _, err = run(prog, "-n", "-c", bad)
    R.check(rc == 1 and "NO_SUCH_KEY" in err, f"{name} with a bad configuration: exit 1",
            f"rc={rc} err={err!r}")

rc, _, err = run(CTL)
R.check(rc == 2, "pop3sctl without a command: exit 2", f"rc={rc} err={err!r}")
rc, _, err = run(CTL, "frobnicate")
R.check(rc == 2 and "unknown command" in err, "pop3sctl with an unknown command: exit 2",
        f"rc={rc} err={err!r}")
rc, _, err = run(CTL, "user")
R.check(rc == 2, "pop3sctl user without a subcommand: exit 2", f"rc={rc} err={err!r}")
rc, _, err = run(CTL, "-c", bad, "user", "list")
R.check(rc == 1 and "NO_SUCH_KEY" in err, "pop3sctl with a bad configuration: exit 1",
        f"rc={rc} err={err!r}")
rc, _, err = run(CTL, "-c", bad, "config", "get", "TIMEOUT", "extra")
R.check(rc == 2, "pop3sctl config get with an extra argument: exit 2", f"rc={rc} err={err!r}")

subprocess.run(["rm", "-rf", d])
R.finish()
