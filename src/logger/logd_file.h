/* The log file: one line per POP3 command, "UNIX_TS CLIENT_IP COMMAND".
 * IPv4-mapped IPv6 addresses are printed as IPv4. */
#ifndef POP3S_LOGD_FILE_H
#define POP3S_LOGD_FILE_H

#include <stddef.h>
#include "logrec.h"

struct logd_file;

/* Opens (O_APPEND|O_CREAT, 0640) path. Returns 0 or -errno. */
int logd_file_open(const char *path, struct logd_file **ret);

/* Closes and reopens the same path (SIGHUP after logrotate). On failure the
 * old descriptor stays in use. Returns 0 or -errno. */
int logd_file_reopen(struct logd_file *f);

/* Formats the line for a COMMAND record into buf; returns its length
 * (including the final '\n'), or -ENOBUFS. Records of other types give 0:
 * they do not belong in the file. */
int logd_file_format(const struct logrec *r, char *buf, size_t cap);

/* Writes the record's line, if it has one. Returns 0 or -errno. */
int logd_file_write(struct logd_file *f, const struct logrec *r);

void logd_file_close(struct logd_file *f);

#endif
