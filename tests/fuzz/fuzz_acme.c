/*
 * The ACME client (daemon/acme.c, daemon/acme_order.c) against a hostile
 * CA: every HTTP answer comes from the fuzz input.  http_request() is
 * replaced at link time (-Wl,--wrap=http_request) by a fake that hands out
 * the input's responses in order, with the headers going through the real
 * http_parse_header(); nanosleep() is wrapped too, so that poll loops do
 * not wait.  The client then runs a whole renewal: directory, account,
 * order (new or resumed), authorizations and challenges, finalize,
 * download with alternate chains, renewalInfo, key change and revocation.
 *
 * Input: one flags byte, then responses separated by "\n====\n".  A
 * response is a status line ("201"), header lines, an empty line and the
 * body.  A response without Replay-Nonce gets a valid one, so that inputs
 * need not answer HEAD newNonce all the time.  When the responses run out
 * the fake reports a transport failure, which ends every loop.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme.h"
#include "acme_int.h"
#include "ari.h"
#include "crypto.h"
#include "fuzz.h"
#include "http.h"

#define SEP "\n====\n"
#define DIR_URL "https://ca.test/dir"
#define CERT_ID "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"

enum {
	F_KNOWN_ACCOUNT = 1 << 0, /* resume a known account (onlyReturnExisting) */
	F_FETCH_ORDER = 1 << 1,   /* resume an order instead of newOrder */
	F_PROFILE = 1 << 2,       /* ask for a profile */
	F_ARI = 1 << 3,           /* renewalInfo before the order */
	F_KEY_CHANGE = 1 << 4,
	F_REVOKE = 1 << 5,
	F_REVOKE_CERT_KEY = 1 << 6, /* revoke signed by the certificate key */
	F_EAB = 1 << 7,
};

int __wrap_http_request(struct http *h, const char *method, const char *url,
    const char *content_type, const char *body, size_t body_len,
    const char *accept, struct http_resp **ret);
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem);

/* The responses not yet handed out. */
static const char *feed;
static size_t feed_len;

static char name1[] = "example.org", name2[] = "*.example.org";
static char *names[] = {name1, name2};
static char contact1[] = "mailto:admin@example.org";
static char *contact[] = {contact1};
static struct key *key1, *key2;
static unsigned char *csr;
static size_t csr_len;

static void
setup(void)
{
	if (key1 != NULL)
		return;
	if (crypto_key_generate(KEY_EC_P256, &key1) < 0 ||
	    crypto_key_generate(KEY_EC_P256, &key2) < 0 ||
	    crypto_csr(key2, names, 2, &csr, &csr_len) < 0)
		abort();
}

/* Next response: status line, headers through http_parse_header(), body. */
static int
next_response(struct http_resp *r)
{
	const char *end, *p, *nl, *chunk = feed;
	size_t n, len;

	if (feed == NULL)
		return -EAGAIN;
	end = memmem(feed, feed_len, SEP, strlen(SEP));
	len = end != NULL ? (size_t)(end - feed) : feed_len;
	if (end != NULL) {
		feed_len -= len + strlen(SEP);
		feed = end + strlen(SEP);
	} else {
		feed = NULL;
	}
	/* The input is not NUL-terminated: read the status digits by hand. */
	for (p = chunk; p < chunk + len && p < chunk + 3 && *p >= '0' && *p <= '9'; p++)
		r->status = r->status * 10 + (*p - '0');
	p = memchr(chunk, '\n', len);
	p = p != NULL ? p + 1 : chunk + len;
	/* Header lines until an empty one, each handed over with its CRLF. */
	while (p < chunk + len && *p != '\n') {
		char *line;
		int e;

		nl = memchr(p, '\n', (size_t)(chunk + len - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(chunk + len - p);
		if ((line = malloc(n + 2)) == NULL)
			return -ENOMEM;
		memcpy(line, p, n);
		memcpy(line + n, "\r\n", 2);
		e = http_parse_header(r, line, n + 2);
		free(line);
		if (e < 0)
			return e;
		p = nl != NULL ? nl + 1 : chunk + len;
	}
	if (p < chunk + len)
		p++; /* the empty line */
	n = (size_t)(chunk + len - p);
	if (n > HTTP_BODY_MAX)
		return -E2BIG;
	if ((r->body = malloc(n + 1)) == NULL)
		return -ENOMEM;
	memcpy(r->body, p, n);
	r->body[n] = '\0';
	r->body_len = n;
	if (r->replay_nonce == NULL && (r->replay_nonce = strdup("fuzzNonce_0123456789")) == NULL)
		return -ENOMEM;
	return 0;
}

/* The contract of the real http_request(), over the fuzz input. */
int
__wrap_http_request(struct http *h, const char *method, const char *url,
    const char *content_type, const char *body, size_t body_len,
    const char *accept, struct http_resp **ret)
{
	struct http_resp *r;
	int e;

	(void)h;
	(void)content_type;
	(void)accept;
	if (url == NULL || method == NULL || (strcmp(method, "POST") == 0) != (body != NULL))
		abort(); /* the client never does this to the real one */
	if (body != NULL && strlen(body) != body_len)
		abort();
	if (strncmp(url, "https://", 8) != 0)
		return -EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	if ((e = next_response(r)) < 0) {
		http_resp_free(r);
		return e;
	}
	*ret = r;
	return 0;
}

int
__wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec > 999999999L)
		abort();
	(void)rem;
	return 0;
}

