/* logrec: wire format, command words, address display, journal fields. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "logrec.h"
#include "testhelp.h"

/* A record with every field set. */
static void
sample(struct logrec *r)
{
	memset(r, 0, sizeof(*r));
	r->type = LOGREC_COMMAND;
	r->time_us = 1731570447123456ull;
	r->pid = 4242;
	r->bytes = 123456789;
	strcpy(r->session, "0123456789abcdef");
	strcpy(r->client_ip, "194.10.15.3");
	strcpy(r->user, "alice");
	strcpy(r->command, "RETR");
	strcpy(r->status, "OK");
	strcpy(r->detail, "message 1");
}

static int
encode(const struct logrec *r, uint8_t *buf)
{
	int n = logrec_encode(r, buf, LOGREC_MAX_SIZE);

	ck_assert_int_gt(n, 0);
	return n;
}

/* Decodes from a heap copy of exactly len octets, so that ASan catches
 * any read past the end. */
static int
decode_exact(const uint8_t *buf, size_t len, struct logrec *out)
{
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	ck_assert_ptr_nonnull(copy);
	if (len)
		memcpy(copy, buf, len);
	r = logrec_decode(copy, len, out);
	free(copy);
	return r;
}

/* Builds a record by hand, so tests can put on the wire what the encoder
 * refuses to produce. The length field is made to match. */
static size_t
raw(uint8_t *b, int version, int type, const char *const f[6])
{
	size_t off = 24, i, n;

	memset(b, 0, 24);
	b[0] = (uint8_t)version;
	b[1] = (uint8_t)type;
	b[11] = 1;  /* time 1 */
	for (i = 0; i < 6; i++) {
		n = strlen(f[i]);
		b[off++] = (uint8_t)n;
		memcpy(b + off, f[i], n);
		off += n;
	}
	b[2] = (uint8_t)(off >> 8);
	b[3] = (uint8_t)off;
	return off;
}

static void
assert_same(const struct logrec *a, const struct logrec *b)
{
	ck_assert_int_eq(a->type, b->type);
	ck_assert_uint_eq(a->time_us, b->time_us);
	ck_assert_uint_eq(a->pid, b->pid);
	ck_assert_uint_eq(a->bytes, b->bytes);
	ck_assert_uint_eq(a->removed, b->removed);
	ck_assert_str_eq(a->session, b->session);
	ck_assert_str_eq(a->client_ip, b->client_ip);
	ck_assert_str_eq(a->user, b->user);
	ck_assert_str_eq(a->command, b->command);
	ck_assert_str_eq(a->status, b->status);
	ck_assert_str_eq(a->detail, b->detail);
}

/* Field accessors for table-driven tests, in wire order. */
struct field {
	const char *name;
	size_t offset, max;
	int token;
};

