/* Password verification against the users file with libxcrypt. */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "auth.h"
#include "hash_method.h"
#include "penalty.h"

/* Longest users file line, including the terminating NUL: a yescrypt hash
 * is about 75 octets and a user name at most 64, so real lines are far
 * shorter; anything longer is skipped as invalid. */
#define AUTH_LINE_MAX 1024

/* Verified when the user is unknown and the file holds no usable hash, so
 * that a miss still costs one yescrypt computation at the default cost.
 * Its password was random and has been thrown away. */
static const char builtin_hash[] =
    "$y$j9T$/XpJWSCvpNAwl/OQ/ZjFG/$8.kDyA/Iu.P8Tp.mgmrpBnlkPih/LwznHGlnX.uLq2C";

enum line_status {
	LINE_EOF,
	LINE_OK,
	LINE_SKIP,      /* over-long or holding a NUL: consumed, ignored */
};

/* Reads one line (without its LF) into buf, never more than cap - 1
 * octets; the rest of a longer line is read and dropped. */
static enum line_status
read_line(FILE *fp, char *buf, size_t cap, size_t *ret_len)
{
	size_t n = 0;
	bool bad = false;
	int c;

	while ((c = getc_unlocked(fp)) != EOF && c != '\n') {
		if (c == '\0')
			bad = true;
		if (n + 1 < cap)
			buf[n++] = (char)c;
		else
			bad = true;
	}
	buf[n] = '\0';
	*ret_len = n;
	if (c == EOF && n == 0 && !bad)
		return LINE_EOF;
	return bad ? LINE_SKIP : LINE_OK;
}

/*
 * Only modular crypt format hashes ("$id$...") that libxcrypt recognises
 * and that are not of a weak legacy method (hash_method.c) are verified.
 * Anything else -- plaintext, "*", "!" or "!$6$..." (locked), empty --
 * never matches. Traditional DES hashes are refused as well: they
 * truncate passwords to 8 octets, and a 13-character plaintext entry would
 * otherwise be taken for one.
 */
static bool
is_crypt_hash(const char *h)
{
	int r;

	if (h[0] != '$' || hash_method_classify(h).kind != HASH_OK)
		return false;
	r = crypt_checksalt(h);
	return r != CRYPT_SALT_INVALID && r != CRYPT_SALT_METHOD_DISABLED;
}

/* Splits "user:hash" in place. Returns false for blank lines, comments and
 * lines without ':'. Leading blanks and trailing blanks/CR are ignored so
 * that a file edited on another system still works. */
static bool
parse_line(char *line, size_t len, const char **user, size_t *ulen, const char **hash)
{
	char *colon;

	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' ||
	                   line[len - 1] == '\r'))
		line[--len] = '\0';
	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '\0' || *line == '#')
		return false;
	colon = strchr(line, ':');
	if (colon == NULL)
		return false;
	*colon = '\0';
	*user = line;
	*ulen = (size_t)(colon - line);
	*hash = colon + 1;
	return true;
}

/* Compares two NUL-terminated strings in time that depends only on their
 * lengths (which are public: they follow from the hash method). */
static bool
ct_streq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb, i;
	volatile unsigned char d = (la != lb);

	for (i = 0; i < n; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return d == 0;
}

static unsigned long hash_count;
static char last_setting[AUTH_LINE_MAX];

/* Counts a crypt(3) computation and keeps its setting (the hash up to its
 * last '$': method, cost and salt), which tests compare. */
static void
note_hash(const char *hash)
{
	const char *end = strrchr(hash, '$');
	size_t n = end ? (size_t)(end - hash) + 1 : 0;

	if (n >= sizeof(last_setting))
		n = sizeof(last_setting) - 1;
	memcpy(last_setting, hash, n);
	last_setting[n] = '\0';
	hash_count++;
}

unsigned long
auth_hash_count(void)
{
	return hash_count;
}

const char *
auth_last_setting(void)
{
	return last_setting;
}

/* Returns 1 if password hashes to hash, 0 if not, -1 if crypt_rn refused
 * the hash (NULL, or a failure token "*0"/"*1" from older libraries). */
