/*
 * The YAML configuration loader (config/cfg.c): the input is one
 * configuration file, loaded through cfg_load_files() from a memfd (so the
 * real read path with its CFG_FILE_MAX cap is used).  Either a config or
 * diagnostics come back, never both; every diagnostic is one printable line
 * that starts with the file name; a loaded config satisfies what the rest
 * of acmed relies on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cfg.h"
#include "fuzz.h"

static int fd = -1;
static char path[64];

static void
check_cfg(const struct cfg *c)
{
	size_t i, j;

	for (i = 0; i < c->ncerts; i++) {
		const struct cfg_cert *ce = &c->certs[i];

		if (ce->name == NULL || ce->ca == NULL || ce->ndomains == 0 ||
		    ce->ndomains > CFG_NAMES_MAX || ce->output == NULL)
			abort();
		if (cfg_find_cert(c, ce->name) != ce || cfg_find_ca(c, ce->ca->name) != ce->ca)
			abort();
		for (j = 0; j < ce->ndomains; j++) {
			char *copy = strdup(ce->domains[j]);
			const char *why;

			/* Stored names are normalised already. */
			if (copy == NULL || cfg_normalise_identifier(copy, &why) < 0 ||
			    strcmp(copy, ce->domains[j]) != 0)
				abort();
			free(copy);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *const paths[] = {path};
	struct cfg_diag d = {0};
	struct cfg *c = NULL;
	size_t i, plen;
	int r;

	fuzz_quiet_logs();
	if (fd < 0) {
		if ((fd = memfd_create("fuzz.yaml", MFD_CLOEXEC)) < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	r = cfg_load_files(paths, 1, &c, &d);
	if ((r == 0) != (c != NULL) || (r == 0 && d.nmsgs != 0) || (r == -EINVAL && d.nmsgs == 0))
		abort();
	plen = strlen(path);
	for (i = 0; i < d.nmsgs; i++) {
		const unsigned char *p = (const unsigned char *)d.msgs[i];

		if (strncmp(d.msgs[i], path, plen) != 0)
			abort();
		for (; *p != '\0'; p++)
			if (*p < 0x20 || *p == 0x7f)
				abort();
	}
	if (c != NULL)
		check_cfg(c);
	cfg_free(c);
	cfg_diag_fini(&d);
	return 0;
}
