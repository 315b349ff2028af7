/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

#include "shared/macro.h"

#include "base/error.h"
#include "base/sha256.h"

/* A content-addressed store: the entry for a SHA-256 digest is the regular file
 * <dir>/sha256/<hex>, whose bytes have that digest. Used by fetch (downloads) and
 * meant for anything else that keeps verified bytes by their digest.
 *
 * Entries appear only by rename() of a complete, fsynced temp file kept in the same
 * directory under a dot name (".<hex>.*"), never under the final name, so a reader
 * sees a whole entry or none. Two writers of the same key are safe: each has its own
 * temp file and the last rename wins (the bytes are the same). Inserts trust the
 * caller to have verified the digest while the bytes streamed; lookups re-hash the
 * entry, so an entry damaged later (disk, a hard-linked copy edited in place) is
 * refused rather than served. */

/* "<dir>/sha256/<hex>"; NULL on OOM. */
char *dk_cache_path(const char *dir, const char *hex) _must_check_;

/* Checks the entry for hex (64 lowercase hex digits). Returns 1 when it is present
 * and its digest matches, 0 when there is none, -EBADMSG when its bytes have another
 * digest (*err: "cache entry PATH is corrupt (sha256 GOT)"; the entry is left for
 * dk_cache_remove()), or another -errno when it cannot be read (*err: "cache PATH:
 * reason"). Callers treat the errors as a miss after reporting them. */
int dk_cache_lookup(const char *dir, const char *hex, struct dk_error **err) _must_check_;

/* Removes the entry for hex (a missing one is fine). *err: "remove PATH: reason". */
int dk_cache_remove(const char *dir, const char *hex, struct dk_error **err) _must_check_;

/* Adds the file src (already verified to have digest hex) as the entry: a hard link
 * when the cache is on the same filesystem, else a copy of the first len bytes of
 * src_fd. *err: "cache PATH: reason". */
int dk_cache_insert_file(const char *dir, const char *hex, const char *src, int src_fd,
			 uint64_t len, struct dk_error **err) _must_check_;

/* Streaming insert: creates the temp file for a new entry (mode 0644, O_CLOEXEC) and
 * returns its fd, *tmp_path naming it; write the bytes, then dk_cache_tmp_commit() or
 * unlink *tmp_path. *err: "cache PATH: reason". */
int dk_cache_tmp_open(const char *dir, const char *hex, char **tmp_path,
		      struct dk_error **err) _must_check_;
/* fsync()s fd and renames tmp_path to the entry for hex (the temp file is removed
 * when that fails). The caller has verified the digest of what it wrote. */
int dk_cache_tmp_commit(const char *dir, const char *hex, int fd, const char *tmp_path,
			struct dk_error **err) _must_check_;
