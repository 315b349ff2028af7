/* SPDX-License-Identifier: Apache-2.0 */
/* YAML config v1: a full config, defaults, and each kind of error with its
 * file:line:column and key. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/macro.h"
#include "shared/strbuf.h"

#include "base/error.h"
#include "base/fsutil.h"
#include "base/yaml.h"
#include "config/config.h"

#include "fixture.h"
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
	{"components:\n  - name: x\n    source: { dir: /m }\n    modules: [ a-b, a_b ]\n",
	 "config.yaml:4:21: components[0].modules[1]: module a_b is listed twice (first "
	 "on line 4)",
	 "a-b and a_b are one module"},
	{"components:\n  - name: x\n    source: { dir: /m }\n    modules:\n"
	 "      - name: a\n        params: { p: \"x\\ry\" }\n",
	 "config.yaml:6:22: components[0].modules[0].params.p: a value cannot hold "
	 "double quotes, newlines or control characters",
	 "config: param value with \\r"},
	{"kernel: ..\n", "config.yaml:1:9: kernel: not a kernel release", "kernel: .."},
	{"kernel: 6.1/../../etc\n", "config.yaml:1:9: kernel: not a kernel release",
	 "kernel with / and .."},
	{"kernel: \"6.1\\x1b[2J\"\n", "config.yaml:1:9: kernel: not a kernel release",
	 "kernel with a control character"},
	{"kernel: 6.1..2\n", "config.yaml:1:9: kernel: not a kernel release",
	 "kernel with .. inside"},
	{"components:\n  - name: \"x\\x1b[2Jy\"\n    source: { dir: /m }\n"
	 "    modules: [ a ]\n",
	 "config.yaml:2:11: components[0].name: not a component name",
	 "component name "
	 "with a control character"},
	{"components:\n  - name: ../x\n    source: { dir: /m }\n    modules: [ a ]\n",
	 "config.yaml:2:11: components[0].name: not a component name",
	 "component name with /"},
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

/* daemons: defaults, durations, each readiness kind, user forms */
static void test_daemons(void)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	const struct dk_config_daemon *d;
	int r = parse(
		"components:\n"
		"  - name: x\n"
		"    source: { dir: /m }\n"
		"    modules: [ a ]\n"
		"daemon_stop_order: [ b ]\n"
		"validation: { command: [ nvidia-smi ] }\n"
		"daemons:\n"
		"  - { name: a, argv: [ pd ] }\n"
		"  - name: b\n"
		"    argv: [ fm, -c, /x.cfg ]\n"
		"    env: [ A=1 ]\n"
		"    user: '1000:2000'\n"
		"    ready: { tcp: '[::1]:6666', interval: 250ms, timeout: 2 }\n"
		"    required: false\n"
		"    restart: { policy: on-failure, initial: 500ms, max: 2m }\n"
		"    stop: { signal: SIGINT, timeout: 0 }\n"
		"    when: { path_not_empty: /proc/driver/nvidia-nvswitch/devices }\n"
		"  - { name: c, argv: [ c ], user: nobody, restart: never,\n"
		"      ready: { command: [ test, -S, /s ] } }\n",
		&cfg, &err);

	is_int(r, 0, "daemons parse%s%s", err ? ": " : "", err ? err->msg : "");
	if (r < 0)
		return;
	is_int(cfg->n_daemons, 3, "three daemons");
	d = &cfg->daemons[0];
	ok(d->required && d->restart == DK_RESTART_ALWAYS && d->stop_signal == SIGTERM &&
		   d->stop_timeout_ms == 10000 && d->backoff_initial_ms == 1000 &&
		   d->backoff_max_ms == 60000 && d->ready.kind == DK_READY_STARTED &&
		   !d->user && !d->has_ids,
	   "defaults: required, always, SIGTERM 10 s, backoff 1 s to 1 m, ready when "
	   "run");
	d = &cfg->daemons[1];
	ok(d->n_argv == 3 && d->n_env == 1 && d->has_ids && d->uid == 1000 &&
		   d->gid == 2000,
	   "argv, env, uid:gid");
	ok(d->ready.kind == DK_READY_TCP && streq(d->ready.host, "::1") &&
		   d->ready.port == 6666 && d->ready.interval_ms == 250 &&
		   d->ready.timeout_ms == 2000,
	   "ready tcp [::1]:6666, 250ms, 2 (seconds)");
	ok(!d->required && d->restart == DK_RESTART_ON_FAILURE &&
		   d->backoff_initial_ms == 500 && d->backoff_max_ms == 120000 &&
		   d->stop_signal == SIGINT && d->stop_timeout_ms == 0,
	   "required false, on-failure 500ms..2m, SIGINT, timeout 0");
	is_str(d->when.path_not_empty, "/proc/driver/nvidia-nvswitch/devices", "when");
	d = &cfg->daemons[2];
	ok(d->restart == DK_RESTART_NEVER && streq(d->user, "nobody") &&
		   d->ready.kind == DK_READY_COMMAND && d->ready.n_argv == 3,
	   "restart: never (scalar), user name, ready command");
	ok(cfg->validation && cfg->validation->n_argv == 1 &&
		   cfg->validation->timeout_ms == 60000 &&
		   cfg->validation->interval_ms == 5000,
	   "validation with default timeout 60 s, interval 5 s");
	is_int(cfg->n_daemon_stop_order, 1, "daemon_stop_order");
}

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