static const struct field fields[] = {
	{ "session", offsetof(struct logrec, session), LOGREC_SESSION_MAX, 1 },
	{ "client_ip", offsetof(struct logrec, client_ip), LOGREC_IP_MAX, 1 },
	{ "user", offsetof(struct logrec, user), LOGREC_USER_MAX, 0 },
	{ "command", offsetof(struct logrec, command), LOGREC_COMMAND_MAX, 1 },
	{ "status", offsetof(struct logrec, status), LOGREC_STATUS_MAX, 1 },
	{ "detail", offsetof(struct logrec, detail), LOGREC_DETAIL_MAX, 0 },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static char *
field_of(struct logrec *r, size_t i)
{
	return (char *)r + fields[i].offset;
}

/* xorshift64*: reproducible pseudo-random input for the fuzz loops. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* --- Core ---------------------------------------------------------- */

START_TEST(test_round_trip)
{
	static const struct {
		enum logrec_type type;
		const char *ip, *user, *cmd, *status, *detail;
		uint64_t time_us, bytes;
		uint32_t pid;
	} cases[] = {
		{ LOGREC_CONNECT, "::ffff:127.0.0.1", "", "", "", "", 1, 0, 1 },
		{ LOGREC_COMMAND, "194.10.15.3", "alice", "USER", "OK", "", 1731570447000000ull, 0, 77 },
		{ LOGREC_LOGIN_OK, "2001:db8::1", "b\xc3\xb6rje", "", "", "", 0, 10, 65535 },
		{ LOGREC_LOGIN_FAIL, "10.0.0.1", "mallory", "", "ERR", "bad password", 5, 0, 1 },
		{ LOGREC_DISCONNECT, "10.0.0.1", "alice", "", "", "client QUIT", UINT64_MAX,
		  UINT64_MAX, UINT32_MAX },
		{ LOGREC_COMMAND, "", "", "", "", "", 0, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct logrec in, out;
		uint8_t buf[LOGREC_MAX_SIZE];
		int n;

		memset(&in, 0, sizeof(in));
		in.type = cases[i].type;
		in.time_us = cases[i].time_us;
		in.pid = cases[i].pid;
		in.bytes = cases[i].bytes;
		strcpy(in.session, "00ff00ff00ff00ff");
		strcpy(in.client_ip, cases[i].ip);
		strcpy(in.user, cases[i].user);
		strcpy(in.command, cases[i].cmd);
		strcpy(in.status, cases[i].status);
		strcpy(in.detail, cases[i].detail);
		n = encode(&in, buf);
		ck_assert_msg(decode_exact(buf, (size_t)n, &out) == 0, "case %zu", i);
		assert_same(&in, &out);
	}
}
END_TEST

/* The exact octets: the Python encoder in tests/integration and any other
 * sender must agree with them. */
START_TEST(test_wire_layout)
{
	static const uint8_t want[] = {
		1, 2, 0, 42,                            /* version, type, length */
		0, 0, 0, 0, 0, 0, 0x01, 0x02,           /* time_us 258 */
		0, 0, 0x30, 0x39,                       /* pid 12345 */
		0, 0, 0, 0, 0, 0, 0, 7,                 /* bytes 7 */
		2, 'a', 'b', 3, '1', '.', '2', 1, 'u', 4, 'U', 'S', 'E', 'R',
		2, 'O', 'K', 0,
	};
	struct logrec r;
	uint8_t buf[LOGREC_MAX_SIZE];
	int n;

	memset(&r, 0, sizeof(r));
	r.type = LOGREC_COMMAND;
	r.time_us = 258;
	r.pid = 12345;
	r.bytes = 7;
	strcpy(r.session, "ab");
	strcpy(r.client_ip, "1.2");
	strcpy(r.user, "u");
	strcpy(r.command, "USER");
	strcpy(r.status, "OK");
	n = logrec_encode(&r, buf, sizeof(buf));
	ck_assert_int_eq(n, (int)sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
}
END_TEST

START_TEST(test_type_names)
{
	static const struct {
		int type;
		const char *name;
	} cases[] = {
		{ LOGREC_CONNECT, "CONNECT" }, { LOGREC_COMMAND, "COMMAND" },
		{ LOGREC_LOGIN_OK, "LOGIN_OK" }, { LOGREC_LOGIN_FAIL, "LOGIN_FAIL" },
		{ LOGREC_DISCONNECT, "DISCONNECT" }, { LOGREC_UPDATE, "UPDATE" },
		{ LOGREC_AUTH_FAIL, "AUTH_FAIL" },
		{ 0, "UNKNOWN" }, { 8, "UNKNOWN" },
		{ -1, "UNKNOWN" }, { 1000, "UNKNOWN" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(logrec_type_name((enum logrec_type)cases[i].type), cases[i].name);
}
END_TEST

static const struct {
	const char *line;
	size_t len;     /* 0: strlen */
	const char *want;
} command_cases[] = {
	{ "pass secret", 0, "PASS" },
	{ "PASS secret", 0, "PASS" },
	{ "user alice", 0, "USER" },
	{ "Retr 1", 0, "RETR" },
	{ "QUIT", 0, "QUIT" },
	{ "STAT\r\n", 0, "STAT" },
	{ "PASS\tsecret", 0, "PASS" },
	{ "PASS\rsecret", 0, "PASS" },
	{ "PASS\nsecret", 0, "PASS" },
	{ "", 0, "-" },
	{ " pass secret", 0, "-" },
	{ "\x01\x7f" "ab\xff", 5, "??AB?" },
	{ "R\xc3\xa9TR 1", 0, "R??TR" },
	{ "noop", 2, "NO" },                    /* only len octets */
	{ "a\0b", 3, "A?B" },                   /* NUL is not the end */
	{ "averyveryverylongcommandword x", 0, "AVERYVERYVERYLON" },
	{ "1234567890123456", 0, "1234567890123456" },
	{ "12345678901234567", 0, "1234567890123456" },
};

START_TEST(test_command_word)
{
	size_t i;

	for (i = 0; i < sizeof(command_cases) / sizeof(command_cases[0]); i++) {
		char out[LOGREC_COMMAND_MAX + 1];
		size_t len = command_cases[i].len ? command_cases[i].len :
		             strlen(command_cases[i].line);

		memset(out, 'x', sizeof(out));
		logrec_command_word(command_cases[i].line, len, out);
		ck_assert_msg(strcmp(out, command_cases[i].want) == 0, "case %zu: got '%s' want '%s'",
		              i, out, command_cases[i].want);
	}
}
END_TEST

START_TEST(test_command_word_never_leaks_arguments)
{
	static const char *const lines[] = {
		"pass hunter2", "PASS\thunter2", "apop alice hunter2", "auth plain hunter2",
	};
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char out[LOGREC_COMMAND_MAX + 1];

		logrec_command_word(lines[i], strlen(lines[i]), out);
		ck_assert_ptr_null(strstr(out, "HUNTER"));
		ck_assert_ptr_null(strstr(out, "hunter"));
	}
}
END_TEST

START_TEST(test_ip_unmap)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "::ffff:127.0.0.1", "127.0.0.1" },
		{ "::FFFF:194.10.15.3", "194.10.15.3" },
		{ "194.10.15.3", "194.10.15.3" },
		{ "2001:db8::1", "2001:db8::1" },
		{ "::1", "::1" },
		{ "::ffff:abcd", "::ffff:abcd" },       /* not IPv4-mapped */
		{ "::ffff:1.2.3", "::ffff:1.2.3" },
		{ "::ffff:", "::ffff:" },
		{ "", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(logrec_ip_unmap(cases[i].in), cases[i].want);
}
END_TEST

/* Journal fields as a NULL-terminated list of strings, for lookups. */
struct jfields {
	char text[LOGREC_JOURNAL_FIELDS][LOGREC_JOURNAL_FIELD_MAX];
	struct iovec iov[LOGREC_JOURNAL_FIELDS];
	size_t n;
};

static void
jbuild(struct jfields *j, const struct logrec *r, const char *extra)
{
	size_t i;

	j->n = logrec_journal_fields(r, "ident", extra, j->text, j->iov, LOGREC_JOURNAL_FIELDS);
	ck_assert_uint_le(j->n, LOGREC_JOURNAL_FIELDS);
	for (i = 0; i < j->n; i++) {
		ck_assert_ptr_eq(j->iov[i].iov_base, j->text[i]);
		ck_assert_uint_eq(j->iov[i].iov_len, strlen(j->text[i]));
	}
}

/* The value of KEY in j, or NULL; fails if KEY appears twice. */
static const char *
jget(const struct jfields *j, const char *key)
{
	size_t i, klen = strlen(key);
	const char *found = NULL;

	for (i = 0; i < j->n; i++) {
		if (strncmp(j->text[i], key, klen) == 0 && j->text[i][klen] == '=') {
			ck_assert_msg(found == NULL, "%s twice", key);
			found = j->text[i] + klen + 1;
		}
	}
	return found;
}

START_TEST(test_journal_fields)
{
	struct logrec r;
	struct jfields j;

	sample(&r);
	strcpy(r.client_ip, "::ffff:194.10.15.3");
	jbuild(&j, &r, NULL);
	ck_assert_str_eq(jget(&j, "MESSAGE"), "alice@194.10.15.3 RETR OK: message 1");
	ck_assert_str_eq(jget(&j, "PRIORITY"), "6");
	ck_assert_str_eq(jget(&j, "SYSLOG_IDENTIFIER"), "ident");
	ck_assert_str_eq(jget(&j, "POP3_TYPE"), "COMMAND");
	ck_assert_str_eq(jget(&j, "POP3_CLIENT_IP"), "194.10.15.3");
	ck_assert_str_eq(jget(&j, "POP3_USER"), "alice");
	ck_assert_str_eq(jget(&j, "POP3_COMMAND"), "RETR");
	ck_assert_str_eq(jget(&j, "POP3_STATUS"), "OK");
	ck_assert_str_eq(jget(&j, "POP3_SESSION"), "0123456789abcdef");
	ck_assert_str_eq(jget(&j, "POP3_PID"), "4242");
	ck_assert_str_eq(jget(&j, "POP3_BYTES"), "123456789");
	ck_assert_str_eq(jget(&j, "POP3_DETAIL"), "message 1");
	ck_assert_str_eq(jget(&j, "POP3_TIME_US"), "1731570447123456");
	ck_assert_uint_eq(j.n, 13);
}
END_TEST

START_TEST(test_journal_messages)
{
	static const struct {
		enum logrec_type type;
		const char *ip, *user, *cmd, *status, *detail;
		uint64_t bytes;
		const char *want;
	} cases[] = {
		{ LOGREC_COMMAND, "194.10.15.3", "alice", "RETR", "OK", "", 0,
		  "alice@194.10.15.3 RETR OK" },
		{ LOGREC_COMMAND, "194.10.15.3", "", "USER", "OK", "", 0, "194.10.15.3 USER OK" },
		{ LOGREC_COMMAND, "", "", "", "", "", 0, "- -" },
		{ LOGREC_CONNECT, "2001:db8::1", "", "", "", "", 0, "2001:db8::1 CONNECT" },
		{ LOGREC_LOGIN_OK, "10.0.0.1", "bob", "", "", "", 0, "bob@10.0.0.1 LOGIN_OK" },
		{ LOGREC_LOGIN_FAIL, "10.0.0.1", "bob", "", "", "bad password", 0,
		  "bob@10.0.0.1 LOGIN_FAIL: bad password" },
		{ LOGREC_DISCONNECT, "10.0.0.1", "bob", "", "", "QUIT", 512,
		  "bob@10.0.0.1 DISCONNECT: QUIT (512 bytes sent)" },
		{ LOGREC_UPDATE, "10.0.0.1", "bob", "", "OK", "", 0,
		  "bob@10.0.0.1 UPDATE OK (0 messages removed)" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct logrec r;
		struct jfields j;
		const char *want = cases[i].want;

		memset(&r, 0, sizeof(r));
		r.type = cases[i].type;
		r.bytes = cases[i].bytes;
		strcpy(r.client_ip, cases[i].ip);
		strcpy(r.user, cases[i].user);
		strcpy(r.command, cases[i].cmd);
		strcpy(r.status, cases[i].status);
		strcpy(r.detail, cases[i].detail);
		jbuild(&j, &r, NULL);
		ck_assert_msg(strcmp(jget(&j, "MESSAGE"), want) == 0, "case %zu: '%s'", i,
		              jget(&j, "MESSAGE"));
	}
}
END_TEST

/* UPDATE carries the removed count in the u64 slot of the header, where
 * other records carry the bytes sent. */
START_TEST(test_update_record)
{
	struct logrec in, out;
	struct jfields j;
	uint8_t buf[LOGREC_MAX_SIZE];
	int n;

	memset(&in, 0, sizeof(in));
	in.type = LOGREC_UPDATE;
	in.removed = 0x0102030405060708ull;
	in.bytes = 999;   /* not on the wire for UPDATE */
	strcpy(in.client_ip, "10.0.0.1");
	strcpy(in.user, "bob");
	strcpy(in.status, "ERR");
	strcpy(in.detail, "1 of 3 messages not removed");
	n = encode(&in, buf);
	ck_assert_uint_eq(buf[1], 6);
	ck_assert_uint_eq(buf[16], 1);
	ck_assert_uint_eq(buf[23], 8);
	ck_assert_int_eq(decode_exact(buf, (size_t)n, &out), 0);
	ck_assert_uint_eq(out.removed, 0x0102030405060708ull);
	ck_assert_uint_eq(out.bytes, 0);
	ck_assert_str_eq(out.detail, in.detail);

	/* a DISCONNECT's slot stays bytes */
	in.type = LOGREC_DISCONNECT;
	n = encode(&in, buf);
	ck_assert_int_eq(decode_exact(buf, (size_t)n, &out), 0);
	ck_assert_uint_eq(out.bytes, 999);
	ck_assert_uint_eq(out.removed, 0);

	memset(&in, 0, sizeof(in));
	in.type = LOGREC_UPDATE;
	in.removed = 3;
	strcpy(in.user, "bob");
	strcpy(in.client_ip, "10.0.0.1");
	strcpy(in.status, "OK");
	jbuild(&j, &in, NULL);
	ck_assert_str_eq(jget(&j, "POP3_TYPE"), "UPDATE");
	ck_assert_str_eq(jget(&j, "POP3_REMOVED"), "3");
	ck_assert_ptr_null(jget(&j, "POP3_BYTES"));
	ck_assert_str_eq(jget(&j, "MESSAGE"), "bob@10.0.0.1 UPDATE OK (3 messages removed)");
	in.removed = 1;
	jbuild(&j, &in, NULL);
	ck_assert_str_eq(jget(&j, "MESSAGE"), "bob@10.0.0.1 UPDATE OK (1 message removed)");
}
END_TEST

START_TEST(test_journal_omits_empty)
{
	struct logrec r;
	struct jfields j;

	memset(&r, 0, sizeof(r));
	r.type = LOGREC_CONNECT;
	strcpy(r.client_ip, "10.1.1.1");
	jbuild(&j, &r, "POP3_LOG_FALLBACK=1");
	ck_assert_ptr_null(jget(&j, "POP3_USER"));
	ck_assert_ptr_null(jget(&j, "POP3_COMMAND"));
	ck_assert_ptr_null(jget(&j, "POP3_STATUS"));
	ck_assert_ptr_null(jget(&j, "POP3_SESSION"));
	ck_assert_ptr_null(jget(&j, "POP3_DETAIL"));
	ck_assert_str_eq(jget(&j, "POP3_TYPE"), "CONNECT");
	ck_assert_str_eq(jget(&j, "POP3_BYTES"), "0");
	ck_assert_str_eq(jget(&j, "POP3_LOG_FALLBACK"), "1");
	ck_assert_str_eq(j.text[j.n - 1], "POP3_LOG_FALLBACK=1");
}
END_TEST

/* --- Limits -------------------------------------------------------- */

START_TEST(test_fields_at_max)
{
	struct logrec in, out;
	uint8_t buf[LOGREC_MAX_SIZE];
	size_t i;
	int n;

	sample(&in);
	for (i = 0; i < NFIELDS; i++) {
		memset(field_of(&in, i), 'a' + (int)i, fields[i].max);
		field_of(&in, i)[fields[i].max] = '\0';
	}
	n = encode(&in, buf);
	ck_assert_int_le(n, LOGREC_MAX_SIZE);
	ck_assert_int_eq(decode_exact(buf, (size_t)n, &out), 0);
	assert_same(&in, &out);
}
END_TEST

START_TEST(test_field_over_max_encode)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++) {
		struct logrec r;
		uint8_t buf[LOGREC_MAX_SIZE];

		sample(&r);
		/* No NUL inside the array at all: must not be read past. */
		memset(field_of(&r, i), 'x', fields[i].max + 1);
		ck_assert_msg(logrec_encode(&r, buf, sizeof(buf)) == -EINVAL, "%s", fields[i].name);
	}
}
END_TEST

START_TEST(test_field_over_max_decode)
{
	char big[256];
	size_t i;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < NFIELDS; i++) {
		const char *f[6] = { "s", "1.2.3.4", "u", "USER", "OK", "d" };
		uint8_t buf[1024];
		struct logrec out;
		size_t n;

		big[fields[i].max + 1] = '\0';
		f[i] = big;
		n = raw(buf, 1, LOGREC_COMMAND, f);
		if (n <= LOGREC_MAX_SIZE)
			ck_assert_msg(decode_exact(buf, n, &out) == -EBADMSG, "%s", fields[i].name);
		/* Exactly at the maximum it is accepted. */
		big[fields[i].max] = '\0';
		n = raw(buf, 1, LOGREC_COMMAND, f);
		ck_assert_msg(decode_exact(buf, n, &out) == 0, "%s", fields[i].name);
		memset(big, 'x', sizeof(big) - 1);
	}
}
END_TEST

START_TEST(test_encode_small_buffer)
{
	struct logrec r;
	uint8_t buf[LOGREC_MAX_SIZE];
	int n, cap;

	sample(&r);
	n = encode(&r, buf);
	for (cap = 0; cap < n; cap++) {
		uint8_t *small = malloc(cap ? (size_t)cap : 1);

		ck_assert_int_eq(logrec_encode(&r, small, (size_t)cap), -ENOBUFS);
		free(small);
	}
	ck_assert_int_eq(logrec_encode(&r, buf, (size_t)n), n);
}
END_TEST

START_TEST(test_decode_oversize)
{
	uint8_t buf[LOGREC_MAX_SIZE + 2];
	struct logrec r, out;
	int n;

	sample(&r);
	n = encode(&r, buf);
	memset(buf + n, 0, sizeof(buf) - (size_t)n);
	buf[2] = (LOGREC_MAX_SIZE + 1) >> 8;
	buf[3] = (uint8_t)(LOGREC_MAX_SIZE + 1);
	ck_assert_int_eq(decode_exact(buf, LOGREC_MAX_SIZE + 1, &out), -EBADMSG);
	buf[2] = (uint8_t)(sizeof(buf) >> 8);
	buf[3] = (uint8_t)sizeof(buf);
	ck_assert_int_eq(decode_exact(buf, sizeof(buf), &out), -EBADMSG);
}
END_TEST

START_TEST(test_journal_long_values)
{
	struct logrec r;
	struct jfields j;
	const char *msg;
	size_t i;

	sample(&r);
	memset(r.user, 'u', LOGREC_USER_MAX);
	/* The detail is made of 2-octet UTF-8 characters, so a cut MESSAGE
	 * could end inside one. */
	for (i = 0; i + 1 < LOGREC_DETAIL_MAX; i += 2)
		memcpy(r.detail + i, "\xc3\xa9", 2);
	r.detail[i] = '\0';
	strcpy(r.client_ip, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	jbuild(&j, &r, NULL);
	msg = jget(&j, "MESSAGE");
	ck_assert_uint_lt(strlen(msg) + strlen("MESSAGE="), LOGREC_JOURNAL_FIELD_MAX);
	ck_assert_uint_gt(strlen(msg) + strlen("MESSAGE="), LOGREC_JOURNAL_FIELD_MAX - 3);
	/* Whole characters only: the last one is the complete é. */
	ck_assert_mem_eq(msg + strlen(msg) - 2, "\xc3\xa9", 2);
	ck_assert_str_eq(jget(&j, "POP3_DETAIL"), r.detail);
}
END_TEST

START_TEST(test_journal_few_slots)
{
	char text[3][LOGREC_JOURNAL_FIELD_MAX];
	struct iovec iov[3];
	struct logrec r;
	size_t n, max;

	sample(&r);
	for (max = 0; max <= 3; max++) {
		n = logrec_journal_fields(&r, "x", "A=1", text, iov, max);
		ck_assert_uint_eq(n, max);
	}
	ck_assert_str_eq(text[0], "MESSAGE=alice@194.10.15.3 RETR OK: message 1");
}
END_TEST

/* --- Errors -------------------------------------------------------- */

START_TEST(test_every_truncation_rejected)
{
	struct logrec r, out;
	uint8_t buf[LOGREC_MAX_SIZE];
	size_t len;
	int n;

	sample(&r);
	n = encode(&r, buf);
	for (len = 0; len < (size_t)n; len++) {
		uint8_t cut[LOGREC_MAX_SIZE];

		ck_assert_msg(decode_exact(buf, len, &out) == -EBADMSG, "len %zu", len);
		/* Even with the length field made to agree. */
		memcpy(cut, buf, len);
		if (len >= 4) {
			cut[2] = (uint8_t)(len >> 8);
			cut[3] = (uint8_t)len;
		}
		ck_assert_msg(decode_exact(cut, len, &out) == -EBADMSG, "patched len %zu", len);
	}
}
END_TEST

START_TEST(test_trailing_bytes_rejected)
{
	struct logrec r, out;
	uint8_t buf[LOGREC_MAX_SIZE];
	size_t extra;
	int n;

	sample(&r);
	n = encode(&r, buf);
	for (extra = 1; extra <= 3; extra++) {
		size_t len = (size_t)n + extra;

		memset(buf + n, 'x', extra);
		ck_assert_int_eq(decode_exact(buf, len, &out), -EBADMSG);
		buf[2] = (uint8_t)(len >> 8);
		buf[3] = (uint8_t)len;
		ck_assert_int_eq(decode_exact(buf, len, &out), -EBADMSG);
		buf[2] = (uint8_t)((size_t)n >> 8);
		buf[3] = (uint8_t)n;
	}
	ck_assert_int_eq(decode_exact(buf, (size_t)n, &out), 0);
}
END_TEST

START_TEST(test_bad_version_and_type)
{
	static const struct {
		int version, type, ok;
	} cases[] = {
		{ 1, 1, 1 }, { 1, 5, 1 }, { 1, 6, 1 }, { 0, 2, 0 }, { 2, 2, 0 }, { 255, 2, 0 },
		{ 1, 7, 1 }, { 1, 0, 0 }, { 1, 8, 0 }, { 1, 255, 0 },
	};
	const char *f[6] = { "s", "1.2.3.4", "u", "USER", "OK", "d" };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[LOGREC_MAX_SIZE];
		struct logrec out;
		size_t n = raw(buf, cases[i].version, cases[i].type, f);

		ck_assert_msg(decode_exact(buf, n, &out) == (cases[i].ok ? 0 : -EBADMSG),
		              "case %zu", i);
	}
}
END_TEST

START_TEST(test_encode_bad_type)
{
	static const int types[] = { 0, 8, -1, 255 };
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct logrec r;
		uint8_t buf[LOGREC_MAX_SIZE];

		sample(&r);
		r.type = (enum logrec_type)types[i];
		ck_assert_int_eq(logrec_encode(&r, buf, sizeof(buf)), -EINVAL);
	}
}
END_TEST

