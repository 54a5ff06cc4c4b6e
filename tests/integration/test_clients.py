"""More real POP3 clients from Debian against the real server: mpop (which
keeps UIDLs between runs, as Thunderbird and Outlook do) and fetchmail."""
import mailbox
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import Results, Server  # noqa: E402

R = Results("clients")


def count_mbox(path):
    box = mailbox.mbox(path)
    try:
        return len(box)
    finally:
        box.close()


def test_mpop(r):
    if shutil.which("mpop") is None:
        print("# mpop is not installed: skipped")
        return
    with Server().start() as srv:
        stored = len(srv.messages("alice"))
        out = os.path.join(srv.dir, "mpop.mbox")
        open(out, "w").close()
        rc = os.path.join(srv.dir, "mpoprc")

        def run(keep):
            with open(rc, "w") as f:
                f.write(f"defaults\ntls on\ntls_starttls off\ntls_trust_file {srv.cert}\n"
                        f"account alice\nhost {srv.host}\nport {srv.port}\nuser alice\n"
                        f"auth plain\npassword {Server.USERS['alice']}\ndelivery mbox {out}\n"
                        f"keep {'on' if keep else 'off'}\nuidls_file {srv.dir}/uidls\n")
            os.chmod(rc, 0o600)
            return subprocess.run(["mpop", "-C", rc, "alice"], capture_output=True, text=True,
                                  timeout=120)

        p = run(keep=True)
        r.check(p.returncode == 0 and count_mbox(out) == stored,
                "mpop fetches every message", f"rc={p.returncode} {p.stderr} {count_mbox(out)}/{stored}")
        p = run(keep=True)
        r.check(p.returncode == 0 and "new: no messages" in p.stdout and count_mbox(out) == stored,
                "a second mpop run finds nothing new: UIDLs are stable across sessions",
                p.stdout + p.stderr)
        r.check(len(srv.messages("alice")) == stored, "with keep on nothing is removed")
        p = run(keep=False)
        r.check(p.returncode == 0 and srv.messages("alice") == [],
                "with keep off mpop deletes what it has (DELE, QUIT)",
                f"rc={p.returncode} {p.stderr} left: {srv.messages('alice')}")
        lines = srv.wait_log(lambda l: sum(x.endswith(" QUIT") for x in l) >= 3)
        cmds = [l.split()[2] for l in lines]
        r.check({"CAPA", "AUTH", "UIDL", "RETR", "DELE", "QUIT"} <= set(cmds),
                "the log has mpop's commands", repr(sorted(set(cmds))))


def test_fetchmail(r):
    if shutil.which("fetchmail") is None:
        print("# fetchmail is not installed: skipped")
        return
    with Server().start() as srv:
        stored = len(srv.messages("bob"))
        out = os.path.join(srv.dir, "fetched")
        os.mkdir(out)
        rc = os.path.join(srv.dir, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(f'poll localhost via {srv.host} service {srv.port} protocol pop3 auth password\n'
                    f'  user "bob" password "{Server.USERS["bob"]}" is root here\n'
                    f'  ssl sslcertck sslcertfile "{srv.cert}" sslcommonname "localhost" sslproto "TLS1.2+"\n'
                    f'  keep fetchall\n'
                    f'  mda "/bin/sh -c \'cat > {out}/msg.$$\'"\n')
        os.chmod(rc, 0o600)
        env = dict(os.environ, FETCHMAILHOME=srv.dir, HOME=srv.dir)
        p = subprocess.run(["fetchmail", "-f", rc, "--nodetach", "--nosyslog", "--idfile",
                            os.path.join(srv.dir, "fetchids")], env=env, capture_output=True,
                           text=True, timeout=120)
        got = len(os.listdir(out))
        r.check(p.returncode == 0 and got == stored, "fetchmail fetches every message over TLS",
                f"rc={p.returncode} {got}/{stored} {p.stderr[-500:]}")
        r.check(len(srv.messages("bob")) == stored, "with keep, fetchmail removes nothing")


for t in (test_mpop, test_fetchmail):
    R.run(t)
R.finish()
