/*
 * The http-01 responder's request handling (daemon/challenge.c): the input
 * is the request as read from the socket, answered by http01_answer() from
 * a socketless responder that holds two tokens.  The answer is always a
 * known status with a NUL-terminated body inside the buffer, and a key
 * authorization is given out only for a GET of exactly its token's path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "challenge.h"
#include "fuzz.h"

#define TOKEN1 "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define TOKEN2 "DGyRejmCefe7v4NfDGDKfA"
#define THUMB ".nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ"

static struct http01 *h;

/* Did the request ask for exactly "token"'s path? */
static int
asked_for(const uint8_t *data, size_t size, const char *token)
{
	size_t plen = strlen(HTTP01_PREFIX), tlen = strlen(token);

	return size >= 4 + plen + tlen + 1 && memcmp(data, "GET ", 4) == 0 &&
	    memcmp(data + 4, HTTP01_PREFIX, plen) == 0 &&
	    memcmp(data + 4 + plen, token, tlen) == 0 && data[4 + plen + tlen] == ' ';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = {600, 16, 1};
	char body[600];
	size_t i;
	int st;

	fuzz_quiet_logs();
	if (h == NULL && (http01_start(NULL, &h) < 0 || http01_add(h, TOKEN1, TOKEN1 THUMB) < 0 ||
	    http01_add(h, TOKEN2, TOKEN2 THUMB) < 0))
		abort();
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(body, 'x', sizeof(body));
		st = http01_answer(h, (const char *)data, size, body, sizes[i]);
		if (st != 200 && st != 400 && st != 404 && st != 405)
			abort();
		if (memchr(body, '\0', sizes[i]) == NULL || (sizes[i] < sizeof(body) && body[sizes[i]] != 'x'))
			abort();
		if (st == 200 && size <= HTTP01_REQUEST_MAX) {
			const char *want = asked_for(data, size, TOKEN1) ? TOKEN1 THUMB :
			    asked_for(data, size, TOKEN2) ? TOKEN2 THUMB : NULL;

			if (want == NULL || strncmp(body, want, sizes[i] - 1) != 0)
				abort();
		} else if (st == 200 || strstr(body, THUMB) != NULL) {
			abort();
		}
	}
	return 0;
}
