/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers the unit tests share for their scratch trees. */
#pragma once

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static inline int fx_remove_entry(const char *path, const struct stat *st, int flag,
				  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* rm -rf path, without a shell or a child process; 0 or -1. */
static inline int fx_rm_rf(const char *path)
{
	return nftw(path, fx_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