/* Control octets anywhere, and spaces in token fields, are refused by both
 * sides; a space in user or detail is fine. */
START_TEST(test_bad_octets)
{
	static const struct {
		const char *value;
		int token_ok, text_ok;
	} cases[] = {
		{ "a\x01" "b", 0, 0 }, { "a\nb", 0, 0 }, { "a\rb", 0, 0 }, { "\x1f", 0, 0 },
		{ "a\x7f", 0, 0 }, { "a b", 0, 1 }, { "\t", 0, 0 }, { "\xc3\xa9", 0, 1 },
		{ "!~", 1, 1 },
	};
	size_t i, k;

	for (i = 0; i < NFIELDS; i++) {
		for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			int ok = fields[i].token ? cases[k].token_ok : cases[k].text_ok;
			const char *f[6] = { "s", "1.2.3.4", "u", "USER", "OK", "d" };
			uint8_t buf[LOGREC_MAX_SIZE];
			struct logrec r, out;
			size_t n;
			int enc;

			sample(&r);
			strcpy(field_of(&r, i), cases[k].value);
			enc = logrec_encode(&r, buf, sizeof(buf));
			ck_assert_msg(ok ? enc > 0 : enc == -EINVAL, "encode %s case %zu: %d",
			              fields[i].name, k, enc);
			f[i] = cases[k].value;
			n = raw(buf, 1, LOGREC_COMMAND, f);
			ck_assert_msg(decode_exact(buf, n, &out) == (ok ? 0 : -EBADMSG),
			              "decode %s case %zu", fields[i].name, k);
		}
	}
}
END_TEST

