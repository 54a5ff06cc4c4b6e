/* pop3sctl: the administrator's command. Each command is one module
 * (ctl_*.c) and returns an exit status: 0 done, 1 error, 2 usage. Changes
 * are made to files the sessions read at every start or login, so nothing
 * is restarted. */
#include <errno.h>
#include <error.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "config.h"
#include "ctl_config.h"
#include "ctl_log.h"
#include "ctl_stats.h"
#include "ctl_ticket.h"
#include "ctl_user.h"

struct verb {
	const char *name;
	int (*run)(const char *config_path, int argc, char **argv);
};

static const struct verb verbs[] = {
	{ "user", ctl_user },
	{ "config", ctl_config },
	{ "stats", ctl_stats },
	{ "log", ctl_log },
	{ "ticket-key", ctl_ticket },
};

/* Mirrors the SYNOPSIS of pop3sctl(8). */
static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: pop3sctl [-c file] user add [--stdin] name\n"
	    "       pop3sctl [-c file] user passwd [--stdin] name\n"
	    "       pop3sctl [-c file] user del [--purge] name\n"
	    "       pop3sctl [-c file] user list\n"
	    "       pop3sctl [-c file] config get key\n"
	    "       pop3sctl [-c file] config set key value\n"
	    "       pop3sctl [-c file] config list\n"
	    "       pop3sctl [-c file] stats [--json]\n"
	    "       pop3sctl [-c file] log [--since time] [--journal-dir dir] name\n"
	    "       pop3sctl ticket-key [--file path]\n"
	    "       pop3sctl -h\n"
	    "The configuration file is %s unless -c is given.\n", CONFIG_DEFAULT_PATH);
}

int
main(int argc, char **argv)
{
	const char *config_path = CONFIG_DEFAULT_PATH;
	size_t i;
	int c;

	/* error(3) prefixes messages with this: "pop3sctl: ...". */
	program_invocation_name = program_invocation_short_name;
	/* '+': options end at the command; its own options are its own. */
	while ((c = getopt(argc, argv, "+c:h")) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return CTL_OK;
		default:
			usage(stderr);
			return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[optind], verbs[i].name) == 0) {
			int r = verbs[i].run(config_path, argc - optind, argv + optind);

			if (r == CTL_USAGE)
				fprintf(stderr, "Run 'pop3sctl -h' for usage.\n");
			if (fflush(stdout) != 0 || ferror(stdout)) {
				error(0, errno, "standard output");
				return CTL_ERR;
			}
			return r;
		}
	}
	error(0, 0, "unknown command '%s'", argv[optind]);
	usage(stderr);
	return CTL_USAGE;
}
