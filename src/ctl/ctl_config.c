/* pop3sctl config: get, set and list pop3s.conf keys.
 *
 * set validates the value with config_set (the programs' own check),
 * edits the file text (the key's line is replaced in place, or appended;
 * comments and other lines are kept byte for byte), writes the result to
 * a temporary file next to the old one with its owner and mode, loads that
 * file with config_load as a session would, and only then renames it into
 * place. On any error the old file is left as it was. A flock on the
 * file's directory keeps two concurrent sets from losing one change. */
#include <errno.h>
#include <error.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fdio.h"
#include "config.h"
#include "ctl_config.h"

/* pop3s.conf has a dozen lines of at most 4096 octets. */
#define CONF_FILE_MAX (1024 * 1024)

int
ctl_config_load(const char *path, struct pop3s_config *cfg)
{
	char err[CONFIG_ERR_MAX];
	int r;

	config_defaults(cfg);
	r = config_load(path, cfg, err, sizeof(err));
	if (r < 0)
		error(0, 0, "%s", err);
	return r;
}

/* config_dump is the one public way to see every key by name, so the
 * value is looked up in its output. */
int
ctl_config_value(const struct pop3s_config *cfg, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key), dlen = 0;
	char *dump = NULL, *line, *save = NULL;
	int r = -ENOENT;
	FILE *f;

	f = open_memstream(&dump, &dlen);
	if (f == NULL)
		return -errno;
	config_dump(cfg, f);
	if (fclose(f) != 0) {
		free(dump);
		return -ENOMEM;
	}
	for (line = strtok_r(dump, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, klen) != 0 || line[klen] != '=')
			continue;
		r = snprintf(buf, len, "%s", line + klen + 1) < (int)len ? 0 : -ENOBUFS;
		break;
	}
	free(dump);
	return r;
}

/* --- get and list ---------------------------------------------------------- */

static int
config_get(const char *path, const char *key)
{
	struct pop3s_config cfg;
	char value[PATH_MAX + 1024];
	int r;

	if (ctl_config_load(path, &cfg) < 0)
		return CTL_ERR;
	r = ctl_config_value(&cfg, key, value, sizeof(value));
	if (r == -ENOENT) {
		error(0, 0, "%s: unknown key '%s'", path, key);
		return CTL_ERR;
	}
	if (r < 0) {
		error(0, -r, "%s: %s", path, key);
		return CTL_ERR;
	}
	printf("%s\n", value);
	return CTL_OK;
}

static int
config_list(const char *path)
{
	struct pop3s_config cfg;

	if (ctl_config_load(path, &cfg) < 0)
		return CTL_ERR;
	config_dump(&cfg, stdout);
	return CTL_OK;
}

/* --- set: the new text ----------------------------------------------------- */

struct text {
	char *data;
	size_t len, cap;
};

static int
text_add(struct text *t, const char *s, size_t len)
{
	if (len > CONF_FILE_MAX || t->len + len > CONF_FILE_MAX)
		return -EFBIG;
	if (t->len + len > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *p;

		while (cap < t->len + len)
			cap *= 2;
		p = realloc(t->data, cap);
		if (p == NULL)
			return -ENOMEM;
		t->data = p;
		t->cap = cap;
	}
	memcpy(t->data + t->len, s, len);
	t->len += len;
	return 0;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* True if the line (without LF) sets key, read the way config.c reads it:
 * blanks around the key, '#' starts a comment. */
static bool
line_sets(const char *line, size_t len, const char *key)
{
	const char *eq = memchr(line, '=', len), *k = line, *e;

	if (eq == NULL)
		return false;
	while (k < eq && is_blank(*k))
		k++;
	e = eq;
	while (e > k && is_blank(e[-1]))
		e--;
	return k < e && *k != '#' && (size_t)(e - k) == strlen(key) &&
	       memcmp(k, key, strlen(key)) == 0;
}

static int
add_setting(struct text *out, const char *key, const char *value)
{
	int r;

	if ((r = text_add(out, key, strlen(key))) < 0 || (r = text_add(out, "=", 1)) < 0 ||
	    (r = text_add(out, value, strlen(value))) < 0)
		return r;
	return text_add(out, "\n", 1);
}

/* out = old with the line setting key replaced by KEY=VALUE, or with that
 * line appended. Other lines are copied as they are; a last line without
 * a newline gets one. */
static int
rewrite(const struct text *old, const char *key, const char *value, struct text *out)
{
	bool done = false;
	size_t pos = 0;
	int r = 0;

	while (r == 0 && pos < old->len) {
		const char *line = old->data + pos;
		const char *nl = memchr(line, '\n', old->len - pos);
		size_t len = nl ? (size_t)(nl - line) : old->len - pos;

		if (!done && line_sets(line, len, key)) {
			r = add_setting(out, key, value);
			done = true;
		} else if ((r = text_add(out, line, len)) == 0) {
			r = text_add(out, "\n", 1);
		}
		pos += len + (nl ? 1 : 0);
	}
	if (r == 0 && !done)
		r = add_setting(out, key, value);
	return r;
}

/* --- set: files ------------------------------------------------------------- */

static int
read_text(const char *path, struct text *t, struct stat *sb)
{
	char chunk[4096];
	ssize_t n;
	int fd, r = 0;

	/* A symbolic link would be replaced by the rename, not followed. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, sb) < 0)
		r = -errno;
	else if (!S_ISREG(sb->st_mode))
		r = -EINVAL;
	while (r == 0 && (n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		r = n < 0 ? -errno : text_add(t, chunk, (size_t)n);
	}
	close(fd);
	return r;
}


/* Loads the new file as the programs will; the message names the real
 * file, not the temporary one. */
static int
check_file(const char *tmp, const char *path)
{
	struct pop3s_config cfg;
	char err[CONFIG_ERR_MAX];
	size_t tl = strlen(tmp);
	int r;

	config_defaults(&cfg);
	r = config_load(tmp, &cfg, err, sizeof(err));
	if (r < 0) {
		const char *rest = strncmp(err, tmp, tl) == 0 ? err + tl : err;

		error(0, 0, "%s%s; the file is unchanged", path, rest);
	}
	return r;
}

static int
lock_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		int r = -errno;

		if (r != -EINTR) {
			close(fd);
			return r;
		}
	}
	return fd;
}

