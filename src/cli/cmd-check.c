/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "cli.h"

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	return dk_error_set(err, ENOSYS, "not implemented yet");
}

const struct dk_cmd dk_cmd_check = {"check", "(not yet)", run};
