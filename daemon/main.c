/*
 * acmed: keeps TLS certificates valid.  Commands:
 *   check            validate the configuration
 *   run [--once]     the daemon (or a single pass)
 *   renew ...        renew named, all or due certificates now
 *   status           what is installed and when it renews
 * "run" never talks to a CA itself: it execs "acmed renew --due" as a
 * one-shot worker and schedules around it, so a crash or a hang in ACME,
 * TLS or a hook stays in the worker.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin.h"
#include "cfg.h"
#include "clock.h"
#include "fs.h"
#include "journal.h"
#include "json.h"
#include "log.h"
#include "notify.h"
#include "renew.h"
#include "store.h"

#define EXIT_NOTHING 2
#define EXIT_USAGE 64
#define EXIT_CONFIG 78
#define WORKER_RESPAWN_MIN_S 60 /* default; see respawn_min() */
#define IDLE_WAKE_MAX_S (24 * 3600)

struct opts {
	char *config_dir;
	char *state_dir;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: acmed [--config-dir DIR] [--state-dir DIR] [-v] COMMAND\n"
	    "\n"
	    "commands:\n"
	    "  check                   validate the configuration\n"
	    "  run [--once]            run the daemon, or one renewal pass\n"
	    "  renew [--force] NAME... renew these certificates if due (or now, with --force)\n"
	    "  renew [--force] --all   the same for every certificate\n"
	    "  status [NAME] [--json]  show each certificate and when it renews\n"
	    "  profiles CA             list the profiles a CA (name or directory URL) offers\n"
	    "  revoke NAME [--reason N] [--with-cert-key]\n"
	    "                          revoke the installed certificate (it is then replaced)\n"
	    "  rollover CA             replace the CA account's key (RFC 8555 7.3.5)\n"
	    "\n"
	    "options (before or after the command):\n"
	    "  -c, --config-dir DIR    the *.yaml files (default /etc/acmed)\n"
	    "  -s, --state-dir DIR     state, accounts and locks (default /var/lib/acmed)\n"
	    "  -v, --verbose           debug messages too\n");
}

static int
load_config(const struct opts *o, struct cfg **ret)
{
	struct cfg_diag d = {0};
	size_t i;
	int r;

	r = cfg_load_dir(o->config_dir, ret, &d);
	for (i = 0; i < d.nmsgs; i++)
		log_err("%s", d.msgs[i]);
	cfg_diag_fini(&d);
	return r;
}

static int
cmd_check(const struct opts *o)
{
	struct cfg_diag d = {0};
	struct cfg *c;
	size_t i;
	int r;

	if (load_config(o, &c) < 0)
		return EXIT_CONFIG;
	/*
	 * Files the configuration names but this machine lacks are warnings:
	 * the configuration itself is valid (and may be prepared elsewhere),
	 * but a renewal would fail on them here.
	 */
	r = cfg_check_paths(c, &d);
	for (i = 0; i < d.nmsgs; i++)
		log_warn("%s", d.msgs[i]);
	printf("%s: %zu CA(s), %zu certificate(s): OK%s\n", o->config_dir, c->ncas, c->ncerts,
	    r < 0 ? ", with the warnings above" : "");
	cfg_diag_fini(&d);
	cfg_free(c);
	return EXIT_SUCCESS;
}

static int
open_state(const struct opts *o, struct store **ret)
{
	int r;

	if ((r = fs_mkdir_p(o->state_dir, 0700)) < 0) {
		log_err("cannot create state directory %s: %s", o->state_dir, strerror(-r));
		return r;
	}
	return store_open(o->state_dir, ret);
}

/*
 * Take STATE/NAME.lock: "renew.lock" serialises everything that talks to a
 * CA or changes certificates (workers, renew, revoke, rollover; they wait
 * their turn), "daemon.lock" allows one daemon per state directory (with
 * "wait" false, a second one is refused at once).  Returns the fd that
 * holds the lock, or -1 (logged).
 */
