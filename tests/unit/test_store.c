/*
 * The state database's read batches (store_read_begin/end) and the
 * scheduler's one-read view of a certificate (renew_next).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "clock.h"
#include "crypto.h"
#include "renew.h"
#include "sched.h"
#include "store.h"
#include "t.h"

#define DAY (24L * 3600)

static char dir[] = "/tmp/acmed-test-store.XXXXXX";
static char out[PATH_MAX];

static struct store_cert
row_for(char *name, char *fingerprint, char *serial, time_t now)
{
	return (struct store_cert){.name = name, .fingerprint = fingerprint, .serial = serial,
	    .not_before = now - 10 * DAY, .not_after = now + 80 * DAY};
}

/* Reads inside a batch see the rows; a batch does not nest; writes go on. */
static void
test_read_batch(struct store *st, time_t now)
{
	char name[] = "a", fp[] = "fp", serial[] = "01";
	struct store_cert a = row_for(name, fp, serial, now), *got = NULL;

	T_CHECK(store_cert_put(st, &a) == 0);
	T_CHECK(store_read_begin(st) == 0);
	T_CHECK(store_read_begin(st) == -EBUSY);
	T_CHECK(store_cert_get(st, "a", &got) == 0);
	T_CHECK(got != NULL && got->not_after == a.not_after);
	store_cert_free(got);
	got = NULL;
	T_CHECK(store_cert_get(st, "missing", &got) == -ENOENT);
	store_read_end(st);
	store_read_end(st); /* a second end is harmless */
	/* After the batch the connection is back in autocommit: writes stick. */
	a.failures = 3;
	T_CHECK(store_cert_put(st, &a) == 0);
	T_CHECK(store_read_begin(st) == 0);
	T_CHECK(store_cert_get(st, "a", &got) == 0 && got->failures == 3);
	store_read_end(st);
	store_cert_free(got);
}

/* renew_next: renewal time, an earlier renewalInfo fetch, failures. */
static void
test_renew_next(struct store *st, time_t now)
{
	char ca_name[] = "ca", ca_dir[] = "https://ca.example/dir", name[] = "www",
	     domain[] = "www.example.org", serial[] = "02", ari_id[] = "aaaa.bbbb",
	     changed[] = "changed";
	char *domains[] = {domain};
	struct cfg_ca ca = {.name = ca_name, .directory = ca_dir};
	struct cfg_cert c = {.name = name, .domains = domains, .ndomains = 1, .ca = &ca,
	    .key_type = KEY_EC_P256, .output = out};
	struct renew_plan_cert pc;
	struct store_cert row;
	const char *reason;
	char *fp = NULL;
	time_t next = 0, due = 0;
	bool failing = true;

	/* The scheduler's table entry: name, output and fingerprint of "c". */
	if (renew_plan_cert_init(&c, &pc) != 0) {
		T_CHECK(!"renew_plan_cert_init");
		return;
	}
	T_STREQ(pc.name, "www");
	T_STREQ(pc.output, out);

	/* No row: a new certificate, due at once; not failing. */
	T_CHECK(renew_next(&pc, st, now, &next, &failing) == 0);
	T_CHECK(next <= now && !failing);

	T_CHECK(renew_fingerprint(&c, &fp) == 0);
	T_STREQ(pc.fingerprint, fp);
	row = row_for(name, fp, serial, now);
	T_CHECK(store_cert_put(st, &row) == 0);
	T_CHECK(renew_next(&pc, st, now, &next, &failing) == 0);
	T_CHECK(renew_due(&c, st, &due, &reason) == 0);
	T_CHECK(next == due && next == sched_renew_point(row.not_before, row.not_after, "www"));
	T_STREQ(reason, "lifetime fraction");
	T_CHECK(!failing);

	/* A renewalInfo fetch before the renewal comes first. */
	row.ari_id = ari_id;
	row.ari_next_fetch = now + DAY;
	T_CHECK(store_cert_put(st, &row) == 0);
	T_CHECK(renew_next(&pc, st, now, &next, &failing) == 0);
	T_CHECK(next == now + DAY);

	/* A failed attempt is reported, and its backoff is the renewal time. */
	row.ari_id = NULL;
	row.ari_next_fetch = 0;
	row.failures = 1;
	row.last_attempt = now;
	row.fingerprint = changed;
	T_CHECK(store_cert_put(st, &row) == 0);
	T_CHECK(renew_next(&pc, st, now, &next, &failing) == 0);
	T_CHECK(renew_due(&c, st, &due, &reason) == 0);
	T_CHECK(failing && next == due && next > now);
	T_STREQ(reason, "backoff after failure");
	free(fp);
	renew_plan_cert_fini(&pc);
}

int
main(void)
{
	static const char *const files[] = {"privkey.pem", "cert.pem", "chain.pem", "fullchain.pem"};
	struct store *st = NULL;
	char path[PATH_MAX + 32];
	time_t now = clock_now();
	size_t i;
	int fd, rc;

	if (mkdtemp(dir) == NULL)
		return EXIT_FAILURE;
	snprintf(out, sizeof(out), "%s/out", dir);
	T_CHECK(mkdir(out, 0700) == 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", out, files[i]);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0)
			close(fd);
	}
	T_CHECK(store_open(dir, &st) == 0);
	if (st != NULL) {
		test_read_batch(st, now);
		test_renew_next(st, now);
		store_close(st);
	}
	rc = T_DONE();
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc;
}
