/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "shared/macro.h"

/* A C compiler found on PATH. */
struct dk_gcc {
	char *path;    /* e.g. /usr/bin/gcc-12 */
	char *version; /* `-dumpfullversion` output, NULL when it could not be run */
	char *error;   /* why version is NULL */
};

/* Runs `exe -dumpfullversion` (dk_spawn_run: argv, no shell, a fixed environment).
 * Returns 0, or -errno
 * (-EBADMSG when it exits non-zero or prints nothing). */
int dk_gcc_version(const char *exe, char **version) _must_check_;

/* Lists "gcc" and "gcc-N" executables in the directories of `path_env` (the
 * first of each name wins), "gcc" first, then by N, each with its version.
 * Returns 0 or -ENOMEM; *n may be 0. */
int dk_gcc_find(const char *path_env, struct dk_gcc **out, size_t *n) _must_check_;
void dk_gcc_list_free(struct dk_gcc *v, size_t n);

/* The gcc-MAJOR of v (dk_gcc_find()'s list), else its "gcc" whatever its version;
 * NULL when v has neither. The caller compares versions. */
const struct dk_gcc *dk_gcc_pick(const struct dk_gcc *v, size_t n, long major);

/* CONFIG_GCC_VERSION of Kconfig text (120200 for gcc 12.2.0). Returns 0; -ENOENT
 * when absent, not a number or 0 (a kernel built with clang); -ENOMEM. */
int dk_gcc_kconfig_version(const char *config, long *version) _must_check_;
