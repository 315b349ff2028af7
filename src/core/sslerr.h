/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "shared/macro.h"

#include "core/error.h"

/* dk_error_set() plus the text of OpenSSL's earliest queued error (copied with
 * ERR_error_string_n), then clears this thread's OpenSSL error queue. */
int dk_ssl_error(struct dk_error **err, int errnum, const char *fmt, ...)
	_printf_format_(3, 4);
