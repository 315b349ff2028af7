/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel log reader (host/kmsg.c): record parsing, which lines a failed insert
 * quotes, bytes fed as /dev/kmsg gives them (one record per read) and as a regular
 * file does (many lines, cut anywhere), and the window on a file and on /dev/kmsg. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "shared/cleanup.h"

#include "host/kmsg.h"

#include "tap.h"

static void test_parse(void)
{
	struct dk_kmsg_record rec;
	const char *l = "3,1234,5678901,-;dktest_fail: no dktest device found  ";
	const char *bad[] = {
		" SUBSYSTEM=pci", /* a continuation line */
		" DEVICE=+pci:0000:00:01.0",
		"",
		"no record",
		"3,1234;msg",			  /* no timestamp */
		"3,,5;msg",			  /* empty seq */
		"x,1,2,-;msg",			  /* prio not a number */
		"3,1,2x,-;msg",			  /* junk after the timestamp */
		"99999,1,2,-;msg",		  /* prio out of range */
		"3,99999999999999999999,2,-;msg", /* seq overflows */
		"3,1,2,-",			  /* no ';' */
	};

	is_int(dk_kmsg_parse(l, strlen(l), &rec), 0, "parse: a record");
	is_int(rec.level, LOG_ERR, "parse: level from prio");
	is_int(rec.facility, 0, "parse: facility 0 (kernel)");
	is_int(rec.seq, 1234, "parse: seq");
	is_int(rec.ts_usec, 5678901, "parse: ts_usec");
	ok(rec.msg_len == strlen("dktest_fail: no dktest device found") &&
		   memcmp(rec.msg, "dktest_fail: no dktest device found", rec.msg_len) ==
			   0,
	   "parse: message without trailing blanks");

	l = "14,7,100,-,caller=T42;user space wrote this";
	is_int(dk_kmsg_parse(l, strlen(l), &rec), 0,
	       "parse: extra fields after the flags");
	is_int(rec.facility, 1, "parse: facility LOG_USER");
	is_int(rec.level, LOG_INFO, "parse: level of prio 14");

	l = "6,8,101,c;";
	is_int(dk_kmsg_parse(l, strlen(l), &rec), 0, "parse: an empty message");
	is_int(rec.msg_len, 0, "parse: its length is 0");

	l = "4,9,102,-;a;b";
	is_int(dk_kmsg_parse(l, strlen(l), &rec), 0, "parse: ';' in the message");
	ok(rec.msg_len == 3 && memcmp(rec.msg, "a;b", 3) == 0,
	   "parse: the message keeps it");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(dk_kmsg_parse(bad[i], strlen(bad[i]), &rec), -EINVAL,
		       "parse: '%s' is not a record", bad[i]);
}

/* The quote for module after feeding text in one piece. */
static char *quote_of(const char *module, const char *text)
{
	_cleanup_kmsg_ struct dk_kmsg *k = dk_kmsg_new(module);

	if (!k || dk_kmsg_feed(k, text, strlen(text)) < 0)
		return strdup("(feed failed)");
	return dk_kmsg_quote(k);
}

static void check_quote(const char *module, const char *text, const char *want,
			const char *desc)
{
	_cleanup_free_ char *q = quote_of(module, text);

	is_str(q, want, "quote: %s", desc);
}

