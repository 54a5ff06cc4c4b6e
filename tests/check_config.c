#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "testhelp.h"

/* Each row: file content, and the exact error after "FILE:" (NULL = ok). */
static const struct {
	const char *text;
	const char *err;
} rows[] = {
	{ "", NULL },
	{ "# only a comment\n\n   \n", NULL },
	{ "HOME=/srv/mail\nTIMEOUT=900\n", NULL },
	{ "  HOME = /srv/mail  \r\n", NULL },
	{ "HOME=/srv/mail", NULL },
	{ "FOO=1\n", "1: unknown key 'FOO'" },
	{ "# c\nhome=/x\n", "2: unknown key 'home'" },
	{ "HOME\n", "1: expected KEY=VALUE, got 'HOME'" },
	{ "HOME=\n", "1: HOME: empty value" },
	{ "HOME=relative/path\n", "1: HOME: 'relative/path' is not an absolute path" },
	{ "HOME=/a\nHOME=/b\n", "2: duplicate key HOME (first set on line 1)" },
	{ "TIMEOUT=abc\n", "1: TIMEOUT: 'abc' is not a number" },
	{ "TIMEOUT=-5\n", "1: TIMEOUT: '-5' is not a number" },
	{ "TIMEOUT=0\n", "1: TIMEOUT: 0 is out of range 1..86400" },
	{ "TIMEOUT=99999999999999999999999\n", "1: TIMEOUT: 99999999999999999999999 is out of range 1..86400" },
	{ "TIMEOUT=10s\n", "1: TIMEOUT: '10s' is not a number" },
	{ "QUEUE=pop3s\n", "1: QUEUE: 'pop3s' is not a queue name like /pop3s-log" },
	{ "QUEUE=/a/b\n", "1: QUEUE: '/a/b' is not a queue name like /pop3s-log" },
	{ "MAX_AUTH_FAILURES=0\n", "1: MAX_AUTH_FAILURES: 0 is out of range 1..100" },
	{ "PRIORITY=NORMAL\x01\n", "1: PRIORITY: control character in value" },
	{ "FILTER=\n", NULL },
	{ "FILTER=/usr/bin/sed 1iX-Spam:no\n", NULL },
	{ "FILTER=sed -e x\n", "1: FILTER: 'sed -e x' does not start with an absolute path" },
	{ "STATE=\n", "1: STATE: empty value" },
	{ "STATE=var/lib\n", "1: STATE: 'var/lib' is not an absolute path" },
	{ "FILTER_TIMEOUT_MS=0\n", "1: FILTER_TIMEOUT_MS: 0 is out of range 1..600000" },
	{ "FILTER_MAX_BYTES=0\n", "1: FILTER_MAX_BYTES: 0 is out of range 1..4294967295" },
	{ "FILTER_MAX_BYTES=4294967296\n", "1: FILTER_MAX_BYTES: 4294967296 is out of range 1..4294967295" },
	{ "MAX_BAD_COMMANDS=0\n", "1: MAX_BAD_COMMANDS: 0 is out of range 1..1000" },
	{ "MAX_BAD_COMMANDS=1\n", NULL },
	{ "MAX_LOG_RECORDS=9\n", "1: MAX_LOG_RECORDS: 9 is out of range 10..10000000" },
	{ "MAX_LOG_RECORDS=10000000\n", NULL },
	{ "MIN_SEND_RATE=1\nTIMEOUT=86400\n", NULL },
	{ "MIN_SEND_RATE=0\n", "1: MIN_SEND_RATE: 0 is out of range 1..1073741824" },
	{ "MIN_SEND_RATE=1073741825\n", "1: MIN_SEND_RATE: 1073741825 is out of range 1..1073741824" },
	{ "MIN_SEND_RATE=1k\n", "1: MIN_SEND_RATE: '1k' is not a number" },
};


START_TEST(test_table)
{
	const char *path = th_path(th_dir, "pop3s.conf");
	struct pop3s_config c;
	char err[CONFIG_ERR_MAX] = "";
	char want[CONFIG_ERR_MAX];
	int r;

	th_write_file(path, rows[_i].text, strlen(rows[_i].text));
	config_defaults(&c);
	r = config_load(path, &c, err, sizeof(err));
	if (rows[_i].err == NULL) {
		ck_assert_msg(r == 0, "row %d: unexpected error %s", _i, err);
		return;
	}
	ck_assert_msg(r < 0, "row %d: accepted", _i);
	snprintf(want, sizeof(want), "%s:%s", path, rows[_i].err);
	ck_assert_msg(strcmp(err, want) == 0, "row %d:\n got  %s\n want %s", _i, err, want);
}
END_TEST

