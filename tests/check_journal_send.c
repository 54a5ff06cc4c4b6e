/* journal_send: the native journal protocol, encoded and sent to a real
 * AF_UNIX datagram socket, decoded by the test's own reader (testhelp.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "journal_send.h"
#include "testhelp.h"

#define IOV(s) { .iov_base = (char *)(s), .iov_len = sizeof(s) - 1 }

static const char *
sock_path(void)
{
	return th_path(th_dir, "journal.sock");
}

START_TEST(test_encode_text_and_binary)
{
	/* A value with a newline, a NUL and 0x80-0xff octets: length-framed. */
	static const char bin[] = "POP3_DETAIL=two\nlines\0and\xff";
	struct iovec f[] = { IOV("MESSAGE=hello world"), IOV("PRIORITY=6"),
	                     { .iov_base = (char *)bin, .iov_len = sizeof(bin) - 1 },
	                     IOV("EMPTY=") };
	char buf[256], want[256];
	size_t wl = 0, vlen = sizeof(bin) - 1 - strlen("POP3_DETAIL=");
	int n;

	n = journal_encode(f, 4, buf, sizeof(buf));
	memcpy(want, "MESSAGE=hello world\nPRIORITY=6\nPOP3_DETAIL\n", 43);
	wl = 43;
	want[wl++] = (char)vlen;     /* 64-bit little-endian length */
	memset(want + wl, 0, 7);
	wl += 7;
	memcpy(want + wl, "two\nlines\0and\xff\n", vlen + 1);
	wl += vlen + 1;
	memcpy(want + wl, "EMPTY=\n", 7);
	wl += 7;
	ck_assert_int_eq(n, (int)wl);
	ck_assert_mem_eq(buf, want, wl);
}
END_TEST

/* A length of more than one octet comes out little-endian. */
START_TEST(test_encode_long_binary)
{
	char field[700], buf[1024];
	struct iovec f = { .iov_base = field, .iov_len = sizeof(field) };
	struct th_jfield d[2];
	int n;

	memcpy(field, "BLOB=", 5);
	memset(field + 5, '\n', sizeof(field) - 5);
	n = journal_encode(&f, 1, buf, sizeof(buf));
	ck_assert_int_eq(n, 5 + 8 + 695 + 1);
	ck_assert_int_eq((unsigned char)buf[5], 695 & 0xff);
	ck_assert_int_eq((unsigned char)buf[6], 695 >> 8);
	ck_assert_int_eq(th_journal_decode(buf, (size_t)n, d, 2), 1);
	ck_assert_str_eq(d[0].name, "BLOB");
	ck_assert_uint_eq(d[0].len, 695);
}
END_TEST

START_TEST(test_encode_rejects)
{
	static const char *bad[] = { "NOEQUALS", "=value", "lower=case", "_TRUSTED=1",
	                             "1DIGIT=1", "SP ACE=1", "A-B=1",
	                             "X2345678901234567890123456789012345678901234567890123456789012345=1" };
	char buf[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct iovec f = { .iov_base = (char *)bad[i], .iov_len = strlen(bad[i]) };

		ck_assert_msg(journal_encode(&f, 1, buf, sizeof(buf)) == -EINVAL, "%s", bad[i]);
	}
	{
		/* 64 characters is the longest name */
		static const char ok[] =
			"X234567890123456789012345678901234567890123456789012345678901234=1";
		struct iovec f = IOV(ok);

		ck_assert_int_eq(journal_encode(&f, 1, buf, sizeof(buf)), (int)sizeof(ok));
	}
}
END_TEST

/* Over the bound: refused whole, never cut. */
START_TEST(test_encode_bound)
{
	struct iovec f[] = { IOV("MESSAGE=0123456789"), IOV("B=two\nlines") };
	char buf[64];

	ck_assert_int_eq(journal_encode(f, 1, buf, 19), 19);
	ck_assert_int_eq(journal_encode(f, 1, buf, 18), -EMSGSIZE);
	/* 2 + 8 + 9 + 1 = 20 octets for B */
	ck_assert_int_eq(journal_encode(f + 1, 1, buf, 20), 20);
	ck_assert_int_eq(journal_encode(f + 1, 1, buf, 19), -EMSGSIZE);
	ck_assert_int_eq(journal_encode(f + 1, 1, buf, 3), -EMSGSIZE);
}
END_TEST

/* A real datagram socket receives one entry per send, decodable field by
 * field, including a value with newlines. */
