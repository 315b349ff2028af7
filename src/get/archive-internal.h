/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What archive.c (readers, the session, commit) and archive-entry.c (writing one
 * entry safely below the staging directory) share. Not for use outside get/archive*.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/archive-dl.h"
#include "base/error.h"
#include "get/archive.h"

#define STAGE_PREFIX ".drvkit-extract-"
#define MAX_SYMLINK_HOPS 40

struct staged_link {
	char *path;  /* relative to the staging root */
	char *label; /* "archive: entry" for messages */
};

struct dk_extract {
	char *dir;
	int dirfd;
	char *stage_name; /* basename of the staging dir inside dir */
	int stagefd;
	bool created_dir;
	bool committed;
	struct dk_archive_opts opts;
	struct dk_archive_stats stats;
	bool member_matched, nested_matched;
	uint64_t headers; /* entries read, in every (nested) reader */
	struct staged_link *links;
	size_t n_links, cap_links;
	/* the last parent directory opened, reused by consecutive entries */
	char *cache_path;
	int cache_fd;
};

/* archive-entry.c */
/* Drops "./", empty and "." components into *out; returns NULL, or a static reason
 * why the path is refused. */
const char *dk_extract_normalise_path(const char *p, char **out);
/* Does a glob select path (the path itself or one of its parent directories)? */
bool dk_extract_glob_selects(const char *const *globs, const char *path);
bool dk_extract_have_globs(const char *const *globs);
/* One entry: normalises its path, applies the member globs, strip and the entry
 * limit, then writes it below the staging directory or refuses it (EBADMSG). */
int dk_extract_write_entry(struct dk_extract *x, struct archive *a,
			   struct archive_entry *e, const char *aname,
			   struct dk_error **err);
