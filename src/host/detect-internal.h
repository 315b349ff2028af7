/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared by the detect-*.c files only. */

#include <stdbool.h>

#include "shared/macro.h"

#include "host/detect.h"

/* State of one detection run. Allocation failures latch `oom`; the run then
 * fails with ENOMEM at the end, and every helper tolerates NULL strings. */
struct dk_det {
	const struct dk_ctx *ctx;
	const char *host;
	char *sysfs;
	char *procfs;
	bool oom;
};

/* printf into a new string; NULL (and d->oom) on OOM. */
char *dk_det_fmt(struct dk_det *d, const char *fmt, ...) _printf_format_(2, 3);
/* strdup that latches OOM; NULL in, NULL out. */
char *dk_det_strdup(struct dk_det *d, const char *s);
/* "<path>: <strerror(errnum)>" */
char *dk_det_errtext(struct dk_det *d, const char *path, int errnum);
/* dk_read_file that tolerates a NULL path (-ENOMEM) and latches OOM. */
int dk_det_read(struct dk_det *d, const char *path, char **buf, size_t *len);
/* First line, trimmed. */
int dk_det_read_line(struct dk_det *d, const char *path, char **line);

void dk_detect_pci(struct dk_det *d, struct dk_detect_devices *out);
void dk_detect_loaded_modules(struct dk_det *d, struct dk_detect_modules *out);
