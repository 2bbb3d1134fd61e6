#include "acme.h"
#include "acme_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "clock.h"
#include "crypto.h"
#include "http.h"
#include "json.h"
#include "jws.h"
#include "log.h"

void
acme_order_free(struct acme_order *o)
{
	size_t i;

	if (o == NULL)
		return;
	free(o->url);
	for (i = 0; i < o->nauthzs; i++)
		free(o->authzs[i]);
	free(o->authzs);
	free(o->finalize);
	free(o->certificate);
	free(o->profile);
	free(o);
}

/* Update "o" from an order object (RFC 8555 7.1.3). */
static int
order_update(struct acme *a, struct acme_order *o, const struct json *j)
{
	const struct json *authzs = json_get(j, "authorizations");
	const char *profile = json_get_str(j, "profile");
	size_t i, n = json_array_len(authzs);
	int r;

	o->status = acme_status_from_string(json_get_str(j, "status"));
	if (o->status == ACME_UNKNOWN) {
		acme_fail(a, "order has no valid status");
		return -EPROTO;
	}
	if (o->authzs == NULL) {
		if (n == 0 || n > 100) {
			acme_fail(a, "order lists %zu authorizations", n);
			return -EPROTO;
		}
		if ((o->authzs = calloc(n, sizeof(char *))) == NULL)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			if ((r = acme_take_url(a, "authorization", json_str(json_array_at(authzs, i)), &o->authzs[i])) < 0)
				return r;
			o->nauthzs++;
		}
	}
	if ((r = acme_take_url(a, "finalize", json_get_str(j, "finalize"), &o->finalize)) < 0)
		return r;
	if (json_get_str(j, "certificate") != NULL &&
	    (r = acme_take_url(a, "certificate", json_get_str(j, "certificate"), &o->certificate)) < 0)
		return r;
	free(o->profile);
	o->profile = NULL;
	/* Shown in logs and state: the server's text, escaped. */
	if (profile != NULL && (o->profile = acme_dup_escaped(profile)) == NULL)
		return -ENOMEM;
	return 0;
}

/* RFC 8738: IP literals are "ip" identifiers. */
static bool
is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int
order_payload(char *const *names, size_t nnames, const char *profile,
    const char *replaces, char **ret)
{
	struct json *p = json_object_new(), *ids = json_array_new(), *id;
	int r = -ENOMEM;
	size_t i;

	if (p == NULL || ids == NULL)
		goto out;
	for (i = 0; i < nnames; i++) {
		bool ip = is_ip_literal(names[i]);

		if ((id = json_object_new()) == NULL)
			goto out;
		if (json_set_str(id, "type", ip ? "ip" : "dns") < 0 ||
		    json_set_str(id, "value", names[i]) < 0 || json_append(ids, id) < 0) {
			json_free(id);
			goto out;
		}
	}
	r = json_set(p, "identifiers", ids);
	ids = NULL;
	if (r < 0)
		goto out;
	/* Never "" or null: the key is present only for a real profile. */
	if (profile != NULL && (r = json_set_str(p, "profile", profile)) < 0)
		goto out;
	/* RFC 9773 5: only toward a CA with renewalInfo (the caller checks). */
	if (replaces != NULL && (r = json_set_str(p, "replaces", replaces)) < 0)
		goto out;
	r = -ENOMEM;
	if ((*ret = json_dump(p, false)) != NULL)
		r = 0;
out:
	json_free(ids);
	json_free(p);
	return r;
}

/*
 * RFC 9773 5 and common client practice: a newOrder that failed because of
 * "replaces" (alreadyReplaced, any 409, or a 4xx/500 naming it) is worth
 * exactly one retry without it.
 */
static bool
replaces_rejected(const struct http_resp *resp)
{
	struct problem p;

	if (resp->status == 409)
		return true;
	acme_parse_problem(resp, &p);
	if (strcmp(p.type, "alreadyReplaced") == 0)
		return true;
	if ((resp->status >= 400 && resp->status < 500) || resp->status == 500)
		return strstr(p.detail, "replace") != NULL || strstr(p.detail, "ARI") != NULL ||
		    strstr(p.detail, "renewalInfo") != NULL;
	return false;
}

