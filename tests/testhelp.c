#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "testhelp.h"

static int
mem_write_all(void *ctx, const void *buf, size_t len)
{
	struct mem_transport *m = ctx;

	if (m->fail_after >= 0 && m->len + len > (size_t)m->fail_after)
		return -EPIPE;
	if (m->len + len + 1 > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		while (m->len + len + 1 > cap)
			cap *= 2;
		m->out = realloc(m->out, cap);
		ck_assert_ptr_nonnull(m->out);
		m->cap = cap;
	}
	memcpy(m->out + m->len, buf, len);
	m->len += len;
	m->out[m->len] = '\0';
	return 0;
}

void
mem_transport_init(struct mem_transport *m)
{
	memset(m, 0, sizeof(*m));
	m->t.write_all = mem_write_all;
	m->t.ctx = m;
	m->fail_after = -1;
	m->out = calloc(1, 1);
	m->cap = 1;
}

void
mem_transport_clear(struct mem_transport *m)
{
	m->len = 0;
	if (m->out)
		m->out[0] = '\0';
}

void
mem_transport_free(struct mem_transport *m)
{
	free(m->out);
	m->out = NULL;
}

char *
th_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (asprintf(&p, "%s/pop3s-test.XXXXXX", base ? base : "/tmp") < 0)
		abort();
	if (!mkdtemp(p)) {
		perror("mkdtemp");
		abort();
	}
	return p;
}

char *th_dir;

void
th_dir_setup(void)
{
	th_dir = th_tmpdir();
}

void
th_dir_teardown(void)
{
	th_rm_rf(th_dir);
	free(th_dir);
	th_dir = NULL;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	chmod(path, 0700);
	return remove(path);
}

void
th_rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
mkparents(const char *path)
{
	char buf[4096];
	char *s;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = buf + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(buf, 0700);
		*s = '/';
	}
}

void
th_write_file(const char *path, const void *data, size_t len)
{
	int fd;

	mkparents(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

char *
th_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

const char *
th_path(const char *dir, const char *name)
{
	static char bufs[8][4096];
	static unsigned i;
	char *b = bufs[i++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

int
th_journal_decode(const char *buf, size_t len, struct th_jfield *f, size_t max)
{
	size_t pos = 0, n = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		const char *eq;
		size_t line, nlen;

		if (nl == NULL || n == max)
			return -1;
		line = (size_t)(nl - (buf + pos));
		eq = memchr(buf + pos, '=', line);
		nlen = eq ? (size_t)(eq - (buf + pos)) : line;
		if (nlen == 0 || nlen >= sizeof(f[n].name))
			return -1;
		memcpy(f[n].name, buf + pos, nlen);
		f[n].name[nlen] = '\0';
		if (eq) {
			f[n].value = eq + 1;
			f[n].len = line - nlen - 1;
			pos += line + 1;
		} else {
			uint64_t vlen = 0;
			int k;

			pos += line + 1;
			if (len - pos < 8)
				return -1;
			for (k = 7; k >= 0; k--)
				vlen = vlen << 8 | (unsigned char)buf[pos + (size_t)k];
			pos += 8;
			if (vlen > len - pos || len - pos - vlen < 1 || buf[pos + vlen] != '\n')
				return -1;
			f[n].value = buf + pos;
			f[n].len = (size_t)vlen;
			pos += (size_t)vlen + 1;
		}
		n++;
	}
	return (int)n;
}

char *
th_journal_get(const struct th_jfield *f, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0) {
			char *v = malloc(f[i].len + 1);

			memcpy(v, f[i].value, f[i].len);
			v[f[i].len] = '\0';
			return v;
		}
	return NULL;
}

int
th_dgram_bind(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	unlink(path);
	ck_assert_msg(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0, "bind %s: %s", path,
	              strerror(errno));
	return fd;
}

long
th_dgram_recv(int fd, char *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t r;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	r = recv(fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
	return r < 0 ? -1 : (long)r;
}
