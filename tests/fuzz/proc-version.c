/* SPDX-License-Identifier: Apache-2.0 */
/* The small kernel text files detect reads: /proc/version, the lockdown file,
 * /proc/driver/nvidia/version and utsrelease.h. */
#include "fuzz.h"
#include "host/kparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct dk_cc_info cc;
	struct dk_nvidia_version nv;
	char *v = NULL;

	if (dk_proc_version_cc_parse(s, &cc) == 0)
		dk_cc_info_free(&cc);
	if (dk_lockdown_parse(s, &v) == 0)
		free(v);
	v = NULL;
	if (dk_nvidia_version_parse(s, &nv) == 0)
		dk_nvidia_version_free(&nv);
	if (dk_utsrelease_parse(s, &v) == 0)
		free(v);
	free(s);
	return 0;
}
