/* The pop3s.conf parser: one typed key table shared by every program. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "parse_num.h"

#define CONFIG_LINE_MAX 4096

/* KT_COMMAND: empty (off) or an absolute path followed by arguments,
 * split on spaces and run without a shell. */
/* KT_CHOICE: one of the words in choices ("|a|b|"). */
enum key_type { KT_PATH, KT_TEXT, KT_QUEUE, KT_UINT, KT_COMMAND, KT_CHOICE };

struct key_def {
	const char *name;
	enum key_type type;
	size_t offset;       /* into struct pop3s_config */
	size_t size;         /* of the char array, for text keys */
	unsigned min, max;   /* for numbers */
	const char *def;     /* default as text, parsed like a file value */
	bool empty_ok;       /* an empty value means "off" */
	const char *choices; /* KT_CHOICE: "|word|word|" */
};

#define TEXT(k, n, t, field, d) \
	[k] = { n, t, offsetof(struct pop3s_config, field), sizeof(((struct pop3s_config *)0)->field), 0, 0, d }
#define UINT(k, n, field, lo, hi, d) \
	[k] = { n, KT_UINT, offsetof(struct pop3s_config, field), 0, lo, hi, d }
#define CHOICE(k, n, field, words, d) \
	[k] = { n, KT_CHOICE, offsetof(struct pop3s_config, field), sizeof(((struct pop3s_config *)0)->field), 0, 0, d, false, words }
#define OPTIONAL(k, n, t, field) \
	[k] = { n, t, offsetof(struct pop3s_config, field), sizeof(((struct pop3s_config *)0)->field), 0, 0, "", true }

static const struct key_def keys[CONF_KEY_COUNT] = {
	TEXT(CONF_HOME, "HOME", KT_PATH, home, "/var/lib/pop3s/mail"),
	TEXT(CONF_USERS, "USERS", KT_PATH, users, SYSCONFDIR "/pop3s/users"),
	TEXT(CONF_LOGS, "LOGS", KT_PATH, logs, "/var/log/pop3s/pop3s.log"),
	/* RFC 1939 asks for at least 10 minutes; lower values are allowed
	 * for tests and for administrators who accept the consequence. */
	UINT(CONF_TIMEOUT, "TIMEOUT", timeout, 1, 86400, "600"),
	UINT(CONF_HANDSHAKE_TIMEOUT, "HANDSHAKE_TIMEOUT", handshake_timeout, 1, 600, "60"),
	TEXT(CONF_CERT, "CERT", KT_PATH, cert, SYSCONFDIR "/pop3s/cert.pem"),
	TEXT(CONF_KEY, "KEY", KT_PATH, key, SYSCONFDIR "/pop3s/key.pem"),
	TEXT(CONF_PRIORITY, "PRIORITY", KT_TEXT, priority, CONFIG_DEFAULT_PRIORITY),
	TEXT(CONF_QUEUE, "QUEUE", KT_QUEUE, queue, "/pop3s-log"),
	UINT(CONF_QUEUE_DEPTH, "QUEUE_DEPTH", queue_depth, 1, 65536, "10"),
	UINT(CONF_QUEUE_TIMEOUT_MS, "QUEUE_TIMEOUT_MS", queue_timeout_ms, 0, 5000, "100"),
	UINT(CONF_AUTH_DELAY_MS, "AUTH_DELAY_MS", auth_delay_ms, 0, 10000, "1000"),
	UINT(CONF_MAX_AUTH_FAILURES, "MAX_AUTH_FAILURES", max_auth_failures, 1, 100, "3"),
	TEXT(CONF_STATE, "STATE", KT_PATH, state, "/var/lib/pop3s-logger"),
	OPTIONAL(CONF_FILTER, "FILTER", KT_COMMAND, filter),
	UINT(CONF_FILTER_TIMEOUT_MS, "FILTER_TIMEOUT_MS", filter_timeout_ms, 1, 600000, "10000"),
	/* The output is spooled to a temporary file: the limit bounds the
	 * disk a misbehaving filter can fill, 256 MiB by default. */
	UINT(CONF_FILTER_MAX_BYTES, "FILTER_MAX_BYTES", filter_max_bytes, 1, UINT_MAX, "268435456"),
	/* Flood limits (see pop3s.conf(5)): a client gets 20 unknown or
	 * invalid commands per connection, and a session sends at most
	 * MAX_LOG_RECORDS log records plus a few per message in its mailbox. */
	UINT(CONF_MAX_BAD_COMMANDS, "MAX_BAD_COMMANDS", max_bad_commands, 1, 1000, "20"),
	UINT(CONF_MAX_LOG_RECORDS, "MAX_LOG_RECORDS", max_log_records, 10, 10000000, "100"),
	/* Shared across connections (penalty.h): the first failure of a
	 * source costs its next password check 1 s, each further one doubles
	 * it, up to 30 s, forgotten after 15 minutes without a failure. */
	UINT(CONF_AUTH_PENALTY_MS, "AUTH_PENALTY_MS", auth_penalty_ms, 0, 60000, "1000"),
	UINT(CONF_AUTH_PENALTY_MAX_MS, "AUTH_PENALTY_MAX_MS", auth_penalty_max_ms, 0, 600000, "30000"),
	UINT(CONF_AUTH_PENALTY_WINDOW, "AUTH_PENALTY_WINDOW", auth_penalty_window, 1, 86400, "900"),
	TEXT(CONF_AUTH_PENALTY_FILE, "AUTH_PENALTY_FILE", KT_PATH, auth_penalty_file,
	     "/run/pop3s-logger/auth-penalty"),
	/* A reader slower than this on average over a TIMEOUT window is
	 * cut; 1 KiB/s is below any working link, and makes holding a
	 * connection slot cost the client a steady download. */
	UINT(CONF_MIN_SEND_RATE, "MIN_SEND_RATE", min_send_rate, 1, 1073741824, "1024"),
	/* A session confines itself with Landlock when the kernel has it
	 * (pop3s-session(8), CONFINEMENT); "required" refuses to serve
	 * without it rather than warn. */
	CHOICE(CONF_LANDLOCK, "LANDLOCK", landlock, "|auto|required|", "auto"),
};

