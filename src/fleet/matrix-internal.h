/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "base/error.h"
#include "base/yaml.h"
#include "fleet/matrix.h"

/* The checks of one OS once its mapping is read (rhcos needs ostree_version, dtk
 * headers need a Driver Toolkit, a version or kernel listed twice). */
int dk_mx_check_os(struct dk_yaml_walk *w, const struct dk_mx_os *os) _must_check_;
/* The checks across files; sorts oses and drivers. */
int dk_mx_check_matrix(struct dk_matrix *m, struct dk_error **err) _must_check_;
