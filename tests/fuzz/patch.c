/* SPDX-License-Identifier: Apache-2.0 */
/* A source patch (build's patches:), git-style or plain unified diff. */
#include "fuzz.h"
#include "build/patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dk_error *err = NULL;
	struct dk_patch *p = NULL;
	int strip = size ? data[0] % 3 : 1;
	int r = dk_patch_parse("fuzz.patch", (const char *)data, size, strip, &p, &err);

	fuzz_check_error(r, &err);
	if (r == 0)
		dk_patch_free(p);
	return 0;
}
