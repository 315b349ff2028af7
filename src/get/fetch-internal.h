/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What fetch.c (requests, the loop), fetch-sink.c (where verified-later bytes go:
 * DEST.part, the consumer, the cache) and fetch-xfer.c (one curl transfer and its
 * attempts) share. Not for use outside get/fetch*.c. */

#include <stdbool.h>
#include <stdint.h>

#include "shared/macro.h"

#include "base/error.h"
#include "base/sha256.h"
#include "get/curl-dl.h"
#include "get/fetch.h"

/* Options with the defaults filled in. */
struct fetch_cfg {
	bool allow_unpinned;
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
	uint64_t progress_ms;
};

/* fetch-sink.c */
int dk_fetch_abort(struct xfer *x, int r, bool retry, const char *fmt, ...)
	_printf_format_(4, 5);
int dk_fetch_sink_open(struct xfer *x);
int dk_fetch_sink_write(struct xfer *x, const char *buf, size_t len);
int dk_fetch_sink_truncate(struct xfer *x);
void dk_fetch_sink_discard(struct xfer *x, bool keep);
int dk_fetch_sink_finish(struct xfer *x);
int dk_fetch_sink_from_file(struct xfer *x, const char *path);
int dk_fetch_cache_lookup(struct xfer *x);
void dk_fetch_stream_cache_open(struct xfer *x);

/* fetch-xfer.c */
int dk_fetch_attempt_start(struct xfer *x);
void dk_fetch_attempt_done(struct xfer *x, CURLcode rc);
void dk_fetch_xfer_fail(struct xfer *x, bool transient);
