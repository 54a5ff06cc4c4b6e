/* pop3sctl log: a user's records from the journal, oldest first.
 *
 * The records are those pop3s-logger writes (SYSLOG_IDENTIFIER=pop3s-logger)
 * and those a session writes itself when the logger is unavailable
 * (pop3s-session, POP3_LOG_FALLBACK=1), selected by POP3_USER. Their time
 * is POP3_TIME_US, when the session made the record, which may be earlier
 * than when the journal received it. Everything read from the journal is
 * printed with control characters replaced: any local program can write
 * journal entries. */
#include <errno.h>
#include <error.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>
#include "ctl_config.h"
#include "ctl_log.h"
#include "parse_num.h"
#include "username.h"

#define USEC_PER_SEC 1000000ULL
/* Year 9999: far enough, and no overflow in microseconds. */
#define TIME_MAX_SEC 253402300799ULL
#define FIELD_MAX 512

/* --- time arguments ---------------------------------------------------------- */

/* n digits at s into *ret; false unless all are digits. */
static bool
digits(const char *s, int n, int *ret)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

static int
days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* "YYYY-MM-DD[( |T)HH:MM[:SS]]" in local time, strictly: no blanks, no
 * missing digits, no 30 February. */
static int
parse_date(const char *s, uint64_t *ret_usec)
{
	int y, mo, d, h = 0, mi = 0, sec = 0;
	size_t len = strlen(s);
	struct tm tm;
	time_t t;

	if ((len != 10 && len != 16 && len != 19) || !digits(s, 4, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d))
		return -EINVAL;
	if (len >= 16 && ((s[10] != ' ' && s[10] != 'T') || !digits(s + 11, 2, &h) ||
	                  s[13] != ':' || !digits(s + 14, 2, &mi)))
		return -EINVAL;
	if (len == 19 && (s[16] != ':' || !digits(s + 17, 2, &sec)))
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1 || t < 0)
		return -EINVAL;
	*ret_usec = (uint64_t)t * USEC_PER_SEC;
	return 0;
}

/* "-N" and a unit, before now. */
static int
parse_relative(const char *s, time_t now, uint64_t *ret_usec)
{
	static const struct { char unit; uint64_t sec; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
	};
	char num[24];
	size_t len = strlen(s), i;
	uint64_t n;

	if (len < 3 || len - 2 >= sizeof(num))
		return -EINVAL;
	memcpy(num, s + 1, len - 2);
	num[len - 2] = '\0';
	if (parse_u64(num, 0, TIME_MAX_SEC, &n) < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (s[len - 1] != units[i].unit)
			continue;
		if (n > TIME_MAX_SEC / units[i].sec || n * units[i].sec > (uint64_t)now)
			return -EINVAL;
		*ret_usec = ((uint64_t)now - n * units[i].sec) * USEC_PER_SEC;
		return 0;
	}
	return -EINVAL;
}

int
ctl_log_parse_time(const char *s, time_t now, uint64_t *ret_usec)
{
	uint64_t sec;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (s[0] == '-')
		return parse_relative(s, now, ret_usec);
	if (s[0] == '@' || strspn(s, "0123456789") == strlen(s)) {
		if (parse_u64(s + (s[0] == '@'), 0, TIME_MAX_SEC, &sec) < 0)
			return -EINVAL;
		*ret_usec = sec * USEC_PER_SEC;
		return 0;
	}
	return parse_date(s, ret_usec);
}

/* --- output -------------------------------------------------------------------- */

struct out {
	char *buf;
	size_t len, cap;
};

