/* SPDX-License-Identifier: Apache-2.0 */
/* init's status.json as `drvkit status` reads it (the daemons), from a memfd. */
#include "fuzz.h"
#include "init/init.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dk_error *err = NULL;
	struct dk_status_daemons sd = {0};
	int r = dk_status_daemons_read(fuzz_memfd_path(data, size), &sd, &err);

	fuzz_check_error(r, &err);
	if (r == 0)
		dk_status_daemons_release(&sd);
	return 0;
}
