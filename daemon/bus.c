#include "bus.h"

#include <string.h>

#include <systemd/sd-bus.h>

#include "log.h"

int
bus_reload_units(char *const *units, size_t nunits)
{
	sd_bus *bus = NULL;
	size_t i;
	int failed = 0, r;

	if (nunits == 0)
		return 0;
	if ((r = sd_bus_open_system(&bus)) < 0) {
		log_err("cannot connect to the system bus to reload units: %s", strerror(-r));
		return (int)nunits;
	}
	for (i = 0; i < nunits; i++) {
		sd_bus_error err = SD_BUS_ERROR_NULL;
		sd_bus_message *reply = NULL;

		r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
		    "org.freedesktop.systemd1.Manager", "ReloadUnit", &err, &reply, "ss", units[i], "replace");
		if (r < 0) {
			log_event(LOG_LVL_ERR, LOG_EV_HOOK_FAILED, "reloading %s failed: %s", units[i],
			    err.message != NULL ? err.message : strerror(-r));
			failed++;
		} else {
			log_info("asked systemd to reload %s", units[i]);
		}
		sd_bus_error_free(&err);
		sd_bus_message_unref(reply);
	}
	sd_bus_flush_close_unref(bus);
	return failed;
}
