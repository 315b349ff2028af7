/* SPDX-License-Identifier: Apache-2.0 */
#pragma once
/* Helpers for the libFuzzer targets (scripts/fuzz). Each target defines
 * LLVMFuzzerTestOneInput and feeds the bytes to one parser of outside input. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "base/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data as a NUL-terminated string (the text parsers take C strings); aborts on OOM. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Parsers that only take a path read it from a memfd: "/proc/self/fd/N", the same
 * regular-file reads (fstat, size limit) as a real file, without touching the disk.
 * One memfd per process, rewritten on every input. */
static inline const char *fuzz_memfd_path(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];

	if (fd < 0) {
		fd = memfd_create("fuzz-input", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	return path;
}

/* A parse must leave no error behind on success, and always a message on failure. */
static inline void fuzz_check_error(int r, struct dk_error **err)
{
	if (r < 0 && (!*err || !(*err)->msg || !(*err)->msg[0])) {
		fprintf(stderr, "fuzz: failure %d without a message\n", r);
		abort();
	}
	dk_error_free(err);
}

/* A scratch directory for targets that must write files (the archive extractor, a
 * matrix of several files): under /dev/shm when there is one, made once per process and
 * removed at exit. */
const char *fuzz_scratch_dir(void);
/* Removes everything below path, and path itself (no error when missing). */
void fuzz_rm_rf(const char *path);
