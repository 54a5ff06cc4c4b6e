/* pop3s-session -T: what a confined session can and cannot do, tried for
 * real after the very start-up a served connection goes through, and
 * reported as text on the connection (format in pop3s-session(8)). */
#ifndef POP3S_CONFINE_PROBE_H
#define POP3S_CONFINE_PROBE_H

#include "confine.h"

/* Writes the CONFINEMENT line, one PROBE line per probe and PROBE-END to
 * fd. Returns 0 if every probe had the expected outcome, else 1. */
int confine_probe(int fd, const struct confine_params *p, const struct confine_status *st);

#endif
