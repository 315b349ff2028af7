/* SPDX-License-Identifier: Apache-2.0 */
/* /etc/os-release of the host (detect, init, select). */
#include "fuzz.h"
#include "host/osrelease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct dk_osrelease osr;
	char *v = NULL;

	if (dk_osrelease_parse(s, &osr) == 0) {
		(void)dk_distro_family_name(osr.family);
		dk_osrelease_free(&osr);
	}
	if (dk_osrelease_unquote(s, size, &v) == 0)
		free(v);
	free(s);
	return 0;
}
