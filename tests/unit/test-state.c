/* SPDX-License-Identifier: Apache-2.0 */
/* init/state: state.json written and read back, and every way reading it fails. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"

#include "base/error.h"
#include "base/fsutil.h"
#include "init/state.h"

#include "tap.h"

static char dir[] = "/tmp/dk-test-state-XXXXXX";

static char *path_of(const char *name)
{
	char *p = dk_path_join(dir, name);

	if (!p)
		abort();
	return p;
}

static void put(const char *path, const char *text)
{
	if (dk_write_file_atomic(path, text, strlen(text), 0644) < 0)
		abort();
}

static void test_round_trip(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *path = path_of("state.json");
	struct dk_state st = {0}, back;
	const struct dk_state_module *m;
	static const char *const globs[] = {"/dev/dktest*",
					    "/dev/infiniband/uverbs[0-9]"};

	st.pid = 4242;
	st.kernel = strdup("6.1.0-56-amd64");
	ok(dk_state_add_module(&st, "dktest_export", "example", "/opt/m/dktest_export.ko",
			       "/cache/dktest_export.ko", "0123456789ABCDEF0123456",
			       "1.0") == 0 &&
		   dk_state_add_module(&st, "odd", NULL, "/opt/\"q\"/b\\s/\xc3\xa9\t.ko",
				       NULL, NULL, NULL) == 0 &&
		   dk_state_add_replaced(&st, "mlx5_ib", "example", true) == 0 &&
		   dk_state_add_replaced(&st, "mlx5_core", NULL, false) == 0 &&
		   dk_state_add_probed(&st, "psample") == 0 &&
		   dk_state_add_probed(&st, "tls") == 0 &&
		   dk_state_add_probed(&st, "psample") == 0 &&
		   dk_state_add_devices(&st, "dktest_export", globs, 2) == 0,
	   "state built");
	is_int(st.n_probed, 2, "a probed dependency added twice is kept once");
	is_int(dk_state_write(path, &st, &err), 0, "state written");
	is_int(dk_state_read(path, &back, &err), 0, "state read back%s%s",
	       err ? ": " : "", err ? err->msg : "");
	is_int(back.pid, 4242, "pid");
	is_str(back.kernel, "6.1.0-56-amd64", "kernel");
	is_int(back.n_modules, 2, "two modules");
	m = dk_state_find_module(&back, "dktest_export");
	ok(m != NULL, "module found");
	if (m) {
		is_str(m->component, "example", "component");
		is_str(m->path, "/opt/m/dktest_export.ko", "path");
		is_str(m->source, "/cache/dktest_export.ko",
		       "source (the file before signing)");
		is_str(m->srcversion, "0123456789ABCDEF0123456", "srcversion");
		is_str(m->version, "1.0", "version");
		ok(m->n_devices == 2 && streq(m->devices[0], "/dev/dktest*") &&
			   streq(m->devices[1], "/dev/infiniband/uverbs[0-9]"),
		   "its component's devices: globs, in order");
	}
	m = dk_state_find_module(&back, "odd");
	ok(m != NULL, "second module found");
	if (m) {
		is_str(m->path, "/opt/\"q\"/b\\s/\xc3\xa9\t.ko",
		       "escaped path round trip");
		ok(m->component == NULL && m->srcversion == NULL && m->version == NULL &&
			   m->n_devices == 0,
		   "nulls stay null, no devices");
	}
	ok(back.n_modules == 2 && streq(back.modules[0].name, "dktest_export") &&
		   streq(back.modules[1].name, "odd"),
	   "load order kept");
	is_int(back.n_replaced, 2, "two replaced");
	if (back.n_replaced == 2) {
		ok(streq(back.replaced[0].name, "mlx5_ib") && back.replaced[0].restore &&
			   streq(back.replaced[0].component, "example"),
		   "first replaced");
		ok(streq(back.replaced[1].name, "mlx5_core") &&
			   !back.replaced[1].restore &&
			   back.replaced[1].component == NULL,
		   "second replaced");
	}
	ok(back.n_probed == 2 && streq(back.probed[0], "psample") &&
		   streq(back.probed[1], "tls"),
	   "probed in-tree dependencies read back in load order");
	dk_state_remove_probed(&back, "psample");
	ok(back.n_probed == 1 && streq(back.probed[0], "tls"),
	   "a probed dependency unloaded is dropped");
	dk_state_release(&back);

	/* An empty state round-trips too. */
	dk_state_release(&st);
	is_int(dk_state_write(path, &st, &err), 0, "empty state written");
	is_int(dk_state_read(path, &back, &err), 0, "empty state read");
	ok(back.n_modules == 0 && back.n_replaced == 0 && back.n_probed == 0 &&
		   back.kernel == NULL,
	   "empty state is empty");
	dk_state_release(&back);
	unlink(path);
}

