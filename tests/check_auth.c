/* auth_check against users files built at test time with real hashes. */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "auth.h"
#include "hash_method.h"
#include "penalty.h"
#include "testhelp.h"

static char *dir;
static char users[4096];

static void
setup(void)
{
	dir = th_tmpdir();
	snprintf(users, sizeof(users), "%s/users", dir);
}

static void
teardown(void)
{
	th_rm_rf(dir);
	free(dir);
}

/* Hashes pw with a fresh salt for prefix ("$y$", "$6$", "$2b$") at the
 * method's default cost (count 0) or the given one. Returns a static
 * rotating buffer. */
static const char *
hash_count(const char *prefix, unsigned long count, const char *pw)
{
	static char out[4][CRYPT_OUTPUT_SIZE];
	static int slot;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	char *s, *h;

	ck_assert_ptr_nonnull(cd);
	s = crypt_gensalt_rn(prefix, count, NULL, 0, salt, sizeof(salt));
	ck_assert_msg(s != NULL, "crypt_gensalt_rn %s: %s", prefix, strerror(errno));
	h = crypt_rn(pw, salt, cd, sizeof(*cd));
	ck_assert_msg(h != NULL, "crypt_rn %s: %s", prefix, strerror(errno));
	slot = (slot + 1) % 4;
	snprintf(out[slot], sizeof(out[slot]), "%s", h);
	free(cd);
	return out[slot];
}

static const char *
hash(const char *prefix, const char *pw)
{
	return hash_count(prefix, 0, pw);
}

static void
write_users(const char *text)
{
	th_write_file(users, text, strlen(text));
}

static enum auth_result
check(const char *user, const char *pw)
{
	char err[512];
	enum auth_result r;

	memset(err, 'x', sizeof(err));
	r = auth_check(users, user, pw, err, sizeof(err));
	if (r != AUTH_TEMPFAIL)
		ck_assert_str_eq(err, "");
	return r;
}

/* A check that must fail and report a weak hash on line lineno. */
static void
check_weak(const char *user, const char *pw, unsigned lineno, const char *method)
{
	char err[8192], want[8192];

	ck_assert_int_eq(auth_check(users, user, pw, err, sizeof(err)), AUTH_FAIL);
	snprintf(want, sizeof(want), "%s:%u: user '%s': %s is a weak legacy hash method, "
	         "refused; set a new password with 'pop3sctl user passwd %s'",
	         users, lineno, user, method, user);
	ck_assert_str_eq(err, want);
}

static void
methods_right_and_wrong(const char *prefix)
{
	char text[2048];

	snprintf(text, sizeof(text), "alice:%s\nbob:%s\n",
	         hash(prefix, "correct horse"), hash(prefix, "b0b's pass"));
	write_users(text);
	ck_assert_int_eq(check("alice", "correct horse"), AUTH_OK);
	ck_assert_int_eq(check("bob", "b0b's pass"), AUTH_OK);
	ck_assert_int_eq(check("alice", "b0b's pass"), AUTH_FAIL);
	ck_assert_int_eq(check("bob", "correct horse"), AUTH_FAIL);
	ck_assert_int_eq(check("alice", "correct hors"), AUTH_FAIL);
	ck_assert_int_eq(check("alice", "correct horse "), AUTH_FAIL);
	ck_assert_int_eq(check("alice", ""), AUTH_FAIL);
	ck_assert_int_eq(check("Alice", "correct horse"), AUTH_FAIL);
	ck_assert_int_eq(check("carol", "correct horse"), AUTH_FAIL);
}

START_TEST(test_yescrypt)
{
	methods_right_and_wrong("$y$");
}
END_TEST

START_TEST(test_sha512)
{
	methods_right_and_wrong("$6$");
}
END_TEST

START_TEST(test_bcrypt)
{
	methods_right_and_wrong("$2b$");
}
END_TEST

START_TEST(test_unknown_and_empty_user)
{
	char text[1024];

	snprintf(text, sizeof(text), "alice:%s\n", hash("$6$", "pw"));
	write_users(text);
	ck_assert_int_eq(check("nobody", "pw"), AUTH_FAIL);
	ck_assert_int_eq(check("", "pw"), AUTH_FAIL);
	ck_assert_int_eq(check(NULL, "pw"), AUTH_FAIL);
	ck_assert_int_eq(check("alice", NULL), AUTH_FAIL);
	/* ':' in the name cannot reach into the hash field */
	ck_assert_int_eq(check("alice:", "pw"), AUTH_FAIL);
	ck_assert_int_eq(check("alice", "pw"), AUTH_OK);
}
END_TEST