/* Appends s (or "-" if empty) with control characters replaced. */
static void
out_field(struct out *o, const char *s)
{
	if (s == NULL || *s == '\0')
		s = "-";
	for (; *s && o->len + 1 < o->cap; s++) {
		unsigned char c = (unsigned char)*s;

		o->buf[o->len++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	o->buf[o->len] = '\0';
}

static void
out_char(struct out *o, char c)
{
	if (o->len + 1 < o->cap) {
		o->buf[o->len++] = c;
		o->buf[o->len] = '\0';
	}
}

/* 2024-11-14T08:47:27+01:00 */
static void
format_time(uint64_t usec, char *buf, size_t len)
{
	time_t t = (time_t)(usec / USEC_PER_SEC);
	char zone[8];
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || strftime(zone, sizeof(zone), "%z", &tm) != 5) {
		snprintf(buf, len, "@%llu", (unsigned long long)t);
		return;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + strlen(buf), len - strlen(buf), "%.3s:%.2s", zone, zone + 3);
}

size_t
ctl_log_format(const struct ctl_log_entry *e, char *buf, size_t len)
{
	struct out o = { buf, 0, len };
	bool is_command = e->type != NULL && strcmp(e->type, "COMMAND") == 0;
	char when[64];

	if (len == 0)
		return 0;
	buf[0] = '\0';
	format_time(e->time_us, when, sizeof(when));
	out_field(&o, when);
	out_char(&o, ' ');
	out_field(&o, e->client_ip);
	out_char(&o, ' ');
	out_field(&o, is_command ? e->command : e->type);
	out_char(&o, ' ');
	out_field(&o, e->status);
	if (e->detail != NULL && *e->detail != '\0') {
		out_char(&o, ' ');
		out_field(&o, e->detail);
	}
	return o.len;
}

/* --- the journal ------------------------------------------------------------------ */

/* The value of field in the current entry, "" if it has none; cut at
 * len - 1 octets. */
static void
get_field(sd_journal *j, const char *field, char *buf, size_t len)
{
	size_t flen = strlen(field), n;
	const void *data;
	size_t dlen;

	buf[0] = '\0';
	if (sd_journal_get_data(j, field, &data, &dlen) < 0 || dlen <= flen)
		return;
	n = dlen - flen - 1;
	if (n >= len)
		n = len - 1;
	memcpy(buf, (const char *)data + flen + 1, n);
	buf[n] = '\0';
	/* a NUL inside the value would end it early: harmless */
}

/* POP3_TIME_US, or the time the journal received the entry. */
static uint64_t
entry_time(sd_journal *j)
{
	char text[32];
	uint64_t t;

	get_field(j, "POP3_TIME_US", text, sizeof(text));
	if (parse_u64(text, 0, TIME_MAX_SEC * USEC_PER_SEC, &t) == 0)
		return t;
	if (sd_journal_get_realtime_usec(j, &t) < 0)
		return 0;
	return t;
}

static void
print_entry(sd_journal *j, uint64_t time_us)
{
	char ip[FIELD_MAX], type[FIELD_MAX], command[FIELD_MAX], status[FIELD_MAX],
	    detail[FIELD_MAX], line[6 * FIELD_MAX];
	struct ctl_log_entry e = { time_us, ip, type, command, status, detail };

	get_field(j, "POP3_CLIENT_IP", ip, sizeof(ip));
	get_field(j, "POP3_TYPE", type, sizeof(type));
	get_field(j, "POP3_COMMAND", command, sizeof(command));
	get_field(j, "POP3_STATUS", status, sizeof(status));
	get_field(j, "POP3_DETAIL", detail, sizeof(detail));
	ctl_log_format(&e, line, sizeof(line));
	printf("%s\n", line);
}

/* POP3_USER=user AND (SYSLOG_IDENTIFIER=pop3s-logger OR =pop3s-session):
 * matches on the same field are alternatives, on different fields all
 * apply. */
static int
add_matches(sd_journal *j, const char *user)
{
	char match[sizeof("POP3_USER=") + USERNAME_MAX];
	int r;

	snprintf(match, sizeof(match), "POP3_USER=%s", user);
	if ((r = sd_journal_add_match(j, match, 0)) < 0 ||
	    (r = sd_journal_add_match(j, "SYSLOG_IDENTIFIER=pop3s-logger", 0)) < 0)
		return r;
	return sd_journal_add_match(j, "SYSLOG_IDENTIFIER=pop3s-session", 0);
}

/* Prints the user's records from since on; returns how many, or -errno. */
static long
print_records(sd_journal *j, const char *user, uint64_t since)
{
	long n = 0;
	int r;

	r = add_matches(j, user);
	if (r < 0)
		return r;
	r = since ? sd_journal_seek_realtime_usec(j, since) : sd_journal_seek_head(j);
	if (r < 0)
		return r;
	while ((r = sd_journal_next(j)) > 0) {
		uint64_t t = entry_time(j);

		/* seeking used the time of receipt; the record's own time
		 * decides */
		if (t < since)
			continue;
		print_entry(j, t);
		n++;
	}
	return r < 0 ? r : n;
}

struct log_opts {
	const char *since;
	const char *journal_dir;
	const char *user;
};

static int
parse_opts(int argc, char **argv, struct log_opts *o)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "journal-dir", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 's') {
			o->since = optarg;
		} else if (c == 'D') {
			o->journal_dir = optarg;
		} else {
			error(0, 0, "log: unknown option or missing value: '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind + 1 != argc) {
		error(0, 0, "log: expected one user name");
		return -EINVAL;
	}
	o->user = argv[optind];
	return 0;
}

int
ctl_log(const char *config_path, int argc, char **argv)
{
	struct log_opts o;
	uint64_t since = 0;
	sd_journal *j = NULL;
	long n;
	int r;

	(void)config_path;   /* the journal is not configured in pop3s.conf */
	if (parse_opts(argc, argv, &o) < 0)
		return CTL_USAGE;
	if (o.since != NULL && ctl_log_parse_time(o.since, time(NULL), &since) < 0) {
		error(0, 0, "log: invalid --since time '%s': use YYYY-MM-DD, \"YYYY-MM-DD "
		      "HH:MM[:SS]\", a UNIX time or -N followed by s, m, h, d or w", o.since);
		return CTL_USAGE;
	}
	if (!username_valid(o.user, strlen(o.user))) {
		error(0, 0, "log: invalid user name '%s'", o.user);
		return CTL_ERR;
	}
	if (o.journal_dir != NULL)
		r = sd_journal_open_directory(&j, o.journal_dir, 0);
	else
		r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	if (r < 0) {
		error(0, -r, "cannot open the journal%s%s", o.journal_dir ? " in " : "",
		      o.journal_dir ? o.journal_dir : "");
		return CTL_ERR;
	}
	n = print_records(j, o.user, since);
	sd_journal_close(j);
	if (n < 0) {
		error(0, (int)-n, "cannot read the journal");
		return CTL_ERR;
	}
	if (n == 0)
		fprintf(stderr, "pop3sctl: no records for '%s'%s\n", o.user,
		        geteuid() != 0 && o.journal_dir == NULL
		            ? " (reading the system journal needs group systemd-journal or adm)" : "");
	return CTL_OK;
}
