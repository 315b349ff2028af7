/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The kernel's build configuration (Kconfig text, ".config"): where to find it on
 * a host and how to look options up in it. Named dk_kconfig_* so that it never
 * reads as drvkit's own YAML config (init/config.h, dk_config_*). */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/ctx.h"

/* Value of CONFIG_<name> in Kconfig text as written ("y", "m", "\"str\"", ...), or
 * NULL ("# CONFIG_X is not set" is NULL too). The returned pointer runs to the end
 * of the line; *len (if not NULL) is its length. No allocation: for callers testing
 * many options. */
const char *dk_kconfig_find(const char *config, const char *name, size_t *len);

/* Looks up CONFIG_<sym> in Kconfig text. *value is "y", "m", a number, the
 * unquoted string, or "n" for "# CONFIG_X is not set". Returns 0, -ENOENT,
 * -ENOMEM. `sym` excludes the CONFIG_ prefix. */
int dk_kconfig_get(const char *buf, const char *sym, char **value) _must_check_;

/* 1 when CONFIG_<sym> is y or m, 0 when it is "not set" or absent (*absent tells
 * which, may be NULL), -ENOMEM. */
int dk_kconfig_enabled(const char *buf, const char *sym, bool *absent) _must_check_;

/* More places for the kernel config than the host's own (detect passes the
 * kernel headers' .config files). */
struct dk_kconfig_more {
	const char *const *configs; /* tried in order after /boot/config-KVER */
	size_t n_configs;
	const char *note; /* added to the failure text after them, or NULL */
};

/* Reads the config kver was built with: <host_root>/boot/config-KVER (symlinks
 * resolved inside the host root; skipped when kver is NULL), then more->configs
 * (more may be NULL), then <procfs>/config.gz (decompressed with libarchive, which
 * is loaded only then). Returns 0 with *path and *text set; -ENOMEM; or another
 * -errno when none can be read, with *why saying what each try met
 * ("<path>: <error>; ..."). */
int dk_kconfig_read(const struct dk_ctx *ctx, const char *kver,
		    const struct dk_kconfig_more *more, char **path, char **text,
		    char **why) _must_check_;
