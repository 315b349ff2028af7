/* SPDX-License-Identifier: Apache-2.0 */
/* dk_fetch(): requests in, the curl multi loop, progress, results out. The sink is
 * fetch-sink.c, one transfer's attempts fetch-xfer.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/cache.h"
#include "base/clock.h"
#include "base/log.h"
#include "get/fetch-internal.h"
#include "get/stop.h"

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

int dk_fetch_local_path(const char *url, char **path)
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

/* ---- progress ------------------------------------------------------------------ */

/* Drawn through the log sink, which owns stderr and erases the line before a message. */
static void progress_update(struct fetch_run *run)
{
	uint64_t now = (uint64_t)dk_now_ms(), done = 0, total = 0;
	bool known = true;
	size_t active = 0;
	char line[160];

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
		snprintf(line, sizeof(line),
			 "drvkit: fetching %zu file%s: %.1f / %.1f MiB (%d%%)", active,
			 active == 1 ? "" : "s", done / 1048576.0, total / 1048576.0,
			 (int)(done * 100 / total));
	else
		snprintf(line, sizeof(line), "drvkit: fetching %zu file%s: %.1f MiB",
			 active, active == 1 ? "" : "s", done / 1048576.0);
	dk_log_progress(line);
}

/* ---- setup and the loop -------------------------------------------------------- */

static void cfg_init(struct fetch_cfg *c, const struct dk_fetch_opts *o)
{
	static const struct dk_fetch_opts none = {};

	if (!o)
		o = &none;
	c->cache_dir = o->cache_dir;
	c->allow_unpinned = o->allow_unpinned;
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
		c->progress = dk_log_is_tty();
}

/* Everything that needs no network. Leaves x pending for a download, or returns 1
 * when it is done (local source, cache hit), <0 with x->err on failure. */
static int xfer_prepare(struct xfer *x)
{
	struct dk_fetch_req *req = x->req;
	char got[DK_SHA256_HEX_LEN + 1];
	int r;

	if (!req->url || (!req->sha256 && !x->run->cfg.allow_unpinned) ||
	    (!req->dest == !req->write_fn))
		return dk_error_set(
			&x->err, EINVAL,
			"fetch request needs url, sha256 and one of dest or write_fn");
	x->url_log = dk_fetch_redact_url(req->url);
	if (!x->url_log)
		return dk_error_set(&x->err, ENOMEM, "out of memory");
	if (req->sha256 && dk_sha256_parse_hex(req->sha256, x->want) < 0)
		return dk_error_set(&x->err, EINVAL,
				    "%s: invalid sha256 '%s' (want 64 hex digits)",
				    x->url_log, req->sha256);
	r = dk_fetch_local_path(req->url, &x->local_path);
	if (r < 0)
		return dk_error_set(&x->err, -r,
				    "%s: unsupported URL (http, https, file or a path)",
				    x->url_log);
	if (x->run->cfg.cache_dir && req->sha256) {
		x->cache_path = dk_cache_path(x->run->cfg.cache_dir, x->want);
		if (!x->cache_path)
			return dk_error_set(&x->err, ENOMEM, "out of memory");
	}
	if (req->dest && req->sha256 && dk_sha256_file(req->dest, got) == 0 &&
	    streq(got, x->want)) {
		struct stat st;

		req->up_to_date = true;
		if (stat(req->dest, &st) == 0)
			req->size = (uint64_t)st.st_size;
		return 1;
	}
	r = dk_fetch_sink_open(x);
	if (r < 0)
		return r;
	if (x->cache_path) {
		r = dk_fetch_cache_lookup(x);
		if (r != 0)
			return r;
		if (!x->part)
			dk_fetch_stream_cache_open(x);
	}
	if (x->local_path) {
		r = dk_fetch_sink_from_file(x, x->local_path);
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
		dk_fetch_xfer_fail(x, false);
}

static void xfer_release(struct xfer *x)
{
	if (x->easy) {
		if (x->state == X_RUNNING)
			dk_sym_curl_multi_remove_handle(x->run->multi, x->easy);
		dk_sym_curl_easy_cleanup(x->easy);
	}
	if (x->state != X_DONE)
		dk_fetch_sink_discard(x, false);
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
		uint64_t now = (uint64_t)dk_now_ms(), wake = UINT64_MAX;
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
				if (dk_fetch_attempt_start(x) < 0)
					dk_fetch_xfer_fail(x, false);
				else
					running++;
			}
		}
		if (running == 0 && !pending)
			return 0;
		if (dk_get_stop_signal())
			return -EINTR;
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
			x->state = X_PENDING; /* until dk_fetch_attempt_done decides */
			dk_fetch_attempt_done(x, msg->data.result);
			ready = true; /* start retries or return without waiting */
		}
		progress_update(run);
		if (ready)
			continue;
		now = (uint64_t)dk_now_ms();
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
	run.seed = (unsigned)((uint64_t)dk_now_ms() ^ (uint64_t)getpid());
	for (size_t i = 0; i < n; i++) {
		xfer_init(&run, &xs[i], &reqs[i]);
		remote |= xs[i].state == X_PENDING;
	}
	if (remote) {
		r = curl_start(&run, &start_err);
		if (r == 0)
			r = run_loop(&run);
	}
	dk_log_progress(NULL);
	if (r < 0 && dk_get_stop_signal())
		r = -EINTR; /* curl's poll may fail on the signal */
	for (size_t i = 0; i < n; i++) {
		if (r == -EINTR && xs[i].state != X_DONE) {
			/* DEST.part goes unless --keep-partial asked to keep it */
			(void)!dk_get_check_stop(xs[i].url_log, &xs[i].err);
			reqs[i].result = r;
			xs[i].state = X_DONE;
			dk_fetch_sink_discard(&xs[i], run.cfg.keep_partial &&
							      xs[i].part &&
							      xs[i].done > 0);
		} else if (r < 0 && xs[i].state != X_DONE) {
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
