/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "get/curl-dl.h"
#include "get/fetch.h"

#ifndef DRVKIT_VERSION
#define DRVKIT_VERSION "0.0.0"
#endif

/* Options with the defaults filled in. */
struct fetch_cfg {
	const char *cache_dir, *ca_bundle;
	unsigned attempts, delay_ms, max_delay_ms, parallel;
	long connect_timeout_s, low_speed_time_s, low_speed_limit, timeout_s, max_redirs;
	uint64_t max_size;
	bool progress, keep_partial;
};

enum xfer_state { X_PENDING, X_RUNNING, X_DONE };

struct fetch_run;

/* One request on its way. The sink is what receives verified-later bytes: the
 * DEST.part file (file mode) and/or the consumer callback plus an optional cache
 * temp file (stream mode). sha always covers exactly the bytes the sink holds. */
struct xfer {
	struct fetch_run *run;
	struct dk_fetch_req *req;
	char want[DK_SHA256_HEX_LEN + 1];
	char *url_log;	  /* URL without credentials */
	char *local_path; /* file:// or plain path source */
	char *part;	  /* DEST.part (file mode) */
	char *cache_path; /* <cache>/sha256/<hex> */
	char *cache_tmp;  /* stream mode: cache entry being written */
	int fd;		  /* file mode: DEST.part; stream mode: cache_tmp or -1 */
	struct dk_sha256 sha;
	uint64_t done;	 /* bytes in the sink */
	uint64_t offset; /* Range start of the current attempt */
	uint64_t skip;	 /* body bytes to drop: server ignored our Range (stream) */
	int64_t expect;	 /* total size when known, -1 otherwise */
	bool accept_ranges, resumed, full_retry_done, restart;
	/* current attempt */
	bool checked;
	long resp_code;
	long long range_start;
	bool hdr_accept_ranges;
	int abort_r; /* -errno when our callback stopped the transfer */
	bool abort_retry;
	char abort_msg[256];
	unsigned attempt;
	uint64_t next_ms;
	enum xfer_state state;
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];
	struct dk_error *err;
};

struct fetch_run {
	struct fetch_cfg cfg;
	CURLM *multi;
	struct xfer *x;
	size_t n;
	unsigned seed;
	bool progress_shown;
	uint64_t progress_ms;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *dk_fetch_redact_url(const char *url)
{
	const char *auth = strstr(url, "://"), *end, *at = NULL;
	struct strbuf b;

	if (!auth)
		return strdup(url);
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return strdup(url);
	strbuf_init(&b);
	strbuf_putn(&b, url, (size_t)(auth - url));
	strbuf_puts(&b, at + 1);
	return strbuf_steal(&b);
}

/* Classifies a source: *path set for file:// and plain paths, NULL for http(s). */
static int parse_source(const char *url, char **path)
{
	const char *scheme_end = strstr(url, "://");

	*path = NULL;
	if (!scheme_end) {
		*path = strdup(url);
		return *path ? 0 : -ENOMEM;
	}
	if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0)
		return 0;
	if (strncasecmp(url, "file://", 7) == 0) {
		const char *p = url + 7;
		struct strbuf b;

		if (strncasecmp(p, "localhost/", 10) == 0)
			p += 9;
		if (*p != '/')
			return -EINVAL;
		strbuf_init(&b);
		for (; *p && *p != '?' && *p != '#'; p++) {
			if (*p == '%' && dk_hexval(p[1]) >= 0 && dk_hexval(p[2]) >= 0) {
				strbuf_putc(&b, (char)(dk_hexval(p[1]) * 16 +
						       dk_hexval(p[2])));
				p += 2;
			} else {
				strbuf_putc(&b, *p);
			}
		}
		*path = strbuf_steal(&b);
		return *path ? 0 : -ENOMEM;
	}
	return -EPROTONOSUPPORT;
}

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

/* ---- progress and messages ---------------------------------------------------- */

static void progress_clear(struct fetch_run *run)
{
	if (run->progress_shown)
		(void)!write(STDERR_FILENO, "\r\033[K", 4);
	run->progress_shown = false;
}