START_TEST(test_send_received)
{
	struct journal_sink j;
	struct iovec f[] = { IOV("MESSAGE=alice@192.0.2.1 RETR OK"), IOV("PRIORITY=6"),
	                     IOV("SYSLOG_IDENTIFIER=pop3s-session"),
	                     IOV("POP3_DETAIL=first\nsecond\n") };
	struct th_jfield d[8];
	char buf[JOURNAL_ENTRY_MAX];
	int rx = th_dgram_bind(sock_path()), n;
	long len;

	ck_assert_int_eq(journal_open(&j, sock_path()), 0);
	ck_assert_int_eq(journal_send(&j, f, 4), 0);
	ck_assert_int_eq(journal_send(&j, f, 1), 0);
	len = th_dgram_recv(rx, buf, sizeof(buf), 2000);
	ck_assert_int_gt(len, 0);
	n = th_journal_decode(buf, (size_t)len, d, 8);
	ck_assert_int_eq(n, 4);
	TH_JOURNAL_EQ(d, n, "MESSAGE", "alice@192.0.2.1 RETR OK");
	TH_JOURNAL_EQ(d, n, "SYSLOG_IDENTIFIER", "pop3s-session");
	TH_JOURNAL_EQ(d, n, "POP3_DETAIL", "first\nsecond\n");
	/* the second entry is a datagram of its own */
	len = th_dgram_recv(rx, buf, sizeof(buf), 2000);
	ck_assert_int_eq(len, (long)strlen("MESSAGE=alice@192.0.2.1 RETR OK\n"));
	ck_assert_int_eq(th_journal_decode(buf, (size_t)len, d, 8), 1);
	journal_close(&j);
	journal_close(&j);
	close(rx);
}
END_TEST

/* An entry over JOURNAL_ENTRY_MAX is refused and nothing is sent. */
START_TEST(test_send_too_big)
{
	static char big[JOURNAL_ENTRY_MAX];
	struct journal_sink j;
	struct iovec f = { .iov_base = big, .iov_len = sizeof(big) };
	char buf[16];
	int rx = th_dgram_bind(sock_path());

	memcpy(big, "MESSAGE=", 8);
	memset(big + 8, 'x', sizeof(big) - 8);
	ck_assert_int_eq(journal_open(&j, sock_path()), 0);
	ck_assert_int_eq(journal_send(&j, &f, 1), -EMSGSIZE);
	f.iov_len = JOURNAL_ENTRY_MAX - 1;   /* plus "\n": exactly the bound */
	ck_assert_int_eq(journal_send(&j, &f, 1), 0);
	ck_assert_int_eq(th_dgram_recv(rx, buf, sizeof(buf), 2000), JOURNAL_ENTRY_MAX);
	ck_assert_int_eq(th_dgram_recv(rx, buf, sizeof(buf), 100), -1);
	journal_close(&j);
	close(rx);
}
END_TEST

/* No journald: an error to return, nothing that blocks or crashes; a
 * journald that comes (back) later is reached by the same sink. */
START_TEST(test_no_journal)
{
	struct journal_sink j;
	struct iovec f = IOV("MESSAGE=x");
	char buf[64];
	int rx;

	ck_assert_int_eq(journal_open(&j, sock_path()), 0);
	ck_assert_int_eq(journal_send(&j, &f, 1), -ENOENT);
	rx = th_dgram_bind(sock_path());
	close(rx);                       /* the socket file stays, unbound */
	ck_assert_int_eq(journal_send(&j, &f, 1), -ECONNREFUSED);
	rx = th_dgram_bind(sock_path());
	ck_assert_int_eq(journal_send(&j, &f, 1), 0);
	ck_assert_int_eq(th_dgram_recv(rx, buf, sizeof(buf), 2000), 10);
	journal_close(&j);
	ck_assert_int_eq(journal_send(&j, &f, 1), -EBADF);
	close(rx);
}
END_TEST

START_TEST(test_open_paths)
{
	char longp[200];
	struct journal_sink j;

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(journal_open(&j, longp), -ENAMETOOLONG);
	ck_assert_int_eq(j.fd, -1);
	ck_assert_int_eq(journal_open(&j, NULL), 0);
	ck_assert_str_eq(j.addr.sun_path, JOURNAL_SOCKET_PATH);
	ck_assert_int_eq(journal_set_path(&j, longp), -ENAMETOOLONG);
	ck_assert_str_eq(j.addr.sun_path, JOURNAL_SOCKET_PATH);
	ck_assert_int_eq(journal_set_path(&j, "/x"), 0);
	ck_assert_str_eq(j.addr.sun_path, "/x");
	journal_close(&j);
}
END_TEST

static Suite *
journal_send_suite(void)
{
	Suite *s = suite_create("journal_send");
	TCase *enc = tcase_create("encode");
	TCase *snd = tcase_create("send");

	tcase_add_test(enc, test_encode_text_and_binary);
	tcase_add_test(enc, test_encode_long_binary);
	tcase_add_test(enc, test_encode_rejects);
	tcase_add_test(enc, test_encode_bound);
	suite_add_tcase(s, enc);
	tcase_add_checked_fixture(snd, th_dir_setup, th_dir_teardown);
	tcase_add_test(snd, test_send_received);
	tcase_add_test(snd, test_send_too_big);
	tcase_add_test(snd, test_no_journal);
	tcase_add_test(snd, test_open_paths);
	suite_add_tcase(s, snd);
	return s;
}

TH_MAIN(journal_send_suite)
