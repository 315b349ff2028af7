/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* SIGTERM/SIGINT during a download or an extraction (drvkit fetch, extract): the
 * handler only records the signal; the fetch loop and the extractor check it between
 * blocks, stop, and remove what they wrote (DEST.part unless --keep-partial, the
 * staging directory), so a stopped command leaves nothing behind. */

#include <stdbool.h>

#include "base/error.h"

/* Installs the handlers (without SA_RESTART, so a blocked read returns EINTR). */
void dk_get_stop_on_signals(void);
/* The signal received since, or 0. */
int dk_get_stop_signal(void);
/* When a signal was received: sets *err ("what: stopped by SIGTERM", EINTR) and
 * returns -EINTR; else 0. */
int dk_get_check_stop(const char *what, struct dk_error **err) _must_check_;
