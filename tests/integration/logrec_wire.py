"""Encoder for pop3s log records, wire format version 1 (src/common/logrec.h),
and a small sender for POSIX message queues through ctypes, for tests that
talk to pop3s-logger without a session.

Layout (big-endian): u8 version, u8 type, u16 total length, u64 time in
microseconds, u32 pid, u64 bytes (for UPDATE: messages removed), then six fields of u8 length + octets:
session id, client ip, user, command, status, detail.
"""

import ctypes
import ctypes.util
import errno
import os
import struct
import threading
import time

VERSION = 1
CONNECT, COMMAND, LOGIN_OK, LOGIN_FAIL, DISCONNECT, UPDATE, AUTH_FAIL = range(1, 8)
MAX_SIZE = 512
HEADER = struct.Struct(">BBHQIQ")

# (name, maximum length, token): tokens are printable ASCII without space,
# other fields may hold anything but control octets.
FIELDS = (
    ("session", 32, True),
    ("client_ip", 45, True),
    ("user", 64, False),
    ("command", 16, True),
    ("status", 8, True),
    ("detail", 160, False),
)


def _octets(value):
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _valid(value, maximum, token):
    if len(value) > maximum:
        return False
    if token:
        return all(0x21 <= c <= 0x7E for c in value)
    return all(c >= 0x20 and c != 0x7F for c in value)


def encode(rtype, time_us=0, pid=0, sent=0, session="", client_ip="", user="",
           command="", status="", detail="", check=True, removed=0):
    """Returns the record as bytes. With check=False, field contents are not
    validated, so tests can build records the logger must reject. The u64
    slot carries sent, or removed for an UPDATE record."""
    values = dict(session=session, client_ip=client_ip, user=user,
                  command=command, status=status, detail=detail)
    body = b""
    for name, maximum, token in FIELDS:
        value = _octets(values[name])
        if check and not _valid(value, maximum, token):
            raise ValueError("bad %s field: %r" % (name, value))
        body += bytes([len(value) & 0xFF]) + value
    total = HEADER.size + len(body)
    if check and not 1 <= rtype <= UPDATE:
        raise ValueError("bad record type %d" % rtype)
    slot = removed if rtype == UPDATE else sent
    return HEADER.pack(VERSION, rtype, total & 0xFFFF, time_us, pid, slot) + body


def _librt():
    for name in (ctypes.util.find_library("rt"), "librt.so.1", None):
        try:
            lib = ctypes.CDLL(name, use_errno=True)
            lib.mq_open  # glibc >= 2.34 has it in libc; older ones in librt
            return lib
        except (OSError, AttributeError):
            continue
    raise OSError(errno.ENOSYS, "no mq_open in librt or libc")


class _MqAttr(ctypes.Structure):
    _fields_ = [("mq_flags", ctypes.c_long), ("mq_maxmsg", ctypes.c_long),
                ("mq_msgsize", ctypes.c_long), ("mq_curmsgs", ctypes.c_long),
                ("reserved", ctypes.c_long * 4)]


def create(name, depth, msgsize=MAX_SIZE, mode=0o600):
    """Creates a queue the way systemd's ListenMessageQueue= does (blocking,
    read-write here) and returns its descriptor."""
    lib = _librt()   # mq_open is variadic: no argtypes for this call
    attr = _MqAttr(0, depth, msgsize, 0)
    fd = lib.mq_open(name.encode(), os.O_RDWR | os.O_CREAT | os.O_EXCL,
                     ctypes.c_uint(mode), ctypes.byref(attr))
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, "mq_open %s: %s" % (name, os.strerror(e)))
    return fd


class MessageQueue:
    """A sending descriptor for an existing POSIX message queue, opened by
    name or given as a descriptor (which it then owns)."""

    def __init__(self, name=None, fd=None):
        self.lib = _librt()
        self.lib.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self.lib.mq_open.restype = ctypes.c_int
        self.lib.mq_send.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
                                     ctypes.c_uint]
        self.lib.mq_send.restype = ctypes.c_int
        self.lib.mq_close.argtypes = [ctypes.c_int]
        if fd is not None:
            self.fd = fd
            return
        self.fd = self.lib.mq_open(name.encode(), os.O_WRONLY | os.O_NONBLOCK)
        if self.fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, "mq_open %s: %s" % (name, os.strerror(e)))

    def send(self, data, timeout=10.0):
        """Sends one message, retrying while the queue is full."""
        deadline = time.monotonic() + timeout
        while True:
            if self.lib.mq_send(self.fd, data, len(data), 0) == 0:
                return
            e = ctypes.get_errno()
            if e not in (errno.EAGAIN, errno.EINTR) or time.monotonic() > deadline:
                raise OSError(e, "mq_send: %s" % os.strerror(e))
            time.sleep(0.01)

    def close(self):
        if self.fd >= 0:
            self.lib.mq_close(self.fd)
            self.fd = -1


def unlink(name):
    """Removes a queue; a missing one is not an error."""
    lib = _librt()
    lib.mq_unlink.argtypes = [ctypes.c_char_p]
    lib.mq_unlink(name.encode())


class QueueReader:
    """Stands in for pop3s-logger: owns the queue and decodes every record
    the sessions send, so a test sees the details of CONNECT and DISCONNECT."""

    def __init__(self, name):
        self.lib = _librt()
        self.lib.mq_receive.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
                                        ctypes.c_void_p]
        self.lib.mq_receive.restype = ctypes.c_ssize_t
        self.fd = create(name, 10)
        self.records = []
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        buf = ctypes.create_string_buffer(MAX_SIZE)
        while True:
            n = self.lib.mq_receive(self.fd, buf, MAX_SIZE, None)
            if n < 0:
                if ctypes.get_errno() == 4:  # EINTR
                    continue
                return
            rec = self._decode(buf.raw[:n])
            with self.lock:
                self.records.append(rec)

    @staticmethod
    def _decode(data):
        _, rtype, _, _, pid, _ = HEADER.unpack_from(data)
        off = HEADER.size
        fields = {}
        for name, _, _ in FIELDS:
            n = data[off]
            fields[name] = data[off + 1:off + 1 + n].decode(errors="replace")
            off += 1 + n
        fields["type"] = rtype
        fields["pid"] = pid
        return fields

    def disconnects(self, since=0, want=1, timeout=10):
        """DISCONNECT details after the first `since` records."""
        end = time.monotonic() + timeout
        while True:
            with self.lock:
                got = [r["detail"] for r in self.records[since:] if r["type"] == DISCONNECT]
            if len(got) >= want or time.monotonic() > end:
                return got
            time.sleep(0.05)

    def details(self, rtype, since=0, want=1, timeout=10):
        """Details of the records of type rtype after the first `since`."""
        end = time.monotonic() + timeout
        while True:
            with self.lock:
                got = [r["detail"] for r in self.records[since:] if r["type"] == rtype]
            if len(got) >= want or time.monotonic() > end:
                return got
            time.sleep(0.05)

    def count(self):
        with self.lock:
            return len(self.records)
