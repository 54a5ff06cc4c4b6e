"""Other writers change the mailbox while a real client (Python's poplib,
or raw TLS for exact bytes) holds a session: QUIT removes only the files the
client saw, follows a Maildir message another reader renamed, refuses a
message changed since login, never sends a message with another octet count
than announced, and never serves an impossible size from a forged cache."""
import os
import poplib
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3test import RawClient, Results, Server, to_crlf  # noqa: E402

R = Results("mailbox-races")
ALICE = Server.USERS["alice"]
BOB = Server.USERS["bob"]


def login(srv, user, pw):
    p = srv.poplib()
    p.user(user)
    p.pass_(pw)
    return p


def uidl_map(p):
    """{uidl: message number}"""
    _, lines, _ = p.uidl()
    return {b.decode(): int(a) for a, b in (l.split() for l in lines)}


def replace_file(path, data):
    """As a delivery agent would: write aside, rename over (a new inode)."""
    tmp = os.path.join(os.path.dirname(path), ".replacing")
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def quit_reply(p):
    try:
        return p.quit()
    except poplib.error_proto as e:
        return e.args[0]


def test_replaced_plain_file_kept(r):
    with Server().start() as srv:
        name = sorted(os.listdir(os.path.join(srv.home, "bob")))[0]
        path = os.path.join(srv.home, "bob", name)
        p = login(srv, "bob", BOB)
        n = uidl_map(p)[name]
        p.dele(n)
        replace_file(path, b"Subject: delivered after login\n\nnew mail\n")
        resp = quit_reply(p)
        r.check(resp == b"-ERR [SYS/TEMP] 1 deleted message not removed, 0 removed",
                "QUIT after a plain file was replaced: -ERR [SYS/TEMP], 0 removed", resp)
        with open(path, "rb") as f:
            r.check(f.read() == b"Subject: delivered after login\n\nnew mail\n",
                    "the file delivered under the same name is not deleted")


def test_renamed_maildir_message_removed(r):
    with Server().start() as srv:
        new = os.path.join(srv.home, "alice", "new")
        name = sorted(os.listdir(new))[0]
        before = srv.messages("alice")
        p = login(srv, "alice", ALICE)
        p.dele(uidl_map(p)[name])
        # Another reader (an IMAP server, a local MUA) saw it meanwhile.
        moved = os.path.join(srv.home, "alice", "cur", name + ":2,S")
        os.rename(os.path.join(new, name), moved)
        resp = quit_reply(p)
        r.check(resp == b"+OK Logging out, 1 message removed",
                "QUIT after new/ -> cur/ by another reader: +OK, 1 removed", resp)
        now = srv.messages("alice")
        r.check(not os.path.exists(moved) and len(now) == len(before) - 1,
                "the renamed message is removed, and only it", repr(now))


def test_changed_message_refused(r):
    with Server().start() as srv:
        new = os.path.join(srv.home, "alice", "new")
        name = sorted(os.listdir(new))[0]
        p = login(srv, "alice", ALICE)
        num = uidl_map(p)[name]
        _, listing, _ = p.list()
        other = next(int(l.split()[0]) for l in listing if int(l.split()[0]) != num)
        with open(os.path.join(new, name), "ab") as f:
            f.write(b"grown after login\n")
        for cmd in (lambda: p.retr(num), lambda: p.top(num, 0)):
            try:
                resp = cmd()[0]
            except poplib.error_proto as e:
                resp = e.args[0]
            r.check(resp == f"-ERR [SYS/TEMP] Message {num} changed since login".encode(),
                    "RETR/TOP of a message grown since login: -ERR [SYS/TEMP]", resp)
        resp, lines, octets = p.retr(other)
        m = re.match(rb"\+OK (\d+) octets", resp)
        r.check(m and int(m.group(1)) == len(b"\r\n".join(lines) + b"\r\n"),
                "the session goes on: another message streams with its announced size")
        p.dele(num)
        resp = quit_reply(p)
        r.check(resp.startswith(b"-ERR [SYS/TEMP] 1 deleted message not removed"),
                "and DELE + QUIT keeps the changed message", resp)
        r.check(os.path.exists(os.path.join(new, name)), "the changed message is still there")


