"""curl's pop3s:// client against the real server: LIST, RETR, DELE."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import Results, Server, skip, to_crlf  # noqa: E402

R = Results("curl")
if subprocess.run(["curl", "--version"], capture_output=True).returncode != 0:
    skip("curl is not installed")


def curl(srv, path="", *args, user="alice"):
    url = f"pop3s://{srv.host}:{srv.port}/{path}"
    p = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", srv.cert,
                        "--user", f"{user}:{Server.USERS[user]}", *args, url],
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


with Server().start() as srv:
    files = srv.messages("alice")
    rc, out, err = curl(srv)
    listing = [l.split() for l in out.decode().splitlines() if l.strip()]
    R.check(rc == 0 and len(listing) == len(files), "curl lists every message", f"rc={rc} {err} {out[:200]!r}")
    sizes = {int(n): int(s) for n, s in listing}

    rc, out, err = curl(srv, "", "--request", "UIDL")
    uidl = {int(n): u for n, u in (l.split() for l in out.decode().splitlines() if l.strip())}
    ok = rc == 0
    for n, u in uidl.items():
        rel = next(f for f in files if os.path.basename(f).split(":")[0] == u)
        with open(os.path.join(srv.home, "alice", rel), "rb") as f:
            want = to_crlf(f.read())
        rc, body, err = curl(srv, str(n))
        if rc != 0 or body != want or sizes[n] != len(want):
            ok = False
            print(f"# message {n}: rc={rc} curl {len(body)} LIST {sizes[n]} stored {len(want)} {err}")
    R.check(ok and uidl, "curl RETR of every message equals the stored message, size as LISTed")

    victim = uidl[1]
    rc, out, err = curl(srv, "1", "--request", "DELE", "--list-only", "--no-progress-meter", "-I")
    after = srv.messages("alice")
    R.check(rc == 0 and len(after) == len(files) - 1
            and all(not os.path.basename(f).startswith(victim) for f in after),
            "curl DELE (with its QUIT) removes exactly that message", f"rc={rc} {err}")

    rc, out, err = curl(srv, "999")
    R.check(rc != 0, "curl RETR of a missing message fails", f"rc={rc}")
    rc, out, err = curl(srv, user="bob")
    R.check(rc == 0, "bob's plain-layout mailbox lists", err)

    lines = srv.wait_log(lambda l: sum(x.endswith(" QUIT") for x in l) >= 4 + len(uidl))
    cmds = [l.split()[2] for l in lines]
    R.check({"CAPA", "LIST", "RETR", "DELE", "UIDL", "QUIT"} <= set(cmds),
            "the log has curl's commands", repr(sorted(set(cmds))))
    R.check(("AUTH" in cmds) or ("USER" in cmds), "the log has curl's login command")
    R.check(all(l.split()[1] == "127.0.0.1" for l in lines), "every line has the client address")
R.finish()
