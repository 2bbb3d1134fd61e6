/*
 * HTTPS requests through one reused libcurl handle (the only file that
 * includes <curl/curl.h>).  TLS verification is always on; a CA bundle may
 * be named to trust a test CA.  Only https:// URLs are fetched, redirects
 * are never followed, and bodies and headers are capped.
 */
#ifndef ACMED_HTTP_H
#define ACMED_HTTP_H

#include <stddef.h>

#define HTTP_BODY_MAX (1024 * 1024)
#define HTTP_HEADER_MAX 8192
#define HTTP_LINKS_MAX 8
#define HTTP_TIMEOUT_S 30L /* default limit on one request, in seconds */

struct http;

struct http_resp {
	long status;
	char *body; /* NUL-terminated copy of the body */
	size_t body_len;
	char *content_type;
	char *location;
	char *replay_nonce;
	char *retry_after;
	char *links[HTTP_LINKS_MAX]; /* raw Link header values */
	size_t nlinks;
};

/* "ca_bundle" may be NULL (system store).  Logs nothing. */
int http_new(const char *ca_bundle, struct http **ret);
void http_free(struct http *h);
/* Limit each request (connecting included) to "secs"; 0: the default. */
void http_set_timeout(struct http *h, unsigned secs);

/*
 * Send a request.  "method" is "GET", "HEAD" or "POST" (with "body" of
 * "content_type").  Returns 0 with a response of any status in "ret"
 * (http_resp_free()), -EAGAIN on transport failures (logged once with
 * curl's text), -E2BIG for an oversized answer, -EINVAL for a non-https URL.
 */
int http_request(struct http *h, const char *method, const char *url,
    const char *content_type, const char *body, size_t body_len,
    const char *accept, struct http_resp **ret);
void http_resp_free(struct http_resp *r);

/*
 * Take one raw header line ("Name: value\r\n", not NUL-terminated) into
 * "r": Replay-Nonce, Location, Content-Type, Retry-After (trimmed, the last
 * one wins) and up to HTTP_LINKS_MAX Link values; other lines are ignored,
 * and a status line ("HTTP/1.1 200 OK") forgets what came before it.
 * Returns 0, -E2BIG for a line over HTTP_HEADER_MAX, or -ENOMEM.  Pure;
 * the curl header callback and tests use it.
 */
int http_parse_header(struct http_resp *r, const char *line, size_t len);

/*
 * Collect the targets of Link header values (RFC 8288) whose rel list
 * contains "rel": "<url>;rel=\"alternate\", <url2>; rel=up".  Adds at most
 * "max" new strings to urls[*n] (caller frees).  Malformed values are
 * skipped.  Pure; used for alternate chains.
 */
int http_links(char *const *values, size_t nvalues, const char *rel,
    char **urls, size_t max, size_t *n);

#endif
