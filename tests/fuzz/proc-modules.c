/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/modules (detect, init's view of what is loaded). */
#include "fuzz.h"
#include "host/kparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct dk_proc_module *m = NULL;
	size_t n = 0;

	if (dk_proc_modules_parse(s, &m, &n) == 0)
		dk_proc_modules_free(m, n);
	free(s);
	return 0;
}
