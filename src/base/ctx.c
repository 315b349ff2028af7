/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "base/ctx.h"

void dk_ctx_init(struct dk_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->host_root = "/";
}
