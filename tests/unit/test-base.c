/* SPDX-License-Identifier: Apache-2.0 */
/* error chain, strbuf, json-writer, path helpers, atomic writes */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/strbuf.h"

#include "base/error.h"
#include "base/fsutil.h"

#include "tap.h"

static int fails_deep(struct dk_error **err)
{
	return dk_error_set(err, ENOENT, "open %s", "x.ko");
}

static void test_error(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	int r = fails_deep(&err);

	is_int(r, -ENOENT, "dk_error_set returns -errnum");
	r = dk_error_wrap(&err, "load %s", "nvidia");
	is_int(r, -ENOENT, "wrap keeps errnum");
	is_str(err->msg, "load nvidia: open x.ko", "wrap prefixes context");
	r = dk_error_append(&err, "; %d left", 2);
	is_int(r, -ENOENT, "append keeps errnum");
	is_str(err->msg, "load nvidia: open x.ko; 2 left",
	       "append adds after the message");
	is_int(dk_error_wrap(NULL, "x"), -EIO, "wrap without an error is -EIO");
	is_int(dk_exit_code_for(EBADMSG), DK_EXIT_BADINPUT, "EBADMSG maps to exit 3");
	is_int(dk_exit_code_for(ENOENT), DK_EXIT_NOTFOUND, "ENOENT maps to exit 4");
	ok(dk_error_hint(EKEYREJECTED) != NULL, "EKEYREJECTED has a hint");
}

static void test_json(void)
{
	struct json_writer w;

	json_init(&w, false);
	json_begin_object(&w);
	json_kv_string(&w, "a", "q\"\n\x01");
	json_key(&w, "list");
	json_begin_array(&w);
	json_int(&w, 1);
	json_bool(&w, true);
	json_null(&w);
	json_begin_object(&w);
	json_end_object(&w);
	json_end_array(&w);
	json_kv_string(&w, "n", NULL);
	json_end_object(&w);
	is_str(json_str(&w),
	       "{\"a\":\"q\\\"\\n\\u0001\",\"list\":[1,true,null,{}],\"n\":null}",
	       "json writer escapes and separates");
	json_release(&w);

	char x[] = "x", y[] = "y", z[] = "z";
	char *v[] = {x, y, NULL, z};

	json_init(&w, false);
	json_begin_object(&w);
	json_kv_strv(&w, "two", v, 2);
	json_kv_strv(&w, "upto_null", v, SIZE_MAX);
	json_kv_strv(&w, "one", v, 1);
	json_kv_strv(&w, "none", NULL, 3);
	json_end_object(&w);
	is_str(json_str(&w),
	       "{\"two\":[\"x\",\"y\"],\"upto_null\":[\"x\",\"y\"],\"one\":[\"x\"],"
	       "\"none\":[]}",
	       "json_kv_strv writes n strings, stops at NULL, NULL vector is []");
	json_release(&w);
}

static void test_strbuf_path(void)
{
	struct strbuf b;
	_cleanup_free_ char *p1 = dk_path_join("/host/", "/etc/os-release");
	_cleanup_free_ char *p2 = dk_path_join("/", "proc");
	_cleanup_free_ char *s = NULL;

	strbuf_init(&b);
	strbuf_printf(&b, "%d-%s", 7, "x");
	strbuf_putc(&b, '!');
	s = strbuf_steal(&b);
	is_str(s, "7-x!", "strbuf printf/putc");
	is_str(p1, "/host/etc/os-release", "path join strips duplicate slashes");
	is_str(p2, "/proc", "path join on /");
}