static void test_select(void)
{
	check_quote(
		"dktest_fail",
		"4,1,10,-;dktest_fail: loading out-of-tree module taints kernel.\n"
		"4,2,11,-;dktest_fail: module verification failed: signature and/or "
		"required key missing - tainting kernel\n"
		"6,3,12,-;DKFAIL: probing for dktest hardware\n"
		"3,4,13,-;dktest_fail: no dktest device found\n",
		"dktest_fail: no dktest device found",
		"the line naming the module, not the taint notices nor the unnamed line");
	check_quote(
		"nvidia",
		"4,1,10,-;nvidia: loading out-of-tree module taints kernel.\n"
		"4,2,10,-;nvidia: module license 'NVIDIA' taints kernel.\n"
		"4,3,10,-;Disabling lock debugging due to kernel taint\n"
		"5,4,11,-;nvidia: module verification failed: signature and/or required "
		"key missing - tainting kernel\n"
		"6,5,12,-;nvidia-nvlink: Nvlink Core is being initialized, major device "
		"number 245\n"
		" SUBSYSTEM=module\n"
		"3,6,13,-;NVRM: No NVIDIA GPU found.\n"
		"6,7,14,-;nvidia-nvlink: Unregistered Nvlink Core, major device number "
		"245\n",
		"NVRM: No NVIDIA GPU found.",
		"NVIDIA without a GPU: no line names nvidia (nvidia-nvlink is another "
		"name), the error line is quoted");
	check_quote(
		"nvidia_peermem",
		"3,1,10,-;nvidia-peermem nv_mem_client_init:551 ERROR module compiled "
		"without IB peer memory symbols present\n",
		"nvidia-peermem nv_mem_client_init:551 ERROR module compiled without IB "
		"peer memory symbols present",
		"'-' in the log names the module with '_'");
	check_quote("dktest-fail", "3,1,10,-;[dktest_fail] gone\n6,2,11,-;other\n",
		    "[dktest_fail] gone", "'_' in the log names the module with '-'");
	check_quote("dktest", "3,1,10,-;dktest_fail: x\n6,2,11,-;mydktest y\n",
		    "dktest_fail: x",
		    "a longer name is not the module (nothing names it: the error line)");
	check_quote("m", "6,1,10,-;first info\n6,2,11,-;second info\n",
		    "first info; second info", "no name, no warning: the info lines");
	check_quote(
		"m",
		"6,1,10,-;info\n12,2,11,-;m: user space may not speak for the kernel\n"
		"4,3,12,-;a warning\n",
		"a warning", "user-space records are skipped, warnings before info");
	check_quote("m", "3,1,10,-;m: same\n3,2,11,-;m: same\n3,3,12,-;m: other\n",
		    "m: same; m: other", "a repeated line is quoted once");
	check_quote("m",
		    "3,1,10,-;m: 1\n3,2,10,-;m: 2\n3,3,10,-;m: 3\n3,4,10,-;m: 4\n"
		    "3,5,10,-;m: 5\n",
		    "m: 1; m: 2; m: 3; m: 4", "at most 4 lines, the first ones");
	check_quote("m", "4,1,10,-;m: loading out-of-tree module taints kernel.\n", NULL,
		    "only taint notices: nothing to quote");
	check_quote("m", "", NULL, "an empty window: nothing to quote");
	check_quote("m", " SUBSYSTEM=x\nnot a record\n", NULL, "no records: nothing");

	{
		char text[2048];
		_cleanup_free_ char *q = NULL;
		size_t n = 0;

		for (int i = 0; i < 4; i++) {
			n += (size_t)snprintf(text + n, sizeof(text) - n,
					      "3,%d,10,-;m: ", i);
			memset(text + n, 'a' + i, 200);
			n += 200;
			text[n++] = '\n';
		}
		text[n] = '\0';
		q = quote_of("m", text);
		is_int(q ? strlen(q) : 0, DK_KMSG_MAX_BYTES,
		       "quote: capped at 512 bytes");
		ok(q && strcmp(q + strlen(q) - 3, "...") == 0,
		   "quote: a cut quote ends in ...");
		ok(q && strncmp(q, "m: aaa", 6) == 0,
		   "quote: it starts with the first line");
	}
}

