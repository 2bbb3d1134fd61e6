/*
 * common/json.c decoding limits: the size cap, the depth cap, duplicate
 * keys, and an error text that is safe to log whatever the input holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "t.h"

/* "[[...1...]]" nested "depth" deep. */
static char *
nested(unsigned depth)
{
	char *s = malloc(2 * depth + 2);
	unsigned i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < depth; i++) {
		s[i] = '[';
		s[depth + 1 + i] = ']';
	}
	s[depth] = '1';
	s[2 * depth + 1] = '\0';
	return s;
}

static void
test_caps(void)
{
	struct json *j = NULL;
	char err[160], *s, *big;

	/* The size cap is the parser's, checked before any parsing. */
	if ((big = malloc(JSON_TEXT_MAX + 2)) != NULL) {
		memset(big, ' ', JSON_TEXT_MAX + 1);
		memcpy(big, "{}", 2);
		big[JSON_TEXT_MAX + 1] = '\0';
		T_CHECK(json_parse(big, JSON_TEXT_MAX, &j, err, sizeof(err)) == 0);
		json_free(j);
		j = NULL;
		T_CHECK(json_parse(big, JSON_TEXT_MAX + 1, &j, err, sizeof(err)) == -E2BIG && j == NULL);
		T_CHECK(strstr(err, "cap") != NULL);
		free(big);
	}
	/* Depth: the root's children are at depth 1. */
	if ((s = nested(JSON_DEPTH_MAX)) != NULL) {
		T_CHECK(json_parse(s, strlen(s), &j, err, sizeof(err)) == 0);
		json_free(j);
		j = NULL;
		free(s);
	}
	if ((s = nested(JSON_DEPTH_MAX + 2)) != NULL) {
		T_CHECK(json_parse(s, strlen(s), &j, err, sizeof(err)) == -EINVAL && j == NULL);
		T_CHECK(strstr(err, "deeper") != NULL);
		free(s);
	}
	T_CHECK(json_parse("{\"a\":1,\"a\":2}", 13, &j, err, sizeof(err)) == -EINVAL && j == NULL);
}

/* jansson's message quotes the input; ours must not carry control bytes. */
static void
test_error_text(void)
{
	static const char bad[] = "{\"a\":{\x0e\x1b[2J\n\"b\":1}}";
	struct json *j = NULL;
	char err[160];
	size_t i;
	int clean = 1;

	T_CHECK(json_parse(bad, sizeof(bad) - 1, &j, err, sizeof(err)) == -EINVAL && j == NULL);
	for (i = 0; err[i] != '\0'; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] == 0x7f)
			clean = 0;
	T_CHECK(clean);
	T_CHECK(strstr(err, "\\x0e") != NULL);
}

int
main(void)
{
	test_caps();
	test_error_text();
	return T_DONE();
}
