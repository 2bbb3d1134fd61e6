/* Retry-After (RFC 9110 10.2.3) and RFC 3339 parsing, clock_format. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "t.h"

#define RFC9110_EXAMPLE 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */
#define SENTINEL 4242

static void
test_retry_after(void)
{
	static const struct {
		const char *v;
		time_t now;
		int r;
		long want;
	} rows[] = {
	    {"120", 1000, 0, 120},
	    {"0", 1000, 0, 0},
	    {"007", 1000, 0, 7},
	    {"Sun, 06 Nov 1994 08:49:37 GMT", RFC9110_EXAMPLE - 90, 0, 90},
	    {"Sun, 06 Nov 1994 08:49:37 GMT", RFC9110_EXAMPLE, 0, 0},
	    {"Sun, 06 Nov 1994 08:49:37 GMT", RFC9110_EXAMPLE + 3600, 0, 0},
	    {"Thu, 01 Jan 2026 00:00:00 GMT", 1767225600 - 86400, 0, 86400},
	    {"Sun, 06 Nov 1994 08:49:37 UTC", RFC9110_EXAMPLE - 90, -EINVAL, 0},
	    {"Sun, 06 Nov 1994 08:49:37 GMTX", RFC9110_EXAMPLE - 90, -EINVAL,
		0},
	    {"Sun, 06 Foo 1994 08:49:37 GMT", RFC9110_EXAMPLE - 90, -EINVAL, 0},
	    {"Sun, 06 Nov 1994 25:49:37 GMT", RFC9110_EXAMPLE - 90, -EINVAL, 0},
	    {"Sunday, 06-Nov-94 08:49:37 GMT", RFC9110_EXAMPLE - 90, -EINVAL,
		0},
	    {"", 1000, -EINVAL, 0},
	    {"soon", 1000, -EINVAL, 0},
	    {"-5", 1000, -EINVAL, 0},
	    {"1.5", 1000, -EINVAL, 0},
	    {"12a", 1000, -EINVAL, 0},
	    {" 120", 1000, -EINVAL, 0},
	};
	size_t i;
	long v;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int r;

		v = SENTINEL;
		r = clock_parse_retry_after(rows[i].v, rows[i].now, &v);
		if (r != rows[i].r)
			fprintf(stderr, "retry-after \"%s\": got %d\n",
			    rows[i].v, r);
		T_CHECK(r == rows[i].r);
		T_CHECK(v == (rows[i].r == 0 ? rows[i].want : SENTINEL));
	}
	T_CHECK(clock_parse_retry_after(NULL, 0, &v) == -EINVAL);
	/* Huge delta-seconds are capped, not overflowed into the past. */
	T_CHECK(clock_parse_retry_after("99999999999999999999", 0, &v) == 0);
	T_CHECK(v > 365L * 24 * 3600);
}

static void
test_rfc3339(void)
{
	static const time_t base = 1735787045; /* 2025-01-02T03:04:05Z */
	static const struct {
		const char *v;
		bool ok;
		time_t want;
	} rows[] = {
	    {"2025-01-02T03:04:05Z", true, base},
	    {"2025-01-02T03:04:05.123456Z", true, base},
	    {"2025-01-02T03:04:05.1Z", true, base},
	    {"2025-01-02t03:04:05z", true, base},
	    {"2025-01-02T03:04:05+02:00", true, base - 2 * 3600},
	    {"2025-01-02T03:04:05-05:30", true, base + 5 * 3600 + 30 * 60},
	    {"2025-01-02T03:04:05.5+00:00", true, base},
	    {"1970-01-01T00:00:00Z", true, 0},
	    {"2024-02-29T12:00:00Z", true, 1709208000},
	    {"", false, 0},
	    {"2025-01-02", false, 0},
	    {"2025-01-02T03:04:05", false, 0},
	    {"2025-01-02T03:04Z", false, 0},
	    {"2025-1-02T03:04:05Z", false, 0},
	    {"2025-13-02T03:04:05Z", false, 0},
	    {"2025-01-32T03:04:05Z", false, 0},
	    {"2025-01-02T24:04:05Z", false, 0},
	    {"2025-01-02X03:04:05Z", false, 0},
	    {"2025-01-02T03:04:05.Z", false, 0},
	    {"2025-01-02T03:04:05ZZ", false, 0},
	    {"2025-01-02T03:04:05Z ", false, 0},
	    {"2025-01-02T03:04:05+0200", false, 0},
	    {"2025-01-02T03:04:05+02:00:00", false, 0},
	    {"2025-01-02T03:04:05+24:00", false, 0},
	    {"2025-01-02T03:04:05+02:0a", false, 0},
	    {"2025-01-02T03:04:05+-1:00", false, 0},
	    {"+025-01-02T03:04:05Z", false, 0},
	    {"2025-01-02T03:04:+5Z", false, 0},
	    {"2025-01-02T 3:04:05Z", false, 0},
	    {"tomorrow", false, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		time_t t = SENTINEL;
		int r = clock_parse_rfc3339(rows[i].v, &t);

		if ((r == 0) != rows[i].ok || (r == 0 && t != rows[i].want))
			fprintf(stderr, "rfc3339 \"%s\": got %d, %lld\n",
			    rows[i].v, r, (long long)t);
		T_CHECK(rows[i].ok ? r == 0 : r == -EINVAL);
		T_CHECK(t == (rows[i].ok ? rows[i].want : SENTINEL));
	}
}

static void
test_format(void)
{
	char buf[32];
	time_t t;

	T_STREQ(
	    clock_format(1735787045, buf, sizeof(buf)), "2025-01-02T03:04:05Z");
	T_STREQ(clock_format(0, buf, sizeof(buf)), "1970-01-01T00:00:00Z");
	/* Round trip through the parser. */
	T_CHECK(clock_parse_rfc3339(
		    clock_format(2000000000, buf, sizeof(buf)), &t) == 0);
	T_CHECK(t == 2000000000);
}

static void
test_fake_now(void)
{
	T_CHECK(setenv("ACMED_FAKE_NOW", "1700000000", 1) == 0);
	T_CHECK(clock_now() == 1700000000);
	T_CHECK(setenv("ACMED_FAKE_NOW", "junk", 1) == 0);
	T_CHECK(clock_now() > 1700000000);
	T_CHECK(unsetenv("ACMED_FAKE_NOW") == 0);
	T_CHECK(clock_now() > 1700000000);
}

int
main(void)
{
	test_retry_after();
	test_rfc3339();
	test_format();
	test_fake_now();
	return T_DONE();
}
