/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"
#include "host/headers.h"
#include "get/fetch.h"

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

/* Turns a package reference (a URL) into a local file. The single place where a
 * downloader plugs in; see dk_headers_materialise(). */
typedef int (*dk_headers_fetch_fn)(void *userdata, const char *url, char **path,
				   struct dk_error **err);

/* Unpacks packages (.deb: linux-headers-KVER, linux-headers-BASE-common,
 * linux-kbuild-X.Y; .rpm: kernel-devel) into outdir keeping their layout, rewrites
 * absolute symlinks and the Debian arch Makefile's absolute include so the tree works
 * where it is, then finds the headers in it as dk_headers_find(outdir, ...) does.
 * Packages are local paths or file:// URLs; other URLs go through fetch, and fail
 * with ENOTSUP when fetch is NULL. Fails with EBADMSG when the packages give no
 * usable tree for kver. */
int dk_headers_materialise(const char *kver, const char *const *packages,
			   size_t n_packages, const char *outdir,
			   dk_headers_fetch_fn fetch, void *fetch_data,
			   struct dk_headers_info **out,
			   struct dk_error **err) _must_check_;
