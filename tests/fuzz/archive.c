/* SPDX-License-Identifier: Apache-2.0 */
/* Archive extraction (extract, fetch --extract, headers, build's packages): the bytes
 * stream through dk_extract_stream (libarchive's read callbacks, as a download feeds
 * it) and every entry goes through the safe writer of get/archive-entry.c into a
 * scratch directory, removed after each input. */
#include "fuzz.h"
#include "get/archive.h"

/* libarchive's read-ahead allocates what a header declares: a 1.6 KB cpio whose last newc
 * header claims a 1.9 GB name makes it malloc 3.5 GB before failing cleanly at the end
 * of the data (corpus/archive/regress-cpio-header-4gib-malloc; drvkit extract: exit 3 in
 * 0.1 s). Under ASan that allocation means poisoning 440 MB of shadow (over 10 s) and
 * libFuzzer calls it out of memory, so here allocations over 1 GiB fail (NULL), which
 * libarchive reports as an error too. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "max_allocation_size_mb=1024:allocator_may_return_null=1";
}

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
