/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "shared/macro.h"

#include "base/error.h"

/* "<root>/<rel>" with exactly one slash between; NULL on OOM. root NULL or "/" gives
 * "/rel". */
char *dk_path_join(const char *root, const char *rel) _must_check_;
/* path itself when absolute, else joined to the current directory; NULL (errno set)
 * when there is none or on OOM. */
char *dk_path_absolute(const char *path) _must_check_;
/* Reads a whole regular file (at most max bytes, 0 = 64 MiB) NUL-terminated. The open
 * never blocks (a FIFO), and the type and size are checked before anything is read:
 * -EISDIR for a directory, -EBADMSG for a FIFO, device or socket, -EFBIG when larger
 * than max. Returns 0 or -errno; *err names the path, what it is, the limit. */
int dk_read_file_err(const char *path, size_t max, char **out, size_t *len,
		     struct dk_error **err) _must_check_ _nonnull_(1, 3, 5);
/* The same without the message. */
int dk_read_file(const char *path, size_t max, char **out, size_t *len) _must_check_;
/* "a FIFO", "a character device"... for messages. */
const char *dk_file_type_str(mode_t mode);
/* Opens path read-only (O_CLOEXEC, never blocking on a FIFO) and checks that it is a
 * regular file of at most max bytes; *st is its fstat. Returns the fd, or -errno with
 * *err naming the path and the reason (as dk_read_file_err()). */
int dk_open_regular(const char *path, size_t max, struct stat *st,
		    struct dk_error **err) _must_check_ _nonnull_(1, 3);
/* Reads a regular file of at most max bytes into one exact-size allocation (no realloc
 * leaving copies of its bytes behind), NUL-terminated; on a failed read the buffer is
 * zeroed before it is freed. For key material. Errors as dk_open_regular(). */
int dk_read_regular(const char *path, size_t max, char **out, size_t *len,
		    struct stat *st, struct dk_error **err) _must_check_
	_nonnull_(1, 3, 4, 5);
/* First line of a small file, trailing newline removed. */
int dk_read_line(const char *path, char **out) _must_check_;
/* Writes data to path atomically: temp file in the same directory, fsync, rename. */
int dk_write_file_atomic(const char *path, const void *data, size_t len,
			 mode_t mode) _must_check_;
/* Writes the JSON document of w (and a newline) to path as dk_write_file_atomic()
 * does, then releases w. -ENOMEM when w ran out of memory, else the write's -errno. */
struct json_writer;
int dk_write_json_atomic(const char *path, struct json_writer *w) _must_check_;
/* Removes the temporaries (<base>.tmp.XXXXXX in dir; base NULL: any name) that an
 * atomic write left when its process was killed before the rename. Call it only
 * holding the lock that serialises those writers. Returns how many were removed. */
int dk_remove_stale_temps(const char *dir, const char *base);
/* The same for the temporaries of the one file path. */
int dk_remove_stale_temps_of(const char *path);
/* Atomically writes to path the first len bytes of src_fd (copied in the kernel with
 * copy_file_range where it can) followed by tail; same temp + fsync + rename as above. */
int dk_copy_file_atomic(const char *path, int src_fd, size_t len, const void *tail,
			size_t tail_len, mode_t mode) _must_check_;
/* mkdir -p: creates path and its missing parents with mode; existing ones are fine. */
int dk_mkdir_p(const char *path, mode_t mode) _must_check_;
/* dk_mkdir_p of the directory holding path (a file about to be written there);
 * nothing for a path without one. */
int dk_mkdir_parent(const char *path, mode_t mode) _must_check_;
/* The last component of the target of the symbolic link path ("nvidia" for a sysfs
 * driver/module link): 0 with *out, or -errno (EINVAL: not a link) and *out NULL. */
int dk_readlink_base(const char *path, char **out) _must_check_;
bool dk_path_exists(const char *path);
bool dk_is_dir(const char *path);
/* Removes trailing whitespace in place. */
void dk_strip(char *s);
