/* SPDX-License-Identifier: Apache-2.0 */
/* Module packages (get/package.h): round trip through the existing extractor,
 * byte-identical output for the same tree, refusals and failures that leave nothing,
 * the prefix, zstd, GNU tar's view of a package, and the time a large module takes.
 * Each case runs in a child process with its own scratch directory (the current
 * directory); its TAP lines are numbered again here, and a crash counts as a failure. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/error.h"
#include "base/fsutil.h"
#include "base/sha256.h"
#include "get/package.h"

#include "fixture.h"
#include "tap.h"

static void put(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data) ||
	    fchmod(fd, mode) < 0) {
		printf("# could not write %s: %m\n", path);
		exit(1);
	}
	close(fd);
}

static void dir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 || chmod(path, mode) < 0) {
		printf("# could not create %s: %m\n", path);
		exit(1);
	}
}

#define LONG_DIR "a-directory-name-long-enough-that-with-the-file-below-it"
#define LONG_FILE "the-path-needs-more-than-the-hundred-bytes-of-a-ustar-name.ko"
#define LONG_PATH LONG_DIR "/" LONG_FILE

/* A module tree with the odd modes a build leaves: 0600, 0700, 0100, 0750. */
static void make_tree(const char *root)
{
	char p[PATH_MAX];

	dir(root, 0750);
#define AT(rel) (snprintf(p, sizeof(p), "%s/%s", root, rel), p)
	put(AT("manifest.json"), "{\"kernel\":\"6.1.0\"}\n", 0600);
	put(AT("nvidia.ko"), "\177ELF module", 0644);
	put(AT("helper.sh"), "#!/bin/sh\n", 0700);
	put(AT("odd-x"), "x", 0100);
	put(AT("empty"), "", 0644);
	dir(AT("sub"), 0700);
	dir(AT("sub/deep"), 0755);
	put(AT("sub/deep/peermem.ko"), "\177ELF peer", 0640);
	dir(AT("void"), 0700);
	dir(AT(LONG_DIR), 0755);
	put(AT(LONG_PATH), "long", 0644);
#undef AT
}

/* What make_tree gives once packaged and unpacked, in the listing() format. */
static const char *const tree_listing = "d " LONG_DIR " 755\n"
					"d sub 755\n"
					"d sub/deep 755\n"
					"d void 755\n"
					"f " LONG_PATH " 644 4\n"
					"f empty 644 0\n"
					"f helper.sh 755 10\n"
					"f manifest.json 644 19\n"
					"f nvidia.ko 644 11\n"
					"f odd-x 755 1\n"
					"f sub/deep/peermem.ko 644 9\n";

