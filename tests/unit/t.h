/*
 * A tiny test harness in the spirit of Redis' testhelp.h: T_CHECK counts
 * and reports, T_DONE prints "N passed, N failed" and gives the exit code.
 */
#ifndef ACMED_T_H
#define ACMED_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned t_run, t_fail;

#define T_CHECK(expr)                                                          \
	do {                                                                   \
		t_run++;                                                       \
		if (!(expr)) {                                                 \
			t_fail++;                                              \
			fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__,         \
			    __LINE__, #expr);                                  \
		}                                                              \
	} while (0)

#define T_STREQ(a, b)                                                          \
	do {                                                                   \
		const char *t_a_ = (a), *t_b_ = (b);                           \
		t_run++;                                                       \
		if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_) != 0) { \
			t_fail++;                                              \
			fprintf(stderr, "%s:%d: FAIL: %s == %s (\"%s\" vs \"%s\")\n", \
			    __FILE__, __LINE__, #a, #b,                        \
			    t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)");   \
		}                                                              \
	} while (0)

#define T_DONE()                                                               \
	(printf("%u passed, %u failed\n", t_run - t_fail, t_fail),             \
	    t_fail == 0 ? EXIT_SUCCESS : EXIT_FAILURE)

#endif
