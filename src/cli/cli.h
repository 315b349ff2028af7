/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "base/ctx.h"
#include "base/error.h"
#include "cli/opts.h"

/* A subcommand: parses its own argv (argv[0] is the command name), calls the
 * core, renders. Returns an exit code >= 0, or -errno with *err set, which
 * main() prints and maps to an exit code. */
struct dk_cmd {
	const char *name;
	const char *summary;
	int (*run)(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err);
	bool module_hints; /* main() adds the errno hint of dk_error_hint() to failures */
};

extern const struct dk_cmd dk_cmd_detect;
extern const struct dk_cmd dk_cmd_modinfo;
extern const struct dk_cmd dk_cmd_check;
extern const struct dk_cmd dk_cmd_sign, dk_cmd_verify, dk_cmd_unsign;
extern const struct dk_cmd dk_cmd_fetch;
extern const struct dk_cmd dk_cmd_extract, dk_cmd_headers;
extern const struct dk_cmd dk_cmd_load, dk_cmd_unload, dk_cmd_status, dk_cmd_init;
extern const struct dk_cmd dk_cmd_build, dk_cmd_cache;
extern const struct dk_cmd dk_cmd_matrix;
extern const struct dk_cmd dk_cmd_select, dk_cmd_daemonsets;