static struct strbuf tree;
static size_t tree_skip;
static int tree_add(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	if (strlen(p) <= tree_skip)
		return 0;
	if (S_ISDIR(st->st_mode))
		strbuf_printf(&tree, "d %s %o\n", p + tree_skip, st->st_mode & 07777);
	else if (S_ISREG(st->st_mode))
		strbuf_printf(&tree, "f %s %o %lld\n", p + tree_skip, st->st_mode & 07777,
			      (long long)st->st_size);
	else
		strbuf_printf(&tree, "? %s\n", p + tree_skip);
	return 0;
}
static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}
/* The tree below d, one sorted line per entry; "(missing)" when absent. */
static char *listing(const char *d)
{
	struct stat st;
	char *lines[256], *s, *save = NULL;
	size_t n = 0;
	struct strbuf out;

	if (lstat(d, &st) < 0)
		return strdup("(missing)");
	strbuf_init(&tree);
	tree_skip = strlen(d) + 1;
	nftw(d, tree_add, 16, FTW_PHYS);
	s = strbuf_steal(&tree);
	for (char *l = strtok_r(s, "\n", &save); l && n < 256;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	qsort(lines, n, sizeof(*lines), cmp_lines);
	strbuf_init(&out);
	for (size_t i = 0; i < n; i++)
		strbuf_printf(&out, "%s\n", lines[i]);
	free(s);
	return strbuf_steal(&out);
}

static bool same_file(const char *a, const char *b)
{
	char ha[DK_SHA256_HEX_LEN + 1], hb[DK_SHA256_HEX_LEN + 1];

	return dk_sha256_file(a, ha) == 0 && dk_sha256_file(b, hb) == 0 && streq(ha, hb);
}

static void case_round_trip(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *got = NULL;
	int r;

	make_tree("src");
	r = dk_package_write("src", NULL, "p.tar.zst", &err);
	is_int(r, 0, "write: %s", err ? err->msg : "ok");
	r = dk_package_unpack("p.tar.zst", "out", &err);
	is_int(r, 0, "unpack with the extractor: %s", err ? err->msg : "ok");
	got = listing("out");
	is_str(got, tree_listing, "same tree, modes 0644/0755");
	ok(same_file("src/sub/deep/peermem.ko", "out/sub/deep/peermem.ko") &&
		   same_file("src/" LONG_PATH, "out/" LONG_PATH) &&
		   same_file("src/manifest.json", "out/manifest.json"),
	   "same contents");
}

static void retouch(const char *root)
{
	char p[PATH_MAX];
	const char *const names[] = {"",     "/manifest.json",	     "/nvidia.ko",
				     "/sub", "/sub/deep/peermem.ko", "/" LONG_PATH};
	struct timespec ts[2] = {{1234567, 0}, {1700000000, 123456789}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", root, names[i]);
		if (utimensat(AT_FDCWD, p, ts, 0) < 0)
			printf("# utimensat %s: %m\n", p);
		if (geteuid() == 0 && chown(p, 4242, 4343) < 0)
			printf("# chown %s: %m\n", p);
	}
}

static void case_deterministic(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	int r1, r2;

	make_tree("one");
	/* the second copy is created in another order (another readdir order on most
	 * filesystems), with other times, owners and non-x modes */
	dir("two", 0755);
	dir("two/void", 0755);
	dir("two/" LONG_DIR, 0700);
	put("two/" LONG_PATH, "long", 0600);
	dir("two/sub", 0755);
	dir("two/sub/deep", 0700);
	put("two/sub/deep/peermem.ko", "\177ELF peer", 0444);
	put("two/odd-x", "x", 0010);
	put("two/empty", "", 0600);
	put("two/helper.sh", "#!/bin/sh\n", 0755);
	put("two/nvidia.ko", "\177ELF module", 0600);
	put("two/manifest.json", "{\"kernel\":\"6.1.0\"}\n", 0664);
	retouch("two");
	r1 = dk_package_write("one", NULL, "one.tar.zst", &err);
	r2 = r1 ? r1 : dk_package_write("two", NULL, "two.tar.zst", &err);
	is_int(r2, 0, "both written: %s", err ? err->msg : "ok");
	ok(same_file("one.tar.zst", "two.tar.zst"),
	   "byte-identical packages (other mtimes, owners, modes, creation order)");
	r1 = dk_package_write("one", NULL, "again.tar.zst", &err);
	ok(r1 == 0 && same_file("one.tar.zst", "again.tar.zst"),
	   "the same tree written again: byte-identical");
	if (geteuid() != 0)
		printf("# not root: owners were not changed\n");
}

/* Writing root into out_dir/p.tar.zst must fail with want naming why, and leave
 * out_dir as it was: no package, no temp file, an existing package untouched. */
static void refused_in(const char *what, const char *root, const char *prefix,
		       const char *out_dir, int want, const char *why)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *before = listing(out_dir), *after = NULL, *kept = NULL;
	char out[PATH_MAX];
	size_t len;
	int r;

	snprintf(out, sizeof(out), "%s/p.tar.zst", out_dir);
	r = dk_package_write(root, prefix, out, &err);
	is_int(r, -want, "%s: refused (%s)", what, strerror(want));
	ok(err && strstr(err->msg, why), "%s: message says '%s'", what, why);
	if (err)
		printf("#   %s\n", err->msg);
	after = listing(out_dir);
	is_str(after, before, "%s: nothing left next to the package", what);
	if (dk_read_file(out, 0, &kept, &len) == 0)
		is_str(kept, "old", "%s: the existing package is untouched", what);
}
#define refused(what, root, prefix, want, why) \
	refused_in(what, root, prefix, "dest", want, why)

