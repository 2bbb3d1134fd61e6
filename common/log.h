/*
 * Logging to stderr.  Under journald (JOURNAL_STREAM names our stderr) each
 * line carries a "<N>" syslog priority prefix so journald files it at the
 * right level; on a terminal lines carry a short level word instead.
 */
#ifndef ACMED_LOG_H
#define ACMED_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/*
 * Structured context for journald: the certificate being worked on, its
 * CA and profile.  Set by the renewal pass around each certificate; every
 * line logged meanwhile carries it (ACMED_CERT=, ACMED_CA=, ACMED_PROFILE=).
 */
struct log_ctx {
	const char *cert;
	const char *ca;
	const char *profile;
};

/* Events with a stable MESSAGE_ID, so journalctl can find them. */
enum log_event {
	LOG_EV_NONE,
	LOG_EV_ISSUED,
	LOG_EV_FAILED,
	LOG_EV_HOOK_FAILED,
	LOG_EV_EXPIRING,
	LOG_EV__MAX,
};

/* A sink receives each formatted line (used for the journal). */
typedef void (*log_sink_fn)(enum log_level lvl, enum log_event ev,
    const struct log_ctx *ctx, const char *msg);

void log_init(const char *progname);
/* True when stderr is connected to journald (JOURNAL_STREAM matches). */
int log_to_journal(void);
void log_set_sink(log_sink_fn sink);
/* Set (or with NULL clear) the context; the strings must outlive it. */
void log_set_ctx(const struct log_ctx *ctx);
/* The MESSAGE_ID of an event (32 hex digits), or NULL for LOG_EV_NONE. */
const char *log_event_id(enum log_event ev);
void log_event(enum log_level lvl, enum log_event ev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_set_level(enum log_level max);
void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/*
 * Copy untrusted bytes (server text) into "dst" of size "dst_size" with
 * control and non-ASCII bytes escaped as \xNN and the result truncated
 * with "..." if needed.  Always NUL-terminates (dst_size > 0).  Returns dst.
 */
char *log_escape(char *dst, size_t dst_size, const char *src, size_t src_len);

#endif
