/* SPDX-License-Identifier: Apache-2.0 */
/* base/cache: the content-addressed store (insert, lookup, corruption, concurrent
 * inserts of one key, temp files never under the final name). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/cache.h"
#include "base/fsutil.h"
#include "base/spawn.h"

#include "fixture.h"
#include "tap.h"

#define ABC_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define XYZ_SHA "3608bca1e44ea6c4d268eb6db02260269892c0b42b86bbf1e77a6fa16c3c9282"

static char tmpdir[] = "/tmp/dk-test-cache-XXXXXX";

static int write_str(const char *path, const char *s)
{
	return dk_write_file_atomic(path, s, strlen(s), 0644);
}

/* Names in <dir>/sha256 (entries and anything else left there). */
static int count_names(const char *dir, int *dots)
{
	_cleanup_free_ char *sub = dk_path_join(dir, "sha256");
	_cleanup_closedir_ DIR *d = opendir(sub);
	struct dirent *de;
	int n = 0;

	*dots = 0;
	while (d && (de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		n++;
		*dots += de->d_name[0] == '.';
	}
	return n;
}

/* Streaming insert of "abc" under ABC_SHA. */
static int stream_insert(const char *dir, const char *text, bool check_final,
			 const char *final)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = dk_cache_tmp_open(dir, ABC_SHA, &tmp, &err);
	const char *base;

	if (fd < 0)
		return fd;
	base = strrchr(tmp, '/') + 1;
	if (check_final) {
		ok(base[0] == '.' && !streq(tmp, final), "temp file %s is a dot name",
		   base);
		ok(!dk_path_exists(final), "no entry under the final name while writing");
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -EIO;
	return dk_cache_tmp_commit(dir, ABC_SHA, fd, tmp, &err);
}

static void test_basic(const char *dir)
{
	_cleanup_free_ char *final = dk_cache_path(dir, ABC_SHA);
	_cleanup_free_ char *want = dk_strdup_printf("%s/sha256/%s", dir, ABC_SHA);
	_cleanup_error_ struct dk_error *err = NULL;
	char *text = NULL;
	int dots;

	is_str(final, want, "path: <dir>/sha256/<hex>");
	is_int(dk_cache_lookup(dir, ABC_SHA, &err), 0, "miss on an empty cache");
	ok(err == NULL, "a miss is no error");
	is_int(stream_insert(dir, "abc", true, final), 0, "streaming insert");
	is_int(dk_cache_lookup(dir, ABC_SHA, &err), 1, "hit after insert");
	ok(dk_read_file(final, 0, &text, NULL) == 0 && streq(text, "abc"), "entry bytes");
	free(text);
	is_int(count_names(dir, &dots), 1, "one entry, no temp files left");
	is_int(dots, 0, "no dot names left");
	is_int(dk_cache_lookup(dir, XYZ_SHA, &err), 0, "another key misses");
}

static void test_insert_file(const char *dir)
{
	_cleanup_free_ char *src = dk_path_join(tmpdir, "xyz");
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_close_ int fd = -1;
	int dots;

	ok(write_str(src, "xyz") == 0, "source file");
	fd = open(src, O_RDONLY | O_CLOEXEC);
	is_int(dk_cache_insert_file(dir, XYZ_SHA, src, fd, 3, &err), 0, "insert a file");
	is_int(dk_cache_lookup(dir, XYZ_SHA, &err), 1, "hit");
	is_int(dk_cache_insert_file(dir, XYZ_SHA, src, fd, 3, &err), 0,
	       "inserting the same key again is fine");
	is_int(count_names(dir, &dots), 2, "two entries");
	is_int(dots, 0, "no temp names left behind");
}

static void test_copy(void)
{
	_cleanup_free_ char *src = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	char shm[] = "/dev/shm/dk-test-cache-XXXXXX";
	_cleanup_close_ int fd = -1;
	struct stat a, b;

	if (stat("/dev/shm", &a) < 0 || stat(tmpdir, &b) < 0 || a.st_dev == b.st_dev ||
	    !mkdtemp(shm)) {
		skip("no second filesystem for the copy path");
		skip("no second filesystem for the copy path");
		return;
	}
	src = dk_path_join(shm, "xyz");
	ok(write_str(src, "xyz") == 0, "source on another filesystem");
	fd = open(src, O_RDONLY | O_CLOEXEC);
	{
		_cleanup_free_ char *dir = dk_path_join(tmpdir, "copy");

		ok(dk_cache_insert_file(dir, XYZ_SHA, src, fd, 3, &err) == 0 &&
			   dk_cache_lookup(dir, XYZ_SHA, &err) == 1,
		   "across filesystems: copied, then a hit");
	}
	unlink(src);
	rmdir(shm);
}

static void test_corrupt(const char *dir)
{
	_cleanup_free_ char *final = dk_cache_path(dir, ABC_SHA);
	_cleanup_error_ struct dk_error *err = NULL;

	/* Edit in place (what a hard-linked DEST edited by a user does). */
	{
		_cleanup_close_ int fd = open(final, O_WRONLY | O_CLOEXEC);

		ok(fd >= 0 && pwrite(fd, "X", 1, 0) == 1, "damage the entry in place");
	}
	is_int(dk_cache_lookup(dir, ABC_SHA, &err), -EBADMSG,
	       "a damaged entry is refused");
	ok(err && strstr(err->msg, "is corrupt (sha256 ") && strstr(err->msg, final),
	   "the message names it: '%s'", err ? err->msg : "");
	dk_error_free(&err);
	ok(dk_path_exists(final), "left for the caller to remove");
	is_int(dk_cache_remove(dir, ABC_SHA, &err), 0, "remove");
	is_int(dk_cache_lookup(dir, ABC_SHA, &err), 0, "then a miss");
	is_int(dk_cache_remove(dir, ABC_SHA, &err), 0,
	       "removing a missing entry is fine");

	/* A short entry (a size problem) is refused the same way. */
	is_int(stream_insert(dir, "ab", false, NULL), 0, "insert short bytes");
	is_int(dk_cache_lookup(dir, ABC_SHA, &err), -EBADMSG, "a short entry is refused");
	dk_error_free(&err);
	ok(dk_cache_remove(dir, ABC_SHA, &err) == 0, "removed");
}

static void test_concurrent(const char *dir)
{
	_cleanup_free_ char *src = dk_path_join(tmpdir, "abc");
	int failures = 0, dots;

	ok(write_str(src, "abc") == 0, "source file");
	for (int i = 0; i < 6; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			struct dk_error *err = NULL;
			int fd = open(src, O_RDONLY | O_CLOEXEC), bad = 0;

			for (int j = 0; j < 30; j++) {
				if (stream_insert(dir, "abc", false, NULL) < 0)
					bad++;
				if (dk_cache_insert_file(dir, ABC_SHA, src, fd, 3, &err) <
				    0)
					bad++;
				if (dk_cache_lookup(dir, ABC_SHA, &err) == -EBADMSG)
					bad++;
				dk_error_free(&err);
			}
			_exit(bad ? 1 : 0);
		}
	}
	for (int i = 0; i < 6; i++) {
		int status;

		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failures++;
	}
	is_int(failures, 0, "6 processes inserting one key: no failure, never corrupt");
	{
		_cleanup_error_ struct dk_error *err = NULL;

		is_int(dk_cache_lookup(dir, ABC_SHA, &err), 1, "the entry is whole");
	}
	count_names(dir, &dots);
	is_int(dots, 0, "no temp files left behind");
}

int main(void)
{
	_cleanup_free_ char *dir = NULL;

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	dir = dk_path_join(tmpdir, "cache");
	test_basic(dir);
	test_insert_file(dir);
	test_copy();
	test_corrupt(dir);
	test_concurrent(dir);
	fx_rm_rf(tmpdir);
	return tap_done();
}
