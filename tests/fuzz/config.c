/* SPDX-License-Identifier: Apache-2.0 */
/* drvkit's YAML config (init, build, fleet's --config) from memory, through the one
 * YAML reader (base/yaml). */
#include "fuzz.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dk_error *err = NULL;
	struct dk_config *cfg = NULL;
	int r = dk_config_parse("config.yaml", (const char *)data, size, &cfg, &err);

	fuzz_check_error(r, &err);
	if (r == 0)
		dk_config_free(cfg);
	return 0;
}
