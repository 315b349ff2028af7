/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Before building out-of-tree modules against a kernel build tree ("headers"):
 * everything the tree and the machine lack for it, each with what to do, instead of
 * a make that fails in the middle; and the compiler to build with. Reads files and
 * looks at PATH; runs nothing but `gcc -dumpfullversion`. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

/* One thing missing. */
struct dk_preflight_problem {
	/* Which check (static): "build_dir", "Makefile", ".config", "autoconf.h",
	 * "auto.conf", "Module.symvers", "scripts", "fixdep", "modpost", "genksyms",
	 * "recordmcount", "objtool", "pahole", "resolve_btfids", "make", "binutils",
	 * "compiler". */
	const char *item;
	char *what; /* "scripts/mod/modpost is missing (the tree's scripts/ is ...)" */
	char *fix;  /* "install linux-kbuild-6.1" */
};

struct dk_preflight_opts {
	/* The /proc of a host that runs the tree's kernel: its version line names the
	 * compiler when the tree's .config does not (kernels before 4.18). Ignored when
	 * its sys/kernel/osrelease is another kernel. NULL: not consulted. */
	const char *procfs;
	/* A compiler of another major version than the kernel's is used, not a problem.
	 */
	bool allow_compiler_mismatch;
};

/* The compiler to build with: the kernel's own major version, as gcc-MAJOR when
 * installed, else as gcc. */
struct dk_preflight_cc {
	char *path;	      /* e.g. /usr/bin/gcc-12; NULL when none is usable */
	char *version;	      /* its -dumpfullversion, "12.2.0" (part of the cache key) */
	char *kernel_version; /* the kernel's gcc, "12.2.0"; NULL when unknown */
	char *kernel_text;    /* CONFIG_CC_VERSION_TEXT or the /proc/version compiler */
	const char *source;   /* ".config", "/proc/version", or NULL when unknown */
	bool same_major;      /* version has kernel_version's major */
	bool exact;	      /* ... and is kernel_version */
};

struct dk_preflight {
	struct dk_preflight_problem *problems; /* in the order a build meets them */
	size_t n_problems;
	struct dk_preflight_cc cc;
};

/* Checks build_dir (a kernel build tree: kbuild's -C) for building modules:
 * Makefile (and the absolute paths it includes: Debian's arch tree includes the
 * -common one), .config, include/generated/autoconf.h, include/config/auto.conf,
 * Module.symvers; executable scripts/basic/fixdep, scripts/mod/modpost (symlinks
 * followed: Debian ships them in linux-kbuild-X.Y), scripts/genksyms/genksyms with
 * CONFIG_MODVERSIONS, scripts/recordmcount with CONFIG_FTRACE_MCOUNT_USE_RECORDMCOUNT,
 * tools/objtool/objtool with CONFIG_OBJTOOL or CONFIG_STACK_VALIDATION; pahole and
 * tools/bpf/resolve_btfids/resolve_btfids with CONFIG_DEBUG_INFO_BTF_MODULES when
 * build_dir/vmlinux exists; make, ld, as, nm, ar and the compiler (o->cc) in the
 * directories of path_env (NULL: /usr/local/bin:/usr/bin:/bin). o may be NULL.
 * Returns 0 with out->n_problems == 0 when the tree is fine, or -ENOMEM; release
 * *out with dk_preflight_release() in both cases. */
int dk_preflight_check(const char *build_dir, const char *path_env,
		       const struct dk_preflight_opts *o,
		       struct dk_preflight *out) _must_check_;
void dk_preflight_release(struct dk_preflight *p);
