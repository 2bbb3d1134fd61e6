/*
 * The ARI window parser (daemon/ari.c) and the time formats under it
 * (common/clock.c).  Input: 8 bytes of "random" for ari_choose(), then a
 * renewalInfo body.  The body is also tried as an RFC 3339 time and as a
 * Retry-After value.  A parsed window is non-empty, the chosen time lies
 * inside it, and the explanation is escaped text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ari.h"
#include "clock.h"
#include "fuzz.h"

#define NOW 1800000000L

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long long rnd = 0;
	struct ari_window w;
	char *s, buf[64];
	time_t t, t2, when;
	long secs;
	size_t i;

	if (size < 8)
		return 0;
	fuzz_quiet_logs();
	for (i = 0; i < 8; i++)
		rnd = rnd << 8 | data[i];
	s = fuzz_strndup(data + 8, size - 8);
	if (ari_parse(s, size - 8, &w) == 0) {
		if (w.end <= w.start || memchr(w.explanation, '\0', sizeof(w.explanation)) == NULL)
			abort();
		for (i = 0; w.explanation[i] != '\0'; i++)
			if ((unsigned char)w.explanation[i] < 0x20 || (unsigned char)w.explanation[i] == 0x7f)
				abort();
		when = ari_choose(&w, rnd);
		if (when < w.start || when >= w.end)
			abort();
	}
	if (clock_parse_rfc3339(s, &t) == 0) {
		/* Our own format of a four-digit year parses back to the same time. */
		clock_format(t, buf, sizeof(buf));
		if (strlen(buf) == 20 && (clock_parse_rfc3339(buf, &t2) != 0 || t2 != t))
			abort();
	}
	if (clock_parse_retry_after(s, NOW, &secs) == 0 && secs < 0)
		abort();
	free(s);
	return 0;
}
