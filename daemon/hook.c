#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define HOOK_ENV_MAX 512
#define HOOK_KILL_GRACE_MS 5000
#define HOOK_DRAIN_MS 1000
#define HOOK_POLL_MS 100

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

/* In the child: own process group, stdin /dev/null, output to "out". */
static void
child(char *const *argv, char **env, int out)
{
	sigset_t none;
	int fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	if ((fd = open("/dev/null", O_RDONLY)) >= 0 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	dup2(out, STDOUT_FILENO);
	dup2(out, STDERR_FILENO);
	/*
	 * Nothing else: not what libraries opened without O_CLOEXEC (libcurl's
	 * sockets to the CA), nor what our own parent left open for us.
	 */
	closefrom(STDERR_FILENO + 1);
	execve(argv[0], argv, env);
	_exit(127);
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * Log complete output lines as they come, escaped and prefixed; past
 * HOOK_OUTPUT_MAX bytes, count but drop.
 */
struct capture {
	const char *subject;
	const char *prog;
	char line[512];
	size_t len;
	size_t total;
};

static void
flush_line(struct capture *c)
{
	char esc[1024];

	if (c->len == 0)
		return;
	log_info("%s: hook %s: %s", c->subject, c->prog, log_escape(esc, sizeof(esc), c->line, c->len));
	c->len = 0;
}

static void
take(struct capture *c, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, c->total++) {
		if (c->total >= HOOK_OUTPUT_MAX)
			continue;
		if (buf[i] == '\n' || c->len == sizeof(c->line)) {
			flush_line(c);
			if (buf[i] == '\n')
				continue;
		}
		c->line[c->len++] = buf[i];
	}
}

/* Read output until EOF or the deadline; 1 at EOF, 0 at the deadline. */
static int
drain(int fd, struct capture *cap, long deadline)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[4096];
	ssize_t n;
	long left;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0)
			return 0;
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (pfd.revents == 0)
			continue;
		if ((n = read(fd, buf, sizeof(buf))) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1;
		take(cap, buf, (size_t)n);
	}
}

static int
wait_until(pid_t pid, long deadline, int *st)
{
	for (;;) {
		pid_t w = waitpid(pid, st, WNOHANG);
		struct timespec ts = {0, 20 * 1000000L};

		if (w == pid)
			return 1;
		if (w < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			return 0;
		nanosleep(&ts, NULL);
	}
}

/*
 * Read the hook's output while waiting for its main process, until that
 * has exited and the output is closed, or the deadline.  The hook is done
 * when its main process is: a process it left behind that still holds the
 * output gets HOOK_DRAIN_MS more to finish, not the rest of the timeout.
 * Returns 1 once the main process exited (status in "st", "ret_eof" says
 * whether the output was closed), 0 at the deadline, -1 if waitpid fails.
 */
static int
watch(int fd, pid_t pid, struct capture *cap, long deadline, int *st,
    bool *ret_eof)
{
	bool exited = false, eof = false;
	int r;

	for (;;) {
		long now = now_ms(), limit = deadline;

		if ((exited && eof) || now >= deadline)
			break;
		/* Look at the main process again every HOOK_POLL_MS. */
		if (!exited && !eof && limit > now + HOOK_POLL_MS)
			limit = now + HOOK_POLL_MS;
		if (!eof && drain(fd, cap, limit) == 1)
			eof = true;
		if (exited)
			continue;
		/* Once the output is closed, only the main process is left. */
		if ((r = wait_until(pid, eof ? deadline : 0, st)) < 0)
			return -1;
		if (r == 1) {
			exited = true;
			if (deadline > now_ms() + HOOK_DRAIN_MS)
				deadline = now_ms() + HOOK_DRAIN_MS;
		}
	}
	*ret_eof = eof;
	return exited;
}

int
hook_run(const char *subject, char *const *argv, char *const *env,
    int timeout_s, int *ret_status)
{
	struct capture cap = {.subject = subject, .prog = argv[0]};
	long deadline = now_ms() + (long)timeout_s * 1000L;
	char **full = build_env(env);
	int pipefd[2], st = 0, done, werr;
	bool eof = false;
	pid_t pid;

	if (full == NULL)
		return -ENOMEM;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		free(full);
		return -errno;
	}
	if ((pid = fork()) < 0) {
		int r = -errno;

		log_err("%s: hook %s: fork: %s", subject, argv[0], strerror(errno));
		free(full);
		close(pipefd[0]);
		close(pipefd[1]);
		return r;
	}
	if (pid == 0)
		child(argv, full, pipefd[1]);
	free(full);
	close(pipefd[1]);
	setpgid(pid, pid);
	done = watch(pipefd[0], pid, &cap, deadline, &st, &eof);
	werr = errno;
	if (done == 0) {
		log_event(LOG_LVL_ERR, LOG_EV_HOOK_FAILED, "%s: hook %s did not finish within %d s; killing its process group", subject, argv[0], timeout_s);
		kill(-pid, SIGTERM);
		if (wait_until(pid, now_ms() + HOOK_KILL_GRACE_MS, &st) == 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
		kill(-pid, SIGKILL); /* stragglers that outlived the leader */
	} else if (done == 1 && !eof) {
		/* To outlive its hook a process must leave the group (setsid). */
		log_warn("%s: hook %s exited, but processes it started still hold its output; killing its process group", subject, argv[0]);
		kill(-pid, SIGTERM);
		if (drain(pipefd[0], &cap, now_ms() + HOOK_KILL_GRACE_MS) == 0)
			kill(-pid, SIGKILL);
	} else if (done < 0) {
		kill(-pid, SIGKILL);
	}
	close(pipefd[0]);
	flush_line(&cap);
	if (cap.total > HOOK_OUTPUT_MAX)
		log_info("%s: hook %s: %zu more bytes of output not logged", subject, argv[0], cap.total - HOOK_OUTPUT_MAX);
	if (done == 0)
		return -ETIMEDOUT;
	if (done < 0) {
		log_err("%s: hook %s: waitpid: %s", subject, argv[0], strerror(werr));
		return -ECHILD;
	}
	*ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (*ret_status == 127)
		log_event(LOG_LVL_ERR, LOG_EV_HOOK_FAILED, "%s: hook %s could not be run (exit 127)", subject, argv[0]);
	else if (*ret_status != 0)
		log_event(LOG_LVL_ERR, LOG_EV_HOOK_FAILED, "%s: hook %s exited with status %d", subject, argv[0], *ret_status);
	else
		log_info("%s: hook %s succeeded", subject, argv[0]);
	return 0;
}
