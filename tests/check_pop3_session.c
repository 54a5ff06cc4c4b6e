/* Whole POP3 sessions driven in memory: bytes in through linebuf, replies
 * out through a memory transport, a real Maildir on disk. */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "linebuf.h"
#include "logclient.h"
#include "logq.h"
#include "logrec.h"
#include "pop3_session.h"
#include "testhelp.h"

static char *dir;
static char home[4096], users[4096];
static struct pop3_params params;

struct conn {
	struct mem_transport m;
	struct linebuf lb;
	struct pop3_session *s;
	bool closed;
};

static void
add_user(FILE *f, const char *name, const char *pw)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;

	memset(&cd, 0, sizeof(cd));
	ck_assert_ptr_nonnull(crypt_gensalt_rn("$6$", 1000, NULL, 0, salt, sizeof(salt)));
	ck_assert_ptr_nonnull(crypt_rn(pw, salt, &cd, sizeof(cd)));
	fprintf(f, "%s:%s\n", name, cd.output);
}

static void
msg(const char *user, const char *name, const char *text, time_t mtime)
{
	char path[8300];
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s/%s", home, user, name), (int)sizeof(path));
	th_write_file(path, text, strlen(text));
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static const char m1[] = "From: a@example.org\nSubject: one\n\nline 1\n.hidden dot\n.\nend\n";
static const char m2[] = "From: b@example.org\r\nSubject: two\r\n\r\nbody\r\n";
static const char m3[] = "Subject: three\n\nno final newline";

static void
setup(void)
{
	FILE *f;

	dir = th_tmpdir();
	snprintf(home, sizeof(home), "%s/mail", dir);
	snprintf(users, sizeof(users), "%s/users", dir);
	mkdir(home, 0700);
	f = fopen(users, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "# test users\n");
	add_user(f, "alice", "secret");
	add_user(f, "bob", "hunter2 with spaces");
	fclose(f);
	msg("alice", "new/1000.M1.test", m1, 1000);
	msg("alice", "cur/1001.M2.test:2,S", m2, 1001);
	msg("alice", "new/1002.M3.test", m3, 1002);
	msg("alice", "new/1003.M4.test", "", 1003);
	mkdir(th_path(home, "alice/tmp"), 0700);

	memset(&params, 0, sizeof(params));
	params.home = home;
	params.users_file = users;
	params.auth_delay_ms = 0;
	params.max_auth_failures = 3;
	params.max_bad_commands = 20;
	params.implementation = "pop3s-test";
}

static void
teardown(void)
{
	th_rm_rf(dir);
	free(dir);
}

static void
conn_open(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	mem_transport_init(&c->m);
	linebuf_init(&c->lb);
	c->s = pop3_session_new(&params, &c->m.t);
	ck_assert_ptr_nonnull(c->s);
	pop3_session_greet(c->s);
	transport_flush(&c->m.t);
}

/* Sends input as one chunk (pipelined) and returns everything the server
 * wrote in answer, as the session loop would flush it. */
static const char *
say(struct conn *c, const char *input, size_t len)
{
	size_t off = 0;

	mem_transport_clear(&c->m);
	while (off < len && !c->closed) {
		size_t room, n;
		char *dst = linebuf_space(&c->lb, &room);
		char *line;
		size_t llen;
		unsigned flags;

		n = len - off < room ? len - off : room;
		memcpy(dst, input + off, n);
		linebuf_commit(&c->lb, n);
		off += n;
		while (!c->closed && linebuf_next(&c->lb, &line, &llen, &flags)) {
			if (pop3_session_input(c->s, line, llen, flags) == POP3_CLOSE)
				c->closed = true;
			if (!linebuf_has_line(&c->lb))
				transport_flush(&c->m.t);
		}
	}
	transport_flush(&c->m.t);
	return c->m.out;
}

#define SAY(c, s) say((c), (s), sizeof(s) - 1)

static void
conn_close(struct conn *c)
{
	pop3_session_free(c->s);
	mem_transport_free(&c->m);
}

static void
login(struct conn *c)
{
	ck_assert_str_eq(SAY(c, "USER alice\r\n"), "+OK Send your password\r\n");
	ck_assert_str_eq(SAY(c, "PASS secret\r\n"), "+OK Logged in, 4 messages (147 octets)\r\n");
	ck_assert_int_eq(pop3_session_state(c->s), POP3_STATE_TRANSACTION);
}

static bool
exists(const char *rel)
{
	return access(th_path(home, rel), F_OK) == 0;
}

/* --- Core ---------------------------------------------------------------- */

START_TEST(test_greeting_and_capa)
{
	struct conn c;

	conn_open(&c);
	ck_assert_str_eq(c.m.out, "+OK POP3 server ready\r\n");
	ck_assert_str_eq(SAY(&c, "CAPA\r\n"),
	                 "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
	                 "AUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\nSASL PLAIN\r\n"
	                 "IMPLEMENTATION pop3s-test\r\n.\r\n");
	login(&c);
	/* After login there is nothing left to authenticate with. */
	ck_assert_str_eq(SAY(&c, "capa\r\n"),
	                 "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
	                 "AUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION pop3s-test\r\n.\r\n");
	conn_close(&c);
}
END_TEST

START_TEST(test_stat_list_sizes)
{
	struct conn c;

	conn_open(&c);
	login(&c);
	/* m1: 7 lines, LF -> CRLF adds 7; m2 already CRLF; m3 gets a final
	 * CRLF; the empty message is one empty line. */
	ck_assert_str_eq(SAY(&c, "STAT\r\n"), "+OK 4 147\r\n");
	ck_assert_uint_eq(sizeof(m1) - 1 + 7 + sizeof(m2) - 1 + sizeof(m3) - 1 + 2 + 2 + 2, 147);
	ck_assert_str_eq(SAY(&c, "LIST\r\n"),
	                 "+OK 4 messages (147 octets)\r\n1 66\r\n2 43\r\n3 36\r\n4 2\r\n.\r\n");
	ck_assert_str_eq(SAY(&c, "LIST 3\r\n"), "+OK 3 36\r\n");
	ck_assert_str_eq(SAY(&c, "UIDL\r\n"),
	                 "+OK Unique-ID listing follows\r\n1 1000.M1.test\r\n2 1001.M2.test\r\n"
	                 "3 1002.M3.test\r\n4 1003.M4.test\r\n.\r\n");
	ck_assert_str_eq(SAY(&c, "UIDL 2\r\n"), "+OK 2 1001.M2.test\r\n");
	conn_close(&c);
}
END_TEST

START_TEST(test_retr_top)
{
	struct conn c;

	conn_open(&c);
	login(&c);
	ck_assert_str_eq(SAY(&c, "RETR 1\r\n"),
	                 "+OK 66 octets\r\nFrom: a@example.org\r\nSubject: one\r\n\r\nline 1\r\n"
	                 "..hidden dot\r\n..\r\nend\r\n.\r\n");
	ck_assert_str_eq(SAY(&c, "RETR 3\r\n"),
	                 "+OK 36 octets\r\nSubject: three\r\n\r\nno final newline\r\n.\r\n");
	ck_assert_str_eq(SAY(&c, "RETR 4\r\n"), "+OK 2 octets\r\n\r\n.\r\n");
	ck_assert_str_eq(SAY(&c, "TOP 1 1\r\n"),
	                 "+OK Top of message follows\r\nFrom: a@example.org\r\nSubject: one\r\n\r\n"
	                 "line 1\r\n.\r\n");
	ck_assert_str_eq(SAY(&c, "TOP 2 0\r\n"),
	                 "+OK Top of message follows\r\nFrom: b@example.org\r\nSubject: two\r\n\r\n.\r\n");
	conn_close(&c);
}
END_TEST

START_TEST(test_dele_quit_removes)
{
	struct conn c;

	conn_open(&c);
	login(&c);
	ck_assert_str_eq(SAY(&c, "DELE 2\r\n"), "+OK Message 2 deleted\r\n");
	ck_assert_str_eq(SAY(&c, "DELE 2\r\n"), "-ERR Message 2 is deleted\r\n");
	ck_assert_str_eq(SAY(&c, "RETR 2\r\n"), "-ERR Message 2 is deleted\r\n");
	ck_assert_str_eq(SAY(&c, "STAT\r\n"), "+OK 3 104\r\n");
	ck_assert_str_eq(SAY(&c, "LIST\r\n"),
	                 "+OK 3 messages (104 octets)\r\n1 66\r\n3 36\r\n4 2\r\n.\r\n");
	ck_assert(exists("alice/cur/1001.M2.test:2,S"));
	ck_assert_str_eq(SAY(&c, "QUIT\r\n"), "+OK Logging out, 1 message removed\r\n");
	ck_assert(c.closed);
	ck_assert_int_eq(pop3_session_state(c.s), POP3_STATE_UPDATE);
	ck_assert(!exists("alice/cur/1001.M2.test:2,S"));
	ck_assert(exists("alice/new/1000.M1.test"));
	conn_close(&c);
}
END_TEST

START_TEST(test_dele_rset_keeps)
{
	struct conn c;

	conn_open(&c);
	login(&c);
	SAY(&c, "DELE 1\r\nDELE 3\r\n");
	ck_assert_str_eq(SAY(&c, "RSET\r\n"), "+OK 4 messages (147 octets)\r\n");
	ck_assert_str_eq(SAY(&c, "QUIT\r\n"), "+OK Logging out, 0 messages removed\r\n");
	ck_assert(exists("alice/new/1000.M1.test"));
	ck_assert(exists("alice/new/1002.M3.test"));
	conn_close(&c);
}
END_TEST

/* A session that ends any way but QUIT removes nothing. */
START_TEST(test_drop_removes_nothing)
{
	struct conn c;

	conn_open(&c);
	login(&c);
	SAY(&c, "DELE 1\r\nDELE 2\r\nDELE 3\r\nDELE 4\r\n");
	conn_close(&c);
	ck_assert(exists("alice/new/1000.M1.test"));
	ck_assert(exists("alice/cur/1001.M2.test:2,S"));
	ck_assert(exists("alice/new/1002.M3.test"));
	ck_assert(exists("alice/new/1003.M4.test"));
}
END_TEST

START_TEST(test_pipelining)
{
	struct conn c;

	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS secret\r\nSTAT\r\nLIST 2\r\nNOOP\r\nQUIT\r\n"),
	                 "+OK Send your password\r\n+OK Logged in, 4 messages (147 octets)\r\n"
	                 "+OK 4 147\r\n+OK 2 43\r\n+OK Still here\r\n"
	                 "+OK Logging out, 0 messages removed\r\n");
	conn_close(&c);
}
END_TEST