static int
lock_state(const struct opts *o, const char *name, bool wait)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s.lock", o->state_dir, name);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EWOULDBLOCK)
			log_err("%s: another acmed daemon is running on the state directory %s", path, o->state_dir);
		else
			log_err("cannot lock %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int
cmd_renew(const struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"all", no_argument, NULL, 'a'},
	    {"due", no_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	struct renew_result res;
	struct store *st = NULL;
	struct cfg *c = NULL;
	bool force = false, all = false;
	int ch, lockfd, rc = EXIT_FAILURE;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == 'f')
			force = true;
		else if (ch == 'a' || ch == 'd')
			all = true;
		else
			return EXIT_USAGE;
	}
	if (all == (optind < argc)) {
		fprintf(stderr, "acmed renew: name certificates, or give --all\n");
		return EXIT_USAGE;
	}
	if (load_config(o, &c) < 0)
		return EXIT_CONFIG;
	if (open_state(o, &st) < 0)
		goto out;
	if ((lockfd = lock_state(o, "renew", true)) < 0)
		goto out;
	if (renew_pass(c, st, o->state_dir, all ? NULL : argv + optind, all ? 0 : (size_t)(argc - optind), force, &res) < 0) {
		log_err("renewal pass: %s", strerror(ENOMEM));
		close(lockfd);
		goto out;
	}
	close(lockfd);
	log_info("pass done: %u renewed, %u not due, %u failed", res.renewed, res.skipped, res.failed);
	rc = res.failed > 0 ? EXIT_FAILURE : res.renewed > 0 ? EXIT_SUCCESS : EXIT_NOTHING;
out:
	store_close(st);
	cfg_free(c);
	return rc;
}

static void
print_status(const struct cfg_cert *c, struct store *st)
{
	struct store_cert *row = NULL;
	const char *reason;
	char t1[32], t2[32];
	time_t due;
	size_t i;

	printf("%s\n  names:    ", c->name);
	for (i = 0; i < c->ndomains; i++)
		printf("%s%s", i ? ", " : "", c->domains[i]);
	printf("\n  ca:       %s\n  profile:  ", c->ca->name);
	if (store_cert_get(st, c->name, &row) < 0)
		row = NULL;
	printf("%s (asked), %s (issued)\n", c->profile != NULL ? c->profile : "-",
	    row != NULL && row->profile_issued != NULL ? row->profile_issued : "-");
	printf("  files:    %s/{privkey,cert,chain,fullchain}.pem\n", c->output);
	if (row != NULL && row->serial != NULL)
		printf("  serial:   %s\n  valid:    %s .. %s\n", row->serial,
		    clock_format(row->not_before, t1, sizeof(t1)), clock_format(row->not_after, t2, sizeof(t2)));
	else
		printf("  serial:   (none issued yet)\n");
	if (renew_due(c, st, &due, &reason) == 0)
		printf("  renews:   %s (%s)\n", due <= clock_now() ? "now" : clock_format(due, t1, sizeof(t1)), reason);
	if (row != NULL && row->last_error != NULL)
		printf("  error:    %s at %s (%d failure(s) in a row)\n", row->last_error,
		    clock_format(row->last_attempt, t1, sizeof(t1)), row->failures);
	store_cert_free(row);
}

