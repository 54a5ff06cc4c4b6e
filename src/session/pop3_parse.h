/* Command line -> command id and arguments (RFC 1939, 2449, 5034). Pure. */
#ifndef POP3S_POP3_PARSE_H
#define POP3S_POP3_PARSE_H

#include <stddef.h>
#include <stdint.h>

enum pop3_cmd {
	POP3_CMD_UNKNOWN = 0,
	POP3_CMD_USER, POP3_CMD_PASS, POP3_CMD_AUTH, POP3_CMD_CAPA, POP3_CMD_QUIT,
	POP3_CMD_STAT, POP3_CMD_LIST, POP3_CMD_RETR, POP3_CMD_DELE, POP3_CMD_NOOP,
	POP3_CMD_RSET, POP3_CMD_TOP, POP3_CMD_UIDL, POP3_CMD_APOP,
};

#define POP3_ARGS_MAX 2
#define POP3_KEYWORD_MAX 4     /* RFC 1939 keywords are 3-4 characters */

struct pop3_cmdline {
	enum pop3_cmd cmd;
	int argc;
	char *argv[POP3_ARGS_MAX];   /* point into the parsed line */
	char *rest;                  /* everything after the keyword and one space (PASS) */
};

/* Splits line (modified in place, NUL-terminated) into *ret. The keyword is
 * matched case-insensitively. Arguments are separated by exactly one space.
 * Returns 0; -EINVAL for an empty line or a keyword that is not a known
 * command (ret->cmd = POP3_CMD_UNKNOWN); -EPROTO for an empty argument (two
 * spaces in a row, a trailing space; ret->cmd is set); -E2BIG when there are
 * more than POP3_ARGS_MAX arguments. Argument counts per
 * command are checked by the state machine. */
int pop3_parse(char *line, struct pop3_cmdline *ret);

/* Parses a message number argument: 1..max, digits only. Returns 0, -EINVAL
 * (not a number) or -ERANGE (0, too big or overflow). */
int pop3_parse_msgnum(const char *arg, uint64_t max, uint64_t *ret);

/* Upper-case keyword for a command id, e.g. "RETR". */
const char *pop3_cmd_name(enum pop3_cmd cmd);

#endif
