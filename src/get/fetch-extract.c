/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"

#include "get/fetch-extract.h"

/* The bounded buffer between the download thread (push: dk_fetch_write_fn) and the
 * extractor (pull: dk_archive_read_fn). A ring of RING_SIZE bytes; the extractor
 * borrows the region it was last given until its next read, so the writer may only
 * overwrite bytes the reader has released. */
#define RING_SIZE (4u << 20)

struct bridge {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *ring;
	size_t head;	/* total bytes written */
	size_t tail;	/* total bytes released by the reader */
	size_t lent;	/* bytes handed to the reader and not yet released */
	bool done;	/* the download returned */
	bool closed;	/* the reader gave up: the writer must stop */
	int result;	/* the download's result, valid once done */
	bool fetch_eof; /* the reader saw the end of a failed download */
	/* download thread's arguments and error */
	const struct dk_fetch_opts *fo;
	const char *url, *sha256;
	struct dk_error *fetch_err;
};

static int bridge_write(const void *buf, size_t len, void *userdata)
{
	struct bridge *b = userdata;
	const unsigned char *p = buf;
	int r = 0;

	pthread_mutex_lock(&b->mu);
	while (len > 0) {
		size_t used, room, at, n;

		while (!b->closed && b->head - b->tail == RING_SIZE)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->closed) {
			r = -ECANCELED;
			break;
		}
		used = b->head - b->tail;
		at = b->head % RING_SIZE;
		room = MIN(RING_SIZE - used, RING_SIZE - at);
		n = MIN(room, len);
		memcpy(b->ring + at, p, n);
		b->head += n;
		p += n;
		len -= n;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	return r;
}

static int bridge_read(void *userdata, const void **buf, size_t *len,
		       struct dk_error **err)
{
	struct bridge *b = userdata;
	size_t at, n;
	int r = 0;

	pthread_mutex_lock(&b->mu);
	b->tail += b->lent;
	b->lent = 0;
	pthread_cond_broadcast(&b->cv);
	while (b->head == b->tail && !b->done)
		pthread_cond_wait(&b->cv, &b->mu);
	if (b->head == b->tail) {
		*buf = NULL;
		*len = 0;
		if (b->result < 0) {
			/* The real error is the download's; the caller reports it. */
			b->fetch_eof = true;
			r = dk_error_set(err, ECANCELED, "download failed");
		}
	} else {
		at = b->tail % RING_SIZE;
		n = MIN(b->head - b->tail, RING_SIZE - at);
		b->lent = n;
		*buf = b->ring + at;
		*len = n;
	}
	pthread_mutex_unlock(&b->mu);
	return r;
}

/* Stops the writer. Returns whether the download had already returned by then: its
 * result is then its own, not the cancellation. */
static bool bridge_close(struct bridge *b)
{
	bool done;

	pthread_mutex_lock(&b->mu);
	done = b->done;
	b->closed = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return done;
}

static void *download_thread(void *userdata)
{
	struct bridge *b = userdata;
	struct dk_error *e = NULL;
	int r;

	r = dk_fetch_stream(b->fo, b->url, b->sha256, bridge_write, b, &e);
	pthread_mutex_lock(&b->mu);
	b->fetch_err = e;
	b->result = r;
	b->done = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* Reads and drops what follows the end of the archive (tar padding, trailing members):
 * the digest covers the whole body. */
static int drain(struct bridge *b, struct dk_error **err)
{
	const void *buf;
	size_t len;
	int r;

	do {
		r = bridge_read(b, &buf, &len, err);
		if (r < 0)
			return r;
	} while (len > 0);
	return 0;
}

int dk_fetch_extract(const struct dk_fetch_opts *fo, const char *url, const char *sha256,
		     const char *dir, const struct dk_archive_opts *ao,
		     struct dk_archive_stats *stats, struct dk_error **err)
{
	_cleanup_extract_ struct dk_extract *x = NULL;
	_cleanup_free_ char *url_log = dk_fetch_redact_url(url);
	struct bridge b = {.fo = fo, .url = url, .sha256 = sha256};
	struct dk_error *xerr = NULL;
	pthread_t thread;
	bool fetch_done;
	int r, xr;

	if (!url_log)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_extract_new(dir, ao, &x, err);
	if (r < 0)
		return r;
	b.ring = malloc(RING_SIZE);
	if (!b.ring)
		return dk_error_set(err, ENOMEM, "out of memory");
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	r = pthread_create(&thread, NULL, download_thread, &b);
	if (r != 0) {
		pthread_cond_destroy(&b.cv);
		pthread_mutex_destroy(&b.mu);
		free(b.ring);
		return dk_error_set(err, r, "start download thread: %s", strerror(r));
	}

	xr = dk_extract_stream(x, url_log, bridge_read, &b, &xerr);
	if (xr == 0)
		xr = drain(&b, &xerr);
	/* Extractor failed (or finished): a download still running stops at its next
	 * write. */
	fetch_done = bridge_close(&b);
	pthread_join(thread, NULL);
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
	free(b.ring);

	if (b.result < 0 && (xr == 0 || b.fetch_eof || !xerr || fetch_done)) {
		/* The download failed on its own (a checksum mismatch, a 404...): that is
		 * the cause, whatever the extractor made of the bytes it got. */
		dk_error_free(&xerr);
		*err = b.fetch_err;
		return b.result;
	}
	dk_error_free(&b.fetch_err);
	if (xr < 0) {
		*err = xerr;
		if (xr == -EBADMSG && !fetch_done)
			dk_error_append(err,
					" (the download was stopped there, before its "
					"sha256 could be checked)");
		return xr;
	}
	return dk_extract_finish(x, stats, err);
}