static void progress_update(struct fetch_run *run)
{
	uint64_t now = mono_ms(), done = 0, total = 0;
	bool known = true;
	size_t active = 0;
	char line[160];
	int len;

	if (!run->cfg.progress || now - run->progress_ms < 250)
		return;
	run->progress_ms = now;
	for (size_t i = 0; i < run->n; i++) {
		struct xfer *x = &run->x[i];

		if (x->state == X_DONE)
			continue;
		active++;
		done += x->done;
		if (x->expect < 0)
			known = false;
		else
			total += (uint64_t)x->expect;
	}
	if (active == 0)
		return;
	if (known && total > 0)
		len = snprintf(
			line, sizeof(line),
			"\r\033[Kdrvkit: fetching %zu file%s: %.1f / %.1f MiB (%d%%)",
			active, active == 1 ? "" : "s", done / 1048576.0,
			total / 1048576.0, (int)(done * 100 / total));
	else
		len = snprintf(line, sizeof(line),
			       "\r\033[Kdrvkit: fetching %zu file%s: %.1f MiB", active,
			       active == 1 ? "" : "s", done / 1048576.0);
	if (len > 0)
		(void)!write(STDERR_FILENO, line, MIN((size_t)len, sizeof(line) - 1));
	run->progress_shown = true;
}

static void run_log(struct fetch_run *run, enum dk_log_level level, const char *fmt, ...)
	_printf_format_(3, 4);
static void run_log(struct fetch_run *run, enum dk_log_level level, const char *fmt, ...)
{
	struct strbuf b;
	va_list ap;

	if (!dk_log_enabled(level))
		return;
	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	progress_clear(run);
	dk_log(level, 0, "%s", b.oom ? "out of memory" : strbuf_str(&b));
	strbuf_release(&b);
}

/* ---- the sink ------------------------------------------------------------------ */

static int abort_with(struct xfer *x, int r, bool retry, const char *fmt, ...)
	_printf_format_(4, 5);
static int abort_with(struct xfer *x, int r, bool retry, const char *fmt, ...)
{
	va_list ap;

	x->abort_r = r;
	x->abort_retry = retry;
	va_start(ap, fmt);
	vsnprintf(x->abort_msg, sizeof(x->abort_msg), fmt, ap);
	va_end(ap);
	return r;
}

static void sink_discard(struct xfer *x, bool keep);

/* Takes body bytes: drops a skipped prefix, enforces max_size, writes, hashes. */
static int sink_write(struct xfer *x, const char *buf, size_t len)
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
		return abort_with(x, -EFBIG, false,
				  "larger than the maximum size of %llu bytes",
				  (unsigned long long)cfg->max_size);
	if (x->fd >= 0) {
		r = write_all_at(x->fd, buf, len, x->done);
		if (r < 0 && x->part)
			return abort_with(x, r, false, "write %s: %s", x->part,
					  strerror(-r));
		if (r < 0) {
			/* Stream mode: only the cache copy failed; the consumer goes on.
			 */
			run_log(x->run, DK_LOG_WARN, "cache %s: %s", x->cache_tmp,
				strerror(-r));
			sink_discard(x, false);
			free(x->cache_tmp);
			x->cache_tmp = NULL;
		}
	}
	if (x->req->write_fn) {
		r = x->req->write_fn(buf, len, x->req->userdata);
		if (r < 0)
			return abort_with(x, r, false, "consumer: %s", strerror(-r));
	}
	r = dk_sha256_update(&x->sha, buf, len);
	if (r < 0)
		return abort_with(x, r, false, "sha256 failed");
	x->done += len;
	return 0;
}

/* Empties the sink for a fresh start (file mode only; a consumer cannot un-see). */
static int sink_truncate(struct xfer *x)
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

static void sink_discard(struct xfer *x, bool keep)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	if (x->part && !keep)
		unlink(x->part);
	if (x->cache_tmp)
		unlink(x->cache_tmp);
}

/* Adds the verified DEST.part to the cache: a hard link when it can, else a copy. */
static void cache_add(struct xfer *x)
{
	_cleanup_free_ char *dir = NULL, *tmp = NULL;
	int r;

	dir = dk_strdup_printf("%s/sha256", x->run->cfg.cache_dir);
	tmp = dk_strdup_printf("%s/.%s.%d.tmp", dir ? dir : "", x->want, (int)getpid());
	if (!dir || !tmp)
		return;
	r = dk_mkdir_p(dir, 0755);
	if (r < 0) {
		run_log(x->run, DK_LOG_WARN, "cache %s: %s", dir, strerror(-r));
		return;
	}
	unlink(tmp);
	if (link(x->part, tmp) == 0) {
		if (rename(tmp, x->cache_path) < 0) {
			run_log(x->run, DK_LOG_WARN, "cache %s: %s", x->cache_path,
				strerror(errno));
			unlink(tmp);
		}
		return;
	}
	/* Another filesystem (or no hard links): copy. */
	r = dk_copy_file_atomic(x->cache_path, x->fd, x->done, NULL, 0, 0644);
	if (r < 0)
		run_log(x->run, DK_LOG_WARN, "cache %s: %s", x->cache_path, strerror(-r));
}

