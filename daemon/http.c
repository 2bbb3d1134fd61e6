#include "http.h"

#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Calls go through "cu" below; curl.h's type-checking macros would not. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "log.h"

#define HTTP_CONNECT_TIMEOUT_S 10L
#ifndef HTTP_LIBCURL
#define HTTP_LIBCURL "libcurl.so.4" /* the SONAME of libcurl 7 and 8 */
#endif
#define USER_AGENT "acmed/0.1"

struct http {
	CURL *curl;
	char *ca_bundle;
	long timeout_s; /* whole request, connection included */
};

struct sink {
	struct http_resp *resp;
	size_t cap_hit;
};

/*
 * libcurl is opened with the first handle (dlopen), not linked: "acmed
 * run", which never talks to a CA, and the commands that only read the
 * state then do not load it and the thirty-odd libraries it pulls in
 * (GnuTLS, Kerberos, LDAP, ...), about 4 MB of resident memory (make bench).
 * These are the entry points used, resolved once per process.
 */
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} cu;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_status = CURLE_FAILED_INIT;

/* Store dlsym()'s object pointer in a function pointer (POSIX allows it). */
static bool
sym(void *lib, const char *name, void *fn, size_t size)
{
	void *p = dlsym(lib, name);

	if (p == NULL || size != sizeof(p))
		return false;
	memcpy(fn, &p, size);
	return true;
}

#define SYM(lib, field) sym(lib, "curl_" #field, &cu.field, sizeof(cu.field))

static void
global_init(void)
{
	void *lib = dlopen(HTTP_LIBCURL, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		log_err("cannot load %s: %s", HTTP_LIBCURL, dlerror());
		return;
	}
	if (!SYM(lib, global_init) || !SYM(lib, easy_init) || !SYM(lib, easy_cleanup) || !SYM(lib, easy_reset) ||
	    !SYM(lib, easy_setopt) || !SYM(lib, easy_perform) || !SYM(lib, easy_getinfo) ||
	    !SYM(lib, easy_strerror) || !SYM(lib, slist_append) || !SYM(lib, slist_free_all)) {
		log_err("%s lacks a libcurl entry point", HTTP_LIBCURL);
		return;
	}
	global_status = cu.global_init(CURL_GLOBAL_DEFAULT);
}

/* Threads of a pass make handles as they need them: init curl once. */
int
http_new(const char *ca_bundle, struct http **ret)
{
	struct http *h;

	pthread_once(&global_once, global_init);
	if (global_status != CURLE_OK)
		return -ENOMEM;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->timeout_s = HTTP_TIMEOUT_S;
	if ((h->curl = cu.easy_init()) == NULL ||
	    (ca_bundle != NULL && (h->ca_bundle = strdup(ca_bundle)) == NULL)) {
		http_free(h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

void
http_set_timeout(struct http *h, unsigned secs)
{
	h->timeout_s = secs > 0 ? (long)secs : HTTP_TIMEOUT_S;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		cu.easy_cleanup(h->curl);
	free(h->ca_bundle);
	free(h);
}

void
http_resp_free(struct http_resp *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->body);
	free(r->content_type);
	free(r->location);
	free(r->replay_nonce);
	free(r->retry_after);
	for (i = 0; i < r->nlinks; i++)
		free(r->links[i]);
	free(r);
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	struct http_resp *r = s->resp;
	size_t n = size * nmemb;
	char *grown;

	if (r->body_len + n > HTTP_BODY_MAX) {
		s->cap_hit = 1;
		return 0; /* abort the transfer */
	}
	if ((grown = realloc(r->body, r->body_len + n + 1)) == NULL)
		return 0;
	r->body = grown;
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

/* libcurl's own sockets lack FD_CLOEXEC; ours are born with it. */
static curl_socket_t
open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	(void)arg;
	(void)purpose;
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* Keep a header value, trimmed; the last occurrence wins. */
static int
keep(char **dst, const char *v, size_t len)
{
	char *s;

	while (len > 0 && isspace((unsigned char)*v)) {
		v++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)v[len - 1]))
		len--;
	if ((s = strndup(v, len)) == NULL)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* Forget the headers of an interim (1xx) response. */
static void
clear_headers(struct http_resp *r)
{
	char **fields[] = {&r->content_type, &r->location, &r->replay_nonce, &r->retry_after};
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		free(*fields[i]);
		*fields[i] = NULL;
	}
	for (i = 0; i < r->nlinks; i++)
		free(r->links[i]);
	r->nlinks = 0;
}

int
http_parse_header(struct http_resp *r, const char *line, size_t len)
{
	const char *colon;
	size_t klen;
	int e = 0;

	if (len > HTTP_HEADER_MAX)
		return -E2BIG;
	/* A new status line (after 100 Continue) starts a fresh header set. */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		clear_headers(r);
		return 0;
	}
	if ((colon = memchr(line, ':', len)) == NULL)
		return 0;
	klen = (size_t)(colon - line);
	colon++;
#define IS(name) (klen == strlen(name) && strncasecmp(line, name, klen) == 0)
	if (IS("Replay-Nonce"))
		e = keep(&r->replay_nonce, colon, len - klen - 1);
	else if (IS("Location"))
		e = keep(&r->location, colon, len - klen - 1);
	else if (IS("Content-Type"))
		e = keep(&r->content_type, colon, len - klen - 1);
	else if (IS("Retry-After"))
		e = keep(&r->retry_after, colon, len - klen - 1);
	else if (IS("Link") && r->nlinks < HTTP_LINKS_MAX) {
		r->links[r->nlinks] = NULL;
		if ((e = keep(&r->links[r->nlinks], colon, len - klen - 1)) == 0)
			r->nlinks++;
	}
#undef IS
	return e;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	int e = http_parse_header(s->resp, data, n);

	if (e == -E2BIG)
		s->cap_hit = 1;
	return e == 0 ? n : 0;
}

