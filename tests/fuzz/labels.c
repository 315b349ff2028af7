/* SPDX-License-Identifier: Apache-2.0 */
/* A node's labels (NFD labels, a Node object, a plain map) for `drvkit select`. */
#include "fuzz.h"
#include "fleet/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dk_error *err = NULL;
	struct dk_node_facts f = {0};
	int r = dk_labels_parse("labels.yaml", (const char *)data, size, &f, &err);

	fuzz_check_error(r, &err);
	if (r == 0) {
		r = dk_node_facts_check(&f, false, &err);
		fuzz_check_error(r, &err);
		if (f.kernel)
			(void)dk_label_arch_from_kernel(f.kernel);
	}
	dk_node_facts_release(&f);
	return 0;
}
