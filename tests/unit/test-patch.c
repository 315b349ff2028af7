/* SPDX-License-Identifier: Apache-2.0 */
/* build/patch: unified diffs parsed and applied in memory (offsets, new and deleted
 * files, "\ No newline at end of file", the messages of a hunk that fails or is already
 * applied, malformed patches) and to trees (the checked-in `diff -ruN` and `git diff`
 * fixtures of tests/fixtures/patch, all or nothing, paths that leave the tree, limits),
 * and the same fixtures against GNU patch when it is installed. Each case has its own
 * scratch directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/error.h"
#include "base/fsutil.h"
#include "build/patch.h"

#include "fixture.h"
#include "tap.h"

static char tmpdir[] = "/tmp/dk-test-patch-XXXXXX";
static const char *fixtures;

/* ---- helpers ---- */

/* Applies the first section of text (a patch named "fix.patch", -p1) to in (NULL: no
 * file). Returns what dk_patch_apply_file returns; *msg the error message. */
static int apply_mem(const char *text, const char *in, char **out, char **msg)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_patch_ struct dk_patch *p = NULL;
	size_t len;
	int r;

	*out = NULL;
	*msg = NULL;
	r = dk_patch_parse("fix.patch", text, strlen(text), 1, &p, &err);
	if (r >= 0)
		r = dk_patch_apply_file(p, &p->files[0], NULL, in, in ? strlen(in) : 0,
					out, &len, &err);
	if (r < 0)
		*msg = strdup(err->msg);
	return r;
}

static int parse_msg(const char *text, int strip, char **msg)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_patch_ struct dk_patch *p = NULL;
	int r = dk_patch_parse("fix.patch", text, strlen(text), strip, &p, &err);

	*msg = r < 0 ? strdup(err->msg) : NULL;
	return r;
}

static void write_str(const char *dir, const char *rel, const char *s)
{
	_cleanup_free_ char *path = dk_path_join(dir, rel);
	_cleanup_free_ char *parent = strdup(path);

	*strrchr(parent, '/') = '\0';
	if (dk_mkdir_p(parent, 0755) < 0 ||
	    dk_write_file_atomic(path, s, strlen(s), 0644) < 0)
		printf("# cannot write %s\n", path);
}

static char *read_str(const char *dir, const char *rel)
{
	_cleanup_free_ char *path = dk_path_join(dir, rel);
	char *s = NULL;

	return dk_read_file(path, 0, &s, NULL) < 0 ? NULL : s;
}

/* A fresh scratch directory for a case. */
static char *case_dir(const char *name)
{
	char *d = dk_strdup_printf("%s/%s", tmpdir, name);

	fx_rm_rf(d);
	if (dk_mkdir_p(d, 0755) < 0)
		printf("# cannot create %s\n", d);
	return d;
}

static int run_patch(const char *dir, const char *patch_file, char **msg)
{
	_cleanup_error_ struct dk_error *err = NULL;
	int r = dk_patch_apply(dir, patch_file, 1, &err);

	*msg = r < 0 ? strdup(err->msg) : NULL;
	return r;
}

/* The regular files under root, relative and sorted, one per line. */
static void list_files(const char *root, const char *rel, struct strbuf *out)
{
	_cleanup_free_ char *dir = rel[0] ? dk_path_join(root, rel) : strdup(root);
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *sub = NULL;

		if (streq(names[i]->d_name, ".") || streq(names[i]->d_name, "..")) {
			free(names[i]);
			continue;
		}
		sub = rel[0] ? dk_strdup_printf("%s/%s", rel, names[i]->d_name)
			     : strdup(names[i]->d_name);
		if (names[i]->d_type == DT_DIR)
			list_files(root, sub, out);
		else
			strbuf_printf(out, "%s\n", sub);
		free(names[i]);
	}
	free(names);
}