START_TEST(test_case_insensitive)
{
	struct conn c;

	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "user alice\r\npAsS secret\r\nsTaT\r\n"),
	                 "+OK Send your password\r\n+OK Logged in, 4 messages (147 octets)\r\n"
	                 "+OK 4 147\r\n");
	conn_close(&c);
}
END_TEST

/* Mail delivered during a session appears at the next login only. */
START_TEST(test_stable_numbering)
{
	struct conn c, d;

	conn_open(&c);
	login(&c);
	msg("alice", "new/0999.M0.test", "Subject: early\n\nx\n", 999);
	ck_assert_str_eq(SAY(&c, "STAT\r\n"), "+OK 4 147\r\n");
	ck_assert_str_eq(SAY(&c, "UIDL 1\r\n"), "+OK 1 1000.M1.test\r\n");
	SAY(&c, "QUIT\r\n");
	conn_close(&c);
	conn_open(&d);
	SAY(&d, "USER alice\r\nPASS secret\r\n");
	ck_assert_str_eq(SAY(&d, "UIDL 1\r\n"), "+OK 1 0999.M0.test\r\n");
	ck_assert_str_eq(SAY(&d, "UIDL 2\r\n"), "+OK 2 1000.M1.test\r\n");
	conn_close(&d);
}
END_TEST

/* --- AUTH PLAIN ------------------------------------------------------- */

START_TEST(test_auth_plain)
{
	struct conn c;

	/* base64("\0alice\0secret") and base64("alice\0alice\0secret") */
	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
	                 "+OK Logged in, 4 messages (147 octets)\r\n");
	conn_close(&c);

	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "AUTH PLAIN\r\n"), "+ \r\n");
	ck_assert_str_eq(SAY(&c, "YWxpY2UAYWxpY2UAc2VjcmV0\r\n"),
	                 "+OK Logged in, 4 messages (147 octets)\r\n");
	conn_close(&c);

	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "AUTH\r\n"), "+OK Supported mechanisms follow\r\nPLAIN\r\n.\r\n");
	ck_assert_str_eq(SAY(&c, "AUTH CRAM-MD5\r\n"), "-ERR Unsupported authentication mechanism\r\n");
	ck_assert_str_eq(SAY(&c, "AUTH PLAIN\r\n"), "+ \r\n");
	ck_assert_str_eq(SAY(&c, "*\r\n"), "-ERR Authentication cancelled\r\n");
	ck_assert_int_eq(pop3_session_state(c.s), POP3_STATE_AUTHORIZATION);
	ck_assert_str_eq(SAY(&c, "AUTH PLAIN\r\n"), "+ \r\n");
	ck_assert_str_eq(SAY(&c, "!!notbase64\r\n"), "-ERR [AUTH] Authentication failed\r\n");
	/* wrong password through AUTH: base64("\0alice\0wrong") */
	ck_assert_str_eq(SAY(&c, "AUTH PLAIN AGFsaWNlAHdyb25n\r\n"),
	                 "-ERR [AUTH] Authentication failed\r\n");
	/* a cancel is no failure, the third failure closes */
	ck_assert_str_eq(SAY(&c, "AUTH PLAIN =\r\n"),
	                 "-ERR [AUTH] Authentication failed, closing connection\r\n");
	ck_assert(c.closed);
	conn_close(&c);
}
END_TEST

/* --- Errors -------------------------------------------------------------- */

