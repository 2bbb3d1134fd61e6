#include "solve.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"
#include "alpn.h"
#include "b64.h"
#include "cfg.h"
#include "challenge.h"
#include "crypto.h"
#include "hook.h"
#include "log.h"

#define RESPONDERS_MAX 16
#define TOKEN_COPY_MAX 260

/* Built-in responders, started on first use and shared by a pass. */
struct solvers {
	struct http01 *responders[RESPONDERS_MAX];
	size_t nresponders;
	struct alpn *alpns[RESPONDERS_MAX];
	size_t nalpns;
};

#define DNS_PENDING_MAX 100

/* What the solver needs for one certificate. */
struct solve {
	const struct cfg_cert *c;
	unsigned hook_timeout; /* seconds, for the dns-01 hook */
	struct http01 *responder;
	struct alpn *alpn;
	/* dns-01: what was added, per token, so it can be removed again. */
	struct {
		char token[TOKEN_COPY_MAX];
		char name[300];
		char value[64];
	} dns[DNS_PENDING_MAX];
	size_t ndns;
};

static struct http01 *
responder_get(struct solvers *p, const char *listen_addr)
{
	struct http01 *h;
	size_t i;

	for (i = 0; i < p->nresponders; i++)
		if (strcmp(http01_address(p->responders[i]), listen_addr) == 0)
			return p->responders[i];
	if (p->nresponders == RESPONDERS_MAX || http01_start(listen_addr, &h) < 0)
		return NULL;
	p->responders[p->nresponders++] = h;
	return h;
}

/*
 * The server names the identifier of each authorization; act only on one
 * we asked for (its wildcard base counts), never on arbitrary text.
 */
static bool
ours(const struct cfg_cert *c, const char *identifier)
{
	size_t i;

	for (i = 0; identifier != NULL && i < c->ndomains; i++) {
		const char *d = c->domains[i];

		if (strncmp(d, "*.", 2) == 0)
			d += 2;
		if (strcmp(d, identifier) == 0)
			return true;
	}
	return false;
}

/* Run the dns-01 hook: argv + ACTION NAME VALUE, with ACMED_* variables. */
static int
dns_hook(const struct cfg_cert *c, unsigned timeout, const char *action,
    const char *domain, const char *name, const char *value)
{
	char *argv[CFG_HOOK_ARGS_MAX + 4], vars[5][400], *env[6];
	size_t i, n = c->ndns_hook < CFG_HOOK_ARGS_MAX ? c->ndns_hook : CFG_HOOK_ARGS_MAX;
	int status = -1, r;

	for (i = 0; i < n; i++)
		argv[i] = c->dns_hook[i];
	snprintf(vars[0], sizeof(vars[0]), "ACMED_CERT_NAME=%s", c->name);
	snprintf(vars[1], sizeof(vars[1]), "ACMED_CHALLENGE_ACTION=%s", action);
	snprintf(vars[2], sizeof(vars[2]), "ACMED_CHALLENGE_DOMAIN=%s", domain);
	snprintf(vars[3], sizeof(vars[3]), "ACMED_TXT_NAME=%s", name);
	snprintf(vars[4], sizeof(vars[4]), "ACMED_TXT_VALUE=%s", value);
	for (i = 0; i < 5; i++)
		env[i] = vars[i];
	env[5] = NULL;
	argv[n] = vars[1] + strlen("ACMED_CHALLENGE_ACTION=");
	argv[n + 1] = vars[3] + strlen("ACMED_TXT_NAME=");
	argv[n + 2] = vars[4] + strlen("ACMED_TXT_VALUE=");
	argv[n + 3] = NULL;
	if ((r = hook_run(c->name, argv, env, (int)timeout, &status)) < 0)
		return r;
	return status == 0 ? 0 : -EIO;
}

