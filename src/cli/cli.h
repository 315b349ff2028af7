/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "base/ctx.h"
#include "base/error.h"

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

/* Options shared by the commands that read a host (getopt_long codes above any char). */
enum {
	DK_OPT_HOST_ROOT = 0x1000,
	DK_OPT_SYSFS,
	DK_OPT_PROCFS,
	DK_OPT_KERNEL,
};
#define DK_OPTION_HOST_ROOT                                            \
	{                                                              \
		"host-root", required_argument, NULL, DK_OPT_HOST_ROOT \
	}
#define DK_OPTION_SYSFS                                        \
	{                                                      \
		"sysfs", required_argument, NULL, DK_OPT_SYSFS \
	}
#define DK_OPTION_PROCFS                                         \
	{                                                        \
		"procfs", required_argument, NULL, DK_OPT_PROCFS \
	}
#define DK_OPTION_KERNEL                                         \
	{                                                        \
		"kernel", required_argument, NULL, DK_OPT_KERNEL \
	}

/* Stores one of the shared host options in ctx; false when c is not one of them. */
bool dk_cli_host_option(struct dk_ctx *ctx, int c, const char *arg);

/* Prints "drvkit <cmd>: <msg>" plus a hint to run --help; returns DK_EXIT_USAGE. */
int dk_usage_error(const char *cmd, const char *fmt, ...) _printf_format_(2, 3);