START_TEST(test_decode_nul_in_field)
{
	const char *f[6] = { "s", "1.2.3.4", "u", "USER", "OK", "dd" };
	uint8_t buf[LOGREC_MAX_SIZE];
	struct logrec out;
	size_t n = raw(buf, 1, LOGREC_COMMAND, f);

	buf[n - 1] = '\0';      /* second octet of the detail */
	ck_assert_int_eq(decode_exact(buf, n, &out), -EBADMSG);
}
END_TEST

START_TEST(test_decode_failure_leaves_output)
{
	struct logrec r, out, before;
	uint8_t buf[LOGREC_MAX_SIZE];
	int n;

	sample(&r);
	n = encode(&r, buf);
	memset(&out, 0xa5, sizeof(out));
	before = out;
	ck_assert_int_eq(decode_exact(buf, (size_t)n - 1, &out), -EBADMSG);
	ck_assert_mem_eq(&out, &before, sizeof(out));
}
END_TEST

/* Random buffers must never crash the decoder (run under ASan), and
 * whatever it accepts must encode back to the same octets. */
static void
check_decoded(const uint8_t *buf, size_t len)
{
	struct logrec out;
	uint8_t again[LOGREC_MAX_SIZE];

	if (decode_exact(buf, len, &out) != 0)
		return;
	ck_assert_int_eq(logrec_encode(&out, again, sizeof(again)), (int)len);
	ck_assert_mem_eq(again, buf, len);
}

