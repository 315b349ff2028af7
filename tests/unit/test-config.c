/* SPDX-License-Identifier: Apache-2.0 */
/* YAML config v1: a full config, defaults, and each kind of error with its
 * file:line:column and key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fsutil.h"
#include "config/config.h"

#include "tap.h"

static const char good[] =
	"state_dir: /run/nvidia-drvkit\n"
	"ready_file: /run/nvidia/validations/.driver-ctr-ready\n"
	"termination_log: /dev/termination-log\n"
	"host_root: /host\n"
	"grace_period: 30\n"
	"unload_other_versions: true\n"
	"firmware_path: /lib/firmware/nvidia\n"
	"signing:\n"
	"  key: /etc/drvkit/key.pem\n"
	"  cert: /etc/drvkit/cert.der\n"
	"components:\n"
	"  - name: example\n"
	"    source: { dir: /opt/drvkit/modules/$KVER }\n"
	"    modules:\n"
	"      - name: dktest_export\n"
	"      - name: dktest-params\n"
	"        params: { count: 7, label: hello world, enable: true }\n"
	"      - dktest_user\n"
	"    replaces: [ mlx5_ib, mlx5_core ]\n"
	"    restore: true\n";

static int parse(const char *text, struct dk_config **cfg, struct dk_error **err)
{
	return dk_config_parse("config.yaml", text, strlen(text), cfg, err);
}

static void test_good(void)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	int r = parse(good, &cfg, &err);
	const struct dk_config_component *c;
	char *params;

	is_int(r, 0, "good config parses%s%s", err ? ": " : "", err ? err->msg : "");
	if (r < 0)
		return;
	is_str(cfg->state_dir, "/run/nvidia-drvkit", "state_dir");
	is_str(cfg->ready_file, "/run/nvidia/validations/.driver-ctr-ready",
	       "ready_file");
	is_str(cfg->host_root, "/host", "host_root");
	is_int(cfg->grace_period, 30, "grace_period");
	ok(cfg->unload_other_versions, "unload_other_versions");
	is_str(cfg->firmware_path, "/lib/firmware/nvidia", "firmware_path");
	ok(cfg->signing && streq(cfg->signing->hash, "sha256"), "signing hash default");
	is_int(cfg->n_components, 1, "one component");
	c = &cfg->components[0];
	is_str(c->source_dir, "/opt/drvkit/modules/$KVER", "source.dir kept with $KVER");
	is_int(c->n_modules, 3, "three modules");
	is_str(c->modules[1].name, "dktest_params", "module name: - becomes _");
	is_str(c->modules[2].name, "dktest_user", "short form '- name'");
	is_int(c->modules[1].line, 16, "module line remembered");
	is_int(c->modules[1].n_params, 3, "three params");
	params = dk_params_string(c->modules[1].params, c->modules[1].n_params);
	is_str(params, "count=7 label=\"hello world\" enable=true",
	       "params string quotes spaces");
	free(params);
	is_int(c->n_replaces, 2, "replaces");
	ok(c->restore, "restore");
}

static void test_defaults(void)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	int r = parse("components:\n"
		      "  - name: x\n"
		      "    source: { dir: /m }\n"
		      "    modules: [ a ]\n",
		      &cfg, &err);

	is_int(r, 0, "minimal config parses");
	if (r < 0)
		return;
	is_str(cfg->state_dir, "/run/drvkit", "default state_dir");
	is_str(cfg->ready_file, "/run/drvkit/ready", "default ready_file");
	is_str(cfg->termination_log, "/dev/termination-log", "default termination_log");
	is_str(cfg->host_root, "/", "default host_root");
	is_int(cfg->grace_period, 25, "default grace_period");
	ok(!cfg->unload_other_versions, "default unload_other_versions false");
	ok(!cfg->signing && !cfg->firmware_path, "no signing, no firmware path");
	ok(!cfg->components[0].restore, "default restore false");
}

struct bad {
	const char *text;
	const char *want; /* substring of the message */
	const char *desc;
};