START_TEST(test_not_a_hash_never_matches)
{
	char text[2048], locked[512], des[64];
	struct crypt_data *cd = calloc(1, sizeof(*cd));

	ck_assert_ptr_nonnull(cd);
	/* a working traditional DES hash of "secret" */
	snprintf(des, sizeof(des), "%s", crypt_rn("secret", "ab", cd, sizeof(*cd)));
	free(cd);
	snprintf(locked, sizeof(locked), "!%s", hash("$6$", "secret"));
	snprintf(text, sizeof(text),
	         "plain:secret\n"
	         "star:*\n"
	         "bang:!\n"
	         "empty:\n"
	         "locked:%s\n"
	         "setting:$6$\n"
	         "des:%s\n"
	         "thirteen:abcdefghijklm\n"
	         "dollar:$\n"
	         "garbage:$y$j9T$x$y\n",
	         locked, des);
	write_users(text);
	ck_assert_int_eq(check("plain", "secret"), AUTH_FAIL);
	ck_assert_int_eq(check("plain", ""), AUTH_FAIL);
	ck_assert_int_eq(check("star", "*"), AUTH_FAIL);
	ck_assert_int_eq(check("star", ""), AUTH_FAIL);
	ck_assert_int_eq(check("bang", "!"), AUTH_FAIL);
	ck_assert_int_eq(check("bang", ""), AUTH_FAIL);
	ck_assert_int_eq(check("empty", ""), AUTH_FAIL);
	ck_assert_int_eq(check("locked", "secret"), AUTH_FAIL);
	ck_assert_int_eq(check("locked", locked), AUTH_FAIL);
	ck_assert_int_eq(check("setting", ""), AUTH_FAIL);
	ck_assert_int_eq(check("setting", "$6$"), AUTH_FAIL);
	check_weak("des", "secret", 7, "traditional DES-crypt (13 characters)");
	check_weak("des", des, 7, "traditional DES-crypt (13 characters)");
	check_weak("thirteen", "abcdefghijklm", 8, "traditional DES-crypt (13 characters)");
	ck_assert_int_eq(check("dollar", "$"), AUTH_FAIL);
	ck_assert_int_eq(check("garbage", "$y$j9T$x$y"), AUTH_FAIL);
	ck_assert_int_eq(check("garbage", ""), AUTH_FAIL);
}
END_TEST

START_TEST(test_comments_and_blank_lines)
{
	char text[2048];
	const char *h = hash("$6$", "pw");

	snprintf(text, sizeof(text),
	         "# users for the test\n"
	         "\n"
	         "   \n"
	         "#alice:%s\n"
	         "  # bob:%s\n"
	         "no colon here\n"
	         "carol:%s\r\n"       /* CRLF line */
	         "\t dave:%s  \n"     /* leading and trailing blanks */
	         "erin:%s",           /* no final newline */
	         h, h, h, h, h);
	write_users(text);
	ck_assert_int_eq(check("alice", "pw"), AUTH_FAIL);
	ck_assert_int_eq(check("#alice", "pw"), AUTH_FAIL);
	ck_assert_int_eq(check("bob", "pw"), AUTH_FAIL);
	ck_assert_int_eq(check("carol", "pw"), AUTH_OK);
	ck_assert_int_eq(check("dave", "pw"), AUTH_OK);
	ck_assert_int_eq(check("erin", "pw"), AUTH_OK);
	ck_assert_int_eq(check("no colon here", "pw"), AUTH_FAIL);

	write_users("");
	ck_assert_int_eq(check("alice", "pw"), AUTH_FAIL);
}
END_TEST

