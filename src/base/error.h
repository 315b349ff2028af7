/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "shared/macro.h"

/* An error: a real errno for callers to test, plus a message chain
 * ("outer: inner: cause") for people. Only main() prints it. */
struct dk_error {
	int errnum;
	char *msg;
};

/* Creates *err (errnum > 0). Returns -errnum so callers can `return dk_error_set(...)`.
 */
int dk_error_set(struct dk_error **err, int errnum, const char *fmt, ...)
	_printf_format_(3, 4);
/* Prefixes context to an existing error; returns -errnum. */
int dk_error_wrap(struct dk_error **err, const char *fmt, ...) _printf_format_(2, 3);
/* Adds facts after the message (e.g. what a rollback did); returns -errnum. */
int dk_error_append(struct dk_error **err, const char *fmt, ...) _printf_format_(2, 3);
void dk_error_free(struct dk_error **err);
/* Short likely-fix hint for an errno in module context, or NULL. */
const char *dk_error_hint(int errnum);

#define _cleanup_error_ __attribute__((cleanup(dk_error_free)))

/* Exit codes (documented in README). */
enum {
	DK_EXIT_OK = 0,
	DK_EXIT_FAILURE = 1,  /* the answer is "no" (does not fit, does not verify) or an
				 operation failed */
	DK_EXIT_USAGE = 2,    /* bad command line */
	DK_EXIT_BADINPUT = 3, /* an input file is not what it should be (not ELF,
				 truncated, bad config) */
	DK_EXIT_NOTFOUND = 4, /* a needed file or directory does not exist */
	DK_EXIT_PERM = 5,     /* permission denied */
	DK_EXIT_NOLIB = 6,    /* a library loaded on demand (libcurl, libarchive) is not
				 installed (ELIBACC) */
};

int dk_exit_code_for(int errnum);
