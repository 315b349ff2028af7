/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "ctx.h"
#include "error.h"

/* Kernel headers ("build trees") for building out-of-tree modules: find the ones
 * installed on the host, or materialise them from distro packages without dpkg or
 * rpm, and say which gcc the kernel was built with. */

struct dk_headers_candidate {
	char *where; /* where it was looked for, relative to the root:
			"lib/modules/K/build" */
	char *path;  /* the directory on this machine (absolute links resolved in root) */
	bool usable;
	char *reason; /* why it was rejected; NULL when usable */
};

struct dk_headers_info {
	char *kver;
	char *root; /* the host root (or the directory packages were unpacked into) */
	char *build_dir; /* first usable tree: kbuild's -C; NULL when none */
	struct dk_headers_candidate *cands;
	size_t n_cands;
	bool materialised; /* build_dir was unpacked from packages */
	/* compiler the kernel was built with, from build_dir/.config */
	char *cc_version_text; /* CONFIG_CC_VERSION_TEXT, NULL if absent */
	long gcc_version;      /* CONFIG_GCC_VERSION, e.g. 120200; 0 if absent */
	char *gcc_path;	       /* gcc-MAJOR or gcc found on PATH; NULL if none */
	char *gcc_found;       /* its -dumpfullversion, e.g. "12.2.0" */
	bool gcc_same_major;   /* gcc_found has the kernel's major version */
	bool gcc_exact;	       /* ... and the same major.minor.patch */
};

/* Checks that dir is a usable build tree for kver: include/generated/utsrelease.h
 * says UTS_RELEASE kver, .config and Module.symvers exist. Returns true, or false
 * with *reason set (allocated; NULL on OOM). */
bool dk_headers_check_tree(const char *dir, const char *kver, char **reason);

/* Looks at <root>/lib/modules/KVER/build (absolute links resolved relative to root),
 * <root>/usr/src/kernels/KVER (RHEL, RHCOS, DTK) and <root>/usr/src/linux-headers-KVER
 * (Debian, Ubuntu). Succeeds with build_dir NULL when no candidate is usable. Fills
 * the compiler fields when one is. root NULL = "/". */
int dk_headers_find(const char *root, const char *kver, struct dk_headers_info **out,
		    struct dk_error **err) _must_check_;

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

/* Fills the compiler fields of info from build_dir/.config and PATH (path_env NULL:
 * $PATH): the gcc-MAJOR, else the gcc, that dk_gcc_find() lists, and its version. */
void dk_headers_find_compiler(struct dk_headers_info *info, const char *path_env);

void dk_headers_info_free(struct dk_headers_info *info);

static inline void dk_headers_info_freep(struct dk_headers_info **p)
{
	if (*p)
		dk_headers_info_free(*p);
}
#define _cleanup_headers_info_ __attribute__((cleanup(dk_headers_info_freep)))