static int
present(void *arg, const char *identifier, const char *token,
    const char *key_authorization)
{
	(void)arg;
	(void)identifier;
	/* What a webroot or the responder relies on (RFC 8555 8.1, 8.3). */
	if (strchr(token, '/') != NULL || strchr(token, '.') != NULL ||
	    strncmp(key_authorization, token, strlen(token)) != 0 ||
	    key_authorization[strlen(token)] != '.')
		abort();
	return 0;
}

static void
cleanup(void *arg, const char *token)
{
	(void)arg;
	(void)token;
}

static void
order_steps(struct acme *a, unsigned flags)
{
	const struct acme_solver solver = {"http-01", present, cleanup, NULL};
	struct acme_alternates alts = {.n = 0};
	struct acme_order *o = NULL;
	char *pem = NULL, *alt_pem;
	size_t pem_len, alt_len, i;
	int r;

	if (flags & F_FETCH_ORDER)
		r = acme_order_fetch(a, "https://ca.test/order/1", &o);
	else
		r = acme_order_new(a, names, 2, flags & F_PROFILE ? "shortlived" : NULL, CERT_ID, &o);
	if (r < 0)
		return;
	if (o->url == NULL || o->nauthzs == 0 || o->finalize == NULL)
		abort();
	if (acme_order_authorize(a, o, &solver) == 0 && acme_order_finalize(a, o, csr, csr_len) == 0) {
		if (o->certificate == NULL || o->status != ACME_VALID)
			abort();
		if (acme_download(a, o->certificate, &pem, &pem_len, &alts) == 0) {
			for (i = 0; i < alts.n; i++)
				if (acme_download(a, alts.urls[i], &alt_pem, &alt_len, NULL) == 0)
					free(alt_pem);
			free(pem);
		}
		acme_alternates_fini(&alts);
	}
	acme_order_free(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char mac[] = "0123456789abcdef0123456789abcdef";
	struct ari_window w;
	struct acme *a = NULL;
	unsigned flags;
	long status, ra;
	char *body;
	size_t len;

	if (size < 1)
		return 0;
	fuzz_quiet_logs();
	setup();
	flags = data[0];
	feed = (const char *)data + 1;
	feed_len = size - 1;
	if (acme_new(DIR_URL, NULL, &a) < 0)
		abort();
	acme_set_subject(a, "fuzz");
	if (flags & F_EAB)
		acme_set_eab(a, "kid-1", mac, sizeof(mac) - 1);
	if (acme_load_directory(a) < 0)
		goto out;
	if (acme_account(a, key1, contact, 1, flags & F_KNOWN_ACCOUNT ? "https://ca.test/acct/1" : NULL) < 0)
		goto out;
	if (acme_account_url(a) == NULL || !acme_url_ok(a, acme_account_url(a)))
		abort();
	if ((flags & F_ARI) && acme_has_ari(a) &&
	    acme_renewal_info(a, CERT_ID, &status, &body, &len, &ra) == 0) {
		if (status == 200 && ari_parse(body, len, &w) == 0 && w.end <= w.start)
			abort();
		free(body);
	}
	order_steps(a, flags);
	if (flags & F_KEY_CHANGE)
		(void)acme_key_change(a, key2);
	if (flags & F_REVOKE)
		(void)acme_revoke(a, csr, csr_len, 4, flags & F_REVOKE_CERT_KEY ? key2 : NULL);
out:
	acme_free(a);
	feed = NULL;
	return 0;
}
