/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "base/log.h"

/* Everything core code needs to know about where it runs. Tests point the
 * roots at fixture directories instead of the real /. */
struct dk_ctx {
	const char *host_root; /* "/" or a mounted host filesystem, e.g. /host */
	const char *sysfs;     /* default <host_root>/sys */
	const char
		*procfs; /* default /proc: in a container with hostPID it is the host's */
	const char *kernel; /* override of uname -r */
	int jobs;	    /* parallelism for batch operations (0 = cores) */
};

void dk_ctx_init(struct dk_ctx *ctx);
