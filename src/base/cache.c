/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/cache.h"
#include "base/fsutil.h"

/* Temp names for hard-link inserts: link() never replaces a name, so two writers
 * (threads or processes) that pick the same one just move on to the next. */
#define LINK_TRIES 100

char *dk_cache_path(const char *dir, const char *hex)
{
	return dk_strdup_printf("%s/sha256/%s", dir, hex);
}

static char *cache_subdir(const char *dir)
{
	return dk_strdup_printf("%s/sha256", dir);
}

int dk_cache_lookup(const char *dir, const char *hex, struct dk_error **err)
{
	_cleanup_free_ char *path = dk_cache_path(dir, hex);
	char got[DK_SHA256_HEX_LEN + 1];
	int r;

	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_sha256_file(path, got);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return dk_error_set(err, -r, "cache %s: %s", path, strerror(-r));
	if (!streq(got, hex))
		return dk_error_set(err, EBADMSG, "cache entry %s is corrupt (sha256 %s)",
				    path, got);
	return 1;
}

int dk_cache_remove(const char *dir, const char *hex, struct dk_error **err)
{
	_cleanup_free_ char *path = dk_cache_path(dir, hex);

	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (unlink(path) < 0 && errno != ENOENT)
		return dk_error_set(err, errno, "remove %s: %s", path, strerror(errno));
	return 0;
}

static int make_subdir(const char *dir, char **sub, struct dk_error **err)
{
	int r;

	*sub = cache_subdir(dir);
	if (!*sub)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_mkdir_p(*sub, 0755);
	if (r < 0)
		return dk_error_set(err, -r, "cache %s: %s", *sub, strerror(-r));
	return 0;
}

/* Hard-links src to a fresh temp name, then renames it over the entry. Returns 0, 1
 * when a copy is needed (another filesystem, no hard links), or -errno with *err. */
static int insert_link(const char *sub, const char *hex, const char *src,
		       const char *path, struct dk_error **err)
{
	struct stat s = {0}, p;

	/* rename() of one hard link over another of the same file does nothing and
	 * would leave the temp name behind: an entry that already is src is done. */
	if (stat(src, &s) == 0 && stat(path, &p) == 0 && s.st_dev == p.st_dev &&
	    s.st_ino == p.st_ino)
		return 0;
	for (int i = 0; i < LINK_TRIES; i++) {
		_cleanup_free_ char *tmp =
			dk_strdup_printf("%s/.%s.%d.%d.tmp", sub, hex, (int)getpid(), i);

		if (!tmp)
			return dk_error_set(err, ENOMEM, "out of memory");
		if (link(src, tmp) < 0) {
			if (errno == EEXIST)
				continue;
			return 1;
		}
		if (rename(tmp, path) < 0) {
			int e = errno;

			unlink(tmp);
			return dk_error_set(err, e, "cache %s: %s", path, strerror(e));
		}
		/* Still there when a concurrent insert of the same file won the race (the
		 * rename was a no-op, see above). */
		if (lstat(tmp, &p) == 0 && p.st_ino == s.st_ino)
			unlink(tmp);
		return 0;
	}
	return 1;
}

int dk_cache_insert_file(const char *dir, const char *hex, const char *src, int src_fd,
			 uint64_t len, struct dk_error **err)
{
	_cleanup_free_ char *sub = NULL, *path = dk_cache_path(dir, hex);
	int r;

	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = make_subdir(dir, &sub, err);
	if (r < 0)
		return r;
	r = insert_link(sub, hex, src, path, err);
	if (r <= 0)
		return r;
	/* Another filesystem (or no hard links): copy. */
	r = dk_copy_file_atomic(path, src_fd, len, NULL, 0, 0644);
	if (r < 0)
		return dk_error_set(err, -r, "cache %s: %s", path, strerror(-r));
	return 0;
}

int dk_cache_tmp_open(const char *dir, const char *hex, char **tmp_path,
		      struct dk_error **err)
{
	_cleanup_free_ char *sub = NULL, *tmp = NULL;
	int r, fd;

	r = make_subdir(dir, &sub, err);
	if (r < 0)
		return r;
	tmp = dk_strdup_printf("%s/.%s.XXXXXX", sub, hex);
	if (!tmp)
		return dk_error_set(err, ENOMEM, "out of memory");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return dk_error_set(err, errno, "cache %s: %s", tmp, strerror(errno));
	(void)fchmod(fd, 0644);
	*tmp_path = TAKE_PTR(tmp);
	return fd;
}

int dk_cache_tmp_commit(const char *dir, const char *hex, int fd, const char *tmp_path,
			struct dk_error **err)
{
	_cleanup_free_ char *path = dk_cache_path(dir, hex);
	int e;

	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (fsync(fd) == 0 && rename(tmp_path, path) == 0)
		return 0;
	e = errno;
	unlink(tmp_path);
	return dk_error_set(err, e, "cache %s: %s", path, strerror(e));
}
