/* pop3sctl config: read and change pop3s.conf, and the helpers every
 * pop3sctl command uses to load it. */
#ifndef POP3S_CTL_CONFIG_H
#define POP3S_CTL_CONFIG_H

#include <stddef.h>
#include "config.h"
#include "exitcode.h"

/* Exit statuses of pop3sctl and of each command. */
enum ctl_status { CTL_OK = POP3S_EXIT_OK, CTL_ERR = POP3S_EXIT_ERROR, CTL_USAGE = POP3S_EXIT_USAGE };

/* Loads path over the defaults; on failure prints the parser's message
 * and returns -errno. */
int ctl_config_load(const char *path, struct pop3s_config *cfg);

/* Copies the effective value of the key named key into buf. Works for
 * every key config.c knows, including keys added after this file was
 * written. Returns 0, -ENOENT for an unknown key, -ENOBUFS. */
int ctl_config_value(const struct pop3s_config *cfg, const char *key, char *buf, size_t len);

/* pop3sctl [-c path] config get KEY | set KEY VALUE | list */
int ctl_config(const char *path, int argc, char **argv);

#endif
