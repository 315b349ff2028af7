/* SPDX-License-Identifier: Apache-2.0 */
/* Archive safety of get/archive.h: every case writes a hostile (or a good) archive with
 * libarchive's write API (linked into this test only; drvkit itself dlopens libarchive)
 * and checks that extraction refuses it and leaves nothing behind, neither in the target
 * directory nor outside it. Each case runs in a child process with its own scratch
 * directory; its TAP lines are numbered again here, and a crash counts as a failure. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/error.h"
#include "get/archive.h"

#include "fixture.h"
#include "tap.h"

/* The case's scratch directory: archive files, the target dir "out", and "outside",
 * the place a hostile archive aims at. */
static char scratch[PATH_MAX];
static char target[PATH_MAX + 16];
static char outside[PATH_MAX + 16];

/* One archive member to write. */
struct member {
	const char *path;
	mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFIFO; 0 = hardlink */
	const char *data; /* file contents */
	const char *link; /* symlink or hardlink target */
	size_t size;	  /* file size when data is NULL (zero bytes) */
	unsigned perm;	  /* 0 = 0644 / 0755 */
};

/* Writes members as a pax tar file named name in scratch; returns its path. */
static const char *write_tar(const char *name, const struct member *m, size_t n)
{
	static char path[PATH_MAX + 64];
	struct archive *a = archive_write_new();
	static char zeros[1 << 16];

	snprintf(path, sizeof(path), "%s/%s", scratch, name);
	if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_open_filename(a, path) != ARCHIVE_OK) {
		printf("# write %s: %s\n", path,
		       a ? archive_error_string(a) : "no memory");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t size = m[i].data ? strlen(m[i].data) : m[i].size;

		archive_entry_set_pathname(e, m[i].path);
		archive_entry_set_mtime(e, 1700000000, 0);
		if (m[i].type == 0) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, m[i].link);
			archive_entry_set_size(e, 0);
		} else {
			archive_entry_set_filetype(e, m[i].type);
			archive_entry_set_perm(e, m[i].perm		  ? m[i].perm
						  : m[i].type == AE_IFDIR ? 0755
									  : 0644);
			if (m[i].type == AE_IFLNK)
				archive_entry_set_symlink(e, m[i].link);
			if (m[i].type == AE_IFCHR)
				archive_entry_set_rdev(e, makedev(1, 3));
			archive_entry_set_size(e, m[i].type == AE_IFREG ? (la_int64_t)size
									: 0);
		}
		if (archive_write_header(a, e) != ARCHIVE_OK) {
			printf("# write header %s: %s\n", m[i].path,
			       archive_error_string(a));
			exit(1);
		}
		if (m[i].type == AE_IFREG && m[i].data)
			archive_write_data(a, m[i].data, size);
		else if (m[i].type == AE_IFREG)
			for (size_t left = size; left > 0;) {
				size_t k = left < sizeof(zeros) ? left : sizeof(zeros);

				archive_write_data(a, zeros, k);
				left -= k;
			}
		archive_entry_free(e);
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		printf("# close %s: %s\n", path, archive_error_string(a));
		exit(1);
	}
	archive_write_free(a);
	return path;
}

