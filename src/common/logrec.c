/* Log record wire format (see logrec.h): a strict, versioned, length-checked
 * binary encoding. The decoder reads only inside [buf, buf + len) and
 * validates everything before it writes the caller's struct, because any
 * local process allowed to write to the queue can send it anything. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "be.h"
#include "logrec.h"

#define HEADER_SIZE 24  /* version, type, length, time, pid, bytes */
#define FIELD_COUNT 6

/* Field table: one place says the order, the maximum and the character
 * class of every field, for both the encoder and the decoder. */
struct field_spec {
	size_t offset;  /* of the char array in struct logrec */
	size_t max;
	bool token;     /* printable ASCII without space; else text */
};

static const struct field_spec fields[FIELD_COUNT] = {
	{ offsetof(struct logrec, session), LOGREC_SESSION_MAX, true },
	{ offsetof(struct logrec, client_ip), LOGREC_IP_MAX, true },
	{ offsetof(struct logrec, user), LOGREC_USER_MAX, false },
	{ offsetof(struct logrec, command), LOGREC_COMMAND_MAX, true },
	{ offsetof(struct logrec, status), LOGREC_STATUS_MAX, true },
	{ offsetof(struct logrec, detail), LOGREC_DETAIL_MAX, false },
};

/* Every valid record fits in one queue message. */
_Static_assert(HEADER_SIZE + FIELD_COUNT + LOGREC_SESSION_MAX + LOGREC_IP_MAX +
               LOGREC_USER_MAX + LOGREC_COMMAND_MAX + LOGREC_STATUS_MAX +
               LOGREC_DETAIL_MAX <= LOGREC_MAX_SIZE, "records outgrow LOGREC_MAX_SIZE");

static bool
octet_ok(unsigned char c, bool token)
{
	if (token)
		return c >= 0x21 && c <= 0x7e;
	return c >= 0x20 && c != 0x7f;
}

static bool
field_ok(const char *s, size_t len, bool token)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!octet_ok((unsigned char)s[i], token))
			return false;
	return true;
}

int
logrec_encode(const struct logrec *r, uint8_t *buf, size_t cap)
{
	size_t len[FIELD_COUNT];
	size_t total = HEADER_SIZE, i, off;

	if (r->type < 1 || r->type > LOGREC_TYPE_MAX)
		return -EINVAL;
	for (i = 0; i < FIELD_COUNT; i++) {
		const char *s = (const char *)r + fields[i].offset;

		/* The arrays are max + 1 long: no NUL inside them is an error,
		 * not a reason to read further. */
		len[i] = strnlen(s, fields[i].max + 1);
		if (len[i] > fields[i].max || !field_ok(s, len[i], fields[i].token))
			return -EINVAL;
		total += 1 + len[i];
	}
	if (cap < total)
		return -ENOBUFS;

	buf[0] = LOGREC_VERSION;
	buf[1] = (uint8_t)r->type;
	put_be(buf + 2, (uint64_t)total, 2);
	put_be(buf + 4, r->time_us, 8);
	put_be(buf + 12, r->pid, 4);
	/* One u64 slot, two meanings: see logrec.h. */
	put_be(buf + 16, r->type == LOGREC_UPDATE ? r->removed : r->bytes, 8);
	off = HEADER_SIZE;
	for (i = 0; i < FIELD_COUNT; i++) {
		buf[off++] = (uint8_t)len[i];
		memcpy(buf + off, (const char *)r + fields[i].offset, len[i]);
		off += len[i];
	}
	return (int)total;
}

int
logrec_decode(const uint8_t *buf, size_t len, struct logrec *ret)
{
	struct logrec r;
	size_t off, i;

	if (len < HEADER_SIZE + FIELD_COUNT || len > LOGREC_MAX_SIZE)
		return -EBADMSG;
	if (buf[0] != LOGREC_VERSION || buf[1] < 1 || buf[1] > LOGREC_TYPE_MAX)
		return -EBADMSG;
	if (get_be(buf + 2, 2) != len)
		return -EBADMSG;

	memset(&r, 0, sizeof(r));
	r.type = (enum logrec_type)buf[1];
	r.time_us = get_be(buf + 4, 8);
	r.pid = (uint32_t)get_be(buf + 12, 4);
	if (r.type == LOGREC_UPDATE)
		r.removed = get_be(buf + 16, 8);
	else
		r.bytes = get_be(buf + 16, 8);
	off = HEADER_SIZE;
	for (i = 0; i < FIELD_COUNT; i++) {
		char *dst = (char *)&r + fields[i].offset;
		size_t n;

		if (off >= len)
			return -EBADMSG;
		n = buf[off++];
		if (n > fields[i].max || n > len - off)
			return -EBADMSG;
		if (!field_ok((const char *)buf + off, n, fields[i].token))
			return -EBADMSG;
		memcpy(dst, buf + off, n);
		dst[n] = '\0';
		off += n;
	}
	if (off != len)
		return -EBADMSG;
	*ret = r;
	return 0;
}

const char *
logrec_type_name(enum logrec_type t)
{
	static const char *const names[] = {
		[LOGREC_CONNECT] = "CONNECT",
		[LOGREC_COMMAND] = "COMMAND",
		[LOGREC_LOGIN_OK] = "LOGIN_OK",
		[LOGREC_LOGIN_FAIL] = "LOGIN_FAIL",
		[LOGREC_DISCONNECT] = "DISCONNECT",
		[LOGREC_UPDATE] = "UPDATE",
		[LOGREC_AUTH_FAIL] = "AUTH_FAIL",
	};

	if ((int)t < 1 || t > LOGREC_TYPE_MAX)
		return "UNKNOWN";
	return names[t];
}

