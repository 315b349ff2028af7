/* SPDX-License-Identifier: Apache-2.0 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "fuzz.h"

static char scratch[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void fuzz_rm_rf(const char *path)
{
	/* A directory without search permission (an archive's mode 000 entry) is made
	 * usable first so that its contents can go. */
	chmod(path, 0700);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	if (scratch[0])
		fuzz_rm_rf(scratch);
}

const char *fuzz_scratch_dir(void)
{
	if (!scratch[0]) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;

		if (!base)
			base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(scratch, sizeof(scratch), "%s/drvkit-fuzz-XXXXXX", base);
		if (!mkdtemp(scratch))
			abort();
		atexit(cleanup);
	}
	return scratch;
}