static int
verify(const char *password, const char *hash, struct crypt_data *data)
{
	const char *out;

	out = crypt_rn(password, hash, data, (int)sizeof(*data));
	note_hash(hash);
	if (out == NULL || out[0] == '*')
		return -1;
	return ct_streq(out, hash) ? 1 : 0;
}

/* Spends the time a real verification would: against decoy (the usable
 * hash of the highest estimated cost in the file, hash_method.c), or the
 * built-in hash if decoy is empty or unusable. The result is ignored. */
static void
burn(const char *password, const char *decoy, struct crypt_data *data)
{
	const char *out = NULL;

	if (decoy[0] != '\0') {
		out = crypt_rn(password, decoy, data, (int)sizeof(*data));
		note_hash(decoy);
	}
	if (out == NULL || out[0] == '*') {
		(void)crypt_rn(password, builtin_hash, data, (int)sizeof(*data));
		note_hash(builtin_hash);
	}
}

static struct {
	bool set;
	char file[PATH_MAX];
	char ip[64];
	unsigned base_ms, max_ms, window;
	bool reported;          /* a malformed file was reported */
} penalty;

void
auth_set_penalty(const struct auth_penalty *p)
{
	memset(&penalty, 0, sizeof(penalty));
	if (p == NULL || p->file == NULL || p->file[0] == '\0' || p->client_ip == NULL)
		return;
	penalty.set = true;
	snprintf(penalty.file, sizeof(penalty.file), "%s", p->file);
	snprintf(penalty.ip, sizeof(penalty.ip), "%s", p->client_ip);
	penalty.base_ms = p->base_ms;
	penalty.max_ms = p->max_ms;
	penalty.window = p->window;
}

unsigned
auth_penalty_ms(void)
{
	struct penalty_table *t;
	struct penalty_key k;
	uint32_t n = 0;
	int r;

	if (!penalty.set || penalty.base_ms == 0 || penalty.max_ms == 0 ||
	    penalty_key_from_ip(penalty.ip, &k) < 0)
		return 0;
	/* 160 KiB: not for a session's stack */
	t = malloc(sizeof(*t));
	if (t == NULL)
		return 0;
	r = penalty_file_read(penalty.file, t);
	if (r == 0)
		n = penalty_recent(penalty_table_find(t, &k), (uint64_t)time(NULL), penalty.window);
	else if (r != -ENOENT && !penalty.reported) {
		fprintf(stderr, "pop3s-session: %s: cannot read the failed login table, "
		        "no penalty applied: %s\n", penalty.file, strerror(-r));
		penalty.reported = true;
	}
	free(t);
	return penalty_delay_ms(n, penalty.base_ms, penalty.max_ms);
}

/* Sleeps ms; returns false if a signal (SIGTERM) cut it short. */
static bool
penalty_sleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	return ms == 0 || nanosleep(&ts, NULL) == 0;
}

static void
set_err(char *err, size_t errlen, const char *file, const char *what, int errnum)
{
	if (errlen == 0)
		return;
	if (errnum != 0)
		snprintf(err, errlen, "%s: %s: %s", file, what, strerror(errnum));
	else
		snprintf(err, errlen, "%s: %s", file, what);
}

/* The message for a user whose line holds a weak legacy hash: the file,
 * the line, the problem and the cure, on one line. */
static void
weak_err(char *err, size_t errlen, const char *file, unsigned long lineno,
         const char *user, const char *method)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s:%lu: user '%s': %s is a weak legacy hash method, "
		         "refused; set a new password with 'pop3sctl user passwd %s'",
		         file, lineno, user, method, user);
}

