#include <errno.h>
#include <string.h>
#include "pop3_parse.h"
#include "testhelp.h"

static const struct {
	const char *in;
	int ret;
	enum pop3_cmd cmd;
	int argc;
	const char *a0, *a1, *rest;
} rows[] = {
	{ "STAT", 0, POP3_CMD_STAT, 0, NULL, NULL, "" },
	{ "stat", 0, POP3_CMD_STAT, 0, NULL, NULL, "" },
	{ "StAt", 0, POP3_CMD_STAT, 0, NULL, NULL, "" },
	{ "LIST 1", 0, POP3_CMD_LIST, 1, "1", NULL, "1" },
	{ "LIST abc", 0, POP3_CMD_LIST, 1, "abc", NULL, "abc" },
	{ "TOP 1 10", 0, POP3_CMD_TOP, 2, "1", "10", "1 10" },
	{ "TOP  1  10 ", -EPROTO, POP3_CMD_TOP, 0, NULL, NULL, NULL },
	{ "LIST  1", -EPROTO, POP3_CMD_LIST, 0, NULL, NULL, NULL },
	{ "LIST 1 ", -EPROTO, POP3_CMD_LIST, 0, NULL, NULL, NULL },
	{ "LIST ", -EPROTO, POP3_CMD_LIST, 0, NULL, NULL, NULL },
	{ "STAT ", -EPROTO, POP3_CMD_STAT, 0, NULL, NULL, NULL },
	{ "TOP 1  10", -EPROTO, POP3_CMD_TOP, 0, NULL, NULL, NULL },
	{ "RETR\t1", -EINVAL, POP3_CMD_UNKNOWN, 0, NULL, NULL, NULL },
	{ "PASS  two leading spaces", 0, POP3_CMD_PASS, 0, NULL, NULL, " two leading spaces" },
	{ "TOP 1 2 3", -E2BIG, POP3_CMD_TOP, 2, NULL, NULL, NULL },
	{ "PASS secret with spaces", 0, POP3_CMD_PASS, 0, NULL, NULL, "secret with spaces" },
	{ "PASS", 0, POP3_CMD_PASS, 0, NULL, NULL, "" },
	{ "AUTH PLAIN AGFsaWNlAHNlY3JldA==", 0, POP3_CMD_AUTH, 2, "PLAIN", "AGFsaWNlAHNlY3JldA==", NULL },
	{ "", -EINVAL, POP3_CMD_UNKNOWN, 0, NULL, NULL, NULL },
	{ " STAT", -EINVAL, POP3_CMD_UNKNOWN, 0, NULL, NULL, NULL },
	{ "STATS", -EINVAL, POP3_CMD_UNKNOWN, 0, NULL, NULL, NULL },
	{ "STA", -EINVAL, POP3_CMD_UNKNOWN, 0, NULL, NULL, NULL },
	{ "XYZZY 1", -EINVAL, POP3_CMD_UNKNOWN, 0, NULL, NULL, NULL },
	{ "APOP a b", 0, POP3_CMD_APOP, 2, "a", "b", NULL },
	{ "uidl", 0, POP3_CMD_UIDL, 0, NULL, NULL, "" },
	{ "quit", 0, POP3_CMD_QUIT, 0, NULL, NULL, "" },
};

START_TEST(test_table)
{
	struct pop3_cmdline c;
	char line[256];
	int r;

	snprintf(line, sizeof(line), "%s", rows[_i].in);
	r = pop3_parse(line, &c);
	ck_assert_msg(r == rows[_i].ret, "row %d '%s': ret %d", _i, rows[_i].in, r);
	ck_assert_msg(c.cmd == rows[_i].cmd, "row %d: cmd %d", _i, c.cmd);
	if (r < 0)
		return;
	ck_assert_msg(c.argc == rows[_i].argc, "row %d: argc %d", _i, c.argc);
	if (rows[_i].a0)
		ck_assert_str_eq(c.argv[0], rows[_i].a0);
	if (rows[_i].a1)
		ck_assert_str_eq(c.argv[1], rows[_i].a1);
	if (rows[_i].rest && c.cmd == POP3_CMD_PASS)
		ck_assert_str_eq(c.rest, rows[_i].rest);
}
END_TEST

START_TEST(test_msgnum)
{
	uint64_t n;

	ck_assert_int_eq(pop3_parse_msgnum("1", 5, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(pop3_parse_msgnum("5", 5, &n), 0);
	ck_assert_int_eq(pop3_parse_msgnum("6", 5, &n), -ERANGE);
	ck_assert_int_eq(pop3_parse_msgnum("0", 5, &n), -ERANGE);
	ck_assert_int_eq(pop3_parse_msgnum("99999999999999999999", 5, &n), -ERANGE);
	ck_assert_int_eq(pop3_parse_msgnum("abc", 5, &n), -EINVAL);
	ck_assert_int_eq(pop3_parse_msgnum("-1", 5, &n), -EINVAL);
	ck_assert_int_eq(pop3_parse_msgnum("1", 0, &n), -ERANGE);
	ck_assert_str_eq(pop3_cmd_name(POP3_CMD_RETR), "RETR");
}
END_TEST

static Suite *
pop3_parse_suite(void)
{
	Suite *s = suite_create("pop3_parse");
	TCase *tc = tcase_create("Core");

	tcase_add_loop_test(tc, test_table, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, test_msgnum);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(pop3_parse_suite)
