/*
 * ACME Renewal Information (RFC 9773), the pure parts: the certificate
 * identifier, the suggested-window document, the choice of a renewal time
 * within it, and the polling interval rules.  No I/O, no clock.
 */
#ifndef ACMED_ARI_H
#define ACMED_ARI_H

#include <stddef.h>
#include <time.h>

#define ARI_RETRY_MIN 60            /* RFC 9773 4.3: clamp Retry-After ... */
#define ARI_RETRY_MAX (24 * 3600)   /* ... to [1 min, 1 day] */
#define ARI_LONG_TERM (6 * 3600)    /* after long-term errors */
#define ARI_EXPLANATION_MAX 300

struct ari_window {
	time_t start;
	time_t end;
	char explanation[ARI_EXPLANATION_MAX]; /* escaped, may be "" */
};

/*
 * certID = base64url(AKI keyIdentifier) "." base64url(serial), where the
 * serial is the DER INTEGER's content octets including any 0x00 sign byte
 * (RFC 9773 4.1).  No padding.
 */
int ari_cert_id(const unsigned char *aki, size_t aki_len,
    const unsigned char *serial, size_t serial_len, char **ret);

/*
 * Parse a renewalInfo response body.  Returns 0, or -EINVAL for bad JSON,
 * a missing or unparsable window, or end <= start (a "long-term error").
 */
int ari_parse(const char *body, size_t len, struct ari_window *ret);

/* A time uniformly chosen in [start, end) from a random value. */
time_t ari_choose(const struct ari_window *w, unsigned long long random);

/* Next poll delay from a Retry-After in seconds (< 0: none sent). */
long ari_poll_delay(long retry_after);

/* Delay after "failures" consecutive temporary errors (5xx, timeouts). */
long ari_error_delay(int failures);

#endif
