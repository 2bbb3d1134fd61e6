/* systemd notification (the only file that includes <systemd/sd-daemon.h>). */
#ifndef ACMED_NOTIFY_H
#define ACMED_NOTIFY_H

void notify_ready(void);
void notify_stopping(void);
void notify_reloading(void);
/* Half the watchdog interval in seconds (at least 1), or 0 if none. */
long notify_watchdog_half(void);
void notify_watchdog(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