const char *
config_key_name(enum config_key k)
{
	return (unsigned)k < CONF_KEY_COUNT ? keys[k].name : "?";
}

static int
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int
lookup(const char *name)
{
	int i;

	for (i = 0; i < CONF_KEY_COUNT; i++)
		if (strcmp(keys[i].name, name) == 0)
			return i;
	return -1;
}

static int
store(struct pop3s_config *c, const struct key_def *d, const char *value, char *err, size_t errlen)
{
	char *field = (char *)c + d->offset;
	size_t len = strlen(value);
	size_t i;

	if (len == 0 && !d->empty_ok)
		return seterr(err, errlen, "%s: empty value", d->name);
	for (i = 0; i < len; i++)
		if (iscntrl((unsigned char)value[i]))
			return seterr(err, errlen, "%s: control character in value", d->name);

	switch (d->type) {
	case KT_UINT: {
		unsigned v;
		int r = parse_uint(value, d->min, d->max, &v);

		if (r == -EINVAL)
			return seterr(err, errlen, "%s: '%s' is not a number", d->name, value);
		if (r < 0)
			return seterr(err, errlen, "%s: %s is out of range %u..%u", d->name, value,
			              d->min, d->max);
		*(unsigned *)(void *)field = v;
		return 0;
	}
	case KT_PATH:
		if (value[0] != '/')
			return seterr(err, errlen, "%s: '%s' is not an absolute path", d->name, value);
		break;
	case KT_QUEUE:
		/* POSIX: one leading slash, no other, at most NAME_MAX. */
		if (value[0] != '/' || strchr(value + 1, '/') || len < 2 || len > 255)
			return seterr(err, errlen, "%s: '%s' is not a queue name like /pop3s-log",
			              d->name, value);
		break;
	case KT_COMMAND:
		if (len > 0 && value[0] != '/')
			return seterr(err, errlen, "%s: '%s' does not start with an absolute path",
			              d->name, value);
		break;
	case KT_CHOICE: {
		char word[64], list[128];
		size_t j;

		snprintf(word, sizeof(word), "|%s|", value);
		if (len < sizeof(word) - 2 && !strchr(value, '|') && strstr(d->choices, word))
			break;
		/* "|auto|required|" -> "auto/required" */
		snprintf(list, sizeof(list), "%s", d->choices + 1);
		list[strlen(list) - 1] = '\0';
		for (j = 0; list[j]; j++)
			if (list[j] == '|')
				list[j] = '/';
		return seterr(err, errlen, "%s: '%s' is not one of %s", d->name, value, list);
	}
	case KT_TEXT:
		break;
	}
	if (len >= d->size)
		return seterr(err, errlen, "%s: value longer than %zu characters", d->name, d->size - 1);
	memcpy(field, value, len + 1);
	return 0;
}

