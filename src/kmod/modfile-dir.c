/* SPDX-License-Identifier: Apache-2.0 */
/* The modules of a directory: every *.ko, in name order, through dk_modfile_open. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "kmod/loader.h"
#include "kmod/modfile.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.ko names of dir, sorted. */
static int list_ko(const char *dir, char ***names, size_t *n, struct dk_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return dk_error_set(err, errno, "open directory %s: %s", dir,
				    strerror(errno));
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l <= 3 || !streq(de->d_name + l - 3, ".ko"))
			continue;
		if (dk_strv_push(names, n, de->d_name) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
	}
	if (*n == 0)
		return dk_error_set(err, ENOENT, "no .ko files in %s", dir);
	qsort(*names, *n, sizeof(char *), cmp_str);
	return 0;
}

int dk_modfile_open_dir(const char *dir, struct dk_modfile ***files, size_t *n,
			struct dk_error **err)
{
	char **names = NULL;
	size_t nn = 0;
	int r;

	r = list_ko(dir, &names, &nn, err);
	for (size_t i = 0; i < nn && r >= 0; i++) {
		_cleanup_free_ char *p = dk_path_join(dir, names[i]);
		struct dk_modfile **nf;

		if (!p) {
			r = dk_error_set(err, ENOMEM, "out of memory");
			break;
		}
		nf = realloc(*files, (*n + 1) * sizeof(*nf));
		if (!nf) {
			r = dk_error_set(err, ENOMEM, "out of memory");
			break;
		}
		*files = nf;
		r = dk_modfile_open(p, &nf[*n], err);
		if (r >= 0)
			(*n)++;
	}
	dk_names_free(names, nn);
	return r < 0 ? r : 0;
}
