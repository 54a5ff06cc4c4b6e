/* The users file ("user:crypt-hash" lines, '#' comments) as pop3sctl
 * changes it: under an exclusive lock (flock on USERS.lock), the new
 * content is written to a temporary file in the same directory, fsynced,
 * and renamed over the old one, so concurrent pop3sctl runs and logins
 * never see a torn or half-written file. Comments and unknown lines are
 * kept as they are. pop3s-session reads the file with auth.c. */
#ifndef POP3S_USERS_DB_H
#define POP3S_USERS_DB_H

#include <stdbool.h>
#include <stddef.h>

enum users_db_op { USERS_DB_ADD, USERS_DB_SET, USERS_DB_DELETE };

/* Applies one change: ADD fails with -EEXIST if the user exists, SET and
 * DELETE fail with -ENOENT if not. hash is a crypt(3) hash (NULL for
 * DELETE). The user name must satisfy username_valid(). The file keeps its
 * owner, group and mode (0640 root:pop3s by default when it is created).
 * Returns 0 or -errno. */
int users_db_change(const char *path, enum users_db_op op, const char *user, const char *hash);

/* Calls fn for every user in the file, in file order. Returns 0 or -errno. */
int users_db_list(const char *path, void (*fn)(const char *user, void *ctx), void *ctx);

/* Calls fn for every entry whose hash is of a weak legacy method
 * (hash_method.h: such entries never log in), with its line number (from
 * 1) and the method's name, in file order. Returns 0 or -errno. */
int users_db_weak(const char *path,
                  void (*fn)(unsigned long lineno, const char *user, const char *method, void *ctx),
                  void *ctx);

/* True if the user is in the file. */
bool users_db_exists(const char *path, const char *user);

#endif
