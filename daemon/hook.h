/*
 * Run an operator's hook: fork + execve of an argv (never a shell), in its
 * own process group, stdin from /dev/null, with the daemon's environment
 * plus ACMED_* variables.  Its stdout and stderr are logged line by line
 * (escaped, the first HOOK_OUTPUT_MAX bytes).  The hook is done when its
 * main process exits; processes of its group that still hold its output a
 * second later are killed.  At the timeout the whole process group is
 * killed (TERM, then KILL).
 */
#ifndef ACMED_HOOK_H
#define ACMED_HOOK_H

#define HOOK_OUTPUT_MAX 4096

/*
 * "env" is a NULL-terminated list of "NAME=value" to add.  Returns 0 and
 * the exit status (or 128 + signal) in "ret_status", -ETIMEDOUT if the
 * hook had to be killed, or a negative errno if it could not start.
 * Logs the outcome with "subject" first.
 */
int hook_run(const char *subject, char *const *argv, char *const *env,
    int timeout_s, int *ret_status);

#endif
