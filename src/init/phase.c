/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>

#include "shared/macro.h"

#include "init/phase.h"

static const char *const phases[] = {
	[DK_PHASE_LOCK] = "lock",	  [DK_PHASE_DETECT] = "detect",
	[DK_PHASE_GET] = "get",		  [DK_PHASE_PLAN] = "plan",
	[DK_PHASE_CHECK] = "check",	  [DK_PHASE_SIGN] = "sign",
	[DK_PHASE_REPLACE] = "replace",	  [DK_PHASE_LOAD] = "load",
	[DK_PHASE_FIRMWARE] = "firmware", [DK_PHASE_STATE] = "state",
	[DK_PHASE_DAEMONS] = "daemons",	  [DK_PHASE_READY] = "ready",
	[DK_PHASE_WAIT] = "wait",	  [DK_PHASE_STOP] = "stop",
	[DK_PHASE_RESTORE] = "restore",	  [DK_PHASE_ROLLBACK] = "rollback",
};

const char *dk_phase_name(enum dk_phase p)
{
	return (size_t)p < ARRAY_SIZE(phases) && phases[p] ? phases[p] : "?";
}
