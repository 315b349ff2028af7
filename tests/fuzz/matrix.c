/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel matrix (matrix, select, daemonsets): up to four YAML files, the input cut
 * at NUL bytes, loaded as a directory; what loads is then expanded into jobs and
 * rendered as CI matrices and DaemonSets, as `drvkit matrix` / `daemonsets` do. */
#include <stdbool.h>
#include <sys/stat.h>
#include "fuzz.h"
#include "fleet/daemonsets.h"
#include "fleet/jobs.h"
#include "fleet/matrix.h"
#include "shared/strbuf.h"

#define MAX_FILES 4

static void render(const struct dk_matrix *m)
{
	struct dk_jobs_filter filter = {0};
	struct dk_jobs_k8s k8s = {.context = "git://example.com/drvkit"};
	struct dk_ds_opts ds = {.registry = "registry.example.com/drivers"};
	struct dk_error *err = NULL;
	struct dk_jobs *jobs = NULL;
	struct strbuf out;
	char *text = NULL;
	int r = dk_jobs_expand(m, "registry.example.com", &filter, &jobs, &err);

	fuzz_check_error(r, &err);
	if (r == 0) {
		for (int f = DK_JOBS_JSON; f <= DK_JOBS_K8S; f++) {
			r = dk_jobs_render(jobs, f, &k8s, &text, &err);
			fuzz_check_error(r, &err);
			free(text);
			text = NULL;
		}
		dk_jobs_free(jobs);
	}
	strbuf_init(&out);
	r = dk_daemonsets_render(m, &ds, &out, &err);
	fuzz_check_error(r, &err);
	strbuf_release(&out);
}

static const char *file_path(const char *dir, int i)
{
	static char path[320];

	snprintf(path, sizeof(path), "%s/%d.yaml", dir, i);
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[300];
	struct dk_error *err = NULL;
	struct dk_matrix *m = NULL;
	size_t off = 0;
	int i, r;

	if (!dir[0]) {
		char link[320];

		snprintf(dir, sizeof(dir), "%s/matrix", fuzz_scratch_dir());
		if (mkdir(dir, 0700) < 0)
			abort();
		/* drivers' config: paths of the shipped matrix resolve */
		snprintf(link, sizeof(link), "%s/configs", dir);
		if (symlink(FUZZ_SRCDIR "/kernel-matrix/configs", link) < 0)
			abort();
	}
	for (i = 0; i < MAX_FILES && off <= size; i++) {
		const uint8_t *end = NULL;
		size_t n = size - off;
		FILE *fp;

		if (n && i < MAX_FILES - 1)
			end = memchr(data + off, 0, n);
		if (end)
			n = (size_t)(end - (data + off));
		fp = fopen(file_path(dir, i), "w");
		if (!fp || (n && fwrite(data + off, 1, n, fp) != n) || fclose(fp) != 0)
			abort();
		off += n + 1;
	}
	for (; i < MAX_FILES; i++)
		unlink(file_path(dir, i));
	r = dk_matrix_load(dir, &m, &err);
	fuzz_check_error(r, &err);
	if (r == 0) {
		render(m);
		dk_matrix_free(m);
	}
	return 0;
}
