/* SPDX-License-Identifier: Apache-2.0 */
/* Unified diffs applied in-process (the `patches:` of a build source): how users keep a
 * driver building after a kernel update changed an API. Behaves like
 * `patch -p<strip> --forward --no-backup-if-mismatch -F0`: exact context, a hunk may
 * apply at an offset (nearest first), all or nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shared/macro.h"

#include "base/error.h"

/* Larger inputs are refused (-EFBIG): a patch is text someone wrote, a target a source
 * file. */
#define DK_PATCH_MAX_PATCH ((size_t)64 << 20)
#define DK_PATCH_MAX_TARGET ((size_t)256 << 20)

struct dk_patch_line {
	const char *text; /* into dk_patch.text: the line without its op and newline */
	uint32_t len;
	char op;   /* ' ' context, '-' removed, '+' added */
	bool nonl; /* followed by "\ No newline at end of file" */
};

struct dk_patch_hunk {
	size_t old_start, old_count, new_start, new_count;
	char *header; /* "@@ -218,7 +218,7 @@" (without the section text after it) */
	size_t line;  /* of the header in the patch, from 1 */
	struct dk_patch_line *lines;
	size_t n_lines;
};

struct dk_patch_file {
	/* Paths relative to the tree (strip applied, "." and "//" folded, never absolute
	 * nor with ".."); NULL for /dev/null. Equal but for a plain `diff -u` of two
	 * differently named files, where the one that exists is patched. */
	char *old_path, *new_path;
	bool creates, deletes; /* /dev/null, git's new/deleted file mode, an epoch date */
	mode_t mode; /* git's "new file mode"/"new mode" (permissions), 0: none */
	size_t line; /* of the section's first header line */
	struct dk_patch_hunk *hunks;
	size_t n_hunks;
};

struct dk_patch {
	char *name; /* the patch as messages name it */
	char *text; /* a copy of the patch; the lines point into it */
	size_t len;
	struct dk_patch_file *files;
	size_t n_files;
};

/* Parses a unified diff (git-style "diff --git" sections or plain `diff -u` "---"/"+++"
 * headers; text between sections, such as a mail or commit message, is skipped). name
 * is the patch file for messages. Renames, copies and binary diffs are refused. Errors:
 * -EBADMSG "name:line: why" for a malformed patch or a path that leaves the tree,
 * -EFBIG over DK_PATCH_MAX_PATCH, -ENOMEM. */
int dk_patch_parse(const char *name, const char *text, size_t len, int strip,
		   struct dk_patch **out, struct dk_error **err) _must_check_
	_nonnull_(1, 5);
void dk_patch_free(struct dk_patch *p);
static inline void dk_patch_freep(struct dk_patch **p)
{
	dk_patch_free(*p);
}
#define _cleanup_patch_ __attribute__((cleanup(dk_patch_freep)))

/* The path a section patches when nothing on disk decides (the new name, or the old
 * one for a deletion). */
const char *dk_patch_file_path(const struct dk_patch_file *f) _nonnull_(1);

/* Applies the hunks of f (a section of p) to a file's content: in/in_len, in NULL when
 * the file does not exist. path names it in messages (NULL: dk_patch_file_path). On
 * success *out is the new content (malloc'd, NUL-terminated; NULL when f deletes the
 * file) and *out_len its length. Errors: -EBADMSG naming the patch, the hunk number, its
 * header and the file, then why: the first expected line that failed at the nearest
 * position tried, quoted with what the file has there, or "already applied" when the
 * hunk's result is found instead; -ENOENT when the file does not exist (and f does not
 * create it); -EEXIST when f creates a file that exists. */
int dk_patch_apply_file(const struct dk_patch *p, const struct dk_patch_file *f,
			const char *path, const char *in, size_t in_len, char **out,
			size_t *out_len, struct dk_error **err) _must_check_
	_nonnull_(1, 2, 6, 7);

/* Applies the unified diff in patch_file to the tree at dir, like `patch -p<strip>
 * --forward --no-backup-if-mismatch -F0`. All or nothing: every hunk of every file is
 * checked first; only then are files written, each to a temp file in its directory
 * renamed over it (mode kept; git's modes applied), and deleted files removed; new
 * files get their missing directories. Paths through a symlink in the tree are refused
 * (-ELOOP). Errors as dk_patch_parse() and dk_patch_apply_file(), each naming
 * patch_file; -EFBIG for a target over DK_PATCH_MAX_TARGET. */
int dk_patch_apply(const char *dir, const char *patch_file, int strip,
		   struct dk_error **err) _must_check_ _nonnull_(1, 2);
