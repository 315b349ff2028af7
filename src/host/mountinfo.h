/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The mount table of a mount namespace as /proc/PID/mountinfo shows it (proc(5)):
 * one reader for every caller (init's driver root, the storage check). */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

struct dk_mount {
	int id, parent;
	unsigned major, minor;
	char *root;	   /* the path inside the filesystem that is mounted */
	char *mount_point; /* unescaped (\040 is a space) */
	char *options;	   /* per-mount options: rw,nosuid,... */
	char *optional; /* optional fields, space separated: "shared:1 master:2" or "" */
	char *fstype;
	char *source;
	char *super_options;
};

struct dk_mountinfo {
	struct dk_mount *mounts; /* in the file's order: a later one is mounted on top */
	size_t n;
};

/* Reads root/mountinfo, where root is a /proc/PID directory ("/proc/self", or
 * "<host procfs>/1" for the host's namespace with hostPID). 0, or -errno: -EBADMSG for a
 * line that is not mountinfo, -EFBIG past 64 MiB. */
int dk_mountinfo_read(const char *root, struct dk_mountinfo *out) _must_check_;
void dk_mountinfo_release(struct dk_mountinfo *mi);
/* The topmost mount at exactly path (no trailing '/', except "/"), or NULL. */
const struct dk_mount *dk_mountinfo_at(const struct dk_mountinfo *mi, const char *path);
/* How many mounts sit at exactly path (stacked mounts). */
size_t dk_mountinfo_count_at(const struct dk_mountinfo *mi, const char *path);
/* The topmost mount whose mount point holds path (the longest prefix), or NULL. */
const struct dk_mount *dk_mountinfo_holding(const struct dk_mountinfo *mi,
					    const char *path);
/* Whether the mount propagates to a peer group (optional field "shared:N"). */
bool dk_mount_is_shared(const struct dk_mount *m);
