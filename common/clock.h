/* Time: a clock tests can set, and the time formats servers send us. */
#ifndef ACMED_CLOCK_H
#define ACMED_CLOCK_H

#include <time.h>

/* Wall-clock seconds; ACMED_FAKE_NOW (seconds since the epoch) overrides. */
time_t clock_now(void);

/*
 * Monotonic seconds (CLOCK_MONOTONIC), for deadlines: unaffected by clock
 * steps and by ACMED_FAKE_NOW, so a wait always ends.
 */
time_t clock_monotonic(void);

/*
 * Retry-After (RFC 9110 10.2.3): delta-seconds or an IMF-fixdate.  Returns
 * 0 and the number of seconds from "now" (never negative) in "ret", or
 * -EINVAL.
 */
int clock_parse_retry_after(const char *v, time_t now, long *ret);

/* RFC 3339 date-time with optional fraction and Z or +hh:mm offset. */
int clock_parse_rfc3339(const char *v, time_t *ret);

/* Format as RFC 3339 UTC ("2026-12-03T21:00:00Z") into buf[21+]. */
char *clock_format(time_t t, char *buf, size_t size);

#endif
