/*
 * common/json.c decoding and the ACME readers built on it: json_parse()
 * with its size, depth and duplicate-key rules; every typed getter over the
 * whole tree; dump and re-parse give the same text; problem documents
 * (RFC 8555 6.7, RFC 7807) through acme_parse_problem(), and objects
 * through acme_parse_body() and acme_status_from_string().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme.h"
#include "acme_int.h"
#include "fuzz.h"
#include "json.h"

/* Visit every node with every getter; "depth" is bounded by the parser. */
static void
walk(const struct json *j, unsigned depth)
{
	const struct json *v;
	const char *key, *s;
	void *it = NULL;
	size_t i, n;

	if (depth > JSON_DEPTH_MAX + 1)
		abort(); /* json_parse() promised a depth cap */
	if ((s = json_str(j)) != NULL && strlen(s) > JSON_TEXT_MAX)
		abort();
	n = json_array_len(j);
	for (i = 0; i < n; i++)
		walk(json_array_at(j, i), depth + 1);
	if (json_array_at(j, n) != NULL)
		abort();
	while (json_object_next(j, &it, &key, &v)) {
		if (json_get(j, key) != v)
			abort(); /* keys are unique */
		(void)json_get_str(j, key);
		(void)json_get_bool(j, key);
		walk(v, depth + 1);
	}
}

/* Dump, parse the dump, dump again: the two texts must be equal. */
static void
roundtrip(const struct json *j, bool sorted)
{
	char *a, *b;
	struct json *k;

	if ((a = json_dump(j, sorted)) == NULL)
		return; /* jansson refuses e.g. a lone scalar with some flags */
	if (json_parse(a, strlen(a), &k, NULL, 0) != 0)
		abort();
	if ((b = json_dump(k, sorted)) == NULL || strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	json_free(k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct acme dummy; /* acme_parse_body() only reports through it */
	struct http_resp resp = {.status = 400};
	char err[160], *text = fuzz_strndup(data, size);
	struct problem p;
	struct json *j = NULL;
	int r;

	fuzz_quiet_logs();
	r = json_parse(text, size, &j, err, sizeof(err));
	if (r == 0) {
		walk(j, 0);
		roundtrip(j, false);
		roundtrip(j, true);
		(void)acme_status_from_string(json_get_str(j, "status"));
		json_free(j);
	} else if (r != -EINVAL && r != -E2BIG) {
		abort();
	} else if (memchr(err, '\0', sizeof(err)) == NULL) {
		abort();
	}

	resp.body = text;
	resp.body_len = size;
	acme_parse_problem(&resp, &p);
	if (memchr(p.type, '\0', sizeof(p.type)) == NULL || memchr(p.detail, '\0', sizeof(p.detail)) == NULL)
		abort();
	j = NULL;
	if (acme_parse_body(&dummy, "fuzz", &resp, &j) == 0) {
		if (!json_is_obj(j))
			abort();
		json_free(j);
	}
	free(text);
	return 0;
}