def test_forged_size_cache(r):
    with Server().start() as srv:
        user = os.path.join(srv.home, "alice")
        rels = srv.messages("alice")
        lines = ["pop3s-sizes 1"]
        for i, rel in enumerate(sorted(rels)):
            st = os.stat(os.path.join(user, rel))
            size = (1 << 64) - 1 - i
            lines.append(f"{st.st_ino} {st.st_size} {st.st_mtime_ns // 10**9} "
                         f"{st.st_mtime_ns % 10**9} {size} {rel}")
        with open(os.path.join(user, ".pop3s-sizes"), "w") as f:
            f.write("\n".join(lines) + "\n")
        want = {}
        for rel in rels:
            with open(os.path.join(user, rel), "rb") as f:
                want[os.path.basename(rel).split(":")[0]] = len(to_crlf(f.read()))
        p = login(srv, "alice", ALICE)
        count, octets = p.stat()
        r.check(count == len(want) and octets == sum(want.values()),
                "STAT with a forged cache (18446744073709551615...): the true total",
                f"{count} {octets} vs {sum(want.values())}")
        _, listing, _ = p.list()
        uid = {v: k for k, v in uidl_map(p).items()}
        sizes = {uid[int(a)]: int(b) for a, b in (l.split() for l in listing)}
        r.check(sizes == want, "LIST serves no forged size", repr(sizes))
        p.quit()
        with open(os.path.join(user, ".pop3s-sizes")) as f:
            r.check("18446744073709551615" not in f.read(), "the cache is rewritten with true sizes")


def rchar(pid):
    with open(f"/proc/{pid}/io") as f:
        for l in f:
            if l.startswith("rchar:"):
                return int(l.split()[1])
    return 0


def wait_blocked(pid, base, limit):
    """Waits until the session stops reading (blocked sending to a client
    that does not read) before it has read `limit` octets since `base`."""
    last, since = rchar(pid), time.time()
    end = time.time() + 20
    while time.time() < end:
        time.sleep(0.05)
        now = rchar(pid)
        if now != last:
            last, since = now, time.time()
        elif time.time() - since > 0.4:
            return now - base < limit
    return False


def small_window_client(srv):
    """A TLS client with a small receive buffer (no autotuning up to
    tcp_rmem's maximum), so a session sending a large message blocks."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.settimeout(60)
    s.connect((srv.host, srv.port))
    return RawClient(srv.ssl_context().wrap_socket(s, server_hostname="localhost"))


def test_change_while_streaming(r):
    line = b"B" * 99 + b"\n"
    body = b"Subject: big\n\n" + line * (240 * 1024)     # 24 MiB
    size = len(to_crlf(body))
    for what, change in (("grows", lambda f: open(f, "ab").write(b"more\n" * 1000)),
                         ("shrinks", lambda f: os.truncate(f, 1000))):
        with Server().start() as srv:
            path = os.path.join(srv.home, "bob", "0000-big")
            with open(path, "wb") as f:
                f.write(body)
            os.utime(path, (1000, 1000))
            c = small_window_client(srv)
            c.send(f"USER bob\r\nPASS {BOB}\r\n".encode())
            c.line()
            c.line()
            pid = srv.session_pids()[0]
            base = rchar(pid)
            c.send(b"RETR 1\r\n")
            head = c.line()
            r.check(head == f"+OK {size} octets".encode(), f"RETR announces {size} octets", head)
            blocked = wait_blocked(pid, base, len(body) // 2)
            r.check(blocked, "the session is blocked mid-message (the client reads nothing)")
            change(path)
            got = bytearray(c.buf)
            c.buf = b""
            c.sock.settimeout(60)
            try:
                while True:
                    chunk = c.sock.recv(1 << 20)
                    if not chunk:
                        break
                    got += chunk
            except OSError:
                pass
            # No line of the message starts with '.', so no octet is stuffed.
            r.check(not got.endswith(b"\r\n.\r\n"),
                    f"a message that {what} while sent is never terminated", repr(bytes(got[-20:])))
            r.check(len(got) <= size, f"not one octet past the announced size ({len(got)} <= {size})")
            r.check(srv.wait_sessions_gone(), "the session ends the connection")
            c.close()


for t in (test_replaced_plain_file_kept, test_renamed_maildir_message_removed,
          test_changed_message_refused, test_forged_size_cache, test_change_while_streaming):
    R.run(t)
R.finish()
