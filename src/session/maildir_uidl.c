/* The UIDLs of a user's mailbox (see maildir.h): made from each message's
 * name, hashed when the name cannot serve as it is, and made unique. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "maildir.h"
#include "maildir_internal.h"

/* --- UIDLs ------------------------------------------------------------------ */

#define FNV_PRIME 0x100000001b3ULL
#define FNV_BASIS 0xcbf29ce484222325ULL

static uint64_t
fnv1a(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Two independent 64-bit FNV-1a variants: the standard one, and one whose
 * start is the standard hash of a fixed tag. */
static void
digest128(const char *p, size_t len, uint64_t *a, uint64_t *b)
{
	static const char tag[] = "pop3s-uidl";

	*a = fnv1a(FNV_BASIS, p, len);
	*b = fnv1a(fnv1a(FNV_BASIS, tag, sizeof(tag)), p, len);
}

static bool
uidl_chars_ok(const char *p, size_t len)
{
	size_t i;

	if (len < 1 || len > MAILDIR_UIDL_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			return false;
	return true;
}

/* The name part a UIDL stands for: a Maildir name without its ":2,FLAGS"
 * (flags change when a client reads mail; the message stays the same). */
static size_t
uidl_base_len(const struct rec *r)
{
	const char *colon;

	if (r->dir == DIR_PLAIN)
		return strlen(r->name);
	colon = strchr(r->name, ':');
	return colon != NULL ? (size_t)(colon - r->name) : strlen(r->name);
}

static void
uidl_make(struct rec *r)
{
	size_t len = uidl_base_len(r);
	uint64_t a, b;

	if (uidl_chars_ok(r->name, len)) {
		memcpy(r->uidl, r->name, len);
		r->uidl[len] = '\0';
		return;
	}
	digest128(r->name, len, &a, &b);
	snprintf(r->uidl, sizeof(r->uidl), "x%016" PRIx64 "%016" PRIx64, a, b);
}

/* A set of UIDL strings (open addressing, never full: cap >= 2 * n). */
struct uset {
	const char **slot;
	size_t mask;
};

static int
uset_init(struct uset *u, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n + 16) {
		if (cap > SIZE_MAX / 2 / sizeof(*u->slot))
			return -ENOMEM;
		cap *= 2;
	}
	u->slot = calloc(cap, sizeof(*u->slot));
	if (u->slot == NULL)
		return -ENOMEM;
	u->mask = cap - 1;
	return 0;
}

/* Adds s unless present; returns true if it was added. */
static bool
uset_add(struct uset *u, const char *s)
{
	size_t i = (size_t)fnv1a(FNV_BASIS, s, strlen(s)) & u->mask;

	while (u->slot[i] != NULL) {
		if (strcmp(u->slot[i], s) == 0)
			return false;
		i = (i + 1) & u->mask;
	}
	u->slot[i] = s;
	return true;
}

/* Gives r a UIDL derived from its own name that no other message has: the
 * (truncated) UIDL, '-', 16 hex of a hash of the message's directory and
 * base name (so a flag change keeps it), then of the full relpath, then
 * salted; a last exhaustive fallback guarantees termination. */
static void
uidl_unique(struct uset *u, struct rec *r)
{
	/* Room for "-" and 16 hex digits after the kept part. */
	char base[MAILDIR_UIDL_MAX - 17 + 1];
	size_t keep = strlen(r->uidl);
	uint64_t salt, h;

	if (keep > sizeof(base) - 1)
		keep = sizeof(base) - 1;
	memcpy(base, r->uidl, keep);
	base[keep] = '\0';
	for (salt = 0; salt < 64; salt++) {
		if (salt == 0) {
			size_t dlen = r->dir == DIR_PLAIN ? 0 : (size_t)(r->name - r->relpath);

			h = fnv1a(FNV_BASIS, r->relpath, dlen + uidl_base_len(r));
		} else {
			unsigned char sb[8];
			int k;

			/* Byte order fixed: the same UIDL on any machine. */
			for (k = 0; k < 8; k++)
				sb[k] = (unsigned char)(salt >> (8 * k));
			h = fnv1a(FNV_BASIS, r->relpath, strlen(r->relpath));
			if (salt > 1)
				h = fnv1a(h, sb, sizeof(sb));
		}
		snprintf(r->uidl, sizeof(r->uidl), "%s-%016" PRIx64, base, h);
		if (uset_add(u, r->uidl))
			return;
	}
	for (salt = 0;; salt++) {
		snprintf(r->uidl, sizeof(r->uidl), "u%" PRIu64, salt);
		if (uset_add(u, r->uidl))
			return;
	}
}

/* recs are in message order: the first message with a given UIDL keeps
 * it, later ones get a derived one, so a duplicate appearing or going
 * away never changes the UIDL of the older message. */
int
maildir_uidl_assign(struct scan *s)
{
	struct uset u;
	bool *dup;
	size_t i;
	int r;

	for (i = 0; i < s->count; i++)
		uidl_make(&s->recs[i]);
	r = uset_init(&u, s->count);
	if (r < 0)
		return r;
	dup = calloc(s->count + 1, sizeof(*dup));
	if (dup == NULL) {
		free(u.slot);
		return -ENOMEM;
	}
	for (i = 0; i < s->count; i++)
		dup[i] = !uset_add(&u, s->recs[i].uidl);
	for (i = 0; i < s->count; i++)
		if (dup[i])
			uidl_unique(&u, &s->recs[i]);
	free(dup);
	free(u.slot);
	return 0;
}
