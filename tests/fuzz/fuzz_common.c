/* The fuzzers' fixture: see fuzz_common.h. */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz_common.h"

#define LONG_LINE 3000

static char long_msg[LONG_LINE + 64];
static char *root;
static char home[4096], users[4096], userdir[4096];

static const char m1[] = "From: a@example.org\nSubject: one\n\nline 1\n.hidden dot\n.\nend\n";
static const char m2[] = "From: b@example.org\r\nSubject: two\r\n\r\nbody\r\n";
static const char m3[] = "Subject: three\n\nno final newline";
static const char m5[] = "Subject: plain layout\r\n\r\nbare\rCR\n..two dots\n\n\n.";
static const char m7[] = "Subject: spaces in the name\n\n\0NUL octet\n";

/* Awkward on purpose: dot lines, bare CR, no final newline, an empty
 * message, a 3000-octet line, a name whose UIDL is a digest, a NUL. */
const struct fz_msg fz_msgs[FZ_NMSG] = {
	{ "new/1000.M1.test", m1, sizeof(m1) - 1, 1000 },
	{ "cur/1001.M2.test:2,S", m2, sizeof(m2) - 1, 1001 },
	{ "new/1002.M3.test", m3, sizeof(m3) - 1, 1002 },
	{ "new/1003.M4.test", "", 0, 1003 },
	{ "plain-1", m5, sizeof(m5) - 1, 1004 },
	{ "new/1005.M6.test", long_msg, 0, 1005 },   /* len set by fz_setup */
	{ "cur/name with space:2,S", m7, sizeof(m7) - 1, 1006 },
};
static size_t msg_len[FZ_NMSG];

void
fz_fail(const char *what)
{
	fprintf(stderr, "fuzz: %s\n", what);
	abort();
}

static void
fail_errno(const char *what, const char *path)
{
	fprintf(stderr, "fuzz: %s %s: %s\n", what, path, strerror(errno));
	abort();
}

void
fz_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	const char *p = data;

	if (fd < 0)
		fail_errno("cannot create", path);
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_errno("cannot write", path);
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0)
		fail_errno("cannot close", path);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
cleanup(void)
{
	if (root != NULL)
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
put_msg(size_t i)
{
	char path[8192];
	struct timespec ts[2] = { { fz_msgs[i].mtime, 0 }, { fz_msgs[i].mtime, 0 } };

	snprintf(path, sizeof(path), "%s/%s", userdir, fz_msgs[i].relpath);
	fz_write_file(path, fz_msgs[i].text, msg_len[i]);
	if (utimensat(AT_FDCWD, path, ts, 0) < 0)
		fail_errno("cannot set the mtime of", path);
}

void
fz_setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], line[512];
	struct crypt_data cd;
	const char *sub[] = { "", "/new", "/cur", "/tmp" };
	size_t i;

	if (root != NULL)
		return;
	if (asprintf(&root, "%s/pop3s-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
		fz_fail("out of memory");
	if (mkdtemp(root) == NULL)
		fail_errno("cannot make a directory like", root);
	atexit(cleanup);
	snprintf(home, sizeof(home), "%s/mail", root);
	snprintf(users, sizeof(users), "%s/users", root);
	snprintf(userdir, sizeof(userdir), "%s/%s", home, FZ_USER);
	if (mkdir(home, 0700) < 0)
		fail_errno("cannot make", home);
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		char d[8192];

		snprintf(d, sizeof(d), "%s%s", userdir, sub[i]);
		if (mkdir(d, 0700) < 0)
			fail_errno("cannot make", d);
	}

	memset(&cd, 0, sizeof(cd));
	if (crypt_gensalt_rn("$6$", 1000, NULL, 0, salt, sizeof(salt)) == NULL ||
	    crypt_rn(FZ_PASSWORD, salt, &cd, sizeof(cd)) == NULL)
		fz_fail("crypt(3) cannot make a $6$ hash");
	snprintf(line, sizeof(line), "# fuzz users\n%s:%s\nbob:!locked\n", FZ_USER, cd.output);
	fz_write_file(users, line, strlen(line));

	memcpy(long_msg, "Subject: long\n\n", 15);
	memset(long_msg + 15, 'x', LONG_LINE);
	memcpy(long_msg + 15 + LONG_LINE, "\n.\n", 3);
	for (i = 0; i < FZ_NMSG; i++) {
		msg_len[i] = fz_msgs[i].text == long_msg ? 15 + LONG_LINE + 3 : fz_msgs[i].len;
		put_msg(i);
	}
}

const char *fz_home(void) { return home; }
const char *fz_users_file(void) { return users; }
const char *fz_userdir(void) { return userdir; }
size_t fz_msg_len(size_t i) { return msg_len[i]; }

const char *
fz_cache_path(void)
{
	static char path[8192];

	snprintf(path, sizeof(path), "%s/.pop3s-sizes", userdir);
	return path;
}

void
fz_mailbox_reset(bool drop_cache)
{
	char path[8192];
	size_t i;

	for (i = 0; i < FZ_NMSG; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", userdir, fz_msgs[i].relpath);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (size_t)st.st_size != msg_len[i] || st.st_mtim.tv_sec != fz_msgs[i].mtime ||
		    st.st_mtim.tv_nsec != 0)
			put_msg(i);
	}
	if (drop_cache && unlink(fz_cache_path()) < 0 && errno != ENOENT)
		fail_errno("cannot remove", fz_cache_path());
}

uint64_t
fz_inode(size_t i)
{
	char path[8192];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", userdir, fz_msgs[i].relpath);
	if (lstat(path, &st) < 0)
		fail_errno("cannot stat", path);
	return (uint64_t)st.st_ino;
}