/* The last byte is in: check the digest, then publish (rename / cache). */
static int sink_finish(struct xfer *x)
{
	char got[DK_SHA256_HEX_LEN + 1];
	int r;

	r = dk_sha256_final_hex(&x->sha, got);
	if (r < 0)
		return dk_error_set(&x->err, -r, "%s: sha256 failed", x->url_log);
	if (!streq(got, x->want))
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
		if (fsync(x->fd) < 0 || rename(x->cache_tmp, x->cache_path) < 0)
			run_log(x->run, DK_LOG_WARN, "cache %s: %s", x->cache_path,
				strerror(errno));
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
static int sink_from_file(struct xfer *x, const char *path)
{
	_cleanup_close_ int in = -1;
	char buf[64 * 1024];

	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return dk_error_set(&x->err, errno, "open %s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return dk_error_set(&x->err, errno, "read %s: %s", path,
					    strerror(errno));
		if (n == 0)
			break;
		if (sink_write(x, buf, (size_t)n) < 0)
			return dk_error_set(&x->err, -x->abort_r, "%s: %s", x->url_log,
					    x->abort_msg);
	}
	return sink_finish(x);
}

/* A verified cache entry goes to dest without network. Returns 1 when served, 0 on a
 * miss (a corrupt entry is removed), <0 with x->err on failure. */
static int cache_lookup(struct xfer *x)
{
	char got[DK_SHA256_HEX_LEN + 1];
	_cleanup_free_ char *tmp = NULL;
	struct stat st;
	int r;

	r = dk_sha256_file(x->cache_path, got);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		run_log(x->run, DK_LOG_WARN, "cache %s: %s", x->cache_path, strerror(-r));
		return 0;
	}
	if (!streq(got, x->want)) {
		run_log(x->run, DK_LOG_WARN,
			"cache entry %s is corrupt (sha256 %s); removing it and "
			"downloading "
			"%s again",
			x->cache_path, got, x->url_log);
		if (unlink(x->cache_path) < 0 && errno != ENOENT)
			run_log(x->run, DK_LOG_WARN, "remove %s: %s", x->cache_path,
				strerror(errno));
		return 0;
	}
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
			sink_discard(x, false);
			free(x->part);
			x->part = NULL;
			return 1;
		}
	}
	r = sink_from_file(x, x->cache_path);
	return r < 0 ? r : 1;
}

/* ---- curl callbacks ------------------------------------------------------------ */

static size_t on_header(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * nmemb;
	char line[256];

	snprintf(line, sizeof(line), "%.*s", (int)MIN(len, sizeof(line) - 1), buf);
	if (strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (redirect hops, 100 Continue): forget the last one. */
		const char *sp = strchr(line, ' ');

		x->resp_code = sp ? strtol(sp + 1, NULL, 10) : 0;
		x->range_start = -1;
		x->hdr_accept_ranges = false;
	} else if (strncasecmp(line, "accept-ranges:", 14) == 0) {
		const char *v = line + 14;

		v += strspn(v, " \t");
		x->hdr_accept_ranges = strncasecmp(v, "bytes", 5) == 0;
	} else if (strncasecmp(line, "content-range:", 14) == 0) {
		const char *v = line + 14;

		v += strspn(v, " \t");
		if (strncasecmp(v, "bytes ", 6) == 0)
			x->range_start = strtoll(v + 6, NULL, 10);
	}
	return len;
}