static void case_refusals(void)
{
	make_tree("src");
	dir("dest", 0755);
	put("dest/p.tar.zst", "old", 0644);
	if (symlink("nvidia.ko", "src/sub/link.ko") < 0)
		printf("# symlink: %m\n");
	refused("symlink", "src", NULL, EINVAL, "src/sub/link.ko is a symlink");
	unlink("src/sub/link.ko");
	if (mkfifo("src/sub/deep/fifo", 0644) < 0)
		printf("# mkfifo: %m\n");
	refused("FIFO", "src", NULL, EINVAL, "src/sub/deep/fifo is a FIFO");
	unlink("src/sub/deep/fifo");
	put("src/bad\nname.ko", "", 0644);
	refused("a newline in a name", "src", NULL, EINVAL, "not printable ASCII");
	unlink("src/bad\nname.ko");
	refused("prefix ../x", "src", "../x", EINVAL, "'../x'");
	refused("prefix /abs", "src", "/abs", EINVAL, "'/abs'");
	refused("prefix a//b", "src", "a//b", EINVAL, "'a//b'");
	refused("prefix a/.", "src", "a/.", EINVAL, "'a/.'");
	refused("missing tree", "nothere", NULL, ENOENT, "nothere");
}

static void case_limits(void)
{
	char p[64];

	dir("many", 0755);
	dir("dest", 0755);
	for (int i = 0; i < 4096; i++) {
		snprintf(p, sizeof(p), "many/%04d", i);
		put(p, "", 0644);
	}
	_cleanup_error_ struct dk_error *err = NULL;
	int r = dk_package_write("many", NULL, "dest/p.tar.zst", &err);

	is_int(r, 0, "4096 entries: written (%s)", err ? err->msg : "ok");
	unlink("dest/p.tar.zst");
	refused("4096 entries and a prefix", "many", "pre", EFBIG, "more than 4096");
	put("many/one-more", "", 0644);
	refused("4097 entries", "many", NULL, EFBIG, "more than 4096");
}

/* A write that fails half way (the file size limit standing in for a full disk) and
 * a destination that cannot be written leave nothing. */
