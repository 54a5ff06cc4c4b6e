/* pop3sctl stats: the counters pop3s-logger keeps in STATE/metrics. */
#ifndef POP3S_CTL_STATS_H
#define POP3S_CTL_STATS_H

/* pop3sctl [-c path] stats [--json]. Returns an exit status. */
int ctl_stats(const char *config_path, int argc, char **argv);

#endif
