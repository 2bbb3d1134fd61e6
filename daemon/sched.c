#include "sched.h"

#include <string.h>

#include "store.h"

static const char *const reason_names[SCHED__MAX] = {
    [SCHED_NEW] = "new certificate",
    [SCHED_DRIFT] = "configuration changed",
    [SCHED_LIFETIME] = "lifetime fraction",
    [SCHED_BACKOFF] = "backoff after failure",
    [SCHED_MISSING] = "installed files missing",
    [SCHED_ARI] = "ARI window",
    [SCHED_REVOKED] = "revoked",
    [SCHED_RETRY_AFTER] = "Retry-After from the CA",
    [SCHED_HOOK] = "reload hook pending",
};

const char *
sched_reason_name(enum sched_reason r)
{
	return reason_names[r];
}

/* FNV-1a: a stable per-name spread, not a security property. */
static unsigned long
name_hash(const char *s)
{
	unsigned long h = 2166136261UL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619UL;
	return h & 0xffffffffUL;
}

time_t
sched_renew_point(time_t not_before, time_t not_after, const char *name)
{
	time_t life = not_after - not_before, left, jitter_span;

	if (life <= 0)
		return not_before;
	left = life < SCHED_SHORT_LIFETIME ? life / 2 : life / 3;
	jitter_span = life / 50;
	if (jitter_span > 0)
		left += (time_t)(name_hash(name) % (unsigned long)jitter_span);
	return not_after - left;
}

long
sched_backoff(int failures, const char *name)
{
	static const long steps[] = {60, 600, 6000, 21600};
	int n = (int)(sizeof(steps) / sizeof(steps[0]));
	unsigned long spread;
	long step;

	if (failures <= 0)
		return 0;
	step = steps[failures > n ? n - 1 : failures - 1];
	/* Stable for a name and count, so a restart waits for the same time. */
	spread = (name_hash(name) ^ (unsigned long)failures * 2654435761UL) & 0xffffffffUL;
	return step + (long)(spread % (unsigned long)(step / 10 + 1));
}

time_t
sched_due(const struct store_cert *row, const char *fingerprint, bool files_ok,
    enum sched_reason *ret_reason)
{
	enum sched_reason gate_reason = SCHED_BACKOFF;
	time_t due, gate = 0;

	if (row != NULL && row->failures > 0)
		gate = row->last_attempt + sched_backoff(row->failures, row->name);
	if (row != NULL && row->next_check > gate && row->failures > 0) {
		gate = row->next_check; /* a server's Retry-After */
		gate_reason = SCHED_RETRY_AFTER;
	}
	if (row == NULL || row->serial == NULL) {
		*ret_reason = gate > 0 ? gate_reason : SCHED_NEW;
		return gate;
	}
	if (row->fingerprint == NULL || strcmp(row->fingerprint, fingerprint) != 0) {
		*ret_reason = gate > 0 ? gate_reason : SCHED_DRIFT;
		return gate;
	}
	if (!files_ok) {
		*ret_reason = gate > 0 ? gate_reason : SCHED_MISSING;
		return gate;
	}
	if (row->revoked_at > 0) {
		*ret_reason = gate > 0 ? gate_reason : SCHED_REVOKED;
		return gate;
	}
	/* Installed, but a crash cut its reload hook short: run it now. */
	if (row->hook_pending) {
		*ret_reason = SCHED_HOOK;
		return row->last_success;
	}
	due = sched_renew_point(row->not_before, row->not_after, row->name);
	*ret_reason = SCHED_LIFETIME;
	/*
	 * RFC 9773 4.2: a time picked in the CA's window is the schedule, later
	 * or earlier than the local rule (which is only the fallback), unless
	 * it lies past the expiry.
	 */
	if (row->ari_chosen > 0 && row->ari_chosen < row->not_after) {
		due = row->ari_chosen;
		*ret_reason = SCHED_ARI;
	}
	if (gate > due) {
		due = gate;
		*ret_reason = gate_reason;
	}
	return due;
}

time_t
sched_ari_fetch(const struct store_cert *row, time_t now)
{
	if (row == NULL || row->ari_id == NULL || row->ari_next_fetch <= 0 ||
	    row->not_after <= now)
		return SCHED_NEVER;
	return row->ari_next_fetch;
}