/* First body bytes of an attempt: decide what the response means for the sink. */
static int check_response(struct xfer *x)
{
	curl_off_t cl = -1;
	int r;

	x->checked = true;
	if (x->hdr_accept_ranges)
		x->accept_ranges = true;
	dk_sym_curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	if (x->resp_code == 206) {
		if (x->offset == 0 || x->range_start != (long long)x->offset) {
			x->restart = true;
			return abort_with(x, -EPROTO, true,
					  "server sent bytes from %lld, asked for %llu",
					  x->range_start, (unsigned long long)x->offset);
		}
		x->accept_ranges = true;
		x->expect = cl >= 0 ? (int64_t)(x->offset + (uint64_t)cl) : -1;
		return 0;
	}
	x->expect = cl >= 0 ? (int64_t)cl : -1;
	if (x->offset > 0 || x->done > 0) {
		/* The server ignored Range: the body starts at byte 0 again. */
		if (x->offset > 0)
			run_log(x->run, DK_LOG_INFO,
				"%s: server ignored the range request (HTTP %ld), "
				"restarting "
				"from zero",
				x->url_log, x->resp_code);
		x->accept_ranges = false;
		if (x->part) {
			r = sink_truncate(x);
			if (r < 0)
				return abort_with(x, r, false, "truncate %s: %s", x->part,
						  strerror(-r));
		} else {
			x->skip = x->done;
		}
	}
	return 0;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * nmemb;

	if (!x->checked && check_response(x) < 0)
		return 0;
	if (sink_write(x, buf, len) < 0)
		return 0;
	return len;
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
	/* Only curl's own remarks: headers may carry credentials. */
	if (type == CURLINFO_TEXT) {
		while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r'))
			size--;
		dk_debug("curl: %.*s", (int)size, data);
	}
	return 0;
}

/* ---- attempts ------------------------------------------------------------------ */

static int easy_setup(struct xfer *x)
{
	const struct fetch_cfg *cfg = &x->run->cfg;
	CURL *e = dk_sym_curl_easy_init();
	CURLcode c = CURLE_OK;

	if (!e)
		return dk_error_set(&x->err, ENOMEM, "%s: curl_easy_init failed",
				    x->url_log);
	x->easy = e;
#define SET(opt, val)                                             \
	do {                                                      \
		if (c == CURLE_OK)                                \
			c = dk_sym_curl_easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_URL, x->req->url);
	SET(CURLOPT_PRIVATE, x);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FAILONERROR, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, cfg->max_redirs);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_bundle)
		SET(CURLOPT_CAINFO, cfg->ca_bundle);
	SET(CURLOPT_CONNECTTIMEOUT, cfg->connect_timeout_s);
	SET(CURLOPT_LOW_SPEED_LIMIT, cfg->low_speed_limit);
	SET(CURLOPT_LOW_SPEED_TIME, cfg->low_speed_time_s);
	SET(CURLOPT_TIMEOUT, cfg->timeout_s);
	if (cfg->max_size)
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->max_size);
	SET(CURLOPT_USERAGENT, "drvkit/" DRVKIT_VERSION);
	if (dk_log_enabled(DK_LOG_DEBUG)) {
		SET(CURLOPT_DEBUGFUNCTION, on_debug);
		SET(CURLOPT_VERBOSE, 1L);
	}
	/* Proxies: left to libcurl, which reads http_proxy, https_proxy, all_proxy and
	 * no_proxy/NO_PROXY from the environment. */
#undef SET
	if (c != CURLE_OK)
		return dk_error_set(&x->err, EINVAL, "%s: curl setup: %s", x->url_log,
				    dk_sym_curl_easy_strerror(c));
	return 0;
}

static int attempt_start(struct xfer *x)
{
	uint64_t from = 0;
	int r;

	if (!x->easy) {
		r = easy_setup(x);
		if (r < 0)
			return r;
	}
	x->attempt++;
	x->req->attempts = x->attempt;
	x->checked = false;
	x->resp_code = 0;
	x->range_start = -1;
	x->hdr_accept_ranges = false;
	x->abort_r = 0;
	x->abort_retry = false;
	x->abort_msg[0] = '\0';
	x->errbuf[0] = '\0';
	x->skip = 0;
	if (x->part) {
		struct stat st;
		bool reuse;

		if (fstat(x->fd, &st) < 0)
			return dk_error_set(&x->err, errno, "stat %s: %s", x->part,
					    strerror(errno));
		/* A partial file from an earlier attempt (or an earlier run with
		 * keep_partial): continue it if the server can, else start over. */
		reuse = st.st_size > 0 && !x->restart &&
			(x->accept_ranges ||
			 (x->attempt == 1 && x->run->cfg.keep_partial));
		if (reuse) {
			/* The sink hashed every byte it wrote: only a file left by
			 * an earlier run (or a write cut short) is hashed again. */
			if ((uint64_t)st.st_size != x->done) {
				r = dk_sha256_reset(&x->sha);
				if (r >= 0)
					r = dk_sha256_update_fd(&x->sha, x->fd,
								(uint64_t)st.st_size);
				if (r < 0)
					return dk_error_set(&x->err, -r, "hash %s: %s",
							    x->part, strerror(-r));
			}
			x->done = (uint64_t)st.st_size;
			from = x->done;
		} else {
			r = sink_truncate(x);
			if (r < 0)
				return dk_error_set(&x->err, -r, "truncate %s: %s",
						    x->part, strerror(-r));
		}
	} else if (x->done > 0) {
		/* Stream: the consumer has x->done bytes; never send them twice. */
		if (x->accept_ranges && !x->restart)
			from = x->done;
		else
			x->skip = x->done;
	}
	x->restart = false;
	x->offset = from;
	if (from > 0) {
		x->resumed = true;
		run_log(x->run, DK_LOG_INFO, "%s: resuming at byte %llu", x->url_log,
			(unsigned long long)from);
	}
	/* CURLOPT_RANGE rather than CURLOPT_RESUME_FROM_LARGE: with the latter libcurl
	 * fails a 200 answer with CURLE_RANGE_ERROR, costing an attempt; this way the
	 * 200 body is taken and the sink restarts from zero (check_response()). */
	if (from > 0) {
		char range[32];

		snprintf(range, sizeof(range), "%llu-", (unsigned long long)from);
		dk_sym_curl_easy_setopt(x->easy, CURLOPT_RANGE, range);
	} else {
		dk_sym_curl_easy_setopt(x->easy, CURLOPT_RANGE, NULL);
	}
	if (dk_sym_curl_multi_add_handle(x->run->multi, x->easy) != CURLM_OK)
		return dk_error_set(&x->err, ENOMEM, "%s: curl_multi_add_handle failed",
				    x->url_log);
	x->state = X_RUNNING;
	return 0;
}