static const struct bad bads[] = {
	{"components:\n"
	 "  - name: x\n"
	 "    source: { dir: /m }\n"
	 "    modules:\n"
	 "      - name: a\n"
	 "      - name: b\n"
	 "        params: [ 1, 2 ]\n",
	 "config.yaml:7:17: components[0].modules[1].params: expected a mapping of name: "
	 "value",
	 "params not a mapping"},
	{"grace_periode: 3\n",
	 "config.yaml:1:1: grace_periode: unknown key (did you mean "
	 "'grace_period'?)",
	 "unknown key with a suggestion"},
	{"components:\n  - name: x\n    sorce: { dir: /m }\n",
	 "config.yaml:3:5: components[0].sorce: unknown key (did you mean 'source'?)",
	 "unknown nested key"},
	{"zzz: 1\n", "unknown key (known: state_dir, ready_file",
	 "unknown key lists known"},
	{"grace_period: soon\ncomponents: []\n",
	 "config.yaml:1:15: grace_period: expected a number, got 'soon'", "not a number"},
	{"grace_period: -1\n", "config.yaml:1:15: grace_period: -1 is out of range",
	 "out of range"},
	{"unload_other_versions: maybe\n",
	 "config.yaml:1:24: unload_other_versions: expected true or false", "not a bool"},
	{"state_dir: run/drvkit\n",
	 "config.yaml:1:12: state_dir: expected an absolute path, got 'run/drvkit'",
	 "relative path"},
	{"state_dir: /run\n", "config.yaml:1:1: components: required key is missing",
	 "components missing"},
	{"components:\n  - name: x\n    modules: [ a ]\n",
	 "config.yaml:2:5: components[0].source: required key is missing",
	 "source missing"},
	{"components:\n  - name: x\n    source: { dir: /m }\n    modules: []\n",
	 "config.yaml:4:14: components[0].modules: expected at least one module",
	 "empty module list"},
	{"components:\n  - name: x\n    source: { dir: /m }\n    modules: [ 'a b' ]\n",
	 "components[0].modules[0]: 'a b' is not a module name", "bad module name"},
	{"components:\n  - name: x\n    source: { dir: /m }\n    modules: [ a, a ]\n",
	 "components[0].modules[1]: module a is listed twice", "duplicate module"},
	{"components:\n  - name: x\n    source: { dir: /m }\n    modules: [ a ]\n"
	 "    restore: sometimes\n",
	 "config.yaml:5:14: components[0].restore: expected true or false",
	 "restore not a bool"},
	{"signing: { key: /k }\ncomponents: []\n",
	 "config.yaml:1:10: signing.cert: required key is missing",
	 "signing without cert"},
	{"signing: { key: /k, cert: /c, hash: md5 }\n",
	 "config.yaml:1:37: signing.hash: unsupported hash 'md5'", "bad hash"},
	{"components: [\n", "config.yaml:2:1: did not find expected node content",
	 "YAML syntax error has a position"},
	{"state_dir: /a\nstate_dir: /b\n", "config.yaml:2:1: state_dir: given twice",
	 "key given twice"},
	{"- a\n- b\n", "config.yaml:1:1: expected a mapping, got a list",
	 "top level not a mapping"},
	{"", "config.yaml: the file is empty", "empty file"},
	{"components:\n  - name: x\n    source: { dir: /m }\n    modules:\n"
	 "      - name: a\n        params: { count: { x: 1 } }\n",
	 "config.yaml:6:26: components[0].modules[0].params.count: expected a scalar",
	 "param value not a scalar"},
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		_cleanup_config_ struct dk_config *cfg = NULL;
		_cleanup_error_ struct dk_error *err = NULL;
		int r = parse(bads[i].text, &cfg, &err);

		ok(r == -EBADMSG && err && strstr(err->msg, bads[i].want), "%s",
		   bads[i].desc);
		if (!(r == -EBADMSG && err && strstr(err->msg, bads[i].want)))
			printf("#   got %d '%s'\n#   want '%s'\n", r, err ? err->msg : "",
			       bads[i].want);
	}
}

static void test_missing_file(void)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	_cleanup_error_ struct dk_error *err = NULL;

	is_int(dk_config_load("/nonexistent/drvkit.yaml", &cfg, &err), -ENOENT,
	       "missing file is ENOENT");
}

/* The --params-file of `drvkit load`: written to a file, read back or refused. */
static int params(const char *text, struct dk_config_module **mods, size_t *n,
		  struct dk_error **err)
{
	char path[] = "/tmp/dk-test-params-XXXXXX";
	int fd = mkstemp(path), r;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	r = dk_params_load(path, mods, n, err);
	unlink(path);
	if (r < 0 && *err) {
		/* The temp name varies: keep what follows it. */
		char *rest = strdup((*err)->msg + strlen(path));

		free((*err)->msg);
		(*err)->msg = rest;
	}
	return r;
}

static void test_params_file(void)
{
	static const struct {
		const char *text, *want, *desc;
	} bad[] = {
		{"[a]\n", ":1:1: expected a mapping of module: { name: value }",
		 "params: a list"},
		{"a: 1\n", ":1:4: a: expected a mapping of name: value, got a scalar",
		 "params: module without a mapping"},
		{"a: {x: 1}\nb: {y: 2}\na: {z: 3}\n", ":3:1: a: given twice",
		 "params: module given twice"},
		{"a: {x: 1, x: 2}\n", ":1:11: a.x: given twice",
		 "params: param given twice"},
		{"a b: {x: 1}\n", ":1:1: 'a b' is not a module name",
		 "params: bad module name"},
		{"a: {x: [1]}\n", ":1:8: a.x: expected a scalar value",
		 "params: list value"},
		{"a: {x: 1\n", ":2:1: did not find expected ',' or '}'",
		 "params: bad YAML"},
	};
	struct dk_config_module *mods = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	size_t n = 0;
	char *s;

	is_int(params("dktest-params: { count: 7, label: hello world }\nother: {}\n",
		      &mods, &n, &err),
	       0, "params file parses");
	is_int(n, 2, "two modules");
	is_str(n ? mods[0].name : NULL, "dktest_params", "module name, - as _");
	s = n ? dk_params_string(mods[0].params, mods[0].n_params) : NULL;
	is_str(s, "count=7 label=\"hello world\"", "params string");
	free(s);
	ok(n == 2 && mods[1].n_params == 0, "empty mapping: no params");
	dk_params_free(mods, n);
	is_int(params("# nothing\n", &mods, &n, &err), 0, "empty params file parses");
	ok(n == 0 && mods == NULL, "empty params file: nothing");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dk_error_free(&err);
		is_int(params(bad[i].text, &mods, &n, &err), -EBADMSG, "%s: EBADMSG",
		       bad[i].desc);
		ok(err && startswith(err->msg, bad[i].want), "%s: message (%s)",
		   bad[i].desc, err ? err->msg : "none");
	}
	dk_error_free(&err);
	is_int(dk_params_load("/nonexistent/params.yaml", &mods, &n, &err), -ENOENT,
	       "missing params file is ENOENT");
}

int main(void)
{
	test_good();
	test_defaults();
	test_errors();
	test_missing_file();
	test_params_file();
	return tap_done();
}