static void test_strv(void)
{
	char **v = NULL;
	size_t n = 0;

	ok(dk_strv_push(&v, &n, "tls") == 0 && dk_strv_push(&v, &n, "psample") == 0,
	   "strv: two pushed");
	ok(n == 2 && strcmp(v[0], "tls") == 0 && strcmp(v[1], "psample") == 0,
	   "strv: copies, in order");
	ok(dk_strv_contains((const char *const *)v, n, "psample") &&
		   !dk_strv_contains((const char *const *)v, n, "mlxfw"),
	   "strv: contains");
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void test_atomic(void)
{
	char dir[] = "/tmp/dk-test-XXXXXX";
	_cleanup_free_ char *path = NULL, *back = NULL;
	struct stat st;
	size_t len = 0;

	ok(mkdtemp(dir) != NULL, "mkdtemp");
	path = dk_path_join(dir, "f");
	is_int(dk_write_file_atomic(path, "hello", 5, 0640), 0, "atomic write");
	is_int(dk_read_file(path, 0, &back, &len), 0, "read back");
	is_str(back, "hello", "content round trip");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "mode applied");
	is_int(dk_write_file_atomic("/nonexistent-dir/x", "a", 1, 0644), -ENOENT,
	       "atomic write into missing dir fails with ENOENT");
	{
		_cleanup_error_ struct dk_error *err = NULL;
		_cleanup_free_ char *buf = NULL;

		is_int(dk_read_regular(path, 16, &buf, &len, &st, &err), 0,
		       "read_regular");
		ok(buf && len == 5 && streq(buf, "hello"), "read_regular: exact bytes");
		is_int(dk_read_regular(path, 4, &buf, &len, &st, &err), -EFBIG,
		       "read_regular: over max");
		ok(err && strstr(err->msg, path), "read_regular: names the file");
		is_int(dk_open_regular(dir, 16, &st, &err), -EISDIR,
		       "open_regular: directory");
		ok(err && strstr(err->msg, "is a directory"), "directory: message");
		is_int(dk_open_regular("/dev/null", 16, &st, &err), -EBADMSG,
		       "open_regular: device refused");
	}
	{
		/* issue 12: the one file reader never blocks on a FIFO, never reads a
		 * device, and checks the size before reading */
		_cleanup_error_ struct dk_error *err = NULL;
		_cleanup_free_ char *fifo = dk_path_join(dir, "fifo");
		_cleanup_free_ char *buf = NULL;

		ok(fifo && mkfifo(fifo, 0600) == 0, "mkfifo");
		is_int(dk_read_file_err(fifo, 0, &buf, &len, &err), -EBADMSG,
		       "read_file: FIFO refused without blocking");
		ok(err && strstr(err->msg, fifo) && strstr(err->msg, "is a FIFO"),
		   "read_file: FIFO: names the path and its type");
		dk_error_free(&err);
		is_int(dk_read_file(fifo, 0, &buf, &len), -EBADMSG,
		       "read_file (no message): FIFO refused");
		is_int(dk_open_regular(fifo, 16, &st, &err), -EBADMSG,
		       "open_regular: FIFO refused without blocking");
		dk_error_free(&err);
		is_int(dk_read_file_err("/dev/zero", 0, &buf, &len, &err), -EBADMSG,
		       "read_file: /dev/zero refused before reading");
		ok(err && strstr(err->msg, "/dev/zero: is a character device"),
		   "read_file: device: type said");
		dk_error_free(&err);
		is_int(dk_read_file_err(path, 4, &buf, &len, &err), -EFBIG,
		       "read_file: over the limit");
		ok(err && strstr(err->msg, "5 bytes, more than the limit of 4 bytes"),
		   "read_file: the size and the limit stated");
		is_int(dk_exit_code_for(EFBIG), DK_EXIT_BADINPUT, "EFBIG exits 3");
		is_int(dk_exit_code_for(EBADMSG), DK_EXIT_BADINPUT, "EBADMSG exits 3");
		unlink(fifo);
	}
	{
		_cleanup_free_ char *deep = dk_path_join(dir, "a/b/ready");
		_cleanup_free_ char *ab = dk_path_join(dir, "a/b");
		_cleanup_free_ char *link = dk_path_join(dir, "a/module");
		_cleanup_free_ char *base = NULL;

		is_int(dk_mkdir_parent(deep, 0755), 0, "mkdir_parent");
		ok(dk_is_dir(ab) && !dk_path_exists(deep), "the parents, not the file");
		is_int(dk_mkdir_parent("ready", 0755), 0,
		       "mkdir_parent: no directory part");
		ok(symlink("../../../module/nvidia", link) == 0, "symlink");
		is_int(dk_readlink_base(link, &base), 0, "readlink_base");
		is_str(base, "nvidia", "readlink_base: the target's last component");
		free(base);
		is_int(dk_readlink_base(ab, &base), -EINVAL, "readlink_base: not a link");
		ok(base == NULL, "readlink_base: NULL on error");
		unlink(link);
		rmdir(ab);
		*strrchr(ab, '/') = '\0';
		rmdir(ab);
	}
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_error();
	test_json();
	test_strbuf_path();
	test_strv();
	test_atomic();
	return tap_done();
}
