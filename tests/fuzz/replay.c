/*
 * Replay driver for the fuzz harnesses without libFuzzer: calls
 * LLVMFuzzerTestOneInput() once for every file named on the command line
 * (directories: every regular file in them, sorted).  A crash, a sanitizer
 * report or an abort() in the harness ends the process with a non-zero
 * status; inputs that cannot be read count as failures.  Ends with the
 * usual "N passed, N failed" line.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "fuzz.h"

/* Far above any kept input; the harnesses meet the product's caps anyway. */
#define REPLAY_FILE_MAX (16 * 1024 * 1024)

static unsigned passed, failed;

static void
replay_file(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	if ((r = fs_read_file(path, REPLAY_FILE_MAX, &data, &len)) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(-r));
		failed++;
		return;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	free(data);
	passed++;
}

static void
replay_dir(const char *dir)
{
	struct dirent **ents = NULL;
	char path[4096];
	int n, i;

	if ((n = scandir(dir, &ents, NULL, alphasort)) < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		failed++;
		return;
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.' &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) < sizeof(path))
			replay_file(path);
		free(ents[i]);
	}
	free(ents);
}

int
main(int argc, char **argv)
{
	struct stat st;
	int i;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			replay_dir(argv[i]);
		else
			replay_file(argv[i]);
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