int
acme_order_new(struct acme *a, char *const *names, size_t nnames,
    const char *profile, const char *replaces, struct acme_order **ret)
{
	struct http_resp *resp = NULL;
	struct acme_order *o = NULL;
	struct json *j = NULL;
	char *payload = NULL;
	int r;

	if (a->renewal_info == NULL)
		replaces = NULL;
	for (;;) {
		if ((r = order_payload(names, nnames, profile, replaces, &payload)) < 0)
			return r;
		if ((r = acme_post(a, a->new_order, payload, NULL, false, &resp)) < 0)
			goto out;
		if (resp->status == 201 || replaces == NULL || !replaces_rejected(resp))
			break;
		(void)acme_http_failure(a, "newOrder with replaces", resp);
		log_notice("%s: retrying the order once without \"replaces\"", acme_tls.subject);
		replaces = NULL;
		http_resp_free(resp);
		free(payload);
		resp = NULL;
		payload = NULL;
	}
	if (resp->status != 201) {
		r = acme_http_failure(a, "newOrder", resp);
		goto out;
	}
	if ((r = acme_parse_body(a, "newOrder", resp, &j)) < 0)
		goto out;
	r = -ENOMEM;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		goto out;
	if ((r = acme_take_url(a, "order", resp->location, &o->url)) < 0 ||
	    (r = order_update(a, o, j)) < 0)
		goto out;
	/* draft-ietf-acme-profiles: an order without the field is fine (Boulder). */
	if (profile != NULL && o->profile != NULL && strcmp(o->profile, profile) != 0) {
		acme_fail(a, "newOrder: asked for profile \"%s\" but the order is for \"%s\"", profile, o->profile);
		r = -EPROTO;
		goto out;
	}
	log_info("%s: order %s is %s%s%s", acme_tls.subject, o->url, acme_status_names[o->status],
	    o->profile != NULL ? ", profile " : "", o->profile != NULL ? o->profile : "");
	*ret = o;
	o = NULL;
	r = 0;
out:
	acme_order_free(o);
	json_free(j);
	http_resp_free(resp);
	free(payload);
	return r;
}

int
acme_order_fetch(struct acme *a, const char *url, struct acme_order **ret)
{
	struct http_resp *resp = NULL;
	struct acme_order *o = NULL;
	struct json *j = NULL;
	int r;

	if (!acme_url_ok(a, url))
		return -EINVAL;
	if ((r = acme_post(a, url, "", NULL, false, &resp)) < 0)
		return r;
	if (resp->status != 200) {
		r = acme_http_failure(a, "order", resp);
		goto out;
	}
	if ((r = acme_parse_body(a, "order", resp, &j)) < 0)
		goto out;
	r = -ENOMEM;
	if ((o = calloc(1, sizeof(*o))) == NULL || (o->url = strdup(url)) == NULL)
		goto out;
	if ((r = order_update(a, o, j)) < 0)
		goto out;
	*ret = o;
	o = NULL;
out:
	acme_order_free(o);
	json_free(j);
	http_resp_free(resp);
	return r;
}

bool
acme_has_ari(const struct acme *a)
{
	return a->renewal_info != NULL;
}

int
acme_renewal_info(struct acme *a, const char *cert_id, long *ret_status,
    char **ret_body, size_t *ret_len, long *ret_retry_after)
{
	struct http_resp *resp = NULL;
	size_t blen = strlen(a->renewal_info);
	char *url;
	int r;

	if (!acme_b64url_valid_id(cert_id))
		return -EINVAL;
	if ((url = malloc(blen + strlen(cert_id) + 2)) == NULL)
		return -ENOMEM;
	/* RFC 9773 4.1: exactly one "/" between base and certID. */
	sprintf(url, "%s%s%s", a->renewal_info, blen > 0 && a->renewal_info[blen - 1] == '/' ? "" : "/", cert_id);
	/* An unauthenticated GET: no JWS, no nonce. */
	r = acme_request(a, "GET", url, NULL, NULL, &resp);
	free(url);
	if (r < 0)
		return r;
	*ret_retry_after = -1;
	if (resp->retry_after != NULL && clock_parse_retry_after(resp->retry_after, clock_now(), ret_retry_after) < 0)
		*ret_retry_after = -1;
	*ret_status = resp->status;
	*ret_body = resp->body;
	*ret_len = resp->body_len;
	resp->body = NULL;
	http_resp_free(resp);
	return 0;
}

/*
 * The order's polling deadline: set at its first poll, so that
 * a->order_timeout bounds all of one order's waits together.
 */
static time_t
poll_deadline(const struct acme *a, struct acme_order *o)
{
	if (o->poll_deadline == 0)
		o->poll_deadline = clock_monotonic() + (time_t)a->order_timeout;
	return o->poll_deadline;
}

