#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum log_level max_level = LOG_LVL_INFO;
static int use_prefix;
static log_sink_fn sink;
/* Per thread: the certificate this thread is working on. */
static _Thread_local struct log_ctx ctx;
static _Thread_local int have_ctx;

/* Stable ids (random once, never change): journalctl MESSAGE_ID=... */
static const char *const event_ids[LOG_EV__MAX] = {
    [LOG_EV_NONE] = NULL,
    [LOG_EV_ISSUED] = "2c6e9a0f3b5d4e7f8a1b2c3d4e5f6a71",
    [LOG_EV_FAILED] = "7d1f3a5b9c2e4f60a8b7c6d5e4f3a2b1",
    [LOG_EV_HOOK_FAILED] = "b4e2c8a6d0f14e3a9b5c7d2e1f0a3b6c",
    [LOG_EV_EXPIRING] = "e9a7c5b3d1f24680aceb13579bdf0246",
};

/*
 * JOURNAL_STREAM is "dev:ino" of the stream systemd connected; only if it
 * matches our stderr are we really talking to journald (systemd.exec(5)).
 */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname)
{
	(void)progname;
	use_prefix = stderr_is_journal();
	if (getenv("ACMED_DEBUG") != NULL)
		max_level = LOG_LVL_DEBUG;
}

int
log_to_journal(void)
{
	return use_prefix;
}

void
log_set_sink(log_sink_fn fn)
{
	sink = fn;
}

void
log_set_ctx(const struct log_ctx *c)
{
	have_ctx = c != NULL;
	if (c != NULL)
		ctx = *c;
}

const char *
log_event_id(enum log_event ev)
{
	return ev < LOG_EV__MAX ? event_ids[ev] : NULL;
}

void
log_set_level(enum log_level max)
{
	max_level = max;
}

static const char *
level_word(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_ERR:
		return "error";
	case LOG_LVL_WARN:
		return "warning";
	case LOG_LVL_NOTICE:
		return "notice";
	case LOG_LVL_INFO:
		return "info";
	case LOG_LVL_DEBUG:
		return "debug";
	}
	return "?";
}

static void __attribute__((format(printf, 3, 0)))
emit(enum log_level lvl, enum log_event ev, const char *fmt, va_list ap)
{
	char line[2048];

	if (lvl > max_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (sink != NULL)
		sink(lvl, ev, have_ctx ? &ctx : NULL, line);
	else if (use_prefix)
		fprintf(stderr, "<%d>%s\n", (int)lvl, line);
	else
		fprintf(stderr, "acmed: %s: %s\n", level_word(lvl), line);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(lvl, LOG_EV_NONE, fmt, ap);
	va_end(ap);
}

void
log_event(enum log_level lvl, enum log_event ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(lvl, ev, fmt, ap);
	va_end(ap);
}

/* Escaped length of src[0..len); stops counting once it exceeds "room". */
static size_t
escaped_len(const char *src, size_t len, size_t room)
{
	size_t i, n = 0;

	for (i = 0; i < len && n <= room; i++) {
		unsigned char c = (unsigned char)src[i];

		n += (c < 0x20 || c >= 0x7f || c == '\\') ? 4 : 1;
	}
	return n;
}

char *
log_escape(char *dst, size_t dst_size, const char *src, size_t src_len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	if (dst_size < 4) {
		if (dst_size > 0)
			dst[0] = '\0';
		return dst;
	}
	/*
	 * Invariant: o <= dst_size - 4, leaving room for "...\0", until the
	 * rest of the input is known to fit without the "...".
	 */
	for (i = 0; i < src_len; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t need = (c < 0x20 || c >= 0x7f || c == '\\') ? 4 : 1;

		if (o + need > dst_size - 4 &&
		    escaped_len(src + i, src_len - i, dst_size - 1 - o) >
			dst_size - 1 - o) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 1) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	dst[o] = '\0';
	return dst;
}