START_TEST(test_long_and_nul_lines_skipped)
{
	const char *h = hash("$6$", "pw");
	size_t cap = 100000, n;
	char *text = malloc(cap);

	ck_assert_ptr_nonnull(text);
	/* eve's entry padded with blanks past the line limit: a reader that
	 * truncated the line would find a valid entry in the first part. */
	n = (size_t)snprintf(text, cap, "eve:%s", h);
	memset(text + n, ' ', 5000);
	n += 5000;
	/* a 50000-octet line of nonsense, then a valid line */
	text[n++] = '\n';
	memset(text + n, 'z', 50000);
	n += 50000;
	n += (size_t)snprintf(text + n, cap - n, "\nfrank:%s\n", h);
	/* a line with a NUL in it: "gina\0x:HASH" must not become gina */
	n += (size_t)snprintf(text + n, cap - n, "gina");
	text[n++] = '\0';
	n += (size_t)snprintf(text + n, cap - n, "x:%s\nhank:%s\n", h, h);
	th_write_file(users, text, n);
	free(text);

	ck_assert_int_eq(check("eve", "pw"), AUTH_FAIL);
	ck_assert_int_eq(check("frank", "pw"), AUTH_OK);
	ck_assert_int_eq(check("gina", "pw"), AUTH_FAIL);
	ck_assert_int_eq(check("hank", "pw"), AUTH_OK);
}
END_TEST

START_TEST(test_prefix_names)
{
	char text[2048];

	snprintf(text, sizeof(text), "alice:%s\n", hash("$6$", "pw"));
	write_users(text);
	ck_assert_int_eq(check("al", "pw"), AUTH_FAIL);
	ck_assert_int_eq(check("alicea", "pw"), AUTH_FAIL);
	ck_assert_int_eq(check("alice", "pw"), AUTH_OK);

	snprintf(text, sizeof(text), "al:%s\nalice:%s\n",
	         hash("$6$", "short"), hash("$6$", "long"));
	write_users(text);
	ck_assert_int_eq(check("al", "short"), AUTH_OK);
	ck_assert_int_eq(check("al", "long"), AUTH_FAIL);
	ck_assert_int_eq(check("alice", "long"), AUTH_OK);
	ck_assert_int_eq(check("alice", "short"), AUTH_FAIL);
}
END_TEST

START_TEST(test_first_entry_wins)
{
	char text[2048];

	snprintf(text, sizeof(text), "alice:%s\nalice:%s\n",
	         hash("$6$", "one"), hash("$6$", "two"));
	write_users(text);
	ck_assert_int_eq(check("alice", "one"), AUTH_OK);
	ck_assert_int_eq(check("alice", "two"), AUTH_FAIL);
}
END_TEST

START_TEST(test_missing_file)
{
	char err[512];
	const char *pw = "Sup3rSecretPw";
	enum auth_result r;

	r = auth_check(users, "alice", pw, err, sizeof(err));
	ck_assert_int_eq(r, AUTH_TEMPFAIL);
	ck_assert_msg(strstr(err, users) != NULL, "no file name in \"%s\"", err);
	ck_assert_msg(strstr(err, "cannot open") != NULL, "%s", err);
	ck_assert_msg(strstr(err, strerror(ENOENT)) != NULL, "%s", err);
	ck_assert_msg(strstr(err, pw) == NULL, "password in \"%s\"", err);
	ck_assert_ptr_null(strchr(err, '\n'));

	/* a directory is not a users file */
	r = auth_check(dir, "alice", pw, err, sizeof(err));
	ck_assert_int_eq(r, AUTH_TEMPFAIL);
	ck_assert_msg(strstr(err, dir) != NULL, "%s", err);
	ck_assert_msg(strstr(err, pw) == NULL, "password in \"%s\"", err);

	/* a tiny buffer is truncated, not overflowed */
	memset(err, 'x', sizeof(err));
	r = auth_check(users, "alice", pw, err, 8);
	ck_assert_int_eq(r, AUTH_TEMPFAIL);
	ck_assert_uint_eq(strlen(err), 7);
	ck_assert_int_eq(err[8], 'x');
}
END_TEST

/* Runs one failing check and returns the setting of the one crypt(3)
 * computation it must have done. */
static const char *
one_hash(const char *user, const char *pw)
{
	unsigned long before = auth_hash_count();

	ck_assert_int_eq(check(user, pw), AUTH_FAIL);
	ck_assert_msg(auth_hash_count() == before + 1, "%s: %lu computations", user,
	              auth_hash_count() - before);
	return auth_last_setting();
}

