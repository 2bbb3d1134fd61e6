/*
 * Token and identifier validation: base64url tokens and certIDs (what may
 * reach a file name or a URL path), and DNS names and IP literals as the
 * configuration normalises them (config/cfg.c).  Valid tokens hold no path
 * characters and survive a decode/encode round trip; a normalised name is
 * a fixed point and is lower case without a trailing dot.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme_int.h"
#include "b64.h"
#include "cfg.h"
#include "fuzz.h"

static void
check_token(const char *s)
{
	unsigned char *raw;
	size_t raw_len;
	char *again;

	if (!b64url_valid(s))
		return;
	if (*s == '\0' || strpbrk(s, "/.%\\ ") != NULL)
		abort();
	/*
	 * The decoder takes only canonical text (RFC 4648 3.5: no length
	 * 4k+1, zero pad bits), so what it takes round-trips exactly.
	 */
	if (b64url_decode(s, &raw, &raw_len) < 0)
		return;
	if (b64url_encode(raw, raw_len, &again) < 0 || strcmp(again, s) != 0)
		abort();
	free(again);
	free(raw);
}

static void
check_name(const char *s)
{
	char *n = strdup(s), *again;
	const char *why = NULL;
	size_t len;

	if (n == NULL)
		abort();
	if (cfg_normalise_identifier(n, &why) == 0) {
		len = strlen(n);
		if (strpbrk(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ/\\ ") != NULL || (len > 0 && n[len - 1] == '.'))
			abort();
		if ((again = strdup(n)) == NULL || cfg_normalise_identifier(again, &why) != 0 || strcmp(again, n) != 0)
			abort();
		if (cfg_is_ip(n) && strspn(n, "0123456789abcdef.:") != len)
			abort();
		free(again);
	} else if (why == NULL) {
		abort();
	}
	free(n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	const char *dot;

	fuzz_quiet_logs();
	check_token(s);
	check_name(s);
	if (acme_b64url_valid_id(s)) {
		dot = strchr(s, '.');
		if (dot == NULL || dot == s || strchr(dot + 1, '.') != NULL || strlen(s) > 512)
			abort();
	}
	free(s);
	return 0;
}