static int
solve_present(void *arg, const char *identifier, const char *token,
    const char *keyauth)
{
	struct solve *s = arg;
	unsigned char digest[32];
	char *value;
	int r;

	if (!ours(s->c, identifier)) {
		log_err("%s: the CA asks to validate \"%s\", which this certificate does not name", s->c->name, identifier != NULL ? identifier : "?");
		return -EPROTO;
	}
	if (s->responder != NULL && (r = http01_add(s->responder, token, keyauth)) < 0)
		return r;
	if (s->c->webroot != NULL && strcmp(s->c->challenge_type, "http-01") == 0 &&
	    (r = webroot_put(s->c->webroot, token, keyauth)) < 0)
		return r;
	if (s->alpn != NULL && (r = alpn_add(s->alpn, identifier, keyauth)) < 0)
		return r;
	if (strcmp(s->c->challenge_type, "dns-01") == 0) {
		/* RFC 8555 8.4: TXT _acme-challenge.<domain> = b64url(SHA-256(keyAuth)). */
		if (s->ndns == DNS_PENDING_MAX || strlen(token) >= TOKEN_COPY_MAX)
			return -ENOSPC;
		crypto_sha256(keyauth, strlen(keyauth), digest);
		if ((r = b64url_encode(digest, sizeof(digest), &value)) < 0)
			return r;
		snprintf(s->dns[s->ndns].token, sizeof(s->dns[0].token), "%s", token);
		snprintf(s->dns[s->ndns].name, sizeof(s->dns[0].name), "_acme-challenge.%s", identifier);
		snprintf(s->dns[s->ndns].value, sizeof(s->dns[0].value), "%s", value);
		free(value);
		r = dns_hook(s->c, s->hook_timeout, "add", identifier, s->dns[s->ndns].name, s->dns[s->ndns].value);
		s->ndns++;
		if (r < 0)
			return r;
	}
	return 0;
}

static void
solve_cleanup(void *arg, const char *token)
{
	struct solve *s = arg;
	size_t i;

	if (s->responder != NULL)
		http01_remove(s->responder, token);
	if (s->c->webroot != NULL)
		webroot_remove(s->c->webroot, token);
	for (i = 0; i < s->ndns; i++)
		if (strcmp(s->dns[i].token, token) == 0) {
			(void)dns_hook(s->c, s->hook_timeout, "remove", s->dns[i].name + strlen("_acme-challenge."), s->dns[i].name, s->dns[i].value);
			s->dns[i] = s->dns[--s->ndns];
			break;
		}
}

static struct alpn *
alpn_get(struct solvers *p, const char *listen_addr)
{
	struct alpn *a;
	size_t i;

	for (i = 0; i < p->nalpns; i++)
		if (strcmp(alpn_address(p->alpns[i]), listen_addr) == 0)
			return p->alpns[i];
	if (p->nalpns == RESPONDERS_MAX || alpn_start(listen_addr, &a) < 0)
		return NULL;
	p->alpns[p->nalpns++] = a;
	return a;
}


int
solve_begin(struct solvers **reg, pthread_mutex_t *lock,
    const struct cfg_cert *c, unsigned hook_timeout, struct acme_solver *ret)
{
	struct solve *s;
	int r = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->c = c;
	s->hook_timeout = hook_timeout;
	pthread_mutex_lock(lock);
	if (*reg == NULL && (*reg = calloc(1, sizeof(**reg))) == NULL)
		r = -ENOMEM;
	else if (strcmp(c->challenge_type, "http-01") == 0 && c->http_listen != NULL &&
	    (s->responder = responder_get(*reg, c->http_listen)) == NULL) {
		log_err("%s: cannot start the http-01 responder on %s", c->name, c->http_listen);
		r = -EADDRINUSE;
	} else if (strcmp(c->challenge_type, "tls-alpn-01") == 0 && (s->alpn = alpn_get(*reg, c->http_listen)) == NULL) {
		log_err("%s: cannot start the tls-alpn-01 responder on %s", c->name, c->http_listen);
		r = -EADDRINUSE;
	}
	pthread_mutex_unlock(lock);
	if (r < 0) {
		free(s);
		return r;
	}
	ret->type = c->challenge_type;
	ret->present = solve_present;
	ret->cleanup = solve_cleanup;
	ret->arg = s;
	return 0;
}

void
solve_end(struct acme_solver *solver)
{
	free(solver->arg);
	solver->arg = NULL;
}

void
solvers_free(struct solvers *reg)
{
	size_t i;

	if (reg == NULL)
		return;
	for (i = 0; i < reg->nresponders; i++)
		http01_stop(reg->responders[i]);
	for (i = 0; i < reg->nalpns; i++)
		alpn_stop(reg->alpns[i]);
	free(reg);
}
