/* users_db: the users file writer used by pop3sctl. */
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "auth.h"
#include "testhelp.h"
#include "users_db.h"

#define H1 "$y$j9T$saltsaltsalt$hashhashhashhashhashhashhashhashhashhashhas"
#define H2 "$6$salt$otherhash"

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

static void
put(const char *content)
{
	th_write_file(users, content, strlen(content));
}

static void
assert_content(const char *want)
{
	size_t len;
	char *got = th_read_file(users, &len);

	ck_assert_str_eq(got, want);
	free(got);
}

/* Collects list output as "a,b,c," */
static void
collect(const char *user, void *ctx)
{
	char *out = ctx;

	strcat(out, user);
	strcat(out, ",");
}

/* Only users, users.lock and what the test put there: no temp files. */
static int
count_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

START_TEST(test_add_set_delete_list)
{
	char out[256] = "";

	put("# users\nalice:" H1 "\n");
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "bob", H2), 0);
	assert_content("# users\nalice:" H1 "\nbob:" H2 "\n");
	ck_assert_int_eq(users_db_change(users, USERS_DB_SET, "alice", H2), 0);
	assert_content("# users\nalice:" H2 "\nbob:" H2 "\n");
	ck_assert(users_db_exists(users, "alice"));
	ck_assert(users_db_exists(users, "bob"));
	ck_assert(!users_db_exists(users, "carol"));
	ck_assert_int_eq(users_db_list(users, collect, out), 0);
	ck_assert_str_eq(out, "alice,bob,");
	ck_assert_int_eq(users_db_change(users, USERS_DB_DELETE, "alice", NULL), 0);
	assert_content("# users\nbob:" H2 "\n");
	ck_assert(!users_db_exists(users, "alice"));
	ck_assert_int_eq(count_entries(dir), 2); /* users, users.lock */
}
END_TEST

START_TEST(test_duplicate_and_unknown)
{
	put("alice:" H1 "\n");
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "alice", H2), -EEXIST);
	ck_assert_int_eq(users_db_change(users, USERS_DB_SET, "bob", H2), -ENOENT);
	ck_assert_int_eq(users_db_change(users, USERS_DB_DELETE, "bob", NULL), -ENOENT);
	/* "alic" and "alice2" are other users, not prefixes of one */
	ck_assert_int_eq(users_db_change(users, USERS_DB_DELETE, "alic", NULL), -ENOENT);
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "alice2", H2), 0);
	assert_content("alice:" H1 "\nalice2:" H2 "\n");
	ck_assert_int_eq(count_entries(dir), 2);
}
END_TEST

START_TEST(test_unsafe_names_and_hashes)
{
	static const char *const bad[] = {
		"../x", ".x", "a/b", "a:b", "", "a b", "a\\b", "a\nb", "\xc3\xa9",
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", /* 65 */
	};
	size_t i;

	put("alice:" H1 "\n");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, bad[i], H1), -EINVAL);
		ck_assert_int_eq(users_db_change(users, USERS_DB_DELETE, bad[i], NULL), -EINVAL);
		ck_assert(!users_db_exists(users, bad[i]));
	}
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, NULL, H1), -EINVAL);
	/* a hash must stay on its line and in its field */
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "bob", "$6$x\nmallory:$6$y"), -EINVAL);
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "bob", "a:b"), -EINVAL);
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "bob", ""), -EINVAL);
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "bob", NULL), -EINVAL);
	ck_assert_int_eq(users_db_change(users, USERS_DB_SET, "alice", "x y"), -EINVAL);
	assert_content("alice:" H1 "\n");
	/* refused before anything is created */
	ck_assert_int_eq(count_entries(dir), 1);
}
END_TEST

/* Comments, blank lines, junk, CRLF lines and over-long lines stay as
 * they are; only the user's line changes. */
START_TEST(test_other_lines_kept)
{
	char longline[2000];
	char *content, *want;

	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	memcpy(longline, "bob:", 4);   /* over-long: not an entry for auth.c */
	ck_assert_int_ge(asprintf(&content,
	    "# comment: with colon\n\n   \nnot an entry\n  alice:" H1 "\r\n%s\n"
	    "#bob:" H2 "\ncarol:!locked\n", longline), 0);
	put(content);
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "bob", H2), 0);
	ck_assert_int_ge(asprintf(&want, "%sbob:" H2 "\n", content), 0);
	assert_content(want);
	free(want);
	/* the indented CRLF line is alice's (auth.c reads it so) */
	ck_assert_int_eq(users_db_change(users, USERS_DB_SET, "alice", H2), 0);
	ck_assert_int_ge(asprintf(&want,
	    "# comment: with colon\n\n   \nnot an entry\nalice:" H2 "\n%s\n"
	    "#bob:" H2 "\ncarol:!locked\nbob:" H2 "\n", longline), 0);
	assert_content(want);
	free(want);
	ck_assert_int_eq(users_db_change(users, USERS_DB_DELETE, "carol", NULL), 0);
	ck_assert(!users_db_exists(users, "carol"));
	free(content);
}
END_TEST

