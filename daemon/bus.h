/*
 * Reload systemd units over D-Bus (org.freedesktop.systemd1.Manager
 * ReloadUnit), the only file that includes <systemd/sd-bus.h>.  The system
 * bus is found as sd-bus finds it (DBUS_SYSTEM_BUS_ADDRESS, else the
 * standard socket), which is how tests point it at a private bus.
 */
#ifndef ACMED_BUS_H
#define ACMED_BUS_H

#include <stddef.h>

/* Ask systemd to reload each unit once; logs each outcome.  Returns the
 * number of units that failed. */
int bus_reload_units(char *const *units, size_t nunits);

#endif