/* One certificate as a JSON object (stable keys; times as epoch seconds). */
static struct json *
status_json(const struct cfg_cert *c, struct store *st)
{
	struct store_cert *row = NULL;
	struct json *o = json_object_new(), *names = json_array_new();
	const char *reason = "";
	time_t due = 0;
	size_t i;
	int bad = o == NULL || names == NULL;

	if (store_cert_get(st, c->name, &row) < 0)
		row = NULL;
	(void)renew_due(c, st, &due, &reason);
	for (i = 0; !bad && i < c->ndomains; i++)
		bad |= json_append(names, json_string_new(c->domains[i])) < 0;
	bad |= json_set_str(o, "name", c->name) < 0;
	bad |= json_set(o, "names", names) < 0;
	names = NULL;
	bad |= json_set_str(o, "ca", c->ca->name) < 0;
	bad |= json_set(o, "profile_requested", json_string_or_null(c->profile)) < 0;
	bad |= json_set(o, "profile_issued", json_string_or_null(row ? row->profile_issued : NULL)) < 0;
	bad |= json_set(o, "serial", json_string_or_null(row ? row->serial : NULL)) < 0;
	bad |= json_set(o, "not_before", json_int_new(row ? (long long)row->not_before : 0)) < 0;
	bad |= json_set(o, "not_after", json_int_new(row ? (long long)row->not_after : 0)) < 0;
	bad |= json_set(o, "next_renewal", json_int_new((long long)due)) < 0;
	bad |= json_set_str(o, "next_reason", reason) < 0;
	bad |= json_set(o, "ari_window_start", json_int_new(row ? (long long)row->ari_start : 0)) < 0;
	bad |= json_set(o, "ari_window_end", json_int_new(row ? (long long)row->ari_end : 0)) < 0;
	bad |= json_set(o, "ari_chosen", json_int_new(row ? (long long)row->ari_chosen : 0)) < 0;
	bad |= json_set(o, "hook_status", json_int_new(row ? row->hook_status : 0)) < 0;
	bad |= json_set(o, "failures", json_int_new(row ? row->failures : 0)) < 0;
	bad |= json_set(o, "last_attempt", json_int_new(row ? (long long)row->last_attempt : 0)) < 0;
	bad |= json_set(o, "last_error", json_string_or_null(row ? row->last_error : NULL)) < 0;
	bad |= json_set_str(o, "output", c->output) < 0;
	store_cert_free(row);
	json_free(names);
	if (bad) {
		json_free(o);
		return NULL;
	}
	return o;
}

