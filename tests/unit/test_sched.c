/* Scheduler arithmetic: renewal point, jitter, backoff and due reasons. */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "crypto.h"
#include "renew.h"
#include "sched.h"
#include "store.h"
#include "t.h"

#define DAY (24L * 3600)
#define T0 ((time_t)1700000000) /* a settable "now" for the whole file */
#define NNAMES 40

/* 90 days: renew 1/3 of the lifetime before expiry, minus < 1/50 jitter. */
static void
test_renew_point_long(void)
{
	time_t nb = T0, na = T0 + 90 * DAY, life = na - nb;
	time_t p = sched_renew_point(nb, na, "www");

	T_CHECK(p <= na - life / 3);
	T_CHECK(p >= na - life / 3 - life / 50);
	/* That is about 60 days after issuance, give or take 1.8 days. */
	T_CHECK(p - nb >= 58 * DAY && p - nb <= 60 * DAY);
	/* Deterministic per name. */
	T_CHECK(sched_renew_point(nb, na, "www") == p);
	/* Only the lifetime matters, not where it sits in time. */
	T_CHECK(sched_renew_point(nb + DAY, na + DAY, "www") == p + DAY);
}

/* 6 days is under SCHED_SHORT_LIFETIME: renew half-way. */
static void
test_renew_point_short(void)
{
	time_t nb = T0, na = T0 + 6 * DAY, life = na - nb;
	time_t p = sched_renew_point(nb, na, "short");

	T_CHECK(life < SCHED_SHORT_LIFETIME);
	T_CHECK(p <= na - life / 2);
	T_CHECK(p >= na - life / 2 - life / 50);
	T_CHECK(p - nb >= 3 * DAY - 3 * 3600 && p - nb <= 3 * DAY);
	/* Exactly at the threshold the 1/3 rule applies again. */
	p = sched_renew_point(nb, nb + SCHED_SHORT_LIFETIME, "short");
	T_CHECK(p <= nb + SCHED_SHORT_LIFETIME - SCHED_SHORT_LIFETIME / 3);
	/* Nonsense validity: no arithmetic surprises. */
	T_CHECK(sched_renew_point(na, nb, "x") == na);
	T_CHECK(sched_renew_point(nb, nb, "x") == nb);
}

/* Many names spread over the jitter window instead of renewing together. */
static void
test_spread(void)
{
	time_t nb = T0, na = T0 + 90 * DAY, life = na - nb;
	time_t pts[NNAMES], lo = na, hi = 0;
	size_t i, j, distinct = 0;
	char name[32];

	for (i = 0; i < NNAMES; i++) {
		snprintf(name, sizeof(name), "site%zu.example.org", i);
		pts[i] = sched_renew_point(nb, na, name);
		T_CHECK(pts[i] <= na - life / 3 &&
		    pts[i] >= na - life / 3 - life / 50);
		if (pts[i] < lo)
			lo = pts[i];
		if (pts[i] > hi)
			hi = pts[i];
	}
	for (i = 0; i < NNAMES; i++) {
		for (j = 0; j < i && pts[j] != pts[i]; j++)
			;
		if (j == i)
			distinct++;
	}
	T_CHECK(distinct >= NNAMES - 2);
	/* Spread over at least half the 1.8-day window. */
	T_CHECK(hi - lo >= life / 100);
}

static void
test_backoff(void)
{
	static const struct {
		int failures;
		long want;
	} rows[] = {
	    {INT_MIN, 0},
	    {-1, 0},
	    {0, 0},
	    {1, 60},
	    {2, 600},
	    {3, 6000},
	    {4, 21600},
	    {5, 21600},
	    {100, 21600},
	    {INT_MAX, 21600},
	};
	static const char *const names[] = {"www", "mail", "api", "a", ""};
	bool differs = false;
	size_t i, j;
	long d;

	/* Each step plus at most a tenth; the same for a name and count. */
	for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			d = sched_backoff(rows[i].failures, names[j]);
			T_CHECK(d >= rows[i].want && d <= rows[i].want + rows[i].want / 10);
			T_CHECK(d == sched_backoff(rows[i].failures, names[j]));
			differs |= d != sched_backoff(rows[i].failures, names[0]);
		}
	/* Jitter: names do not all wait the same. */
	T_CHECK(differs);
}