/* A miss costs what a wrong password costs: one computation with another
 * user's hash (same method and cost), shown by counting, not by timing. */
START_TEST(test_unknown_user_costs_a_hash)
{
	char text[2048], alice[256], setting[256];
	const char *h = hash_count("$2b$", 10, "pw");
	const char *dollar;

	snprintf(alice, sizeof(alice), "%s", h);
	snprintf(text, sizeof(text), "alice:%s\nlocked:!\nbob:%s\n", alice,
	         hash_count("$2b$", 10, "pw2"));
	write_users(text);
	dollar = strrchr(alice, '$');
	snprintf(setting, sizeof(setting), "%.*s", (int)(dollar - alice + 1), alice);
	ck_assert_str_eq(one_hash("alice", "wrong"), setting);
	ck_assert_str_eq(one_hash("nobody", "wrong"), setting);
	ck_assert_str_eq(one_hash("locked", "wrong"), setting);

	/* no usable hash at all: the built-in yescrypt hash at the default
	 * cost, the cost a new yescrypt hash gets */
	write_users("alice:*\nbob:plain\n");
	h = hash("$y$", "pw");
	ck_assert_msg(strncmp(one_hash("nobody", "wrong"), h, 7) == 0, "%s vs %.7s",
	              auth_last_setting(), h);
	/* a locked entry ("*") costs the same as an unknown user */
	ck_assert_msg(strncmp(one_hash("alice", "x"), h, 7) == 0, "%s", auth_last_setting());
}
END_TEST

/* Every weak legacy method is refused, with the right password too, and
 * the message names the file, the line, the method and the cure. The
 * hashes are real ones libxcrypt still computes. */
START_TEST(test_weak_methods_refused)
{
	static const struct {
		const char *prefix, *method;
	} weak[] = {
		{ "$1$", "MD5-crypt ($1$)" },
		{ "$3$", "NT hash ($3$)" },
		{ "$md5", "Sun MD5-crypt ($md5)" },
		{ "$sha1$", "SHA1-crypt ($sha1$)" },
		{ "_", "BSDi extended DES-crypt (_)" },
		{ "", "traditional DES-crypt (13 characters)" },
	};
	char text[4096] = "# legacy hashes\n", user[16];
	size_t i, n = sizeof(weak) / sizeof(weak[0]);
	struct crypt_data *cd = calloc(1, sizeof(*cd));

	ck_assert_ptr_nonnull(cd);
	for (i = 0; i < n; i++) {
		char salt[CRYPT_GENSALT_OUTPUT_SIZE];
		const char *h;

		ck_assert_ptr_nonnull(crypt_gensalt_rn(weak[i].prefix[0] ? weak[i].prefix : "ab",
		                                       0, NULL, 0, salt, sizeof(salt)));
		h = crypt_rn("secret", weak[i].prefix[0] ? salt : "ab", cd, sizeof(*cd));
		ck_assert_msg(h != NULL && h[0] != '*', "%s: libxcrypt computes it", weak[i].method);
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "u%zu:%s\n", i, h);
	}
	free(cd);
	strcat(text, "good:");
	strcat(text, hash("$6$", "secret"));
	strcat(text, "\n");
	write_users(text);
	for (i = 0; i < n; i++) {
		snprintf(user, sizeof(user), "u%zu", i);
		check_weak(user, "secret", (unsigned)i + 2, weak[i].method);
	}
	/* a good line beside them still works, and says nothing */
	ck_assert_int_eq(check("good", "secret"), AUTH_OK);
	ck_assert_int_eq(check("good", "wrong"), AUTH_FAIL);
}
END_TEST

/* Runs one failing check and returns the setting of the last crypt(3)
 * computation; n is the number it must have done. */
static const char *
hashes(const char *user, const char *pw, unsigned long n)
{
	unsigned long before = auth_hash_count();

	ck_assert_int_eq(auth_check(users, user, pw, NULL, 0), AUTH_FAIL);
	ck_assert_msg(auth_hash_count() == before + n, "%s: %lu computations, not %lu", user,
	              auth_hash_count() - before, n);
	return auth_last_setting();
}

static const char *
setting_of(const char *h, char *buf, size_t len)
{
	const char *dollar = strrchr(h, '$');

	snprintf(buf, len, "%.*s", (int)(dollar - h + 1), h);
	return buf;
}

