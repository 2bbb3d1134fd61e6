/*
 * Operator commands that talk to a CA outside the renewal pass: list a
 * CA's profiles, revoke a certificate, roll an account key over.  They
 * print results to stdout and log failures.
 */
#ifndef ACMED_ADMIN_H
#define ACMED_ADMIN_H

#include <stdbool.h>

struct cfg;
struct store;

/* "ca" is a configured CA's name or a directory URL. */
int admin_profiles(const struct cfg *cfg, const char *ca);
int admin_revoke(const struct cfg *cfg, struct store *st, const char *state_dir,
    const char *name, int reason, bool with_cert_key);
int admin_rollover(const struct cfg *cfg, struct store *st,
    const char *state_dir, const char *ca);

#endif
