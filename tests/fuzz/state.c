/* SPDX-License-Identifier: Apache-2.0 */
/* init's state file (<state_dir>/state.json), read from a path (a memfd here). */
#include "fuzz.h"
#include "init/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dk_error *err = NULL;
	struct dk_state st;
	int r = dk_state_read(fuzz_memfd_path(data, size), &st, &err);

	fuzz_check_error(r, &err);
	if (r == 0)
		dk_state_release(&st);
	return 0;
}
