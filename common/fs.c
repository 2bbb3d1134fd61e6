#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fs_stage(const char *path, const void *data, size_t len, mode_t mode,
    char **ret_tmp)
{
	char *tmp;
	int fd, r;
	unsigned attempt;

	if ((tmp = malloc(strlen(path) + 32)) == NULL)
		return -ENOMEM;
	/* O_EXCL with the final mode: never reuse or widen an existing file. */
	for (attempt = 0;; attempt++) {
		snprintf(tmp, strlen(path) + 32, "%s.tmp.%ld.%u", path, (long)getpid(), attempt);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd >= 0 || errno != EEXIST || attempt > 100)
			break;
	}
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	/* fchmod: the exact mode asked for, whatever the umask did. */
	if ((r = write_all(fd, data, len)) == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		free(tmp);
		return r;
	}
	*ret_tmp = tmp;
	return 0;
}

int
fs_commit(const char *tmp, const char *path)
{
	if (rename(tmp, path) < 0) {
		int r = -errno;

		unlink(tmp);
		return r;
	}
	return 0;
}

int
fs_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int
fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp, *dir, *slash;
	int r;

	if ((r = fs_stage(path, data, len, mode, &tmp)) < 0)
		return r;
	r = fs_commit(tmp, path);
	free(tmp);
	if (r < 0)
		return r;
	if ((dir = strdup(path)) == NULL)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	r = fs_sync_dir(dir);
	free(dir);
	return r;
}

int
fs_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path), i;

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) == 0) {
			/* Exactly "mode" for what we create, whatever the umask. */
			if (chmod(buf, mode) < 0)
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
		buf[i] = path[i];
	}
	return 0;
}

int
fs_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*ret = buf;
	*ret_len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

int
fs_symlink_atomic(const char *target, const char *path)
{
	char *tmp;
	size_t n = strlen(path) + 32;
	int r = 0;

	if ((tmp = malloc(n)) == NULL)
		return -ENOMEM;
	snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	(void)unlink(tmp);
	if (symlink(target, tmp) < 0)
		r = -errno;
	else if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
	}
	free(tmp);
	return r;
}

int
fs_remove_flat_dir(const char *dir)
{
	struct dirent *de;
	DIR *dp;
	int fd, r = 0;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -errno;
	if ((dp = fdopendir(fd)) == NULL) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0 && r == 0)
			r = -errno;
	}
	closedir(dp);
	if (r == 0 && rmdir(dir) < 0)
		r = -errno;
	return r;
}

/*
 * Is "entry" a staging name of fs_stage() or fs_symlink_atomic() for
 * "name" ("name.tmp.PID" or "name.tmp.PID.N") whose process is gone?
 */
static int
stale_tmp(const char *entry, const char *name)
{
	size_t n = strlen(name);
	const char *p;
	char *end;
	long pid;

	if (strncmp(entry, name, n) != 0 || strncmp(entry + n, ".tmp.", 5) != 0)
		return 0;
	p = entry + n + 5;
	errno = 0;
	pid = strtol(p, &end, 10);
	if (end == p || errno != 0 || pid <= 0 || (*end != '\0' && *end != '.'))
		return 0;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int
fs_remove_stale_tmp(const char *dir, const char *const *names, size_t nnames)
{
	struct dirent *de;
	DIR *dp;
	int fd, n = 0;
	size_t i;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -errno;
	if ((dp = fdopendir(fd)) == NULL) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dp)) != NULL)
		for (i = 0; i < nnames; i++)
			if (stale_tmp(de->d_name, names[i]) && unlinkat(fd, de->d_name, 0) == 0) {
				n++;
				break;
			}
	closedir(dp);
	return n;
}
