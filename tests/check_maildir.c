/* maildir: scanning, ordering, UIDLs, the size cache, expunge.
 *
 * Sizes are checked against ref_size(), an independent byte-by-byte model
 * of what RETR sends (every LF not after a CR gains a CR, an unterminated
 * last line gains CRLF, an empty file is one CRLF).
 *
 * "No message is opened when the cache is valid" is checked by changing a
 * message's content while keeping its inode, size and mtime (pwrite, then
 * utimensat back): a scan that read the file would see a different size.
 *
 * Unreadable messages: the tests run as root, for whom mode 000 does not
 * stop open(2). Those tests fork a child that drops CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH from its effective set, so permissions apply to it
 * as to any user; the child reports through its exit status. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "maildir.h"
#include "msgstream.h"
#include "testhelp.h"

/* --- helpers ------------------------------------------------------------ */

static uint64_t
ref_size(const char *p, size_t n)
{
	uint64_t s = 0;
	size_t i;

	if (n == 0)
		return 2;
	for (i = 0; i < n; i++)
		s += p[i] == '\n' && (i == 0 || p[i - 1] != '\r') ? 2 : 1;
	if (p[n - 1] != '\n')
		s += 2;
	return s;
}

struct box {
	char *home;
	char user[4096];   /* HOME/u */
};

static struct box
box_new(void)
{
	struct box b;

	b.home = th_tmpdir();
	snprintf(b.user, sizeof(b.user), "%s/u", b.home);
	ck_assert_int_eq(mkdir(b.user, 0700), 0);
	return b;
}

static void
box_free(struct box *b)
{
	th_rm_rf(b->home);
	free(b->home);
}

static void
set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };

	ck_assert_msg(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0, "utimensat %s: %s",
	              path, strerror(errno));
}

/* Writes HOME/u/relpath with the given mtime. */
static void
put(struct box *b, const char *relpath, const char *data, time_t sec, long nsec)
{
	const char *path = th_path(b->user, relpath);

	th_write_file(path, data, strlen(data));
	set_mtime(path, sec, nsec);
}

static struct mailbox *
scan(struct box *b)
{
	struct mailbox *mb = NULL;

	ck_assert_int_eq(mailbox_open(b->home, "u", &mb), 0);
	ck_assert_int_eq(mailbox_scan(mb), 0);
	return mb;
}

static long
find(const struct mailbox *mb, const char *relpath)
{
	size_t i;

	for (i = 0; i < mb->count; i++)
		if (strcmp(mb->msgs[i].relpath, relpath) == 0)
			return (long)i;
	return -1;
}

/* The size of HOME/u/relpath by the reference model. */
static uint64_t
file_ref_size(struct box *b, const char *relpath)
{
	size_t len;
	char *data = th_read_file(th_path(b->user, relpath), &len);
	uint64_t s;

	ck_assert_ptr_nonnull(data);
	s = ref_size(data, len);
	free(data);
	return s;
}

/* Every listed size matches the reference, every UIDL is well-formed and
 * unique. */
static void
check_all(struct box *b, const struct mailbox *mb)
{
	size_t i, j;

	for (i = 0; i < mb->count; i++) {
		const char *u = mb->msgs[i].uidl;
		size_t k, n = strlen(u);

		ck_assert_msg(mb->msgs[i].readable, "%s unreadable", mb->msgs[i].relpath);
		ck_assert_msg(mb->msgs[i].size == file_ref_size(b, mb->msgs[i].relpath),
		              "%s: size %llu", mb->msgs[i].relpath,
		              (unsigned long long)mb->msgs[i].size);
		ck_assert(!mb->msgs[i].deleted);
		ck_assert_uint_ge(n, 1);
		ck_assert_uint_le(n, MAILDIR_UIDL_MAX);
		for (k = 0; k < n; k++)
			ck_assert(u[k] >= 0x21 && u[k] <= 0x7e);
		for (j = 0; j < i; j++)
			ck_assert_msg(strcmp(u, mb->msgs[j].uidl) != 0, "duplicate UIDL %s", u);
	}
}

/* Changes the content of a message but not its inode, size or mtime:
 * every LF becomes 'X'. */
static void
swap_content_keep_stat(struct box *b, const char *relpath)
{
	const char *path = th_path(b->user, relpath);
	struct stat st;
	size_t len, i;
	char *data = th_read_file(path, &len);
	int fd;

	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(stat(path, &st), 0);
	for (i = 0; i < len; i++)
		if (data[i] == '\n')
			data[i] = 'X';
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, data, len, 0), (ssize_t)len);
	close(fd);
	set_mtime(path, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	free(data);
}

static bool
stat_same(const struct stat *a, const struct stat *c)
{
	return a->st_ino == c->st_ino && a->st_mtim.tv_sec == c->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == c->st_mtim.tv_nsec && a->st_size == c->st_size;
}

static void
cache_stat(struct box *b, struct stat *st)
{
	ck_assert_int_eq(stat(th_path(b->user, MAILDIR_CACHE_NAME), st), 0);
}

/* The list as one comparable string: relpath, UIDL, size, readable. */
static char *
listing(const struct mailbox *mb)
{
	size_t cap = 64 + mb->count * 600, len = 0, i;
	char *s = malloc(cap);

	s[0] = '\0';
	for (i = 0; i < mb->count; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s|%s|%llu|%d\n", mb->msgs[i].relpath,
		                        mb->msgs[i].uidl, (unsigned long long)mb->msgs[i].size,
		                        mb->msgs[i].readable);
	return s;
}

static void
assert_listing(const struct mailbox *mb, const char *want)
{
	char *got = listing(mb);

	ck_assert_str_eq(got, want);
	free(got);
}

/* --- Core: layouts ---------------------------------------------------------- */

static const char MSG1[] = "From: a@example.org\nSubject: one\n\nbody\n";
static const char MSG2[] = "From: b@example.org\r\nSubject: two\r\n\r\n.dot\r\n";
static const char MSG3[] = "Subject: three\n\nno newline";

START_TEST(test_maildir_layout)
{
	struct box b = box_new();
	struct mailbox *mb;

	put(&b, "new/1731570000.M1P100.demo", MSG1, 1000, 0);
	put(&b, "cur/1731570100.M2P100.demo:2,S", MSG2, 1001, 0);
	put(&b, "cur/1731570200.M3P100.demo:2,", MSG3, 1002, 0);
	put(&b, "tmp/1731570300.M4P100.demo", MSG1, 999, 0);      /* being delivered */
	put(&b, "new/.hidden", MSG1, 998, 0);
	put(&b, "cur/.1731570400.M5P100.demo:2,S", MSG1, 998, 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 3);
	ck_assert_str_eq(mb->msgs[0].relpath, "new/1731570000.M1P100.demo");
	ck_assert_str_eq(mb->msgs[0].uidl, "1731570000.M1P100.demo");
	ck_assert_str_eq(mb->msgs[1].relpath, "cur/1731570100.M2P100.demo:2,S");
	ck_assert_str_eq(mb->msgs[1].uidl, "1731570100.M2P100.demo");
	ck_assert_str_eq(mb->msgs[2].uidl, "1731570200.M3P100.demo");
	ck_assert_uint_eq(mb->msgs[0].size, sizeof(MSG1) - 1 + 4);
	ck_assert_uint_eq(mb->msgs[1].size, sizeof(MSG2) - 1);
	ck_assert_uint_eq(mb->msgs[2].size, sizeof(MSG3) - 1 + 2 + 2);
	check_all(&b, mb);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

START_TEST(test_plain_layout)
{
	struct box b = box_new();
	struct mailbox *mb;

	put(&b, "1_", MSG1, 1000, 0);
	put(&b, "2_", MSG2, 1001, 0);
	put(&b, "empty", "", 1002, 0);
	put(&b, ".profile", MSG1, 999, 0);            /* dot files are not mail */
	put(&b, "sub/3_", MSG1, 999, 0);              /* nor subdirectories */
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 3);
	ck_assert_str_eq(mb->msgs[0].relpath, "1_");
	ck_assert_str_eq(mb->msgs[0].uidl, "1_");
	ck_assert_str_eq(mb->msgs[1].relpath, "2_");
	ck_assert_str_eq(mb->msgs[2].relpath, "empty");
	ck_assert_uint_eq(mb->msgs[2].size, 2);
	check_all(&b, mb);
	/* The cache file written by the scan is not a message either. */
	mailbox_free(mb);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 3);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

