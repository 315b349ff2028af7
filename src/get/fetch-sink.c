/* SPDX-License-Identifier: Apache-2.0 */
/* The sink of a download: DEST.part (file mode) or the consumer plus a cache temp
 * file (stream mode), hashed as the bytes arrive; publishing after the digest
 * matched; cache hits served without network (base/cache.h keeps the store). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/cache.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "get/fetch-internal.h"
#include "get/stop.h"

static int write_all_at(int fd, const char *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t w = pwrite(fd, buf, len, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* ---- the sink ------------------------------------------------------------------ */

int dk_fetch_abort(struct xfer *x, int r, bool retry, const char *fmt, ...)
{
	va_list ap;

	x->abort_r = r;
	x->abort_retry = retry;
	va_start(ap, fmt);
	vsnprintf(x->abort_msg, sizeof(x->abort_msg), fmt, ap);
	va_end(ap);
	return r;
}

void dk_fetch_sink_discard(struct xfer *x, bool keep);

/* Takes body bytes: drops a skipped prefix, enforces max_size, writes, hashes. */
int dk_fetch_sink_write(struct xfer *x, const char *buf, size_t len)
{
	const struct fetch_cfg *cfg = &x->run->cfg;
	int r;

	if (x->skip > 0) {
		size_t drop = (size_t)MIN((uint64_t)len, x->skip);

		x->skip -= drop;
		buf += drop;
		len -= drop;
		if (len == 0)
			return 0;
	}
	if (cfg->max_size && x->done + len > cfg->max_size)
		return dk_fetch_abort(x, -EFBIG, false,
				      "larger than the maximum size of %llu bytes",
				      (unsigned long long)cfg->max_size);
	if (x->fd >= 0) {
		r = write_all_at(x->fd, buf, len, x->done);
		if (r < 0 && x->part)
			return dk_fetch_abort(x, r, false, "write %s: %s", x->part,
					      strerror(-r));
		if (r < 0) {
			/* Stream mode: only the cache copy failed; the consumer goes on.
			 */
			dk_log(DK_LOG_WARN, 0, "cache %s: %s", x->cache_tmp,
			       strerror(-r));
			dk_fetch_sink_discard(x, false);
			free(x->cache_tmp);
			x->cache_tmp = NULL;
		}
	}
	if (x->req->write_fn) {
		r = x->req->write_fn(buf, len, x->req->userdata);
		if (r < 0)
			return dk_fetch_abort(x, r, false, "consumer: %s", strerror(-r));
	}
	r = dk_sha256_update(&x->sha, buf, len);
	if (r < 0)
		return dk_fetch_abort(x, r, false, "sha256 failed");
	x->done += len;
	return 0;
}

/* Empties the sink for a fresh start (file mode only; a consumer cannot un-see). */
int dk_fetch_sink_truncate(struct xfer *x)
{
	int r;

	if (x->fd >= 0 && ftruncate(x->fd, 0) < 0)
		return -errno;
	r = dk_sha256_reset(&x->sha);
	if (r < 0)
		return r;
	x->done = 0;
	return 0;
}

void dk_fetch_sink_discard(struct xfer *x, bool keep)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	if (x->part && !keep)
		unlink(x->part);
	if (x->cache_tmp)
		unlink(x->cache_tmp);
}

/* Cache trouble never fails a download: it is reported and the download goes on. */
static void cache_warn(struct dk_error **e)
{
	dk_log(DK_LOG_WARN, 0, "%s", (*e)->msg);
	dk_error_free(e);
}

/* Adds the verified DEST.part to the cache: a hard link when it can, else a copy. */
static void cache_add(struct xfer *x)
{
	_cleanup_error_ struct dk_error *e = NULL;

	if (dk_cache_insert_file(x->run->cfg.cache_dir, x->want, x->part, x->fd, x->done,
				 &e) < 0)
		cache_warn(&e);
}

/* The last byte is in: check the digest, then publish (rename / cache). */
int dk_fetch_sink_finish(struct xfer *x)
{
	char got[DK_SHA256_HEX_LEN + 1];
	int r;

	r = dk_sha256_final_hex(&x->sha, got);
	if (r < 0)
		return dk_error_set(&x->err, -r, "%s: sha256 failed", x->url_log);
	memcpy(x->req->got, got, sizeof(got));
	if (x->want[0] && !streq(got, x->want))
		return dk_error_set(
			&x->err, EBADMSG,
			"%s: checksum mismatch: expected sha256 %s, got %s (the "
			"file changed at its source or the digest is wrong: "
			"check both before trusting it)",
			x->url_log, x->want, got);
	x->req->size = x->done;
	if (x->part) {
		if (fsync(x->fd) < 0)
			return dk_error_set(&x->err, errno, "fsync %s: %s", x->part,
					    strerror(errno));
		if (x->cache_path && !x->req->from_cache)
			cache_add(x);
		if (rename(x->part, x->req->dest) < 0)
			return dk_error_set(&x->err, errno, "rename %s to %s: %s",
					    x->part, x->req->dest, strerror(errno));
	} else if (x->cache_tmp) {
		_cleanup_error_ struct dk_error *e = NULL;

		if (dk_cache_tmp_commit(x->run->cfg.cache_dir, x->want, x->fd,
					x->cache_tmp, &e) < 0)
			cache_warn(&e);
		free(x->cache_tmp);
		x->cache_tmp = NULL;
	}
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	free(x->part);
	x->part = NULL; /* nothing left to clean up */
	return 0;
}

