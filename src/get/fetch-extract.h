/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "shared/macro.h"

#include "base/error.h"
#include "get/archive.h"
#include "get/fetch.h"

/* Streaming download + extraction in one pass: the archive at url is extracted into
 * dir while it downloads, and never stored (except in fo->cache_dir, when set).
 *
 * The download runs in a second thread and hands its bytes to the extractor through
 * a bounded buffer; the extractor runs in the calling thread. Once the extractor has
 * reached the end of the archive the rest of the body is still read, because every
 * byte counts for the digest. The extraction is committed into dir only when the
 * download completed and its SHA-256 matched; on any failure (download error, digest
 * mismatch, hostile or damaged archive) nothing is left in dir and, when the
 * extractor fails first, the download is stopped.
 *
 * Errors are those of dk_fetch() (ENOENT for 404, EBADMSG naming the URL and both
 * digests on a mismatch) or of dk_extract_stream() (EBADMSG for a refused archive).
 * stats may be NULL. */
int dk_fetch_extract(const struct dk_fetch_opts *fo, const char *url, const char *sha256,
		     const char *dir, const struct dk_archive_opts *ao,
		     struct dk_archive_stats *stats, struct dk_error **err) _must_check_;
