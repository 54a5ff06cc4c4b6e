/* The metrics file: "key=value" lines, one per counter, written atomically.
 * The same key names are used in the file, in the JSON output and (with
 * underscores as spaces) in the human output, so scripts and people see one
 * vocabulary. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "fdio.h"
#include "metrics.h"
#include "parse_num.h"

/* A line is "key=value\n": keys are short, values at most 20 digits. */
#define METRICS_LINE_MAX 128

struct metric_def {
	const char *name;
	size_t offset;
	const char *label;   /* for people */
};

#define M(field, label) { #field, offsetof(struct metrics, field), label }

static const struct metric_def defs[] = {
	M(connections, "Connections"),
	M(sessions_current, "Sessions now"),
	M(sessions_peak, "Sessions peak"),
	M(logins_ok, "Logins succeeded"),
	M(logins_failed, "Logins failed"),
	M(messages_retrieved, "Messages retrieved"),
	M(messages_deleted, "Messages deleted"),
	M(bytes_sent, "Bytes sent"),
	M(records_malformed, "Malformed records"),
	M(updated, "Updated"),
};

#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static uint64_t *
field(struct metrics *m, const struct metric_def *d)
{
	return (uint64_t *)((char *)m + d->offset);
}

static uint64_t
value(const struct metrics *m, const struct metric_def *d)
{
	return *(const uint64_t *)((const char *)m + d->offset);
}

static int
format_file(const struct metrics *m, char *buf, size_t cap, size_t *ret_len)
{
	size_t len = 0, i;

	for (i = 0; i < NDEFS; i++) {
		int n = snprintf(buf + len, cap - len, "%s=%" PRIu64 "\n",
		                 defs[i].name, value(m, &defs[i]));

		if (n < 0 || (size_t)n >= cap - len)
			return -ENOBUFS;
		len += (size_t)n;
	}
	*ret_len = len;
	return 0;
}

int
metrics_save(const char *dir, const struct metrics *m)
{
	char buf[NDEFS * METRICS_LINE_MAX];
	size_t len;
	int r;

	r = format_file(m, buf, sizeof(buf), &len);
	if (r < 0)
		return r;
	/* 0644: the counters are not secret, and pop3sctl may run as another
	 * user than the logger. */
	return fd_replace_file(dir, METRICS_FILE, buf, len, 0644, NULL);
}

static const struct metric_def *
lookup(const char *name)
{
	size_t i;

	for (i = 0; i < NDEFS; i++)
		if (strcmp(defs[i].name, name) == 0)
			return &defs[i];
	return NULL;
}

/* One "key=value\n" line (the newline already removed). Unknown keys are
 * skipped whatever their value, so a newer logger's file stays readable;
 * a known key must hold a number, and only once. */
static int
parse_line(char *line, struct metrics *m, unsigned *seen)
{
	const struct metric_def *d;
	char *eq = strchr(line, '=');
	uint64_t v;

	if (eq == NULL || eq == line)
		return -EBADMSG;
	*eq = '\0';
	d = lookup(line);
	if (d == NULL)
		return 0;
	if (*seen & (1u << (d - defs)))
		return -EBADMSG;
	*seen |= 1u << (d - defs);
	if (parse_u64(eq + 1, 0, UINT64_MAX, &v) < 0)
		return -EBADMSG;
	*field(m, d) = v;
	return 0;
}

void
metrics_add(uint64_t *counter, uint64_t n)
{
	*counter = *counter > UINT64_MAX - n ? UINT64_MAX : *counter + n;
}

/* Values that no logger writes: the file was edited or forged. */
static bool
plausible(const struct metrics *m)
{
	return m->sessions_peak <= METRICS_SESSIONS_MAX &&
	       m->sessions_current <= m->sessions_peak &&
	       m->updated <= METRICS_TIME_MAX;
}

static int
parse_file(FILE *f, struct metrics *m)
{
	char line[METRICS_LINE_MAX];
	unsigned seen = 0;

	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		int r;

		/* A line without its newline is too long or cut short. */
		if (len == 0 || line[len - 1] != '\n')
			return -EBADMSG;
		line[len - 1] = '\0';
		r = parse_line(line, m, &seen);
		if (r < 0)
			return r;
	}
	if (ferror(f))
		return -EIO;
	return plausible(m) ? 0 : -EBADMSG;
}

int
metrics_load(const char *dir, struct metrics *ret)
{
	struct metrics m;
	char path[PATH_MAX];
	FILE *f;
	int n, r;

	memset(&m, 0, sizeof(m));
	n = snprintf(path, sizeof(path), "%s/" METRICS_FILE, dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (f == NULL) {
		if (errno != ENOENT)
			return -errno;
		*ret = m;
		return 0;
	}
	r = parse_file(f, &m);
	fclose(f);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}

static void
print_json(const struct metrics *m, FILE *out)
{
	size_t i;

	fputc('{', out);
	for (i = 0; i < NDEFS; i++)
		fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", defs[i].name,
		        value(m, &defs[i]));
	fputs("}\n", out);
}

static void
print_human(const struct metrics *m, FILE *out)
{
	size_t i;

	for (i = 0; i < NDEFS; i++) {
		const struct metric_def *d = &defs[i];

		if (d->offset == offsetof(struct metrics, updated)) {
			char when[64] = "never";
			time_t t = (time_t)m->updated;
			struct tm tm;

			if (m->updated != 0 && localtime_r(&t, &tm) != NULL)
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
			fprintf(out, "%-20s %s\n", d->label, when);
		} else {
			fprintf(out, "%-20s %" PRIu64 "\n", d->label, value(m, d));
		}
	}
}

void
metrics_print(const struct metrics *m, int json, FILE *out)
{
	if (json)
		print_json(m, out);
	else
		print_human(m, out);
}
