/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#include "base/error.h"

/* Safe extraction of tar (gz, xz, zst, bz2), .deb, .rpm and zip archives.
 *
 * Everything is written below one directory DIR and never outside it: absolute
 * paths, ".." components, device nodes, fifos and sockets are refused; symlinks
 * must resolve inside DIR; hardlinks must point at a regular file extracted before.
 * Entries are written into a staging directory DIR/.drvkit-extract-XXXXXX and moved
 * into place only when every archive of the session extracted cleanly; on any
 * failure the staging directory (and DIR, when the session created it) is removed.
 *
 * Refusals (hostile or malformed input, limits exceeded) fail with EBADMSG; a glob
 * that matches nothing fails with ENOENT; write failures keep their errno (ENOSPC).
 * Error messages name the archive, the entry and the reason. */

#define DK_ARCHIVE_DEFAULT_MAX_SIZE (UINT64_C(16) << 30) /* 16 GiB */
#define DK_ARCHIVE_DEFAULT_MAX_ENTRIES UINT64_C(1000000)

enum dk_archive_flags {
	/* Rewrite an absolute symlink target /x as a relative link to DIR/x instead of
	 * refusing it (unpacked distro packages, whose links assume they live in /). */
	DK_ARCHIVE_REWRITE_ABS_SYMLINKS = 1 << 0,
};

struct dk_archive_opts {
	/* fnmatch(3) globs on the entry path (leading "./" removed, before strip);
	 * a glob matching a directory selects everything below it. NULL-terminated;
	 * NULL or empty selects every entry. With nested_members these select inside
	 * the inner archives. */
	const char *const *members;
	/* Nested extraction in one pass: the outer members matching these globs are
	 * archives themselves; their contents are extracted (streamed, never written to
	 * disk) and all other outer members are skipped. NULL = not nested. */
	const char *const *nested_members;
	unsigned strip;	   /* leading path components removed from written entries */
	uint64_t max_size; /* total uncompressed bytes, 0 = DK_ARCHIVE_DEFAULT_MAX_SIZE */
	uint64_t max_entries; /* total entries, 0 = DK_ARCHIVE_DEFAULT_MAX_ENTRIES */
	unsigned flags;	      /* enum dk_archive_flags */
};

struct dk_archive_stats {
	uint64_t entries; /* entries written (files, dirs, links) */
	uint64_t bytes;	  /* uncompressed file bytes written */
};

/* Supplies the next chunk of an archive stream: sets *buf and *len, *len == 0 at the
 * end. Returns 0, or -errno with *err set (the extraction then fails with it). A
 * download can feed the extractor through this while it streams. */
typedef int (*dk_archive_read_fn)(void *userdata, const void **buf, size_t *len,
				  struct dk_error **err);

/* An extraction session: one or more archives into one DIR, committed together. */
struct dk_extract;

/* Opens DIR (creating it when missing; its parent must exist) and a staging
 * directory inside it. opts is copied (the glob arrays are borrowed). */
int dk_extract_new(const char *dir, const struct dk_archive_opts *opts,
		   struct dk_extract **out, struct dk_error **err) _must_check_;
/* Extracts an archive file into the staging directory. */
int dk_extract_file(struct dk_extract *x, const char *path,
		    struct dk_error **err) _must_check_;
/* Extracts an archive read through fn; name labels it in messages. */
int dk_extract_stream(struct dk_extract *x, const char *name, dk_archive_read_fn fn,
		      void *userdata, struct dk_error **err) _must_check_;
/* Checks every symlink of the session resolves inside DIR, then moves the staged
 * tree into DIR (merging into existing directories, replacing existing files).
 * Fails without moving anything when a staged entry conflicts with an existing one
 * of another type. */
int dk_extract_commit(struct dk_extract *x, struct dk_error **err) _must_check_;
void dk_extract_get_stats(const struct dk_extract *x, struct dk_archive_stats *stats);
/* Commit, then fill stats (may be NULL). */
int dk_extract_finish(struct dk_extract *x, struct dk_archive_stats *stats,
		      struct dk_error **err) _must_check_;
/* Frees the session; when not committed, removes everything it wrote. */
void dk_extract_free(struct dk_extract *x);

/* One-shot helpers: new + file/stream + commit. stats may be NULL. */
int dk_archive_extract_file(const char *archive, const char *dir,
			    const struct dk_archive_opts *opts,
			    struct dk_archive_stats *stats,
			    struct dk_error **err) _must_check_;
int dk_archive_extract_stream(const char *name, dk_archive_read_fn fn, void *userdata,
			      const char *dir, const struct dk_archive_opts *opts,
			      struct dk_archive_stats *stats,
			      struct dk_error **err) _must_check_;

static inline void dk_extract_freep(struct dk_extract **x)
{
	if (*x)
		dk_extract_free(*x);
}
#define _cleanup_extract_ __attribute__((cleanup(dk_extract_freep)))