/* Whether trees a and b hold the same files with the same contents. */
static bool same_tree(const char *a, const char *b)
{
	_cleanup_strbuf_ struct strbuf la = {0}, lb = {0};
	char *save = NULL, *line;

	list_files(a, "", &la);
	list_files(b, "", &lb);
	if (!streq(strbuf_str(&la), strbuf_str(&lb))) {
		printf("# files of %s:\n# %s\n# files of %s:\n# %s\n", a, strbuf_str(&la),
		       b, strbuf_str(&lb));
		return false;
	}
	for (line = strtok_r(la.s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		_cleanup_free_ char *x = read_str(a, line), *y = read_str(b, line);

		if (!x || !y || !streq(x, y)) {
			printf("# %s differs\n", line);
			return false;
		}
	}
	return true;
}

static int copy_tree(const char *from, const char *to)
{
	_cleanup_strbuf_ struct strbuf l = {0};
	char *save = NULL, *line;

	list_files(from, "", &l);
	for (line = strtok_r(l.s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		_cleanup_free_ char *s = read_str(from, line);

		if (!s)
			return -1;
		write_str(to, line, s);
	}
	return 0;
}

static char *fixture(const char *rel)
{
	return dk_path_join(fixtures, rel);
}

/* ---- in memory ---- */

static const char *ten = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n";
static const char *five_patch = "--- a/f\n+++ b/f\n"
				"@@ -3,5 +3,5 @@\n"
				" three\n four\n-five\n+FIVE\n six\n seven\n";

static void test_offset(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL, *in = NULL, *out2 = NULL,
			    *msg2 = NULL, *out3 = NULL, *msg3 = NULL;

	is_int(apply_mem(five_patch, ten, &out, &msg), 0,
	       "hunk applies where its header says");
	is_str(out, "one\ntwo\nthree\nfour\nFIVE\nsix\nseven\neight\nnine\nten\n",
	       "the changed line is replaced");
	in = dk_strdup_printf("a\nb\nc\nd\ne\nf\ng\n%s", ten);
	is_int(apply_mem(five_patch, in, &out2, &msg2), 0, "hunk applies 7 lines later");
	ok(out2 && strstr(out2, "g\none\ntwo\nthree\nfour\nFIVE\nsix\n"), "at offset +7");
	is_int(apply_mem(five_patch, ten + strlen("one\ntwo\n"), &out3, &msg3), 0,
	       "hunk applies 2 lines earlier");
	is_str(out3, "three\nfour\nFIVE\nsix\nseven\neight\nnine\nten\n", "at offset -2");
}

/* Two places fit; the nearer one to the header's line wins, as in GNU patch. */
static void test_offset_nearest(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL;
	const char *in = "x\nA\nB\nC\nx\nx\nx\nx\nx\nx\nx\nA\nB\nC\nx\n";
	const char *patch = "--- a/f\n+++ b/f\n@@ -10,3 +10,3 @@\n A\n-B\n+b\n C\n";

	is_int(apply_mem(patch, in, &out, &msg), 0,
	       "hunk with two candidate places applies");
	is_str(out, "x\nA\nB\nC\nx\nx\nx\nx\nx\nx\nx\nA\nb\nC\nx\n",
	       "at the candidate nearest to its header's line (12, not 2)");
}

/* The second hunk keeps the first one's offset. */
static void test_offset_carried(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL;
	const char *patch = "--- a/f\n+++ b/f\n"
			    "@@ -1,2 +1,2 @@\n-one\n+ONE\n two\n"
			    "@@ -9,2 +9,2 @@\n nine\n-ten\n+TEN\n";
	_cleanup_free_ char *in = dk_strdup_printf("%s", ten);

	is_int(apply_mem(patch, in, &out, &msg), 0, "two hunks apply");
	is_str(out, "ONE\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nTEN\n",
	       "both changes made");
}

static void test_new_file_mem(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL, *out2 = NULL, *msg2 = NULL,
			    *out3 = NULL, *msg3 = NULL;
	const char *patch = "diff --git a/n.h b/n.h\nnew file mode 100755\nindex 0..1\n"
			    "--- /dev/null\n+++ b/n.h\n@@ -0,0 +1,2 @@\n+a\n+b\n";

	is_int(apply_mem(patch, NULL, &out, &msg), 0, "new file is created");
	is_str(out, "a\nb\n", "with the added lines");
	is_int(apply_mem(patch, "other\n", &out2, &msg2), -EEXIST,
	       "creating a file that exists fails");
	is_str(msg2, "fix.patch: n.h already exists and the patch creates it",
	       "message says it exists");
	is_int(apply_mem(patch, "a\nb\n", &out3, &msg3), -EEXIST,
	       "creating it again fails too");
	ok(msg3 && strstr(msg3, "already applied"), "and says it is already applied: %s",
	   msg3);
}

static void test_deleted_file_mem(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL, *out2 = NULL, *msg2 = NULL,
			    *out3 = NULL, *msg3 = NULL;
	const char *patch = "--- a/d\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n";

	is_int(apply_mem(patch, "x\ny\n", &out, &msg), 0, "deleting a file succeeds");
	ok(!out, "deleted: no content");
	is_int(apply_mem(patch, "x\ny\nz\n", &out2, &msg2), -EBADMSG,
	       "deleting a file with more lines than the patch knows fails");
	ok(msg2 && strstr(msg2, "keeps 2 bytes"), "message says what is left: %s", msg2);
	is_int(apply_mem(patch, NULL, &out3, &msg3), -ENOENT,
	       "deleting a missing file fails with ENOENT");
	ok(msg3 && strstr(msg3, "d does not exist") && strstr(msg3, "already applied?"),
	   "message: %s", msg3);
}

static void test_no_newline(void)
{
	const char *add_nl = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n"
			     "\\ No newline at end of file\n+b\n";
	const char *drop_nl = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n"
			      "\\ No newline at end of file\n";
	const char *ctx_nl = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n"
			     "\\ No newline at end of file\n";
	char *out, *msg;

	is_int(apply_mem(add_nl, "a\nb", &out, &msg), 0, "newline added at end of file");
	is_str(out, "a\nb\n", "file now ends with a newline");
	free(out);
	is_int(apply_mem(drop_nl, "a\nb\n", &out, &msg), 0, "newline removed at end");
	is_str(out, "a\nb", "file now ends without a newline");
	free(out);
	is_int(apply_mem(ctx_nl, "a\nb", &out, &msg), 0,
	       "context line without newline at end");
	is_str(out, "A\nb", "kept without newline");
	free(out);
	is_int(apply_mem(ctx_nl, "a\nb\n", &out, &msg), -EBADMSG,
	       "a newline where the patch has none is a mismatch");
	ok(msg && strstr(msg,
			 "line 2 expected 'b' without newline at end of file, found 'b'"),
	   "message: %s", msg);
	free(msg);
	is_int(apply_mem(add_nl, "a\nb\n", &out, &msg), -EBADMSG,
	       "applying the newline fix twice fails");
	ok(msg && strstr(msg, "already applied"), "as already applied: %s", msg);
	free(msg);
}

/* The message of the brief: which patch, hunk, header, file, line, expected and found. */
static void test_message(void)
{
	_cleanup_strbuf_ struct strbuf in = {0}, patch = {0};
	_cleanup_free_ char *out = NULL, *msg = NULL;
	const char *call =
		"    r = pci_resize_resource(pci_dev, NV_GPU_BAR1, requested_size);";

	for (int i = 1; i <= 230; i++)
		if (i == 221)
			strbuf_puts(&in, "    r = pci_resize_resource(pci_dev, "
					 "NV_GPU_BAR1, size);\n");
		else
			strbuf_printf(&in, "line %d\n", i);
	strbuf_puts(
		&patch,
		"diff --git a/nvidia/nv-pci.c b/nvidia/nv-pci.c\n"
		"--- a/nvidia/nv-pci.c\n+++ b/nvidia/nv-pci.c\n"
		"@@ -10,3 +10,3 @@ static void f(void)\n line 10\n-line 11\n+LINE 11\n"
		" line 12\n"
		"@@ -218,7 +218,7 @@ static int nv_resize_pcie_bars(struct pci_dev "
		"*pci_dev) {\n line 218\n line 219\n line 220\n");
	strbuf_printf(&patch,
		      "-%s\n+    r = pci_resize_resource(pci_dev, NV_GPU_BAR1, "
		      "requested_size, 0);\n line 222\n line 223\n line 224\n",
		      call);
	is_int(apply_mem(patch.s, in.s, &out, &msg), -EBADMSG,
	       "hunk that does not apply");
	is_str(msg,
	       "fix.patch: hunk #2 (@@ -218,7 +218,7 @@) of nvidia/nv-pci.c does not "
	       "apply: "
	       "line 221 expected '    r = pci_resize_resource(pci_dev, NV_GPU_BAR1, "
	       "requested_size);', found '    r = pci_resize_resource(pci_dev, "
	       "NV_GPU_BAR1, "
	       "size);'",
	       "message names patch, hunk, header, file, line, expected and found");
}

static void test_message_tabs(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL;
	const char *patch =
		"--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-\tb();\n+\tc();\n d\n";

	is_int(apply_mem(patch, "a\n        b();\nd\n", &out, &msg), -EBADMSG,
	       "tab in the patch against spaces in the file");
	ok(msg && strstr(msg, "line 2 expected '\\tb();', found '        b();'"),
	   "the tab is shown: %s", msg);
}

static void test_message_eof(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL;

	is_int(apply_mem(five_patch, "one\ntwo\nthree\nfour\n", &out, &msg), -EBADMSG,
	       "hunk past the end of a short file");
	ok(msg && strstr(msg, "found the end of the file"), "message: %s", msg);
}

static void test_already_applied_mem(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL, *out2 = NULL, *msg2 = NULL;

	is_int(apply_mem(five_patch, ten, &out, &msg), 0, "applies once");
	is_int(apply_mem(five_patch, out, &out2, &msg2), -EBADMSG, "not twice");
	is_str(msg2,
	       "fix.patch: hunk #1 (@@ -3,5 +3,5 @@) of f does not apply: already "
	       "applied "
	       "(its result is at line 3)",
	       "the second time it says already applied");
}

/* A hunk whose context is cut short by the end of the file applies only there. */
static void test_anchored_end(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL;
	const char *patch = "--- a/f\n+++ b/f\n@@ -2,3 +2,3 @@\n a\n b\n-c\n+C\n";

	is_int(apply_mem(patch, "x\na\nb\nc\ny\n", &out, &msg), -EBADMSG,
	       "end-of-file hunk does not apply in the middle");
	ok(msg && strstr(msg, "applies only at the end of the file"), "message: %s", msg);
}

/* Hunks whose contexts share a line apply, as in GNU patch: the context after a hunk's
 * last change stays free for the next hunk. */
static void test_overlapping_context(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL;
	const char *patch = "--- a/f\n+++ b/f\n@@ -2,3 +2,3 @@\n 2\n-3\n+T\n 4\n"
			    "@@ -4,3 +4,3 @@\n 4\n-5\n+F\n 6\n";

	is_int(apply_mem(patch, "1\n2\n3\n4\n5\n6\n7\n", &out, &msg), 0,
	       "second hunk's context overlaps the first's: %s", msg ? msg : "");
	is_str(out, "1\n2\nT\n4\nF\n6\n7\n", "both applied");
}

/* Lines added after a last line without newline: it gets one, as in GNU patch. */
static void test_append_after_no_newline(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL, *out2 = NULL, *msg2 = NULL;
	const char *patch = "--- a/f\n+++ b/f\n@@ -2,0 +3 @@\n+c\n";
	const char *nonl_mid = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+A\n"
			       "\\ No newline at end of file\n";

	is_int(apply_mem(patch, "a\nb", &out, &msg), 0,
	       "line added after 'b' without newline");
	is_str(out, "a\nb\nc\n", "'b' got its newline");
	is_int(apply_mem(nonl_mid, "a\nb\n", &out2, &msg2), 0,
	       "a no-newline line that the file's drift moved off the end");
	is_str(out2, "A\nb\n", "keeps its newline");
}

/* Without context, the hunk's result elsewhere may be chance: asked, not said. */
static void test_already_applied_weak(void)
{
	_cleanup_free_ char *out = NULL, *msg = NULL;
	const char *patch = "--- a/f\n+++ b/f\n@@ -3 +3 @@\n-c\n+C\n";

	is_int(apply_mem(patch, "a\nb\nx\nd\nC\n", &out, &msg), -EBADMSG,
	       "diff -U0 hunk that does not apply");
	ok(msg && strstr(msg,
			 "line 3 expected 'c', found 'x' (already applied? its result "
			 "is at line 5)"),
	   "message: %s", msg);
}

static void test_sections(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_patch_ struct dk_patch *p = NULL;
	const char *text = "From 1234 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] fix\n\n"
			   "A commit message with --- inside it.\n---\n f | 2 +-\n\n"
			   "diff --git a/f b/f\nold mode 100644\nnew mode 100755\n"
			   "index 1..2\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n--- x\n+-- x\n"
			   "diff --git a/e b/e\nnew file mode 100644\nindex 0..e69de29\n"
			   "diff --git \"a/sp ace\" \"b/sp ace\"\n--- \"a/sp ace\"\n"
			   "+++ \"b/sp ace\"\n@@ -1 +1 @@\n-a\n+b\n-- \n2.39.2\n";
	int r = dk_patch_parse("fix.patch", text, strlen(text), 1, &p, &err);

	is_int(r, 0, "format-patch mail with three sections parses: %s",
	       r < 0 ? err->msg : "");
	if (r < 0)
		return;
	is_int(p->n_files, 3, "three sections");
	is_int(p->files[0].mode, 0755, "git mode change read");
	ok(p->files[0].hunks[0].lines[0].len == 4 &&
		   !memcmp(p->files[0].hunks[0].lines[0].text, "-- x", 4),
	   "removed line '-- x' read by count");
	ok(p->files[1].creates && !p->files[1].n_hunks, "empty new file without hunks");
	is_str(p->files[1].new_path, "e", "its name from the diff --git line");
	is_str(p->files[2].new_path, "sp ace", "quoted git names unquoted");
	is_int(p->files[0].line, 8, "section line numbers kept");
}

static void test_malformed(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"--- a/f\n+++ b/f\n@@ -1,2 +1,2 @\n a\n",
		 "fix.patch:3: malformed hunk header"},
		{"--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n",
		 "fix.patch:5: the patch ends "
		 "inside hunk #1"},
		{"--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n*b\n",
		 "fix.patch:5: hunk #1 (@@ -1,2 "
		 "+1,2 @@) has a line starting "
		 "with '*'"},
		{"--- a/f\n+++ b/f\n@@ -1,1 +1,1 @@\n-a\n+b\n+c\n",
		 "fix.patch:6: hunk #1 has more lines than its header"},
		{"--- a/f\n+++ b/f\nno hunk\n", "fix.patch:2: no hunk"},
		{"just text\n", "fix.patch: not a unified diff"},
		{"diff --git a/f b/f\nrename from f\nrename to g\n",
		 "fix.patch:2: 'rename from f': not supported"},
		{"diff --git a/f b/f\nGIT binary patch\n",
		 "fix.patch:2: 'GIT binary patch'"},
		{"--- a/f\n+++ b/f\n@@ -1 +1 @@\n\\ No newline at end of file\n-a\n+b\n",
		 "fix.patch:4: '\\' line before any line of hunk #1"},
		/* found by tests/fuzz (patch): strcmp of NULL, SIGSEGV */
		{"diff --git a/src/v++ /dev/null",
		 "fix.patch:1: the diff --git line of the section at line 1 names "
		 "/dev/null"},
		{"diff --git /dev/null b/dev/nul\n",
		 "fix.patch:1: the diff --git line of the section at line 1 names "
		 "/dev/null"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *msg = NULL;
		int r = parse_msg(cases[i].text, 1, &msg);

		ok(r == -EBADMSG && msg && startswith(msg, cases[i].want),
		   "malformed case %zu: %s", i, msg ? msg : "(parsed)");
	}
}

static void test_paths_refused(void)
{
	static const struct {
		const char *name;
		int strip;
		const char *want;
	} cases[] = {
		{"a/../x", 1, "leaves the tree"},
		{"a/b/../../../x", 1, "leaves the tree"},
		{"/etc/passwd", 0, "absolute path"},
		{"a", 1, "cannot strip 1"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *text =
			dk_strdup_printf("--- %s\n+++ %s\n@@ -1 +1 @@\n-a\n+b\n",
					 cases[i].name, cases[i].name);
		_cleanup_free_ char *msg = NULL;
		int r = parse_msg(text, cases[i].strip, &msg);

		ok(r == -EBADMSG && msg && strstr(msg, cases[i].want),
		   "path %s refused: %s", cases[i].name, msg ? msg : "(parsed)");
	}
}

static void test_limits_mem(void)
{
	_cleanup_free_ char *msg = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_patch_ struct dk_patch *p = NULL;
	int r;

	r = dk_patch_parse("big.patch", "", DK_PATCH_MAX_PATCH + 1, 1, &p, &err);
	is_int(r, -EFBIG, "a patch over 64 MiB is refused before it is read");
}

/* A hunk that fails on a file of 200000 equal lines: every position is tried, each
 * stops at its second line. Then the same hunk 99995 lines before its header's line. */
static void test_no_quadratic(void)
{
	_cleanup_strbuf_ struct strbuf in = {0}, patch = {0};
	_cleanup_free_ char *out = NULL, *msg = NULL, *out2 = NULL, *msg2 = NULL;
	struct timespec t0, t1, t2;

	for (int i = 0; i < 200000; i++)
		strbuf_puts(&in, "\tx = x + 1;\n");
	strbuf_puts(&patch, "--- a/f\n+++ b/f\n@@ -100000,3 +100000,3 @@\n");
	strbuf_puts(&patch,
		    " \tx = x + 1;\n-\tx = x + 2;\n+\tx = x + 3;\n \tx = x + 1;\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(apply_mem(patch.s, in.s, &out, &msg), -EBADMSG,
	       "failing hunk on a big file");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	memcpy(in.s + 5 * strlen("\tx = x + 1;\n"), "\tx = x + 2;\n",
	       strlen("\tx = x + 2;\n"));
	is_int(apply_mem(patch.s, in.s, &out2, &msg2), 0,
	       "hunk 99995 lines before its header's line applies");
	ok(out2 && !strncmp(out2 + 5 * strlen("\tx = x + 1;\n"), "\tx = x + 3;\n", 12),
	   "there");
	clock_gettime(CLOCK_MONOTONIC, &t2);
	printf("# 200000 lines: failure in %.3f s, offset -99995 in %.3f s\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9);
	ok((t2.tv_sec - t0.tv_sec) < 10, "both in well under 10 s");
}

/* ---- trees ---- */

static void test_plain_fixture(void)
{
	_cleanup_free_ char *d = case_dir("plain"), *a = fixture("patch/plain/a"),
			    *b = fixture("patch/plain/b"),
			    *pf = fixture("patch/plain.diff");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;
	struct stat st;

	copy_tree(a, d);
	is_int(run_patch(d, pf, &msg), 0, "diff -ruN fixture applies: %s",
	       msg ? msg : "");
	ok(same_tree(d, b), "tree equals the fixture's new tree (modified, new, deleted, "
			    "no newline at end)");
	ok(stat(d, &st) == 0, "tree is there");
	is_int(run_patch(d, pf, &msg2), -EBADMSG, "applying it again fails");
	ok(msg2 && strstr(msg2,
			  "hunk #1 (@@ -1,6 +1,7 @@) of hello.c does not apply: already "
			  "applied"),
	   "as already applied: %s", msg2);
}

static void test_git_fixture(void)
{
	_cleanup_free_ char *d = case_dir("git"), *a = fixture("patch/git/old"),
			    *b = fixture("patch/git/new"),
			    *pf = fixture("patch/git.patch");
	_cleanup_free_ char *msg = NULL, *doc = dk_path_join(d, "doc");
	struct stat st;

	copy_tree(a, d);
	is_int(run_patch(d, pf, &msg), 0, "git diff fixture applies: %s", msg ? msg : "");
	ok(same_tree(d, b), "tree equals the fixture's new tree");
	ok(stat(doc, &st) == 0 && S_ISDIR(st.st_mode),
	   "the deleted file's directory stays");
}

static void test_all_or_nothing(void)
{
	_cleanup_free_ char *d = case_dir("atomic"),
			    *pf = dk_path_join(d, "../atomic.patch");
	_cleanup_free_ char *msg = NULL, *x = NULL, *y = NULL;
	_cleanup_strbuf_ struct strbuf files = {0};

	write_str(d, "x", "1\n2\n3\n");
	write_str(d, "y", "a\nb\nc\n");
	write_str(tmpdir, "atomic.patch",
		  "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n 1\n-2\n+TWO\n 3\n"
		  "--- /dev/null\n+++ b/new/z\n@@ -0,0 +1 @@\n+z\n"
		  "--- a/y\n+++ b/y\n@@ -1,3 +1,3 @@\n a\n-B\n+bee\n c\n");
	is_int(run_patch(d, pf, &msg), -EBADMSG, "second file's hunk fails");
	ok(msg && strstr(msg, "of y does not apply: line 2 expected 'B', found 'b'"),
	   "message names y: %s", msg);
	x = read_str(d, "x");
	y = read_str(d, "y");
	is_str(x, "1\n2\n3\n", "first file untouched");
	is_str(y, "a\nb\nc\n", "second file untouched");
	list_files(d, "", &files);
	is_str(strbuf_str(&files), "x\ny\n", "no new file, directory or temp file left");
}

static void test_tree_new_deleted_mode(void)
{
	_cleanup_free_ char *d = case_dir("modes"),
			    *pf = dk_path_join(tmpdir, "modes.patch");
	_cleanup_free_ char *msg = NULL, *s = NULL, *gone = NULL, *kept = NULL,
			    *made = NULL;
	struct stat st;

	write_str(d, "run.sh", "echo a\n");
	write_str(d, "keep.sh", "x\n");
	write_str(d, "sub/gone", "bye\n");
	chmod(kept = dk_path_join(d, "keep.sh"), 0750);
	write_str(tmpdir, "modes.patch",
		  "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n"
		  "diff --git a/keep.sh b/keep.sh\n--- a/keep.sh\n+++ b/keep.sh\n"
		  "@@ -1 +1 @@\n-x\n+y\n"
		  "diff --git a/sub/gone b/sub/gone\ndeleted file mode 100644\n"
		  "--- a/sub/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
		  "diff --git a/deep/er/new.c b/deep/er/new.c\nnew file mode 100644\n"
		  "--- /dev/null\n+++ b/deep/er/new.c\n@@ -0,0 +1 @@\n+int x;\n");
	is_int(run_patch(d, pf, &msg), 0, "mode change, edit, delete, create: %s",
	       msg ? msg : "");
	s = dk_path_join(d, "run.sh");
	ok(stat(s, &st) == 0 && (st.st_mode & 07777) == 0755, "git mode change applied");
	ok(stat(kept, &st) == 0 && (st.st_mode & 07777) == 0750,
	   "edited file keeps its mode");
	gone = dk_path_join(d, "sub/gone");
	ok(!dk_path_exists(gone), "deleted file removed");
	made = read_str(d, "deep/er/new.c");
	is_str(made, "int x;\n", "new file created with its directories");
}

static void test_missing_target(void)
{
	_cleanup_free_ char *d = case_dir("missing"), *pf = fixture("patch/plain.diff");
	_cleanup_free_ char *msg = NULL;

	is_int(run_patch(d, pf, &msg), -ENOENT, "patching an empty tree: ENOENT");
	ok(msg && strstr(msg, "patch/plain.diff: hello.c does not exist in ") &&
		   strstr(msg, "/missing"),
	   "message names the file and the tree: %s", msg);
}

static void test_symlinks_refused(void)
{
	_cleanup_free_ char *d = case_dir("links"), *out = case_dir("links-outside");
	_cleanup_free_ char *pf = dk_path_join(tmpdir, "links.patch"), *link = NULL,
			    *flink = NULL, *target = NULL, *msg = NULL, *msg2 = NULL,
			    *after = NULL, *pf2 = dk_path_join(tmpdir, "links2.patch");

	write_str(out, "f", "a\n");
	link = dk_path_join(d, "dir");
	flink = dk_path_join(d, "file");
	target = dk_path_join(out, "f");
	if (symlink(out, link) < 0 || symlink(target, flink) < 0)
		printf("# symlink failed\n");
	write_str(tmpdir, "links.patch",
		  "--- a/dir/f\n+++ b/dir/f\n@@ -1 +1 @@\n-a\n+b\n");
	write_str(tmpdir, "links2.patch",
		  "--- a/file\n+++ b/file\n@@ -1 +1 @@\n-a\n+b\n");
	is_int(run_patch(d, pf, &msg), -ELOOP,
	       "a directory symlink out of the tree: ELOOP");
	ok(msg && strstr(msg, "dir/f in") && strstr(msg, "symbolic link: refused"),
	   "message: %s", msg);
	is_int(run_patch(d, pf2, &msg2), -ELOOP, "a file symlink: ELOOP");
	after = read_str(out, "f");
	is_str(after, "a\n", "the file outside is untouched");
}

static void test_limits_tree(void)
{
	_cleanup_free_ char *d = case_dir("limits"), *big = dk_path_join(d, "big"),
			    *pf = dk_path_join(tmpdir, "limits.patch"),
			    *bigp = dk_path_join(tmpdir, "big.patch");
	_cleanup_free_ char *msg = NULL, *msg2 = NULL;

	/* Sparse files: the sizes are refused before anything is read. */
	write_str(d, "big", "");
	if (truncate(big, (off_t)DK_PATCH_MAX_TARGET + 1) < 0)
		printf("# truncate failed\n");
	write_str(tmpdir, "limits.patch", "--- a/big\n+++ b/big\n@@ -1 +1 @@\n-a\n+b\n");
	is_int(run_patch(d, pf, &msg), -EFBIG, "a target over 256 MiB is refused");
	ok(msg && strstr(msg, "big in"), "message names it: %s", msg);
	write_str(tmpdir, "big.patch", "");
	if (truncate(bigp, (off_t)DK_PATCH_MAX_PATCH + 1) < 0)
		printf("# truncate failed\n");
	is_int(run_patch(d, bigp, &msg2), -EFBIG, "a patch file over 64 MiB is refused");
}

/* ---- GNU patch ---- */

/* patch -p1 --forward -F0 [--dry-run] -s -d dir -i file; its exit status. */
static int gnu_patch(const char *dir, const char *file, bool dry)
{
	const char *argv[] = {"/usr/bin/patch",		 "-p1", "--forward", "-F0", "-s",
			      "--no-backup-if-mismatch", "-d",	dir,	     "-i",  file,
			      dry ? "--dry-run" : NULL,	 NULL};
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_gnu_patch(void)
{
	static const char *const sets[][3] = {
		{"patch/plain/a", "patch/plain/b", "patch/plain.diff"},
		{"patch/git/old", "patch/git/new", "patch/git.patch"},
	};

	if (access("/usr/bin/patch", X_OK) < 0) {
		skip("GNU patch is not installed (/usr/bin/patch)");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sets); i++) {
		_cleanup_free_ char *a = fixture(sets[i][0]), *b = fixture(sets[i][1]),
				    *pf = fixture(sets[i][2]), *msg = NULL, *msg2 = NULL;
		_cleanup_free_ char *ours = case_dir("gnu-ours"),
				    *gnu = case_dir("gnu-gnu");
		_cleanup_free_ char *hello =
			dk_path_join(ours, i ? "src/main.c" : "hello.c");

		copy_tree(a, ours);
		copy_tree(a, gnu);
		is_int(gnu_patch(gnu, pf, true), 0, "GNU patch --dry-run -F0 accepts %s",
		       pf);
		is_int(gnu_patch(gnu, pf, false), 0, "GNU patch applies %s", pf);
		is_int(run_patch(ours, pf, &msg), 0, "so does dk_patch_apply: %s",
		       msg ? msg : "");
		ok(same_tree(ours, gnu) && same_tree(gnu, b), "both give the same tree");
		/* Break the second hunk of the first modified file: both refuse it. */
		fx_rm_rf(ours);
		copy_tree(a, ours);
		write_str(ours, i ? "src/main.c" : "hello.c",
			  i ? "int main(void)\n{\n}\n" : "#include <stdio.h>\n");
		is_int(gnu_patch(ours, pf, true), 1,
		       "GNU patch --dry-run refuses a broken tree");
		is_int(run_patch(ours, pf, &msg2), -EBADMSG, "so does dk_patch_apply");
		printf("# %s\n", msg2 ? msg2 : "(applied)");
	}
}

int main(void)
{
	fixtures = getenv("DK_FIXTURES");
	if (!fixtures || !mkdtemp(tmpdir)) {
		printf("1..0 # SKIP DK_FIXTURES not set or no temp dir\n");
		return 0;
	}
	test_offset();
	test_offset_nearest();
	test_offset_carried();
	test_new_file_mem();
	test_deleted_file_mem();
	test_no_newline();
	test_message();
	test_message_tabs();
	test_message_eof();
	test_already_applied_mem();
	test_anchored_end();
	test_overlapping_context();
	test_append_after_no_newline();
	test_already_applied_weak();
	test_sections();
	test_malformed();
	test_paths_refused();
	test_limits_mem();
	test_no_quadratic();
	test_plain_fixture();
	test_git_fixture();
	test_all_or_nothing();
	test_tree_new_deleted_mode();
	test_missing_target();
	test_symlinks_refused();
	test_limits_tree();
	test_gnu_patch();
	fx_rm_rf(tmpdir);
	return tap_done();
}
