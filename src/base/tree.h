/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Directory trees: remove, copy, digest, measure. Never follows a symlink out of a
 * tree (every walk opens with O_NOFOLLOW below a directory fd). */

#include <stdint.h>

#include "shared/macro.h"

#include "base/error.h"

/* Removes name (a file, link or whole directory tree) below dirfd (AT_FDCWD for a
 * path). Returns 0 (also when it does not exist) or the first -errno. */
int dk_rm_rf_at(int dirfd, const char *name);
int dk_rm_rf(const char *path);

/* Copies the tree src to dst (which must not exist): directories, regular files
 * (modes kept) and symlinks whose target stays inside the tree (copied as links);
 * devices, FIFOs, sockets and escaping links are refused naming the path. Nothing
 * is left at dst on failure. */
int dk_tree_copy(const char *src, const char *dst, struct dk_error **err) _must_check_;

/* The sha256 of a tree's content: every entry by path (bytewise order), its kind,
 * its executable bit, and a regular file's bytes or a link's target. Timestamps,
 * owners and the tree's own path do not count, so the same sources anywhere give the
 * same digest. Same refusals as dk_tree_copy(). */
int dk_tree_digest(const char *dir, char hex[static 65],
		   struct dk_error **err) _must_check_;

/* Bytes allocated below dir (st_blocks), for cache accounting. */
int dk_tree_size(const char *dir, uint64_t *bytes) _must_check_;