enum auth_result
auth_check(const char *users_file, const char *user, const char *password,
           char *err, size_t errlen)
{
	char line[AUTH_LINE_MAX];
	char user_hash[AUTH_LINE_MAX] = "";
	char decoy[AUTH_LINE_MAX] = "";
	bool found = false, ok = false;
	size_t want = user != NULL ? strlen(user) : 0;
	unsigned long lineno = 0, user_lineno = 0;
	uint64_t decoy_cost = 0;
	struct crypt_data *data;
	struct hash_method um = { HASH_NONE, "", 0 };
	enum line_status st;
	struct stat sb;
	size_t len;
	FILE *fp;
	int fd;

	if (errlen > 0)
		err[0] = '\0';
	if (password == NULL)
		password = "";
	/* Before anything is read or checked: a penalised source waits
	 * whether the password is right or wrong. */
	if (!penalty_sleep(auth_penalty_ms())) {
		set_err(err, errlen, users_file, "interrupted during the failed login penalty", 0);
		return AUTH_TEMPFAIL;
	}

	/* O_NONBLOCK so that a FIFO put in place of the file cannot hang the
	 * session in open(); it has no effect on reading a regular file. */
	fd = open(users_file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		set_err(err, errlen, users_file, "cannot open", errno);
		return AUTH_TEMPFAIL;
	}
	if (fstat(fd, &sb) < 0) {
		set_err(err, errlen, users_file, "cannot stat", errno);
		close(fd);
		return AUTH_TEMPFAIL;
	}
	if (!S_ISREG(sb.st_mode)) {
		set_err(err, errlen, users_file, "not a regular file", 0);
		close(fd);
		return AUTH_TEMPFAIL;
	}
	fp = fdopen(fd, "r");
	if (fp == NULL) {
		set_err(err, errlen, users_file, "cannot open", errno);
		close(fd);
		return AUTH_TEMPFAIL;
	}

	/* The whole file is read whether or not the user is found early, so
	 * the scan costs the same for every name. The decoy is the usable
	 * hash of the highest estimated cost: with mixed methods, an unknown
	 * user must not answer faster (or slower) than the dearest known one. */
	while ((st = read_line(fp, line, sizeof(line), &len)) != LINE_EOF) {
		const char *u, *h;
		size_t ulen;

		lineno++;
		if (st == LINE_SKIP || !parse_line(line, len, &u, &ulen, &h))
			continue;
		if (!found && user != NULL && want > 0 && ulen == want &&
		    memcmp(u, user, want) == 0) {
			found = true;
			user_lineno = lineno;
			/* fits: both come from a line of at most AUTH_LINE_MAX - 1 */
			strcpy(user_hash, h);
		}
		if (is_crypt_hash(h)) {
			uint64_t cost = hash_method_classify(h).cost_ns;

			if (decoy[0] == '\0' || cost > decoy_cost) {
				strcpy(decoy, h);
				decoy_cost = cost;
			}
		}
	}
	explicit_bzero(line, sizeof(line));
	if (ferror(fp)) {
		set_err(err, errlen, users_file, "read error", errno != 0 ? errno : EIO);
		fclose(fp);
		explicit_bzero(user_hash, sizeof(user_hash));
		explicit_bzero(decoy, sizeof(decoy));
		return AUTH_TEMPFAIL;
	}
	fclose(fp);

	/* struct crypt_data is 32 KiB: too large for a session's stack. */
	data = calloc(1, sizeof(*data));
	if (data == NULL) {
		set_err(err, errlen, users_file, "cannot check password", ENOMEM);
		explicit_bzero(user_hash, sizeof(user_hash));
		explicit_bzero(decoy, sizeof(decoy));
		return AUTH_TEMPFAIL;
	}
	if (found)
		um = hash_method_classify(user_hash);
	if (found && is_crypt_hash(user_hash)) {
		int r = verify(password, user_hash, data);

		/* A hash that looked valid but that crypt_rn refused took no
		 * time, and one of a cheaper method than the decoy took less
		 * than an unknown user does: spend the decoy's time as well. */
		if (r < 0 || um.cost_ns < decoy_cost)
			burn(password, decoy, data);
		ok = (r == 1);
	} else {
		/* Unknown user, or a locked/invalid/weak entry: same cost. */
		burn(password, decoy, data);
		if (found && um.kind == HASH_WEAK)
			weak_err(err, errlen, users_file, user_lineno, user, um.name);
	}
	explicit_bzero(data, sizeof(*data));
	free(data);
	explicit_bzero(user_hash, sizeof(user_hash));
	explicit_bzero(decoy, sizeof(decoy));
	return ok ? AUTH_OK : AUTH_FAIL;
}