static int
cmd_status(const struct opts *o, int argc, char **argv)
{
	struct store *st = NULL;
	struct cfg *c = NULL;
	struct json *all = NULL;
	const char *only = NULL;
	bool as_json = false;
	char *text;
	int i, rc = EXIT_FAILURE, shown = 0;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			as_json = true;
		else if (argv[i][0] != '-' && only == NULL)
			only = argv[i];
		else {
			fprintf(stderr, "acmed status: unexpected argument \"%s\"\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (load_config(o, &c) < 0)
		return EXIT_CONFIG;
	/* A reader: never creates, migrates or prunes the state. */
	if (store_open_readonly(o->state_dir, &st) < 0)
		goto out;
	if (as_json && (all = json_array_new()) == NULL)
		goto out;
	for (k = 0; k < c->ncerts; k++) {
		if (only != NULL && strcmp(only, c->certs[k].name) != 0)
			continue;
		shown++;
		if (!as_json)
			print_status(&c->certs[k], st);
		else if (json_append(all, status_json(&c->certs[k], st)) < 0)
			goto out;
	}
	if (only != NULL && shown == 0) {
		log_err("%s: no such certificate in the configuration", only);
		goto out;
	}
	if (as_json) {
		if ((text = json_dump(all, false)) == NULL)
			goto out;
		printf("%s\n", text);
		free(text);
	}
	rc = EXIT_SUCCESS;
out:
	json_free(all);
	store_close(st);
	cfg_free(c);
	return rc;
}

/* profiles CA | revoke NAME [--reason N] [--with-cert-key] | rollover CA */
static int
cmd_admin(const struct opts *o, int argc, char **argv)
{
	struct store *st = NULL;
	struct cfg *c = NULL;
	bool with_key = false;
	const char *target = NULL;
	long reason = -1;
	char *end;
	int i, lockfd, r = -EINVAL;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[0], "revoke") == 0 && strcmp(argv[i], "--with-cert-key") == 0) {
			with_key = true;
		} else if (strcmp(argv[0], "revoke") == 0 && strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
			reason = strtol(argv[++i], &end, 10);
			if (*end != '\0' || reason < 0 || reason > 10) {
				fprintf(stderr, "acmed revoke: --reason takes a number 0-10 (RFC 5280 5.3.1)\n");
				return EXIT_USAGE;
			}
		} else if (argv[i][0] != '-' && target == NULL) {
			target = argv[i];
		} else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (target == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (load_config(o, &c) < 0 && strcmp(argv[0], "profiles") != 0)
		return EXIT_CONFIG;
	if (strcmp(argv[0], "profiles") == 0) {
		r = admin_profiles(c, target);
	} else if (open_state(o, &st) == 0 && (lockfd = lock_state(o, "renew", true)) >= 0) {
		if (strcmp(argv[0], "revoke") == 0)
			r = admin_revoke(c, st, o->state_dir, target, (int)reason, with_key);
		else
			r = admin_rollover(c, st, o->state_dir, target);
		close(lockfd);
	}
	store_close(st);
	cfg_free(c);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Start "acmed renew --due" with these directories; returns its pid. */
static pid_t
spawn_worker(char *config_dir, char *state_dir)
{
	char a0[] = "acmed", a1[] = "--config-dir", a3[] = "--state-dir",
	     a5[] = "renew", a6[] = "--due";
	char *argv[] = {a0, a1, config_dir, a3, state_dir, a5, a6, NULL};
	extern char **environ;
	sigset_t none;
	pid_t pid;

	if ((pid = fork()) < 0) {
		log_err("cannot fork a renewal worker: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		closefrom(STDERR_FILENO + 1); /* the worker starts with 0-2 only */
		execve("/proc/self/exe", argv, environ);
		_exit(127);
	}
	return pid;
}

/* What the scheduler loop knows after looking at every certificate. */
struct plan {
	time_t next;           /* earliest due time (renewal or ARI fetch) */
	const char *next_name; /* the certificate due then */
	size_t ndue;           /* due now */
	size_t nfailing;       /* last attempt failed */
};

/*
 * Earliest due time over all certificates; "now" if state is unreadable.
 * One read of each row, all in one snapshot: with thousands of
 * certificates this is most of the daemon's work per wake-up.
 */
static void
make_plan(const struct renew_plan_cert *certs, size_t ncerts, struct store *st,
    struct plan *ret)
{
	time_t now = clock_now(), due;
	bool failing;
	size_t i;

	*ret = (struct plan){.next = now + IDLE_WAKE_MAX_S};
	(void)store_read_begin(st);
	for (i = 0; i < ncerts; i++) {
		failing = false;
		if (renew_next(&certs[i], st, now, &due, &failing) < 0)
			due = now;
		if (due <= now)
			ret->ndue++;
		if (due < ret->next || ret->next_name == NULL) {
			ret->next = due < ret->next ? due : ret->next;
			ret->next_name = certs[i].name;
		}
		ret->nfailing += failing;
	}
	store_read_end(st);
}

/* "2d 4h", "3h 5m", "42s": a short human duration. */
static const char *
human(time_t secs, char *buf, size_t size)
{
	if (secs <= 0)
		snprintf(buf, size, "now");
	else if (secs >= 86400)
		snprintf(buf, size, "in %lldd %lldh", (long long)secs / 86400, (long long)secs % 86400 / 3600);
	else if (secs >= 3600)
		snprintf(buf, size, "in %lldh %lldm", (long long)secs / 3600, (long long)secs % 3600 / 60);
	else if (secs >= 60)
		snprintf(buf, size, "in %lldm %llds", (long long)secs / 60, (long long)secs % 60);
	else
		snprintf(buf, size, "in %llds", (long long)secs);
	return buf;
}

struct daemon {
	const struct opts *o;
	/* What it plans by: not the parsed configuration, which it frees. */
	struct renew_plan_cert *certs;
	size_t ncerts;
	struct store *st;
	pid_t worker;
	time_t last_spawn;
	long respawn_min; /* seconds between worker starts */
	bool once;
	int worker_status;
	/* STATE/config.PID.GEN: the files of the configuration in use. */
	unsigned gen;
	char snapshot[PATH_MAX];
};

#define SNAPSHOT_PREFIX "config."

static void
free_plan_certs(struct renew_plan_cert *pcs, size_t n)
{
	size_t i;

	for (i = 0; pcs != NULL && i < n; i++)
		renew_plan_cert_fini(&pcs[i]);
	free(pcs);
}

/* The daemon's table of "c": what make_plan() needs of each certificate. */
static int
plan_certs(const struct cfg *c, struct renew_plan_cert **ret)
{
	struct renew_plan_cert *pcs;
	size_t i;

	if ((pcs = calloc(c->ncerts + 1, sizeof(*pcs))) == NULL)
		return -ENOMEM;
	for (i = 0; i < c->ncerts; i++)
		if (renew_plan_cert_init(&c->certs[i], &pcs[i]) < 0) {
			free_plan_certs(pcs, i);
			return -ENOMEM;
		}
	*ret = pcs;
	return 0;
}

/*
 * Load the configuration for the daemon.  The files are parsed where they
 * are (so that errors name them), then copied to STATE/config.PID.GEN; the
 * copy is what the daemon schedules by and what its workers are given:
 * a worker started after a failed reload runs with the configuration in
 * use, not with the broken files.  Returns 0 and replaces d->certs, or <0
 * with the errors logged and d->certs untouched.  With "checked", the
 * files were just validated where they are.
 */
static int
daemon_load(struct daemon *d, bool checked)
{
	struct renew_plan_cert *pcs = NULL;
	struct cfg_diag diag = {0};
	char dir[PATH_MAX];
	struct cfg *c = NULL;
	size_t i;
	int r;

	/* Where the operator edits them, unless just done ("checked"). */
	if (!checked && (r = load_config(d->o, &c)) < 0)
		return r;
	cfg_free(c);
	c = NULL;
	/* With our pid: an orphaned worker of a killed daemon keeps its copy. */
	if ((size_t)snprintf(dir, sizeof(dir), "%s/" SNAPSHOT_PREFIX "%ld.%u", d->o->state_dir, (long)getpid(), d->gen + 1) >= sizeof(dir))
		return -ENAMETOOLONG;
	(void)fs_remove_flat_dir(dir);
	if ((r = mkdir(dir, 0700) < 0 ? -errno : 0) == 0)
		r = cfg_copy_dir(d->o->config_dir, dir, &diag);
	for (i = 0; i < diag.nmsgs; i++)
		log_err("%s", diag.msgs[i]);
	cfg_diag_fini(&diag);
	if (r < 0) {
		log_err("cannot copy the configuration to %s: %s", dir, strerror(-r));
		(void)fs_remove_flat_dir(dir);
		return r;
	}
	/* The files may have changed since: the copy is what counts. */
	if ((r = load_config(&(struct opts){dir, d->o->state_dir}, &c)) < 0 || (r = plan_certs(c, &pcs)) < 0) {
		cfg_free(c);
		(void)fs_remove_flat_dir(dir);
		return r;
	}
	free_plan_certs(d->certs, d->ncerts);
	d->certs = pcs;
	d->ncerts = c->ncerts;
	cfg_free(c);
	d->gen++;
	snprintf(d->snapshot, sizeof(d->snapshot), "%s", dir);
	return 0;
}

/* Remove copies of earlier configurations (no worker may be starting). */
static void
prune_snapshots(const struct daemon *d)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dp;

	if ((dp = opendir(d->o->state_dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, SNAPSHOT_PREFIX, strlen(SNAPSHOT_PREFIX)) != 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", d->o->state_dir, de->d_name) < sizeof(path) &&
		    strcmp(path, d->snapshot) != 0)
			(void)fs_remove_flat_dir(path);
	}
	closedir(dp);
}

/*
 * At most one worker per WORKER_RESPAWN_MIN_S, so that a certificate that
 * stays due cannot make the daemon spin.  Tests that drive many passes
 * through one daemon shorten it with ACMED_RESPAWN_MIN_S (0..60), as they
 * set the clock with ACMED_FAKE_NOW.
 */
static long
respawn_min(void)
{
	const char *v = getenv("ACMED_RESPAWN_MIN_S");
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return WORKER_RESPAWN_MIN_S;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > WORKER_RESPAWN_MIN_S)
		return WORKER_RESPAWN_MIN_S;
	return n;
}

static void
reload(struct daemon *d)
{
	notify_reloading();
	if (daemon_load(d, false) < 0) {
		log_err("configuration reload failed; keeping the running configuration");
	} else {
		log_notice("configuration reloaded: %zu certificate(s)", d->ncerts);
		/* A new configuration gets its pass now, not after the pause. */
		if (!d->once)
			d->last_spawn = 0;
	}
	notify_ready();
}

static void
reap(struct daemon *d)
{
	int st;

	if (d->worker <= 0 || waitpid(d->worker, &st, WNOHANG) != d->worker)
		return;
	d->worker = 0;
	d->worker_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (d->worker_status != 0 && d->worker_status != EXIT_NOTHING)
		log_warn("renewal worker exited with status %d", d->worker_status);
}

/*
 * Wait for signals until "deadline"; while a worker runs, until it ends
 * (or the watchdog interval passes).  Returns 1 on a stop signal.
 */
static int
wait_events(struct daemon *d, int sfd, time_t deadline, long wd_half)
{
	struct signalfd_siginfo si;
	struct pollfd pfd = {.fd = sfd, .events = POLLIN};
	long ms = -1;
	time_t now = clock_now();

	if (d->worker <= 0)
		ms = deadline > now ? (long)(deadline - now) * 1000L : 0;
	else if (wd_half > 0)
		ms = wd_half * 1000L;
	if (ms > INT_MAX)
		ms = INT_MAX;
	if (poll(&pfd, 1, (int)ms) <= 0)
		return 0;
	if (read(sfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	switch (si.ssi_signo) {
	case SIGTERM:
	case SIGINT:
		return 1;
	case SIGHUP:
		reload(d);
		break;
	case SIGCHLD:
		reap(d);
		break;
	default:
		break;
	}
	return 0;
}

static int
daemon_loop(struct daemon *d, int sfd)
{
	struct plan plan;
	char when[32];
	time_t due;
	long wd_half = notify_watchdog_half();

	for (;;) {
		if (wd_half > 0)
			notify_watchdog();
		if (d->once && d->last_spawn != 0 && d->worker <= 0)
			return d->worker_status == 0 || d->worker_status == EXIT_NOTHING ? EXIT_SUCCESS : EXIT_FAILURE;
		make_plan(d->certs, d->ncerts, d->st, &plan);
#ifdef __GLIBC__
		/*
		 * Give back what loading and planning freed: the daemon then
		 * sleeps for hours (about 2.7 MB of 12 with 1,000 certificates).
		 */
		malloc_trim(0);
#endif
		due = plan.next;
		if (d->worker <= 0 && plan.ndue > 0 && (d->once || clock_now() >= d->last_spawn + d->respawn_min)) {
			d->last_spawn = clock_now();
			prune_snapshots(d);
			if ((d->worker = spawn_worker(d->snapshot, d->o->state_dir)) < 0)
				d->worker_status = EXIT_FAILURE;
			continue;
		}
		if (d->worker <= 0 && plan.ndue > 0)
			due = d->last_spawn + d->respawn_min;
		if (d->once && d->worker <= 0) {
			log_info("nothing due; next: %s %s", plan.next_name != NULL ? plan.next_name : "-",
			    human(plan.next - clock_now(), when, sizeof(when)));
			return EXIT_SUCCESS;
		}
		notify_status("%zu certificate(s), next: %s %s, %zu failing%s", d->ncerts,
		    plan.next_name != NULL ? plan.next_name : "-", human(plan.next - clock_now(), when, sizeof(when)),
		    plan.nfailing, d->worker > 0 ? ", renewing" : "");
		/* Wake for the watchdog at half its interval, from this loop. */
		if (wd_half > 0 && due > clock_now() + wd_half)
			due = clock_now() + wd_half;
		if (wait_events(d, sfd, due, wd_half) == 1)
			break;
	}
	notify_stopping();
	if (d->worker > 0) {
		log_notice("stopping: waiting for the renewal worker");
		kill(d->worker, SIGTERM);
		waitpid(d->worker, NULL, 0);
		d->worker = 0;
	}
	log_notice("stopped");
	return EXIT_SUCCESS;
}

static int
cmd_run(const struct opts *o, int argc, char **argv)
{
	struct daemon d = {.o = o, .respawn_min = respawn_min()};
	struct cfg *first = NULL;
	sigset_t mask;
	int sfd, rc, lockfd = -1;

	d.once = argc > 1 && strcmp(argv[1], "--once") == 0;
	if (argc > (d.once ? 2 : 1)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* Configuration errors before anything is created in the state. */
	if (load_config(o, &first) < 0)
		return EXIT_CONFIG;
	cfg_free(first);
	if (open_state(o, &d.st) < 0 || (!d.once && (lockfd = lock_state(o, "daemon", false)) < 0)) {
		store_close(d.st);
		return EXIT_FAILURE;
	}
	if (daemon_load(&d, true) < 0) {
		store_close(d.st);
		return EXIT_CONFIG;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
		log_err("signalfd: %s", strerror(errno));
		rc = EXIT_FAILURE;
		goto out;
	}
	if (!d.once) {
		log_notice("started: %zu certificate(s), state in %s", d.ncerts, o->state_dir);
		notify_ready();
	}
	rc = daemon_loop(&d, sfd);
	close(sfd);
out:
	/* The copies of the configuration, once no worker of ours can use one. */
	if (d.snapshot[0] != '\0' && d.worker <= 0) {
		prune_snapshots(&d);
		(void)fs_remove_flat_dir(d.snapshot);
	}
	if (lockfd >= 0)
		close(lockfd);
	store_close(d.st);
	free_plan_certs(d.certs, d.ncerts);
	return rc;
}

/*
 * The directory options and -v may also follow the command ("acmed check
 * --config-dir DIR"): take them out of the command's arguments.  Returns 0,
 * or -1 if one lacks its value.
 */
static int
late_options(struct opts *o, int *argc, char **argv)
{
	int i, n = 1;

	for (i = 1; i < *argc; i++) {
		const char *a = argv[i];
		char **dst = strcmp(a, "--config-dir") == 0 || strcmp(a, "-c") == 0 ? &o->config_dir
		    : strcmp(a, "--state-dir") == 0 || strcmp(a, "-s") == 0	 ? &o->state_dir
										 : NULL;

		if (dst != NULL) {
			if (++i == *argc)
				return -1;
			*dst = argv[i];
		} else if (strncmp(a, "--config-dir=", 13) == 0) {
			o->config_dir = argv[i] + 13;
		} else if (strncmp(a, "--state-dir=", 12) == 0) {
			o->state_dir = argv[i] + 12;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			log_set_level(LOG_LVL_DEBUG);
		} else {
			argv[n++] = argv[i];
		}
	}
	argv[n] = NULL;
	*argc = n;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config-dir", required_argument, NULL, 'c'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static char default_config[] = "/etc/acmed", default_state[] = "/var/lib/acmed";
	struct opts o = {default_config, default_state};
	const char *cmd;
	int ch;

	umask(077);
	signal(SIGPIPE, SIG_IGN);
	log_init("acmed");
	if (log_to_journal())
		journal_enable();
	while ((ch = getopt_long(argc, argv, "+c:s:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o.config_dir = optarg;
			break;
		case 's':
			o.state_dir = optarg;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (late_options(&o, &argc, argv) < 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "check") == 0 && argc > 1) {
		fprintf(stderr, "acmed check: unexpected argument \"%s\"\n", argv[1]);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "check") == 0)
		return cmd_check(&o);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(&o, argc, argv);
	if (strcmp(cmd, "renew") == 0)
		return cmd_renew(&o, argc, argv);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(&o, argc, argv);
	if (strcmp(cmd, "profiles") == 0 || strcmp(cmd, "revoke") == 0 || strcmp(cmd, "rollover") == 0)
		return cmd_admin(&o, argc, argv);
	fprintf(stderr, "acmed: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
