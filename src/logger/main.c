/* pop3s-logger: reads log records from the message queue and writes the
 * command log file and the journal. One process, one poll() loop over the
 * queue and a signalfd; nothing a session sends can make it stop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "monotime.h"
#include "config.h"
#include "exitcode.h"
#include "logd_file.h"
#include "logd_journal.h"
#include "logd_metrics.h"
#include "logd_penalty.h"
#include "logq.h"
#include "logrec.h"
#include "parse_num.h"

#define PROG "pop3s-logger"
#define REPORT_INTERVAL_US (60 * 1000000ull)  /* repeated problems: once a minute */
#define BATCH 256                              /* records per wake-up, then signals */

_Static_assert(LOGQ_MSGSIZE >= LOGREC_MAX_SIZE, "queue messages too small for records");

/* A problem that may repeat for every record (malformed input, a full
 * disk): the first occurrence is reported at once, later ones as a count
 * at most once per REPORT_INTERVAL_US, and the rest at exit. */
struct problem {
	const char *what;
	unsigned long count, reported;
	int err;                /* last -errno, 0 if none */
	uint64_t last_us;       /* monotonic time of the last report */
};

struct logger {
	struct pop3s_config cfg;
	mqd_t q;
	int sigfd;
	struct logd_file *file;
	uint8_t *buf;
	size_t bufsize;
	unsigned long records;
	bool file_failing;
	struct problem malformed, file_err, journal_err, metrics_err, penalty_err;
	struct logd_metrics metrics;
	struct logd_penalty penalty;
};

static void
problem_report(struct problem *p, bool force)
{
	uint64_t now = monotime_us();
	unsigned long fresh = p->count - p->reported;

	if (fresh == 0)
		return;
	if (!force && p->reported != 0 && now - p->last_us < REPORT_INTERVAL_US)
		return;
	fprintf(stderr, PROG ": %s%s%s: %lu (%lu in total)%s\n", p->what,
	        p->err ? ": " : "", p->err ? strerror(-p->err) : "", fresh, p->count,
	        force ? "" : p->reported == 0 ? ", further reports at most once a minute" : "");
	p->reported = p->count;
	p->last_us = now;
}

static void
problem_add(struct problem *p, int err)
{
	p->count++;
	p->err = err;
	problem_report(p, false);
}

static void
usage(FILE *out)
{
	fprintf(out,
	        "Usage: " PROG " [-c FILE] [-n | -Q DEPTH] [-h]\n"
	        "Writes the log records of pop3s sessions to the log file and the journal.\n"
	        "  -c FILE   configuration file (default " CONFIG_DEFAULT_PATH ")\n"
	        "  -n        check the configuration, print it and exit\n"
	        "  -Q DEPTH  check that the queue (QUEUE=) exists or that one DEPTH records\n"
	        "            deep can be created now, explain why not, and exit\n"
	        "  -h        show this help\n");
}