static void test_feed_pieces(void)
{
	const char *text = "6,1,10,-;DKFAIL: probing\n"
			   " SUBSYSTEM=module\n"
			   "3,2,11,-;dktest_fail: no dktest device found\n"
			   " DEVICE=+module:dktest_fail\n"
			   "3,3,12,-;dktest_fail: second\n";
	size_t len = strlen(text);
	bool all = true;

	/* Every cut of the text in two reads, and byte by byte. */
	for (size_t cut = 0; cut <= len; cut++) {
		_cleanup_kmsg_ struct dk_kmsg *k = dk_kmsg_new("dktest_fail");
		_cleanup_free_ char *q = NULL;

		if (!k || dk_kmsg_feed(k, text, cut) < 0 ||
		    dk_kmsg_feed(k, text + cut, len - cut) < 0)
			all = false;
		q = k ? dk_kmsg_quote(k) : NULL;
		if (!q || strcmp(q, "dktest_fail: no dktest device found; dktest_fail: "
				    "second") != 0) {
			printf("# cut at %zu: '%s'\n", cut, q ? q : "(null)");
			all = false;
		}
	}
	ok(all, "feed: a text cut anywhere in two reads gives the same quote");
	{
		_cleanup_kmsg_ struct dk_kmsg *k = dk_kmsg_new("dktest_fail");
		_cleanup_free_ char *q = NULL;

		for (size_t i = 0; k && i < len; i++)
			if (dk_kmsg_feed(k, text + i, 1) < 0)
				break;
		q = k ? dk_kmsg_quote(k) : NULL;
		is_str(q, "dktest_fail: no dktest device found; dktest_fail: second",
		       "feed: byte by byte");
	}
	{
		/* A last line without its newline is not a record yet. */
		_cleanup_kmsg_ struct dk_kmsg *k = dk_kmsg_new("m");
		_cleanup_free_ char *q = NULL;
		const char *t = "3,1,10,-;m: cut";

		ok(k && dk_kmsg_feed(k, t, strlen(t)) == 0,
		   "feed: a line without newline");
		q = k ? dk_kmsg_quote(k) : NULL;
		is_str(q, NULL, "feed: ... is kept until its newline comes");
	}
	{
		/* A line longer than any record is skipped whole. */
		_cleanup_kmsg_ struct dk_kmsg *k = dk_kmsg_new("m");
		_cleanup_free_ char *big = malloc(20000), *q = NULL;

		if (big) {
			memcpy(big, "3,1,10,-;m: ", 12);
			memset(big + 12, 'x', 20000 - 12);
		}
		ok(k && big && dk_kmsg_feed(k, big, 10000) == 0 &&
			   dk_kmsg_feed(k, big + 10000, 10000) == 0 &&
			   dk_kmsg_feed(k, "\n3,2,11,-;m: after\n", 19) == 0,
		   "feed: an overlong line");
		q = k ? dk_kmsg_quote(k) : NULL;
		is_str(q, "m: after",
		       "feed: the overlong line is dropped, the next one kept");
	}
}

static int append(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

	return fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
}

static void test_window_file(void)
{
	char dir[] = "/tmp/dk-kmsg.XXXXXX", path[64];
	_cleanup_kmsg_ struct dk_kmsg *k = dk_kmsg_new("dktest_fail");
	_cleanup_free_ char *q = NULL;

	if (!mkdtemp(dir)) {
		skip("mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/kmsg", dir);
	{
		_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		const char *old = "3,1,10,-;dktest_fail: an earlier attempt\n";

		ok(fd >= 0 && write(fd, old, strlen(old)) == (ssize_t)strlen(old),
		   "window: a log with an older line");
	}
	is_int(dk_kmsg_open(k, path), 0, "window: open a file");
	ok(append(path, "3,2,20,-;dktest_fail: no dktest device found\n"
			" SUBSYSTEM=module\n") == 0,
	   "window: the module prints");
	dk_kmsg_read(k);
	q = dk_kmsg_quote(k);
	is_str(q, "dktest_fail: no dktest device found",
	       "window: only what was logged after the open");
	unlink(path);
	rmdir(dir);

	{
		_cleanup_kmsg_ struct dk_kmsg *k2 = dk_kmsg_new("m");
		_cleanup_free_ char *q2 = NULL;

		is_int(dk_kmsg_open(k2, "/nonexistent/kmsg"), -ENOENT,
		       "window: a missing log is ENOENT");
		dk_kmsg_read(k2);
		q2 = dk_kmsg_quote(k2);
		is_str(q2, NULL, "window: ... and quotes nothing");
	}
}

/* The real /dev/kmsg: one record per read, EAGAIN at the end; what user space
 * writes there (facility LOG_USER) is never quoted. */
static void test_window_dev(void)
{
	_cleanup_kmsg_ struct dk_kmsg *k = dk_kmsg_new("dktest_kmsg_unit");
	_cleanup_close_ int wfd = -1;
	_cleanup_free_ char *q = NULL;
	const char *line = "<3>dktest_kmsg_unit: written by test-kmsg\n";
	int r = dk_kmsg_open(k, DK_KMSG_PATH);

	if (r < 0) {
		printf("# /dev/kmsg: %s\n", strerror(-r));
		skip("/dev/kmsg not readable here");
		skip("/dev/kmsg not readable here");
		return;
	}
	ok(1, "window: /dev/kmsg opened and at its end");
	wfd = open(DK_KMSG_PATH, O_WRONLY | O_CLOEXEC);
	if (wfd < 0 || write(wfd, line, strlen(line)) < 0) {
		skip("/dev/kmsg not writable here");
		return;
	}
	dk_kmsg_read(k); /* returns: EAGAIN ends the window */
	q = dk_kmsg_quote(k);
	is_str(q, NULL, "window: a user-space record naming the module is not quoted");
}

int main(void)
{
	test_parse();
	test_select();
	test_feed_pieces();
	test_window_file();
	test_window_dev();
	return tap_done();
}
