/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#define DK_SHA256_HEX_LEN 64

/* Streaming SHA-256 (OpenSSL EVP). Zero-initialise, then dk_sha256_reset() before use;
 * dk_sha256_release() frees it (safe on a zeroed struct). */
struct dk_sha256 {
	void *md_ctx; /* EVP_MD_CTX */
};

int dk_sha256_reset(struct dk_sha256 *s) _must_check_;
int dk_sha256_update(struct dk_sha256 *s, const void *buf, size_t len) _must_check_;
/* Writes 64 lowercase hex digits and a NUL to hex; the context must be reset before
 * further use. */
int dk_sha256_final_hex(struct dk_sha256 *s,
			char hex[static DK_SHA256_HEX_LEN + 1]) _must_check_;
void dk_sha256_release(struct dk_sha256 *s);

/* Feeds the first len bytes of fd (from offset 0, using pread) into s. -EIO when the
 * file is shorter. */
int dk_sha256_update_fd(struct dk_sha256 *s, int fd, unsigned long long len) _must_check_;
/* Digest of a whole file. */
int dk_sha256_file(const char *path, char hex[static DK_SHA256_HEX_LEN + 1]) _must_check_;

/* Accepts 64 hex digits, optionally prefixed by "sha256:", any case; writes the
 * lowercase form. -EINVAL otherwise. */
int dk_sha256_parse_hex(const char *s,
			char out[static DK_SHA256_HEX_LEN + 1]) _must_check_;

/* Whether s is a digest in its canonical form: exactly 64 lowercase hex digits (cache
 * keys, entry names, pinned digests in a config). */
bool dk_sha256_is_hex(const char *s);
/* The digest of len bytes at buf. */
int dk_sha256_buffer(const void *buf, size_t len,
		     char hex[static DK_SHA256_HEX_LEN + 1]) _must_check_;

#define _cleanup_sha256_ __attribute__((cleanup(dk_sha256_release)))
