#include "ari.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "clock.h"
#include "json.h"
#include "log.h"

#define ARI_TEMP_FAILURES_MAX 5

int
ari_cert_id(const unsigned char *aki, size_t aki_len,
    const unsigned char *serial, size_t serial_len, char **ret)
{
	char *a = NULL, *s = NULL, *out;
	size_t n;
	int r;

	if (aki_len == 0 || serial_len == 0)
		return -EINVAL;
	if ((r = b64url_encode(aki, aki_len, &a)) < 0 ||
	    (r = b64url_encode(serial, serial_len, &s)) < 0)
		goto out;
	n = strlen(a) + strlen(s) + 2;
	r = -ENOMEM;
	if ((out = malloc(n)) == NULL)
		goto out;
	snprintf(out, n, "%s.%s", a, s);
	*ret = out;
	r = 0;
out:
	free(a);
	free(s);
	return r;
}

int
ari_parse(const char *body, size_t len, struct ari_window *ret)
{
	const struct json *win;
	const char *start, *end, *expl;
	struct ari_window w = {0};
	struct json *j;
	int r = -EINVAL;

	if (json_parse(body, len, &j, NULL, 0) < 0)
		return -EINVAL;
	win = json_get(j, "suggestedWindow");
	start = json_get_str(win, "start");
	end = json_get_str(win, "end");
	if (start == NULL || end == NULL || clock_parse_rfc3339(start, &w.start) < 0 ||
	    clock_parse_rfc3339(end, &w.end) < 0 || w.end <= w.start)
		goto out;
	if ((expl = json_get_str(j, "explanationURL")) != NULL)
		log_escape(w.explanation, sizeof(w.explanation), expl, strlen(expl));
	*ret = w;
	r = 0;
out:
	json_free(j);
	return r;
}

time_t
ari_choose(const struct ari_window *w, unsigned long long random)
{
	unsigned long long span = (unsigned long long)(w->end - w->start);

	return w->start + (time_t)(random % span);
}

long
ari_poll_delay(long retry_after)
{
	if (retry_after < 0)
		return ARI_LONG_TERM;
	if (retry_after < ARI_RETRY_MIN)
		return ARI_RETRY_MIN;
	if (retry_after > ARI_RETRY_MAX)
		return ARI_RETRY_MAX;
	return retry_after;
}

long
ari_error_delay(int failures)
{
	long d = ARI_RETRY_MIN;
	int i;

	if (failures > ARI_TEMP_FAILURES_MAX)
		return ARI_LONG_TERM;
	for (i = 1; i < failures; i++)
		d *= 4;
	return d < ARI_LONG_TERM ? d : ARI_LONG_TERM;
}
