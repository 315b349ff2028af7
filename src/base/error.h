/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "shared/macro.h"

/* An error: a real errno for callers to test, plus a message chain
 * ("outer: inner: cause") for people. Only main() prints it. */
struct dk_error {
	int errnum;
	char *msg;
	const char *hint; /* what to do about it (static text) or NULL: set where the
			     cause is known, printed once by main() as "hint: ..." */
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
/* Attaches a hint (static text, NULL for none) to *err; returns -errnum. */
int dk_error_set_hint(struct dk_error **err, const char *hint);

/* The one errno -> hint table (the fix a user most likely needs), for the commands
 * that load modules. dk_error_hint(): errors whatever their source (a damaged file,
 * a module built for another kernel, missing privileges). dk_error_kernel_hint():
 * the kernel's answer to inserting or removing a module, where an errno means more
 * (ENOENT: unknown symbol); it includes dk_error_hint(). NULL when there is nothing
 * useful to say. */
const char *dk_error_hint(int errnum);
const char *dk_error_kernel_hint(int errnum);
/* The hint to print with err: its own, else in module context (load, unload, init)
 * dk_error_hint() of its errno. */
const char *dk_error_hint_of(const struct dk_error *err, int errnum, bool module_context);

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
