#!/usr/bin/env python3
"""Writes alice's large demo message (a ~1 MiB base64 attachment) to stdout.

Deterministic: the attachment bytes come from a fixed linear congruential
generator, so running this again produces the committed file bit for bit:

    python3 mailbox/make-attachment.py \
        > 'mailbox/alice/cur/1731570300.M5P100.demo:2,S'
"""
import base64
import sys

SIZE = 786432          # 768 KiB of data -> 1 MiB of base64 text


def payload(n):
    out = bytearray(n)
    x = 20241114
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


def main():
    b64 = base64.b64encode(payload(SIZE)).decode("ascii")
    lines = [b64[i:i + 76] for i in range(0, len(b64), 76)]
    head = """\
Return-Path: <carol@example.org>
Delivered-To: alice@example.org
From: Carol Jensen <carol@example.org>
To: Alice Martin <alice@example.org>
Subject: Sensor log export (binary attachment)
Date: Thu, 14 Nov 2024 07:45:00 +0000
Message-ID: <20241114074500.5@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=-demo-boundary-5"

This is a multi-part message in MIME format.

--=-demo-boundary-5
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

Hi Alice,

attached is last week's raw sensor log (about 1 MiB once encoded).

Carol

--=-demo-boundary-5
Content-Type: application/octet-stream; name="sensor-log.bin"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="sensor-log.bin"

"""
    tail = "\n--=-demo-boundary-5--\n"
    sys.stdout.write(head + "\n".join(lines) + tail)


if __name__ == "__main__":
    main()
