/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdio.h>

#include "host/detect.h"

/* Aligned "key: value" sections for people. */
void dk_detect_render_text(FILE *f, const struct dk_detect *d);
/* One JSON object (schema in `drvkit detect --help`). Returns 0 or -ENOMEM. */
int dk_detect_render_json(FILE *f, const struct dk_detect *d) _must_check_;
