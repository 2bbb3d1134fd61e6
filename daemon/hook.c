#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define HOOK_ENV_MAX 512
#define HOOK_KILL_GRACE_S 5

extern char **environ;

/* The daemon's environment with "extra" added (replacing same names). */
static char **
build_env(char *const *extra)
{
	size_t n = 0, m = 0, i, j;
	char **env;

	while (environ[n] != NULL && n < HOOK_ENV_MAX)
		n++;
	while (extra[m] != NULL)
		m++;
	if ((env = calloc(n + m + 1, sizeof(char *))) == NULL)
		return NULL;
	for (i = 0, j = 0; i < n; i++) {
		size_t k, len = strcspn(environ[i], "=");
		int replaced = 0;

		for (k = 0; k < m; k++)
			if (strncmp(extra[k], environ[i], len + 1) == 0)
				replaced = 1;
		if (!replaced)
			env[j++] = environ[i];
	}
	for (i = 0; i < m; i++)
		env[j++] = extra[i];
	return env;
}

static void
child(char *const *argv, char **env)
{
	sigset_t none;
	int fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		dup2(fd, STDIN_FILENO);
		if (fd != STDIN_FILENO)
			close(fd);
	}
	execve(argv[0], argv, env);
	_exit(127);
}

static void
pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Wait up to "secs" for "pid"; 1 if it ended (status in *st), 0 if not. */
static int
wait_for(pid_t pid, int secs, int *st)
{
	long waited = 0;
	pid_t w;

	for (;;) {
		w = waitpid(pid, st, WNOHANG);
		if (w == pid)
			return 1;
		if (w < 0 && errno != EINTR)
			return -1;
		if (waited >= secs * 1000L)
			return 0;
		pause_ms(waited < 1000 ? 10 : 100);
		waited += waited < 1000 ? 10 : 100;
	}
}

int
hook_run(const char *subject, char *const *argv, char *const *env,
    int timeout_s, int *ret_status)
{
	char **full = build_env(env);
	int st = 0, done;
	pid_t pid;

	if (full == NULL)
		return -ENOMEM;
	pid = fork();
	if (pid < 0) {
		free(full);
		log_err("%s: hook %s: fork: %s", subject, argv[0], strerror(errno));
		return -errno;
	}
	if (pid == 0)
		child(argv, full);
	free(full);
	setpgid(pid, pid);
	done = wait_for(pid, timeout_s, &st);
	if (done == 0) {
		log_err("%s: hook %s did not finish within %d s; terminating it", subject, argv[0], timeout_s);
		kill(-pid, SIGTERM);
		if (wait_for(pid, HOOK_KILL_GRACE_S, &st) == 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
		return -ETIMEDOUT;
	}
	if (done < 0) {
		log_err("%s: hook %s: waitpid: %s", subject, argv[0], strerror(errno));
		return -ECHILD;
	}
	*ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (*ret_status == 127)
		log_err("%s: hook %s could not be run (exit 127)", subject, argv[0]);
	else if (*ret_status != 0)
		log_err("%s: hook %s exited with status %d", subject, argv[0], *ret_status);
	else
		log_info("%s: hook %s succeeded", subject, argv[0]);
	return 0;
}
