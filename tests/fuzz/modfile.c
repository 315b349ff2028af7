/* SPDX-License-Identifier: Apache-2.0 */
/* A module file (.ko) from memory: the ELF sections, .modinfo, __versions, the
 * symbols, the appended signature and its PKCS#7 blob, as modinfo/check/init read
 * them. */
#include "fuzz.h"
#include "kmod/modfile.h"
#include "kmod/sign.h"

static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dk_error *err = NULL;
	struct dk_modfile *f = NULL;
	int r = dk_modfile_open_mem("fuzz.ko", data, size, &f, &err);

	fuzz_check_error(r, &err);
	if (r == 0) {
		const struct dk_modinfo_entry *mi;
		const struct dk_modversion *v;
		const struct dk_modfile_import *imp;
		const struct dk_modfile_export *exp;
		struct dk_modsig_info info;
		size_t n;

		n = dk_modfile_modinfo(f, &mi);
		for (size_t i = 0; i < n; i++)
			sink += strlen(mi[i].key) + strlen(mi[i].value);
		n = dk_modfile_versions(f, &v);
		for (size_t i = 0; i < n; i++)
			sink += strlen(v[i].name) + v[i].crc;
		n = dk_modfile_imports(f, &imp);
		for (size_t i = 0; i < n; i++)
			sink += strlen(imp[i].name);
		n = dk_modfile_exports(f, &exp);
		for (size_t i = 0; i < n; i++)
			sink += strlen(exp[i].name) + exp[i].crc;
		for (size_t i = 0; i < f->n_depends; i++)
			sink += strlen(f->depends[i]);
		sink += strlen(dk_modfile_name(f)) + dk_modfile_machine(f);
		if (dk_modfile_modinfo_get(f, "vermagic"))
			sink++;
		r = dk_modfile_signature_info(f, &info, &err);
		fuzz_check_error(r, &err);
		if (r == 0)
			dk_modsig_info_clear(&info);
		dk_modfile_free(f);
	}
	/* unsign and verify read the trailer of any bytes, ELF or not. */
	size_t module_len;
	r = dk_unsign_buffer(data, size, &module_len, &err);
	fuzz_check_error(r, &err);
	if (r >= 0 && module_len > size)
		abort();
	return 0;
}
