/* SPDX-License-Identifier: Apache-2.0 */
/* The Driver Toolkit's /etc/driver-toolkit-release.json (detect on OpenShift). */
#include "fuzz.h"
#include "host/kparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct dk_error *err = NULL;
	struct dk_dtk_release dtk;
	int r = dk_dtk_parse(s, &dtk, &err);

	fuzz_check_error(r, &err);
	if (r == 0)
		dk_dtk_release_free(&dtk);
	free(s);
	return 0;
}