START_TEST(test_no_user_enumeration)
{
	struct conn c;
	char known[256], unknown[256];

	conn_open(&c);
	snprintf(known, sizeof(known), "%s", SAY(&c, "USER alice\r\n"));
	snprintf(unknown, sizeof(unknown), "%s", SAY(&c, "USER mallory\r\n"));
	ck_assert_str_eq(known, unknown);
	ck_assert_str_eq(SAY(&c, "PASS secret\r\n"), "-ERR [AUTH] Authentication failed\r\n");
	SAY(&c, "USER alice\r\n");
	ck_assert_str_eq(SAY(&c, "PASS nope\r\n"), "-ERR [AUTH] Authentication failed\r\n");
	conn_close(&c);
}
END_TEST

START_TEST(test_three_failures_close)
{
	struct conn c;

	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS a\r\n"),
	                 "+OK Send your password\r\n-ERR [AUTH] Authentication failed\r\n");
	ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS b\r\n"),
	                 "+OK Send your password\r\n-ERR [AUTH] Authentication failed\r\n");
	ck_assert(!c.closed);
	ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS c\r\nSTAT\r\n"),
	                 "+OK Send your password\r\n"
	                 "-ERR [AUTH] Authentication failed, closing connection\r\n");
	ck_assert(c.closed);
	conn_close(&c);
}
END_TEST

START_TEST(test_auth_delay)
{
	struct conn c;
	struct timespec a, b;
	double ms;

	params.auth_delay_ms = 300;
	conn_open(&c);
	clock_gettime(CLOCK_MONOTONIC, &a);
	SAY(&c, "USER nobody\r\nPASS x\r\n");
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	ck_assert_msg(ms >= 300, "failed login answered after %.0f ms", ms);
	conn_close(&c);
}
END_TEST

START_TEST(test_wrong_state)
{
	struct conn c;

	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "STAT\r\n"), "-ERR Not logged in\r\n");
	ck_assert_str_eq(SAY(&c, "RETR 1\r\n"), "-ERR Not logged in\r\n");
	ck_assert_str_eq(SAY(&c, "NOOP\r\n"), "-ERR Not logged in\r\n");
	ck_assert_str_eq(SAY(&c, "PASS secret\r\n"), "-ERR Send USER first\r\n");
	ck_assert_str_eq(SAY(&c, "APOP alice 0123456789abcdef\r\n"), "-ERR APOP is not supported\r\n");
	login(&c);
	ck_assert_str_eq(SAY(&c, "USER bob\r\n"), "-ERR Already logged in\r\n");
	ck_assert_str_eq(SAY(&c, "PASS x\r\n"), "-ERR Already logged in\r\n");
	ck_assert_str_eq(SAY(&c, "AUTH PLAIN\r\n"), "-ERR Already logged in\r\n");
	conn_close(&c);
}
END_TEST

static const struct {
	const char *cmd;
	const char *reply;
} bad_args[] = {
	{ "LIST abc\r\n", "-ERR Invalid message number\r\n" },
	{ "LIST 0\r\n", "-ERR No such message\r\n" },
	{ "LIST 5\r\n", "-ERR No such message\r\n" },
	{ "LIST -1\r\n", "-ERR Invalid message number\r\n" },
	{ "LIST 1 2\r\n", "-ERR Syntax: LIST [message]\r\n" },
	{ "RETR 0\r\n", "-ERR No such message\r\n" },
	{ "RETR 99999999999999999999\r\n", "-ERR No such message\r\n" },
	{ "RETR\r\n", "-ERR Syntax: RETR message\r\n" },
	{ "RETR 1x\r\n", "-ERR Invalid message number\r\n" },
	{ "TOP 1\r\n", "-ERR Syntax: TOP message lines\r\n" },
	{ "TOP 1 -1\r\n", "-ERR Invalid number of lines\r\n" },
	{ "TOP 1 99999999999999999999\r\n", "-ERR Invalid number of lines\r\n" },
	{ "DELE\r\n", "-ERR Syntax: DELE message\r\n" },
	{ "DELE x\r\n", "-ERR Invalid message number\r\n" },
	{ "UIDL 9\r\n", "-ERR No such message\r\n" },
	{ "STAT 1\r\n", "-ERR Syntax: STAT\r\n" },
	{ "NOOP 1\r\n", "-ERR Syntax: NOOP\r\n" },
	{ "RSET 1\r\n", "-ERR Syntax: RSET\r\n" },
	{ "TOP 1 2 3\r\n", "-ERR Too many arguments\r\n" },
	{ "LIST  1\r\n", "-ERR Arguments must be separated by one space\r\n" },
	{ "LIST 1abc\r\n", "-ERR Invalid message number\r\n" },
	{ "RETR 1 \r\n", "-ERR Arguments must be separated by one space\r\n" },
	{ "TOP 1  1\r\n", "-ERR Arguments must be separated by one space\r\n" },
	{ "DELE  1\r\n", "-ERR Arguments must be separated by one space\r\n" },
	{ "XYZZY\r\n", "-ERR Unknown command\r\n" },
	{ "\r\n", "-ERR Unknown command\r\n" },
	{ " STAT\r\n", "-ERR Unknown command\r\n" },
	{ "ST\0AT\r\n", "-ERR Invalid character in command\r\n" },
	{ "STAT\rLIST\r\n", "-ERR Invalid character in command\r\n" },
};

/* Every bad command gets one -ERR and the session goes on. */
START_TEST(test_bad_arguments)
{
	struct conn c;
	const char *cmd = bad_args[_i].cmd;
	size_t len = strlen(cmd);

	if (strncmp(cmd, "ST", 2) == 0 && cmd[2] == '\0')
		len = 7; /* the row with a NUL */
	conn_open(&c);
	login(&c);
	ck_assert_msg(strcmp(say(&c, cmd, len), bad_args[_i].reply) == 0, "row %d: got '%s'", _i,
	              c.m.out);
	ck_assert_str_eq(SAY(&c, "STAT\r\n"), "+OK 4 147\r\n");
	conn_close(&c);
}
END_TEST

/* Each bad command counts: with MAX_BAD_COMMANDS=2 the second of any row
 * ends the session with one final -ERR; a good command in between neither
 * counts nor resets the count. */
START_TEST(test_bad_arguments_count)
{
	struct conn c;
	const char *cmd = bad_args[_i].cmd;
	size_t len = strlen(cmd);

	if (strncmp(cmd, "ST", 2) == 0 && cmd[2] == '\0')
		len = 7; /* the row with a NUL */
	params.max_bad_commands = 2;
	conn_open(&c);
	login(&c);
	ck_assert_msg(strcmp(say(&c, cmd, len), bad_args[_i].reply) == 0, "row %d: got '%s'", _i,
	              c.m.out);
	ck_assert_str_eq(SAY(&c, "STAT\r\n"), "+OK 4 147\r\n");
	ck_assert(!c.closed);
	ck_assert_msg(strcmp(say(&c, cmd, len),
	                     "-ERR Too many bad commands, closing connection\r\n") == 0,
	              "row %d: got '%s'", _i, c.m.out);
	ck_assert(c.closed);
	conn_close(&c);
}
END_TEST

/* Commands not valid before login count too; failed logins do not (they
 * have MAX_AUTH_FAILURES), nor does a cancelled AUTH. */
