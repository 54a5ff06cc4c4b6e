#include <errno.h>
#include <stdint.h>
#include "parse_num.h"
#include "testhelp.h"

static const struct {
	const char *in;
	uint64_t min, max;
	int ret;
	uint64_t val;
} rows[] = {
	{ "0", 0, 10, 0, 0 },
	{ "7", 0, 10, 0, 7 },
	{ "10", 0, 10, 0, 10 },
	{ "007", 0, 10, 0, 7 },
	{ "11", 0, 10, -ERANGE, 0 },
	{ "0", 1, 10, -ERANGE, 0 },
	{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
	{ "18446744073709551616", 0, UINT64_MAX, -ERANGE, 0 },
	{ "99999999999999999999", 1, UINT64_MAX, -ERANGE, 0 },
	{ "999999999999999999999999999999x", 1, UINT64_MAX, -EINVAL, 0 },
	{ "", 0, 10, -EINVAL, 0 },
	{ "-1", 0, 10, -EINVAL, 0 },
	{ "+1", 0, 10, -EINVAL, 0 },
	{ " 1", 0, 10, -EINVAL, 0 },
	{ "1 ", 0, 10, -EINVAL, 0 },
	{ "1a", 0, 10, -EINVAL, 0 },
	{ "0x1", 0, 10, -EINVAL, 0 },
	{ "1.0", 0, 10, -EINVAL, 0 },
};

START_TEST(test_table)
{
	uint64_t v = 12345;
	int r = parse_u64(rows[_i].in, rows[_i].min, rows[_i].max, &v);

	ck_assert_msg(r == rows[_i].ret, "row %d '%s': got %d want %d", _i, rows[_i].in, r,
	              rows[_i].ret);
	if (r == 0)
		ck_assert_msg(v == rows[_i].val, "row %d value", _i);
	else
		ck_assert_msg(v == 12345, "row %d: output written on failure", _i);
}
END_TEST

START_TEST(test_uint)
{
	unsigned v;

	ck_assert_int_eq(parse_uint("4294967295", 0, 4294967295u, &v), 0);
	ck_assert_uint_eq(v, 4294967295u);
	ck_assert_int_eq(parse_uint("4294967296", 0, 4294967295u, &v), -ERANGE);
	ck_assert_int_eq(parse_u64(NULL, 0, 1, (uint64_t *)&v), -EINVAL);
}
END_TEST

static Suite *
parse_num_suite(void)
{
	Suite *s = suite_create("parse_num");
	TCase *tc = tcase_create("Core");

	tcase_add_loop_test(tc, test_table, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, test_uint);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(parse_num_suite)
