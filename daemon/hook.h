/*
 * Run an operator's hook: fork + execve of an argv (never a shell), in its
 * own process group, stdin from /dev/null, with the daemon's environment
 * plus ACMED_* variables, killed after a timeout.
 */
#ifndef ACMED_HOOK_H
#define ACMED_HOOK_H

#define HOOK_TIMEOUT_S 120

/*
 * "env" is a NULL-terminated list of "NAME=value" to add.  Returns 0 and
 * the exit status (or 128 + signal) in "ret_status", -ETIMEDOUT if the
 * hook had to be killed, or a negative errno if it could not start.
 * Logs the outcome with "subject" first.
 */
int hook_run(const char *subject, char *const *argv, char *const *env,
    int timeout_s, int *ret_status);

#endif