static int params(const char *text, struct dk_config_module **mods, size_t *n,
		  struct dk_error **err);

static void test_missing_file(void)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	char path[] = "/tmp/dk-test-big-XXXXXX";
	int fd = mkstemp(path);

	is_int(dk_config_load("/nonexistent/drvkit.yaml", &cfg, &err), -ENOENT,
	       "missing file is ENOENT");
	dk_error_free(&err);
	if (fd < 0 || ftruncate(fd, DK_YAML_MAX_BYTES + 1) < 0)
		abort();
	close(fd);
	is_int(dk_config_load(path, &cfg, &err), -EFBIG, "config over the limit: EFBIG");
	ok(err && strstr(err->msg, path) &&
		   strstr(err->msg, "is larger than the limit of 1024 KiB"),
	   "and names the file and the limit (%s)", err ? err->msg : "");
	is_int(dk_exit_code_for(EFBIG), 3, "EFBIG exits 3 (bad input)");
	unlink(path);
}

static void gen_modules(struct strbuf *b, size_t i)
{
	if (i == 0)
		strbuf_puts(
			b,
			"components:\n - name: x\n   source: {dir: /x}\n   modules:\n");
	strbuf_printf(b, "    - m%zu\n", i);
}
static void gen_params(struct strbuf *b, size_t i)
{
	if (i == 0)
		strbuf_puts(b, "components:\n - name: x\n   source: {dir: /x}\n"
			       "   modules:\n    - name: m\n      params:\n");
	strbuf_printf(b, "        p%zu: 1\n", i);
}
static void gen_components(struct strbuf *b, size_t i)
{
	if (i == 0)
		strbuf_puts(b, "components:\n");
	strbuf_printf(b, " - {name: c%zu, source: {dir: /x}, modules: [m%zu]}\n", i, i);
}
static void gen_params_file(struct strbuf *b, size_t i)
{
	strbuf_printf(b, "m%zu: {p: 1}\n", i);
}

/* Configs up to the size limit are read in well under a second (the bound here is 2
 * s for a loaded machine): long lists are refused by count before any check that
 * compares items. */
