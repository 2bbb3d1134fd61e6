/*
 * Response header parsing (daemon/http.c) and what the client makes of the
 * values: the input is a raw header block, split into lines that go through
 * http_parse_header() as curl would hand them over; then Link values
 * through http_links() (alternate and up), Retry-After through
 * clock_parse_retry_after(), Location through acme_url_ok() and
 * Replay-Nonce through the base64url check acme.c applies.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme_int.h"
#include "b64.h"
#include "clock.h"
#include "fuzz.h"
#include "http.h"

#define NOW 1800000000L

static void
check_links(const struct http_resp *r, const char *rel)
{
	char *urls[HTTP_LINKS_MAX + 1] = {NULL};
	size_t n = 0, i;

	if (http_links(r->links, r->nlinks, rel, urls, HTTP_LINKS_MAX, &n) < 0)
		return;
	if (n > HTTP_LINKS_MAX)
		abort();
	for (i = 0; i < n; i++) {
		if (urls[i] == NULL || strchr(urls[i], '>') != NULL)
			abort();
		free(urls[i]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char origin[] = "https://ca.test";
	struct acme a = {.origin = origin};
	struct http_resp r = {0};
	const uint8_t *p = data, *end = data + size, *nl;
	unsigned char *raw;
	size_t i, raw_len;
	long secs;

	fuzz_quiet_logs();
	/* One call per line, the newline included (curl's contract). */
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl != NULL ? nl + 1 : end;
		if (http_parse_header(&r, (const char *)p, (size_t)(nl - p)) < 0 &&
		    (size_t)(nl - p) <= HTTP_HEADER_MAX)
			abort(); /* only the cap may refuse a line */
		p = nl;
	}
	if (r.nlinks > HTTP_LINKS_MAX)
		abort();
	check_links(&r, "alternate");
	check_links(&r, "up");
	if (r.retry_after != NULL && clock_parse_retry_after(r.retry_after, NOW, &secs) == 0 && secs < 0)
		abort();
	if (r.location != NULL && acme_url_ok(&a, r.location) &&
	    (strncmp(r.location, "https://ca.test/", 16) != 0 || strlen(r.location) > URL_LEN_MAX))
		abort();
	if (r.replay_nonce != NULL && b64url_valid(r.replay_nonce) &&
	    b64url_decode(r.replay_nonce, &raw, &raw_len) == 0)
		free(raw);
	free(r.body);
	free(r.content_type);
	free(r.location);
	free(r.replay_nonce);
	free(r.retry_after);
	for (i = 0; i < r.nlinks; i++)
		free(r.links[i]);
	return 0;
}
