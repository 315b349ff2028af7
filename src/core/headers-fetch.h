/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "shared/macro.h"

#include "error.h"
#include "fetch.h"

/* A dk_headers_fetch_fn built on dk_fetch(): the packages are known up front, so the
 * first call downloads all of them at once (curl multi, verified against their
 * digests) into a private temporary directory, and every call then hands out the
 * local file for its URL. Freeing the fetcher removes the downloads (fo->cache_dir
 * keeps verified copies for the next run). */
struct dk_headers_fetcher;

/* urls[i] is downloaded and checked against sha256s[i]. The arrays are borrowed
 * and must outlive the fetcher, as must fo. */
int dk_headers_fetcher_new(const struct dk_fetch_opts *fo, const char *const *urls,
			   const char *const *sha256s, size_t n,
			   struct dk_headers_fetcher **out,
			   struct dk_error **err) _must_check_;
/* The dk_headers_fetch_fn; userdata is the fetcher. */
int dk_headers_fetcher_fetch(void *userdata, const char *url, char **path,
			     struct dk_error **err) _must_check_;
void dk_headers_fetcher_free(struct dk_headers_fetcher *f);

static inline void dk_headers_fetcher_freep(struct dk_headers_fetcher **f)
{
	if (*f)
		dk_headers_fetcher_free(*f);
}
#define _cleanup_headers_fetcher_ __attribute__((cleanup(dk_headers_fetcher_freep)))