/* A last line without a newline: the new entry still gets its own line. */
START_TEST(test_no_final_newline)
{
	put("alice:" H1);
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "bob", H2), 0);
	assert_content("alice:" H1 "\nbob:" H2 "\n");
}
END_TEST

/* auth.c uses the first line of a user: SET changes that one, and DELETE
 * removes every line so that a later one cannot take over. */
START_TEST(test_duplicates_in_file)
{
	put("alice:" H1 "\nbob:" H1 "\nalice:" H2 "\n");
	ck_assert_int_eq(users_db_change(users, USERS_DB_SET, "alice", H2), 0);
	assert_content("alice:" H2 "\nbob:" H1 "\n");
	put("alice:" H1 "\nbob:" H1 "\nalice:" H2 "\n");
	ck_assert_int_eq(users_db_change(users, USERS_DB_DELETE, "alice", NULL), 0);
	assert_content("bob:" H1 "\n");
}
END_TEST

START_TEST(test_mode_owner_kept)
{
	struct stat sb;

	put("alice:" H1 "\n");
	ck_assert_int_eq(chmod(users, 0604), 0);
	if (geteuid() == 0)
		ck_assert_int_eq(chown(users, 1234, 5678), 0);
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "bob", H2), 0);
	ck_assert_int_eq(stat(users, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0604);
	if (geteuid() == 0) {
		ck_assert_int_eq(sb.st_uid, 1234);
		ck_assert_int_eq(sb.st_gid, 5678);
	}
}
END_TEST

/* ADD creates a missing file, mode 0640; SET and DELETE do not. */
START_TEST(test_create)
{
	struct stat sb;
	char out[64] = "";

	ck_assert_int_eq(users_db_change(users, USERS_DB_SET, "alice", H1), -ENOENT);
	ck_assert_int_eq(users_db_change(users, USERS_DB_DELETE, "alice", NULL), -ENOENT);
	ck_assert_int_eq(stat(users, &sb), -1);
	ck_assert_int_eq(users_db_list(users, collect, out), -ENOENT);
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "alice", H1), 0);
	ck_assert_int_eq(stat(users, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 07777, 0640);
	assert_content("alice:" H1 "\n");
}
END_TEST

/* Refused: a symbolic link (the rename would replace the link), a
 * directory, a missing directory. */
START_TEST(test_bad_paths)
{
	char other[4096], missing[4096];

	snprintf(other, sizeof(other), "%s/real", dir);
	th_write_file(other, "alice:" H1 "\n", strlen("alice:" H1 "\n"));
	ck_assert_int_eq(symlink(other, users), 0);
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "bob", H2), -ELOOP);
	ck_assert_int_eq(unlink(users), 0);
	ck_assert_int_eq(mkdir(users, 0700), 0);
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "bob", H2), -EINVAL);
	snprintf(missing, sizeof(missing), "%s/nodir/users", dir);
	ck_assert_int_eq(users_db_change(missing, USERS_DB_ADD, "bob", H2), -ENOENT);
	ck_assert(!users_db_exists(missing, "bob"));
}
END_TEST

/* A directory the caller may not write: -EACCES, file untouched. As root
 * the check runs in a child that has become nobody (root may write
 * anywhere). */
START_TEST(test_not_writable)
{
	pid_t pid;
	int status;

	put("alice:" H1 "\n");
	ck_assert_int_eq(chmod(users, 0644), 0);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	if (geteuid() != 0) {
		ck_assert_int_eq(chmod(dir, 0555), 0);
		ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "bob", H2), -EACCES);
		ck_assert_int_eq(chmod(dir, 0700), 0);
		assert_content("alice:" H1 "\n");
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		_exit(users_db_change(users, USERS_DB_ADD, "bob", H2) == -EACCES ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	assert_content("alice:" H1 "\n");
}
END_TEST

/* The written file works for a login. */
START_TEST(test_auth_reads_it)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	char err[256];
	const char *h;

	ck_assert_ptr_nonnull(cd);
	ck_assert_ptr_nonnull(crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)));
	h = crypt_rn("s3cret pass", salt, cd, (int)sizeof(*cd));
	ck_assert_ptr_nonnull(h);
	put("# users\n");
	ck_assert_int_eq(users_db_change(users, USERS_DB_ADD, "dave", h), 0);
	ck_assert_int_eq(auth_check(users, "dave", "s3cret pass", err, sizeof(err)), AUTH_OK);
	ck_assert_int_eq(auth_check(users, "dave", "wrong", err, sizeof(err)), AUTH_FAIL);
	free(cd);
}
END_TEST

