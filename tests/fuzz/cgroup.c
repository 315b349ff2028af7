/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/PID/cgroup: the pod UID and container ID of a process holding a device. */
#include "fuzz.h"
#include "host/procs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	char *pod = NULL, *ctr = NULL;

	if (dk_cgroup_kube(s, &pod, &ctr) >= 0) {
		free(pod);
		free(ctr);
	}
	free(s);
	return 0;
}
