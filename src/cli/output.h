/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "shared/json-writer.h"
#include "shared/macro.h"

#include "base/error.h"

/* A command's results on stdout: text lines as they come, or with --json one JSON
 * document built while the command runs and printed at its end. */
struct dk_output {
	bool json;  /* --json */
	bool begun; /* w holds a document */
	struct json_writer w;
};

/* Starts the document: the writer to put the result into (pretty-printed), or NULL
 * for text, which the caller prints itself. */
struct json_writer *dk_output_begin(struct dk_output *o);
/* Prints the document and a newline on stdout (nothing for text). Returns 0, or
 * -ENOMEM when the document could not be built. */
int dk_output_end(struct dk_output *o, struct dk_error **err) _must_check_;
/* Drops a document that was not printed (a failed command prints no result). */
void dk_output_release(struct dk_output *o);
