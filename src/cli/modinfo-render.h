/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdio.h>

#include "shared/json-writer.h"

#include "base/error.h"
#include "kmod/modfile.h"

/* Renders one module as drvkit modinfo shows it: with w NULL, kmod modinfo's text
 * to f (only FIELD's values when field is not NULL); else one JSON object into w.
 * filename is what the output calls the file (an absolute path, as kmod prints).
 * Returns 0 or -ENOMEM. */
int dk_modinfo_render(FILE *f, struct json_writer *w, const struct dk_modfile *mod,
		      const char *filename, const char *field,
		      struct dk_error **err) _must_check_;
