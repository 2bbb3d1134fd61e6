/*
 * A stand-in for systemd's manager object on a private bus, for tests:
 * owns org.freedesktop.systemd1 and answers Manager.ReloadUnit(ss) by
 * printing "ReloadUnit NAME MODE" to stdout (one line per call, flushed).
 * Units named "fail-*" get an error, as systemd gives for unknown units.
 * Connects to DBUS_SYSTEM_BUS_ADDRESS; runs until killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>

static int
reload_unit(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	const char *name, *mode;
	int r;

	(void)userdata;
	if ((r = sd_bus_message_read(m, "ss", &name, &mode)) < 0)
		return r;
	printf("ReloadUnit %s %s\n", name, mode);
	fflush(stdout);
	if (strncmp(name, "fail-", 5) == 0)
		return sd_bus_error_setf(err, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not found.", name);
	return sd_bus_reply_method_return(m, "o", "/org/freedesktop/systemd1/job/1");
}

static const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("ReloadUnit", "ss", "o", reload_unit, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

int
main(void)
{
	sd_bus_slot *slot = NULL;
	sd_bus *bus = NULL;
	int r;

	if ((r = sd_bus_open_system(&bus)) < 0 ||
	    (r = sd_bus_add_object_vtable(bus, &slot, "/org/freedesktop/systemd1",
		 "org.freedesktop.systemd1.Manager", manager_vtable, NULL)) < 0 ||
	    (r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0)) < 0) {
		fprintf(stderr, "fake_systemd: %s\n", strerror(-r));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if ((r = sd_bus_process(bus, NULL)) < 0)
			break;
		if (r > 0)
			continue;
		if ((r = sd_bus_wait(bus, (uint64_t)-1)) < 0)
			break;
	}
	sd_bus_slot_unref(slot);
	sd_bus_unref(bus);
	return 0;
}
