/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel's trusted keys: /proc/keys text, and the MOK list (EFI signature lists,
 * with and without efivarfs' attributes) with each X.509 entry's ids (preflight). */
#include "fuzz.h"
#include "host/keyrings.h"
#include "kmod/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct dk_proc_keys keys = {0};
	struct dk_efi_cert *certs = NULL;
	size_t n_other = 0;
	int n;

	if (dk_proc_keys_parse(s, &keys) == 0)
		(void)keys.n;
	dk_proc_keys_release(&keys);
	free(s);
	for (int attrs = 0; attrs < 2; attrs++) {
		n = dk_efi_siglist_parse(data, size, attrs, &certs, &n_other);
		for (int i = 0; i < n; i++) {
			struct dk_cert_ids ids;

			if (dk_cert_ids_der(certs[i].der, certs[i].len, &ids) == 0)
				dk_cert_ids_release(&ids);
		}
		free(certs);
		certs = NULL;
	}
	return 0;
}
