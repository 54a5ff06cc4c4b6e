/* The per-source failed login table (penalty.c), its file, and the
 * logger's side of it (logd_penalty.c): real files, real records. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "logd_penalty.h"
#include "penalty.h"
#include "testhelp.h"

#define WINDOW 600

static struct penalty_key
key(const char *ip)
{
	struct penalty_key k;

	ck_assert_msg(penalty_key_from_ip(ip, &k) == 0, "%s", ip);
	return k;
}

static bool
same_source(const char *a, const char *b)
{
	struct penalty_key ka = key(a), kb = key(b);

	return memcmp(&ka, &kb, sizeof(ka)) == 0;
}

/* An IPv6 /64 is one source; IPv4 addresses are each their own, written
 * plain or IPv4-mapped. */
START_TEST(test_sources)
{
	struct penalty_key k;

	ck_assert(same_source("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"));
	ck_assert(same_source("2001:db8:1:2::1", "2001:0db8:0001:0002:0:0:0:9"));
	ck_assert(!same_source("2001:db8:1:2::1", "2001:db8:1:3::1"));
	ck_assert(!same_source("2001:db8:1:2::1", "2001:db9:1:2::1"));
	ck_assert(same_source("192.0.2.1", "::ffff:192.0.2.1"));
	ck_assert(same_source("192.0.2.1", "::FFFF:192.0.2.1"));
	ck_assert(!same_source("192.0.2.1", "192.0.2.2"));
	ck_assert(!same_source("::ffff:192.0.2.1", "::ffff:192.0.2.2"));
	ck_assert(same_source("::1", "::2"));         /* both in ::/64 */
	ck_assert(!same_source("127.0.0.1", "127.0.0.2"));
	ck_assert_int_eq(penalty_key_from_ip("unknown", &k), -EINVAL);
	ck_assert_int_eq(penalty_key_from_ip("local", &k), -EINVAL);
	ck_assert_int_eq(penalty_key_from_ip("", &k), -EINVAL);
	ck_assert_int_eq(penalty_key_from_ip("1.2.3.4.5", &k), -EINVAL);
	ck_assert_int_eq(penalty_key_from_ip("2001:db8::1%eth0", &k), -EINVAL);
}
END_TEST

static uint32_t
failures(const struct penalty_table *t, const char *ip, uint64_t now)
{
	struct penalty_key k = key(ip);

	return penalty_recent(penalty_table_find(t, &k), now, WINDOW);
}

static void
add_failure(struct penalty_table *t, const char *ip, uint64_t now)
{
	struct penalty_key k = key(ip);

	penalty_table_fail(t, &k, now, WINDOW);
}

/* Failures of one /64 add up, whatever address of it they come from. */
START_TEST(test_count_per_source)
{
	static struct penalty_table t;
	const uint64_t t0 = 1700000000;

	penalty_table_init(&t);
	add_failure(&t, "2001:db8:1:2::1", t0);
	add_failure(&t, "2001:db8:1:2::2", t0 + 1);
	add_failure(&t, "2001:db8:1:2:abcd::3", t0 + 2);
	add_failure(&t, "192.0.2.1", t0 + 2);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_uint_eq(failures(&t, "2001:db8:1:2::99", t0 + 3), 3);
	ck_assert_uint_eq(failures(&t, "2001:db8:1:3::1", t0 + 3), 0);
	ck_assert_uint_eq(failures(&t, "::ffff:192.0.2.1", t0 + 3), 1);
	ck_assert_uint_eq(failures(&t, "192.0.2.2", t0 + 3), 0);
}
END_TEST

/* A source is forgotten WINDOW seconds after its last failure: it no
 * longer counts, a new failure starts again from 1, and expiry drops it. */
