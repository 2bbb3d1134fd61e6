#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum log_level max_level = LOG_LVL_INFO;
static int use_prefix;

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

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (lvl > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (use_prefix)
		fprintf(stderr, "<%d>%s\n", (int)lvl, line);
	else
		fprintf(stderr, "acmed: %s: %s\n", level_word(lvl), line);
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