/* A healthy row: issued at T0 for 90 days, nothing failed. */
static struct store_cert
healthy(void)
{
	static char name[] = "www", fp[] = "fp-1", serial[] = "0a1b";
	struct store_cert c = {0};

	c.name = name;
	c.fingerprint = fp;
	c.serial = serial;
	c.not_before = T0;
	c.not_after = T0 + 90 * DAY;
	c.last_success = T0;
	return c;
}

static void
test_due(void)
{
	enum sched_reason why = SCHED__MAX;
	struct store_cert c;
	time_t due, point = sched_renew_point(T0, T0 + 90 * DAY, "www");

	/* Never issued. */
	T_CHECK(sched_due(NULL, "fp-1", false, &why) == 0);
	T_CHECK(why == SCHED_NEW);
	c = healthy();
	c.serial = NULL;
	T_CHECK(sched_due(&c, "fp-1", true, &why) == 0 && why == SCHED_NEW);

	/* Healthy: the lifetime point. */
	c = healthy();
	T_CHECK(sched_due(&c, "fp-1", true, &why) == point);
	T_CHECK(why == SCHED_LIFETIME);

	/* An ARI pick before the lifetime point wins; backoff still gates it.
	 */
	c.ari_chosen = point - DAY;
	T_CHECK(sched_due(&c, "fp-1", true, &why) == point - DAY &&
	    why == SCHED_ARI);
	c.failures = 1;
	c.last_attempt = point - DAY + 10;
	T_CHECK(sched_due(&c, "fp-1", true, &why) == point - DAY + 10 + sched_backoff(1, "www") &&
	    why == SCHED_BACKOFF);
	c = healthy();

	/* Configuration drift: now. */
	T_CHECK(sched_due(&c, "fp-2", true, &why) == 0 && why == SCHED_DRIFT);
	c.fingerprint = NULL;
	T_CHECK(sched_due(&c, "fp-1", true, &why) == 0 && why == SCHED_DRIFT);

	/* Files gone: now. */
	c = healthy();
	T_CHECK(
	    sched_due(&c, "fp-1", false, &why) == 0 && why == SCHED_MISSING);

	/* A reload hook cut short by a crash: due since the install. */
	c = healthy();
	c.hook_pending = 1;
	T_CHECK(sched_due(&c, "fp-1", true, &why) == T0 && why == SCHED_HOOK);
	T_CHECK(sched_due(&c, "fp-2", true, &why) == 0 && why == SCHED_DRIFT);
	T_CHECK(
	    sched_due(&c, "fp-1", false, &why) == 0 && why == SCHED_MISSING);

	/* Failures gate every reason behind last_attempt + backoff. */
	c = healthy();
	c.failures = 2;
	c.last_attempt = T0 + 70 * DAY;
	due = sched_due(&c, "fp-1", true, &why);
	T_CHECK(why == SCHED_BACKOFF);
	T_CHECK(due == c.last_attempt + sched_backoff(2, "www"));
	T_CHECK(sched_due(&c, "fp-2", true, &why) == due && why == SCHED_BACKOFF);
	T_CHECK(sched_due(&c, "fp-1", false, &why) == due && why == SCHED_BACKOFF);
	T_CHECK(sched_due(NULL, "fp-1", true, &why) == 0 && why == SCHED_NEW);
	c.serial = NULL;
	T_CHECK(sched_due(&c, "fp-1", true, &why) == due && why == SCHED_BACKOFF);

	/* A failure long before the lifetime point does not move it. */
	c = healthy();
	c.failures = 1;
	c.last_attempt = T0 + DAY;
	T_CHECK(sched_due(&c, "fp-1", true, &why) == point &&
	    why == SCHED_LIFETIME);

	/* Retry-After later than the backoff wins ... */
	c = healthy();
	c.failures = 1;
	c.last_attempt = T0 + 70 * DAY;
	c.next_check = c.last_attempt + 3600;
	T_CHECK(sched_due(&c, "fp-1", true, &why) == c.next_check &&
	    why == SCHED_RETRY_AFTER);
	T_CHECK(sched_due(&c, "fp-2", true, &why) == c.next_check &&
	    why == SCHED_RETRY_AFTER);
	/* ... an earlier one does not shorten it. */
	c.next_check = c.last_attempt + 10;
	T_CHECK(sched_due(&c, "fp-1", true, &why) == c.last_attempt + sched_backoff(1, "www") &&
	    why == SCHED_BACKOFF);
}

