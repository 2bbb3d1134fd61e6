/*
 * Pure scheduling arithmetic: no clock, no I/O.  Given what we know of a
 * certificate and "now", when is it due, and why.
 */
#ifndef ACMED_SCHED_H
#define ACMED_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct store_cert;

#define SCHED_SHORT_LIFETIME (10 * 24 * 3600)

enum sched_reason {
	SCHED_NEW,       /* never issued */
	SCHED_DRIFT,     /* names, key, profile or CA changed */
	SCHED_LIFETIME,  /* the lifetime fraction point */
	SCHED_BACKOFF,   /* waiting after failures */
	SCHED_MISSING,   /* installed files are gone */
	SCHED_ARI,       /* our time in the CA's suggested window (RFC 9773) */
	SCHED_REVOKED,   /* we revoked it */
	SCHED_RETRY_AFTER, /* waiting for the time a CA's Retry-After gave */
	SCHED_HOOK,      /* installed, but its reload hook did not finish */
	SCHED__MAX,
};

const char *sched_reason_name(enum sched_reason r);

/*
 * Renewal point of a certificate without ARI: 1/3 of its real lifetime
 * before expiry (1/2 under 10 days), moved earlier by a per-name jitter of
 * up to 1/50 of the lifetime so many certificates do not renew together.
 */
time_t sched_renew_point(time_t not_before, time_t not_after, const char *name);

/*
 * Delay after "failures" consecutive failures of certificate "name": 1 min,
 * 10 min, 100 min, then 6 h, each plus a jitter of up to a tenth that is
 * stable for the name and count (so a restart changes nothing).
 */
long sched_backoff(int failures, const char *name);


#define SCHED_NEVER ((time_t)INT64_MAX)

/*
 * When should renewalInfo be fetched for "row"?  SCHED_NEVER without a
 * certID, without a scheduled fetch, or once the certificate has expired.
 */
time_t sched_ari_fetch(const struct store_cert *row, time_t now);

/*
 * When is "row" (NULL: never issued) due?  "fingerprint" is the current
 * configuration's; "files_ok" says whether the installed files are there.
 */
time_t sched_due(const struct store_cert *row, const char *fingerprint,
    bool files_ok, enum sched_reason *ret_reason);

#endif
