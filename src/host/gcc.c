/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/spawn.h"
#include "host/gcc.h"
#include "host/kconfig.h"

/* -dumpfullversion answers at once; a compiler that hangs must not hang detect. */
#define VERSION_TIMEOUT_MS 10000

int dk_gcc_version(const char *exe, char **version)
{
	static const char *const env[] = {"LC_ALL=C", "PATH=/usr/bin:/bin", NULL};
	const char *const argv[] = {exe, "-dumpfullversion", NULL};
	struct dk_spawn_opts o = {
		.argv = argv,
		.env = env,
		.out = DK_SPAWN_CAPTURE,
		.err = DK_SPAWN_NULL,
		.capture_max = 255,
		.timeout_ms = VERSION_TIMEOUT_MS,
	};
	struct dk_spawn_result res = {0};
	_cleanup_error_ struct dk_error *e = NULL;
	char *buf;
	int r;

	r = dk_spawn_run(&o, &res, &e);
	if (r < 0 || res.exit_code != 0) {
		dk_spawn_result_release(&res);
		return r < 0 && r != -ETIMEDOUT ? r : -EBADMSG;
	}
	buf = res.out;
	buf[strcspn(buf, "\n")] = '\0';
	dk_strip(buf);
	if (buf[0] == '\0') {
		dk_spawn_result_release(&res);
		return -EBADMSG;
	}
	*version = TAKE_PTR(res.out);
	dk_spawn_result_release(&res);
	return 0;
}

/* "gcc" -> 0, "gcc-12" -> 12, anything else -> -1. */
static long gcc_rank(const char *name)
{
	char *end = NULL;
	long v;

	if (streq(name, "gcc"))
		return 0;
	if (!startswith(name, "gcc-") || name[4] < '0' || name[4] > '9')
		return -1;
	v = strtol(name + 4, &end, 10);
	return *end == '\0' && v > 0 && v < 1000 ? v : -1;
}

static int cmp_gcc(const void *a, const void *b)
{
	const struct dk_gcc *x = a, *y = b;
	long rx = gcc_rank(strrchr(x->path, '/') + 1),
	     ry = gcc_rank(strrchr(y->path, '/') + 1);

	return rx < ry ? -1 : rx > ry;
}

static bool have_name(const struct dk_gcc *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (streq(strrchr(v[i].path, '/') + 1, name))
			return true;
	return false;
}

int dk_gcc_find(const char *path_env, struct dk_gcc **out, size_t *n)
{
	_cleanup_free_ char *dirs = strdup(path_env ? path_env : "/usr/bin:/bin");
	struct dk_gcc *v = NULL;
	size_t count = 0;
	char *save = NULL;

	if (!dirs)
		return -ENOMEM;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_closedir_ DIR *dir = NULL;
		struct dirent *de;

		if (d[0] != '/')
			continue; /* relative PATH entries depend on the cwd: ignore */
		dir = opendir(d);
		if (!dir)
			continue;
		while ((de = readdir(dir))) {
			_cleanup_free_ char *full = NULL;
			struct dk_gcc *nv;
			struct stat st;
			char *ver = NULL;
			int r;

			if (gcc_rank(de->d_name) < 0 || have_name(v, count, de->d_name))
				continue;
			full = dk_path_join(d, de->d_name);
			if (!full) {
				dk_gcc_list_free(v, count);
				return -ENOMEM;
			}
			if (stat(full, &st) < 0 || !S_ISREG(st.st_mode) ||
			    access(full, X_OK) < 0)
				continue;
			nv = realloc(v, (count + 1) * sizeof(*v));
			if (!nv) {
				dk_gcc_list_free(v, count);
				return -ENOMEM;
			}
			v = nv;
			memset(&v[count], 0, sizeof(v[count]));
			v[count].path = TAKE_PTR(full);
			r = dk_gcc_version(v[count].path, &ver);
			if (r == 0)
				v[count].version = ver;
			else
				v[count].error =
					strdup(r == -EBADMSG ? "-dumpfullversion failed"
							     : strerror(-r));
			count++;
		}
	}
	if (count > 1)
		qsort(v, count, sizeof(*v), cmp_gcc);
	*out = v;
	*n = count;
	return 0;
}

void dk_gcc_list_free(struct dk_gcc *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].version);
		free(v[i].error);
	}
	free(v);
}

const struct dk_gcc *dk_gcc_pick(const struct dk_gcc *v, size_t n, long major)
{
	char name[32];

	snprintf(name, sizeof(name), "gcc-%ld", major);
	for (size_t i = 0; i < n; i++)
		if (streq(strrchr(v[i].path, '/') + 1, name))
			return &v[i];
	for (size_t i = 0; i < n; i++)
		if (streq(strrchr(v[i].path, '/') + 1, "gcc"))
			return &v[i];
	return NULL;
}

int dk_gcc_kconfig_version(const char *config, long *version)
{
	_cleanup_free_ char *gv = NULL;
	char *end = NULL;
	long v;
	int r;

	r = dk_kconfig_get(config, "GCC_VERSION", &gv);
	if (r < 0)
		return r;
	errno = 0;
	v = strtol(gv, &end, 10);
	if (errno || end == gv || *end || v <= 0)
		return -ENOENT;
	*version = v;
	return 0;
}