/*
 * Sleep for a poll round: the server's Retry-After, else a growing delay;
 * never past "deadline" (clock_monotonic()).
 */
static void
poll_sleep(const struct http_resp *resp, unsigned round, time_t deadline)
{
	struct timespec ts = {0};
	long secs = 0, left = (long)(deadline - clock_monotonic());

	if (resp->retry_after == NULL ||
	    clock_parse_retry_after(resp->retry_after, clock_now(), &secs) < 0)
		secs = round < 5 ? 1 : 3;
	if (secs < 1)
		secs = 1;
	if (secs > POLL_DELAY_MAX_S)
		secs = POLL_DELAY_MAX_S;
	if (secs > left)
		secs = left > 0 ? left : 0;
	ts.tv_sec = secs;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Before the first poll of an authorization or order: the CA has just been
 * asked to validate or to issue, which takes it a moment, and a poll
 * sooner is a request that cannot succeed yet (RFC 8555 is silent on it).
 */
static void
first_poll_wait(time_t deadline)
{
	struct timespec ts = {.tv_nsec = POLL_FIRST_MS * 1000000L};

	if (clock_monotonic() + 1 >= deadline)
		return;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* POST-as-GET an object; on 200 return its JSON and keep the response. */
static int
fetch(struct acme *a, const char *what, const char *url, struct json **ret,
    struct http_resp **ret_resp)
{
	struct http_resp *resp = NULL;
	int r;

	if ((r = acme_post(a, url, "", NULL, false, &resp)) < 0)
		return r;
	if (resp->status != 200)
		r = acme_http_failure(a, what, resp);
	else
		r = acme_parse_body(a, what, resp, ret);
	if (r < 0) {
		http_resp_free(resp);
		return r;
	}
	*ret_resp = resp;
	return 0;
}

/* Fail with an order's or challenge's error object and its subproblems. */
static void
log_error_object(struct acme *a, const char *what, const struct json *err)
{
	const char *type = json_get_str(err, "type"), *detail = json_get_str(err, "detail");
	char t[64], d[300];

	acme_note_problem(type);
	acme_fail(a, "%s: %s: %s", what, type != NULL ? log_escape(t, sizeof(t), type, strlen(type)) : "error",
	    detail != NULL ? log_escape(d, sizeof(d), detail, strlen(detail)) : "(no detail)");
	acme_log_subproblems(err);
}

/* The "status" of "j" for a message: escaped, or "unknown" when absent. */
static const char *
status_text(const struct json *j, char *buf, size_t size)
{
	const char *st = json_get_str(j, "status");

	return st != NULL ? log_escape(buf, size, st, strlen(st)) : "unknown";
}

/* Pick our challenge type from an authorization and check its token. */
static int
pick_challenge(struct acme *a, const struct json *authz, const char *type,
    const char **ret_url, const char **ret_token)
{
	const struct json *chs = json_get(authz, "challenges");
	size_t i;

	for (i = 0; i < json_array_len(chs); i++) {
		const struct json *ch = json_array_at(chs, i);
		const char *t = json_get_str(ch, "type"), *url, *token;

		if (t == NULL || strcmp(t, type) != 0)
			continue;
		url = json_get_str(ch, "url");
		token = json_get_str(ch, "token");
		if (acme_check_url(a, "challenge", url) < 0)
			return -EPROTO;
		/* RFC 8555 8.3: tokens are base64url; never trust them in paths otherwise. */
		if (token == NULL || strlen(token) > TOKEN_LEN_MAX || strlen(token) < 16 || !b64url_valid(token)) {
			acme_fail(a, "challenge token is missing or not base64url");
			return -EPROTO;
		}
		*ret_url = url;
		*ret_token = token;
		return 0;
	}
	acme_fail(a, "the CA offers no %s challenge for this name", type);
	return -EACCES;
}

/* Poll an authorization of "o" until it leaves pending/processing. */
static int
authz_wait(struct acme *a, struct acme_order *o, const char *url, const char *name)
{
	struct http_resp *resp = NULL;
	struct json *j = NULL;
	time_t deadline = poll_deadline(a, o);
	enum acme_status st;
	char stbuf[64];
	unsigned round;
	int r = -ETIMEDOUT;

	first_poll_wait(deadline);
	for (round = 0; clock_monotonic() < deadline; round++) {
		if ((r = fetch(a, "authorization", url, &j, &resp)) < 0)
			return r;
		st = acme_status_from_string(json_get_str(j, "status"));
		if (st == ACME_VALID) {
			r = 0;
			break;
		}
		if (st != ACME_PENDING && st != ACME_PROCESSING) {
			const struct json *chs = json_get(j, "challenges");
			size_t i;

			r = -EACCES;
			acme_fail(a, "%s: authorization is %s", name, status_text(j, stbuf, sizeof(stbuf)));
			for (i = 0; i < json_array_len(chs); i++)
				if (json_get(json_array_at(chs, i), "error") != NULL)
					log_error_object(a, name, json_get(json_array_at(chs, i), "error"));
			break;
		}
		poll_sleep(resp, round, deadline);
		json_free(j);
		http_resp_free(resp);
		j = NULL;
		resp = NULL;
		r = -ETIMEDOUT;
	}
	if (r == -ETIMEDOUT)
		acme_fail(a, "%s: authorization still pending after %u s", name, a->order_timeout);
	json_free(j);
	http_resp_free(resp);
	return r;
}

static int
authorize_one(struct acme *a, struct acme_order *o, const char *url,
    const struct acme_solver *s)
{
	struct http_resp *resp = NULL, *cresp = NULL;
	struct json *j = NULL, *cj = NULL;
	const char *name, *curl, *token;
	char *keyauth = NULL, *tok = NULL, esc[300], stbuf[64];
	enum acme_status st;
	int r;

	if ((r = fetch(a, "authorization", url, &j, &resp)) < 0)
		return r;
	name = json_get_str(json_get(j, "identifier"), "value");
	/* RFC 8555 7.1.4: a wildcard's authorization names the base domain. */
	snprintf(esc, sizeof(esc), "%s", json_get_bool(j, "wildcard") == 1 ? "*." : "");
	log_escape(esc + strlen(esc), sizeof(esc) - strlen(esc), name != NULL ? name : "?", name != NULL ? strlen(name) : 1);
	st = acme_status_from_string(json_get_str(j, "status"));
	if (st == ACME_VALID) {
		log_info("%s: %s: authorization already valid", acme_tls.subject, esc);
		r = 0;
		goto out;
	}
	if (st != ACME_PENDING) {
		acme_fail(a, "%s: authorization is %s", esc, status_text(j, stbuf, sizeof(stbuf)));
		r = -EACCES;
		goto out;
	}
	if ((r = pick_challenge(a, j, s->type, &curl, &token)) < 0)
		goto out;
	r = -ENOMEM;
	if ((tok = strdup(token)) == NULL)
		goto out;
	if ((r = jws_key_authorization(a->key, token, &keyauth)) < 0)
		goto out;
	if ((r = s->present(s->arg, name, tok, keyauth)) < 0) {
		acme_fail(a, "%s: cannot present the %s response", esc, s->type);
		goto out;
	}
	/* RFC 8555 7.5.1: the response is an empty JSON object. */
	r = acme_post(a, curl, "{}", NULL, false, &cresp);
	if (r == 0 && cresp->status != 200)
		r = acme_http_failure(a, "challenge", cresp);
	/*
	 * The answer is the updated challenge (RFC 8555 7.5.1).  Anything else
	 * means the CA may never have seen our response: waiting for the
	 * authorization would only run into the poll deadline.
	 */
	if (r == 0 && (r = acme_parse_body(a, "challenge", cresp, &cj)) == 0)
		json_free(cj);
	if (r == 0)
		r = authz_wait(a, o, url, esc);
	s->cleanup(s->arg, tok);
	if (r == 0)
		log_info("%s: %s: authorization valid", acme_tls.subject, esc);
out:
	free(keyauth);
	free(tok);
	json_free(j);
	http_resp_free(resp);
	http_resp_free(cresp);
	return r;
}

int
acme_order_authorize(struct acme *a, struct acme_order *o,
    const struct acme_solver *solver)
{
	size_t i;
	int r;

	if (o->status != ACME_PENDING)
		return 0;
	for (i = 0; i < o->nauthzs; i++)
		if ((r = authorize_one(a, o, o->authzs[i], solver)) < 0)
			return r;
	/*
	 * RFC 8555 7.1.6: with every authorization valid the order is
	 * "ready"; finalize without fetching it first.  A CA that disagrees
	 * answers orderNotReady, and acme_order_finalize() waits and retries.
	 */
	o->status = ACME_READY;
	return 0;
}

/* Refresh the order and wait while it is pending or processing. */
static int
order_wait(struct acme *a, struct acme_order *o, enum acme_status until)
{
	struct http_resp *resp = NULL;
	struct json *j = NULL;
	time_t deadline = poll_deadline(a, o);
	unsigned round;
	int r;

	first_poll_wait(deadline);
	for (round = 0; clock_monotonic() < deadline; round++) {
		if ((r = fetch(a, "order", o->url, &j, &resp)) < 0)
			return r;
		r = order_update(a, o, j);
		if (r == 0 && o->status == ACME_INVALID) {
			if (json_get(j, "error") != NULL)
				log_error_object(a, "order", json_get(j, "error"));
			else
				acme_fail(a, "order %s became invalid", o->url);
			r = -EACCES;
		}
		json_free(j);
		j = NULL;
		if (r < 0 || o->status == until || o->status == ACME_VALID) {
			http_resp_free(resp);
			return r;
		}
		poll_sleep(resp, round, deadline);
		http_resp_free(resp);
		resp = NULL;
	}
	acme_fail(a, "order %s did not settle within %u s", o->url, a->order_timeout);
	return -ETIMEDOUT;
}

int
acme_order_finalize(struct acme *a, struct acme_order *o,
    const unsigned char *csr, size_t csr_len)
{
	struct http_resp *resp = NULL;
	struct json *p = NULL, *j = NULL;
	char *csr64 = NULL, *payload = NULL;
	struct problem pr;
	unsigned tries;
	int r;

	if (o->status == ACME_PENDING || o->status == ACME_PROCESSING) {
		if ((r = order_wait(a, o, ACME_READY)) < 0)
			return r;
	}
	if ((r = b64url_encode(csr, csr_len, &csr64)) < 0)
		return r;
	r = -ENOMEM;
	if ((p = json_object_new()) == NULL || json_set_str(p, "csr", csr64) < 0 ||
	    (payload = json_dump(p, false)) == NULL)
		goto out;
	for (tries = 0; o->status == ACME_READY && tries < FINALIZE_TRIES; tries++) {
		if ((r = acme_post(a, o->finalize, payload, NULL, false, &resp)) < 0)
			goto out;
		if (resp->status == 200) {
			if ((r = acme_parse_body(a, "finalize", resp, &j)) < 0 || (r = order_update(a, o, j)) < 0)
				goto out;
			break;
		}
		acme_parse_problem(resp, &pr);
		if (resp->status != 403 || strcmp(pr.type, "orderNotReady") != 0) {
			r = acme_http_failure(a, "finalize", resp);
			goto out;
		}
		/* RFC 8555 7.4: not ready yet; wait until it is, then retry. */
		http_resp_free(resp);
		resp = NULL;
		if ((r = order_wait(a, o, ACME_READY)) < 0)
			goto out;
	}
	if (o->status != ACME_VALID && (r = order_wait(a, o, ACME_VALID)) < 0)
		goto out;
	if (o->status != ACME_VALID || o->certificate == NULL) {
		acme_fail(a, "order %s is %s without a certificate", o->url, o->status < ACME_UNKNOWN ? acme_status_names[o->status] : "unknown");
		r = -EPROTO;
		goto out;
	}
	r = 0;
out:
	free(csr64);
	free(payload);
	json_free(p);
	json_free(j);
	http_resp_free(resp);
	return r;
}

int
acme_download(struct acme *a, const char *url, char **ret, size_t *ret_len,
    struct acme_alternates *alts)
{
	struct http_resp *resp = NULL;
	char *links[ACME_ALTERNATES_MAX];
	size_t n = 0, i;
	int r;

	if ((r = acme_post(a, url, "", "application/pem-certificate-chain", false, &resp)) < 0)
		return r;
	if (resp->status != 200) {
		r = acme_http_failure(a, "certificate download", resp);
		http_resp_free(resp);
		return r;
	}
	if (alts != NULL) {
		if ((r = http_links(resp->links, resp->nlinks, "alternate", links, ACME_ALTERNATES_MAX, &n)) < 0) {
			http_resp_free(resp);
			return r;
		}
		for (i = 0; i < n; i++) {
			if (acme_url_ok(a, links[i]) && alts->n < ACME_ALTERNATES_MAX)
				alts->urls[alts->n++] = links[i];
			else
				free(links[i]);
		}
	}
	*ret = resp->body;
	*ret_len = resp->body_len;
	resp->body = NULL;
	http_resp_free(resp);
	return 0;
}

void
acme_alternates_fini(struct acme_alternates *alts)
{
	size_t i;

	for (i = 0; i < alts->n; i++)
		free(alts->urls[i]);
	alts->n = 0;
}
