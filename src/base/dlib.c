/* SPDX-License-Identifier: Apache-2.0 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"

#include "base/dlib.h"

/* The override only chooses which library name is searched for in the standard
 * places (never a path: no '/'), only when set, and never in a setuid run. */
static const char *soname_for(const struct dk_dlib *lib)
{
	const char *v = lib->test_env ? secure_getenv(lib->test_env) : NULL;

	if (v && *v && !strchr(v, '/'))
		return v;
	return lib->soname;
}

static int open_lib(const struct dk_dlib *lib, struct dk_error **err)
{
	_cleanup_free_ void **addr = calloc(lib->n_syms, sizeof(*addr));
	const char *soname = soname_for(lib);
	void *h;

	if (!addr)
		return dk_error_set(err, ENOMEM, "out of memory");
	/* RTLD_LOCAL: its symbols stay out of the global namespace, so they cannot
	 * interpose on anything loaded later. */
	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return dk_error_set(err, ELIBACC, "%s not found: install %s", soname,
				    lib->packages);
	for (size_t i = 0; i < lib->n_syms; i++) {
		addr[i] = dlsym(h, lib->syms[i].name);
		if (!addr[i]) {
			dlclose(h);
			return dk_error_set(
				err, ELIBACC,
				"%s has no %s (too old): install a current %s", soname,
				lib->syms[i].name, lib->packages);
		}
	}
	for (size_t i = 0; i < lib->n_syms; i++)
		*lib->syms[i].fn = addr[i];
	/* h stays open for the life of the process (see dlib.h). */
	return 0;
}

int dk_dlib_load(struct dk_dlib *lib, struct dk_error **err)
{
	int r = 0;

	pthread_mutex_lock(&lib->lock);
	if (!lib->tried) {
		lib->tried = true;
		(void)open_lib(lib, &lib->failure);
	}
	if (lib->failure)
		r = dk_error_set(err, lib->failure->errnum, "%s", lib->failure->msg);
	pthread_mutex_unlock(&lib->lock);
	return r;
}