START_TEST(test_fuzz_random)
{
	uint8_t buf[600];
	int iter;

	for (iter = 0; iter < 20000; iter++) {
		size_t len = rng() % sizeof(buf), i;

		for (i = 0; i < len; i++)
			buf[i] = (uint8_t)rng();
		/* Give half of them a plausible header so the field code runs. */
		if (iter % 2 && len >= 4) {
			buf[0] = 1;
			buf[1] = (uint8_t)(1 + rng() % 5);
			buf[2] = (uint8_t)(len >> 8);
			buf[3] = (uint8_t)len;
		}
		check_decoded(buf, len);
	}
}
END_TEST

START_TEST(test_fuzz_mutations)
{
	struct logrec r;
	uint8_t valid[LOGREC_MAX_SIZE], buf[LOGREC_MAX_SIZE];
	unsigned accepted = 0;
	int n, iter;

	sample(&r);
	n = encode(&r, valid);
	for (iter = 0; iter < 50000; iter++) {
		int flips = 1 + (int)(rng() % 4), k;
		size_t len = (size_t)n;

		memcpy(buf, valid, (size_t)n);
		for (k = 0; k < flips; k++)
			buf[rng() % (size_t)n] = (uint8_t)rng();
		if (rng() % 4 == 0)
			len = rng() % (size_t)n;
		if (decode_exact(buf, len, &(struct logrec){ 0 }) == 0)
			accepted++;
		check_decoded(buf, len);
	}
	/* Flips in numbers and text keep some records valid: the loop did
	 * exercise both outcomes. */
	ck_assert_uint_gt(accepted, 0);
	ck_assert_uint_lt(accepted, 50000);
}
END_TEST

