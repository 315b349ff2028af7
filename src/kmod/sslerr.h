/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "shared/macro.h"

#include <openssl/x509.h>

#include "base/error.h"

/* OpenSSL glue shared by keys.c, sign.c and modsig.c. */

/* dk_error_set() plus " (<reason>)", the text of OpenSSL's earliest queued error
 * (copied with ERR_error_string_n), then clears this thread's OpenSSL error queue. */
int dk_ssl_error(struct dk_error **err, int errnum, const char *fmt, ...)
	_printf_format_(3, 4);
/* The same text as a malloc'd string ("what (<reason>)"), for results that carry a
 * detail instead of an error; clears the queue. NULL on OOM. */
char *dk_ssl_detail(const char *what);
/* The first commonName of name, malloc'd; NULL when there is none (or on OOM). */
char *dk_ssl_name_cn(const X509_NAME *name);