static void xfer_fail(struct xfer *x, bool transient)
{
	x->state = X_DONE;
	x->req->result = x->err ? -x->err->errnum : -EIO;
	sink_discard(x, transient && x->run->cfg.keep_partial && x->part && x->done > 0);
}

static unsigned backoff_ms(struct fetch_run *run, unsigned attempt)
{
	uint64_t d = run->cfg.delay_ms;

	for (unsigned i = 1; i < attempt && d < run->cfg.max_delay_ms; i++)
		d *= 2;
	d = MIN(d, (uint64_t)run->cfg.max_delay_ms);
	/* Jitter in [d/2, d] so parallel clients do not retry in lockstep. */
	if (d > 1)
		d = d / 2 + (uint64_t)rand_r(&run->seed) % (d / 2 + 1);
	return (unsigned)d;
}

/* An attempt is over: publish, retry or fail. */
static void attempt_done(struct xfer *x, CURLcode rc)
{
	struct fetch_run *run = x->run;
	_cleanup_free_ char *what = NULL;
	long code = x->resp_code;
	bool retry = false;
	int errnum = EIO;
	unsigned delay;

	dk_sym_curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	x->req->http_status = code;
	if (x->abort_r < 0) {
		errnum = -x->abort_r;
		retry = x->abort_retry;
		what = strdup(x->abort_msg);
	} else if (rc == CURLE_OK) {
		if (!x->checked && check_response(x) < 0) {
			errnum = -x->abort_r;
			retry = x->abort_retry;
			what = strdup(x->abort_msg);
		} else if (sink_finish(x) == 0) {
			x->state = X_DONE;
			x->req->result = 0;
			return;
		} else if (x->err->errnum == EBADMSG && x->part && x->resumed &&
			   !x->full_retry_done && x->attempt < run->cfg.attempts) {
			/* The pieces may come from different versions: once more from 0.
			 */
			x->full_retry_done = true;
			x->restart = true;
			x->accept_ranges = false;
			errnum = EBADMSG;
			retry = true;
			what = strdup("checksum mismatch after resuming");
			dk_error_free(&x->err);
		} else {
			xfer_fail(x, false);
			return;
		}
	} else if (rc == CURLE_HTTP_RETURNED_ERROR) {
		what = dk_strdup_printf("HTTP %ld", code);
		if (code == 416 && x->offset > 0) {
			x->restart = true;
			retry = true;
		} else if (code == 408 || code == 429 || code >= 500) {
			retry = true;
		} else if (code == 404 || code == 410) {
			errnum = ENOENT;
		} else if (code == 401 || code == 403 || code == 407) {
			errnum = EACCES;
		}
	} else {
		what = strdup(x->errbuf[0] ? x->errbuf : dk_sym_curl_easy_strerror(rc));
		switch (rc) {
		case CURLE_OPERATION_TIMEDOUT:
			errnum = ETIMEDOUT;
			retry = true;
			break;
		case CURLE_RANGE_ERROR:
			x->restart = true;
			retry = true;
			break;
		case CURLE_COULDNT_CONNECT:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_PARTIAL_FILE:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			retry = true;
			break;
		case CURLE_PEER_FAILED_VERIFICATION:
			free(what);
			what = dk_strdup_printf(
				"%s (a server with a private CA needs "
				"its certificate: --ca-bundle FILE)",
				x->errbuf[0] ? x->errbuf : dk_sym_curl_easy_strerror(rc));
			break;
		case CURLE_TOO_MANY_REDIRECTS:
			errnum = ELOOP;
			break;
		case CURLE_FILESIZE_EXCEEDED:
			errnum = EFBIG;
			free(what);
			what = dk_strdup_printf(
				"larger than the maximum size of %llu bytes",
				(unsigned long long)run->cfg.max_size);
			break;
		case CURLE_UNSUPPORTED_PROTOCOL:
			errnum = EPROTONOSUPPORT;
			break;
		case CURLE_URL_MALFORMAT:
			errnum = EINVAL;
			break;
		default:
			break;
		}
	}
	if (!what) {
		dk_error_set(&x->err, ENOMEM, "out of memory");
		xfer_fail(x, false);
		return;
	}
	if (!retry || x->attempt >= run->cfg.attempts) {
		if (x->attempt > 1)
			dk_error_set(&x->err, errnum, "%s: %s (attempt %u/%u, giving up)",
				     x->url_log, what, x->attempt, run->cfg.attempts);
		else
			dk_error_set(&x->err, errnum, "%s: %s", x->url_log, what);
		xfer_fail(x, retry);
		return;
	}
	delay = backoff_ms(run, x->attempt);
	if (code == 429 || code == 503) {
		curl_off_t ra = 0;

		if (dk_sym_curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &ra) ==
			    CURLE_OK &&
		    ra > 0)
			delay = (unsigned)MIN((uint64_t)ra * 1000u,
					      (uint64_t)run->cfg.max_delay_ms);
	}
	if (delay >= 1000)
		run_log(run, DK_LOG_WARN, "%s: %s (attempt %u/%u); retrying in %.1f s",
			x->url_log, what, x->attempt, run->cfg.attempts, delay / 1000.0);
	else
		run_log(run, DK_LOG_WARN, "%s: %s (attempt %u/%u); retrying in %u ms",
			x->url_log, what, x->attempt, run->cfg.attempts, delay);
	x->next_ms = mono_ms() + delay;
	x->state = X_PENDING;
}

