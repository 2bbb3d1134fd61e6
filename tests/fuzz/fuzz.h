/*
 * Shared by the fuzz harnesses (tests/fuzz/fuzz_*.c).  Each harness defines
 * LLVMFuzzerTestOneInput(); it is linked either with libFuzzer (make fuzz)
 * or with replay.c, which feeds it the kept corpus (make check).  Harnesses
 * impose no size limits of their own: the caps under test are the
 * product's.
 */
#ifndef ACMED_FUZZ_H
#define ACMED_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of the input (abort on OOM: not a finding). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * Log lines carry untrusted text only through log_escape(): a line with a
 * control character (a forged second log line, a terminal escape) is a
 * finding.  Lines are formatted (debug included) but not printed.
 */
static inline void
fuzz_log_sink(enum log_level lvl, enum log_event ev, const struct log_ctx *ctx,
    const char *msg)
{
	const unsigned char *p;

	(void)lvl;
	(void)ev;
	(void)ctx;
	for (p = (const unsigned char *)msg; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

/* FUZZ_LOG=1 in the environment prints the lines instead (debugging). */
static inline void
fuzz_quiet_logs(void)
{
	if (getenv("FUZZ_LOG") == NULL)
		log_set_sink(fuzz_log_sink);
	log_set_level(LOG_LVL_DEBUG);
}

#endif