int
config_set(struct pop3s_config *c, const char *key, const char *value, char *err, size_t errlen)
{
	int k = lookup(key);

	if (k < 0)
		return seterr(err, errlen, "unknown key '%s'", key);
	return store(c, &keys[k], value, err, errlen);
}

void
config_defaults(struct pop3s_config *c)
{
	char err[CONFIG_ERR_MAX];
	int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < CONF_KEY_COUNT; i++)
		if (store(c, &keys[i], keys[i].def, err, sizeof(err)) < 0)
			abort(); /* a bad built-in default is a programming error */
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Parses one line (without its newline); lineno for messages. */
static int
parse_line(struct pop3s_config *c, char *line, unsigned lineno, const char *path,
           char *err, size_t errlen)
{
	char problem[CONFIG_ERR_MAX];
	char *s = trim(line), *eq, *key, *value;
	int k;

	if (*s == '\0' || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (eq == NULL)
		return seterr(err, errlen, "%s:%u: expected KEY=VALUE, got '%.40s'", path, lineno, s);
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	k = lookup(key);
	if (k < 0)
		return seterr(err, errlen, "%s:%u: unknown key '%.40s'", path, lineno, key);
	if (c->line[k] != 0)
		return seterr(err, errlen, "%s:%u: duplicate key %s (first set on line %u)", path,
		              lineno, key, c->line[k]);
	if (store(c, &keys[k], value, problem, sizeof(problem)) < 0)
		return seterr(err, errlen, "%s:%u: %s", path, lineno, problem);
	c->line[k] = lineno;
	return 0;
}

/* Reads one line into buf (without '\n'). Returns its length, -1 at EOF,
 * -E2BIG if longer than CONFIG_LINE_MAX, -EILSEQ if it holds a NUL. */
static long
read_line(FILE *f, char *buf)
{
	size_t len = 0;
	bool nul = false;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			nul = true;
		if (len == CONFIG_LINE_MAX) {
			while ((ch = getc(f)) != EOF && ch != '\n')
				;
			return -E2BIG;
		}
		buf[len++] = (char)ch;
	}
	if (ch == EOF && len == 0)
		return -1;
	buf[len] = '\0';
	return nul ? -EILSEQ : (long)len;
}

int
config_load(const char *path, struct pop3s_config *c, char *err, size_t errlen)
{
	char line[CONFIG_LINE_MAX + 1];
	unsigned lineno = 0;
	FILE *f;
	long n;
	int r = 0;

	f = fopen(path, "re");
	if (f == NULL) {
		r = -errno;
		seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return r;
	}
	c->path = path;
	while (r == 0 && (n = read_line(f, line)) != -1) {
		lineno++;
		if (n == -E2BIG)
			r = seterr(err, errlen, "%s:%u: line longer than %d characters", path, lineno,
			           CONFIG_LINE_MAX);
		else if (n == -EILSEQ)
			r = seterr(err, errlen, "%s:%u: NUL byte in line", path, lineno);
		else
			r = parse_line(c, line, lineno, path, err, errlen);
	}
	if (r == 0 && ferror(f)) {
		r = -EIO;
		seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
	}
	fclose(f);
	return r;
}

const char *
config_where(const struct pop3s_config *c, enum config_key k, char *buf, size_t len)
{
	const char *path = c->path ? c->path : "(built-in defaults)";

	if ((unsigned)k < CONF_KEY_COUNT && c->line[k] != 0)
		snprintf(buf, len, "%s:%u: ", path, c->line[k]);
	else
		snprintf(buf, len, "%s: %s (default): ", path, config_key_name(k));
	return buf;
}

void
config_dump(const struct pop3s_config *c, FILE *out)
{
	int i;

	for (i = 0; i < CONF_KEY_COUNT; i++) {
		const char *field = (const char *)c + keys[i].offset;

		if (keys[i].type == KT_UINT)
			fprintf(out, "%s=%u\n", keys[i].name, *(const unsigned *)(const void *)field);
		else
			fprintf(out, "%s=%s\n", keys[i].name, field);
	}
}