static void test_limits(void)
{
	static const struct {
		const char *desc, *want;
		void (*gen)(struct strbuf *b, size_t i);
		size_t n;
	} v[] = {
		{"512 modules", "get", gen_modules, DK_CONFIG_MAX_MODULES},
		{"513 modules",
		 "components[0].modules: 513 modules: at most 512 are allowed",
		 gen_modules, DK_CONFIG_MAX_MODULES + 1},
		{"80 000 modules", "at most 512 are allowed", gen_modules, 80000},
		{"256 params", "get", gen_params, DK_CONFIG_MAX_PARAMS},
		{"257 params", "params: 257 parameters: at most 256 are allowed",
		 gen_params, DK_CONFIG_MAX_PARAMS + 1},
		{"55 000 params", "at most 256 are allowed", gen_params, 55000},
		{"65 components", "components: 65 components: at most 64 are allowed",
		 gen_components, 65},
		{"19 000 components", "at most 64 are allowed", gen_components, 19000},
	};

	for (size_t k = 0; k < ARRAY_SIZE(v); k++) {
		_cleanup_config_ struct dk_config *cfg = NULL;
		_cleanup_error_ struct dk_error *err = NULL;
		struct timespec t0, t1;
		struct strbuf b;
		double s;
		int r;

		strbuf_init(&b);
		for (size_t i = 0; i < v[k].n; i++)
			v[k].gen(&b, i);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = parse(b.s, &cfg, &err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (streq(v[k].want, "get"))
			is_int(r, 0, "%s (%zu bytes): accepted%s%s", v[k].desc, b.len,
			       err ? ": " : "", err ? err->msg : "");
		else
			ok(r == -EBADMSG && err && strstr(err->msg, v[k].want),
			   "%s (%zu bytes): %s (%s)", v[k].desc, b.len, v[k].want,
			   err ? err->msg : "accepted");
		ok(s < 2.0, "%s: %.3f s", v[k].desc, s);
		strbuf_release(&b);
	}
	{
		_cleanup_error_ struct dk_error *err = NULL;
		struct dk_config_module *mods = NULL;
		struct timespec t0, t1;
		struct strbuf b;
		size_t n = 0;
		double s;

		strbuf_init(&b);
		for (size_t i = 0; b.len < DK_YAML_MAX_BYTES - 64; i++)
			gen_params_file(&b, i);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		is_int(params(b.s, &mods, &n, &err), -EBADMSG,
		       "params file of %zu bytes: refused", b.len);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		ok(err && strstr(err->msg, "modules: at most 512 are allowed"),
		   "params file: at most 512 modules (%s)", err ? err->msg : "");
		ok(s < 2.0, "params file of %zu bytes: %.3f s", b.len, s);
		strbuf_release(&b);
	}
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
		{"a: {x: 1}\nb: {y: 2}\na: {z: 3}\n",
		 ":3:1: a: module a is listed twice (first on line 1)",
		 "params: module given twice"},
		{"a: {x: 1, x: 2}\n", ":1:11: a.x: given twice",
		 "params: param given twice"},
		{"a-b: {x: 1}\nc: {}\na_b: {y: 2}\n",
		 ":3:1: a_b: module a_b is listed twice (first on line 1)",
		 "params: module given as a-b and a_b"},
		{"a: {x: \"1\\r2\"}\n",
		 ":1:8: a.x: a value cannot hold double quotes, newlines or control "
		 "characters",
		 "params: value with \\r"},
		{"a: {x: \"1\\x01\"}\n", ":1:8: a.x: a value cannot hold",
		 "params: value with a control character"},
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

/* ---- source: build:, precompiled:, get: (issue 9) ---- */

#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* One component drv whose source: is src (YAML lines indented by 6, from line 4). */
#define ONE(src)          \
	"components:\n"   \
	"  - name: drv\n" \
	"    source:\n" src "    modules: [ drv ]\n"

static void test_build_full(void)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	const struct dk_config_component *c;
	const struct dk_config_build *b;
	int r = parse("cache_dir: /srv/cache\n"
		      "components:\n"
		      "  - name: nvidia\n"
		      "    version: 535.261.03\n"
		      "    source:\n"
		      "      build:\n"
		      "        url: http://debian/nvidia-open-kernel-source.deb\n"
		      "        sha256: " SHA_A "\n"
		      "        member: usr/src/nvidia-*.tar.xz\n"
		      "        subdir: kernel-open\n"
		      "        flavor: auto\n"
		      "        proprietary:\n"
		      "          url: http://debian/nvidia-kernel-source.deb\n"
		      "          sha256: " SHA_A "\n"
		      "          subdir: kernel\n"
		      "        configure: [ ./configure, '--kernel-version={kernel}' ]\n"
		      "        make: [ make, -C, '{build_dir}', 'M={src}', "
		      "'-j{jobs}', modules ]\n"
		      "        env: [ IGNORE_CC_MISMATCH=1, 'EMPTY=' ]\n"
		      "        patches: [ /p/one.diff, two.diff ]\n"
		      "        exports: [ include, kernel-open/common/inc ]\n"
		      "        allow_compiler_mismatch: true\n"
		      "      precompiled:\n"
		      "        url: https://pkgs/{kernel}/{component}-{version}.tar.zst\n"
		      "        cert: /etc/drvkit/vendor.crt\n"
		      "      get: [ precompiled, build, cache ]\n"
		      "    modules: [ nvidia ]\n"
		      "  - name: peermem\n"
		      "    source:\n"
		      "      build: { src: /srv/peermem, uses: [ nvidia ], after: [ "
		      "nvidia ] }\n"
		      "    modules: [ nvidia_peermem ]\n",
		      &cfg, &err);

	is_int(r, 0, "build spec parses%s%s", err ? ": " : "", err ? err->msg : "");
	if (r < 0)
		return;
	is_str(cfg->cache_dir, "/srv/cache", "cache_dir");
	c = &cfg->components[0];
	b = c->build;
	is_str(c->version, "535.261.03", "version");
	ok(!c->source_dir && b && c->precompiled, "build: and precompiled:, no dir");
	if (!b || !c->precompiled)
		return;
	is_str(b->tree.url, "http://debian/nvidia-open-kernel-source.deb", "build.url");
	is_str(b->tree.sha256, SHA_A, "build.sha256");
	is_str(b->tree.member, "usr/src/nvidia-*.tar.xz", "build.member");
	is_str(b->tree.subdir, "kernel-open", "build.subdir");
	ok(!b->tree.src, "no build.src");
	is_str(b->flavor, "auto", "flavor");
	ok(!b->open && b->proprietary, "proprietary override only");
	is_str(b->proprietary ? b->proprietary->subdir : NULL, "kernel",
	       "proprietary.subdir");
	is_int(b->n_configure, 2, "configure: 2 arguments");
	is_str(b->n_configure == 2 ? b->configure[1] : NULL, "--kernel-version={kernel}",
	       "configure: placeholders kept for the build");
	is_int(b->n_make, 6, "make: 6 arguments");
	is_str(b->n_make == 6 ? b->make[2] : NULL, "{build_dir}",
	       "make: placeholders kept for the build");
	is_int(b->n_env, 2, "env: 2 entries");
	is_str(b->n_env == 2 ? b->env[1] : NULL, "EMPTY=", "env: an empty value is fine");
	is_int(b->n_patches, 2, "patches: 2");
	is_str(b->n_patches == 2 ? b->patches[0] : NULL, "/p/one.diff",
	       "an absolute patch path is kept");
	ok(b->n_patches == 2 && b->patches[1][0] == '/' &&
		   strstr(b->patches[1], "/two.diff") &&
		   streq(strstr(b->patches[1], "/two.diff"), "/two.diff"),
	   "a relative patch path is made absolute (%s)",
	   b->n_patches == 2 ? b->patches[1] : "");
	is_int(b->n_exports, 2, "exports given");
	ok(b->allow_compiler_mismatch, "allow_compiler_mismatch");
	is_str(c->precompiled->url, "https://pkgs/{kernel}/{component}-{version}.tar.zst",
	       "precompiled.url template kept");
	is_str(c->precompiled->cert, "/etc/drvkit/vendor.crt", "precompiled.cert");
	is_int(c->n_get, 3, "get: 3 steps");
	ok(c->n_get == 3 && c->get[0] == DK_GET_PRECOMPILED &&
		   c->get[1] == DK_GET_BUILD && c->get[2] == DK_GET_CACHE,
	   "get: the order given");
	b = cfg->components[1].build;
	is_str(b ? b->tree.src : NULL, "/srv/peermem", "flow-style build.src");
	ok(b && b->n_uses == 1 && streq(b->uses[0], "nvidia"), "uses");
	ok(b && b->n_after == 1 && streq(b->after[0], "nvidia"), "after");
	ok(b && b->n_exports == 1 && streq(b->exports[0], "include"),
	   "exports default: include");
	ok(b && !b->flavor && !b->make && !b->n_env && !b->allow_compiler_mismatch,
	   "defaults: no flavor, the kbuild make, no env, no compiler mismatch");
	ok(!cfg->components[1].version, "version is optional");
	ok(dk_config_component_find(cfg, "peermem") == &cfg->components[1] &&
		   !dk_config_component_find(cfg, "ofed"),
	   "dk_config_component_find");
}

static void test_build_defaults(void)
{
	static const struct {
		const char *source;
		size_t n;
		enum dk_get_step want[DK_GET_MAX];
		const char *desc;
	} cases[] = {
		{"      build: { src: /s }\n",
		 2,
		 {DK_GET_CACHE, DK_GET_BUILD},
		 "build only: cache, build"},
		{"      precompiled: { url: 'http://p/{kernel}' }\n",
		 2,
		 {DK_GET_CACHE, DK_GET_PRECOMPILED},
		 "precompiled only: cache, precompiled"},
		{"      build: { src: /s }\n"
		 "      precompiled: { url: 'http://p/{kernel}' }\n",
		 3,
		 {DK_GET_CACHE, DK_GET_PRECOMPILED, DK_GET_BUILD},
		 "both: cache, precompiled, build"},
		{"      build: { src: /s }\n"
		 "      precompiled: { url: 'http://p/{kernel}' }\n"
		 "      get: [ build ]\n",
		 1,
		 {DK_GET_BUILD},
		 "get: [ build ] alone"},
		{"      dir: /m\n", 0, {0}, "dir: has no get steps"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_config_ struct dk_config *cfg = NULL;
		_cleanup_error_ struct dk_error *err = NULL;
		_cleanup_free_ char *text = dk_strdup_printf(ONE("%s"), cases[i].source);
		int r = parse(text, &cfg, &err);
		bool same = r == 0 && cfg->components[0].n_get == cases[i].n;

		for (size_t k = 0; same && k < cases[i].n; k++)
			same = cfg->components[0].get[k] == cases[i].want[k];
		ok(same, "%s%s%s", cases[i].desc, err ? ": " : "", err ? err->msg : "");
	}
	{
		_cleanup_config_ struct dk_config *cfg = NULL;
		_cleanup_error_ struct dk_error *err = NULL;

		is_int(parse(ONE("      dir: /m\n"), &cfg, &err), 0,
		       "dir: config parses");
		is_str(cfg ? cfg->cache_dir : NULL, "/var/cache/drvkit",
		       "cache_dir default /var/cache/drvkit");
		ok(cfg && !cfg->components[0].build && !cfg->components[0].precompiled,
		   "dir: no build, no precompiled");
	}
	is_str(dk_get_step_name(DK_GET_CACHE), "cache", "step name cache");
	is_str(dk_get_step_name(DK_GET_PRECOMPILED), "precompiled",
	       "step name precompiled");
	is_str(dk_get_step_name(DK_GET_BUILD), "build", "step name build");
}

/* Whole messages: the position is part of what is tested. */
static const struct bad build_bads[] = {
	{ONE("      build: { url: 'http://h/d.tgz' }\n"),
	 "config.yaml:4:14: components[0].source.build: url needs sha256 (a download is "
	 "only used when its digest is pinned)",
	 "url without sha256"},
	{ONE("      build: { url: 'http://h/d.tgz', sha256: ABCDEF }\n"),
	 "config.yaml:4:47: components[0].source.build.sha256: expected 64 lowercase hex "
	 "digits, got 'ABCDEF'",
	 "sha256 not hex"},
	{ONE("      build: { url: 'http://h/d.tgz', sha256: " SHA_A "0 }\n"),
	 "config.yaml:4:47: components[0].source.build.sha256: expected 64 lowercase hex "
	 "digits, got '" SHA_A "0'",
	 "sha256 of 65 digits"},
	{ONE("      build: { src: /s, sha256: " SHA_A " }\n"),
	 "config.yaml:4:14: components[0].source.build: sha256 is for url",
	 "sha256 without url"},
	{ONE("      build: { src: /s, member: '*.tar.gz' }\n"),
	 "config.yaml:4:14: components[0].source.build: member is for url (the tarball "
	 "inside a .deb or .rpm)",
	 "member without url"},
	{ONE("      build: { src: /s, url: 'http://h/d.tgz', sha256: " SHA_A " }\n"),
	 "config.yaml:4:14: components[0].source.build: give src or url, not both",
	 "src and url both"},
	{ONE("      build: { subdir: kernel }\n"),
	 "config.yaml:4:14: components[0].source.build: expected src (a directory) or "
	 "url",
	 "neither src nor url"},
	{ONE("      build: { src: /s, subdir: ../etc }\n"),
	 "config.yaml:4:33: components[0].source.build.subdir: '../etc' must be a "
	 "relative path inside the source tree",
	 "subdir with .."},
	{ONE("      build: { src: /s, subdir: a/../../b }\n"),
	 "config.yaml:4:33: components[0].source.build.subdir: 'a/../../b' must be a "
	 "relative path inside the source tree",
	 "subdir with .. inside"},
	{ONE("      build: { src: /s, subdir: /abs }\n"),
	 "config.yaml:4:33: components[0].source.build.subdir: '/abs' must be a relative "
	 "path inside the source tree",
	 "absolute subdir"},
	{ONE("      build: { src: /s, flavor: closed }\n"),
	 "config.yaml:4:33: components[0].source.build.flavor: expected open, "
	 "proprietary "
	 "or auto, got 'closed'",
	 "unknown flavor"},
	{ONE("      build: { src: /s, open: { subdir: kernel-open } }\n"),
	 "config.yaml:4:14: components[0].source.build: open:/proprietary: need flavor:",
	 "open: without flavor"},
	{ONE("      build: { src: /s, proprietary: { subdir: kernel } }\n"),
	 "config.yaml:4:14: components[0].source.build: open:/proprietary: need flavor:",
	 "proprietary: without flavor"},
	{ONE("      build: { flavor: proprietary, open: { src: /o } }\n"),
	 "config.yaml:4:14: components[0].source.build: expected src (a directory) or "
	 "url",
	 "flavor proprietary without a proprietary tree"},
	{ONE("      build: { flavor: auto, open: { src: /o } }\n"),
	 "config.yaml:4:14: components[0].source.build: expected src (a directory) or "
	 "url",
	 "flavor auto: the proprietary tree is missing"},
	{ONE("      build: { flavor: auto, open: { url: 'http://h/o.deb' }, "
	     "proprietary: { src: /p } }\n"),
	 "config.yaml:4:36: components[0].source.build.open: url needs sha256 (a "
	 "download "
	 "is only used when its digest is pinned)",
	 "a flavor tree's url without sha256"},
	{ONE("      build:\n"
	     "        src: /s\n"
	     "        make: [ make, 'KVER={kernel}', 'O={kver}' ]\n"),
	 "config.yaml:6:40: components[0].source.build.make: unknown placeholder in "
	 "'O={kver}' (known: {kernel} {build_dir} {src} {jobs} {out} {uses_symvers} "
	 "{uses_include})",
	 "make with an unknown placeholder"},
	{ONE("      build:\n"
	     "        src: /s\n"
	     "        configure: [ ./configure, '--with-njobs={njobs}' ]\n"),
	 "config.yaml:6:35: components[0].source.build.configure: unknown placeholder in "
	 "'--with-njobs={njobs}' (known: {kernel} {build_dir} {src} {jobs} {out} "
	 "{uses_symvers} {uses_include})",
	 "configure with an unknown placeholder"},
	{ONE("      build: { src: /s, make: [] }\n"),
	 "config.yaml:4:31: components[0].source.build.make: expected a program and its "
	 "arguments",
	 "empty make"},
	{ONE("      build: { src: /s, make: make }\n"),
	 "config.yaml:4:31: components[0].source.build.make: expected a list of "
	 "arguments, got a scalar",
	 "make not a list"},
	{ONE("      build:\n"
	     "        src: /s\n"
	     "        env: [ A=1, JUSTNAME ]\n"),
	 "config.yaml:6:21: components[0].source.build.env: expected NAME=value, got "
	 "'JUSTNAME'",
	 "env entry without ="},
	{ONE("      build: { src: /s, env: [ '=value' ] }\n"),
	 "config.yaml:4:32: components[0].source.build.env: expected NAME=value, got "
	 "'=value'",
	 "env entry without a name"},
	{ONE("      build: { src: /s, uses: ofed }\n"),
	 "config.yaml:4:31: components[0].source.build.uses: expected a list of "
	 "component names or { path: DIR }, got a scalar",
	 "uses not a list"},
	{ONE("      build: { src: /s, colour: red }\n"),
	 "config.yaml:4:25: components[0].source.build.colour: unknown key (known: src, "
	 "url, sha256, member, subdir, flavor, open, proprietary, configure, make, env, "
	 "uses, "
	 "after, patches, exports, allow_compiler_mismatch)",
	 "unknown build key"},
	{ONE("      dir: /m\n"
	     "      build: { src: /s }\n"),
	 "config.yaml:4:7: components[0].source: dir: is a directory of built modules; "
	 "it does not go with build:, precompiled: or get:",
	 "dir: with build:"},
	{ONE("      dir: /m\n"
	     "      get: [ cache ]\n"),
	 "config.yaml:4:7: components[0].source: dir: is a directory of built modules; "
	 "it does not go with build:, precompiled: or get:",
	 "dir: with get:"},
	{ONE("      get: [ cache ]\n"),
	 "config.yaml:4:7: components[0].source: expected dir:, build: or precompiled:",
	 "get: alone"},
	{ONE("      precompiled: { cert: /c.crt }\n"),
	 "config.yaml:4:20: components[0].source.precompiled.url: required key is "
	 "missing",
	 "precompiled without url"},
	{ONE("      precompiled: { url: 'http://p/{kernel}', cert: c.crt }\n"),
	 "config.yaml:4:54: components[0].source.precompiled.cert: expected an absolute "
	 "path, got 'c.crt'",
	 "precompiled cert relative"},
	{ONE("      build: { src: /s }\n"
	     "      get: [ cache, compile ]\n"),
	 "config.yaml:5:21: components[0].source.get: unknown step 'compile' (cache, "
	 "precompiled, build)",
	 "get: unknown step"},
	{ONE("      build: { src: /s }\n"
	     "      get: [ precompiled, build ]\n"),
	 "config.yaml:5:14: components[0].source.get: precompiled needs "
	 "source.precompiled.url",
	 "get: precompiled not configured"},
	{ONE("      precompiled: { url: 'http://p/{kernel}' }\n"
	     "      get: [ cache, build ]\n"),
	 "config.yaml:5:21: components[0].source.get: build needs source.build",
	 "get: build not configured"},
	{ONE("      build: { src: /s }\n"
	     "      get: [ build, cache, build ]\n"),
	 "config.yaml:5:28: components[0].source.get: build is listed twice",
	 "get: a step listed twice"},
	{ONE("      build: { src: /s }\n"
	     "      get: []\n"),
	 "config.yaml:5:12: components[0].source.get: expected at least one step",
	 "get: empty"},
	{"components:\n"
	 "  - name: drv\n"
	 "    version: [ 1 ]\n"
	 "    source: { dir: /m }\n"
	 "    modules: [ drv ]\n",
	 "config.yaml:3:14: components[0].version: expected a string, got a list",
	 "version not a string"},
	{"cache_dir: var/cache\n" ONE("      dir: /m\n"),
	 "config.yaml:1:12: cache_dir: expected an absolute path, got 'var/cache'",
	 "cache_dir relative"},
};

/* Two components: peer (build: src /p, whose extra lines follow) and ofed (its
 * source from ofed_src). */
#define TWO(peer, ofed_src)                                \
	"components:\n"                                    \
	"  - name: peer\n"                                 \
	"    source:\n"                                    \
	"      build:\n"                                   \
	"        src: /p\n" peer "    modules: [ peer ]\n" \
	"  - name: ofed\n"                                 \
	"    source: " ofed_src "\n"                       \
	"    modules: [ ofed ]\n"

static const struct bad cross_bads[] = {
	{TWO("        uses: [ ofed, mlnx ]\n", "{ build: { src: /o } }"),
	 "config.yaml:6:23: components[0].source.build.uses[1]: component peer: uses "
	 "names mlnx, which is not a component of this file",
	 "uses names a missing component"},
	{TWO("        after: [ nvidia ]\n", "{ build: { src: /o } }"),
	 "config.yaml:6:18: components[0].source.build.after[0]: component peer: after "
	 "names nvidia, which is not a component of this file",
	 "after names a missing component"},
	{TWO("        uses: [ ofed ]\n", "{ dir: /o }"),
	 "config.yaml:6:17: components[0].source.build.uses[0]: component peer uses "
	 "ofed, which has no build: or precompiled: source (its Module.symvers is "
	 "needed)",
	 "uses names a dir: component"},
	{TWO("        uses: [ peer ]\n", "{ dir: /o }"),
	 "config.yaml:6:17: components[0].source.build.uses[0]: component peer: uses "
	 "names itself",
	 "uses names itself"},
	{TWO("        uses: [ ofed ]\n", "{ build: { src: /o, after: [ peer ] } }"),
	 "config.yaml:9:42: components[1].source.build.after[0]: uses/after form a cycle "
	 "(peer -> ofed -> peer): no order builds them",
	 "uses/after cycle names the cycle"},
};

static void expect_bads(const struct bad *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_config_ struct dk_config *cfg = NULL;
		_cleanup_error_ struct dk_error *err = NULL;
		int r = parse(v[i].text, &cfg, &err);

		is_int(r, -EBADMSG, "%s: EBADMSG", v[i].desc);
		is_str(err ? err->msg : NULL, v[i].want, "%s: message", v[i].desc);
	}
}

static void test_build_errors(void)
{
	expect_bads(build_bads, ARRAY_SIZE(build_bads));
	expect_bads(cross_bads, ARRAY_SIZE(cross_bads));
}

/* A cycle of three, reached from a component outside it: the message names the
 * cycle only. */
static void test_build_cycle(void)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	int r = parse("components:\n"
		      "  - name: top\n"
		      "    source: { build: { src: /t, uses: [ a ] } }\n"
		      "    modules: [ top ]\n"
		      "  - name: a\n"
		      "    source: { build: { src: /a, after: [ b ] } }\n"
		      "    modules: [ a ]\n"
		      "  - name: b\n"
		      "    source: { build: { src: /b, uses: [ c ] } }\n"
		      "    modules: [ b ]\n"
		      "  - name: c\n"
		      "    source: { precompiled: { url: 'http://x' }, "
		      "build: { src: /c, after: [ a ] } }\n"
		      "    modules: [ c ]\n",
		      &cfg, &err);

	is_int(r, -EBADMSG, "cycle of three: EBADMSG");
	is_str(err ? err->msg : NULL,
	       "config.yaml:12:76: components[3].source.build.after[0]: uses/after form "
	       "a cycle (a -> b -> c -> a): no order builds them",
	       "cycle of three: the cycle, not the component that reaches it");
}