/* Reads text as a state file; returns the errno and keeps the message. */
static int read_text(const char *text, char **msg)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *path = path_of("bad.json");
	struct dk_state st;
	int r;

	put(path, text);
	r = dk_state_read(path, &st, &err);
	*msg = strdup(err ? err->msg : "");
	if (r == 0)
		dk_state_release(&st);
	return r;
}

#define has(msg, text, ...) ok(strstr((msg), (text)) != NULL, __VA_ARGS__)

static void test_damaged(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *path = path_of("state.json");
	_cleanup_free_ char *good = NULL;
	struct dk_state st = {0};
	size_t len = 0;
	char *msg = NULL;

	is_int(dk_state_read("/nonexistent/dk/state.json", &st, &err), 0,
	       "missing state file is an empty state");
	ok(st.n_modules == 0 && st.kernel == NULL && err == NULL, "and empty");

	ok(dk_state_add_module(&st, "a", "c", "/a.ko", NULL, "S", "1") == 0,
	   "module added");
	st.kernel = strdup("6.1");
	is_int(dk_state_write(path, &st, &err), 0, "written");
	dk_state_release(&st);
	ok(dk_read_file(path, 0, &good, &len) == 0, "read raw");

	good[len / 2] = '\0';
	is_int(read_text(good, &msg), -EBADMSG, "truncated file: EBADMSG");
	has(msg, "is not valid JSON (line ", "truncated: says not valid JSON and where");
	has(msg, "remove it once no module it lists is loaded",
	    "truncated: says what to do");
	has(msg, "bad.json", "truncated: names the file");
	free(msg);

	is_int(read_text("{\"version\": 1, \"modules\": [ {\"name\": 'a'} ]}", &msg),
	       -EBADMSG, "single quotes: EBADMSG");
	has(msg,
	    "is not valid JSON (line 1 column 38: expected a double-quoted string): "
	    "remove it once no module it lists is loaded",
	    "single quotes: message");
	free(msg);

	is_int(read_text("\x01\x02garbage", &msg), -EBADMSG, "binary garbage: EBADMSG");
	has(msg, "is not valid JSON", "binary garbage: not valid JSON");
	free(msg);

	is_int(read_text("", &msg), -EBADMSG, "empty file: EBADMSG");
	has(msg, "not a drvkit state file (version 1)", "empty file: not a state file");
	free(msg);

	is_int(read_text("{\"version\": 2, \"modules\": []}\n", &msg), -EBADMSG,
	       "version 2: EBADMSG");
	has(msg,
	    "not a drvkit state file (version 1): written by another drvkit version?",
	    "version 2: says so");
	free(msg);

	is_int(read_text("{\"modules\": []}\n", &msg), -EBADMSG, "no version: EBADMSG");
	has(msg, "not a drvkit state file", "no version: says so");
	free(msg);

	is_int(read_text("[1, 2]\n", &msg), -EBADMSG, "a list: EBADMSG");
	has(msg, "not a drvkit state file", "a list: not a state file");
	free(msg);

	is_int(read_text("{\"version\": 1, \"modules\": [ {\"path\": \"/a.ko\"} ]}\n",
			 &msg),
	       -EBADMSG, "module without a name: EBADMSG");
	free(msg);

	is_int(read_text("{\"version\": 1, \"replaced\": [ {\"name\": null} ]}\n", &msg),
	       -EBADMSG, "replaced with a null name: EBADMSG");
	free(msg);

	{
		static const struct {
			const char *text, *want, *desc;
		} v[] = {
			{"{\"version\": 1, \"modules\": \"nvidia\"}\n",
			 "bad.json: modules: expected a list: remove it",
			 "modules a string"},
			{"{\"version\": 1, \"replaced\": {\"a\": 1}}\n",
			 "bad.json: replaced: expected a list", "replaced a mapping"},
			{"{\"version\": 1, \"probed\": 7}\n",
			 "bad.json: probed: expected a list", "probed a number"},
			{"{\"version\": 1, \"modules\": [ {\"name\": \"../../x\"} ]}\n",
			 "bad.json: modules: a name that is not a module name",
			 "module name with ../"},
			{"{\"version\": 1, \"modules\": [ {\"name\": \"a\\u001b\"} ]}\n",
			 "bad.json: modules: a name that is not a module name",
			 "module name with a control character"},
			{"{\"version\": 1, \"modules\": [ {\"name\": "
			 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			 "aaaaa\"} ]}\n",
			 "bad.json: modules: a name that is not a module name",
			 "module name too long"},
			{"{\"version\": 1, \"replaced\": [ {\"name\": \"a b\"} ]}\n",
			 "bad.json: replaced: a name that is not a module name",
			 "replaced name with a space"},
			{"{\"version\": 1, \"probed\": [ \"x/y\" ]}\n",
			 "bad.json: probed: a name that is not a module name",
			 "probed name with /"},
			{"{\"version\": 1, \"kernel\": \"..\"}\n",
			 "bad.json: kernel: not a kernel release", "kernel .."},
			{"{\"version\": 1, \"modules\": [ {\"name\": \"a\", \"devices\": "
			 "\"/dev/a\"} ]}\n",
			 "bad.json: devices: expected a list", "devices a string"},
			{"{\"version\": 1, \"modules\": [ {\"name\": \"a\", \"devices\": "
			 "[ \"dev/a\" ]} ]}\n",
			 "bad.json: devices: a device glob that is not an absolute path",
			 "a relative device glob"},
		};

		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			is_int(read_text(v[i].text, &msg), -EBADMSG, "%s: EBADMSG",
			       v[i].desc);
			has(msg, v[i].want, "%s: names the file and the key (%s)",
			    v[i].desc, msg);
			free(msg);
		}
	}

	is_int(read_text("version: 1\nmodules: []\n", &msg), -EBADMSG,
	       "YAML instead of JSON: EBADMSG");
	has(msg, "is not valid JSON", "YAML: not valid JSON");
	free(msg);

	is_int(read_text("{\"version\": 1, \"pid\": 7, \"extra\": {\"x\": [1]}}\n", &msg),
	       0, "unknown keys are ignored");
	free(msg);

	is_int(dk_state_read(dir, &st, &err), -EISDIR, "a directory: EISDIR");
	has(err->msg, "read state file", "a directory: says read state file");
	dk_error_free(&err);

	{
		_cleanup_free_ char *nodir = path_of("no/such/dir/state.json");

		is_int(dk_state_write(nodir, &st, &err), -ENOENT,
		       "write into a missing dir");
		has(err ? err->msg : "", "check that state_dir is a writable mount",
		    "write error says what to check");
	}
	unlink(path);
}

int main(void)
{
	_cleanup_free_ char *bad = NULL;

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_round_trip();
	test_damaged();
	bad = path_of("bad.json");
	unlink(bad);
	rmdir(dir);
	return tap_done();
}
