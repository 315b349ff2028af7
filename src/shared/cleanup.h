/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(fn) __attribute__((cleanup(fn)))

static inline void dk_freep(void *p)
{
	free(*(void **)p);
}

static inline void dk_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void dk_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void dk_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* Declare a cleanup for a library type whose destructor takes the pointer. */
#define DK_DEFINE_CLEANUP(type, fn)            \
	static inline void dk_##fn##p(type *p) \
	{                                      \
		if (*p)                        \
			(void)fn(*p);          \
	}

#define _cleanup_free_ _cleanup_(dk_freep)
#define _cleanup_close_ _cleanup_(dk_closep)
#define _cleanup_fclose_ _cleanup_(dk_fclosep)
#define _cleanup_closedir_ _cleanup_(dk_closedirp)

/* Hand over ownership out of a cleanup variable. */
#define TAKE_PTR(p)                      \
	({                               \
		__typeof__(p) _tp = (p); \
		(p) = NULL;              \
		_tp;                     \
	})
#define TAKE_FD(fd)              \
	({                       \
		int _tfd = (fd); \
		(fd) = -1;       \
		_tfd;            \
	})
