/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#include "base/error.h"
#include "base/sha256.h"

/* Downloads with mandatory SHA-256 verification.
 *
 * Sources: http:// and https:// (libcurl; TLS verification always on, proxies from
 * http_proxy/https_proxy/all_proxy/no_proxy as libcurl reads them), file:// URLs and
 * plain local paths (read directly). Every source is checksummed while it streams.
 *
 * A file download writes DEST.part in DEST's directory and renames it to DEST only
 * after the digest matches, so DEST is either absent/old or complete and verified.
 * A DEST that already has the digest is left alone. DEST.part is locked while in use;
 * a second download to the same DEST fails with EBUSY.
 *
 * With cache_dir, verified files are kept as <cache_dir>/sha256/<hex> (added with a
 * hard link or a copy, then rename). A hit is re-verified, then hard-linked to DEST
 * (copied across filesystems): replace DEST rather than editing it in place, or the
 * cache entry is damaged too (a damaged entry is detected, removed and refetched).
 *
 * Transient failures (connection errors, timeouts, cut transfers, HTTP 408/429/5xx)
 * are retried with exponential backoff and jitter; 429/503 Retry-After is honoured,
 * capped by retry_max_delay_ms. A cut transfer is resumed with a Range request when the
 * server advertised Accept-Ranges or answered 206; a server that answers 200 to the
 * range request is read again from zero. Other HTTP errors fail at once: 404/410 ->
 * ENOENT, 401/403 -> EACCES. A digest mismatch is EBADMSG and names both digests. */

/* All zero means the defaults given in the comments. */
struct dk_fetch_opts {
	const char *cache_dir;	     /* content cache keyed by sha256; NULL: none */
	const char *ca_bundle;	     /* CA certificates (PEM); NULL: the system store */
	unsigned attempts;	     /* tries per download for transient failures (5) */
	unsigned retry_delay_ms;     /* first backoff delay, doubled per attempt (1000) */
	unsigned retry_max_delay_ms; /* cap on any delay, Retry-After included (60000) */
	long connect_timeout_s;	     /* (30) */
	long low_speed_time_s;	     /* abort when slower than low_speed_limit ... (60) */
	long low_speed_limit;	     /* ... bytes/s for that long (1024) */
	long timeout_s;		     /* whole attempt; 0: no limit */
	uint64_t max_size;	     /* bytes; 0: no limit */
	long max_redirs;	     /* (10) */
	unsigned parallel;	     /* concurrent transfers (4) */
	int progress;		     /* -1/0: progress on stderr when it is a TTY; 1:
					always; 2: never */
	bool keep_partial; /* keep DEST.part after a transient failure and resume from
			      it in a later call (file downloads only) */
	/* A request may leave sha256 NULL: its bytes are hashed (req->got) but not
	 * checked, and never cached. Only for content verified otherwise (a precompiled
	 * package: the sha256 of every module in its manifest, and their signatures). */
	bool allow_unpinned;
};

/* Streaming consumer: receives the body in order as it arrives. Return 0, or -errno to
 * abort this download (not retried).
 *
 * The digest is checked only after the last byte: when dk_fetch() reports a failure
 * for this request (req->result < 0), everything the consumer produced from these
 * bytes must be discarded (e.g. remove the extracted tree). The consumer never sees a
 * byte twice: after a retry the stream continues where it stopped, and the digest is
 * that of exactly the bytes the consumer received. */
typedef int (*dk_fetch_write_fn)(const void *buf, size_t len, void *userdata);

struct dk_fetch_req {
	/* in */
	const char *url;    /* http(s)://, file:// or a local path */
	const char *sha256; /* 64 hex digits (optionally "sha256:..."); required */
	const char *dest;   /* final path; NULL when write_fn is set */
	dk_fetch_write_fn write_fn; /* streaming variant instead of dest */
	void *userdata;
	/* out */
	int result;	   /* 0 or -errno */
	unsigned attempts; /* network attempts made */
	bool from_cache;   /* served from cache_dir without network */
	bool up_to_date;   /* dest already had this digest: left alone */
	uint64_t size;	   /* bytes of the verified file */
	char got[65];	   /* the sha256 of the bytes received (hex) */
	long http_status;  /* last HTTP status, 0 when none */
};

/* Runs the n requests concurrently (curl multi). Returns 0 when all succeeded;
 * otherwise the error of the failed request (several: one message listing each) and
 * every req->result says which. */
int dk_fetch(const struct dk_fetch_opts *o, struct dk_fetch_req *reqs, size_t n,
	     struct dk_error **err) _must_check_;

/* One streaming download; see dk_fetch_write_fn for the discard-on-failure rule. */
int dk_fetch_stream(const struct dk_fetch_opts *o, const char *url, const char *sha256,
		    dk_fetch_write_fn fn, void *userdata,
		    struct dk_error **err) _must_check_;

/* URL without "user:password@" (for messages); NULL on OOM. */
char *dk_fetch_redact_url(const char *url) _must_check_;

/* Classifies a source: *path set (malloc'ed) for file:// URLs (percent-decoded) and
 * plain paths, NULL for http(s). -EINVAL for a file:// URL that is no absolute path,
 * -EPROTONOSUPPORT for another scheme, -ENOMEM. */
int dk_fetch_local_path(const char *url, char **path) _must_check_;
