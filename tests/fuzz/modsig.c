/* SPDX-License-Identifier: Apache-2.0 */
/* The signature trailer (struct module_signature + marker) and the PKCS#7 DER blob it
 * points at, as verify/unsign/modinfo read them; also the DER alone. */
#include "fuzz.h"
#include "kmod/modsig.h"
#include "kmod/sign.h"

static void describe(const void *der, size_t len)
{
	struct dk_error *err = NULL;
	struct dk_modsig_info info;
	int r = dk_modsig_describe(der, len, &info, &err);

	fuzz_check_error(r, &err);
	if (r == 0)
		dk_modsig_info_clear(&info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dk_error *err = NULL;
	struct dk_modsig sig;
	size_t module_len;
	int r;

	r = dk_modsig_locate(data, size, &sig, &err);
	fuzz_check_error(r, &err);
	r = dk_modsig_locate_strict(data, size, &sig, &err);
	fuzz_check_error(r, &err);
	if (r == 1) {
		if (sig.module_len > size || sig.sig_len > size - sig.module_len)
			abort();
		describe(data + sig.module_len, sig.sig_len);
	} else {
		describe(data, size);
	}
	r = dk_unsign_buffer(data, size, &module_len, &err);
	fuzz_check_error(r, &err);
	if (r >= 0 && module_len > size)
		abort();
	return 0;
}
