/* SPDX-License-Identifier: Apache-2.0 */
/* Archive extraction (extract, fetch --extract, headers, build's packages): the bytes
 * stream through dk_extract_stream (libarchive's read callbacks, as a download feeds
 * it) and every entry goes through the safe writer of get/archive-entry.c into a
 * scratch directory, removed after each input. */
#include "fuzz.h"
#include "get/archive.h"

struct feed {
	const uint8_t *data;
	size_t size, off;
};

static int next_chunk(void *userdata, const void **buf, size_t *len,
		      struct dk_error **err)
{
	struct feed *f = userdata;
	size_t n = f->size - f->off;

	(void)err;
	if (n > 1000) /* several reads, as a download gives them */
		n = 1000;
	*buf = f->data + f->off;
	*len = n;
	f->off += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[300];
	struct dk_archive_opts opts = {
		.max_size = 4u << 20,
		.max_entries = 2000,
		.flags = DK_ARCHIVE_REWRITE_ABS_SYMLINKS,
	};
	struct dk_error *err = NULL;
	struct feed f = {data, size, 0};
	struct dk_archive_stats stats;
	int r;

	if (!dir[0])
		snprintf(dir, sizeof(dir), "%s/out", fuzz_scratch_dir());
	r = dk_archive_extract_stream("fuzz.tar", next_chunk, &f, dir, &opts, &stats,
				      &err);
	fuzz_check_error(r, &err);
	fuzz_rm_rf(dir);
	return 0;
}
