/* SPDX-License-Identifier: Apache-2.0 */
/* `drvkit load --params-file`: a YAML mapping of module -> parameters, read from a
 * path (a memfd here), and the "k=v ..." string made of it. */
#include "fuzz.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dk_error *err = NULL;
	struct dk_config_module *mods = NULL;
	size_t n = 0;
	int r = dk_params_load(fuzz_memfd_path(data, size), &mods, &n, &err);

	fuzz_check_error(r, &err);
	if (r == 0) {
		for (size_t i = 0; i < n; i++)
			free(dk_params_string(mods[i].params, mods[i].n_params));
		dk_params_free(mods, n);
	}
	return 0;
}
