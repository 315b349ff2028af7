/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/PID/mountinfo (the storage check, the driver root), and what is asked of it. */
#include "fuzz.h"
#include "host/mountinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct dk_error *err = NULL;
	struct dk_mountinfo mi = {0};
	int r = dk_mountinfo_parse("mountinfo", s, &mi, &err);

	fuzz_check_error(r, &err);
	if (r == 0) {
		for (size_t i = 0; i < mi.n; i++) {
			(void)dk_mount_has_option(&mi.v[i], "proto", "rdma");
			(void)dk_mount_has_option(&mi.v[i], "rdma", NULL);
			(void)dk_mount_is_shared(&mi.v[i]);
		}
		(void)dk_mountinfo_at(&mi, "/");
		(void)dk_mountinfo_holding(&mi, "/run/nvidia/driver");
		(void)dk_mountinfo_count_at(&mi, "/run/nvidia/driver");
		dk_mountinfo_release(&mi);
	}
	free(s);
	return 0;
}
