/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "host/hostfs.h"

char *dk_host_sysfs(const struct dk_ctx *ctx)
{
	return ctx->sysfs ? strdup(ctx->sysfs) : dk_path_join(ctx->host_root, "sys");
}

char *dk_host_procfs(const struct dk_ctx *ctx)
{
	return ctx->procfs ? strdup(ctx->procfs) : dk_path_join(ctx->host_root, "proc");
}