static Suite *
logrec_suite(void)
{
	Suite *s = suite_create("logrec");
	TCase *core = tcase_create("Core");
	TCase *limits = tcase_create("Limits");
	TCase *errors = tcase_create("Errors");

	tcase_add_test(core, test_round_trip);
	tcase_add_test(core, test_wire_layout);
	tcase_add_test(core, test_type_names);
	tcase_add_test(core, test_command_word);
	tcase_add_test(core, test_command_word_never_leaks_arguments);
	tcase_add_test(core, test_ip_unmap);
	tcase_add_test(core, test_journal_fields);
	tcase_add_test(core, test_update_record);
	tcase_add_test(core, test_journal_messages);
	tcase_add_test(core, test_journal_omits_empty);
	suite_add_tcase(s, core);

	tcase_add_test(limits, test_fields_at_max);
	tcase_add_test(limits, test_field_over_max_encode);
	tcase_add_test(limits, test_field_over_max_decode);
	tcase_add_test(limits, test_encode_small_buffer);
	tcase_add_test(limits, test_decode_oversize);
	tcase_add_test(limits, test_journal_long_values);
	tcase_add_test(limits, test_journal_few_slots);
	suite_add_tcase(s, limits);

	tcase_add_test(errors, test_every_truncation_rejected);
	tcase_add_test(errors, test_trailing_bytes_rejected);
	tcase_add_test(errors, test_bad_version_and_type);
	tcase_add_test(errors, test_encode_bad_type);
	tcase_add_test(errors, test_bad_octets);
	tcase_add_test(errors, test_decode_nul_in_field);
	tcase_add_test(errors, test_decode_failure_leaves_output);
	tcase_add_test(errors, test_fuzz_random);
	tcase_add_test(errors, test_fuzz_mutations);
	/* The fuzz loops are slow under ASan. */
	tcase_set_timeout(errors, 120);
	suite_add_tcase(s, errors);
	return s;
}

TH_MAIN(logrec_suite)