static void case_write_failures(void)
{
	char block[1 << 16];
	struct rlimit rl = {256 * 1024, 256 * 1024};
	int fd;

	dir("src", 0755);
	dir("dest", 0755);
	fd = open("src/random.ko", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	for (int i = 0; i < 32; i++) /* 2 MiB that zstd cannot shrink */
		if (getrandom(block, sizeof(block), 0) != sizeof(block) ||
		    write(fd, block, sizeof(block)) != sizeof(block))
			printf("# could not write src/random.ko\n");
	close(fd);
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		printf("# setrlimit: %m\n");
	refused("file size limit reached mid-write", "src", NULL, EFBIG,
		"dest/p.tar.zst");
	rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
	(void)setrlimit(RLIMIT_FSIZE, &rl);
	refused_in("missing destination directory", "src", NULL, "nodir", ENOENT,
		   "nodir/p.tar.zst");
	if (geteuid() == 0) {
		skip("unwritable destination directory: root writes anyway");
		return;
	}
	chmod("dest", 0555);
	refused("unwritable destination directory", "src", NULL, EACCES,
		"dest/p.tar.zst");
	chmod("dest", 0755);
}

/* Without libarchive the writer says so (exit code 6 in the CLI) and writes nothing.
 * The library is loaded once per process: this case runs in its own child. */
static void case_no_libarchive(void)
{
	make_tree("src");
	dir("dest", 0755);
	setenv("DRVKIT_TEST_LIBARCHIVE", "libarchive-not-installed.so.13", 1);
	refused("libarchive missing", "src", NULL, ELIBACC, "install libarchive13");
}

static void case_prefix(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *got = NULL, *want = NULL;
	struct strbuf b;
	int r;

	make_tree("src");
	r = dk_package_write("src", "6.1.0-18-amd64/nvidia", "p.tar.zst", &err);
	is_int(r, 0, "write with a prefix: %s", err ? err->msg : "ok");
	r = dk_package_unpack("p.tar.zst", "out", &err);
	is_int(r, 0, "unpack: %s", err ? err->msg : "ok");
	strbuf_init(&b);
	strbuf_puts(&b, "d 6.1.0-18-amd64 755\nd 6.1.0-18-amd64/nvidia 755\n");
	for (const char *l = tree_listing; *l;) {
		const char *nl = strchr(l, '\n');

		strbuf_putn(&b, l, 2);
		strbuf_puts(&b, "6.1.0-18-amd64/nvidia/");
		strbuf_putn(&b, l + 2, (size_t)(nl - l) - 1);
		l = nl + 1;
	}
	want = strbuf_steal(&b);
	got = listing("out");
	is_str(got, want, "every entry below the prefix, prefix directories 0755");
}

static void case_zstd(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r;

	make_tree("src");
	r = dk_package_write("src", NULL, "p.tar.zst", &err);
	is_int(r, 0, "write: %s", err ? err->msg : "ok");
	r = dk_read_file("p.tar.zst", 0, &data, &len);
	ok(r == 0 && len > 4 && !memcmp(data, "\x28\xb5\x2f\xfd", 4),
	   "starts with the zstd magic 28 b5 2f fd");
}

/* Runs argv with stdout into *out (malloc'ed); returns the exit status or -1. */
static int run_capture(const char *const argv[], char **out)
{
	int p[2], status;
	struct strbuf b;
	char buf[4096];
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	strbuf_init(&b);
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		strbuf_putn(&b, buf, (size_t)n);
	close(p[0]);
	*out = strbuf_steal(&b);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool in_path(const char *prog)
{
	char *path = getenv("PATH"), *save = NULL;
	_cleanup_free_ char *copy = strdup(path ? path : "/usr/bin:/bin");
	char p[PATH_MAX];

	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(p, sizeof(p), "%s/%s", d, prog);
		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

/* GNU tar (through the zstd program) reads a package as drvkit wrote it: sorted,
 * root/root, the epoch, 0644/0755, directories with a trailing slash. */
static void case_gnu_tar(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *got = NULL;
	const char *const argv[] = {"tar", "--zstd", "-tvf", "p.tar.zst", NULL};
	const char *want =
		"drwxr-xr-x root/root 0 1970-01-01 00:00 pre/\n"
		"drwxr-xr-x root/root 0 1970-01-01 00:00 pre/" LONG_DIR "/\n"
		"-rw-r--r-- root/root 4 1970-01-01 00:00 pre/" LONG_PATH "\n"
		"-rw-r--r-- root/root 0 1970-01-01 00:00 pre/empty\n"
		"-rwxr-xr-x root/root 10 1970-01-01 00:00 pre/helper.sh\n"
		"-rw-r--r-- root/root 19 1970-01-01 00:00 pre/manifest.json\n"
		"-rw-r--r-- root/root 11 1970-01-01 00:00 pre/nvidia.ko\n"
		"-rwxr-xr-x root/root 1 1970-01-01 00:00 pre/odd-x\n"
		"drwxr-xr-x root/root 0 1970-01-01 00:00 pre/sub/\n"
		"drwxr-xr-x root/root 0 1970-01-01 00:00 pre/sub/deep/\n"
		"-rw-r--r-- root/root 9 1970-01-01 00:00 pre/sub/deep/peermem.ko\n"
		"drwxr-xr-x root/root 0 1970-01-01 00:00 pre/void/\n";
	int r;

	if (!in_path("tar") || !in_path("zstd")) {
		skip("tar --zstd: tar or zstd is not installed");
		return;
	}
	make_tree("src");
	r = dk_package_write("src", "pre", "p.tar.zst", &err);
	is_int(r, 0, "write: %s", err ? err->msg : "ok");
	/* tar pads the size column to the widest; TZ=UTC0 pins the date */
	setenv("TZ", "UTC0", 1);
	r = run_capture(argv, &got);
	is_int(r, 0, "tar --zstd -tvf exits 0");
	if (got) { /* squeeze runs of spaces */
		char *d = got;

		for (const char *s = got; *s; s++)
			if (*s != ' ' || (d > got && d[-1] != ' '))
				*d++ = *s;
		*d = '\0';
	}
	is_str(got, want, "tar lists every entry as written");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 50 MiB in 64 KiB blocks: one random, one zeros, one random bytes of a small
 * alphabet, like a module's code, its padding and its string tables. */
static void make_large(const char *path, size_t mib)
{
	static char block[1 << 16];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	for (size_t i = 0; fd >= 0 && i < mib * 16; i++) {
		memset(block, 0, sizeof(block));
		if (i % 3 != 1 && getrandom(block, sizeof(block), 0) != sizeof(block))
			break;
		if (i % 3 == 2)
			for (size_t k = 0; k < sizeof(block); k++)
				block[k] = "abcdefgh_.\n0123"[block[k] & 15];
		if (write(fd, block, sizeof(block)) != sizeof(block))
			break;
	}
	if (fd >= 0)
		close(fd);
}

static void case_large(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	struct stat st = {0};
	double t0, t1, t2;
	int r;

	dir("src", 0755);
	make_large("src/big.ko", 50);
	t0 = now_s();
	r = dk_package_write("src", NULL, "p.tar.zst", &err);
	t1 = now_s();
	is_int(r, 0, "50 MiB module written: %s", err ? err->msg : "ok");
	r = dk_package_unpack("p.tar.zst", "out", &err);
	t2 = now_s();
	is_int(r, 0, "unpacked: %s", err ? err->msg : "ok");
	ok(same_file("src/big.ko", "out/big.ko"), "same contents");
	(void)stat("p.tar.zst", &st);
	printf("# 50 MiB module: package written in %.2f s (%.1f MiB), unpacked in %.2f "
	       "s\n",
	       t1 - t0, (double)st.st_size / (1 << 20), t2 - t1);
}

static void run_case(const char *name, void (*fn)(void))
{
	int p[2], status;
	char line[4096];
	bool any = false;
	FILE *in;
	pid_t pid;

	fflush(stdout);
	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		abort();
	if (pid == 0) {
		char tmpl[] = "/tmp/dk-test-package.XXXXXX";

		dup2(p[1], STDOUT_FILENO);
		if (!mkdtemp(tmpl) || chdir(tmpl) < 0)
			_exit(2);
		tap_n = 0;
		fn();
		if (chdir("/") < 0 || fx_rm_rf(tmpl) < 0)
			printf("# could not remove %s\n", tmpl);
		fflush(stdout);
		_exit(0);
	}
	close(p[1]);
	in = fdopen(p[0], "r");
	while (in && fgets(line, sizeof(line), in)) {
		bool bad = strncmp(line, "not ok ", 7) == 0;
		char *rest =
			bad || strncmp(line, "ok ", 3) == 0 ? strstr(line, " - ") : NULL;

		if (rest) {
			any = true;
			tap_n++;
			tap_failed += bad;
			printf("%sok %d%s", bad ? "not " : "", tap_n, rest);
		} else {
			printf("%s%s", line[0] == '#' ? "" : "#   ", line);
		}
	}
	if (in)
		fclose(in);
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && any,
	   "%s: case ran to its end", name);
}

int main(void)
{
	run_case("round trip", case_round_trip);
	run_case("determinism", case_deterministic);
	run_case("refusals", case_refusals);
	run_case("entry limit", case_limits);
	run_case("write failures", case_write_failures);
	run_case("libarchive missing", case_no_libarchive);
	run_case("prefix", case_prefix);
	run_case("zstd", case_zstd);
	run_case("tar --zstd -tvf", case_gnu_tar);
	run_case("large module", case_large);
	return tap_done();
}