START_TEST(test_mixed_layout)
{
	struct box b = box_new();
	struct mailbox *mb;

	put(&b, "plain-1", MSG1, 1003, 0);
	put(&b, "new/100.M1.h", MSG2, 1001, 0);
	put(&b, "cur/101.M1.h:2,S", MSG3, 1002, 0);
	put(&b, "plain-0", MSG2, 1000, 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 4);
	ck_assert_str_eq(mb->msgs[0].relpath, "plain-0");
	ck_assert_str_eq(mb->msgs[1].relpath, "new/100.M1.h");
	ck_assert_str_eq(mb->msgs[2].relpath, "cur/101.M1.h:2,S");
	ck_assert_str_eq(mb->msgs[3].relpath, "plain-1");
	check_all(&b, mb);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

START_TEST(test_empty_and_missing)
{
	struct box b = box_new();
	struct mailbox *mb;

	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 0);
	/* Nothing to cache, nothing written. */
	ck_assert_int_eq(access(th_path(b.user, MAILDIR_CACHE_NAME), F_OK), -1);
	mailbox_free(mb);
	/* new/ and cur/ present but empty; "tmp" a regular file. */
	ck_assert_int_eq(mkdir(th_path(b.user, "new"), 0700), 0);
	ck_assert_int_eq(mkdir(th_path(b.user, "cur"), 0700), 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 0);
	mailbox_free(mb);
	mailbox_free(NULL);
	box_free(&b);
}
END_TEST

/* --- Core: order -------------------------------------------------------------- */

START_TEST(test_order)
{
	static const struct {
		const char *relpath;
		time_t sec;
		long nsec;
	} files[] = {
		{ "z-oldest", 500, 0 },
		{ "b", 1000, 5 },
		{ "a", 1000, 7 },                 /* nanoseconds count */
		{ "cur/X:2,S", 1000, 3 },
		{ "new/X", 1000, 3 },             /* same mtime: name "X" < "X:2,S" */
		{ "new/m", 2000, 0 },
		{ "m", 2000, 0 },                 /* same name: relpath "m" < "new/m" */
		{ "cur/k:2,S", 2000, 0 },         /* "k:2,S" < "m" */
		{ "before-epoch", -100, 0 },
	};
	static const char *const want[] = {
		"before-epoch", "z-oldest", "new/X", "cur/X:2,S", "b", "a", "cur/k:2,S", "m", "new/m",
	};
	struct box b = box_new();
	struct mailbox *mb;
	char *first;
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		put(&b, files[i].relpath, MSG1, files[i].sec, files[i].nsec);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < mb->count; i++)
		ck_assert_str_eq(mb->msgs[i].relpath, want[i]);
	check_all(&b, mb);
	first = listing(mb);
	mailbox_free(mb);
	/* Stable across scans, with and without the cache. */
	mb = scan(&b);
	assert_listing(mb, first);
	mailbox_free(mb);
	ck_assert_int_eq(unlink(th_path(b.user, MAILDIR_CACHE_NAME)), 0);
	mb = scan(&b);
	assert_listing(mb, first);
	mailbox_free(mb);
	free(first);
	box_free(&b);
}
END_TEST

/* --- Core: UIDLs ---------------------------------------------------------------- */