START_TEST(test_bad_commands_authorization)
{
	struct conn c;

	params.max_bad_commands = 8;
	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "STAT\r\nNOOP\r\nPASS x\r\nAPOP a b\r\n"),
	                 "-ERR Not logged in\r\n-ERR Not logged in\r\n-ERR Send USER first\r\n"
	                 "-ERR APOP is not supported\r\n");
	ck_assert_str_eq(SAY(&c, "USER a/b\r\nAUTH CRAM-MD5\r\nUSER\r\n"),
	                 "-ERR Invalid user name\r\n-ERR Unsupported authentication mechanism\r\n"
	                 "-ERR Syntax: USER name\r\n");
	/* 7 so far; two failed logins and a cancelled AUTH are not counted */
	ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS a\r\nUSER alice\r\nPASS b\r\n"
	                         "AUTH PLAIN\r\n*\r\nCAPA\r\n"),
	                 "+OK Send your password\r\n-ERR [AUTH] Authentication failed\r\n"
	                 "+OK Send your password\r\n-ERR [AUTH] Authentication failed\r\n"
	                 "+ \r\n-ERR Authentication cancelled\r\n"
	                 "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
	                 "AUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\nSASL PLAIN\r\n"
	                 "IMPLEMENTATION pop3s-test\r\n.\r\n");
	ck_assert(!c.closed);
	/* the 8th, and nothing after it is read */
	ck_assert_str_eq(SAY(&c, "RETR 1\r\nUSER alice\r\nPASS secret\r\n"),
	                 "-ERR Too many bad commands, closing connection\r\n");
	ck_assert(c.closed);
	ck_assert_int_eq(pop3_session_state(c.s), POP3_STATE_AUTHORIZATION);
	conn_close(&c);
}
END_TEST

START_TEST(test_long_lines)
{
	struct conn c;
	char line[3000];

	conn_open(&c);
	login(&c);
	/* 253 octets + CRLF = 255, the RFC 2449 maximum: read as a command. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PASS ", 5);
	memcpy(line + 253, "\r\n", 2);
	ck_assert_str_eq(say(&c, line, 255), "-ERR Already logged in\r\n");
	/* One more octet: refused, and the session goes on. */
	memcpy(line + 254, "\r\n", 2);
	line[253] = 'x';
	ck_assert_str_eq(say(&c, line, 256), "-ERR Line too long\r\n");
	/* Far longer than any buffer, then a good command in the same chunk. */
	memset(line, 'A', sizeof(line));
	memcpy(line + 2990, "\r\nSTAT\r\n", 8);
	ck_assert_str_eq(say(&c, line, 2998), "-ERR Line too long\r\n+OK 4 147\r\n");
	conn_close(&c);
}
END_TEST

START_TEST(test_in_use)
{
	struct conn a, b;

	conn_open(&a);
	login(&a);
	conn_open(&b);
	ck_assert_str_eq(SAY(&b, "USER alice\r\nPASS secret\r\n"),
	                 "+OK Send your password\r\n"
	                 "-ERR [IN-USE] Mailbox is in use by another session\r\n");
	ck_assert_int_eq(pop3_session_state(b.s), POP3_STATE_AUTHORIZATION);
	/* bob's mailbox is another lock */
	ck_assert_str_eq(SAY(&b, "USER bob\r\nPASS hunter2 with spaces\r\n"),
	                 "+OK Send your password\r\n+OK Logged in, 0 messages (0 octets)\r\n");
	conn_close(&a);
	conn_close(&b);
	conn_open(&b);
	login(&b);
	conn_close(&b);
}
END_TEST

/* QUIT's reply means the mailbox is free, even before the session that
 * sent it is freed (and its process has exited). */
START_TEST(test_quit_releases_lock)
{
	struct conn a, b;

	conn_open(&a);
	login(&a);
	ck_assert_str_eq(SAY(&a, "DELE 2\r\nQUIT\r\n"),
	                 "+OK Message 2 deleted\r\n+OK Logging out, 1 message removed\r\n");
	conn_open(&b);
	ck_assert_str_eq(SAY(&b, "USER alice\r\nPASS secret\r\n"),
	                 "+OK Send your password\r\n+OK Logged in, 3 messages (104 octets)\r\n");
	conn_close(&b);
	conn_close(&a);
}
END_TEST

/* An unreadable message fails alone; the session goes on. */
START_TEST(test_unreadable_message)
{
	struct conn c;
	const char *p = th_path(home, "alice/new/1002.M3.test");

	conn_open(&c);
	login(&c);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(mkdir(p, 0700), 0);  /* opens, but cannot be read */
	ck_assert_str_eq(SAY(&c, "RETR 3\r\n"), "-ERR [SYS/TEMP] Message 3 cannot be read\r\n");
	ck_assert_str_eq(SAY(&c, "TOP 3 0\r\n"), "-ERR [SYS/TEMP] Message 3 cannot be read\r\n");
	ck_assert_str_eq(SAY(&c, "RETR 4\r\n"), "+OK 2 octets\r\n\r\n.\r\n");
	rmdir(p);
	ck_assert_str_eq(SAY(&c, "RETR 3\r\n"), "-ERR [SYS/TEMP] Message 3 cannot be read\r\n");
	conn_close(&c);
}
END_TEST

/* A removal that fails makes QUIT answer -ERR [SYS/TEMP] (RFC 1939). */
START_TEST(test_expunge_failure)
{
	struct conn b, c;
	const char *reply;
	const char *p = th_path(home, "alice/new/1000.M1.test");

	conn_open(&c);
	login(&c);
	SAY(&c, "DELE 1\r\nDELE 4\r\n");
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	th_write_file(th_path(p, "x"), "x", 1);
	ck_assert_str_eq(SAY(&c, "QUIT\r\n"),
	                 "-ERR [SYS/TEMP] 1 deleted message not removed, 1 removed\r\n");
	ck_assert(exists("alice/new/1000.M1.test/x"));
	ck_assert(c.closed);
	ck_assert(!exists("alice/new/1003.M4.test"));
	/* the failed QUIT frees the mailbox as a good one does */
	conn_open(&b);
	reply = SAY(&b, "USER alice\r\nPASS secret\r\n");
	ck_assert_msg(strstr(reply, "\r\n+OK Logged in, ") != NULL, "got: %s", reply);
	conn_close(&b);
	conn_close(&c);
}
END_TEST

START_TEST(test_users_file_missing)
{
	struct conn c;

	params.users_file = th_path(dir, "no-such-users");
	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS secret\r\n"),
	                 "+OK Send your password\r\n"
	                 "-ERR [SYS/TEMP] Authentication is temporarily unavailable\r\n");
	conn_close(&c);
}
END_TEST

/* A mailbox root that is missing (unmounted disk, typo in HOME=) is a
 * temporary failure for the client, never an empty mailbox. */
START_TEST(test_home_missing)
{
	struct conn c;

	params.home = th_path(dir, "no-such-home");
	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS secret\r\n"),
	                 "+OK Send your password\r\n-ERR [SYS/TEMP] Cannot open the mailbox\r\n");
	ck_assert_int_eq(pop3_session_state(c.s), POP3_STATE_AUTHORIZATION);
	conn_close(&c);
}
END_TEST

