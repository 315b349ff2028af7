/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/ctx.h"
#include "base/error.h"

/* Kernel headers ("build trees") for building out-of-tree modules: find the ones
 * installed on the host, or materialise them from distro packages without dpkg or
 * rpm, and say which gcc the kernel was built with. */

/* The places a kernel's build tree is looked for, in this order. */
enum dk_headers_place {
	DK_HEADERS_BUILD = 1 << 0,  /* lib/modules/KVER/build: every distro */
	DK_HEADERS_DEBIAN = 1 << 1, /* usr/src/linux-headers-KVER: Debian, Ubuntu */
	DK_HEADERS_RHEL = 1 << 2,   /* usr/src/kernels/KVER: RHEL, RHCOS, DTK, Amazon */
	DK_HEADERS_SUSE = 1 << 3,   /* usr/src/linux-VER-obj/ARCH/FLAVOUR: SUSE */
	DK_HEADERS_ALL = (1 << 4) - 1,
};

/* One place looked at, and what it holds. */
struct dk_headers_candidate {
	const char *kind; /* "build", "debian", "rhel", "suse" (static) */
	char *where;	  /* where it was looked for, relative to the root:
			     "lib/modules/K/build" */
	char *path;  /* the directory on this machine (symlinks resolved inside root) */
	bool exists; /* path is a directory */
	char *uts_release; /* its include/generated/utsrelease.h, NULL if unreadable */
	bool has_config;   /* .config exists */
	bool has_symvers;  /* Module.symvers exists */
	bool usable;	   /* exists, UTS_RELEASE is kver, .config and Module.symvers */
	char *reason;	   /* why it was rejected; NULL when usable */
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

/* SUSE header directory for a kernel release: 5.14.21-150500.55.65-default on
 * x86_64 -> /usr/src/linux-5.14.21-150500.55.65-obj/x86_64/default. NULL when the
 * release has no flavour suffix or on OOM. */
char *dk_suse_headers_path(const char *kver, const char *arch) _must_check_;

/* Looks at root/where (symlinks resolved inside root, root NULL = "/") and fills
 * *c, kind included, saying whether it is a usable build tree for kver. Returns 0
 * or -ENOMEM; free *c with dk_headers_candidate_clear() either way. */
int dk_headers_probe(const char *root, const char *kind, const char *where,
		     const char *kver, struct dk_headers_candidate *c) _must_check_;
void dk_headers_candidate_clear(struct dk_headers_candidate *c);

/* Probes the places in `places` (enum dk_headers_place bits) for kver below root,
 * in the enum's order; build_dir is the first usable one, NULL when none is. arch
 * is for the SUSE path (NULL: this machine's). Does not look for the compiler. Fails
 * with EINVAL for a kver that is not a file name, or ENOMEM. */
int dk_headers_scan(const char *root, const char *kver, const char *arch, unsigned places,
		    struct dk_headers_info **out, struct dk_error **err) _must_check_;

/* dk_headers_scan() of every place, plus the compiler fields when a tree is
 * usable. */
int dk_headers_find(const char *root, const char *kver, struct dk_headers_info **out,
		    struct dk_error **err) _must_check_;

/* For an error when info has no build_dir: where it looked, why each tree that
 * exists was rejected, and which package to install. NULL on OOM. */
char *dk_headers_explain(const struct dk_headers_info *info) _must_check_;

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