/* Streams a local file through the sink (local sources, cache copies). */
int dk_fetch_sink_from_file(struct xfer *x, const char *path)
{
	_cleanup_close_ int in = -1;
	char buf[64 * 1024];
	struct stat st;

	in = dk_open_regular(path, SIZE_MAX, &st, &x->err);
	if (in < 0)
		return in;
	for (;;) {
		ssize_t n;

		if (dk_get_check_stop(x->url_log, &x->err) < 0)
			return -EINTR;
		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return dk_error_set(&x->err, errno, "read %s: %s", path,
					    strerror(errno));
		if (n == 0)
			break;
		if (dk_fetch_sink_write(x, buf, (size_t)n) < 0)
			return dk_error_set(&x->err, -x->abort_r, "%s: %s", x->url_log,
					    x->abort_msg);
	}
	return dk_fetch_sink_finish(x);
}

/* A verified cache entry goes to dest without network. Returns 1 when served, 0 on a
 * miss (a corrupt entry is removed), <0 with x->err on failure. */
int dk_fetch_cache_lookup(struct xfer *x)
{
	_cleanup_error_ struct dk_error *e = NULL;
	_cleanup_free_ char *tmp = NULL;
	struct stat st;
	int r;

	r = dk_cache_lookup(x->run->cfg.cache_dir, x->want, &e);
	if (r == -EBADMSG) {
		dk_log(DK_LOG_WARN, 0, "%s; removing it and downloading %s again", e->msg,
		       x->url_log);
		dk_error_free(&e);
		if (dk_cache_remove(x->run->cfg.cache_dir, x->want, &e) < 0)
			cache_warn(&e);
		return 0;
	}
	if (r < 0)
		cache_warn(&e);
	if (r <= 0)
		return 0;
	x->req->from_cache = true;
	if (x->part) {
		/* We hold the lock on DEST.part, so DEST.part.link is ours. */
		tmp = dk_strdup_printf("%s.link", x->part);
		if (!tmp)
			return dk_error_set(&x->err, ENOMEM, "out of memory");
		unlink(tmp);
		if (link(x->cache_path, tmp) == 0) {
			if (rename(tmp, x->req->dest) < 0) {
				int e = errno;

				unlink(tmp);
				return dk_error_set(&x->err, e, "rename %s to %s: %s",
						    tmp, x->req->dest, strerror(e));
			}
			if (stat(x->req->dest, &st) == 0)
				x->req->size = (uint64_t)st.st_size;
			dk_fetch_sink_discard(x, false);
			free(x->part);
			x->part = NULL;
			return 1;
		}
	}
	r = dk_fetch_sink_from_file(x, x->cache_path);
	return r < 0 ? r : 1;
}

/* DEST.part sits in a directory others may be able to write: a symlink planted
 * there is never followed, and a FIFO, device or a file with other names (a hard
 * link) or another owner is never written into. Returns the fd or -errno (x->err). */
static int open_part(struct xfer *x)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int e, fl;

	fd = open(x->part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
	if (fd < 0 && errno == ELOOP)
		return dk_error_set(&x->err, ELOOP,
				    "%s is a symlink: refusing to write the download "
				    "through it (someone may have planted it; remove it)",
				    x->part);
	if (fd < 0 || fstat(fd, &st) < 0) {
		e = errno;
		return dk_error_set(&x->err, e, "create %s: %s", x->part, strerror(e));
	}
	if (!S_ISREG(st.st_mode))
		return dk_error_set(&x->err, EBADMSG,
				    "%s is %s, not a regular file: refusing to write the "
				    "download into it (remove it)",
				    x->part, dk_file_type_str(st.st_mode));
	if (st.st_nlink > 1 || st.st_uid != geteuid())
		return dk_error_set(
			&x->err, EPERM,
			"%s has %s: refusing to write the download into it "
			"(someone may have planted it; remove it)",
			x->part, st.st_nlink > 1 ? "other hard links" : "another owner");
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		e = errno;
		return dk_error_set(&x->err, e, "%s: %s", x->part, strerror(e));
	}
	return TAKE_FD(fd);
}

int dk_fetch_sink_open(struct xfer *x)
{
	struct dk_fetch_req *req = x->req;
	int r;

	r = dk_sha256_reset(&x->sha);
	if (r < 0)
		return dk_error_set(&x->err, -r, "sha256 init failed");
	if (!req->write_fn) {
		x->part = dk_strdup_printf("%s.part", req->dest);
		if (!x->part)
			return dk_error_set(&x->err, ENOMEM, "out of memory");
		r = open_part(x);
		if (r < 0) {
			free(x->part);
			x->part = NULL; /* not ours to remove */
			return r;
		}
		x->fd = r;
		if (flock(x->fd, LOCK_EX | LOCK_NB) < 0) {
			r = errno == EWOULDBLOCK ? EBUSY : errno;
			close(x->fd);
			x->fd = -1;
			free(x->part);
			x->part = NULL;
			return dk_error_set(&x->err, r,
					    "%s: another download to %s is running",
					    x->url_log, req->dest);
		}
		if (!x->run->cfg.keep_partial && ftruncate(x->fd, 0) < 0)
			return dk_error_set(&x->err, errno, "truncate %s: %s", x->part,
					    strerror(errno));
	}
	return 0;
}

/* Stream mode with a cache: the bytes also go to a cache temp file. */
void dk_fetch_stream_cache_open(struct xfer *x)
{
	_cleanup_error_ struct dk_error *e = NULL;
	int fd = dk_cache_tmp_open(x->run->cfg.cache_dir, x->want, &x->cache_tmp, &e);

	if (fd < 0)
		cache_warn(&e);
	else
		x->fd = fd;
}
