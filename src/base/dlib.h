/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"

/* Libraries loaded on first use instead of at exec.
 *
 * libcurl and libarchive pull in some 35 more shared objects (nghttp2, krb5, ldap,
 * xml2, zstd...) whose loading and symbol relocation cost every command, `drvkit init`
 * included, several milliseconds at start (tens under emulation). Only fetch, extract,
 * headers and the /proc/config.gz reader need them, so they dlopen() the library the
 * first time (curl-dl.h, archive-dl.h) and call it through dk_sym_* pointers declared
 * with the type of the real function, so the headers still check every call.
 *
 * A library that is not installed fails with ELIBACC (exit code 6) and names the
 * package to install. */

struct dk_dlib_sym {
	const char *name;
	void **fn; /* where to store the address */
};

struct dk_dlib {
	const char *soname;   /* e.g. "libcurl.so.4" */
	const char *test_env; /* env var naming another library to load instead (tests) */
	const char *packages; /* "libcurl4 (Debian) / libcurl (RHEL)" */
	const struct dk_dlib_sym *syms;
	size_t n_syms;
	/* the outcome of the first try, under lock; later calls repeat it */
	pthread_mutex_t lock;
	bool tried;
	struct dk_error *failure;
};

#define DK_DLIB_INIT(so, env, pkgs, symtab)                                              \
	{                                                                                \
		.soname = (so), .test_env = (env), .packages = (pkgs), .syms = (symtab), \
		.n_syms = ARRAY_SIZE(symtab), .lock = PTHREAD_MUTEX_INITIALIZER,         \
	}

/* The first call opens lib->soname with RTLD_NOW | RTLD_LOCAL and sets every dk_sym_*
 * pointer, or none of them; later calls (any thread) return the same outcome. The
 * handle is kept for the life of the process on purpose (the pointers point into it):
 * it is never closed, and is not a leak. Returns 0 or -ELIBACC with *err set. */
int dk_dlib_load(struct dk_dlib *lib, struct dk_error **err) _must_check_;

/* Declares `dk_sym_NAME`, a pointer of the type of the library's NAME(). */
#define DK_DLSYM_DECLARE(name) extern __typeof__(name) *dk_sym_##name
#define DK_DLSYM_DEFINE(name) __typeof__(name) *dk_sym_##name
#define DK_DLSYM_ENTRY(name)                   \
	{                                      \
#name, (void **)&dk_sym_##name \
	}
