/* SPDX-License-Identifier: Apache-2.0 */
/* A build output's manifest.json (build, init's precompiled source, the store). */
#include "fuzz.h"
#include "build/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dk_error *err = NULL;
	struct dk_manifest *m = NULL;
	int r = dk_manifest_parse("manifest.json", (const char *)data, size, &m, &err);

	fuzz_check_error(r, &err);
	if (r == 0)
		dk_manifest_free(m);
	return 0;
}
