/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Loaded modules as the kernel shows them: <sysfs>/module/<name>/ and
 * <procfs>/modules. The one reader of both, for detect and the loader. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

/* What the kernel has under a name, from <sysfs>/module/<name>. */
enum dk_loaded {
	DK_LOADED_NO,
	DK_LOADED_LIVE,
	DK_LOADED_COMING,
	DK_LOADED_GOING,
	DK_LOADED_BUILTIN,
};

struct dk_modstate {
	enum dk_loaded state;
	char *srcversion;
	char *version;
	long refcnt;	/* -1 when unknown (no refcnt file: kernel cannot unload) */
	char **holders; /* sorted */
	size_t n_holders;
};

/* Reads <sysfs>/module/<name>: no directory is DK_LOADED_NO, a directory without
 * initstate is built in; then srcversion, version, refcnt and holders/. Returns 0
 * or -ENOMEM (*st is then released). */
int dk_modstate_read(const char *sysfs, const char *name,
		     struct dk_modstate *st) _must_check_;
void dk_modstate_release(struct dk_modstate *st);
const char *dk_loaded_str(enum dk_loaded s);

struct dk_loaded_module {
	char *name;
	unsigned long long size;
	int refcnt; /* -1 when not unloadable/unknown */
	char *state;
	char **holders; /* strv: /proc/modules "used by" + sysfs holders/ */
	char *version;	/* sysfs version, or NULL */
	char *srcversion;
};

struct dk_detect_modules {
	char *source;
	char *reason;
	struct dk_loaded_module *v;
	size_t n;
};

/* Is this loaded module one drivers care about (nvidia*, mlx*, ib_*, rdma_*...)? */
bool dk_detect_module_of_interest(const char *name);
/* The modules of interest in <procfs>/modules, with what <sysfs>/module/<name>
 * adds. An unreadable <procfs>/modules is no error: out->reason says why. Returns
 * 0 or -ENOMEM; free with dk_loaded_modules_free() in both cases. */
int dk_loaded_modules_read(const char *procfs, const char *sysfs,
			   struct dk_detect_modules *out) _must_check_;
void dk_loaded_modules_free(struct dk_detect_modules *m);