static bool
is_digest(const char *u)
{
	size_t i;

	if (strlen(u) != 33 || u[0] != 'x')
		return false;
	for (i = 1; i < 33; i++)
		if (!((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f')))
			return false;
	return true;
}

START_TEST(test_uidl_rules)
{
	char n70[80], n71[80], s67[80], n67[96];
	struct {
		const char *relpath;
		const char *uidl;        /* NULL: a digest */
	} rows[] = {
		{ "new/1731570000.M1P100.demo", "1731570000.M1P100.demo" },
		{ "cur/1731570100.M2P100.demo:2,S", "1731570100.M2P100.demo" },
		{ "cur/1731570200.M3P100.demo:2,RS:odd", "1731570200.M3P100.demo" },
		{ "new/1731570300.M4P100.demo:2,", "1731570300.M4P100.demo" },
		{ "plain:with:colons", "plain:with:colons" },     /* plain: whole name */
		{ "~!\"#$%&'()*+,-.", "~!\"#$%&'()*+,-." },       /* edges of 0x21-0x7E */
		{ "a b", NULL },
		{ "tab\there", NULL },
		{ "del\x7f", NULL },
		{ "caf\xc3\xa9", NULL },
		{ "cur/:2,S", NULL },                              /* empty base name */
		{ n70, n70 },
		{ n71, NULL },
		{ n67, s67 },        /* 67 + ":2,S": the base is used, not all 71 */
	};
	struct box b = box_new();
	struct mailbox *mb;
	size_t i, nrows = sizeof(rows) / sizeof(rows[0]);

	memset(n70, 'q', 70);
	n70[70] = '\0';
	memset(n71, 'r', 71);
	n71[71] = '\0';
	memset(s67, 's', 67);
	s67[67] = '\0';
	snprintf(n67, sizeof(n67), "cur/%s:2,S", s67);
	for (i = 0; i < nrows; i++)
		put(&b, rows[i].relpath, MSG1, 1000 + (time_t)i, 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, nrows);
	check_all(&b, mb);
	for (i = 0; i < nrows; i++) {
		long k = find(mb, rows[i].relpath);

		ck_assert_int_ge(k, 0);
		if (rows[i].uidl == NULL)
			ck_assert_msg(is_digest(mb->msgs[k].uidl), "%s -> %s", rows[i].relpath,
			              mb->msgs[k].uidl);
		else
			ck_assert_str_eq(mb->msgs[k].uidl, rows[i].uidl);
	}
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

/* A digest depends on the base name only: a flag change keeps it, another
 * name gives another one. */
START_TEST(test_uidl_digest_stable)
{
	struct box b = box_new();
	struct mailbox *mb;
	char u1[MAILDIR_UIDL_MAX + 1], u2[MAILDIR_UIDL_MAX + 1];
	char p1[4096];

	put(&b, "cur/a b:2,", MSG1, 1000, 0);
	put(&b, "cur/a c:2,", MSG1, 1001, 0);
	mb = scan(&b);
	ck_assert(is_digest(mb->msgs[0].uidl) && is_digest(mb->msgs[1].uidl));
	ck_assert_str_ne(mb->msgs[0].uidl, mb->msgs[1].uidl);
	strcpy(u1, mb->msgs[0].uidl);
	strcpy(u2, mb->msgs[1].uidl);
	mailbox_free(mb);
	strcpy(p1, th_path(b.user, "cur/a b:2,"));
	ck_assert_int_eq(rename(p1, th_path(b.user, "cur/a b:2,RS")), 0);
	mb = scan(&b);
	ck_assert_str_eq(mb->msgs[0].relpath, "cur/a b:2,RS");
	ck_assert_str_eq(mb->msgs[0].uidl, u1);
	ck_assert_str_eq(mb->msgs[1].uidl, u2);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

START_TEST(test_uidl_duplicates)
{
	struct box b = box_new();
	struct mailbox *mb;
	char *first, cur_uidl[MAILDIR_UIDL_MAX + 1], digest[MAILDIR_UIDL_MAX + 1];
	char from[4096];
	long k;

	/* The same base name three times, and a plain file named like the
	 * digest another message gets. */
	put(&b, "new/X", MSG1, 1000, 0);
	put(&b, "cur/X:2,S", MSG2, 1001, 0);
	put(&b, "X", MSG3, 1002, 0);
	put(&b, "cur/Y:2,S", MSG1, 1003, 0);
	put(&b, "cur/Y:2,RS", MSG1, 1004, 0);     /* same directory, same base */
	put(&b, "bad name", MSG1, 1005, 0);
	mb = scan(&b);
	k = find(mb, "bad name");
	strcpy(digest, mb->msgs[k].uidl);
	mailbox_free(mb);
	put(&b, digest, MSG2, 1006, 0);

	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 7);
	check_all(&b, mb);
	/* The oldest keeps the plain UIDL; the others get a suffix. */
	ck_assert_str_eq(mb->msgs[find(mb, "new/X")].uidl, "X");
	ck_assert_str_eq(mb->msgs[find(mb, "cur/Y:2,S")].uidl, "Y");
	ck_assert_str_eq(mb->msgs[find(mb, "bad name")].uidl, digest);
	ck_assert(strncmp(mb->msgs[find(mb, "cur/X:2,S")].uidl, "X-", 2) == 0);
	ck_assert(strncmp(mb->msgs[find(mb, "X")].uidl, "X-", 2) == 0);
	ck_assert(strncmp(mb->msgs[find(mb, "cur/Y:2,RS")].uidl, "Y-", 2) == 0);
	ck_assert(strncmp(mb->msgs[find(mb, digest)].uidl, digest, 33) == 0);
	strcpy(cur_uidl, mb->msgs[find(mb, "cur/X:2,S")].uidl);
	first = listing(mb);
	mailbox_free(mb);

	/* Same across scans, with and without the cache. */
	mb = scan(&b);
	assert_listing(mb, first);
	mailbox_free(mb);
	ck_assert_int_eq(unlink(th_path(b.user, MAILDIR_CACHE_NAME)), 0);
	mb = scan(&b);
	assert_listing(mb, first);
	mailbox_free(mb);
	free(first);

	/* A flag change does not change a suffixed UIDL either. */
	strcpy(from, th_path(b.user, "cur/X:2,S"));
	ck_assert_int_eq(rename(from, th_path(b.user, "cur/X:2,RS")), 0);
	mb = scan(&b);
	ck_assert_str_eq(mb->msgs[find(mb, "cur/X:2,RS")].uidl, cur_uidl);
	check_all(&b, mb);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

/* Many names colliding on the truncated prefix of a long UIDL. */
START_TEST(test_uidl_long_duplicates)
{
	struct box b = box_new();
	struct mailbox *mb;
	char name[128];
	int i;

	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "%s/%070d%s", i % 2 ? "cur" : "new", 7,
		         i % 2 ? ":2,S" : "");
		if (i > 1)
			snprintf(name, sizeof(name), "cur/%070d:2,%.*s", 7, i, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
		put(&b, name, MSG1, 1000 + i, 0);
	}
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 20);
	check_all(&b, mb);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

/* --- Core: the size cache ----------------------------------------------------- */

START_TEST(test_cache_created_and_trusted)
{
	struct box b = box_new();
	struct mailbox *mb;
	struct stat c1, c2;
	char *first, *cache;
	size_t len;

	put(&b, "new/1.M1.h", MSG1, 1000, 0);
	put(&b, "cur/2.M1.h:2,S", MSG2, 1001, 0);
	put(&b, "3_", MSG3, 1002, 123456789);
	put(&b, "4_", "", 1003, 0);
	mb = scan(&b);
	check_all(&b, mb);
	first = listing(mb);
	mailbox_free(mb);

	/* One header and one line per message. */
	cache = th_read_file(th_path(b.user, MAILDIR_CACHE_NAME), &len);
	ck_assert_ptr_nonnull(cache);
	ck_assert(strncmp(cache, "pop3s-sizes 1\n", 14) == 0);
	ck_assert_ptr_nonnull(strstr(cache, " 1002 123456789 "));
	ck_assert_ptr_nonnull(strstr(cache, " new/1.M1.h\n"));
	ck_assert_ptr_nonnull(strstr(cache, " cur/2.M1.h:2,S\n"));
	free(cache);
	cache_stat(&b, &c1);

	/* Content changed behind stat's back: the cached sizes are used, so
	 * no message was read, and the cache is not rewritten. */
	swap_content_keep_stat(&b, "new/1.M1.h");
	swap_content_keep_stat(&b, "cur/2.M1.h:2,S");
	swap_content_keep_stat(&b, "3_");
	mb = scan(&b);
	assert_listing(mb, first);
	mailbox_free(mb);
	cache_stat(&b, &c2);
	ck_assert(stat_same(&c1, &c2));

	/* Without the cache the new contents are measured. */
	ck_assert_int_eq(unlink(th_path(b.user, MAILDIR_CACHE_NAME)), 0);
	mb = scan(&b);
	{
		char *now = listing(mb);

		ck_assert_str_ne(now, first);
		free(now);
	}
	check_all(&b, mb);
	mailbox_free(mb);
	free(first);
	box_free(&b);
}
END_TEST

/* A file changed under the same name (other size, or same size and a new
 * mtime, or a new inode) is measured again. */
START_TEST(test_cache_stale)
{
	struct box b = box_new();
	struct mailbox *mb;
	struct stat c1, c2;
	char tmp[4096];

	put(&b, "a", "x\ny\n", 1000, 0);
	put(&b, "b", "x\ny\n", 1001, 0);
	put(&b, "c", "x\ny\n", 1002, 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->msgs[0].size, 6);
	mailbox_free(mb);
	cache_stat(&b, &c1);

	put(&b, "a", "x\ny\nz\n", 1000, 0);                 /* size */
	put(&b, "b", "\n\n\n\n", 1001, 1);                  /* same size, mtime */
	strcpy(tmp, th_path(b.user, "c.new"));
	th_write_file(tmp, "xxxx", 4);                     /* same size and mtime, */
	set_mtime(tmp, 1002, 0);                            /* another inode */
	ck_assert_int_eq(rename(tmp, th_path(b.user, "c")), 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 3);
	check_all(&b, mb);
	ck_assert_uint_eq(mb->msgs[find(mb, "a")].size, 9);
	ck_assert_uint_eq(mb->msgs[find(mb, "b")].size, 8);   /* 4 LFs */
	ck_assert_uint_eq(mb->msgs[find(mb, "c")].size, 6);
	mailbox_free(mb);
	cache_stat(&b, &c2);
	ck_assert(!stat_same(&c1, &c2));   /* rewritten */

	/* A vanished message's entry is dropped from the cache. */
	ck_assert_int_eq(unlink(th_path(b.user, "a")), 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 2);
	mailbox_free(mb);
	{
		char *cache = th_read_file(th_path(b.user, MAILDIR_CACHE_NAME), NULL);

		ck_assert_ptr_null(strstr(cache, " a\n"));
		ck_assert_ptr_nonnull(strstr(cache, " b\n"));
		free(cache);
	}
	box_free(&b);
}
END_TEST

/* Names that need escaping round-trip through the cache. */
START_TEST(test_cache_escaped_names)
{
	static const char *const names[] = {
		"with space", "new\nline", "per%cent", "caf\xc3\xa9", "tab\t", "%41", "new/%2F:2,S",
	};
	struct box b = box_new();
	struct mailbox *mb;
	struct stat c1, c2;
	char *first;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		put(&b, names[i], MSG1, 1000 + (time_t)i, 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, sizeof(names) / sizeof(names[0]));
	check_all(&b, mb);
	first = listing(mb);
	mailbox_free(mb);
	cache_stat(&b, &c1);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		swap_content_keep_stat(&b, names[i]);
	mb = scan(&b);
	assert_listing(mb, first);   /* every one came from the cache */
	mailbox_free(mb);
	cache_stat(&b, &c2);
	ck_assert(stat_same(&c1, &c2));
	free(first);
	box_free(&b);
}
END_TEST

/* --- cache corruption ---------------------------------------------------------- */

/* Writes the cache file; "@a" in a template becomes the stat key of file a
 * ("ino size sec nsec"). */
static void
write_cache(struct box *b, const char *tmpl, size_t len)
{
	char *out = malloc(len * 2 + 4096);
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (tmpl[i] == '@' && i + 1 < len && tmpl[i + 1] >= 'a' && tmpl[i + 1] <= 'z') {
			char name[2] = { tmpl[i + 1], '\0' };
			struct stat st;

			ck_assert_int_eq(stat(th_path(b->user, name), &st), 0);
			n += (size_t)sprintf(out + n, "%llu %lld %lld %ld",
			                     (unsigned long long)st.st_ino, (long long)st.st_size,
			                     (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
			i++;
		} else {
			out[n++] = tmpl[i];
		}
	}
	th_write_file(th_path(b->user, MAILDIR_CACHE_NAME), out, n);
	free(out);
}

START_TEST(test_cache_corrupt)
{
	/* a and b are "x\ny\n" (size 6) and "p\r\nq" (size 6). */
	static const char *const caches[] = {
		"",
		"pop3s-sizes 1",                                  /* no newline */
		"pop3s-sizes 2\n@a 6 a\n",                        /* another version */
		"POP3S-SIZES 1\n",
		"pop3s-sizes 1\n@a 7 a\n@a 6 a\n@b 5 b\n@b 6 b\n",   /* duplicates: distrusted */
		"pop3s-sizes 1\n@a 06 a\n",                      /* leading zero */
		"pop3s-sizes 1\n@a -6 a\n",
		"pop3s-sizes 1\n@a 99999999999999999999 a\n",     /* overflow */
		"pop3s-sizes 1\n@a 6 a \n",                       /* trailing space */
		"pop3s-sizes 1\n@a 6  a\n",
		"pop3s-sizes 1\n@a 6 %61\n",                      /* fine: escaped 'a' */
		"pop3s-sizes 1\n@a 6 %6\n",
		"pop3s-sizes 1\n@a 6 %zz\n",
		"pop3s-sizes 1\n@a 6 %00a\n",
		"pop3s-sizes 1\n@a 6\n",
		"pop3s-sizes 1\n@a\n",
		"pop3s-sizes 1\n\n\n\n",
		"pop3s-sizes 1\n1 2 3 1000000000 6 a\n",          /* nsec out of range */
		"pop3s-sizes 1\n0 0 0 0 0 a\n0 0 0 0 0 b\n",      /* stat does not match */
		"pop3s-sizes 1\n@a 6 a",                          /* unterminated */
		"pop3s-sizes 1\r\n@a 6 a\r\n",
		"pop3s-sizes 1\n@a 6 a\n\xff\xfe\x01 garbage\n@b 6 b\n",
	};
	struct box b = box_new();
	size_t i;

	put(&b, "a", "x\ny\n", 1000, 0);
	put(&b, "b", "p\r\nq", 1001, 0);
	for (i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
		struct mailbox *mb;
		struct stat c1, c2;

		write_cache(&b, caches[i], strlen(caches[i]));
		mb = scan(&b);
		ck_assert_msg(mb->count == 2 && mb->msgs[0].size == 6 && mb->msgs[1].size == 6,
		              "cache %zu: sizes %llu %llu", i, (unsigned long long)mb->msgs[0].size,
		              (unsigned long long)mb->msgs[1].size);
		mailbox_free(mb);
		/* Now clean: the next scan leaves it alone. */
		cache_stat(&b, &c1);
		mb = scan(&b);
		check_all(&b, mb);
		mailbox_free(mb);
		cache_stat(&b, &c2);
		ck_assert_msg(stat_same(&c1, &c2), "cache %zu rewritten twice", i);
	}
	box_free(&b);
}
END_TEST

/* Random bytes and enormous lines: never a crash, never a wrong size. */
START_TEST(test_cache_garbage)
{
	struct box b = box_new();
	uint32_t x = 12345;
	size_t len = 2 * 1024 * 1024, i, round;
	char *junk = malloc(len);
	struct mailbox *mb;

	put(&b, "a", "x\ny\n", 1000, 0);
	put(&b, "b", "p\r\nq", 1001, 0);
	for (round = 0; round < 6; round++) {
		size_t n = round < 3 ? 4096 : len;
		size_t off = 0;

		for (i = 0; i < n; i++) {
			x = x * 1103515245 + 12345;
			junk[i] = (char)(x >> 16);
		}
		if (round == 1 || round == 4)   /* a valid header, then junk */
			off = (size_t)sprintf(junk, "pop3s-sizes 1\n");
		if (round == 2 || round == 5) { /* a header and one huge line */
			off = (size_t)sprintf(junk, "pop3s-sizes 1\n");
			memset(junk + off, '1', n - off);
			off = n;
		}
		(void)off;
		th_write_file(th_path(b.user, MAILDIR_CACHE_NAME), junk, n);
		mb = scan(&b);
		ck_assert_uint_eq(mb->count, 2);
		check_all(&b, mb);
		mailbox_free(mb);
		{
			char *c = th_read_file(th_path(b.user, MAILDIR_CACHE_NAME), NULL);

			ck_assert(strncmp(c, "pop3s-sizes 1\n", 14) == 0);
			free(c);
		}
	}
	free(junk);
	box_free(&b);
}
END_TEST

/* The cache as a directory, a FIFO or a symlink is ignored (and the
 * symlink's target never written). */
START_TEST(test_cache_not_a_file)
{
	struct box b = box_new();
	struct mailbox *mb;
	char target[4096];
	size_t len;
	char *t;

	put(&b, "a", "x\ny\n", 1000, 0);
	ck_assert_int_eq(mkfifo(th_path(b.user, MAILDIR_CACHE_NAME), 0600), 0);
	mb = scan(&b);
	check_all(&b, mb);
	mailbox_free(mb);
	ck_assert_int_eq(unlink(th_path(b.user, MAILDIR_CACHE_NAME)), 0);

	snprintf(target, sizeof(target), "%s/elsewhere", b.home);
	th_write_file(target, "pop3s-sizes 1\n", 14);
	ck_assert_int_eq(symlink(target, th_path(b.user, MAILDIR_CACHE_NAME)), 0);
	mb = scan(&b);
	check_all(&b, mb);
	mailbox_free(mb);
	t = th_read_file(target, &len);
	ck_assert_uint_eq(len, 14);
	free(t);
	ck_assert_int_eq(unlink(th_path(b.user, MAILDIR_CACHE_NAME)), 0);

	ck_assert_int_eq(mkdir(th_path(b.user, MAILDIR_CACHE_NAME), 0700), 0);
	mb = scan(&b);   /* the cache cannot be written: still fine */
	check_all(&b, mb);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

/* --- Core: open, read, the sample tree, real mail ------------------------------- */

START_TEST(test_mailbox_open)
{
	char *home = th_tmpdir();
	char missing[4096];
	struct mailbox *mb = NULL;
	struct stat st;
	int r;

	snprintf(missing, sizeof(missing), "%s/nope", home);
	ck_assert_int_eq(mailbox_open(missing, "u", &mb), -ENOENT);
	ck_assert_int_eq(mailbox_open(home, "..", &mb), -EINVAL);
	ck_assert_int_eq(mailbox_open(home, "a/b", &mb), -EINVAL);
	ck_assert_int_eq(mailbox_open(home, "", &mb), -EINVAL);

	/* A missing user directory is created, mode 0700. */
	ck_assert_int_eq(mailbox_open(home, "newuser", &mb), 0);
	ck_assert_int_eq(stat(th_path(home, "newuser"), &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(mailbox_scan(mb), 0);
	ck_assert_uint_eq(mb->count, 0);
	mailbox_free(mb);

	/* Not a directory; a symlink to one. */
	th_write_file(th_path(home, "file"), "x", 1);
	ck_assert_int_eq(mailbox_open(home, "file", &mb), -ENOTDIR);
	ck_assert_int_eq(symlink("newuser", th_path(home, "link")), 0);
	/* O_DIRECTORY | O_NOFOLLOW on a symlink: ELOOP or ENOTDIR. */
	r = mailbox_open(home, "link", &mb);
	ck_assert(r == -ELOOP || r == -ENOTDIR);
	th_rm_rf(home);
	free(home);
}
END_TEST

START_TEST(test_msg_open)
{
	struct box b = box_new();
	struct mailbox *mb;
	char buf[256];
	int fd, r;
	ssize_t n;

	put(&b, "new/1.M1.h", MSG1, 1000, 0);
	put(&b, "2_", MSG2, 1001, 0);
	mb = scan(&b);
	ck_assert_int_eq(mailbox_msg_open(mb, 0, &fd), 0);
	n = read(fd, buf, sizeof(buf));
	ck_assert_int_eq(n, (ssize_t)sizeof(MSG1) - 1);
	ck_assert(memcmp(buf, MSG1, sizeof(MSG1) - 1) == 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
	ck_assert_int_eq(mailbox_msg_open(mb, 1, &fd), 0);
	close(fd);
	ck_assert_int_eq(mailbox_msg_open(mb, 2, &fd), -EINVAL);
	/* Gone since the scan; replaced by a symlink; by a directory. */
	ck_assert_int_eq(unlink(th_path(b.user, "2_")), 0);
	ck_assert_int_eq(mailbox_msg_open(mb, 1, &fd), -ENOENT);
	ck_assert_int_eq(symlink("/etc/passwd", th_path(b.user, "2_")), 0);
	ck_assert_int_eq(mailbox_msg_open(mb, 1, &fd), -ELOOP);
	ck_assert_int_eq(unlink(th_path(b.user, "new/1.M1.h")), 0);
	ck_assert_int_eq(mkdir(th_path(b.user, "new/1.M1.h"), 0700), 0);
	ck_assert_int_eq(mailbox_msg_open(mb, 0, &fd), -ENOENT);
	/* The directory new/ itself replaced by a symlink. */
	th_rm_rf(th_path(b.user, "new"));
	ck_assert_int_eq(symlink(b.home, th_path(b.user, "new")), 0);
	r = mailbox_msg_open(mb, 0, &fd);
	ck_assert(r == -ELOOP || r == -ENOTDIR);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

static void
copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = th_read_file(from, &len);

	ck_assert_msg(data != NULL, "read %s", from);
	th_write_file(to, data, len);
	free(data);
}

/* Sends message i through RETR's path and checks the octets against the
 * listed size (size + one octet per stuffed dot + header + terminator). */
static void
check_retr(struct mailbox *mb, size_t i)
{
	struct mem_transport mt;
	uint64_t dots = 0;
	bool started;
	size_t k;
	int fd;

	ck_assert_int_eq(mailbox_msg_open(mb, i, &fd), 0);
	mem_transport_init(&mt);
	ck_assert_int_eq(msgstream_send_fd(fd, MSGSTREAM_ALL_LINES, mb->msgs[i].size, "+OK\r\n",
	                                   &mt.t, &started), 0);
	ck_assert_int_eq(transport_flush(&mt.t), 0);
	close(fd);
	for (k = 5; k + 3 < mt.len; k++)
		if (mt.out[k] == '.' && mt.out[k - 1] == '\n')
			dots++;
	ck_assert_uint_eq(mt.len, 5 + mb->msgs[i].size + dots + 3);
	ck_assert(memcmp(mt.out + mt.len - 5, "\r\n.\r\n", 5) == 0);
	mem_transport_free(&mt);
}

/* The committed demo tree, copied (a scan writes the cache). */
START_TEST(test_sample_mailbox)
{
	static const char *const files[] = {
		"alice/new/1731570000.M1P100.demo", "alice/new/1731570050.M3P100.demo",
		"alice/new/1731570400.M6P100.demo", "alice/cur/1731570100.M2P100.demo:2,S",
		"alice/cur/1731570200.M4P100.demo:2,RS", "alice/cur/1731570300.M5P100.demo:2,S",
		"bob/0001-lunch", "bob/0002-crlf-report", "bob/0003-empty",
		"bob/0004-no-final-newline", "bob/0005-utf8-newsletter", "bob/0006-headers-only",
	};
	char *home = th_tmpdir();
	struct mailbox *mb;
	size_t i;
	char src[4096];

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(src, sizeof(src), "%s/mailbox/%s", TEST_SRCDIR, files[i]);
		copy_file(src, th_path(home, files[i]));
	}
	ck_assert_int_eq(mkdir(th_path(home, "alice/tmp"), 0700), 0);

	ck_assert_int_eq(mailbox_open(home, "alice", &mb), 0);
	ck_assert_int_eq(mailbox_scan(mb), 0);
	ck_assert_uint_eq(mb->count, 6);
	for (i = 0; i < mb->count; i++) {
		char rel[4096];
		size_t len;
		char *data;

		snprintf(rel, sizeof(rel), "alice/%s", mb->msgs[i].relpath);
		data = th_read_file(th_path(home, rel), &len);
		ck_assert_uint_eq(mb->msgs[i].size, ref_size(data, len));
		ck_assert_int_eq(strncmp(mb->msgs[i].uidl, "1731570", 7), 0);
		ck_assert_ptr_null(strchr(mb->msgs[i].uidl, ':'));
		free(data);
		check_retr(mb, i);
	}
	ck_assert_uint_gt(mb->msgs[find(mb, "cur/1731570300.M5P100.demo:2,S")].size, 1000000);
	mailbox_free(mb);

	ck_assert_int_eq(mailbox_open(home, "bob", &mb), 0);
	ck_assert_int_eq(mailbox_scan(mb), 0);
	ck_assert_uint_eq(mb->count, 6);
	for (i = 0; i < mb->count; i++) {
		char rel[4096];
		size_t len;
		char *data;

		snprintf(rel, sizeof(rel), "bob/%s", mb->msgs[i].relpath);
		data = th_read_file(th_path(home, rel), &len);
		ck_assert_uint_eq(mb->msgs[i].size, ref_size(data, len));
		ck_assert_str_eq(mb->msgs[i].uidl, mb->msgs[i].relpath);
		free(data);
		check_retr(mb, i);
	}
	ck_assert_uint_eq(mb->msgs[find(mb, "0003-empty")].size, 2);
	mailbox_free(mb);
	th_rm_rf(home);
	free(home);
}
END_TEST

/* Real mail (mixed CRLF/LF, as found): the Enron sample next to the
 * repository, copied at run time into a plain-layout mailbox. */
static char *enron_dest;
static unsigned enron_n;

static int
enron_copy(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char name[256];
	const char *rel = strstr(path, "enron-sample/");
	size_t i;

	(void)st;
	(void)ftw;
	if (flag != FTW_F || rel == NULL || strstr(rel, "README") != NULL)
		return 0;
	snprintf(name, sizeof(name), "%s", rel + strlen("enron-sample/"));
	for (i = 0; name[i]; i++)
		if (name[i] == '/')
			name[i] = '-';
	copy_file(path, th_path(enron_dest, name));
	enron_n++;
	return 0;
}

START_TEST(test_enron_corpus)
{
	char src[4096];
	struct box b;
	struct mailbox *mb;
	size_t i;

	snprintf(src, sizeof(src), "%s/../shared/corpus/enron-sample", TEST_SRCDIR);
	if (access(src, R_OK) != 0) {
		fprintf(stderr, "test_enron_corpus: %s absent, skipped\n", src);
		return;
	}
	b = box_new();
	enron_dest = b.user;
	enron_n = 0;
	ck_assert_int_eq(nftw(src, enron_copy, 16, FTW_PHYS), 0);
	ck_assert_uint_gt(enron_n, 10);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, enron_n);
	check_all(&b, mb);
	for (i = 0; i < mb->count; i++)
		check_retr(mb, i);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

/* Symlinks (to files inside or outside), FIFOs, sockets' stand-ins and
 * subdirectories are never messages; "new" as a symlink is not scanned. */
START_TEST(test_skipped_entries)
{
	struct box b = box_new();
	struct mailbox *mb;
	char outside[4096], other[4096];

	snprintf(outside, sizeof(outside), "%s/outside", b.home);
	th_write_file(outside, MSG1, sizeof(MSG1) - 1);
	put(&b, "real", MSG1, 1000, 0);
	put(&b, "new/real.M1.h", MSG1, 1001, 0);
	ck_assert_int_eq(symlink(outside, th_path(b.user, "link-out")), 0);
	ck_assert_int_eq(symlink("real", th_path(b.user, "link-in")), 0);
	ck_assert_int_eq(symlink(outside, th_path(b.user, "new/link.M2.h")), 0);
	ck_assert_int_eq(mkdir(th_path(b.user, "cur"), 0700), 0);
	ck_assert_int_eq(symlink("/nonexistent", th_path(b.user, "cur/dangling:2,S")), 0);
	ck_assert_int_eq(mkfifo(th_path(b.user, "fifo"), 0600), 0);
	ck_assert_int_eq(mkfifo(th_path(b.user, "cur/fifo.M3.h:2,S"), 0600), 0);
	ck_assert_int_eq(mkdir(th_path(b.user, "cur/dir.M4.h:2,S"), 0700), 0);
	ck_assert_int_eq(mkdir(th_path(b.user, "folder"), 0700), 0);
	/* A Maildir++ style folder's messages are not ours either. */
	put(&b, ".Sent/cur/s.M5.h:2,S", MSG1, 1002, 0);
	/* tmp/ never lists. */
	put(&b, "tmp/t.M6.h", MSG1, 1003, 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 2);
	ck_assert_str_eq(mb->msgs[0].relpath, "real");
	ck_assert_str_eq(mb->msgs[1].relpath, "new/real.M1.h");
	mailbox_free(mb);

	/* cur/ as a symlink to a directory full of mail: not followed. */
	snprintf(other, sizeof(other), "%s/othercur", b.home);
	th_write_file(th_path(other, "o.M7.h:2,S"), MSG1, sizeof(MSG1) - 1);
	th_rm_rf(th_path(b.user, "cur"));
	ck_assert_int_eq(symlink(other, th_path(b.user, "cur")), 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 2);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

/* --- Limits --------------------------------------------------------------------- */

/* 10,000 messages: the second login reads only the directory and the
 * cache (every message's content was changed behind stat's back, and the
 * sizes still come out as first measured). */
START_TEST(test_10000_cached)
{
	const size_t n = 10000;
	struct box b;
	struct mailbox *mb;
	struct stat c1, c2;
	struct timespec t0, t1;
	char rel[64], body[128];
	char *first;
	size_t i;

	/* Creating 10,000 files can take seconds on a slow disk: unless told
	 * otherwise (TMPDIR), this mailbox lives in tmpfs. */
	if (getenv("TMPDIR") == NULL && access("/dev/shm", W_OK | X_OK) == 0) {
		setenv("TMPDIR", "/dev/shm", 1);
		b = box_new();
		unsetenv("TMPDIR");
	} else {
		b = box_new();
	}
	ck_assert_int_eq(mkdir(th_path(b.user, "cur"), 0700), 0);
	for (i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "cur/%zu.M%zuP1.host:2,S", 1700000000 + i, i);
		snprintf(body, sizeof(body), "Subject: message %zu\n\nline one\n%s\n", i,
		         i % 3 ? "." : "end");
		put(&b, rel, body, (time_t)(1700000000 + i / 3), (long)(i % 3));
	}
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, n);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(mb->msgs[i].size, file_ref_size(&b, mb->msgs[i].relpath));
	first = listing(mb);
	mailbox_free(mb);
	cache_stat(&b, &c1);

	for (i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "cur/%zu.M%zuP1.host:2,S", 1700000000 + i, i);
		swap_content_keep_stat(&b, rel);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mb = scan(&b);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_listing(mb, first);
	mailbox_free(mb);
	cache_stat(&b, &c2);
	ck_assert(stat_same(&c1, &c2));
	ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 2000);
	free(first);
	box_free(&b);
}
END_TEST

/* Messages appearing and vanishing while scanning: a scan never fails and
 * never lists a stable message wrongly (vanishing between readdir, stat
 * and open is hit by chance, many times over). Ends on counts, not on
 * time: at least 20 scans during which the other process created and
 * removed at least 400 messages, however slow or busy the machine. */
START_TEST(test_vanishing)
{
	struct box b = box_new();
	volatile unsigned long *churned;
	unsigned long before;
	pid_t pid;
	int status, scans = 0;

	churned = mmap(NULL, sizeof(*churned), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	               -1, 0);
	ck_assert(churned != MAP_FAILED);
	*churned = 0;
	put(&b, "stable-1", MSG1, 1000, 0);
	put(&b, "new/stable-2", MSG2, 1001, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		unsigned long i;
		char name[4200], old[4200];

		for (i = 0;; i++) {
			int fd;

			snprintf(name, sizeof(name), "%s/%s%lu", b.user, i % 2 ? "new/churn" : "churn", i);
			fd = open(name, O_WRONLY | O_CREAT, 0600);
			if (fd >= 0) {
				if (write(fd, MSG3, sizeof(MSG3) - 1) < 0)
					_exit(1);
				close(fd);
			}
			if (i >= 3) {
				snprintf(old, sizeof(old), "%s/%s%lu", b.user,
				         (i - 3) % 2 ? "new/churn" : "churn", i - 3);
				unlink(old);
			}
			*churned = i + 1;
		}
	}
	/* Scanning starts once the churn has. */
	while (*churned < 4)
		sched_yield();
	before = *churned;
	do {
		struct mailbox *mb;
		size_t i;
		int r;

		ck_assert_int_eq(mailbox_open(b.home, "u", &mb), 0);
		r = mailbox_scan(mb);
		ck_assert_int_eq(r, 0);
		ck_assert_int_ge(find(mb, "stable-1"), 0);
		ck_assert_int_ge(find(mb, "new/stable-2"), 0);
		for (i = 0; i < mb->count; i++) {
			const char *p = mb->msgs[i].relpath;

			if (strncmp(p, "stable", 6) == 0 || strncmp(p, "new/stable", 10) == 0)
				ck_assert_uint_eq(mb->msgs[i].size, file_ref_size(&b, p));
			else
				ck_assert(strncmp(p, "churn", 5) == 0 || strncmp(p, "new/churn", 9) == 0);
		}
		mailbox_free(mb);
		scans++;
	} while (scans < 20 || *churned - before < 400);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	munmap((void *)churned, sizeof(*churned));
	box_free(&b);
}
END_TEST

/* --- Errors: expunge ------------------------------------------------------------- */

START_TEST(test_expunge)
{
	struct box b = box_new();
	struct mailbox *mb;
	struct mailbox_expunge_result res;

	put(&b, "new/1.M1.h", MSG1, 1000, 0);
	put(&b, "cur/2.M1.h:2,S", MSG1, 1001, 0);
	put(&b, "3_", MSG1, 1002, 0);
	put(&b, "4_", MSG1, 1003, 0);
	put(&b, "5_", MSG1, 1004, 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 5);
	mb->msgs[0].deleted = true;
	mb->msgs[1].deleted = true;
	mb->msgs[3].deleted = true;
	/* Already removed by someone else: not an error, but not counted
	 * as removed by us either. */
	ck_assert_int_eq(unlink(th_path(b.user, "4_")), 0);
	ck_assert_int_eq(mailbox_expunge(mb, &res), 0);
	ck_assert_uint_eq(res.removed, 2);
	ck_assert_uint_eq(res.gone, 1);
	ck_assert_uint_eq(res.changed + res.failed, 0);
	ck_assert_int_eq(res.first_error, 0);
	mailbox_free(mb);
	ck_assert_int_eq(access(th_path(b.user, "new/1.M1.h"), F_OK), -1);
	ck_assert_int_eq(access(th_path(b.user, "cur/2.M1.h:2,S"), F_OK), -1);
	ck_assert_int_eq(access(th_path(b.user, "3_"), F_OK), 0);
	ck_assert_int_eq(access(th_path(b.user, "5_"), F_OK), 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 2);
	/* Nothing marked: nothing removed. */
	ck_assert_int_eq(mailbox_expunge(mb, &res), 0);
	ck_assert_uint_eq(res.removed + res.gone + res.changed + res.failed, 0);
	mailbox_free(mb);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 2);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

/* A message replaced by a directory is not the message scanned: kept and
 * reported as changed; the others are removed all the same. */
START_TEST(test_expunge_failure)
{
	struct box b = box_new();
	struct mailbox *mb;
	struct mailbox_expunge_result res;

	put(&b, "1_", MSG1, 1000, 0);
	put(&b, "new/2.M1.h", MSG1, 1001, 0);
	put(&b, "3_", MSG1, 1002, 0);
	put(&b, "4_", MSG1, 1003, 0);
	mb = scan(&b);
	mb->msgs[0].deleted = true;
	mb->msgs[1].deleted = true;
	mb->msgs[2].deleted = true;
	ck_assert_int_eq(unlink(th_path(b.user, "1_")), 0);
	ck_assert_int_eq(mkdir(th_path(b.user, "1_"), 0700), 0);
	ck_assert_int_eq(unlink(th_path(b.user, "new/2.M1.h")), 0);
	ck_assert_int_eq(mkdir(th_path(b.user, "new/2.M1.h"), 0700), 0);
	ck_assert_int_eq(mailbox_expunge(mb, &res), -ESTALE);
	ck_assert_uint_eq(res.changed, 2);
	ck_assert_uint_eq(res.removed, 1);
	ck_assert_uint_eq(res.failed + res.gone, 0);
	mailbox_free(mb);
	ck_assert_int_eq(access(th_path(b.user, "1_"), F_OK), 0);
	ck_assert_int_eq(access(th_path(b.user, "new/2.M1.h"), F_OK), 0);
	ck_assert_int_eq(access(th_path(b.user, "3_"), F_OK), -1);
	ck_assert_int_eq(access(th_path(b.user, "4_"), F_OK), 0);
	box_free(&b);
}
END_TEST

/* --- Races: the file the client saw ------------------------------------------------ */

/* Replaces HOME/u/relpath by a new file (another inode) with data and the
 * given mtime, as a delivery agent would: write aside, rename over. */
static void
replace(struct box *b, const char *relpath, const char *data, time_t sec)
{
	char tmp[4200];

	snprintf(tmp, sizeof(tmp), "%s/.replacement", b->user);
	th_write_file(tmp, data, strlen(data));
	set_mtime(tmp, sec, 0);
	ck_assert_int_eq(rename(tmp, th_path(b->user, relpath)), 0);
}

static void
mv(struct box *b, const char *from, const char *to)
{
	char f[4200];

	snprintf(f, sizeof(f), "%s", th_path(b->user, from));
	ck_assert_int_eq(rename(f, th_path(b->user, to)), 0);
}

static void
append(struct box *b, const char *relpath, const char *data)
{
	int fd = open(th_path(b->user, relpath), O_WRONLY | O_APPEND);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

/* A plain-layout file replaced or modified under the same name since the
 * scan is not the message the client deleted: it stays, reported. */
START_TEST(test_expunge_keeps_replaced)
{
	struct box b = box_new();
	struct mailbox *mb;
	struct mailbox_expunge_result res;
	size_t i;
	char *data;

	put(&b, "a", MSG1, 1000, 0);   /* replaced: same content, new inode */
	put(&b, "b", MSG1, 1001, 0);   /* appended to */
	put(&b, "c", MSG1, 1002, 0);   /* same size, new mtime */
	put(&b, "d", MSG1, 1003, 0);   /* untouched: removed */
	put(&b, "new/5.M1.h", MSG1, 1004, 0);   /* replaced, no rename */
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 5);
	for (i = 0; i < mb->count; i++)
		mb->msgs[i].deleted = true;
	replace(&b, "a", MSG1, 1000);
	append(&b, "b", "more\n");
	set_mtime(th_path(b.user, "b"), 1001, 0);   /* even with the old mtime */
	set_mtime(th_path(b.user, "c"), 1002, 1);
	replace(&b, "new/5.M1.h", MSG2, 1004);
	ck_assert_int_eq(mailbox_expunge(mb, &res), -ESTALE);
	ck_assert_uint_eq(res.removed, 1);
	ck_assert_uint_eq(res.changed, 4);
	ck_assert_uint_eq(res.gone + res.failed, 0);
	mailbox_free(mb);
	ck_assert_int_eq(access(th_path(b.user, "a"), F_OK), 0);
	ck_assert_int_eq(access(th_path(b.user, "b"), F_OK), 0);
	ck_assert_int_eq(access(th_path(b.user, "c"), F_OK), 0);
	ck_assert_int_eq(access(th_path(b.user, "d"), F_OK), -1);
	data = th_read_file(th_path(b.user, "new/5.M1.h"), NULL);
	ck_assert_str_eq(data, MSG2);
	free(data);
	box_free(&b);
}
END_TEST

/* A Maildir message another reader renamed (new/ to cur/, flags changed)
 * is found by its base name and removed if it is the same file; one
 * renamed and modified, or only reachable under another base name (a hard
 * link), is not. */
START_TEST(test_expunge_follows_rename)
{
	struct box b = box_new();
	struct mailbox *mb;
	struct mailbox_expunge_result res;
	size_t i;

	put(&b, "new/10.M1.h", MSG1, 1000, 0);       /* -> cur/10.M1.h:2,S */
	put(&b, "cur/11.M1.h:2,", MSG1, 1001, 0);    /* -> cur/11.M1.h:2,S */
	put(&b, "new/12.M1.h", MSG1, 1002, 0);       /* -> cur/12.M1.h:2,S, and a
	                                              * new file at new/12.M1.h */
	put(&b, "new/13.M1.h", MSG1, 1003, 0);       /* -> cur/13.M1.h:2,S, modified */
	put(&b, "new/14.M1.h", MSG1, 1004, 0);       /* removed by someone else */
	put(&b, "new/15.M1.h", MSG1, 1005, 0);       /* only cur/other:2,S remains */
	put(&b, "cur/16.M1.h:2,S", MSG1, 1006, 0);   /* not deleted */
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 7);
	for (i = 0; i < 6; i++)
		mb->msgs[i].deleted = true;
	mv(&b, "new/10.M1.h", "cur/10.M1.h:2,S");
	mv(&b, "cur/11.M1.h:2,", "cur/11.M1.h:2,S");
	mv(&b, "new/12.M1.h", "cur/12.M1.h:2,S");
	put(&b, "new/12.M1.h", MSG1, 1002, 0);
	mv(&b, "new/13.M1.h", "cur/13.M1.h:2,S");
	append(&b, "cur/13.M1.h:2,S", "edited\n");
	ck_assert_int_eq(unlink(th_path(b.user, "new/14.M1.h")), 0);
	ck_assert_int_eq(link(th_path(b.user, "new/15.M1.h"), th_path(b.user, "cur/other:2,S")), 0);
	ck_assert_int_eq(unlink(th_path(b.user, "new/15.M1.h")), 0);

	ck_assert_int_eq(mailbox_expunge(mb, &res), -ESTALE);
	ck_assert_uint_eq(res.removed, 3);   /* 10, 11, 12 */
	ck_assert_uint_eq(res.changed, 1);   /* 13 */
	ck_assert_uint_eq(res.gone, 2);      /* 14, 15 */
	ck_assert_uint_eq(res.failed, 0);
	mailbox_free(mb);
	ck_assert_int_eq(access(th_path(b.user, "cur/10.M1.h:2,S"), F_OK), -1);
	ck_assert_int_eq(access(th_path(b.user, "cur/11.M1.h:2,S"), F_OK), -1);
	ck_assert_int_eq(access(th_path(b.user, "cur/12.M1.h:2,S"), F_OK), -1);
	ck_assert_int_eq(access(th_path(b.user, "new/12.M1.h"), F_OK), 0);
	ck_assert_int_eq(access(th_path(b.user, "cur/13.M1.h:2,S"), F_OK), 0);
	ck_assert_int_eq(access(th_path(b.user, "cur/other:2,S"), F_OK), 0);
	ck_assert_int_eq(access(th_path(b.user, "cur/16.M1.h:2,S"), F_OK), 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 4);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

/* Many deleted messages all moved to cur/ by another reader: one pass over
 * the directories finds them all. */
START_TEST(test_expunge_follows_many)
{
	struct box b = box_new();
	struct mailbox *mb;
	struct mailbox_expunge_result res;
	char from[64], to[64];
	size_t i, n = 2000;
	struct timespec t0, t1;

	for (i = 0; i < n; i++) {
		snprintf(from, sizeof(from), "new/%zu.M1.h", i);
		put(&b, from, MSG1, 1000 + (time_t)i, 0);
	}
	ck_assert_int_eq(mkdir(th_path(b.user, "cur"), 0700), 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, n);
	for (i = 0; i < n; i++) {
		mb->msgs[i].deleted = true;
		snprintf(from, sizeof(from), "new/%zu.M1.h", i);
		snprintf(to, sizeof(to), "cur/%zu.M1.h:2,S", i);
		mv(&b, from, to);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(mailbox_expunge(mb, &res), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_uint_eq(res.removed, n);
	ck_assert_uint_eq(res.gone + res.changed + res.failed, 0);
	printf("expunge of %zu renamed messages: %.1f ms\n", n,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	mailbox_free(mb);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 0);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

/* A message whose file is not the one scanned cannot be opened: its
 * listed size would be wrong. */
START_TEST(test_msg_open_changed)
{
	struct box b = box_new();
	struct mailbox *mb;
	int fd;

	put(&b, "a", MSG1, 1000, 0);
	put(&b, "b", MSG1, 1001, 0);
	put(&b, "c", MSG1, 1002, 0);
	put(&b, "d", MSG1, 1003, 0);
	put(&b, "e", "x\ny\n", 1004, 0);
	mb = scan(&b);
	ck_assert_uint_eq(mb->count, 5);
	replace(&b, "a", MSG1, 1000);                   /* other inode */
	append(&b, "b", "grown\n");                     /* other size */
	set_mtime(th_path(b.user, "b"), 1001, 0);
	set_mtime(th_path(b.user, "c"), 1002, 5);       /* other mtime */
	ck_assert_int_eq(truncate(th_path(b.user, "e"), 1), 0);   /* shrunk */
	set_mtime(th_path(b.user, "e"), 1004, 0);
	ck_assert_int_eq(mailbox_msg_open(mb, 0, &fd), -ESTALE);
	ck_assert_int_eq(mailbox_msg_open(mb, 1, &fd), -ESTALE);
	ck_assert_int_eq(mailbox_msg_open(mb, 2, &fd), -ESTALE);
	ck_assert_int_eq(mailbox_msg_open(mb, 4, &fd), -ESTALE);
	ck_assert_int_eq(mailbox_msg_open(mb, 3, &fd), 0);
	ck_assert_int_eq(mailbox_msg_unchanged(mb, 3, fd), 0);
	append(&b, "d", "x");   /* changed after it was opened */
	ck_assert_int_eq(mailbox_msg_unchanged(mb, 3, fd), -ESTALE);
	close(fd);
	mailbox_free(mb);
	box_free(&b);
}
END_TEST

/* Cached sizes a file cannot have are not served: a file of n octets has
 * a POP3 size in [n, 2n + 2] (2 if empty). Exactly the bounds pass. */
START_TEST(test_cache_forged_sizes)
{
	static const struct {
		const char *size;   /* cached size of a ("x\ny\n": 4 octets, size 6) */
		uint64_t served;
	} rows[] = {
		{ "18446744073709551615", 6 }, { "9223372036854775808", 6 }, { "0", 6 },
		{ "3", 6 }, { "11", 6 }, { "4", 4 }, { "10", 10 }, { "6", 6 },
	};
	struct box b = box_new();
	size_t i;

	put(&b, "a", "x\ny\n", 1000, 0);
	put(&b, "e", "", 1001, 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char tmpl[256];
		struct mailbox *mb;
		char *cache;

		snprintf(tmpl, sizeof(tmpl), "pop3s-sizes 1\n@a %s a\n@e %s e\n", rows[i].size,
		         i % 2 ? "0" : "3");
		write_cache(&b, tmpl, strlen(tmpl));
		mb = scan(&b);
		ck_assert_uint_eq(mb->count, 2);
		ck_assert_msg(mb->msgs[0].size == rows[i].served, "cached %s: served %llu",
		              rows[i].size, (unsigned long long)mb->msgs[0].size);
		ck_assert_uint_eq(mb->msgs[1].size, 2);   /* empty: 0 and 3 refused */
		mailbox_free(mb);
		/* A refused entry is replaced by the measured size. */
		cache = th_read_file(th_path(b.user, MAILDIR_CACHE_NAME), NULL);
		ck_assert_ptr_null(strstr(cache, " 18446744073709551615 a\n"));
		ck_assert_ptr_nonnull(strstr(cache, " 2 e\n"));
		free(cache);
	}
	box_free(&b);
}
END_TEST

/* Totals saturate instead of wrapping: three sparse files of 2^62 octets
 * with (plausible) cached sizes of 2^63 each sum to more than 2^64. Needs
 * a file system that allows such files: tmpfs at /dev/shm. */
START_TEST(test_total_saturates)
{
	char tmpl[512], *home, user[4000];
	const char *names[] = { "a", "b", "c" };
	struct mailbox *mb;
	size_t i, count = 0;
	int fd, n = 0;
	const char *tmpdir = getenv("TMPDIR");
	char *saved = tmpdir != NULL ? strdup(tmpdir) : NULL;

	ck_assert_int_eq(setenv("TMPDIR", "/dev/shm", 1), 0);
	home = th_tmpdir();
	if (saved != NULL)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
	snprintf(user, sizeof(user), "%s/u", home);
	ck_assert_int_eq(mkdir(user, 0700), 0);
	for (i = 0; i < 3; i++) {
		fd = open(th_path(user, names[i]), O_WRONLY | O_CREAT, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_msg(ftruncate(fd, (off_t)1 << 62) == 0, "sparse file: %s", strerror(errno));
		close(fd);
		set_mtime(th_path(user, names[i]), 1000 + (time_t)i, 0);
	}
	{
		struct box b;

		b.home = home;
		snprintf(b.user, sizeof(b.user), "%s", user);
		n = snprintf(tmpl, sizeof(tmpl), "pop3s-sizes 1\n@a 9223372036854775808 a\n"
		             "@b 9223372036854775808 b\n@c 9223372036854775808 c\n");
		write_cache(&b, tmpl, (size_t)n);
	}
	ck_assert_int_eq(mailbox_open(home, "u", &mb), 0);
	ck_assert_int_eq(mailbox_scan(mb), 0);   /* from the cache: nothing read */
	ck_assert_uint_eq(mb->count, 3);
	ck_assert_uint_eq(mb->msgs[0].size, (uint64_t)1 << 63);
	ck_assert_uint_eq(mailbox_total(mb, true, &count), UINT64_MAX);
	ck_assert_uint_eq(count, 3);
	mb->msgs[1].deleted = mb->msgs[2].deleted = true;
	ck_assert_uint_eq(mailbox_total(mb, false, &count), (uint64_t)1 << 63);
	ck_assert_uint_eq(count, 1);
	mb->msgs[2].deleted = false;
	ck_assert_uint_eq(mailbox_total(mb, false, &count), UINT64_MAX);
	mailbox_free(mb);
	th_rm_rf(home);
	free(home);
}
END_TEST

/* --- Errors: permissions, in a child without DAC override -------------------------- */

#define CHILD_CHECK(cond)                                                            \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "child check failed at line %d: %s\n", __LINE__, \
			        #cond);                                                      \
			_exit(1);                                                    \
		}                                                                    \
	} while (0)

static void
drop_dac_override(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		_exit(90);
	d[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
	if (syscall(SYS_capset, &h, d) < 0)
		_exit(91);
}

static void
run_child(void (*fn)(struct box *), struct box *b)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		drop_dac_override();
		fn(b);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "child failed (status %d; 90/91: capabilities)", status);
}

static void
unreadable_child(struct box *b)
{
	struct mailbox *mb;
	struct stat st;
	char *cache;
	long k;
	int fd;

	CHILD_CHECK(chmod(th_path(b->user, "cur/2.M1.h:2,S"), 0) == 0);
	/* The simulation works: even this process cannot open it now. */
	CHILD_CHECK(open(th_path(b->user, "cur/2.M1.h:2,S"), O_RDONLY) < 0 && errno == EACCES);
	CHILD_CHECK(stat(th_path(b->user, "cur/2.M1.h:2,S"), &st) == 0);

	CHILD_CHECK(mailbox_open(b->home, "u", &mb) == 0);
	CHILD_CHECK(mailbox_scan(mb) == 0);
	CHILD_CHECK(mb->count == 3);
	k = find(mb, "cur/2.M1.h:2,S");
	/* Listed in its place, with its file size, marked unreadable. */
	CHILD_CHECK(k == 1);
	CHILD_CHECK(!mb->msgs[k].readable);
	CHILD_CHECK(mb->msgs[k].size == (uint64_t)st.st_size);
	CHILD_CHECK(strcmp(mb->msgs[k].uidl, "2.M1.h") == 0);
	CHILD_CHECK(mailbox_msg_open(mb, (size_t)k, &fd) == -EACCES);
	CHILD_CHECK(mb->msgs[0].readable && mb->msgs[2].readable);
	CHILD_CHECK(mb->msgs[0].size == sizeof(MSG1) - 1 + 4);
	CHILD_CHECK(mailbox_msg_open(mb, 0, &fd) == 0);
	close(fd);
	mailbox_free(mb);
	/* It is not cached, so it is measured once readable again. */
	cache = th_read_file(th_path(b->user, MAILDIR_CACHE_NAME), NULL);
	CHILD_CHECK(cache != NULL && strstr(cache, "2.M1.h") == NULL);
	CHILD_CHECK(strstr(cache, "new/1.M1.h") != NULL);
	free(cache);
	CHILD_CHECK(chmod(th_path(b->user, "cur/2.M1.h:2,S"), 0600) == 0);
	CHILD_CHECK(mailbox_open(b->home, "u", &mb) == 0);
	CHILD_CHECK(mailbox_scan(mb) == 0);
	CHILD_CHECK(mb->count == 3 && mb->msgs[1].readable);
	CHILD_CHECK(mb->msgs[1].size == sizeof(MSG2) - 1);
	mailbox_free(mb);
}

START_TEST(test_unreadable_message)
{
	struct box b = box_new();

	put(&b, "new/1.M1.h", MSG1, 1000, 0);
	put(&b, "cur/2.M1.h:2,S", MSG2, 1001, 0);
	put(&b, "3_", MSG3, 1002, 0);
	run_child(unreadable_child, &b);
	box_free(&b);
}
END_TEST

static void
expunge_eacces_child(struct box *b)
{
	struct mailbox *mb;
	struct mailbox_expunge_result res;

	CHILD_CHECK(mailbox_open(b->home, "u", &mb) == 0);
	CHILD_CHECK(mailbox_scan(mb) == 0);
	CHILD_CHECK(mb->count == 4);
	mb->msgs[0].deleted = mb->msgs[1].deleted = mb->msgs[2].deleted = true;
	CHILD_CHECK(chmod(th_path(b->user, "cur"), 0500) == 0);
	CHILD_CHECK(mailbox_expunge(mb, &res) == -EACCES);
	CHILD_CHECK(res.failed == 2 && res.removed == 1 && res.changed == 0 && res.gone == 0);
	CHILD_CHECK(access(th_path(b->user, "new/1.M1.h"), F_OK) < 0);
	CHILD_CHECK(access(th_path(b->user, "cur/2.M1.h:2,S"), F_OK) == 0);
	CHILD_CHECK(access(th_path(b->user, "4_"), F_OK) == 0);
	mailbox_free(mb);
	CHILD_CHECK(chmod(th_path(b->user, "cur"), 0700) == 0);
}

START_TEST(test_expunge_eacces)
{
	struct box b = box_new();

	put(&b, "new/1.M1.h", MSG1, 1000, 0);
	put(&b, "cur/2.M1.h:2,S", MSG1, 1001, 0);
	put(&b, "cur/3.M1.h:2,S", MSG1, 1002, 0);
	put(&b, "4_", MSG1, 1003, 0);
	run_child(expunge_eacces_child, &b);
	box_free(&b);
}
END_TEST

static void
unwritable_child(struct box *b)
{
	struct mailbox *mb;

	/* The cache cannot be written: sizes are right all the same. */
	CHILD_CHECK(chmod(b->user, 0500) == 0);
	CHILD_CHECK(mailbox_open(b->home, "u", &mb) == 0);
	CHILD_CHECK(mailbox_scan(mb) == 0);
	CHILD_CHECK(mb->count == 1 && mb->msgs[0].size == sizeof(MSG1) - 1 + 4);
	mailbox_free(mb);
	CHILD_CHECK(access(th_path(b->user, MAILDIR_CACHE_NAME), F_OK) < 0);
	/* A HOME where the user directory cannot be created. */
	CHILD_CHECK(chmod(b->home, 0500) == 0);
	CHILD_CHECK(mailbox_open(b->home, "other", &mb) == -EACCES);
	CHILD_CHECK(chmod(b->home, 0700) == 0);
	CHILD_CHECK(chmod(b->user, 0700) == 0);
}

START_TEST(test_unwritable_mailbox)
{
	struct box b = box_new();

	put(&b, "1_", MSG1, 1000, 0);
	run_child(unwritable_child, &b);
	box_free(&b);
}
END_TEST

static Suite *
maildir_suite(void)
{
	Suite *s = suite_create("maildir");
	TCase *tc;

	tc = tcase_create("Core");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_maildir_layout);
	tcase_add_test(tc, test_plain_layout);
	tcase_add_test(tc, test_mixed_layout);
	tcase_add_test(tc, test_empty_and_missing);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_uidl_rules);
	tcase_add_test(tc, test_uidl_digest_stable);
	tcase_add_test(tc, test_uidl_duplicates);
	tcase_add_test(tc, test_uidl_long_duplicates);
	tcase_add_test(tc, test_cache_created_and_trusted);
	tcase_add_test(tc, test_cache_stale);
	tcase_add_test(tc, test_cache_escaped_names);
	tcase_add_test(tc, test_cache_corrupt);
	tcase_add_test(tc, test_cache_garbage);
	tcase_add_test(tc, test_cache_not_a_file);
	tcase_add_test(tc, test_cache_forged_sizes);
	tcase_add_test(tc, test_mailbox_open);
	tcase_add_test(tc, test_msg_open);
	tcase_add_test(tc, test_skipped_entries);
	tcase_add_test(tc, test_sample_mailbox);
	tcase_add_test(tc, test_enron_corpus);
	suite_add_tcase(s, tc);

	tc = tcase_create("Limits");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_10000_cached);
	tcase_add_test(tc, test_vanishing);
	suite_add_tcase(s, tc);

	tc = tcase_create("Errors");
	tcase_add_test(tc, test_expunge);
	tcase_add_test(tc, test_expunge_failure);
	tcase_add_test(tc, test_expunge_keeps_replaced);
	tcase_add_test(tc, test_expunge_follows_rename);
	tcase_add_test(tc, test_expunge_follows_many);
	tcase_add_test(tc, test_msg_open_changed);
	tcase_add_test(tc, test_total_saturates);
	tcase_add_test(tc, test_unreadable_message);
	tcase_add_test(tc, test_expunge_eacces);
	tcase_add_test(tc, test_unwritable_mailbox);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(maildir_suite)
