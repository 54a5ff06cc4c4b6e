/* One exit status convention for pop3s-session, pop3s-logger and pop3sctl,
 * stated in the EXIT STATUS section of each man page: scripts and systemd
 * can tell a mistyped command line from a failure. */
#ifndef POP3S_EXITCODE_H
#define POP3S_EXITCODE_H

enum pop3s_exit {
	POP3S_EXIT_OK = 0,     /* done, or the session ended normally */
	POP3S_EXIT_ERROR = 1,  /* configuration, files, resources, I/O */
	POP3S_EXIT_USAGE = 2,  /* unknown option, missing or extra argument */
};

#endif