/* The hook that narrows the confinement to the mailbox (main.c:
 * confine_mailbox) gets the user's own directory; when it fails, the
 * login fails as a temporary error and the mailbox is left as it was. */
struct enter_record {
	int calls;
	ino_t ino;
	int result;
};

static int
record_enter(void *ctx, int dirfd, char *err, size_t errlen)
{
	struct enter_record *r = ctx;
	struct stat st;

	r->calls++;
	r->ino = fstat(dirfd, &st) == 0 ? st.st_ino : 0;
	if (r->result < 0)
		snprintf(err, errlen, "cannot confine to the mailbox: %s", strerror(-r->result));
	return r->result;
}

START_TEST(test_enter_mailbox)
{
	struct enter_record rec = { 0, 0, _i == 0 ? 0 : -EPERM };
	struct conn c;
	struct stat st;

	ck_assert_int_eq(stat(th_path(home, "alice"), &st), 0);
	params.enter_mailbox = record_enter;
	params.enter_mailbox_ctx = &rec;
	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS wrong\r\n"),
	                 "+OK Send your password\r\n-ERR [AUTH] Authentication failed\r\n");
	ck_assert_int_eq(rec.calls, 0);
	if (_i == 0) {
		ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS secret\r\n"),
		                 "+OK Send your password\r\n+OK Logged in, 4 messages (147 octets)\r\n");
		ck_assert_int_eq(pop3_session_state(c.s), POP3_STATE_TRANSACTION);
	} else {
		ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS secret\r\n"),
		                 "+OK Send your password\r\n-ERR [SYS/TEMP] Cannot open the mailbox\r\n");
		ck_assert_int_eq(pop3_session_state(c.s), POP3_STATE_AUTHORIZATION);
	}
	ck_assert_int_eq(rec.calls, 1);
	ck_assert_uint_eq(rec.ino, st.st_ino);
	if (_i == 1) {
		struct conn d;

		/* the failed login holds no lock: the next one gets in */
		rec.result = 0;
		conn_open(&d);
		ck_assert_str_eq(SAY(&d, "USER alice\r\nPASS secret\r\n"),
		                 "+OK Send your password\r\n+OK Logged in, 4 messages (147 octets)\r\n");
		conn_close(&d);
	}
	conn_close(&c);
}
END_TEST

START_TEST(test_invalid_user_names)
{
	static const char *const names[] = { "../alice", ".alice", "a/b", "a:b" };
	struct conn c;
	size_t i;
	char line[128];

	conn_open(&c);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(line, sizeof(line), "USER %s\r\n", names[i]);
		ck_assert_str_eq(say(&c, line, strlen(line)), "-ERR Invalid user name\r\n");
		ck_assert_str_eq(SAY(&c, "PASS secret\r\n"), "-ERR Send USER first\r\n");
	}
	/* base64("\0../alice\0secret"): a bad name through AUTH fails plainly */
	ck_assert_str_eq(SAY(&c, "AUTH PLAIN AC4uL2FsaWNlAHNlY3JldA==\r\n"),
	                 "-ERR [AUTH] Authentication failed\r\n");
	conn_close(&c);
}
END_TEST

START_TEST(test_quit_in_authorization)
{
	struct conn c;

	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "QUIT\r\n"), "+OK Logging out\r\n");
	ck_assert(c.closed);
	conn_close(&c);
}
END_TEST

/* --- Limits: real mail from the shared corpus --------------------------- */

/* For every message, LIST's size equals the octets RETR sends once the
 * dot-stuffing is undone, and RETR's body is the stored file with CRLF. */
START_TEST(test_corpus_sizes)
{
	static const char *const files[] = {
		"allen-p/_sent_mail/1_", "allen-p/_sent_mail/2_", "allen-p/all_documents/1_",
		"allen-p/deleted_items/1_", "arnold-j/_sent_mail/1_",
	};
	char corpus[4096];
	struct conn c;
	size_t i, n = 0;

	snprintf(corpus, sizeof(corpus), "%s/../shared/corpus/enron-sample", TEST_SRCDIR);
	if (access(corpus, R_OK) != 0)
		return; /* the shared corpus is optional here; mailbox tests cover the rest */
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char dst[64];
		size_t len;
		char *text = th_read_file(th_path(corpus, files[i]), &len);

		if (text == NULL)
			continue;
		snprintf(dst, sizeof(dst), "new/2%03zu.corpus", i);
		msg("bob", dst, text, 2000 + (time_t)i);
		free(text);
		n++;
	}
	conn_open(&c);
	SAY(&c, "USER bob\r\nPASS hunter2 with spaces\r\n");
	for (i = 1; i <= n; i++) {
		char cmd[32], *body, *end;
		unsigned long size;
		size_t unstuffed = 0;
		const char *p;

		snprintf(cmd, sizeof(cmd), "LIST %zu\r\n", i);
		ck_assert_int_eq(sscanf(say(&c, cmd, strlen(cmd)), "+OK %*u %lu", &size), 1);
		snprintf(cmd, sizeof(cmd), "RETR %zu\r\n", i);
		say(&c, cmd, strlen(cmd));
		body = strstr(c.m.out, "\r\n") + 2;
		end = c.m.out + c.m.len - 3;
		ck_assert_str_eq(end, ".\r\n");
		for (p = body; p < end; p++) {
			if (*p == '.' && (p == body || p[-1] == '\n'))
				p++; /* undo the stuffing */
			unstuffed++;
		}
		ck_assert_msg(unstuffed == size, "message %zu: LIST %lu, RETR %zu", i, size, unstuffed);
	}
	conn_close(&c);
}
END_TEST

/* --- filter and log records -------------------------------------------- */

/* A private queue the session's log client sends to, read back here. */
struct logtap {
	char name[64];
	mqd_t q;
	struct logclient *lc;
};

static void
logtap_open(struct logtap *lt, long depth)
{
	snprintf(lt->name, sizeof(lt->name), "/pop3s-check-session-%ld", (long)getpid());
	mq_unlink(lt->name);
	ck_assert_int_eq(logq_open_receiver(lt->name, depth, &lt->q), 0);
	lt->lc = logclient_new(lt->name, 1000, "192.0.2.1");
	ck_assert_ptr_nonnull(lt->lc);
	params.log = lt->lc;
}

static void
logtap_close(struct logtap *lt)
{
	params.log = NULL;
	logclient_free(lt->lc);
	mq_close(lt->q);
	mq_unlink(lt->name);
}

/* The next queued record of the given type (others are skipped). */
static struct logrec
logtap_next(struct logtap *lt, enum logrec_type type)
{
	uint8_t buf[LOGQ_MSGSIZE];
	struct logrec r;
	long n;

	for (;;) {
		n = logq_receive(lt->q, buf, sizeof(buf));
		ck_assert_msg(n > 0, "no %s record queued", logrec_type_name(type));
		ck_assert_int_eq(logrec_decode(buf, (size_t)n, &r), 0);
		if (r.type == type)
			return r;
	}
}