/* The tree below dir as sorted lines "TYPE PATH [content or link target]". */
static struct strbuf tree;
static size_t tree_skip;
static int tree_add(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	char buf[256] = "";
	(void)flag;
	(void)ftw;
	if (strlen(p) <= tree_skip)
		return 0;
	if (S_ISLNK(st->st_mode)) {
		ssize_t k = readlink(p, buf, sizeof(buf) - 1);

		buf[k > 0 ? k : 0] = 0;
		strbuf_printf(&tree, "l %s -> %s\n", p + tree_skip, buf);
	} else if (S_ISDIR(st->st_mode)) {
		strbuf_printf(&tree, "d %s %o\n", p + tree_skip, st->st_mode & 07777);
	} else if (S_ISREG(st->st_mode)) {
		_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
		ssize_t k = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		buf[k > 0 ? k : 0] = 0;
		strbuf_printf(&tree, "f %s %o %lu '%s'\n", p + tree_skip,
			      st->st_mode & 07777, (unsigned long)st->st_nlink, buf);
	} else {
		strbuf_printf(&tree, "? %s\n", p + tree_skip);
	}
	return 0;
}
static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}
/* Returns the listing of dir (malloc'ed), "" when empty, "(missing)" when absent. */
static char *listing(const char *dir)
{
	struct stat st;
	char *lines[512], *s, *save = NULL;
	size_t n = 0;
	struct strbuf out;

	if (lstat(dir, &st) < 0)
		return strdup("(missing)");
	strbuf_init(&tree);
	tree_skip = strlen(dir) + 1;
	nftw(dir, tree_add, 16, FTW_PHYS);
	s = strbuf_steal(&tree);
	for (char *l = strtok_r(s, "\n", &save); l && n < 512;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	qsort(lines, n, sizeof(*lines), cmp_lines);
	strbuf_init(&out);
	for (size_t i = 0; i < n; i++)
		strbuf_printf(&out, "%s\n", lines[i]);
	free(s);
	return strbuf_steal(&out);
}

/* Empties the target directory between two extractions of one case. */
static void reset_target(void)
{
	if (fx_rm_rf(target) < 0 || mkdir(target, 0755) < 0)
		printf("# could not reset %s\n", target);
}

/* Extracts file into target with opts; returns the result, error in *err. */
static int extract(const char *file, const struct dk_archive_opts *opts,
		   struct dk_archive_stats *stats, struct dk_error **err)
{
	return dk_archive_extract_file(file, target, opts, stats, err);
}

/* The common check of a refusal: fails with want, names why, and leaves the target
 * directory empty and the outside directory untouched. */
static void refused(const char *what, const struct member *m, size_t n,
		    const struct dk_archive_opts *opts, int want, const char *why)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *in = NULL, *out = NULL;
	const char *file = write_tar("a.tar", m, n);
	int r = extract(file, opts, NULL, &err);

	is_int(r, -want, "%s: refused (%s)", what, strerror(want));
	ok(err && err->msg && strstr(err->msg, why), "%s: message says '%s'", what, why);
	if (err && err->msg)
		printf("#   %s\n", err->msg);
	in = listing(target);
	is_str(in, "", "%s: nothing left in the target directory", what);
	out = listing(outside);
	is_str(out, "f secret 644 1 'secret'\n", "%s: nothing written outside", what);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define REFUSED(what, m, opts, want, why) refused(what, m, N(m), opts, want, why)

static void case_dotdot(void)
{
	const struct member m[] = {
		{"ok.txt", AE_IFREG, "fine"},
		{"../outside/pwned", AE_IFREG, "pwned"},
	};
	REFUSED("'..' member", m, NULL, EBADMSG, "..");
	const struct member m2[] = {{"a/../../outside/pwned", AE_IFREG, "pwned"}};
	REFUSED("'..' inside a member path", m2, NULL, EBADMSG, "..");
}

static void case_absolute(void)
{
	char abs[PATH_MAX + 32];

	snprintf(abs, sizeof(abs), "%s/pwned", outside);
	const struct member m[] = {{"ok.txt", AE_IFREG, "fine"},
				   {abs, AE_IFREG, "pwned"}};
	REFUSED("absolute member path", m, NULL, EBADMSG, "absolute");
}

static void case_symlink_escape(void)
{
	char abs[PATH_MAX + 32];

	const struct member rel[] = {
		{"l", AE_IFLNK, NULL, "../outside"},
		{"l/pwned", AE_IFREG, "pwned"},
	};
	REFUSED("symlink to ../outside, then a file through it", rel, NULL, EBADMSG,
		"outside");
	const struct member deep[] = {
		{"d/", AE_IFDIR},
		{"d/l", AE_IFLNK, NULL, "../../outside"},
		{"d/l/pwned", AE_IFREG, "pwned"},
	};
	REFUSED("symlink d/l to ../../outside, then d/l/pwned", deep, NULL, EBADMSG,
		"outside");
	snprintf(abs, sizeof(abs), "%s", outside);
	const struct member ab[] = {
		{"l", AE_IFLNK, NULL, abs},
		{"l/pwned", AE_IFREG, "pwned"},
	};
	REFUSED("symlink to the absolute outside dir, then a file through it", ab, NULL,
		EBADMSG, "absolute");
	/* each link lexically inside; l2 resolves through x/l1 (= the root) to its parent
	 */
	const struct member chain[] = {
		{"x/", AE_IFDIR},
		{"x/l1", AE_IFLNK, NULL, ".."},
		{"l2", AE_IFLNK, NULL, "x/l1/.."},
		{"l2/outside/pwned", AE_IFREG, "pwned"},
	};
	REFUSED("symlink chain escaping, then a file through it", chain, NULL, EBADMSG,
		"is a symlink, not a directory");
	const struct member chain2[] = {
		{"x/", AE_IFDIR},
		{"x/l1", AE_IFLNK, NULL, ".."},
		{"l2", AE_IFLNK, NULL, "x/l1/.."},
	};
	REFUSED("symlink chain escaping (links only)", chain2, NULL, EBADMSG,
		"resolves outside");
	/* a link that is fine where it stands, and a file through it */
	const struct member in[] = {
		{"d/", AE_IFDIR},
		{"d/up", AE_IFLNK, NULL, ".."},
		{"d/up/../outside/pwned", AE_IFREG, "pwned"},
	};
	REFUSED("inside symlink, then '..' through it", in, NULL, EBADMSG, "..");
}

static void case_hardlink_outside(void)
{
	char abs[PATH_MAX + 32];

	const struct member rel[] = {{"hl", 0, NULL, "../outside/secret"}};
	REFUSED("hardlink to ../outside/secret", rel, NULL, EBADMSG, "hardlink");
	snprintf(abs, sizeof(abs), "%s/secret", outside);
	const struct member ab[] = {{"hl", 0, NULL, abs}};
	REFUSED("hardlink to the absolute outside file", ab, NULL, EBADMSG, "hardlink");
	const struct member viasym[] = {
		{"l", AE_IFLNK, NULL, "."},
		{"hl", 0, NULL, "l"},
	};
	REFUSED("hardlink to a symlink", viasym, NULL, EBADMSG, "hardlink");
	const struct member later[] = {{"hl", 0, NULL, "notyet"},
				       {"notyet", AE_IFREG, "x"}};
	REFUSED("hardlink to a file not extracted yet", later, NULL, EBADMSG, "hardlink");
}

static void case_special(void)
{
	const struct member chr[] = {{"ok.txt", AE_IFREG, "fine"}, {"null", AE_IFCHR}};
	REFUSED("character device", chr, NULL, EBADMSG, "character device");
	const struct member blk[] = {{"sda", AE_IFBLK}};
	REFUSED("block device", blk, NULL, EBADMSG, "block device");
	const struct member fifo[] = {{"ok.txt", AE_IFREG, "fine"}, {"p", AE_IFIFO}};
	REFUSED("fifo", fifo, NULL, EBADMSG, "fifo");
}

static void case_limits(void)
{
	const struct member big[] = {
		{"small", AE_IFREG, "0123456789"},
		{"big", AE_IFREG, NULL, NULL, 5000},
	};
	struct dk_archive_opts o = {.max_size = 4096};
	REFUSED("over the size limit", big, &o, EBADMSG,
		"exceeds the limit of 4096 bytes");
	const struct member many[] = {
		{"a", AE_IFREG, "1"}, {"b", AE_IFREG, "2"}, {"c", AE_IFREG, "3"},
		{"d", AE_IFREG, "4"}, {"e", AE_IFREG, "5"},
	};
	struct dk_archive_opts o2 = {.max_entries = 3};
	REFUSED("too many entries", many, &o2, EBADMSG, "more than 3 entries");

	/* exactly at the limits is fine */
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_archive_opts o3 = {.max_entries = 5, .max_size = 5};
	struct dk_archive_stats st = {};
	int r = extract(write_tar("ok.tar", many, N(many)), &o3, &st, &err);
	is_int(r, 0, "exactly at the entry and size limits: extracted");
	is_int(st.entries, 5, "stats: 5 entries");
	is_int(st.bytes, 5, "stats: 5 bytes");
}

static void case_strip(void)
{
	/* fine as the archive lays it out, outside once the first component is gone */
	const struct member esc[] = {
		{"top/x/", AE_IFDIR},
		{"top/x/l", AE_IFLNK, NULL, "../../y"},
	};
	struct dk_archive_opts o = {.strip = 1};
	REFUSED("--strip 1: symlink escaping after the strip", esc, &o, EBADMSG,
		"outside");
	const struct member hl[] = {
		{"top", AE_IFREG, "stripped away"},
		{"top/hl", 0, NULL, "top"},
	};
	REFUSED("--strip 1: hardlink to a stripped-away entry", hl, &o, EBADMSG,
		"hardlink");

	const struct member good[] = {
		{"top/", AE_IFDIR},
		{"top/a", AE_IFREG, "A"},
		{"top/d/", AE_IFDIR},
		{"top/d/b", AE_IFREG, "B", NULL, 0, 0600},
		{"top/d/l", AE_IFLNK, NULL, "../a"},
		{"top/hl", 0, NULL, "top/a"},
		{"other/c", AE_IFREG, "C"},
	};
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *got = NULL;
	int r = extract(write_tar("good.tar", good, N(good)), &o, NULL, &err);

	is_int(r, 0, "--strip 1: good archive extracted");
	got = listing(target);
	is_str(got,
	       "d d 755\n"
	       "f a 644 2 'A'\n"
	       "f c 644 1 'C'\n"
	       "f d/b 600 1 'B'\n"
	       "f hl 644 2 'A'\n"
	       "l d/l -> ../a\n",
	       "--strip 1: exactly the stripped tree");
	free(TAKE_PTR(got));
	dk_error_free(&err);
	struct dk_archive_opts o2 = {.strip = 2};
	const struct member two[] = {{"a/b", AE_IFREG, "short"},
				     {"a/b/c", AE_IFREG, "C"}};
	reset_target();
	r = extract(write_tar("two.tar", two, N(two)), &o2, NULL, &err);
	is_int(r, 0, "--strip 2: entries with too few components are skipped");
	got = listing(target);
	is_str(got, "f c 644 1 'C'\n", "--strip 2: only the deep entry");
}

static void case_members(void)
{
	const struct member m[] = {
		{"./top/keep1", AE_IFREG, "k1"}, {"top/keep2/", AE_IFDIR},
		{"top/keep2/f", AE_IFREG, "f"},	 {"top/drop", AE_IFREG, "no"},
		{"other", AE_IFREG, "no"},
	};
	const char *const globs[] = {"top/keep*", NULL};
	struct dk_archive_opts o = {.members = globs};
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *got = NULL;
	int r = extract(write_tar("m.tar", m, N(m)), &o, NULL, &err);

	is_int(r, 0, "members top/keep*: extracted");
	got = listing(target);
	is_str(got,
	       "d top 755\n"
	       "d top/keep2 755\n"
	       "f top/keep1 644 1 'k1'\n"
	       "f top/keep2/f 644 1 'f'\n",
	       "members top/keep*: only the matching entries and what is below them");

	const char *const none[] = {"nomatch*", NULL};
	struct dk_archive_opts o2 = {.members = none};
	reset_target();
	REFUSED("a member glob matching nothing", m, &o2, ENOENT, "no member matches");
	/* a glob does not let a hostile member through */
	const struct member bad[] = {{"top/keep/../../outside/pwned", AE_IFREG, "x"}};
	REFUSED("a selected member with '..'", bad, &o, EBADMSG, "..");
}

static void case_good(void)
{
	const struct member m[] = {
		{"./", AE_IFDIR},
		{"bin/", AE_IFDIR, NULL, NULL, 0, 0750},
		{"bin/tool", AE_IFREG, "#!/bin/sh", NULL, 0, 0755},
		{"lib/libx.so.1", AE_IFREG, "ELF"},
		{"lib/libx.so", AE_IFLNK, NULL, "libx.so.1"},
		{"share/doc/README", AE_IFREG, "read me"},
		{"share/doc/COPY", 0, NULL, "share/doc/README"},
		{"share/up", AE_IFLNK, NULL, "../lib"},
		{"empty", AE_IFREG, ""},
	};
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *got = NULL, *out = NULL;
	struct dk_archive_stats st = {};
	int r = extract(write_tar("good.tar", m, N(m)), NULL, &st, &err);

	is_int(r, 0, "good archive: extracted");
	if (err)
		printf("#   %s\n", err->msg);
	got = listing(target);
	is_str(got,
	       "d bin 750\n"
	       "d lib 755\n"
	       "d share 755\n"
	       "d share/doc 755\n"
	       "f bin/tool 755 1 '#!/bin/sh'\n"
	       "f empty 644 1 ''\n"
	       "f lib/libx.so.1 644 1 'ELF'\n"
	       "f share/doc/COPY 644 2 'read me'\n"
	       "f share/doc/README 644 2 'read me'\n"
	       "l lib/libx.so -> libx.so.1\n"
	       "l share/up -> ../lib\n",
	       "good archive: exactly its tree, modes, contents and links");
	is_int(st.bytes, strlen("#!/bin/sh") + 3 + 7, "good archive: stats bytes");
	out = listing(outside);
	is_str(out, "f secret 644 1 'secret'\n", "good archive: nothing written outside");
}

static void case_new_dir_removed(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *got = NULL;
	const struct member m[] = {{"ok", AE_IFREG, "fine"}, {"../x", AE_IFREG, "x"}};
	int r;

	rmdir(target);
	r = extract(write_tar("a.tar", m, N(m)), NULL, NULL, &err);
	is_int(r, -EBADMSG, "target dir created by the extraction: refused");
	got = listing(target);
	is_str(got, "(missing)", "target dir created by the extraction: removed again");
}

/* Runs fn in a child with a fresh scratch dir; renumbers its TAP lines. */
static void run_case(const char *name, void (*fn)(void))
{
	int p[2], status;
	pid_t pid;
	FILE *in;
	char line[4096];
	bool any = false;

	fflush(stdout);
	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		char tmpl[] = "/tmp/dk-test-archive.XXXXXX";
		int fd;

		dup2(p[1], STDOUT_FILENO);
		if (!mkdtemp(tmpl))
			_exit(2);
		snprintf(scratch, sizeof(scratch), "%s", tmpl);
		snprintf(target, sizeof(target), "%s/out", scratch);
		snprintf(outside, sizeof(outside), "%s/outside", scratch);
		if (chdir(scratch) < 0 || mkdir(target, 0755) < 0 ||
		    mkdir(outside, 0755) < 0)
			_exit(2);
		fd = open("outside/secret", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, "secret", 6) != 6)
			_exit(2);
		close(fd);
		tap_n = 0;
		fn();
		fflush(stdout);
		if (fx_rm_rf(scratch) < 0)
			printf("# could not remove %s\n", scratch);
		fflush(stdout);
		_exit(0);
	}
	close(p[1]);
	in = fdopen(p[0], "r");
	while (in && fgets(line, sizeof(line), in)) {
		bool bad = strncmp(line, "not ok ", 7) == 0;
		char *rest = NULL;

		if (bad || strncmp(line, "ok ", 3) == 0)
			rest = strstr(line, " - ");
		if (rest) {
			any = true;
			tap_n++;
			if (bad)
				tap_failed++;
			printf("%sok %d%s", bad ? "not " : "", tap_n, rest);
		} else {
			/* a multi-line diagnostic (is_str of a listing) stays a comment
			 */
			printf("%s%s", line[0] == '#' ? "" : "#   ", line);
		}
	}
	if (in)
		fclose(in);
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && any,
	   "%s: case ran to its end", name);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		printf("#   status 0x%x\n", status);
}

int main(void)
{
	run_case("'..' members", case_dotdot);
	run_case("absolute paths", case_absolute);
	run_case("symlink escapes", case_symlink_escape);
	run_case("hardlinks outside", case_hardlink_outside);
	run_case("device nodes and fifos", case_special);
	run_case("size and entry limits", case_limits);
	run_case("--strip", case_strip);
	run_case("member globs", case_members);
	run_case("good archive", case_good);
	run_case("target dir created by the session", case_new_dir_removed);
	return tap_done();
}
