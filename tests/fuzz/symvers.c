/* SPDX-License-Identifier: Apache-2.0 */
/* Module.symvers of the kernel headers (check, build). */
#include "fuzz.h"
#include "kmod/symvers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dk_error *err = NULL;
	struct dk_symvers *sv = NULL;
	int r = dk_symvers_parse("Module.symvers", (const char *)data, size, &sv, &err);

	fuzz_check_error(r, &err);
	if (r == 0) {
		if (dk_symvers_count(sv) && !dk_symvers_find(sv, "printk"))
			(void)dk_symvers_find(sv, "");
		dk_symvers_free(sv);
	}
	return 0;
}
