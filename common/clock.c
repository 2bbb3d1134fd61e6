#include "clock.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

time_t
clock_now(void)
{
	const char *fake = getenv("ACMED_FAKE_NOW");
	char *end;
	long long v;

	if (fake != NULL && *fake != '\0') {
		errno = 0;
		v = strtoll(fake, &end, 10);
		if (errno == 0 && *end == '\0' && v > 0)
			return (time_t)v;
	}
	return time(NULL);
}

time_t
clock_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/*
 * True if "s" has the shape of "pat": 'd' a digit, '?' any byte, anything
 * else itself.  Checked before sscanf(), whose %d also takes signs and
 * blanks.  Only the first strlen(pat) bytes of "s" are looked at.
 */
static int
shape_ok(const char *s, const char *pat)
{
	for (; *pat; pat++, s++) {
		if (*s == '\0')
			return 0;
		if (*pat == 'd' ? (*s < '0' || *s > '9') : (*pat != '?' && *s != *pat))
			return 0;
	}
	return 1;
}

int
clock_parse_retry_after(const char *v, time_t now, long *ret)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	char wday[4], mon[4], zone[4];
	struct tm tm = {0};
	int day, year, hh, mm, ss, i;
	time_t t;

	if (v == NULL)
		return -EINVAL;
	if (all_digits(v)) {
		if (strlen(v) > 9)
			*ret = LONG_MAX / 2;
		else
			*ret = strtol(v, NULL, 10);
		return 0;
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (strlen(v) != 29 || !shape_ok(v, "???, dd ??? dddd dd:dd:dd GMT") ||
	    sscanf(v, "%3s, %2d %3s %4d %2d:%2d:%2d %3s", wday, &day, mon, &year, &hh, &mm, &ss, zone) != 8 ||
	    strcmp(zone, "GMT") != 0)
		return -EINVAL;
	for (i = 0; i < 12; i++)
		if (strcmp(mon, months[i]) == 0)
			break;
	if (i == 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = i;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	t = timegm(&tm);
	*ret = t > now ? (long)(t - now) : 0;
	return 0;
}

int
clock_parse_rfc3339(const char *v, time_t *ret)
{
	struct tm tm = {0};
	int year, mon, day, hh, mm, ss, n = 0, oh, om;
	const char *p;
	long off = 0;

	if (!shape_ok(v, "dddd-dd-dd?dd:dd:dd") ||
	    sscanf(v, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &year, &mon, &day, &hh, &mm, &ss, &n) != 6 || n != 19)
		return -EINVAL;
	p = v + n;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
		if (p[-1] == '.')
			return -EINVAL;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		off = 0;
	else if ((*p == '+' || *p == '-') && shape_ok(p + 1, "dd:dd") && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 && strlen(p) == 6 && oh < 24 && om < 60)
		off = (*p == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
	else
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*ret = timegm(&tm) - off;
	return 0;
}

char *
clock_format(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "@%lld", (long long)t);
	return buf;
}