/* With mixed methods, an unknown user costs one computation of the
 * dearest one, wherever it is in the file (the first hash used to be
 * taken: a cheap $6$ first made unknown users answer fast); a known user
 * of a cheaper method pays for the dearest one after its own. Shown by
 * counting computations and naming their setting, not by timing. */
START_TEST(test_unknown_user_costs_the_dearest_hash)
{
	char text[4096], sha[256], bc[256], yes[256], set_bc[256], set_yes[256];

	snprintf(sha, sizeof(sha), "%s", hash("$6$", "pw"));
	snprintf(bc, sizeof(bc), "%s", hash_count("$2b$", 6, "pw"));
	snprintf(yes, sizeof(yes), "%s", hash("$y$", "pw"));
	setting_of(bc, set_bc, sizeof(set_bc));
	setting_of(yes, set_yes, sizeof(set_yes));

	snprintf(text, sizeof(text), "sha:%s\nbc:%s\nyes:%s\nold:$1$abc$def\n", sha, bc, yes);
	write_users(text);
	ck_assert_str_eq(hashes("nobody", "x", 1), set_yes);
	ck_assert_str_eq(hashes("old", "x", 1), set_yes);
	ck_assert_str_eq(hashes("yes", "x", 1), set_yes);
	ck_assert_str_eq(hashes("sha", "x", 2), set_yes);
	ck_assert_str_eq(hashes("bc", "x", 2), set_yes);
	ck_assert_int_eq(check("sha", "pw"), AUTH_OK);

	/* the dearest last, first, or alone among cheaper ones */
	snprintf(text, sizeof(text), "yes:%s\nsha:%s\n", yes, sha);
	write_users(text);
	ck_assert_str_eq(hashes("nobody", "x", 1), set_yes);
	snprintf(text, sizeof(text), "sha:%s\nbc:%s\n", sha, bc);
	write_users(text);
	ck_assert_str_eq(hashes("nobody", "x", 1), set_bc);
	ck_assert_str_eq(hashes("sha", "x", 2), set_bc);
	ck_assert_str_eq(hashes("bc", "x", 1), set_bc);
}
END_TEST

/* The cost estimates order methods and cost parameters the way their
 * real cost goes. */
START_TEST(test_cost_estimates)
{
	uint64_t y = hash_method_classify("$y$j9T$salt$h").cost_ns;
	uint64_t y2 = hash_method_classify("$y$jAT$salt$h").cost_ns;   /* N doubled */
	uint64_t yr = hash_method_classify("$y$j9W$salt$h").cost_ns;   /* r 32 -> 35 */
	uint64_t s6 = hash_method_classify("$6$salt$h").cost_ns;
	uint64_t s6r = hash_method_classify("$6$rounds=50000$salt$h").cost_ns;
	uint64_t b5 = hash_method_classify("$2b$05$salt").cost_ns;
	uint64_t b6 = hash_method_classify("$2b$06$salt").cost_ns;

	ck_assert_uint_eq(y2, 2 * y);
	ck_assert_uint_eq(yr * 32, y * 35);
	ck_assert_uint_eq(s6r, 10 * s6);
	ck_assert_uint_eq(b6, 2 * b5);
	ck_assert_uint_gt(y, b5);
	ck_assert_uint_gt(b5, s6);
	ck_assert_int_eq(hash_method_classify("*").kind, HASH_NONE);
	ck_assert_int_eq(hash_method_classify("!$6$salt$h").kind, HASH_NONE);
	ck_assert_int_eq(hash_method_classify("").kind, HASH_NONE);
	ck_assert_int_eq(hash_method_classify("$5$salt$h").kind, HASH_OK);
	ck_assert_int_eq(hash_method_classify("$y$").kind, HASH_OK);
	ck_assert_uint_eq(hash_method_classify("$y$").cost_ns, 0);
}
END_TEST

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned
penalty_for(const char *file, const char *ip, unsigned base, unsigned max)
{
	auth_set_penalty(&(struct auth_penalty){ file, ip, base, max, 600 });
	return auth_penalty_ms();
}