static bool
word_end(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void
logrec_command_word(const char *line, size_t len, char out[LOGREC_COMMAND_MAX + 1])
{
	size_t i, n = 0;

	for (i = 0; line && i < len && n < LOGREC_COMMAND_MAX; i++) {
		unsigned char c = (unsigned char)line[i];

		if (word_end(c))
			break;
		if (c >= 'a' && c <= 'z')
			c = (unsigned char)(c - 'a' + 'A');
		else if (c < 0x21 || c > 0x7e)
			c = '?';
		out[n++] = (char)c;
	}
	if (n == 0)
		out[n++] = '-';
	out[n] = '\0';
}

const char *
logrec_ip_unmap(const char *ip)
{
	static const char prefix[] = "::ffff:";
	struct in_addr a;

	if (strncasecmp(ip, prefix, sizeof(prefix) - 1) != 0)
		return ip;
	if (inet_pton(AF_INET, ip + sizeof(prefix) - 1, &a) != 1)
		return ip;
	return ip + sizeof(prefix) - 1;
}

/* --- journal fields --------------------------------------------------- */

struct jbuild {
	char (*text)[LOGREC_JOURNAL_FIELD_MAX];
	struct iovec *iov;
	size_t n, max;
};

/* A value cut at the end of its slot may end inside a UTF-8 sequence (user
 * names and details may be UTF-8); drop the partial character. */
static size_t
utf8_trim(const char *s, size_t len)
{
	size_t i = len, k;
	unsigned char lead;
	size_t need;

	/* Find the start of the last character (at most 3 continuations). */
	for (k = 0; k < 4 && i > 0; k++) {
		i--;
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			break;
	}
	lead = (unsigned char)s[i];
	if (lead < 0x80)
		return len;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	return len - i >= need ? len : i;
}

static void __attribute__((format(printf, 2, 3)))
jadd(struct jbuild *b, const char *fmt, ...)
{
	char *t;
	va_list ap;
	int r;
	size_t len;

	if (b->n >= b->max)
		return;
	t = b->text[b->n];
	va_start(ap, fmt);
	r = vsnprintf(t, LOGREC_JOURNAL_FIELD_MAX, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	len = (size_t)r;
	if (len >= LOGREC_JOURNAL_FIELD_MAX) {
		len = utf8_trim(t, LOGREC_JOURNAL_FIELD_MAX - 1);
		t[len] = '\0';
	}
	b->iov[b->n].iov_base = t;
	b->iov[b->n].iov_len = len;
	b->n++;
}

/* Adds KEY=value unless value is empty. */
static void
jadd_str(struct jbuild *b, const char *key, const char *value)
{
	if (value && *value)
		jadd(b, "%s=%s", key, value);
}

/* The readable line: "[user@]ip WHAT[ STATUS][: detail]" where WHAT is the
 * command word for commands and the record type otherwise. */
static void
jadd_message(struct jbuild *b, const struct logrec *r, const char *ip)
{
	const char *what = r->type == LOGREC_COMMAND ? r->command : logrec_type_name(r->type);
	char bytes[48] = "";

	if (r->type == LOGREC_DISCONNECT)
		snprintf(bytes, sizeof(bytes), " (%llu bytes sent)",
		         (unsigned long long)r->bytes);
	else if (r->type == LOGREC_UPDATE)
		snprintf(bytes, sizeof(bytes), " (%llu message%s removed)",
		         (unsigned long long)r->removed, r->removed == 1 ? "" : "s");
	jadd(b, "MESSAGE=%s%s%s %s%s%s%s%s%s", r->user, *r->user ? "@" : "",
	     *ip ? ip : "-", *what ? what : "-", *r->status ? " " : "", r->status,
	     *r->detail ? ": " : "", r->detail, bytes);
}

size_t
logrec_journal_fields(const struct logrec *r, const char *identifier,
                      const char *extra,
                      char (*text)[LOGREC_JOURNAL_FIELD_MAX],
                      struct iovec *iov, size_t max)
{
	struct jbuild b = { text, iov, 0, max };
	const char *ip = logrec_ip_unmap(r->client_ip);

	jadd_message(&b, r, ip);
	jadd(&b, "PRIORITY=6");
	jadd_str(&b, "SYSLOG_IDENTIFIER", identifier);
	jadd_str(&b, "POP3_TYPE", logrec_type_name(r->type));
	jadd_str(&b, "POP3_CLIENT_IP", ip);
	jadd_str(&b, "POP3_USER", r->user);
	jadd_str(&b, "POP3_COMMAND", r->command);
	jadd_str(&b, "POP3_STATUS", r->status);
	jadd_str(&b, "POP3_SESSION", r->session);
	jadd(&b, "POP3_PID=%lu", (unsigned long)r->pid);
	if (r->type == LOGREC_UPDATE)
		jadd(&b, "POP3_REMOVED=%llu", (unsigned long long)r->removed);
	else
		jadd(&b, "POP3_BYTES=%llu", (unsigned long long)r->bytes);
	jadd_str(&b, "POP3_DETAIL", r->detail);
	jadd(&b, "POP3_TIME_US=%llu", (unsigned long long)r->time_us);
	if (extra && *extra)
		jadd(&b, "%s", extra);
	return b.n;
}