START_TEST(test_expiry)
{
	static struct penalty_table t;
	const uint64_t t0 = 1700000000;

	penalty_table_init(&t);
	add_failure(&t, "192.0.2.1", t0);
	add_failure(&t, "192.0.2.1", t0 + 100);
	add_failure(&t, "192.0.2.9", t0 + 500);
	ck_assert_uint_eq(failures(&t, "192.0.2.1", t0 + 100 + WINDOW), 2);
	ck_assert_uint_eq(failures(&t, "192.0.2.1", t0 + 101 + WINDOW), 0);
	/* a clock that went back a little still counts; far back does not */
	ck_assert_uint_eq(failures(&t, "192.0.2.1", t0 + 100 - WINDOW), 2);
	ck_assert_uint_eq(failures(&t, "192.0.2.1", t0 + 99 - WINDOW), 0);

	ck_assert_uint_eq(penalty_table_expire(&t, t0 + 100 + WINDOW, WINDOW), 0);
	ck_assert_uint_eq(penalty_table_expire(&t, t0 + 101 + WINDOW, WINDOW), 1);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_uint_eq(failures(&t, "192.0.2.9", t0 + 101 + WINDOW), 1);

	add_failure(&t, "192.0.2.9", t0 + 500 + WINDOW + 1);
	ck_assert_uint_eq(failures(&t, "192.0.2.9", t0 + 500 + WINDOW + 1), 1);
	add_failure(&t, "192.0.2.9", t0 + 500 + WINDOW + 2);
	ck_assert_uint_eq(failures(&t, "192.0.2.9", t0 + 500 + WINDOW + 2), 2);
}
END_TEST

/* The table never holds more than PENALTY_SOURCES sources: a new one
 * takes the place of the one whose last failure is oldest. (Eight new
 * sources a second, so that all stay within WINDOW.) */
START_TEST(test_bounded)
{
	static struct penalty_table t;
	const uint64_t t0 = 1700000000;
	char ip[64];
	unsigned i;

	penalty_table_init(&t);
	for (i = 0; i < PENALTY_SOURCES + 100; i++) {
		/* one /64 each; the second one's is refreshed before the
		 * table is full */
		snprintf(ip, sizeof(ip), "2001:db8:%x:%x::1", i / 65536, i % 65536);
		add_failure(&t, ip, t0 + i / 8);
		if (i == 1 || i == PENALTY_SOURCES - 1)
			add_failure(&t, "2001:db8:0:1::7", t0 + i / 8);
		ck_assert_uint_le(t.n, PENALTY_SOURCES);
	}
	ck_assert_uint_eq(t.n, PENALTY_SOURCES);
	/* the oldest ones made room; the refreshed one and the newest stayed */
	ck_assert_uint_eq(failures(&t, "2001:db8:0:0::1", t0 + i / 8), 0);
	ck_assert_uint_eq(failures(&t, "2001:db8:0:2::1", t0 + i / 8), 0);
	ck_assert_uint_eq(failures(&t, "2001:db8:0:1::1", t0 + i / 8), 3);
	snprintf(ip, sizeof(ip), "2001:db8:%x:%x::1", (i - 1) / 65536, (i - 1) % 65536);
	ck_assert_uint_eq(failures(&t, ip, t0 + i / 8), 1);
	/* the 100 evicted were the oldest: sources 0 and 2 .. 100 */
	snprintf(ip, sizeof(ip), "2001:db8:0:%x::1", 100);
	ck_assert_uint_eq(failures(&t, ip, t0 + i / 8), 0);
	snprintf(ip, sizeof(ip), "2001:db8:0:%x::1", 101);
	ck_assert_uint_eq(failures(&t, ip, t0 + i / 8), 1);
}
END_TEST

START_TEST(test_delay)
{
	ck_assert_uint_eq(penalty_delay_ms(0, 1000, 30000), 0);
	ck_assert_uint_eq(penalty_delay_ms(1, 1000, 30000), 1000);
	ck_assert_uint_eq(penalty_delay_ms(2, 1000, 30000), 2000);
	ck_assert_uint_eq(penalty_delay_ms(5, 1000, 30000), 16000);
	ck_assert_uint_eq(penalty_delay_ms(6, 1000, 30000), 30000);
	ck_assert_uint_eq(penalty_delay_ms(UINT32_MAX, 60000, 600000), 600000);
	ck_assert_uint_eq(penalty_delay_ms(3, 0, 30000), 0);
	ck_assert_uint_eq(penalty_delay_ms(3, 1000, 500), 500);
}
END_TEST