static void
test_reason_names(void)
{
	int r;

	for (r = 0; r < SCHED__MAX; r++)
		T_CHECK(sched_reason_name((enum sched_reason)r) != NULL &&
		    sched_reason_name((enum sched_reason)r)[0] != '\0');
	T_STREQ(sched_reason_name(SCHED_BACKOFF), "backoff after failure");
}

/* fp_of: the fingerprint of "c" (test-owned static buffer). */
static const char *
fp_of(const struct cfg_cert *c)
{
	static char buf[8][256];
	static int n;
	char *fp = NULL;

	n = (n + 1) % 8;
	buf[n][0] = '\0';
	if (renew_fingerprint(c, &fp) == 0)
		snprintf(buf[n], sizeof(buf[n]), "%s", fp);
	free(fp);
	return buf[n];
}

/*
 * Drift: a change of CA, any name, profile or key type gives another
 * fingerprint (the certificate is due); name order and profile_mode do not.
 */
static void
test_fingerprint(void)
{
	static char dir1[] = "https://ca.example/dir", dir2[] = "https://other.example/dir";
	static char n1[] = "www.example.org", n2[] = "example.org", n3[] = "mail.example.org";
	static char prof[] = "shortlived", prof2[] = "classic";
	char *names[] = {n1, n2}, *swapped[] = {n2, n1}, *changed[] = {n1, n3};
	struct cfg_ca ca = {.directory = dir1};
	struct cfg_cert c = {.ca = &ca, .domains = names, .ndomains = 2, .key_type = KEY_EC_P256};
	char base[256];

	snprintf(base, sizeof(base), "%s", fp_of(&c));

	T_STREQ(base, "https://ca.example/dir\n\nec-p256\nnames\nexample.org\nwww.example.org\n");
	T_STREQ(fp_of(&c), base);
	c.domains = swapped;
	T_STREQ(fp_of(&c), base);
	c.profile_mode = CFG_PROFILE_PREFERRED;
	T_STREQ(fp_of(&c), base);
	c.domains = changed;
	T_CHECK(strcmp(fp_of(&c), base) != 0);
	c.domains = names;
	c.ndomains = 1;
	T_CHECK(strcmp(fp_of(&c), base) != 0);
	c.ndomains = 2;
	c.profile = prof;
	T_CHECK(strcmp(fp_of(&c), base) != 0);
	c.profile = prof2;
	T_CHECK(strcmp(fp_of(&c), fp_of(&(struct cfg_cert){.ca = &ca, .domains = names, .ndomains = 2, .profile = prof})) != 0);
	c.profile = NULL;
	c.key_type = KEY_RSA_3072;
	T_CHECK(strcmp(fp_of(&c), base) != 0);
	c.key_type = KEY_EC_P256;
	ca.directory = dir2;
	T_CHECK(strcmp(fp_of(&c), base) != 0);
	ca.directory = dir1;
	T_STREQ(fp_of(&c), base);
}

int
main(void)
{
	test_renew_point_long();
	test_renew_point_short();
	test_spread();
	test_backoff();
	test_due();
	test_reason_names();
	test_fingerprint();
	return T_DONE();
}