/* ---- setup and the loop -------------------------------------------------------- */

static void cfg_init(struct fetch_cfg *c, const struct dk_fetch_opts *o)
{
	static const struct dk_fetch_opts none = {};

	if (!o)
		o = &none;
	c->cache_dir = o->cache_dir;
	c->ca_bundle = o->ca_bundle;
	c->attempts = o->attempts ? o->attempts : 5;
	c->delay_ms = o->retry_delay_ms ? o->retry_delay_ms : 1000;
	c->max_delay_ms = o->retry_max_delay_ms ? o->retry_max_delay_ms : 60000;
	c->delay_ms = MIN(c->delay_ms, c->max_delay_ms);
	c->parallel = o->parallel ? o->parallel : 4;
	c->connect_timeout_s = o->connect_timeout_s > 0 ? o->connect_timeout_s : 30;
	c->low_speed_time_s = o->low_speed_time_s > 0 ? o->low_speed_time_s : 60;
	c->low_speed_limit = o->low_speed_limit > 0 ? o->low_speed_limit : 1024;
	c->timeout_s = o->timeout_s > 0 ? o->timeout_s : 0;
	c->max_redirs = o->max_redirs > 0 ? o->max_redirs : 10;
	c->max_size = o->max_size;
	c->keep_partial = o->keep_partial;
	if (o->progress == 1)
		c->progress = true;
	else if (o->progress == 2)
		c->progress = false;
	else
		c->progress = isatty(STDERR_FILENO);
}

