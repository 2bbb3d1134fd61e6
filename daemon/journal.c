#include "journal.h"

#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

#define FIELD_MAX 2300
#define JOURNAL_SOCKET "/run/systemd/journal/socket" /* libsystemd's */

/* One NAME=value field. */
static void
add(struct iovec *iov, int *n, char *buf, const char *name, const char *v)
{
	int len = snprintf(buf, FIELD_MAX, "%s=%s", name, v);

	if (len < 0)
		return;
	if (len >= FIELD_MAX)
		len = FIELD_MAX - 1;
	iov[*n].iov_base = buf;
	iov[*n].iov_len = (size_t)len;
	(*n)++;
}

static void
sink(enum log_level lvl, enum log_event ev, const struct log_ctx *ctx,
    const char *msg)
{
	char f[7][FIELD_MAX], prio[16];
	struct iovec iov[7];
	int n = 0;

	snprintf(prio, sizeof(prio), "%d", (int)lvl);
	add(iov, &n, f[0], "MESSAGE", msg);
	add(iov, &n, f[1], "PRIORITY", prio);
	add(iov, &n, f[2], "SYSLOG_IDENTIFIER", "acmed");
	if (log_event_id(ev) != NULL)
		add(iov, &n, f[3], "MESSAGE_ID", log_event_id(ev));
	if (ctx != NULL && ctx->cert != NULL)
		add(iov, &n, f[4], "ACMED_CERT", ctx->cert);
	if (ctx != NULL && ctx->ca != NULL)
		add(iov, &n, f[5], "ACMED_CA", ctx->ca);
	if (ctx != NULL && ctx->profile != NULL)
		add(iov, &n, f[6], "ACMED_PROFILE", ctx->profile);
	/* If the journal is gone, fall back to the stream journald reads. */
	if (sd_journal_sendv(iov, n) < 0)
		fprintf(stderr, "<%d>%s\n", (int)lvl, msg);
}

/*
 * Only with the native socket there: sd_journal_sendv() returns success
 * without sending when it is missing (a RootDirectory= without it, say),
 * and the entries would be lost.  Without it, the "<N>" lines on the
 * stream reach journald instead.
 */
void
journal_enable(void)
{
	if (access(JOURNAL_SOCKET, F_OK) == 0)
		log_set_sink(sink);
}
