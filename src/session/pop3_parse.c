#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include "parse_num.h"
#include "pop3_parse.h"

static const char *const names[] = {
	[POP3_CMD_UNKNOWN] = "?",
	[POP3_CMD_USER] = "USER", [POP3_CMD_PASS] = "PASS", [POP3_CMD_AUTH] = "AUTH",
	[POP3_CMD_CAPA] = "CAPA", [POP3_CMD_QUIT] = "QUIT", [POP3_CMD_STAT] = "STAT",
	[POP3_CMD_LIST] = "LIST", [POP3_CMD_RETR] = "RETR", [POP3_CMD_DELE] = "DELE",
	[POP3_CMD_NOOP] = "NOOP", [POP3_CMD_RSET] = "RSET", [POP3_CMD_TOP] = "TOP",
	[POP3_CMD_UIDL] = "UIDL", [POP3_CMD_APOP] = "APOP",
};

const char *
pop3_cmd_name(enum pop3_cmd cmd)
{
	if ((unsigned)cmd >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[cmd];
}

static enum pop3_cmd
lookup(const char *kw)
{
	size_t i;

	if (strlen(kw) > POP3_KEYWORD_MAX)
		return POP3_CMD_UNKNOWN;
	for (i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(kw, names[i]) == 0)
			return (enum pop3_cmd)i;
	return POP3_CMD_UNKNOWN;
}

int
pop3_parse(char *line, struct pop3_cmdline *ret)
{
	char *p = line, *kw;
	bool more = true;

	memset(ret, 0, sizeof(*ret));
	kw = p;
	p += strcspn(p, " ");
	if (*p == ' ') {
		*p++ = '\0';
		ret->rest = p;
	} else {
		ret->rest = p;  /* empty string */
		more = false;
	}
	if (*kw == '\0')
		return -EINVAL;
	ret->cmd = lookup(kw);
	if (ret->cmd == POP3_CMD_UNKNOWN)
		return -EINVAL;
	/* PASS keeps the whole rest: passwords may contain spaces. */
	if (ret->cmd == POP3_CMD_PASS)
		return 0;
	/* RFC 1939 section 3: keyword and arguments are separated by a single
	 * space. An empty argument (two spaces in a row, a trailing space) is
	 * malformed, so "LIST  1" is refused like "LIST 1abc", not read as
	 * "LIST 1". */
	while (more) {
		if (*p == '\0' || *p == ' ')
			return -EPROTO;
		if (ret->argc == POP3_ARGS_MAX)
			return -E2BIG;
		ret->argv[ret->argc++] = p;
		p += strcspn(p, " ");
		more = *p == ' ';
		if (more)
			*p++ = '\0';
	}
	return 0;
}

int
pop3_parse_msgnum(const char *arg, uint64_t max, uint64_t *ret)
{
	int r = parse_u64(arg, 1, max, ret);

	return r;
}
