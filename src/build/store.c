/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/tree.h"
#include "build/store.h"

/* Temp directories and work trees older than this are leftovers of a killed build. */
#define STALE_S 3600

char *dk_store_subdir(const char *cache, const char *sub, struct dk_error **err)
{
	char *dir = dk_path_join(cache, sub);
	int r;

	if (!dir) {
		dk_error_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	r = dk_mkdir_p(dir, 0755);
	if (r < 0) {
		dk_error_set(err, -r, "cache %s: %s", dir, strerror(-r));
		dk_error_set_hint(err,
				  "the build cache must be writable: set cache_dir (or "
				  "--cache-dir) to a writable directory, in a DaemonSet "
				  "a hostPath such as /var/cache/drvkit");
		free(dir);
		return NULL;
	}
	return dir;
}

void dk_store_hit_release(struct dk_store_hit *h)
{
	free(h->key);
	free(h->dir);
	dk_manifest_free(h->m);
	free(h->manifest_sha256);
	memset(h, 0, sizeof(*h));
}

int dk_store_lookup(const char *cache, const char *key, struct dk_store_hit *hit,
		    struct dk_error **err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_manifest_ struct dk_manifest *m = NULL;
	_cleanup_free_ char *msha = NULL;
	struct dk_error *e = NULL;
	int r;

	memset(hit, 0, sizeof(*hit));
	if (!dk_sha256_is_hex(key))
		return dk_error_set(err, EINVAL, "'%s' is not a build key", key);
	dir = dk_strdup_printf("%s/builds/%s", cache, key);
	if (!dir)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (!dk_is_dir(dir))
		return 0;
	r = dk_manifest_read(dir, &m, &msha, &e);
	if (r >= 0 && (!m->key || !streq(m->key, key)))
		r = dk_error_set(&e, EBADMSG, "%s/manifest.json: key %s, not %s", dir,
				 m->key ? m->key : "(none)", key);
	if (r >= 0)
		r = dk_manifest_verify(m, dir, &e);
	if (r < 0) {
		struct dk_error *rm = NULL;

		/* A damaged entry is never used; removing it makes the next step rebuild.
		 */
		if (dk_rm_rf(dir) < 0)
			dk_error_set(&rm, errno, "could not remove it");
		dk_error_free(&rm);
		dk_error_wrap(&e, "cache entry %s is damaged (removed, to be rebuilt)",
			      dir);
		if (err)
			*err = e;
		else
			dk_error_free(&e);
		return -EBADMSG;
	}
	/* Last use, for prune. */
	{
		_cleanup_free_ char *mf = dk_path_join(dir, "manifest.json");

		if (mf)
			(void)utimensat(AT_FDCWD, mf, NULL, 0);
	}
	hit->key = strdup(key);
	hit->dir = TAKE_PTR(dir);
	hit->m = TAKE_PTR(m);
	hit->manifest_sha256 = TAKE_PTR(msha);
	if (!hit->key) {
		dk_store_hit_release(hit);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	return 1;
}

int dk_store_lookup_alias(const char *cache, const char *alias, struct dk_store_hit *hit,
			  struct dk_error **err)
{
	_cleanup_free_ char *path = NULL, *key = NULL;
	int r;

	memset(hit, 0, sizeof(*hit));
	if (!dk_sha256_is_hex(alias))
		return dk_error_set(err, EINVAL, "'%s' is not a build alias", alias);
	path = dk_strdup_printf("%s/aliases/%s", cache, alias);
	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_read_line(path, &key);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return dk_error_set(err, -r, "read %s: %s", path, strerror(-r));
	if (!dk_sha256_is_hex(key)) {
		(void)unlink(path);
		return 0;
	}
	return dk_store_lookup(cache, key, hit, err);
}

int dk_store_begin(const char *cache, const char *key, char **tmp, struct dk_error **err)
{
	_cleanup_free_ char *builds = dk_store_subdir(cache, "builds", err);

	if (!builds)
		return -(err && *err ? (*err)->errnum : EIO);
	*tmp = dk_strdup_printf("%s/.tmp-%s-XXXXXX", builds, key);
	if (!*tmp)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (!mkdtemp(*tmp)) {
		int e = errno;

		free(*tmp);
		*tmp = NULL;
		return dk_error_set(err, e, "cache %s: %s", builds, strerror(e));
	}
	(void)chmod(*tmp, 0755);
	return 0;
}

static int fsync_path(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	return fd >= 0 && fsync(fd) == 0 ? 0 : -errno;
}

int dk_store_commit(const char *cache, const char *key, const char *alias,
		    const char *tmp, struct dk_error **err)
{
	_cleanup_free_ char *dir = dk_strdup_printf("%s/builds/%s", cache, key);
	_cleanup_free_ char *aliases = NULL, *apath = NULL, *line = NULL;
	int r;

	_cleanup_free_ char *builds = dk_store_subdir(cache, "builds", err);

	if (!dir)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (!builds)
		return -EIO;
	(void)fsync_path(tmp);
	if (rename(tmp, dir) < 0) {
		int e = errno;

		(void)dk_rm_rf(tmp);
		if (e != ENOTEMPTY && e != EEXIST)
			return dk_error_set(err, e, "cache: rename %s to %s: %s", tmp,
					    dir, strerror(e));
		dk_log(DK_LOG_DEBUG, 0, "cache entry %s appeared meanwhile; kept it",
		       dir);
	}
	(void)fsync_path(builds);
	if (!alias)
		return 0;
	aliases = dk_store_subdir(cache, "aliases", err);
	if (!aliases)
		return -EIO;
	apath = dk_path_join(aliases, alias);
	line = dk_strdup_printf("%s\n", key);
	if (!apath || !line)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_write_file_atomic(apath, line, strlen(line), 0644);
	if (r < 0)
		return dk_error_set(err, -r, "write %s: %s", apath, strerror(-r));
	return 0;
}

int dk_store_remove(const char *cache, const char *key, struct dk_error **err)
{
	_cleanup_free_ char *dir = NULL;
	int r;

	if (!dk_sha256_is_hex(key))
		return dk_error_set(err, EINVAL, "'%s' is not a build key", key);
	dir = dk_strdup_printf("%s/builds/%s", cache, key);
	if (!dir)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_rm_rf(dir);
	return r < 0 ? dk_error_set(err, -r, "remove %s: %s", dir, strerror(-r)) : 0;
}

/* ---- list, prune ---- */

static int cmp_used(const void *a, const void *b)
{
	const struct dk_store_entry *x = a, *y = b;

	if (x->last_used != y->last_used)
		return x->last_used > y->last_used ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int entry_read(const char *builds, const char *key, bool verify,
		      struct dk_store_entry *e)
{
	_cleanup_free_ char *dir = dk_path_join(builds, key);
	_cleanup_free_ char *mf = NULL;
	struct dk_error *err = NULL;
	struct stat st;

	if (!dir || !(e->key = strdup(key)) || !(mf = dk_path_join(dir, "manifest.json")))
		return -ENOMEM;
	if (dk_tree_size(dir, &e->bytes) < 0)
		e->bytes = 0;
	e->last_used = stat(mf, &st) == 0 ? (int64_t)st.st_mtime : 0;
	/* verify finds what a lookup would refuse: the key too. */
	if (dk_manifest_read(dir, &e->m, NULL, &err) < 0 ||
	    (verify && (!e->m->key || !streq(e->m->key, key)) &&
	     dk_error_set(&err, EBADMSG, "%s/manifest.json: key %s, not %s", dir,
			  e->m->key ? e->m->key : "(none)", key) < 0) ||
	    (verify && dk_manifest_verify(e->m, dir, &err) < 0)) {
		e->problem = strdup(err ? err->msg : "unreadable");
		dk_error_free(&err);
		if (!e->problem)
			return -ENOMEM;
	}
	return 0;
}

int dk_store_list(const char *cache, bool verify, struct dk_store_entry **out, size_t *n,
		  struct dk_error **err)
{
	_cleanup_free_ char *builds = dk_path_join(cache, "builds");
	_cleanup_closedir_ DIR *d = NULL;
	struct dk_store_entry *v = NULL;
	struct dirent *de;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!builds)
		return dk_error_set(err, ENOMEM, "out of memory");
	d = opendir(builds);
	if (!d)
		return errno == ENOENT ? 0
				       : dk_error_set(err, errno, "cache %s: %s", builds,
						      strerror(errno));
	while ((de = readdir(d))) {
		int r;

		if (!dk_sha256_is_hex(de->d_name))
			continue;
		if (*n == cap) {
			struct dk_store_entry *nv =
				realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));

			if (!nv) {
				dk_store_entries_free(v, *n);
				return dk_error_set(err, ENOMEM, "out of memory");
			}
			v = nv;
		}
		memset(&v[*n], 0, sizeof(v[*n]));
		r = entry_read(builds, de->d_name, verify, &v[(*n)++]);
		if (r < 0) {
			dk_store_entries_free(v, *n);
			*n = 0;
			return dk_error_set(err, -r, "out of memory");
		}
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_used);
	*out = v;
	return 0;
}

