/* Recent failed logins per client source, shared by all sessions.
 *
 * pop3s-logger counts the AUTH_FAIL records that sessions send (logrec.h)
 * in a fixed table of PENALTY_SOURCES sources and publishes it as a small
 * file (AUTH_PENALTY_FILE); before it checks a password, a session looks
 * its client's source up in that file and waits penalty_delay_ms() first.
 * A source is an IPv4 address or an IPv6 /64 (one customer's network:
 * one address each would make IPv6 guessing unlimited). A source's count
 * is forgotten after window seconds without a failure; when the table is
 * full, the source whose last failure is oldest makes room.
 *
 * File format, version 1 (integers big-endian), replaced atomically by
 * rename(2), so readers see a whole file:
 *   8 octets "pop3spen"  u32 version (=1)  u32 count (<= PENALTY_SOURCES)
 *   count entries of 32 octets: 16 octets source (an IPv6 address with the
 *   low 64 bits zero, or an IPv4-mapped IPv6 address), u32 failures,
 *   u32 zero, u64 time of the last failure (seconds since the epoch).
 * The size must be exactly 16 + 32 * count. */
#ifndef POP3S_PENALTY_H
#define POP3S_PENALTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PENALTY_SOURCES 4096
#define PENALTY_FILE_VERSION 1
#define PENALTY_HEADER_SIZE 16
#define PENALTY_ENTRY_SIZE 32
#define PENALTY_FILE_MAX (PENALTY_HEADER_SIZE + PENALTY_ENTRY_SIZE * PENALTY_SOURCES)

struct penalty_key {
	uint8_t b[16];
};

struct penalty_entry {
	struct penalty_key key;
	uint32_t failures;
	uint64_t last;          /* seconds since the epoch */
};

struct penalty_table {
	size_t n;
	struct penalty_entry e[PENALTY_SOURCES];
};

/* The source of a client address as text ("192.0.2.1", "::ffff:192.0.2.1",
 * "2001:db8::1"): IPv4 addresses whole, IPv6 addresses cut to their /64.
 * Returns 0, or -EINVAL for anything else ("unknown", "local"). */
int penalty_key_from_ip(const char *ip, struct penalty_key *k);

void penalty_table_init(struct penalty_table *t);

/* Counts one failure of k at time now: a source whose last failure is more
 * than window seconds old starts again from 1; a new source takes a free
 * slot, else the slot of the source with the oldest last failure. */
void penalty_table_fail(struct penalty_table *t, const struct penalty_key *k, uint64_t now,
                        unsigned window);

/* Drops the sources whose last failure is more than window seconds before
 * now. Returns how many were dropped. */
size_t penalty_table_expire(struct penalty_table *t, uint64_t now, unsigned window);

/* The entry of k, or NULL. */
const struct penalty_entry *penalty_table_find(const struct penalty_table *t,
                                               const struct penalty_key *k);

/* Recent failures of e at time now: e->failures if the last one is at
 * most window seconds old (or, after the clock went back, in the future by
 * at most window), else 0. e may be NULL. */
uint32_t penalty_recent(const struct penalty_entry *e, uint64_t now, unsigned window);

/* The wait for a source with that many recent failures: 0 for none, then
 * base_ms doubled for each further failure, at most max_ms. */
unsigned penalty_delay_ms(uint32_t failures, unsigned base_ms, unsigned max_ms);

/* Encodes t into buf (at least PENALTY_FILE_MAX octets). Returns the
 * length. */
size_t penalty_encode(const struct penalty_table *t, uint8_t *buf);

/* Decodes len octets into t (written whole on success only). Returns 0 or
 * -EBADMSG. */
int penalty_decode(const uint8_t *buf, size_t len, struct penalty_table *t);

/* Replaces path atomically with t, mode 0644 (sessions run as another
 * user). Returns 0 or -errno. */
int penalty_file_write(const char *path, const struct penalty_table *t);

/* Reads path into t. Returns 0, -ENOENT if there is no file, -EBADMSG if
 * it is not a valid penalty file, or another -errno. Never blocks on a
 * FIFO and reads at most PENALTY_FILE_MAX + 1 octets. */
int penalty_file_read(const char *path, struct penalty_table *t);

#endif
