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

void log_init(const char *progname);
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