/* What the logger writes, a session reads back entry for entry. */
START_TEST(test_file_round_trip)
{
	static struct penalty_table t, back;
	const char *path = th_path(th_dir, "auth-penalty");
	struct stat st;

	penalty_table_init(&t);
	add_failure(&t, "192.0.2.1", 1700000000);
	add_failure(&t, "192.0.2.1", 1700000005);
	add_failure(&t, "2001:db8::1", 1700000007);
	ck_assert_int_eq(penalty_file_write(path, &t), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_uint_eq(st.st_size, PENALTY_HEADER_SIZE + 2 * PENALTY_ENTRY_SIZE);
	ck_assert_int_eq(penalty_file_read(path, &back), 0);
	ck_assert_uint_eq(back.n, 2);
	ck_assert_uint_eq(failures(&back, "192.0.2.1", 1700000005), 2);
	ck_assert_uint_eq(failures(&back, "2001:db8::ffff", 1700000007), 1);
	ck_assert_uint_eq(penalty_table_find(&back, &(struct penalty_key){ 0 }) == NULL, 1);
	ck_assert_int_eq(penalty_file_read(th_path(th_dir, "none"), &back), -ENOENT);
}
END_TEST

/* A file that is not exactly a penalty file is refused, never half read. */
START_TEST(test_file_malformed)
{
	static struct penalty_table t, back;
	static uint8_t buf[PENALTY_FILE_MAX + 64];
	const char *path = th_path(th_dir, "bad");
	size_t len;

	penalty_table_init(&t);
	add_failure(&t, "192.0.2.1", 1700000000);
	len = penalty_encode(&t, buf);

	th_write_file(path, buf, len - 1);            /* short */
	ck_assert_int_eq(penalty_file_read(path, &back), -EBADMSG);
	memset(buf + len, 0, 32);
	th_write_file(path, buf, len + 32);           /* longer than count says */
	ck_assert_int_eq(penalty_file_read(path, &back), -EBADMSG);
	buf[15] = 2;                                  /* count 2, one entry */
	th_write_file(path, buf, len);
	ck_assert_int_eq(penalty_file_read(path, &back), -EBADMSG);
	buf[15] = 1;
	buf[11] = 2;                                  /* version 2 */
	th_write_file(path, buf, len);
	ck_assert_int_eq(penalty_file_read(path, &back), -EBADMSG);
	buf[11] = 1;
	buf[0] = 'P';                                 /* magic */
	th_write_file(path, buf, len);
	ck_assert_int_eq(penalty_file_read(path, &back), -EBADMSG);
	buf[0] = 'p';
	buf[12] = 0xff;                               /* count over the bound */
	th_write_file(path, buf, len);
	ck_assert_int_eq(penalty_file_read(path, &back), -EBADMSG);
	buf[12] = 0;
	th_write_file(path, "", 0);
	ck_assert_int_eq(penalty_file_read(path, &back), -EBADMSG);
	memset(buf, 'x', sizeof(buf));                /* over the largest size */
	th_write_file(path, buf, sizeof(buf));
	ck_assert_int_eq(penalty_file_read(path, &back), -EBADMSG);
	/* a FIFO in its place neither blocks nor counts */
	unlink(path);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(penalty_file_read(path, &back), -EBADMSG);
	/* the good file still reads */
	unlink(path);
	th_write_file(path, buf, penalty_encode(&t, buf));
	ck_assert_int_eq(penalty_file_read(path, &back), 0);
	ck_assert_uint_eq(back.n, 1);
}
END_TEST

static struct logrec
record(enum logrec_type type, const char *ip)
{
	struct logrec r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	snprintf(r.client_ip, sizeof(r.client_ip), "%s", ip);
	snprintf(r.status, sizeof(r.status), "ERR");
	return r;
}

/* The logger counts AUTH_FAIL records only, publishes at most every
 * LOGD_PENALTY_PUBLISH_MS, and a new logger starts from the file. */
START_TEST(test_logger_side)
{
	static struct logd_penalty lp, lp2;
	static struct penalty_table back;
	const char *path = th_path(th_dir, "auth-penalty");
	uint64_t now = (uint64_t)time(NULL), ms = 1000000;
	struct logrec r;

	ck_assert_int_eq(logd_penalty_init(&lp, path, WINDOW), -ENOENT);
	ck_assert_uint_eq(logd_penalty_next_ms(&lp, ms), UINT64_MAX);
	r = record(LOGREC_LOGIN_FAIL, "192.0.2.1");
	logd_penalty_record(&lp, &r, now);
	r = record(LOGREC_COMMAND, "192.0.2.1");
	logd_penalty_record(&lp, &r, now);
	r = record(LOGREC_AUTH_FAIL, "unknown");
	logd_penalty_record(&lp, &r, now);
	ck_assert_uint_eq(logd_penalty_next_ms(&lp, ms), UINT64_MAX);
	r = record(LOGREC_AUTH_FAIL, "::ffff:192.0.2.1");
	logd_penalty_record(&lp, &r, now);
	logd_penalty_record(&lp, &r, now);
	ck_assert_uint_eq(logd_penalty_next_ms(&lp, ms), 0);
	ck_assert_int_eq(logd_penalty_tick(&lp, ms, now, false), 0);
	ck_assert_int_eq(penalty_file_read(path, &back), 0);
	ck_assert_uint_eq(failures(&back, "192.0.2.1", now), 2);

	/* the next change waits for the interval, unless forced */
	r = record(LOGREC_AUTH_FAIL, "2001:db8::1");
	logd_penalty_record(&lp, &r, now);
	ck_assert_uint_eq(logd_penalty_next_ms(&lp, ms + 30), LOGD_PENALTY_PUBLISH_MS - 30);
	ck_assert_int_eq(logd_penalty_tick(&lp, ms + 30, now, false), 0);
	ck_assert_int_eq(penalty_file_read(path, &back), 0);
	ck_assert_uint_eq(back.n, 1);
	ck_assert_int_eq(logd_penalty_tick(&lp, ms + LOGD_PENALTY_PUBLISH_MS, now, false), 0);
	ck_assert_int_eq(penalty_file_read(path, &back), 0);
	ck_assert_uint_eq(back.n, 2);
	ck_assert_uint_eq(logd_penalty_next_ms(&lp, ms + 1000), UINT64_MAX);

	/* a restarted logger goes on counting where the last one stopped */
	ck_assert_int_eq(logd_penalty_init(&lp2, path, WINDOW), 0);
	r = record(LOGREC_AUTH_FAIL, "192.0.2.1");
	logd_penalty_record(&lp2, &r, now);
	ck_assert_int_eq(logd_penalty_tick(&lp2, ms, now, true), 0);
	ck_assert_int_eq(penalty_file_read(path, &back), 0);
	ck_assert_uint_eq(failures(&back, "192.0.2.1", now), 3);

	/* a directory that cannot be written is an error, retried later */
	logd_penalty_init(&lp2, th_path(th_dir, "missing/auth-penalty"), WINDOW);
	logd_penalty_record(&lp2, &r, now);
	ck_assert_int_eq(logd_penalty_tick(&lp2, ms, now, true), -ENOENT);
	ck_assert_uint_eq(logd_penalty_next_ms(&lp2, ms + LOGD_PENALTY_PUBLISH_MS), 0);
}
END_TEST

static Suite *
penalty_suite(void)
{
	Suite *s = suite_create("penalty");
	TCase *tc = tcase_create("Core");

	tcase_add_checked_fixture(tc, th_dir_setup, th_dir_teardown);
	tcase_add_test(tc, test_sources);
	tcase_add_test(tc, test_count_per_source);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_delay);
	tcase_add_test(tc, test_file_round_trip);
	tcase_add_test(tc, test_file_malformed);
	tcase_add_test(tc, test_logger_side);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(penalty_suite)
