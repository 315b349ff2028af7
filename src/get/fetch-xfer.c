/* SPDX-License-Identifier: Apache-2.0 */
/* One transfer on the curl multi handle: response headers, Range resume, the easy
 * handle's options, and what an ended attempt means (publish, retry, fail). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/clock.h"
#include "base/log.h"
#include "get/fetch-internal.h"

#ifndef DRVKIT_VERSION
#define DRVKIT_VERSION "0.0.0"
#endif

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
			return dk_fetch_abort(
				x, -EPROTO, true,
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
			dk_log(DK_LOG_INFO, 0,
			       "%s: server ignored the range request (HTTP %ld), "
			       "restarting "
			       "from zero",
			       x->url_log, x->resp_code);
		x->accept_ranges = false;
		if (x->part) {
			r = dk_fetch_sink_truncate(x);
			if (r < 0)
				return dk_fetch_abort(x, r, false, "truncate %s: %s",
						      x->part, strerror(-r));
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
	if (dk_fetch_sink_write(x, buf, len) < 0)
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

int dk_fetch_attempt_start(struct xfer *x)
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
			r = dk_fetch_sink_truncate(x);
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
		dk_log(DK_LOG_INFO, 0, "%s: resuming at byte %llu", x->url_log,
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

void dk_fetch_xfer_fail(struct xfer *x, bool transient)
{
	x->state = X_DONE;
	x->req->result = x->err ? -x->err->errnum : -EIO;
	dk_fetch_sink_discard(x, transient && x->run->cfg.keep_partial && x->part &&
					 x->done > 0);
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

/* A failed attempt (HTTP error or curl error): what happened, its errno, and whether
 * it is worth another attempt. NULL on OOM. */
static char *classify_error(struct xfer *x, CURLcode rc, long code, int *errnum,
			    bool *retry)
{
	char *what;

	if (rc == CURLE_HTTP_RETURNED_ERROR) {
		what = dk_strdup_printf("HTTP %ld", code);
		if (code == 416 && x->offset > 0) {
			x->restart = true;
			*retry = true;
		} else if (code == 408 || code == 429 || code >= 500) {
			*retry = true;
		} else if (code == 404 || code == 410) {
			*errnum = ENOENT;
		} else if (code == 401 || code == 403 || code == 407) {
			*errnum = EACCES;
		}
		return what;
	}
	what = strdup(x->errbuf[0] ? x->errbuf : dk_sym_curl_easy_strerror(rc));
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		*errnum = ETIMEDOUT;
		*retry = true;
		break;
	case CURLE_RANGE_ERROR:
		x->restart = true;
		*retry = true;
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
		*retry = true;
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		free(what);
		what = dk_strdup_printf("%s (a server with a private CA needs "
					"its certificate: --ca-bundle FILE)",
					x->errbuf[0] ? x->errbuf
						     : dk_sym_curl_easy_strerror(rc));
		break;
	case CURLE_TOO_MANY_REDIRECTS:
		*errnum = ELOOP;
		break;
	case CURLE_FILESIZE_EXCEEDED:
		*errnum = EFBIG;
		free(what);
		what = dk_strdup_printf("larger than the maximum size of %llu bytes",
					(unsigned long long)x->run->cfg.max_size);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		*errnum = EPROTONOSUPPORT;
		break;
	case CURLE_URL_MALFORMAT:
		*errnum = EINVAL;
		break;
	default:
		break;
	}
	return what;
}

/* Schedules the next attempt after the backoff (or the server's Retry-After). */
static void retry_later(struct xfer *x, const char *what, long code)
{
	struct fetch_run *run = x->run;
	unsigned delay;

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
		dk_log(DK_LOG_WARN, 0, "%s: %s (attempt %u/%u); retrying in %.1f s",
		       x->url_log, what, x->attempt, run->cfg.attempts, delay / 1000.0);
	else
		dk_log(DK_LOG_WARN, 0, "%s: %s (attempt %u/%u); retrying in %u ms",
		       x->url_log, what, x->attempt, run->cfg.attempts, delay);
	x->next_ms = (uint64_t)dk_now_ms() + delay;
	x->state = X_PENDING;
}

/* An attempt is over: publish, retry or fail. */
void dk_fetch_attempt_done(struct xfer *x, CURLcode rc)
{
	struct fetch_run *run = x->run;
	_cleanup_free_ char *what = NULL;
	long code = x->resp_code;
	bool retry = false;
	int errnum = EIO;

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
		} else if (dk_fetch_sink_finish(x) == 0) {
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
			dk_fetch_xfer_fail(x, false);
			return;
		}
	} else {
		what = classify_error(x, rc, code, &errnum, &retry);
	}
	if (!what) {
		dk_error_set(&x->err, ENOMEM, "out of memory");
		dk_fetch_xfer_fail(x, false);
		return;
	}
	if (!retry || x->attempt >= run->cfg.attempts) {
		if (x->attempt > 1)
			dk_error_set(&x->err, errnum, "%s: %s (attempt %u/%u, giving up)",
				     x->url_log, what, x->attempt, run->cfg.attempts);
		else
			dk_error_set(&x->err, errnum, "%s: %s", x->url_log, what);
		dk_fetch_xfer_fail(x, retry);
		return;
	}
	retry_later(x, what, code);
}
