/* pop3sctl stats: reads the metrics file pop3s-logger keeps in its STATE
 * directory (metrics.c) and prints it for people or as JSON. */
#include <errno.h>
#include <error.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "config.h"
#include "ctl_config.h"
#include "ctl_stats.h"
#include "metrics.h"

int
ctl_stats(const char *config_path, int argc, char **argv)
{
	struct pop3s_config cfg;
	char state[PATH_MAX];
	struct metrics m;
	int json = 0, r;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = 1;
	else if (argc != 1) {
		error(0, 0, "usage: stats [--json]");
		return CTL_USAGE;
	}
	if (ctl_config_load(config_path, &cfg) < 0)
		return CTL_ERR;
	r = ctl_config_value(&cfg, "STATE", state, sizeof(state));
	if (r < 0) {
		error(0, 0, "%s: no STATE directory in this version of pop3s", config_path);
		return CTL_ERR;
	}
	r = metrics_load(state, &m);
	if (r < 0) {
		error(0, r == -EBADMSG ? 0 : -r, "%s/%s%s", state, METRICS_FILE,
		      r == -EBADMSG ? ": malformed metrics file" : "");
		return CTL_ERR;
	}
	metrics_print(&m, json, stdout);
	return CTL_OK;
}
