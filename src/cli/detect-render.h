/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdio.h>

#include "shared/json-writer.h"

#include "host/detect.h"

/* Aligned "key: value" sections for people. */
void dk_detect_render_text(FILE *f, const struct dk_detect *d);
/* One JSON object into w (schema in `drvkit detect --help`). */
void dk_detect_render_json(struct json_writer *w, const struct dk_detect *d);