/* --- concurrency ------------------------------------------------------- */

#define WRITERS 8
#define PER_WRITER 6

/* Every line of a complete file is "# header", or "wN_M:H1". */
static bool
file_is_whole(const char *path)
{
	size_t len;
	char *s = th_read_file(path, &len), *p, *nl;
	bool ok = len > 0 && s[len - 1] == '\n';

	for (p = s; ok && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		if (strcmp(p, "# header") != 0 &&
		    (p[0] != 'w' || strstr(p, ":" H1) == NULL ||
		     strlen(strstr(p, ":" H1)) != strlen(":" H1)))
			ok = false;
	}
	free(s);
	return ok;
}

/* A reader that checks the file until told to stop; exits 1 on a torn
 * file. */
static pid_t
start_reader(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (;;)
			if (!file_is_whole(users))
				_exit(1);
	}
	return pid;
}

START_TEST(test_concurrent_adds)
{
	pid_t writers[WRITERS], reader;
	char name[32];
	int i, j, status;

	put("# header\n");
	reader = start_reader();
	for (i = 0; i < WRITERS; i++) {
		writers[i] = fork();
		ck_assert_int_ge(writers[i], 0);
		if (writers[i] == 0) {
			for (j = 0; j < PER_WRITER; j++) {
				snprintf(name, sizeof(name), "w%d_%d", i, j);
				if (users_db_change(users, USERS_DB_ADD, name, H1) != 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (i = 0; i < WRITERS; i++) {
		ck_assert_int_eq(waitpid(writers[i], &status, 0), writers[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* the reader is still running: it never saw a torn file */
	ck_assert_int_eq(waitpid(reader, &status, WNOHANG), 0);
	kill(reader, SIGKILL);
	ck_assert_int_eq(waitpid(reader, &status, 0), reader);
	ck_assert(WIFSIGNALED(status));
	for (i = 0; i < WRITERS; i++)
		for (j = 0; j < PER_WRITER; j++) {
			snprintf(name, sizeof(name), "w%d_%d", i, j);
			ck_assert_msg(users_db_exists(users, name), "%s lost", name);
		}
	ck_assert(file_is_whole(users));
	ck_assert_int_eq(count_entries(dir), 2);
}
END_TEST

static void
collect_weak(unsigned long lineno, const char *user, const char *method, void *ctx)
{
	char *out = ctx;

	sprintf(out + strlen(out), "%lu %s %s;", lineno, user, method);
}

/* The weak legacy entries, with their line numbers, as auth.c refuses
 * them; comments, locked entries and good hashes are not listed. After
 * USERS_DB_SET (pop3sctl user passwd) the line is no longer weak. */
START_TEST(test_weak_entries)
{
	char out[1024] = "";

	put("# $1$ in a comment\n"
	    "alice:" H1 "\n"
	    "bob:$1$saltsalt$qwertyuiopasdfghjklzx1\r\n"
	    "  carol:abcdefghijklm \n"
	    "dave:!$1$locked$x\n"
	    "erin:_J9..salthashhashhas\n"
	    "frank:" H2 "\n");
	ck_assert_int_eq(users_db_weak(users, collect_weak, out), 0);
	ck_assert_str_eq(out, "3 bob MD5-crypt ($1$);"
	                      "4 carol traditional DES-crypt (13 characters);"
	                      "6 erin BSDi extended DES-crypt (_);");
	ck_assert_int_eq(users_db_change(users, USERS_DB_SET, "bob", H2), 0);
	out[0] = '\0';
	ck_assert_int_eq(users_db_weak(users, collect_weak, out), 0);
	ck_assert_str_eq(out, "4 carol traditional DES-crypt (13 characters);"
	                      "6 erin BSDi extended DES-crypt (_);");
	ck_assert_int_eq(users_db_weak(th_path(dir, "none"), collect_weak, out), -ENOENT);
}
END_TEST

static Suite *
users_db_suite(void)
{
	Suite *s = suite_create("users_db");
	TCase *tc = tcase_create("Core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_add_set_delete_list);
	tcase_add_test(tc, test_duplicate_and_unknown);
	tcase_add_test(tc, test_unsafe_names_and_hashes);
	tcase_add_test(tc, test_other_lines_kept);
	tcase_add_test(tc, test_no_final_newline);
	tcase_add_test(tc, test_duplicates_in_file);
	tcase_add_test(tc, test_mode_owner_kept);
	tcase_add_test(tc, test_create);
	tcase_add_test(tc, test_bad_paths);
	tcase_add_test(tc, test_not_writable);
	tcase_add_test(tc, test_auth_reads_it);
	tcase_add_test(tc, test_concurrent_adds);
	tcase_add_test(tc, test_weak_entries);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(users_db_suite)
