/* The per-source failed login table and its file (see penalty.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fdio.h"
#include "be.h"
#include "penalty.h"

static const char magic[8] = { 'p', 'o', 'p', '3', 's', 'p', 'e', 'n' };

int
penalty_key_from_ip(const char *ip, struct penalty_key *k)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct in6_addr a6;
	struct in_addr a4;

	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		memcpy(k->b, v4mapped, sizeof(v4mapped));
		memcpy(k->b + 12, &a4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a6) != 1)
		return -EINVAL;
	memcpy(k->b, &a6, 16);
	/* An IPv4-mapped address is one IPv4 client: kept whole. */
	if (memcmp(k->b, v4mapped, sizeof(v4mapped)) != 0)
		memset(k->b + 8, 0, 8);
	return 0;
}

void
penalty_table_init(struct penalty_table *t)
{
	memset(t, 0, sizeof(*t));
}

/* Is a failure at time last still recent at time now? A clock that went
 * back leaves last in the future: recent as long as that is by at most
 * window seconds, so a jump cannot pin a source for long. */
static bool
recent(uint64_t last, uint64_t now, unsigned window)
{
	return last > now ? last - now <= window : now - last <= window;
}

const struct penalty_entry *
penalty_table_find(const struct penalty_table *t, const struct penalty_key *k)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (memcmp(t->e[i].key.b, k->b, sizeof(k->b)) == 0)
			return &t->e[i];
	return NULL;
}

void
penalty_table_fail(struct penalty_table *t, const struct penalty_key *k, uint64_t now,
                   unsigned window)
{
	struct penalty_entry *e = (struct penalty_entry *)penalty_table_find(t, k);
	size_t i, oldest = 0;

	if (e == NULL) {
		if (t->n < PENALTY_SOURCES) {
			e = &t->e[t->n++];
		} else {
			for (i = 1; i < t->n; i++)
				if (t->e[i].last < t->e[oldest].last)
					oldest = i;
			e = &t->e[oldest];
		}
		e->key = *k;
		e->failures = 0;
	} else if (!recent(e->last, now, window)) {
		e->failures = 0;
	}
	if (e->failures < UINT32_MAX)
		e->failures++;
	e->last = now;
}

size_t
penalty_table_expire(struct penalty_table *t, uint64_t now, unsigned window)
{
	size_t i = 0, dropped = 0;

	while (i < t->n) {
		if (recent(t->e[i].last, now, window)) {
			i++;
			continue;
		}
		t->e[i] = t->e[--t->n];
		dropped++;
	}
	return dropped;
}

uint32_t
penalty_recent(const struct penalty_entry *e, uint64_t now, unsigned window)
{
	return e != NULL && recent(e->last, now, window) ? e->failures : 0;
}

unsigned
penalty_delay_ms(uint32_t failures, unsigned base_ms, unsigned max_ms)
{
	uint64_t d = base_ms;
	uint32_t i;

	if (failures == 0 || base_ms == 0)
		return 0;
	for (i = 1; i < failures && d < max_ms; i++)
		d *= 2;
	return d < max_ms ? (unsigned)d : max_ms;
}

size_t
penalty_encode(const struct penalty_table *t, uint8_t *buf)
{
	uint8_t *p = buf + PENALTY_HEADER_SIZE;
	size_t i;

	memcpy(buf, magic, sizeof(magic));
	put_be(buf + 8, PENALTY_FILE_VERSION, 4);
	put_be(buf + 12, t->n, 4);
	for (i = 0; i < t->n; i++, p += PENALTY_ENTRY_SIZE) {
		memcpy(p, t->e[i].key.b, 16);
		put_be(p + 16, t->e[i].failures, 4);
		put_be(p + 20, 0, 4);
		put_be(p + 24, t->e[i].last, 8);
	}
	return (size_t)(p - buf);
}

int
penalty_decode(const uint8_t *buf, size_t len, struct penalty_table *t)
{
	const uint8_t *p = buf + PENALTY_HEADER_SIZE;
	uint64_t n;
	size_t i;

	if (len < PENALTY_HEADER_SIZE || memcmp(buf, magic, sizeof(magic)) != 0 ||
	    get_be(buf + 8, 4) != PENALTY_FILE_VERSION)
		return -EBADMSG;
	n = get_be(buf + 12, 4);
	if (n > PENALTY_SOURCES || len != PENALTY_HEADER_SIZE + n * PENALTY_ENTRY_SIZE)
		return -EBADMSG;
	for (i = 0; i < n; i++, p += PENALTY_ENTRY_SIZE) {
		memcpy(t->e[i].key.b, p, 16);
		t->e[i].failures = (uint32_t)get_be(p + 16, 4);
		t->e[i].last = get_be(p + 24, 8);
	}
	t->n = (size_t)n;
	return 0;
}

int
penalty_file_write(const char *path, const struct penalty_table *t)
{
	char dir[PATH_MAX];
	const char *name;
	uint8_t *buf;
	size_t len;
	int r;

	r = path_split(path, dir, sizeof(dir), &name);
	if (r < 0)
		return r;
	buf = malloc(PENALTY_FILE_MAX);
	if (buf == NULL)
		return -ENOMEM;
	len = penalty_encode(t, buf);
	r = fd_replace_file(dir, name, buf, len, 0644, NULL);
	free(buf);
	return r;
}

int
penalty_file_read(const char *path, struct penalty_table *t)
{
	uint8_t *buf;
	struct stat st;
	size_t len = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > PENALTY_FILE_MAX) {
		close(fd);
		return -EBADMSG;
	}
	buf = malloc(PENALTY_FILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	/* Read one octet more than a file may hold, to see a longer one. */
	for (;;) {
		ssize_t n = read(fd, buf + len, PENALTY_FILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0 || (len += (size_t)n) > PENALTY_FILE_MAX)
			break;
	}
	r = penalty_decode(buf, len, t);
out:
	free(buf);
	close(fd);
	return r;
}
