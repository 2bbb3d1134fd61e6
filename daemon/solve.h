/*
 * Challenge solving for one certificate: http-01 through the built-in
 * responder and/or a webroot, tls-alpn-01 through the built-in TLS
 * responder, dns-01 through the operator's hook.  Responders are started
 * on first use (under the pass's lock) and shared by all certificates
 * and threads of a pass.
 */
#ifndef ACMED_SOLVE_H
#define ACMED_SOLVE_H

#include <pthread.h>

struct acme_solver;
struct cfg_cert;
struct solvers;

/*
 * Prepare "ret" for the certificate's configured challenge, starting the
 * responder it needs in "*reg" (created on first use).  A dns-01 hook is
 * killed after "hook_timeout" seconds.  Logs failures.
 */
int solve_begin(struct solvers **reg, pthread_mutex_t *lock,
    const struct cfg_cert *c, unsigned hook_timeout, struct acme_solver *ret);
void solve_end(struct acme_solver *solver);
/* Stop every responder; NULL is fine. */
void solvers_free(struct solvers *reg);

#endif