static void
use_filter(const char *command)
{
	params.filter.command = command;
	params.filter.timeout_ms = 5000;
	params.filter.max_bytes = 1 << 20;
	params.filter.tmpdir = dir;
}

#define TAGGER "/usr/bin/sed 1iX-Spam:\\x20no"

START_TEST(test_filter_retr_size_and_content)
{
	struct conn c;

	use_filter(TAGGER);
	conn_open(&c);
	login(&c);
	/* RETR announces the size of what it sends: 66 + "X-Spam: no\r\n" */
	ck_assert_str_eq(SAY(&c, "RETR 1\r\n"),
	                 "+OK 78 octets\r\nX-Spam: no\r\nFrom: a@example.org\r\nSubject: one\r\n\r\n"
	                 "line 1\r\n..hidden dot\r\n..\r\nend\r\n.\r\n");
	/* sed writes nothing for an empty file: sent as one empty line, as
	 * for any empty message */
	ck_assert_str_eq(SAY(&c, "RETR 4\r\n"), "+OK 2 octets\r\n\r\n.\r\n");
	ck_assert_str_eq(SAY(&c, "RETR 3\r\n"),
	                 "+OK 48 octets\r\nX-Spam: no\r\nSubject: three\r\n\r\nno final newline\r\n.\r\n");
	/* LIST and STAT keep the stored sizes: the filter is not run for them */
	ck_assert_str_eq(SAY(&c, "LIST 1\r\n"), "+OK 1 66\r\n");
	ck_assert_str_eq(SAY(&c, "STAT\r\n"), "+OK 4 147\r\n");
	conn_close(&c);
}
END_TEST

START_TEST(test_filter_top)
{
	struct conn c;

	/* TOP's line count applies to the filter's output */
	use_filter("/usr/bin/sed -e 1iX-Spam:\\x20no -e s/line/LINE/");
	conn_open(&c);
	login(&c);
	ck_assert_str_eq(SAY(&c, "TOP 1 1\r\n"),
	                 "+OK Top of message follows\r\nX-Spam: no\r\nFrom: a@example.org\r\n"
	                 "Subject: one\r\n\r\nLINE 1\r\n.\r\n");
	ck_assert_str_eq(SAY(&c, "TOP 2 0\r\n"),
	                 "+OK Top of message follows\r\nX-Spam: no\r\nFrom: b@example.org\r\n"
	                 "Subject: two\r\n\r\n.\r\n");
	conn_close(&c);
}
END_TEST

START_TEST(test_filter_failure)
{
	struct logtap lt;
	struct logrec r;
	struct conn c;

	use_filter("/bin/sh -c echo${IFS}partial;exit${IFS}3");
	logtap_open(&lt, 10);
	conn_open(&c);
	login(&c);
	/* nothing of the message, one error line, and the session goes on */
	ck_assert_str_eq(SAY(&c, "RETR 1\r\n"),
	                 "-ERR [SYS/TEMP] Message 1 could not be filtered\r\n");
	r = logtap_next(&lt, LOGREC_COMMAND);
	while (strcmp(r.command, "RETR") != 0)
		r = logtap_next(&lt, LOGREC_COMMAND);
	ck_assert_str_eq(r.status, "ERR");
	ck_assert_str_eq(r.detail, "filter exited with status 3");
	ck_assert_str_eq(SAY(&c, "TOP 1 0\r\n"),
	                 "-ERR [SYS/TEMP] Message 1 could not be filtered\r\n");
	ck_assert(!c.closed);
	ck_assert_str_eq(SAY(&c, "NOOP\r\n"), "+OK Still here\r\n");

	use_filter("/bin/sleep 30");
	params.filter.timeout_ms = 200;
	ck_assert_str_eq(SAY(&c, "RETR 2\r\n"),
	                 "-ERR [SYS/TEMP] Message 2 could not be filtered\r\n");
	r = logtap_next(&lt, LOGREC_COMMAND);
	while (strcmp(r.command, "RETR") != 0)
		r = logtap_next(&lt, LOGREC_COMMAND);
	ck_assert_str_eq(r.detail, "filter timed out after 200 ms");
	ck_assert_str_eq(SAY(&c, "LIST 2\r\n"), "+OK 2 43\r\n");
	conn_close(&c);
	logtap_close(&lt);
}
END_TEST

/* QUIT's UPDATE sends the number of messages really removed. */
START_TEST(test_update_record)
{
	struct logtap lt;
	struct logrec r;
	struct conn c;
	const char *p = th_path(home, "alice/new/1000.M1.test");

	logtap_open(&lt, 10);
	conn_open(&c);
	login(&c);
	SAY(&c, "DELE 2\r\nDELE 4\r\n");
	ck_assert_str_eq(SAY(&c, "QUIT\r\n"), "+OK Logging out, 2 messages removed\r\n");
	r = logtap_next(&lt, LOGREC_UPDATE);
	ck_assert_uint_eq(r.removed, 2);
	ck_assert_str_eq(r.status, "OK");
	ck_assert_str_eq(r.user, "alice");
	conn_close(&c);

	/* one of two cannot be removed: 1 removed, ERR and why */
	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS secret\r\n"),
	                 "+OK Send your password\r\n+OK Logged in, 2 messages (102 octets)\r\n");
	SAY(&c, "DELE 1\r\nDELE 2\r\n");
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	th_write_file(th_path(p, "x"), "x", 1);
	SAY(&c, "QUIT\r\n");
	r = logtap_next(&lt, LOGREC_UPDATE);
	ck_assert_uint_eq(r.removed, 1);
	ck_assert_str_eq(r.status, "ERR");
	ck_assert_ptr_nonnull(strstr(r.detail, "1 of 2 messages not removed"));
	conn_close(&c);
	logtap_close(&lt);
}
END_TEST

/* --- races with other mailbox writers ------------------------------------ */

static void
move(const char *from, const char *to)
{
	char f[4096];

	snprintf(f, sizeof(f), "%s", th_path(home, from));
	ck_assert_int_eq(rename(f, th_path(home, to)), 0);
}

