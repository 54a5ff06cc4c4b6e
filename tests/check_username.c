#include <string.h>
#include "testhelp.h"
#include "username.h"

static const struct {
	const char *name;
	size_t len;   /* 0 = strlen */
	bool ok;
} rows[] = {
	{ "alice", 0, true },
	{ "bob.smith", 0, true },
	{ "user+tag@example.org", 0, true },
	{ "a", 0, true },
	{ "0123456789012345678901234567890123456789012345678901234567890123", 0, true },
	{ "01234567890123456789012345678901234567890123456789012345678901234", 0, false },
	{ "", 0, false },
	{ ".", 0, false },
	{ "..", 0, false },
	{ ".hidden", 0, false },
	{ "#x", 0, false },
	{ "#", 0, false },
	{ "a#b", 0, true },
	{ "../etc", 0, false },
	{ "a/b", 0, false },
	{ "/root", 0, false },
	{ "a\\b", 0, false },
	{ "a:b", 0, false },
	{ "a b", 0, false },
	{ "a\tb", 0, false },
	{ "a\rb", 0, false },
	{ "a\x7f", 0, false },
	{ "caf\xc3\xa9", 0, false },
	{ "a\0b", 3, false },
};

START_TEST(test_table)
{
	size_t len = rows[_i].len ? rows[_i].len : strlen(rows[_i].name);

	ck_assert_msg(username_valid(rows[_i].name, len) == rows[_i].ok, "row %d '%s'", _i,
	              rows[_i].name);
}
END_TEST

static Suite *
username_suite(void)
{
	Suite *s = suite_create("username");
	TCase *tc = tcase_create("Core");

	tcase_add_loop_test(tc, test_table, 0, sizeof(rows) / sizeof(rows[0]));
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(username_suite)