START_TEST(test_values_and_lines)
{
	const char *path = th_path(th_dir, "c.conf");
	static const char text[] = "# pop3s\nHOME=/srv/mail\n\nTIMEOUT=900\nQUEUE=/q1\n";
	struct pop3s_config c;
	char err[CONFIG_ERR_MAX], where[600];

	th_write_file(path, text, sizeof(text) - 1);
	config_defaults(&c);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.home, "/srv/mail");
	ck_assert_uint_eq(c.timeout, 900);
	ck_assert_str_eq(c.queue, "/q1");
	ck_assert_uint_eq(c.line[CONF_HOME], 2);
	ck_assert_uint_eq(c.line[CONF_TIMEOUT], 4);
	ck_assert_uint_eq(c.line[CONF_CERT], 0);
	/* defaults stay for keys not in the file */
	ck_assert_uint_eq(c.handshake_timeout, 60);
	ck_assert_uint_eq(c.max_auth_failures, 3);
	ck_assert_uint_ge(c.auth_delay_ms, 500);
	ck_assert_ptr_nonnull(strstr(c.priority, "-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"));
	config_where(&c, CONF_TIMEOUT, where, sizeof(where));
	ck_assert_str_eq(where, th_path(th_dir, "c.conf:4: "));
}
END_TEST

START_TEST(test_defaults_rfc1939)
{
	struct pop3s_config c;

	config_defaults(&c);
	/* RFC 1939 section 3: the autologout timer is at least 10 minutes. */
	ck_assert_uint_ge(c.timeout, 600);
	ck_assert_str_eq(c.queue, "/pop3s-log");
	ck_assert_str_eq(c.state, "/var/lib/pop3s-logger");
	ck_assert_str_eq(c.filter, "");
	ck_assert_uint_eq(c.filter_timeout_ms, 10000);
	ck_assert_uint_eq(c.filter_max_bytes, 268435456);
	ck_assert_uint_eq(c.max_bad_commands, 20);
	ck_assert_uint_eq(c.max_log_records, 100);
}
END_TEST

START_TEST(test_dump_roundtrip)
{
	const char *path = th_path(th_dir, "dump.conf");
	struct pop3s_config a, b;
	char err[CONFIG_ERR_MAX];
	FILE *f;

	config_defaults(&a);
	ck_assert_int_eq(config_set(&a, "TIMEOUT", "42", err, sizeof(err)), 0);
	f = fopen(path, "w");
	config_dump(&a, f);
	fclose(f);
	config_defaults(&b);
	ck_assert_msg(config_load(path, &b, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(b.timeout, 42);
	ck_assert_str_eq(b.priority, a.priority);
	/* the empty FILTER= of the defaults reads back as no filter */
	ck_assert_str_eq(b.filter, "");

	ck_assert_int_eq(config_set(&a, "FILTER", "/usr/bin/sed -e 1iX", err, sizeof(err)), 0);
	f = fopen(path, "w");
	config_dump(&a, f);
	fclose(f);
	config_defaults(&b);
	ck_assert_msg(config_load(path, &b, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(b.filter, "/usr/bin/sed -e 1iX");
	ck_assert_str_eq(b.state, a.state);
	ck_assert_uint_eq(b.filter_max_bytes, a.filter_max_bytes);
}
END_TEST

START_TEST(test_set_errors)
{
	struct pop3s_config c;
	char err[CONFIG_ERR_MAX];

	config_defaults(&c);
	ck_assert_int_eq(config_set(&c, "NOPE", "1", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown key 'NOPE'");
	ck_assert_int_eq(config_set(&c, "AUTH_DELAY_MS", "10001", err, sizeof(err)), -EINVAL);
	ck_assert_uint_eq(c.auth_delay_ms, 1000);
}
END_TEST

START_TEST(test_missing_file)
{
	struct pop3s_config c;
	char err[CONFIG_ERR_MAX], want[CONFIG_ERR_MAX];
	const char *path = th_path(th_dir, "absent.conf");

	config_defaults(&c);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_long_line_and_nul)
{
	const char *path = th_path(th_dir, "long.conf");
	struct pop3s_config c;
	char err[CONFIG_ERR_MAX];
	char *big = malloc(10000);

	memset(big, 'x', 9999);
	memcpy(big, "HOME=/", 6);
	big[9999] = '\n';
	th_write_file(path, big, 10000);
	config_defaults(&c);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, ":1: line longer than 4096 characters"));
	free(big);

	th_write_file(path, "# ok\nHOME=/a\0b\n", 15);
	config_defaults(&c);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, ":2: NUL byte in line"));
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *core = tcase_create("Core");
	TCase *errors = tcase_create("Errors");
	TCase *limits = tcase_create("Limits");

	tcase_add_checked_fixture(core, th_dir_setup, th_dir_teardown);
	tcase_add_checked_fixture(errors, th_dir_setup, th_dir_teardown);
	tcase_add_checked_fixture(limits, th_dir_setup, th_dir_teardown);
	tcase_add_test(core, test_values_and_lines);
	tcase_add_test(core, test_defaults_rfc1939);
	tcase_add_test(core, test_dump_roundtrip);
	tcase_add_loop_test(errors, test_table, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(errors, test_set_errors);
	tcase_add_test(errors, test_missing_file);
	tcase_add_test(limits, test_long_line_and_nul);
	suite_add_tcase(s, core);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, limits);
	return s;
}

TH_MAIN(config_suite)
