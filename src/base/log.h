/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "shared/macro.h"

enum dk_log_level { DK_LOG_ERROR, DK_LOG_WARN, DK_LOG_INFO, DK_LOG_DEBUG };

/* Set once by main() before any work; the only process-wide settings. */
void dk_log_setup(enum dk_log_level level, bool json, const char *cmd);
int dk_log_level_parse(const char *s, enum dk_log_level *out);
bool dk_log_enabled(enum dk_log_level level);
void dk_log(enum dk_log_level level, int errnum, const char *fmt, ...)
	_printf_format_(3, 4);

/* A transient status line (download progress) on stderr, drawn in place as
 * "\r\033[K" + text; NULL erases it. dk_log() erases a shown line before it writes,
 * so messages never land in the middle of it. Core code draws progress only through
 * this, never on fd 2 itself. */
void dk_log_progress(const char *text);
/* Whether stderr is a terminal (where progress is shown by default). */
bool dk_log_is_tty(void);

#define dk_err(...) dk_log(DK_LOG_ERROR, 0, __VA_ARGS__)
#define dk_warn(...) dk_log(DK_LOG_WARN, 0, __VA_ARGS__)
#define dk_info(...) dk_log(DK_LOG_INFO, 0, __VA_ARGS__)
#define dk_debug(...) dk_log(DK_LOG_DEBUG, 0, __VA_ARGS__)