/* The value alone, as config_set sees it. Blanks at either end would be
 * trimmed when the file is read back, so they are refused here. */
static int
check_value(const char *path, const char *key, const char *value)
{
	struct pop3s_config cfg;
	char err[CONFIG_ERR_MAX];
	size_t len = strlen(value);

	config_defaults(&cfg);
	if (config_set(&cfg, key, value, err, sizeof(err)) < 0) {
		error(0, 0, "%s: %s; the file is unchanged", path, err);
		return -EINVAL;
	}
	if (len > 0 && (is_blank(value[0]) || is_blank(value[len - 1]))) {
		error(0, 0, "%s: %s: value '%s' begins or ends with a blank; "
		      "the file is unchanged", path, key, value);
		return -EINVAL;
	}
	return 0;
}

/* Everything after the value check, with the directory locked. */
static int
replace_setting(const char *path, const char *dir, const char *base, const char *key,
                const char *value)
{
	struct text old = { 0 }, new = { 0 };
	char tmp[PATH_MAX];
	struct stat sb;
	int r;

	r = read_text(path, &old, &sb);
	if (r < 0) {
		error(0, r == -EINVAL ? 0 : -r, "%s: cannot read%s", path,
		      r == -EINVAL ? ": not a regular file" : "");
		goto out;
	}
	r = rewrite(&old, key, value, &new);
	if (r < 0) {
		error(0, -r, "%s", path);
		goto out;
	}
	r = fd_temp_file(dir, base, new.data, new.len, 0, &sb, tmp, sizeof(tmp));
	if (r < 0) {
		error(0, -r, "%s: cannot write a new file in %s", path, dir);
		goto out;
	}
	r = check_file(tmp, path);
	if (r < 0) {
		unlink(tmp);
		goto out;
	}
	r = fd_commit_file(tmp, dir, base);
	if (r < 0)
		error(0, -r, "%s: cannot replace it (or sync %s)", path, dir);
out:
	free(old.data);
	free(new.data);
	return r;
}

static int
config_set_key(const char *path, const char *key, const char *value)
{
	char dir[PATH_MAX];
	const char *base;
	int lockfd, r;

	if (check_value(path, key, value) < 0)
		return CTL_ERR;
	r = path_split(path, dir, sizeof(dir), &base);
	if (r < 0) {
		error(0, -r, "%s", path);
		return CTL_ERR;
	}
	lockfd = lock_dir(dir);
	if (lockfd < 0) {
		error(0, -lockfd, "%s: cannot lock the directory", dir);
		return CTL_ERR;
	}
	r = replace_setting(path, dir, base, key, value);
	close(lockfd);
	return r < 0 ? CTL_ERR : CTL_OK;
}

/* --- the command ------------------------------------------------------------- */

int
ctl_config(const char *path, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "";

	if (strcmp(verb, "get") == 0 && argc == 3)
		return config_get(path, argv[2]);
	if (strcmp(verb, "set") == 0 && argc == 4)
		return config_set_key(path, argv[2], argv[3]);
	if (strcmp(verb, "list") == 0 && argc == 2)
		return config_list(path);
	error(0, 0, "usage: config get KEY | config set KEY VALUE | config list");
	return CTL_USAGE;
}