static void
append_to(const char *rel, const char *text)
{
	FILE *f = fopen(th_path(home, rel), "a");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* A message modified since login: RETR and TOP refuse it (its listed
 * size is no longer true), QUIT keeps it and says so. */
START_TEST(test_changed_message_refused)
{
	struct logtap lt;
	struct logrec r;
	struct conn c;

	logtap_open(&lt, 10);
	conn_open(&c);
	login(&c);
	append_to("alice/new/1000.M1.test", "appended after login\n");
	ck_assert_str_eq(SAY(&c, "LIST 1\r\n"), "+OK 1 66\r\n");
	ck_assert_str_eq(SAY(&c, "RETR 1\r\n"),
	                 "-ERR [SYS/TEMP] Message 1 changed since login\r\n");
	r = logtap_next(&lt, LOGREC_COMMAND);
	while (strcmp(r.command, "RETR") != 0)
		r = logtap_next(&lt, LOGREC_COMMAND);
	ck_assert_str_eq(r.detail, "message changed since login");
	ck_assert_str_eq(SAY(&c, "TOP 1 0\r\n"),
	                 "-ERR [SYS/TEMP] Message 1 changed since login\r\n");
	ck_assert_str_eq(SAY(&c, "RETR 4\r\n"), "+OK 2 octets\r\n\r\n.\r\n");
	ck_assert_str_eq(SAY(&c, "DELE 1\r\nDELE 4\r\n"),
	                 "+OK Message 1 deleted\r\n+OK Message 4 deleted\r\n");
	ck_assert_str_eq(SAY(&c, "QUIT\r\n"),
	                 "-ERR [SYS/TEMP] 1 deleted message not removed, 1 removed\r\n");
	r = logtap_next(&lt, LOGREC_UPDATE);
	ck_assert_uint_eq(r.removed, 1);
	ck_assert_str_eq(r.status, "ERR");
	ck_assert_ptr_nonnull(strstr(r.detail, "1 of 2 messages not removed (1 changed since login"));
	ck_assert(exists("alice/new/1000.M1.test"));
	ck_assert(!exists("alice/new/1003.M4.test"));
	conn_close(&c);
	logtap_close(&lt);
}
END_TEST

/* Messages another reader renamed since login (new/ to cur/, a flag
 * added) are removed; one someone else removed is not counted as removed
 * by this session. */
START_TEST(test_quit_follows_rename)
{
	struct logtap lt;
	struct logrec r;
	struct conn c;

	logtap_open(&lt, 10);
	conn_open(&c);
	login(&c);
	SAY(&c, "DELE 1\r\nDELE 2\r\nDELE 3\r\n");
	move("alice/new/1000.M1.test", "alice/cur/1000.M1.test:2,S");
	move("alice/cur/1001.M2.test:2,S", "alice/cur/1001.M2.test:2,RS");
	ck_assert_int_eq(unlink(th_path(home, "alice/new/1002.M3.test")), 0);
	ck_assert_str_eq(SAY(&c, "QUIT\r\n"),
	                 "+OK Logging out, 2 messages removed, 1 already gone\r\n");
	r = logtap_next(&lt, LOGREC_UPDATE);
	ck_assert_uint_eq(r.removed, 2);
	ck_assert_str_eq(r.status, "OK");
	ck_assert_str_eq(r.detail, "1 already gone");
	ck_assert(!exists("alice/cur/1000.M1.test:2,S"));
	ck_assert(!exists("alice/cur/1001.M2.test:2,RS"));
	ck_assert(exists("alice/new/1003.M4.test"));
	conn_close(&c);
	logtap_close(&lt);
}
END_TEST

/* A plain-layout message replaced under the same name after login is not
 * the message the client deleted: it stays. */
START_TEST(test_quit_keeps_replaced)
{
	struct conn c;
	char *text;

	msg("alice", "plain-1", "Subject: plain\n\nfirst\n", 1004);
	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS secret\r\n"),
	                 "+OK Send your password\r\n+OK Logged in, 5 messages (172 octets)\r\n");
	ck_assert_str_eq(SAY(&c, "DELE 5\r\n"), "+OK Message 5 deleted\r\n");
	msg("alice", ".tmp-plain", "Subject: plain\n\nsecond\n", 1004);
	move("alice/.tmp-plain", "alice/plain-1");
	ck_assert_str_eq(SAY(&c, "QUIT\r\n"),
	                 "-ERR [SYS/TEMP] 1 deleted message not removed, 0 removed\r\n");
	text = th_read_file(th_path(home, "alice/plain-1"), NULL);
	ck_assert_str_eq(text, "Subject: plain\n\nsecond\n");
	free(text);
	conn_close(&c);
}
END_TEST

/* Writes alice's size cache: each relpath with its real stat key and the
 * given size. */
static void
forge_cache(const char *const *relpaths, const char *const *sizes, size_t n)
{
	char buf[4096];
	size_t len = 0, i;

	len += (size_t)snprintf(buf, sizeof(buf), "pop3s-sizes 1\n");
	for (i = 0; i < n; i++) {
		char rel[512];
		struct stat st;

		snprintf(rel, sizeof(rel), "alice/%s", relpaths[i]);
		ck_assert_int_eq(stat(th_path(home, rel), &st), 0);
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%llu %lld %lld %ld %s %s\n",
		                        (unsigned long long)st.st_ino, (long long)st.st_size,
		                        (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, sizes[i],
		                        relpaths[i]);
	}
	th_write_file(th_path(home, "alice/.pop3s-sizes"), buf, len);
}

/* Sizes a file cannot have are not served, and STAT does not wrap. */
START_TEST(test_forged_cache_refused)
{
	static const char *const rel[] = { "new/1000.M1.test", "cur/1001.M2.test:2,S",
		                           "new/1003.M4.test" };
	static const char *const sizes[] = { "18446744073709551615", "18446744073709551614",
		                             "0" };
	struct conn c;

	forge_cache(rel, sizes, 3);
	conn_open(&c);
	login(&c);   /* 4 messages (147 octets) */
	ck_assert_str_eq(SAY(&c, "STAT\r\n"), "+OK 4 147\r\n");
	ck_assert_str_eq(SAY(&c, "LIST\r\n"),
	                 "+OK 4 messages (147 octets)\r\n1 66\r\n2 43\r\n3 36\r\n4 2\r\n.\r\n");
	conn_close(&c);
}
END_TEST

/* A forged size the file could have (66 listed as 67): RETR never sends a
 * terminated message of another size than announced; it ends the session
 * and drops the cache, so the next login lists the true size. */
START_TEST(test_forged_cache_plausible)
{
	static const char *const rel[] = { "new/1000.M1.test" };
	static const char *const sizes[] = { "67" };
	struct conn c;
	const char *out;

	forge_cache(rel, sizes, 1);
	conn_open(&c);
	ck_assert_str_eq(SAY(&c, "USER alice\r\nPASS secret\r\n"),
	                 "+OK Send your password\r\n+OK Logged in, 4 messages (148 octets)\r\n");
	ck_assert_str_eq(SAY(&c, "LIST 1\r\n"), "+OK 1 67\r\n");
	out = SAY(&c, "RETR 1\r\nNOOP\r\n");
	ck_assert(strncmp(out, "+OK 67 octets\r\n", 15) == 0);
	ck_assert_ptr_null(strstr(out, "\r\n.\r\n"));
	ck_assert_ptr_null(strstr(out, "Still here"));
	ck_assert(c.closed);
	ck_assert(!exists("alice/.pop3s-sizes"));
	conn_close(&c);
	conn_open(&c);
	login(&c);
	ck_assert_str_eq(SAY(&c, "LIST 1\r\n"), "+OK 1 66\r\n");
	conn_close(&c);
}
END_TEST

/* The flood of issue 8: 100,000 unknown commands in one pipelined burst.
 * The session answers the first MAX_BAD_COMMANDS - 1 as usual, the next
 * with one final -ERR, and reads nothing more. Then the same flood line by
 * line with the log records read back: one per command answered. */
