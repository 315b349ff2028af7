/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"

int dk_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "drvkit %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'drvkit %s --help'.\n", cmd);
	return DK_EXIT_USAGE;
}

bool dk_cli_host_option(struct dk_ctx *ctx, int c, const char *arg)
{
	switch (c) {
	case DK_OPT_HOST_ROOT:
		ctx->host_root = arg;
		return true;
	case DK_OPT_SYSFS:
		ctx->sysfs = arg;
		return true;
	case DK_OPT_PROCFS:
		ctx->procfs = arg;
		return true;
	case DK_OPT_KERNEL:
		ctx->kernel = arg;
		return true;
	default:
		return false;
	}
}