/* build.src and patches: relative to the config file's directory. */
static void test_build_relative(void)
{
	char dir[] = "/tmp/dk-test-config-XXXXXX", cwd[4096];
	_cleanup_free_ char *conf = NULL, *want_src = NULL, *want_patch = NULL;
	_cleanup_free_ char *rel_src = NULL, *rel_name = NULL;
	static const char text[] = ONE("      build:\n"
				       "        src: ../driver\n"
				       "        patches: [ fix.diff, /abs.diff ]\n");

	if (!mkdtemp(dir) || !getcwd(cwd, sizeof(cwd))) {
		ok(0, "mkdtemp");
		return;
	}
	conf = dk_strdup_printf("%s/conf/drvkit.yaml", dir);
	want_src = dk_strdup_printf("%s/conf/../driver", dir);
	want_patch = dk_strdup_printf("%s/conf/fix.diff", dir);
	rel_src = dk_strdup_printf("%s/sub/../driver", cwd);
	ok(fx_put(dir, "conf/drvkit.yaml", text, 0644) == 0, "config file written");
	{
		_cleanup_config_ struct dk_config *cfg = NULL;
		_cleanup_error_ struct dk_error *err = NULL;
		const struct dk_config_build *b;

		is_int(dk_config_load(conf, &cfg, &err), 0, "config file loads%s%s",
		       err ? ": " : "", err ? err->msg : "");
		b = cfg ? cfg->components[0].build : NULL;
		is_str(b ? b->tree.src : NULL, want_src,
		       "build.src relative to the config file's directory");
		is_str(b && b->n_patches == 2 ? b->patches[0] : NULL, want_patch,
		       "a patch relative to the config file's directory");
		is_str(b && b->n_patches == 2 ? b->patches[1] : NULL, "/abs.diff",
		       "an absolute patch as written");
	}
	{
		_cleanup_config_ struct dk_config *cfg = NULL;
		_cleanup_error_ struct dk_error *err = NULL;

		is_int(dk_config_parse("sub/config.yaml", text, strlen(text), &cfg, &err),
		       0, "a relative config name parses");
		is_str(cfg ? cfg->components[0].build->tree.src : NULL, rel_src,
		       "relative config name: against the working directory");
	}
	fx_rm_rf(dir);
}

int main(void)
{
	test_good();
	test_defaults();
	test_daemons();
	test_errors();
	test_missing_file();
	test_limits();
	test_params_file();
	test_build_full();
	test_build_defaults();
	test_build_errors();
	test_build_cycle();
	test_build_relative();
	return tap_done();
}