static int sink_open(struct xfer *x)
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
		x->fd = open(x->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (x->fd < 0) {
			r = errno;
			free(x->part);
			x->part = NULL; /* not ours to remove */
			return dk_error_set(&x->err, r, "create %s.part: %s", req->dest,
					    strerror(r));
		}
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
static void stream_cache_open(struct xfer *x)
{
	_cleanup_free_ char *dir = dk_strdup_printf("%s/sha256", x->run->cfg.cache_dir);
	int r;

	if (!dir)
		return;
	r = dk_mkdir_p(dir, 0755);
	if (r < 0) {
		run_log(x->run, DK_LOG_WARN, "cache %s: %s", dir, strerror(-r));
		return;
	}
	x->cache_tmp = dk_strdup_printf("%s/.%s.XXXXXX", dir, x->want);
	if (!x->cache_tmp)
		return;
	x->fd = mkostemp(x->cache_tmp, O_CLOEXEC);
	if (x->fd < 0) {
		run_log(x->run, DK_LOG_WARN, "cache %s: %s", x->cache_tmp,
			strerror(errno));
		free(x->cache_tmp);
		x->cache_tmp = NULL;
		return;
	}
	(void)fchmod(x->fd, 0644);
}

/* Everything that needs no network. Leaves x pending for a download, or returns 1
 * when it is done (local source, cache hit), <0 with x->err on failure. */
static int xfer_prepare(struct xfer *x)
{
	struct dk_fetch_req *req = x->req;
	char got[DK_SHA256_HEX_LEN + 1];
	int r;

	if (!req->url || !req->sha256 || (!req->dest == !req->write_fn))
		return dk_error_set(
			&x->err, EINVAL,
			"fetch request needs url, sha256 and one of dest or write_fn");
	x->url_log = dk_fetch_redact_url(req->url);
	if (!x->url_log)
		return dk_error_set(&x->err, ENOMEM, "out of memory");
	if (dk_sha256_parse_hex(req->sha256, x->want) < 0)
		return dk_error_set(&x->err, EINVAL,
				    "%s: invalid sha256 '%s' (want 64 hex digits)",
				    x->url_log, req->sha256);
	r = parse_source(req->url, &x->local_path);
	if (r < 0)
		return dk_error_set(&x->err, -r,
				    "%s: unsupported URL (http, https, file or a path)",
				    x->url_log);
	if (x->run->cfg.cache_dir) {
		x->cache_path =
			dk_strdup_printf("%s/sha256/%s", x->run->cfg.cache_dir, x->want);
		if (!x->cache_path)
			return dk_error_set(&x->err, ENOMEM, "out of memory");
	}
	if (req->dest && dk_sha256_file(req->dest, got) == 0 && streq(got, x->want)) {
		struct stat st;

		req->up_to_date = true;
		if (stat(req->dest, &st) == 0)
			req->size = (uint64_t)st.st_size;
		return 1;
	}
	r = sink_open(x);
	if (r < 0)
		return r;
	if (x->cache_path) {
		r = cache_lookup(x);
		if (r != 0)
			return r;
		if (!x->part)
			stream_cache_open(x);
	}
	if (x->local_path) {
		r = sink_from_file(x, x->local_path);
		return r < 0 ? r : 1;
	}
	x->state = X_PENDING;
	x->next_ms = 0;
	return 0;
}

static void xfer_init(struct fetch_run *run, struct xfer *x, struct dk_fetch_req *req)
{
	x->run = run;
	x->req = req;
	x->fd = -1;
	x->expect = -1;
	x->state = X_DONE;
	req->result = 0;
	req->attempts = 0;
	req->from_cache = false;
	req->up_to_date = false;
	req->size = 0;
	req->http_status = 0;
	if (xfer_prepare(x) < 0)
		xfer_fail(x, false);
}

static void xfer_release(struct xfer *x)
{
	if (x->easy) {
		if (x->state == X_RUNNING)
			dk_sym_curl_multi_remove_handle(x->run->multi, x->easy);
		dk_sym_curl_easy_cleanup(x->easy);
	}
	if (x->state != X_DONE)
		sink_discard(x, false);
	if (x->fd >= 0)
		close(x->fd);
	dk_sha256_release(&x->sha);
	dk_error_free(&x->err);
	free(x->url_log);
	free(x->local_path);
	free(x->part);
	free(x->cache_path);
	free(x->cache_tmp);
}

static int run_loop(struct fetch_run *run)
{
	for (;;) {
		uint64_t now = mono_ms(), wake = UINT64_MAX;
		unsigned running = 0;
		bool pending = false, ready = false;
		int still = 0, left;
		CURLMsg *msg;

		for (size_t i = 0; i < run->n; i++)
			running += run->x[i].state == X_RUNNING;
		for (size_t i = 0; i < run->n; i++) {
			struct xfer *x = &run->x[i];

			if (x->state != X_PENDING)
				continue;
			pending = true;
			if (x->next_ms > now) {
				wake = MIN(wake, x->next_ms);
			} else if (running < run->cfg.parallel) {
				if (attempt_start(x) < 0)
					xfer_fail(x, false);
				else
					running++;
			}
		}
		if (running == 0 && !pending)
			return 0;
		if (dk_sym_curl_multi_perform(run->multi, &still) != CURLM_OK)
			return -EIO;
		while ((msg = dk_sym_curl_multi_info_read(run->multi, &left))) {
			struct xfer *x;
			char *priv = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			dk_sym_curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
						 &priv);
			x = (struct xfer *)priv;
			dk_sym_curl_multi_remove_handle(run->multi, msg->easy_handle);
			x->state = X_PENDING; /* until attempt_done decides */
			attempt_done(x, msg->data.result);
			ready = true; /* start retries or return without waiting */
		}
		progress_update(run);
		if (ready)
			continue;
		now = mono_ms();
		{
			int timeout = 1000;

			if (wake != UINT64_MAX)
				timeout = wake > now ? (int)MIN(wake - now, 1000u) : 0;
			if (run->cfg.progress)
				timeout = MIN(timeout, 250);
			if (dk_sym_curl_multi_poll(run->multi, NULL, 0, timeout, NULL) !=
			    CURLM_OK)
				return -EIO;
		}
	}
}

