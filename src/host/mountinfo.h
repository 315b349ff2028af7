/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Mounted filesystems as <procfs>/<pid>/mountinfo lists them (proc(5)): one reader
 * for every caller (host/storage.c's storage check, init's driver root); what the
 * mounts mean is for them. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"

/* The most mountinfo read (a Kubernetes node has thousands of mounts, ~200 bytes each).
 */
#define DK_MOUNTINFO_MAX (16u << 20)

struct dk_mount {
	int id, parent;
	char *optional; /* optional fields, space separated: "shared:1 master:2" or "" */
	char *source;	/* "/dev/nvme0n1", "srv:/export", "overlay"... (unescaped) */
	char *target;	/* the mount point (unescaped) */
	char *fstype;	/* "ext4", "nfs4", "fuse.sshfs"... */
	char *options;	/* the mount's options, then the superblock's:
			   "rw,relatime,rw,vers=4.2" */
	unsigned major,
		minor; /* st_dev of the filesystem: 0:N for those on no block device */
};

struct dk_mountinfo {
	char *path;	    /* the file read */
	struct dk_mount *v; /* in the file's order: a later one is mounted on top */
	size_t n;
};

/* Reads <procfs_root>/<pid>/mountinfo (pid <= 0: "self"). Errors: the errno of the read
 * (*err names the file), EBADMSG for a line that is not mountinfo (the line number),
 * EFBIG over DK_MOUNTINFO_MAX. out is released on error. */
int dk_mountinfo_read(const char *procfs_root, int pid, struct dk_mountinfo *out,
		      struct dk_error **err) _must_check_;
/* The same from memory (name is used in messages). */
int dk_mountinfo_parse(const char *name, const char *text, struct dk_mountinfo *out,
		       struct dk_error **err) _must_check_;
void dk_mountinfo_release(struct dk_mountinfo *mi);
/* Whether the comma-separated options hold opt ("rdma") or, with a value, opt=value
 * ("proto=rdma"); when value is NULL any "opt" or "opt=..." matches. */
bool dk_mount_has_option(const struct dk_mount *m, const char *opt, const char *value);
/* The topmost mount at exactly path (no trailing '/', except "/"), or NULL. */
const struct dk_mount *dk_mountinfo_at(const struct dk_mountinfo *mi, const char *path);
/* How many mounts sit at exactly path (stacked mounts). */
size_t dk_mountinfo_count_at(const struct dk_mountinfo *mi, const char *path);
/* The topmost mount whose mount point holds path (the longest prefix), or NULL. */
const struct dk_mount *dk_mountinfo_holding(const struct dk_mountinfo *mi,
					    const char *path);
/* Whether the mount propagates to a peer group (optional field "shared:N"). */
bool dk_mount_is_shared(const struct dk_mount *m);
