/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Pure parsers for the small kernel and driver text formats `detect` reads:
 * /proc/version, /proc/modules, the lockdown file, /proc/driver/nvidia/version,
 * utsrelease.h and the Driver Toolkit release JSON. They take a buffer and never
 * touch the filesystem. Kconfig text: host/kconfig.h. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"

/* NULL-terminated string vector. */
void dk_strv_free(char **v);
size_t dk_strv_len(char *const *v);
/* Appends a copy of s unless already present. Returns 0 or -ENOMEM. */
int dk_strv_add_unique(char ***v, const char *s) _must_check_;

/* The compiler that built the kernel, from the /proc/version line. */
struct dk_cc_info {
	char *name;    /* "gcc" or "clang" */
	char *version; /* e.g. "12.2.0" */
	char *text;    /* e.g. "gcc (Debian 12.2.0-14) 12.2.0" */
};
/* Returns 0, -ENODATA when no compiler is named, -ENOMEM. */
int dk_proc_version_cc_parse(const char *buf, struct dk_cc_info *out) _must_check_;
void dk_cc_info_free(struct dk_cc_info *cc);

/* "none [integrity] confidentiality" -> "integrity". Returns 0, -EBADMSG, -ENOMEM. */
int dk_lockdown_parse(const char *buf, char **mode) _must_check_;

enum dk_nvidia_flavour {
	DK_NVIDIA_UNKNOWN,
	DK_NVIDIA_OPEN,
	DK_NVIDIA_PROPRIETARY,
};
struct dk_nvidia_version {
	enum dk_nvidia_flavour flavour;
	char *version; /* e.g. "550.54.14" */
	char *gcc;     /* the "GCC version:" line's text, or NULL */
};
/* Parses /proc/driver/nvidia/version. Returns 0, -EBADMSG, -ENOMEM. */
int dk_nvidia_version_parse(const char *buf, struct dk_nvidia_version *out) _must_check_;
void dk_nvidia_version_free(struct dk_nvidia_version *nv);
const char *dk_nvidia_flavour_name(enum dk_nvidia_flavour f);

/* /etc/driver-toolkit-release.json: a flat JSON object of strings. */
struct dk_dtk_release {
	char *kernel_version;
	char *rt_kernel_version;
	char *rhel_version;
};
/* Returns 0 or -EBADMSG (with *err saying where) or -ENOMEM. Unknown keys and
 * non-string values of unknown keys are ignored. */
int dk_dtk_parse(const char *buf, struct dk_dtk_release *out,
		 struct dk_error **err) _must_check_;
void dk_dtk_release_free(struct dk_dtk_release *dtk);

/* One line of /proc/modules. */
struct dk_proc_module {
	char *name;
	unsigned long long size;
	int refcnt;	/* -1 when the kernel prints '-' */
	char **used_by; /* strv, never NULL after a successful parse */
	char *state;	/* Live, Loading, Unloading */
};
/* Parses all of /proc/modules; malformed lines are skipped. Returns 0 or -ENOMEM. */
int dk_proc_modules_parse(const char *buf, struct dk_proc_module **out,
			  size_t *n) _must_check_;
void dk_proc_modules_free(struct dk_proc_module *m, size_t n);

/* The string of `#define NAME "value"` in C header text (the first such line;
 * the value ends at the closing quote or the line's end). 0, -ENOENT, -ENOMEM. */
int dk_define_string_get(const char *buf, const char *name, char **value) _must_check_;

/* UTS_RELEASE from include/generated/utsrelease.h text. 0, -ENOENT, -ENOMEM. */
int dk_utsrelease_parse(const char *buf, char **release) _must_check_;