/* libcurl is loaded only here, when some request needs the network: local and
 * cached sources work without it. */
static int curl_start(struct fetch_run *run, struct dk_error **err)
{
	int r = dk_curl_load(err);

	if (r < 0)
		return r;
	if (dk_sym_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return dk_error_set(err, EIO, "curl_global_init failed");
	run->multi = dk_sym_curl_multi_init();
	if (!run->multi) {
		dk_sym_curl_global_cleanup();
		return dk_error_set(err, ENOMEM, "curl_multi_init failed");
	}
	return 0;
}

int dk_fetch(const struct dk_fetch_opts *o, struct dk_fetch_req *reqs, size_t n,
	     struct dk_error **err)
{
	_cleanup_free_ struct xfer *xs = NULL;
	_cleanup_error_ struct dk_error *start_err = NULL;
	struct fetch_run run = {};
	size_t failed = 0, first = 0;
	bool remote = false;
	int r = 0;

	cfg_init(&run.cfg, o);
	if (n == 0)
		return 0;
	xs = calloc(n, sizeof(*xs));
	if (!xs)
		return dk_error_set(err, ENOMEM, "out of memory");
	run.x = xs;
	run.n = n;
	run.seed = (unsigned)(mono_ms() ^ (uint64_t)getpid());
	for (size_t i = 0; i < n; i++) {
		xfer_init(&run, &xs[i], &reqs[i]);
		remote |= xs[i].state == X_PENDING;
	}
	if (remote) {
		r = curl_start(&run, &start_err);
		if (r == 0)
			r = run_loop(&run);
	}
	progress_clear(&run);
	for (size_t i = 0; i < n; i++) {
		if (r < 0 && xs[i].state != X_DONE) {
			if (start_err)
				dk_error_set(&xs[i].err, start_err->errnum, "%s: %s",
					     xs[i].url_log, start_err->msg);
			else
				dk_error_set(&xs[i].err, -r, "%s: curl multi failed",
					     xs[i].url_log);
			reqs[i].result = r;
		}
		if (reqs[i].result < 0 && failed++ == 0)
			first = i;
	}
	if (failed == 1) {
		*err = TAKE_PTR(xs[first].err);
	} else if (failed > 1) {
		struct strbuf b;

		strbuf_init(&b);
		strbuf_printf(&b, "%zu of %zu downloads failed", failed, n);
		for (size_t i = 0; i < n; i++)
			if (reqs[i].result < 0)
				strbuf_printf(&b, "; %s",
					      xs[i].err ? xs[i].err->msg
							: strerror(-reqs[i].result));
		dk_error_set(err, -reqs[first].result, "%s",
			     b.oom ? "several downloads failed" : strbuf_str(&b));
		strbuf_release(&b);
	}
	for (size_t i = 0; i < n; i++)
		xfer_release(&xs[i]);
	if (run.multi) {
		dk_sym_curl_multi_cleanup(run.multi);
		dk_sym_curl_global_cleanup();
	}
	return failed ? reqs[first].result : 0;
}

int dk_fetch_stream(const struct dk_fetch_opts *o, const char *url, const char *sha256,
		    dk_fetch_write_fn fn, void *userdata, struct dk_error **err)
{
	struct dk_fetch_req req = {
		.url = url,
		.sha256 = sha256,
		.write_fn = fn,
		.userdata = userdata,
	};

	return dk_fetch(o, &req, 1, err);
}