void dk_store_entries_free(struct dk_store_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		dk_manifest_free(v[i].m);
		free(v[i].problem);
	}
	free(v);
}

/* Removes leftovers of killed builds in <cache>/<sub> matching prefix. */
static void prune_stale(const char *cache, const char *sub, const char *prefix)
{
	_cleanup_free_ char *dir = dk_path_join(cache, sub);
	_cleanup_closedir_ DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *de;
	time_t now = time(NULL);

	while (d && (de = readdir(d))) {
		struct stat st;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now - st.st_mtime > STALE_S)
			(void)dk_rm_rf_at(dirfd(d), de->d_name);
	}
}

int dk_store_prune(const char *cache, uint64_t max_bytes, uint64_t *freed,
		   size_t *removed, struct dk_error **err)
{
	struct dk_store_entry *v = NULL;
	uint64_t total = 0;
	size_t n = 0;
	int r;

	*freed = 0;
	*removed = 0;
	prune_stale(cache, "builds", ".tmp-");
	prune_stale(cache, "work", "");
	r = dk_store_list(cache, false, &v, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		total += v[i].bytes;
	/* Oldest last in v: remove from the end. */
	for (size_t i = n; i-- > 0 && total > max_bytes;) {
		r = dk_store_remove(cache, v[i].key, err);
		if (r < 0)
			break;
		total -= v[i].bytes;
		*freed += v[i].bytes;
		(*removed)++;
	}
	dk_store_entries_free(v, n);
	return r < 0 ? r : 0;
}
