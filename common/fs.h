/*
 * Files that must never be seen half-written: stage into a temporary file
 * in the target's directory (created with its final mode, so a key is 0600
 * from its first byte), fsync, rename over the target, fsync the directory.
 */
#ifndef ACMED_FS_H
#define ACMED_FS_H

#include <stddef.h>
#include <sys/types.h>

/* Write "data" to a new temp file beside "path"; its name goes to "ret_tmp". */
int fs_stage(const char *path, const void *data, size_t len, mode_t mode,
    char **ret_tmp);
/* Rename a staged file into place (no directory fsync; see fs_sync_dir). */
int fs_commit(const char *tmp, const char *path);
int fs_sync_dir(const char *dir);
/* Stage, commit and sync the directory in one step. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Point symlink "path" at "target", replacing whatever is there atomically. */
int fs_symlink_atomic(const char *target, const char *path);
/*
 * Remove what a crash left of staging "names" in "dir": their temporary
 * files and links whose process is gone.  Returns how many, or -errno.
 */
int fs_remove_stale_tmp(const char *dir, const char *const *names,
    size_t nnames);
/* Remove a directory holding only plain files (not recursive beyond that). */
int fs_remove_flat_dir(const char *dir);
/* Create "path" and its parents with "mode"; existing directories are kept. */
int fs_mkdir_p(const char *path, mode_t mode);
/* Read a whole file of at most "max" bytes (NUL-terminated copy). */
int fs_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

#endif