int
http_request(struct http *h, const char *method, const char *url,
    const char *content_type, const char *body, size_t body_len,
    const char *accept, struct http_resp **ret)
{
	struct curl_slist *hdrs = NULL, *tmp;
	struct http_resp *resp;
	struct sink sink = {0};
	char line[256];
	CURLcode cc;
	CURL *c = h->curl;
	int r = -ENOMEM;

	if (strncmp(url, "https://", 8) != 0)
		return -EINVAL;
	if ((resp = calloc(1, sizeof(*resp))) == NULL)
		return -ENOMEM;
	sink.resp = resp;
	cu.easy_reset(c);
	snprintf(line, sizeof(line), "Accept: %s", accept != NULL ? accept : "application/json");
	if ((tmp = cu.slist_append(hdrs, line)) == NULL)
		goto out;
	hdrs = tmp;
	if (content_type != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s", content_type);
		if ((tmp = cu.slist_append(hdrs, line)) == NULL)
			goto out;
		hdrs = tmp;
	}
	cu.easy_setopt(c, CURLOPT_URL, url);
	cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	cu.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	cu.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	cu.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_bundle != NULL)
		cu.easy_setopt(c, CURLOPT_CAINFO, h->ca_bundle);
	cu.easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
	cu.easy_setopt(c, CURLOPT_TIMEOUT, h->timeout_s);
	cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->timeout_s < HTTP_CONNECT_TIMEOUT_S ? h->timeout_s : HTTP_CONNECT_TIMEOUT_S);
	cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_BODY_MAX);
	cu.easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	cu.easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	cu.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	cu.easy_setopt(c, CURLOPT_HEADERDATA, &sink);
	cu.easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	if (strcmp(method, "HEAD") == 0)
		cu.easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST") == 0) {
		cu.easy_setopt(c, CURLOPT_POST, 1L);
		cu.easy_setopt(c, CURLOPT_POSTFIELDS, body);
		cu.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	cc = cu.easy_perform(c);
	if (sink.cap_hit || cc == CURLE_FILESIZE_EXCEEDED) {
		log_err("%s: response exceeds the size cap (%d bytes body, %d bytes per header)", url, HTTP_BODY_MAX, HTTP_HEADER_MAX);
		r = -E2BIG;
		goto out;
	}
	if (cc != CURLE_OK) {
		log_err("%s: %s", url, cu.easy_strerror(cc));
		r = -EAGAIN;
		goto out;
	}
	cu.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->body == NULL && (resp->body = strdup("")) == NULL)
		goto out;
	*ret = resp;
	resp = NULL;
	r = 0;
out:
	cu.slist_free_all(hdrs);
	http_resp_free(resp);
	return r;
}

/* Does the rel parameter value "v" (len) list "rel" as a token? */
static bool
rel_has(const char *v, size_t len, const char *rel)
{
	size_t rlen = strlen(rel), i = 0;

	while (i < len) {
		size_t start;

		while (i < len && v[i] == ' ')
			i++;
		start = i;
		while (i < len && v[i] != ' ')
			i++;
		if (i - start == rlen && strncasecmp(v + start, rel, rlen) == 0)
			return true;
	}
	return false;
}

/* Parse one link-value starting at *p; advance past it and a comma. */
static int
one_link(const char **p, const char *rel, char **ret_url)
{
	const char *s = *p, *end, *q;
	bool match = false;

	while (*s == ' ' || *s == ',')
		s++;
	if (*s != '<' || (end = strchr(s, '>')) == NULL)
		return -EINVAL;
	q = end + 1;
	/* Parameters until the next comma outside quotes. */
	while (*q != '\0' && *q != ',') {
		const char *name, *val;
		size_t nlen, vlen;

		while (*q == ';' || *q == ' ')
			q++;
		name = q;
		while (*q != '\0' && *q != '=' && *q != ';' && *q != ',')
			q++;
		nlen = (size_t)(q - name);
		while (nlen > 0 && name[nlen - 1] == ' ')
			nlen--;
		if (*q != '=')
			continue;
		q++;
		while (*q == ' ')
			q++;
		if (*q == '"') {
			val = ++q;
			while (*q != '\0' && *q != '"')
				q++;
			vlen = (size_t)(q - val);
			if (*q == '"')
				q++;
		} else {
			val = q;
			while (*q != '\0' && *q != ';' && *q != ',')
				q++;
			vlen = (size_t)(q - val);
		}
		if (nlen == 3 && strncasecmp(name, "rel", 3) == 0 && rel_has(val, vlen, rel))
			match = true;
	}
	*p = q;
	if (!match)
		return 0;
	if ((*ret_url = strndup(s + 1, (size_t)(end - s - 1))) == NULL)
		return -ENOMEM;
	return 1;
}

int
http_links(char *const *values, size_t nvalues, const char *rel, char **urls,
    size_t max, size_t *n)
{
	size_t i, added = 0;

	for (i = 0; i < nvalues; i++) {
		const char *p = values[i];

		while (*p != '\0' && added < max) {
			char *url = NULL;
			int r = one_link(&p, rel, &url);

			if (r == -ENOMEM)
				return r;
			if (r < 0)
				break; /* malformed: skip the rest of this header */
			if (r == 1) {
				urls[(*n)++] = url;
				added++;
			}
		}
	}
	return 0;
}