/* Returns -1 to go on, or an exit status. */
static int
parse_args(int argc, char **argv, const char **path, bool *check, long *probe_depth)
{
	uint64_t v;
	int c;

	while ((c = getopt(argc, argv, "c:nQ:h")) != -1) {
		switch (c) {
		case 'c':
			*path = optarg;
			break;
		case 'n':
			*check = true;
			break;
		case 'Q':
			if (parse_u64(optarg, 1, 65536, &v) < 0) {
				fprintf(stderr, PROG ": -Q: '%s' is not a queue depth from 1 to 65536\n",
				        optarg);
				usage(stderr);
				return POP3S_EXIT_USAGE;
			}
			*probe_depth = (long)v;
			break;
		case 'h':
			usage(stdout);
			return POP3S_EXIT_OK;
		default:
			usage(stderr);
			return POP3S_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return POP3S_EXIT_USAGE;
	}
	return -1;
}

static long
read_msg_max(void)
{
	FILE *f = fopen("/proc/sys/fs/mqueue/msg_max", "re");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Says why a queue depth records deep cannot be created (r from
 * logq_probe or logq_open_receiver), in terms an administrator can act on:
 * systemd's own message for a full RLIMIT_MSGQUEUE is "Too many open
 * files". */
static void
explain_queue_error(const char *where, const char *knob, const char *name, long depth, int r)
{
	struct rlimit rl;
	struct passwd *pw;
	char limit[64] = "its limit";
	long msg_max;

	if (r == -EMFILE && getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		snprintf(limit, sizeof(limit), "its limit of %lu KiB",
		         (unsigned long)(rl.rlim_cur / 1024));
	if (r == -EMFILE) {
		pw = getpwuid(geteuid());  /* an error path only: no NSS otherwise */
		fprintf(stderr, PROG ": %scannot create the log queue %s (%ld records of %d octets, "
		        "about %lu KiB): the message queues of user %s (uid %lu) already use up %s "
		        "(RLIMIT_MSGQUEUE); remove queues that are no longer needed "
		        "(ls -l /dev/mqueue) or lower %s\n",
		        where, name, depth, LOGQ_MSGSIZE, (logq_charge(depth) + 1023) / 1024,
		        pw ? pw->pw_name : "?", (unsigned long)geteuid(), limit, knob);
	} else if (r == -EINVAL && (msg_max = read_msg_max()) > 0 && depth > msg_max)
		fprintf(stderr, PROG ": %scannot create the log queue %s %ld records deep: "
		        "fs.mqueue.msg_max is %ld and this process may not exceed it "
		        "(CAP_SYS_RESOURCE); raise the sysctl or let systemd create the queue\n",
		        where, name, depth, msg_max);
	else
		fprintf(stderr, PROG ": %scannot create the log queue %s %ld records deep: %s\n",
		        where, name, depth, strerror(-r));
}

/* Uses the queue systemd created (pop3s-logger.socket) if it handed one
 * over, else opens or creates cfg.queue. Reports its own errors. */
static int
open_queue(struct logger *lg)
{
	char where[PATH_MAX + 64];
	int n, r;

	config_where(&lg->cfg, CONF_QUEUE, where, sizeof(where));
	n = sd_listen_fds(1);
	if (n < 0)
		fprintf(stderr, PROG ": sd_listen_fds: %s\n", strerror(-n));
	if (n > 1)
		fprintf(stderr, PROG ": %d descriptors passed, using only the first\n", n);
	if (n >= 1 && sd_is_mq(SD_LISTEN_FDS_START, NULL) > 0) {
		/* A queue other than QUEUE= would be read while sessions write
		 * to QUEUE=: refuse it. -errno means it cannot be checked
		 * (no /dev/mqueue); trust systemd then. */
		r = sd_is_mq(SD_LISTEN_FDS_START, lg->cfg.queue);
		if (r == 0) {
			fprintf(stderr, PROG ": %sQUEUE=%s is not the message queue passed by "
			        "systemd (check ListenMessageQueue= in pop3s-logger.socket)\n",
			        where, lg->cfg.queue);
			return -EINVAL;
		}
		lg->q = (mqd_t)SD_LISTEN_FDS_START;
		return 0;
	}
	if (n >= 1)
		fprintf(stderr, PROG ": descriptor %d from systemd is not a message queue, "
		        "ignoring it\n", SD_LISTEN_FDS_START);

	r = logq_open_receiver(lg->cfg.queue, lg->cfg.queue_depth, &lg->q);
	if (r == -EMFILE || r == -EINVAL) {
		char at[sizeof(where) + 32];

		snprintf(at, sizeof(at), "%sQUEUE_DEPTH=%u: ",
		         config_where(&lg->cfg, CONF_QUEUE_DEPTH, where, sizeof(where)),
		         lg->cfg.queue_depth);
		explain_queue_error(at, "QUEUE_DEPTH", lg->cfg.queue, (long)lg->cfg.queue_depth, r);
	} else if (r < 0) {
		fprintf(stderr, PROG ": %sQUEUE=%s: cannot open or create the message queue: %s%s\n",
		        where, lg->cfg.queue, strerror(-r), r == -EMSGSIZE ?
		        " (it exists with a smaller message size; remove it)" : "");
	}
	return r;
}

/* The loop relies on a non-blocking descriptor (an empty queue must not
 * stall it), whoever opened it. The receive buffer must be as large as the
 * queue's message size, which for a queue made by systemd may exceed our
 * records. */
static int
prepare_queue(struct logger *lg)
{
	struct mq_attr a, nb = { .mq_flags = O_NONBLOCK };

	if (mq_getattr(lg->q, &a) < 0 ||
	    (!(a.mq_flags & O_NONBLOCK) && mq_setattr(lg->q, &nb, NULL) < 0)) {
		fprintf(stderr, PROG ": message queue %s: %s\n", lg->cfg.queue, strerror(errno));
		return -errno;
	}
	if (a.mq_msgsize < LOGQ_MSGSIZE) {
		fprintf(stderr, PROG ": message queue %s: message size %ld is below %d\n",
		        lg->cfg.queue, (long)a.mq_msgsize, LOGQ_MSGSIZE);
		return -EMSGSIZE;
	}
	lg->bufsize = (size_t)a.mq_msgsize;
	lg->buf = malloc(lg->bufsize);
	if (!lg->buf) {
		fprintf(stderr, PROG ": %s\n", strerror(ENOMEM));
		return -ENOMEM;
	}
	return 0;
}

static int
open_signals(struct logger *lg)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (lg->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		fprintf(stderr, PROG ": signalfd: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

static int
open_file(struct logger *lg)
{
	char where[PATH_MAX + 64];
	int r = logd_file_open(lg->cfg.logs, &lg->file);

	if (r < 0)
		fprintf(stderr, PROG ": %sLOGS=%s: cannot open: %s\n",
		        config_where(&lg->cfg, CONF_LOGS, where, sizeof(where)),
		        lg->cfg.logs, strerror(-r));
	return r;
}

static void
write_file(struct logger *lg, const struct logrec *rec)
{
	int r = logd_file_write(lg->file, rec);

	if (r < 0) {
		lg->file_failing = true;
		problem_add(&lg->file_err, r);
	} else if (lg->file_failing && rec->type == LOGREC_COMMAND) {
		lg->file_failing = false;
		problem_report(&lg->file_err, true);
		fprintf(stderr, PROG ": writing %s works again\n", lg->cfg.logs);
	}
}

static void
handle_message(struct logger *lg, size_t len)
{
	struct logrec rec;
	int r;

	if (logrec_decode(lg->buf, len, &rec) < 0) {
		problem_add(&lg->malformed, 0);
		logd_metrics_malformed(&lg->metrics);
		return;
	}
	lg->records++;
	/* Only for the penalty table: the LOGIN_FAIL record sent just
	 * before it is the log entry of that failed login. */
	if (rec.type == LOGREC_AUTH_FAIL) {
		logd_penalty_record(&lg->penalty, &rec, (uint64_t)time(NULL));
		return;
	}
	logd_metrics_record(&lg->metrics, &rec);
	if (rec.type == LOGREC_COMMAND)
		write_file(lg, &rec);
	r = logd_journal_send(&rec, NULL);
	if (r < 0)
		problem_add(&lg->journal_err, r);
}

/* Handles up to max queued records. Returns 0 when the queue is empty,
 * 1 if records may remain, or -errno. */
static int
drain(struct logger *lg, unsigned long max)
{
	unsigned long i;

	for (i = 0; i < max; i++) {
		long n = logq_receive(lg->q, lg->buf, lg->bufsize);

		if (n == -EAGAIN)
			return 0;
		if (n < 0) {
			fprintf(stderr, PROG ": receiving from %s: %s\n", lg->cfg.queue,
			        strerror((int)-n));
			return (int)n;
		}
		handle_message(lg, (size_t)n);
	}
	return 1;
}

/* Returns true when asked to stop. */
static bool
handle_signals(struct logger *lg)
{
	struct signalfd_siginfo si;
	bool stop = false;
	int r;

	while (read(lg->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo != SIGHUP) {
			stop = true;
			continue;
		}
		r = logd_file_reopen(lg->file);
		if (r < 0)
			fprintf(stderr, PROG ": SIGHUP: cannot reopen %s, still writing the old "
			        "file: %s\n", lg->cfg.logs, strerror(-r));
	}
	return stop;
}

static void
metrics_tick(struct logger *lg)
{
	int r = logd_metrics_tick(&lg->metrics, monotime_ms());

	if (r < 0)
		problem_add(&lg->metrics_err, r);
}

static void
penalty_tick(struct logger *lg, bool force)
{
	int r = logd_penalty_tick(&lg->penalty, monotime_ms(), (uint64_t)time(NULL), force);

	if (r < 0)
		problem_add(&lg->penalty_err, r);
}

/* Wakes up for the reports, the metrics' pid check and their save, and
 * the publication of the penalty table. */
static int
poll_timeout(const struct logger *lg)
{
	uint64_t now = monotime_ms();
	uint64_t ms = logd_metrics_next_ms(&lg->metrics, now);
	uint64_t pms = logd_penalty_next_ms(&lg->penalty, now);

	if (pms < ms)
		ms = pms;

	return (int)(ms < REPORT_INTERVAL_US / 1000 ? ms : REPORT_INTERVAL_US / 1000);
}

static int
run(struct logger *lg)
{
	struct pollfd p[2] = {
		{ .fd = lg->sigfd, .events = POLLIN },
		{ .fd = (int)lg->q, .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 2, poll_timeout(lg)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
			return -errno;
		}
		/* Signals first, so a SIGHUP sent before a record was queued
		 * applies to that record. */
		if (p[0].revents && handle_signals(lg))
			return 0;
		if (p[1].revents && drain(lg, BATCH) < 0)
			return -EIO;
		metrics_tick(lg);
		penalty_tick(lg, false);
		problem_report(&lg->malformed, false);
		problem_report(&lg->file_err, false);
		problem_report(&lg->journal_err, false);
		problem_report(&lg->metrics_err, false);
		problem_report(&lg->penalty_err, false);
	}
}

/* On SIGTERM: handle what is queued now, without waiting for more. */
static void
shut_down(struct logger *lg)
{
	struct mq_attr a;
	unsigned long queued = 0;
	int r;

	sd_notify(0, "STOPPING=1");
	if (mq_getattr(lg->q, &a) == 0 && a.mq_curmsgs > 0)
		queued = (unsigned long)a.mq_curmsgs;
	(void)drain(lg, queued);
	logd_file_close(lg->file);
	lg->file = NULL;
	r = logd_metrics_save(&lg->metrics, monotime_ms());
	if (r < 0)
		problem_add(&lg->metrics_err, r);
	penalty_tick(lg, true);
	problem_report(&lg->malformed, true);
	problem_report(&lg->file_err, true);
	problem_report(&lg->journal_err, true);
	problem_report(&lg->metrics_err, true);
	problem_report(&lg->penalty_err, true);
}

/* Metrics never keep the logger from logging: a state directory that
 * cannot be read or written is reported, and the counters go on in memory. */
static void
load_metrics(struct logger *lg)
{
	char where[PATH_MAX + 64];
	int r;

	logd_metrics_init(&lg->metrics, lg->cfg.state);
	r = logd_metrics_load(&lg->metrics, monotime_ms());
	if (r < 0)
		fprintf(stderr, PROG ": %sSTATE=%s: cannot load %s: %s; counting from zero%s\n",
		        config_where(&lg->cfg, CONF_STATE, where, sizeof(where)), lg->cfg.state,
		        METRICS_FILE, strerror(-r),
		        r == -EBADMSG ? " (the file will be replaced)" : "");
}

/* Like the metrics, the penalty table never keeps the logger from
 * logging: a file that cannot be read means starting with an empty table. */
static void
load_penalty(struct logger *lg)
{
	char where[PATH_MAX + 64];
	int r;

	r = logd_penalty_init(&lg->penalty, lg->cfg.auth_penalty_file, lg->cfg.auth_penalty_window);
	if (r < 0 && r != -ENOENT)
		fprintf(stderr, PROG ": %sAUTH_PENALTY_FILE=%s: cannot load: %s; starting with "
		        "no failed logins%s\n",
		        config_where(&lg->cfg, CONF_AUTH_PENALTY_FILE, where, sizeof(where)),
		        lg->cfg.auth_penalty_file, strerror(-r),
		        r == -EBADMSG ? " (the file will be replaced)" : "");
}

static int
setup(struct logger *lg)
{
	if (open_signals(lg) < 0 || open_queue(lg) < 0 || prepare_queue(lg) < 0 ||
	    open_file(lg) < 0)
		return -1;
	load_metrics(lg);
	load_penalty(lg);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct logger lg = {
		.malformed = { .what = "malformed records dropped" },
		.journal_err = { .what = "journal entries lost" },
	};
	static char file_what[PATH_MAX + 64];
	static char metrics_what[PATH_MAX + 64];
	static char penalty_what[PATH_MAX + 64];
	const char *path = CONFIG_DEFAULT_PATH;
	char err[CONFIG_ERR_MAX];
	bool check = false;
	long probe_depth = 0;
	int r;

	r = parse_args(argc, argv, &path, &check, &probe_depth);
	if (r >= 0)
		return r;
	config_defaults(&lg.cfg);
	if (config_load(path, &lg.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return POP3S_EXIT_ERROR;
	}
	if (probe_depth > 0) {
		/* pop3s-logger.socket's ExecStartPre=: systemd's own message
		 * for a queue it cannot create does not say why. */
		r = logq_probe(lg.cfg.queue, probe_depth);
		if (r < 0) {
			explain_queue_error("", "MessageQueueMaxMessages= of pop3s-logger.socket "
			                    "in a drop-in", lg.cfg.queue, probe_depth, r);
			return POP3S_EXIT_ERROR;
		}
		return POP3S_EXIT_OK;
	}
	if (check) {
		config_dump(&lg.cfg, stdout);
		return fflush(stdout) == 0 ? POP3S_EXIT_OK : POP3S_EXIT_ERROR;
	}
	snprintf(file_what, sizeof(file_what), "cannot write %s, lines lost", lg.cfg.logs);
	lg.file_err.what = file_what;
	snprintf(metrics_what, sizeof(metrics_what), "cannot save the metrics in %s",
	         lg.cfg.state);
	lg.metrics_err.what = metrics_what;
	snprintf(penalty_what, sizeof(penalty_what), "cannot write %s, failed logins not shared",
	         lg.cfg.auth_penalty_file);
	lg.penalty_err.what = penalty_what;
	if (setup(&lg) < 0)
		return POP3S_EXIT_ERROR;
	sd_notify(0, "READY=1");
	fprintf(stderr, PROG ": reading %s, writing %s\n", lg.cfg.queue, lg.cfg.logs);

	r = run(&lg);
	shut_down(&lg);
	free(lg.buf);
	fprintf(stderr, PROG ": stopped after %lu records\n", lg.records);
	/* The queue is not unlinked: records sent meanwhile wait for us. */
	return r < 0 ? POP3S_EXIT_ERROR : POP3S_EXIT_OK;
}
