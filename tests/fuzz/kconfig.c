/* SPDX-License-Identifier: Apache-2.0 */
/* A kernel .config (detect, check's vermagic, preflight). */
#include <stdbool.h>
#include "fuzz.h"
#include "host/kconfig.h"
#include "kmod/check.h"

static const char *const syms[] = {
	"MODULES",
	"MODULE_SIG",
	"MODULE_SIG_FORCE",
	"LOCALVERSION",
	"SMP",
	"PREEMPT",
	"MODVERSIONS",
	"MODULE_UNLOAD",
	"CC_VERSION_TEXT",
	"X86_64",
	"ARM64",
	"RANDSTRUCT",
	"",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	bool absent, exact;
	unsigned machine;
	size_t len;
	char *v;

	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		const char *p = dk_kconfig_find(s, syms[i], &len);

		if (p && (p < s || p + len > s + size))
			abort();
		v = NULL;
		if (dk_kconfig_get(s, syms[i], &v) == 0)
			free(v);
		(void)dk_kconfig_enabled(s, syms[i], &absent);
	}
	v = dk_vermagic_compute("6.1.0-18-amd64", s, NULL, &exact, &machine);
	free(v);
	v = dk_vermagic_compute("6.1.0-18-arm64", s, "0123abcd", &exact, &machine);
	free(v);
	free(s);
	return 0;
}