/* A source with recent failures in the shared table waits before its
 * password is checked, even the right one; other sources, a /64
 * neighbour's neighbour, expired entries, a missing or broken table: no
 * wait. */
START_TEST(test_penalty_before_check)
{
	static struct penalty_table t;
	char pf[4096], text[1024];
	uint64_t now = (uint64_t)time(NULL);
	struct penalty_key k;
	double t0, took;

	snprintf(pf, sizeof(pf), "%s/auth-penalty", dir);
	snprintf(text, sizeof(text), "alice:%s\n", hash("$6$", "pw"));
	write_users(text);
	penalty_table_init(&t);
	penalty_key_from_ip("192.0.2.1", &k);
	penalty_table_fail(&t, &k, now - 5, 600);
	penalty_table_fail(&t, &k, now - 4, 600);
	penalty_table_fail(&t, &k, now - 3, 600);
	penalty_key_from_ip("2001:db8:1:2::5", &k);
	penalty_table_fail(&t, &k, now, 600);
	penalty_key_from_ip("192.0.2.7", &k);
	penalty_table_fail(&t, &k, now - 601, 600);
	ck_assert_int_eq(penalty_file_write(pf, &t), 0);

	ck_assert_uint_eq(penalty_for(pf, "192.0.2.1", 100, 10000), 400);
	ck_assert_uint_eq(penalty_for(pf, "::ffff:192.0.2.1", 100, 10000), 400);
	ck_assert_uint_eq(penalty_for(pf, "192.0.2.1", 100, 250), 250);
	ck_assert_uint_eq(penalty_for(pf, "192.0.2.1", 0, 10000), 0);
	ck_assert_uint_eq(penalty_for(pf, "2001:db8:1:2:ffff::1", 100, 10000), 100);
	ck_assert_uint_eq(penalty_for(pf, "2001:db8:1:3::5", 100, 10000), 0);
	ck_assert_uint_eq(penalty_for(pf, "192.0.2.7", 100, 10000), 0);
	ck_assert_uint_eq(penalty_for(pf, "192.0.2.2", 100, 10000), 0);
	ck_assert_uint_eq(penalty_for(pf, "unknown", 100, 10000), 0);
	ck_assert_uint_eq(penalty_for("", "192.0.2.1", 100, 10000), 0);

	/* the wait comes whatever the outcome */
	ck_assert_uint_eq(penalty_for(pf, "192.0.2.1", 100, 10000), 400);
	t0 = now_s();
	ck_assert_int_eq(check("alice", "pw"), AUTH_OK);
	took = now_s() - t0;
	ck_assert_msg(took >= 0.4, "right password after 3 failures: %.3f s", took);
	t0 = now_s();
	ck_assert_int_eq(check("alice", "wrong"), AUTH_FAIL);
	took = now_s() - t0;
	ck_assert_msg(took >= 0.4, "wrong password after 3 failures: %.3f s", took);

	/* no table, or a broken one: no wait, logins work */
	th_write_file(pf, "not a penalty file", 18);
	ck_assert_uint_eq(penalty_for(pf, "192.0.2.1", 100, 10000), 0);
	ck_assert_int_eq(check("alice", "pw"), AUTH_OK);
	unlink(pf);
	ck_assert_uint_eq(penalty_for(pf, "192.0.2.1", 100, 10000), 0);
	ck_assert_int_eq(check("alice", "pw"), AUTH_OK);
	auth_set_penalty(NULL);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("Core");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* real password hashing; generous for slow or sanitized builds */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_yescrypt);
	tcase_add_test(tc, test_sha512);
	tcase_add_test(tc, test_bcrypt);
	tcase_add_test(tc, test_unknown_and_empty_user);
	tcase_add_test(tc, test_not_a_hash_never_matches);
	tcase_add_test(tc, test_comments_and_blank_lines);
	tcase_add_test(tc, test_long_and_nul_lines_skipped);
	tcase_add_test(tc, test_prefix_names);
	tcase_add_test(tc, test_first_entry_wins);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_unknown_user_costs_a_hash);
	tcase_add_test(tc, test_weak_methods_refused);
	tcase_add_test(tc, test_unknown_user_costs_the_dearest_hash);
	tcase_add_test(tc, test_cost_estimates);
	tcase_add_test(tc, test_penalty_before_check);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(auth_suite)