START_TEST(test_bad_command_flood)
{
	static const char bad[] = "XYZZY\r\n";
	const size_t lines = 100000, blen = sizeof(bad) - 1;
	char *flood = malloc(lines * blen);
	uint8_t buf[LOGQ_MSGSIZE];
	struct logrec r;
	char want[2048] = "";
	struct logtap lt;
	struct conn c;
	unsigned i, records = 0, final = 0;
	size_t sent;
	long n;

	ck_assert_ptr_nonnull(flood);
	for (i = 0; i < lines; i++)
		memcpy(flood + i * blen, bad, blen);
	for (i = 1; i < params.max_bad_commands; i++)
		strcat(want, "-ERR Unknown command\r\n");
	strcat(want, "-ERR Too many bad commands, closing connection\r\n");

	conn_open(&c);
	ck_assert_str_eq(say(&c, flood, lines * blen), want);
	ck_assert(c.closed);
	conn_close(&c);
	free(flood);

	logtap_open(&lt, 10);
	conn_open(&c);
	for (sent = 0; sent < lines && !c.closed; sent++) {
		say(&c, bad, blen);
		while ((n = logq_receive(lt.q, buf, sizeof(buf))) > 0) {
			ck_assert_int_eq(logrec_decode(buf, (size_t)n, &r), 0);
			ck_assert_int_eq(r.type, LOGREC_COMMAND);
			ck_assert_str_eq(r.command, "XYZZY");
			ck_assert_str_eq(r.status, "ERR");
			records++;
			final += strcmp(r.detail, "too many bad commands (20)") == 0;
		}
	}
	ck_assert(c.closed);
	ck_assert_uint_eq(sent, params.max_bad_commands);
	ck_assert_str_eq(c.m.out, "-ERR Too many bad commands, closing connection\r\n");
	ck_assert_uint_eq(records, params.max_bad_commands);
	ck_assert_uint_eq(final, 1);
	ck_assert_str_eq(r.detail, "too many bad commands (20)");
	ck_assert_uint_eq(logclient_fallbacks(lt.lc), 0);
	conn_close(&c);
	logtap_close(&lt);
}
END_TEST

/* Hostile input, deterministic: random octets (printable, spaces, CR, LF,
 * NUL, 8-bit), random command words with random arguments, in random chunk
 * sizes. The session must never crash (the ASan stage runs this too), must
 * answer only with protocol lines, and must still work afterwards. */
START_TEST(test_random_input)
{
	static const char *const words[] = {
		"USER ", "PASS ", "AUTH PLAIN ", "AUTH ", "STAT", "LIST ", "RETR ", "TOP ",
		"UIDL ", "NOOP", "RSET", "CAPA", "APOP ", "DELE ", "*", "=",
	};
	char chunk[700];
	struct conn c;
	unsigned seed = 12345;
	int round;

	/* this test is about robustness, not the flood limit */
	params.max_bad_commands = UINT_MAX;
	conn_open(&c);
	login(&c);
	for (round = 0; round < 3000 && !c.closed; round++) {
		size_t len = (size_t)(rand_r(&seed) % 600), i = 0;

		while (i < len) {
			int k = rand_r(&seed) % 10;

			if (k == 0 && i + 12 < len) {
				const char *w = words[rand_r(&seed) % (sizeof(words) / sizeof(words[0]))];

				memcpy(chunk + i, w, strlen(w));
				i += strlen(w);
			} else if (k == 1) {
				chunk[i++] = "\r\n\0 "[rand_r(&seed) % 4];
			} else if (k == 2) {
				chunk[i++] = (char)('0' + rand_r(&seed) % 10);
			} else {
				chunk[i++] = (char)(rand_r(&seed) % 256);
			}
		}
		/* QUIT would end the test early; keep it out of the stream */
		for (i = 0; i + 4 <= len; i++)
			if (strncasecmp(chunk + i, "QUIT", 4) == 0)
				chunk[i] = 'X';
		say(&c, chunk, len);
		/* every reply line is a protocol line or part of a listing */
		ck_assert_msg(c.m.len == 0 || c.m.out[c.m.len - 1] == '\n', "round %d: partial reply", round);
	}
	ck_assert_msg(!c.closed, "random input closed the session after %d rounds", round);
	say(&c, "\r\nNOOP\r\n", 8);
	ck_assert_msg(c.m.len >= 16 && strcmp(c.m.out + c.m.len - 16, "+OK Still here\r\n") == 0,
	              "after the noise: %s", c.m.out);
	conn_close(&c);
}
END_TEST

static Suite *
pop3_session_suite(void)
{
	Suite *s = suite_create("pop3_session");
	TCase *core = tcase_create("Core");
	TCase *errors = tcase_create("Errors");
	TCase *limits = tcase_create("Limits");
	TCase *filter = tcase_create("Filter");

	tcase_add_checked_fixture(filter, setup, teardown);
	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_checked_fixture(errors, setup, teardown);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(core, test_greeting_and_capa);
	tcase_add_test(core, test_stat_list_sizes);
	tcase_add_test(core, test_retr_top);
	tcase_add_test(core, test_dele_quit_removes);
	tcase_add_test(core, test_dele_rset_keeps);
	tcase_add_test(core, test_drop_removes_nothing);
	tcase_add_test(core, test_pipelining);
	tcase_add_test(core, test_case_insensitive);
	tcase_add_test(core, test_stable_numbering);
	tcase_add_test(core, test_auth_plain);
	tcase_add_test(errors, test_no_user_enumeration);
	tcase_add_test(errors, test_three_failures_close);
	tcase_add_test(errors, test_auth_delay);
	tcase_add_test(errors, test_wrong_state);
	tcase_add_loop_test(errors, test_bad_arguments, 0, sizeof(bad_args) / sizeof(bad_args[0]));
	tcase_add_test(errors, test_in_use);
	tcase_add_test(errors, test_quit_releases_lock);
	tcase_add_test(errors, test_unreadable_message);
	tcase_add_test(errors, test_expunge_failure);
	tcase_add_test(errors, test_users_file_missing);
	tcase_add_test(errors, test_home_missing);
	tcase_add_loop_test(errors, test_enter_mailbox, 0, 2);
	tcase_add_test(errors, test_invalid_user_names);
	tcase_add_test(errors, test_quit_in_authorization);
	tcase_add_loop_test(limits, test_bad_arguments_count, 0, sizeof(bad_args) / sizeof(bad_args[0]));
	tcase_add_test(limits, test_bad_commands_authorization);
	tcase_add_test(limits, test_long_lines);
	tcase_add_test(limits, test_corpus_sizes);
	tcase_add_test(limits, test_random_input);
	tcase_add_test(filter, test_filter_retr_size_and_content);
	tcase_add_test(filter, test_filter_top);
	tcase_add_test(filter, test_filter_failure);
	tcase_add_test(filter, test_update_record);
	tcase_add_test(filter, test_changed_message_refused);
	tcase_add_test(filter, test_quit_follows_rename);
	tcase_add_test(errors, test_quit_keeps_replaced);
	tcase_add_test(errors, test_forged_cache_refused);
	tcase_add_test(errors, test_forged_cache_plausible);
	tcase_add_test(filter, test_bad_command_flood);
	suite_add_tcase(s, filter);
	suite_add_tcase(s, core);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, limits);
	return s;
}

TH_MAIN(pop3_session_suite)
