/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel matrix: the good fixture, each error with its file:line:col, the checks
 * across files, tags and arch names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/macro.h"
#include "shared/strbuf.h"

#include "base/error.h"
#include "base/fsutil.h"
#include "fleet/jobs.h"
#include "fleet/matrix.h"

#include "fixture.h"
#include "tap.h"

static char *good_dir(void)
{
	const char *src = getenv("DK_SRCDIR");

	return dk_strdup_printf("%s/tests/fleet/fixtures/matrix-good", src ? src : ".");
}

static const struct dk_mx_os *find_os(const struct dk_matrix *m, const char *id)
{
	for (size_t i = 0; i < m->n_oses; i++)
		if (streq(m->oses[i].id, id))
			return &m->oses[i];
	return NULL;
}

static void test_good(void)
{
	_cleanup_free_ char *dir = good_dir();
	_cleanup_matrix_ struct dk_matrix *m = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	const struct dk_mx_os *os;
	const struct dk_mx_driver *d;
	int r = dk_matrix_load(dir, &m, &err);

	is_int(r, 0, "good matrix loads%s%s", err ? ": " : "", err ? err->msg : "");
	if (r < 0)
		return;
	is_int((int)m->n_files, 5, "five files");
	is_str(m->oses[0].id, "debian", "oses sorted: debian first");
	is_str(m->oses[m->n_oses - 1].id, "ubuntu", "oses sorted: ubuntu last");
	is_int((int)m->n_drivers, 2, "two drivers");
	d = dk_mx_driver_find(m, "nvidia");
	ok(d && streq(d->image, "driver"), "nvidia's image");
	ok(d && d->config && strstr(d->config, "matrix-good/configs/nvidia.yaml"),
	   "config joined to the file's directory: %s", d && d->config ? d->config : "");
	d = dk_mx_driver_find(m, "ofed");
	ok(d && streq(d->image, "ofed") && !d->config,
	   "ofed: image defaults to the name");
	ok(d && d->n_node_selector == 0 && !d->node_selector, "ofed: no node_selector");
	d = dk_mx_driver_find(m, "nvidia");
	ok(d && d->n_node_selector == 2, "nvidia: node_selector, two labels");
	if (d && d->n_node_selector == 2) {
		is_str(d->node_selector[0].key, "example.com/gpu", "sorted by key");
		is_str(d->node_selector[0].value, "yes", "its value");
		is_str(d->node_selector[1].key,
		       "feature.node.kubernetes.io/pci-10de.present", "the pci label");
		is_str(d->node_selector[1].value, "true",
		       "a quoted \"true\" is the string");
	}
	os = find_os(m, "debian");
	ok(os && os->versions[0].n_kernels == 2, "debian 12: two kernels");
	if (os && os->versions[0].n_kernels == 2) {
		const struct dk_mx_kernel *k = &os->versions[0].kernels[0];

		is_str(k->arch, "amd64", "x86_64 normalised");
		ok(k->headers == DK_MX_HEADERS_PACKAGES && k->n_packages == 2,
		   "two header packages");
		ok(os->versions[0].kernels[1].headers == DK_MX_HEADERS_INSTALLED,
		   "installed");
		ok(k->pos.line == 9 && k->pos.column == 11, "kernel position %zu:%zu",
		   k->pos.line, k->pos.column);
	}
	os = find_os(m, "rhcos");
	ok(os && os->n_versions == 2, "rhcos: two versions");
	if (os && os->n_versions == 2) {
		ok(os->versions[0].dtk_image != NULL, "4.16 has its DTK");
		ok(!os->versions[1].dtk_image && os->versions[1].dtk_pos.line == 14 &&
			   os->versions[1].dtk_pos.column == 18,
		   "4.15's null dtk_image and where it is");
		is_str(os->versions[1].ostree_version, "415.92.202406251950-0", "ostree");
	}
	os = find_os(m, "ubuntu");
	ok(os && os->versions[0].n_uses == 1 && os->versions[0].uses[0].n_branches == 2,
	   "ubuntu uses two branches");
	if (os)
		is_str(os->versions[0].kernels[1].arch, "arm64", "aarch64 normalised");
}

struct bad {
	const char *name;
	const char *files[3][2]; /* name, text */
	const char *want;	 /* the message, with D for the scratch dir */
};

static const struct bad bads[] = {
	{"no version",
	 {{"a.yaml", "drivers: []\n"}},
	 "D/a.yaml:1:1: version: required key is missing"},
	{"version 2",
	 {{"a.yaml", "version: 2\ndrivers: []\n"}},
	 "D/a.yaml:1:10: version: unsupported matrix version '2': this drvkit reads "
	 "version: "
	 "1"},
	{"neither",
	 {{"a.yaml", "version: 1\n"}},
	 "D/a.yaml:1:1: expected drivers: (driver branches) or os: (an OS, its versions "
	 "and "
	 "kernels); this file has neither"},
	{"unknown key",
	 {{"a.yaml", "version: 1\nos:\n  id: debian\n  versoins: []\n"}},
	 "D/a.yaml:4:3: os.versoins: unknown key (did you mean 'versions'?)"},
	{"bad driver name",
	 {{"a.yaml", "version: 1\ndrivers:\n  - name: Nvidia\n    branches: [{branch: "
		     "\"1\", version: \"1.0\"}]\n"}},
	 "D/a.yaml:3:11: drivers[0].name: 'Nvidia' is not a driver name: use lowercase "
	 "letters, digits and '-'"},
	{"bad sha",
	 {{"a.yaml",
	   "version: 1\nos:\n  id: debian\n  versions:\n    - version: \"12\"\n"
	   "      kernels:\n        - release: 6.1.0-1-amd64\n          arch: amd64\n"
	   "          headers:\n            packages:\n"
	   "              - { url: http://x/a.deb, sha256: abc }\n"}},
	 "D/a.yaml:11:48: os.versions[0].kernels[0].headers.packages[0].sha256: expected "
	 "64 "
	 "lowercase hex digits (sha256sum of the package), got 'abc'"},
	{"bad url",
	 {{"a.yaml",
	   "version: 1\nos:\n  id: debian\n  versions:\n    - version: \"12\"\n"
	   "      kernels:\n        - release: 6.1.0-1-amd64\n          arch: amd64\n"
	   "          headers: { packages: [ { url: ftp://x/a.deb, sha256: "
	   "0000000000000000000000000000000000000000000000000000000000000000 } ] }\n"}},
	 "D/a.yaml:9:41: os.versions[0].kernels[0].headers.packages[0].url: "
	 "'ftp://x/a.deb' "
	 "is not a URL drvkit can download: expected http://, https:// or file://"},
	{"bad arch",
	 {{"a.yaml", "version: 1\nos:\n  id: debian\n  versions:\n    - version: \"12\"\n"
		     "      kernels:\n        - { release: 6.1.0-1-amd64, arch: riscv64, "
		     "headers: installed }\n"}},
	 "D/a.yaml:7:43: os.versions[0].kernels[0].arch: unknown architecture 'riscv64': "
	 "expected amd64 (or x86_64) or arm64 (or aarch64)"},
	{"bad headers",
	 {{"a.yaml", "version: 1\nos:\n  id: debian\n  versions:\n    - version: \"12\"\n"
		     "      kernels:\n        - { release: 6.1.0-1-amd64, arch: amd64, "
		     "headers: apt }\n"}},
	 "D/a.yaml:7:59: os.versions[0].kernels[0].headers: expected installed, dtk or "
	 "{packages: [{url, sha256}]}, got 'apt'"},
	{"dtk on debian",
	 {{"a.yaml", "version: 1\nos:\n  id: debian\n  versions:\n    - version: \"12\"\n"
		     "      kernels:\n        - { release: 6.1.0-1-amd64, arch: amd64, "
		     "headers: dtk }\n"}},
	 "D/a.yaml:7:11: os.versions[0].kernels[0].headers: dtk (the Driver Toolkit "
	 "image) "
	 "is for rhcos or a version with dtk_image:; debian 12 gets its headers from "
	 "packages: or installed"},
	{"rhcos without ostree",
	 {{"a.yaml",
	   "version: 1\nos:\n  id: rhcos\n  versions:\n    - version: \"4.16\"\n"
	   "      dtk_image: ~\n"}},
	 "D/a.yaml:5:7: os.versions[0]: rhcos 4.16 needs ostree_version: the nodes' "
	 "OSTREE_VERSION (NFD label "
	 "feature.node.kubernetes.io/system-os_release.OSTREE_VERSION, e.g. "
	 "416.94.202407030122-0)"},
	{"version twice",
	 {{"a.yaml", "version: 1\nos:\n  id: debian\n  versions:\n    - version: \"12\"\n"
		     "    - version: \"12\"\n"}},
	 "D/a.yaml:6:7: os.versions[1]: debian 12 is listed twice (first at "
	 "D/a.yaml:5:7)"},
	{"kernel twice",
	 {{"a.yaml",
	   "version: 1\nos:\n  id: debian\n  versions:\n    - version: \"12\"\n"
	   "      kernels:\n"
	   "        - { release: 6.1.0-1-amd64, arch: amd64, headers: installed }\n"
	   "        - { release: 6.1.0-1-amd64, arch: x86_64, headers: installed }\n"}},
	 "D/a.yaml:8:11: os.versions[0].kernels[1]: kernel 6.1.0-1-amd64 (amd64) is "
	 "listed "
	 "twice in debian 12 (first at D/a.yaml:7:11)"},
	{"os in two files",
	 {{"a.yaml",
	   "version: 1\nos:\n  id: debian\n  versions: [ {version: \"12\"} ]\n"},
	  {"b.yaml",
	   "version: 1\nos:\n  id: debian\n  versions: [ {version: \"13\"} ]\n"}},
	 "D/b.yaml:3:3: os: OS debian is also defined in D/a.yaml:3:3; keep one file per "
	 "OS "
	 "and list all its versions there"},
	{"driver twice",
	 {{"a.yaml", "version: 1\ndrivers:\n  - { name: x, branches: [{branch: \"1\", "
		     "version: \"1.0\"}] }\n"},
	  {"b.yaml", "version: 1\ndrivers:\n  - { name: y, branches: [{branch: \"1\", "
		     "version: \"1.0\"}] }\n  - { name: x, branches: [{branch: \"1\", "
		     "version: \"1.0\"}] }\n"}},
	 "D/b.yaml:4:5: drivers[1]: driver x is also defined at D/a.yaml:3:5; define "
	 "each "
	 "driver once"},
	{"unknown driver",
	 {{"a.yaml", "version: 1\ndrivers:\n  - { name: x, branches: [{branch: \"1\", "
		     "version: \"1.0\"}] }\n"},
	  {"b.yaml", "version: 1\nos:\n  id: debian\n  versions:\n    - version: \"12\"\n"
		     "      drivers: [ { name: nvidia, branches: [\"1\"] } ]\n"}},
	 "D/b.yaml:6:18: os.versions[0].drivers[0].name: no file of the matrix defines "
	 "driver 'nvidia' (defined: x); add it under drivers: (usually drivers.yaml)"},
	{"config placeholder",
	 {{"a.yaml", "version: 1\ndrivers:\n  - { name: x, config: \"c-{os}.yaml\", "
		     "branches: [{branch: \"1\", version: \"1.0\"}] }\n"}},
	 "D/a.yaml:3:24: drivers[0].config: unknown placeholder at '{os}.yaml': the only "
	 "one is {arch} (amd64 or arm64)"},
	{"unknown branch",
	 {{"a.yaml", "version: 1\ndrivers:\n  - { name: x, branches: [{branch: \"1\", "
		     "version: \"1.0\"}, {branch: \"2\", version: \"2.0\"}] }\n"},
	  {"b.yaml", "version: 1\nos:\n  id: debian\n  versions:\n    - version: \"12\"\n"
		     "      drivers: [ { name: x, branches: [\"1\", \"3\"] } ]\n"}},
	 "D/b.yaml:6:18: os.versions[0].drivers[0].branches[1]: driver x has no branch "
	 "'3' "
	 "(its branches: 1, 2; defined at D/a.yaml:3:5)"},
	{"node_selector key",
	 {{"a.yaml", "version: 1\ndrivers:\n  - name: x\n    branches: [{branch: \"1\", "
		     "version: \"1.0\"}]\n    node_selector: { -pci/x: \"true\" }\n"}},
	 "D/a.yaml:5:22: drivers[0].node_selector: '-pci/x' is not a label key: expected "
	 "[PREFIX/]NAME, PREFIX a DNS subdomain, NAME at most 63 of [A-Za-z0-9._-] "
	 "starting and ending with a letter or digit"},
	{"node_selector value",
	 {{"a.yaml",
	   "version: 1\ndrivers:\n  - name: x\n    branches: [{branch: \"1\", "
	   "version: \"1.0\"}]\n    node_selector:\n      a.io/gpu: \"yes please\"\n"}},
	 "D/a.yaml:6:17: drivers[0].node_selector.a.io/gpu: 'yes please' is not a label "
	 "value: expected at most 63 of [A-Za-z0-9._-] starting and ending with a letter "
	 "or digit, or empty"},
	{"node_selector list value",
	 {{"a.yaml",
	   "version: 1\ndrivers:\n  - name: x\n    branches: [{branch: \"1\", "
	   "version: \"1.0\"}]\n    node_selector: { a.io/gpu: [\"true\"] }\n"}},
	 "D/a.yaml:5:32: drivers[0].node_selector.a.io/gpu: expected a label value (a "
	 "string, e.g. \"true\"), got a list"},
	{"node_selector own label",
	 {{"a.yaml",
	   "version: 1\ndrivers:\n  - name: x\n    branches: [{branch: \"1\", "
	   "version: \"1.0\"}]\n    node_selector: { kubernetes.io/arch: amd64 }\n"}},
	 "D/a.yaml:5:22: drivers[0].node_selector.kubernetes.io/arch: drvkit daemonsets "
	 "selects nodes by this label itself (from the OS version, arch and kernel): "
	 "expected another label"},
};

static char *replace_d(const char *want, const char *dir)
{
	struct strbuf b;

	strbuf_init(&b);
	for (const char *p = want; *p; p++)
		if (*p == 'D' && (p == want || p[-1] == ' ' || p[-1] == '(') &&
		    p[1] == '/')
			strbuf_puts(&b, dir);
		else
			strbuf_putc(&b, *p);
	return strbuf_steal(&b);
}

static void test_errors(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bads); i++) {
		_cleanup_free_ char *dir = strdup("/tmp/dk-matrix-XXXXXX");
		_cleanup_free_ char *want = NULL;
		_cleanup_matrix_ struct dk_matrix *m = NULL;
		_cleanup_error_ struct dk_error *err = NULL;
		int r;

		if (!dir || !mkdtemp(dir)) {
			ok(0, "mkdtemp");
			return;
		}
		for (size_t f = 0; f < 3 && bads[i].files[f][0]; f++)
			fx_put(dir, bads[i].files[f][0], bads[i].files[f][1], 0644);
		want = replace_d(bads[i].want, dir);
		r = dk_matrix_load(dir, &m, &err);
		is_int(r, -EBADMSG, "%s: EBADMSG", bads[i].name);
		is_str(err ? err->msg : "", want, "%s: message", bads[i].name);
		fx_rm_rf(dir);
	}
}

static void test_missing(void)
{
	_cleanup_free_ char *dir = strdup("/tmp/dk-matrix-XXXXXX");
	_cleanup_matrix_ struct dk_matrix *m = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *nope = NULL;

	if (!dir || !mkdtemp(dir))
		return;
	is_int(dk_matrix_load(dir, &m, &err), -ENOENT, "an empty directory: ENOENT");
	ok(err && strstr(err->msg, "no *.yaml files"), "says no *.yaml files");
	dk_error_free(&err);
	nope = dk_path_join(dir, "nope");
	is_int(dk_matrix_load(nope, &m, &err), -ENOENT, "a missing directory: ENOENT");
	fx_put(dir, "one.yaml",
	       "version: 1\ndrivers: [ { name: x, branches: [{branch: \"1\", version: "
	       "\"1.0\", }] } ]\n",
	       0644);
	dk_error_free(&err);
	{
		_cleanup_free_ char *one = dk_path_join(dir, "one.yaml");

		is_int(dk_matrix_load(one, &m, &err), 0, "one file loads");
		ok(m && m->n_files == 1 && m->n_drivers == 1, "one file, one driver");
	}
	fx_rm_rf(dir);
}

static const char drivers_yaml[] = "version: 1\ndrivers:\n  - { name: nv, image: driver, "
				   "config: \"c/nv-{arch}.yaml\", "
				   "branches: [{branch: \"535\", version: 535.1}] }\n";

/* Loads a matrix of drivers_yaml + os_yaml and expands it. */
static int expand(const char *os_yaml, struct dk_jobs **js, struct dk_error **err)
{
	_cleanup_free_ char *dir = strdup("/tmp/dk-matrix-XXXXXX");
	_cleanup_matrix_ struct dk_matrix *m = NULL;
	int r;

	if (!dir || !mkdtemp(dir))
		return -errno;
	fx_put(dir, "drivers.yaml", drivers_yaml, 0644);
	fx_put(dir, "os.yaml", os_yaml, 0644);
	r = dk_matrix_load(dir, &m, err);
	if (r >= 0)
		r = dk_jobs_expand(m, "r.example", NULL, js, err);
	if (r >= 0) /* the jobs borrow from m: keep the checks to what outlives it */
		for (size_t i = 0; i < (*js)->n_jobs; i++)
			(*js)->jobs[i].driver = NULL, (*js)->jobs[i].os = NULL,
			(*js)->jobs[i].osver = NULL, (*js)->jobs[i].kernel = NULL,
			(*js)->jobs[i].branch = NULL;
	fx_rm_rf(dir);
	return r;
}

static void test_jobs_shared_image(void)
{
	static const char rhel[] =
		"version: 1\nos:\n  id: rhel\n  versions:\n"
		"    - version: \"9.4\"\n      drivers: [ { name: nv, branches: "
		"[\"535\"] } ]\n"
		"      kernels: [ { release: 5.14.0-427.13.1.el9_4.x86_64, arch: amd64, "
		"headers: installed } ]\n"
		"    - version: \"9.6\"\n      drivers: [ { name: nv, branches: "
		"[\"535\"] } ]\n"
		"      kernels: [ { release: 5.14.0-570.12.1.el9_6.x86_64, arch: x86_64, "
		"headers: installed } ]\n";
	_cleanup_jobs_ struct dk_jobs *js = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	size_t builds = 0;
	int r = expand(rhel, &js, &err);

	is_int(r, 0, "rhel 9.4 + 9.6 with the default base: %s", err ? err->msg : "ok");
	for (size_t i = 0; js && i < js->n_jobs; i++)
		builds += js->jobs[i].kind == DK_JOB_BUILD;
	is_int((int)builds, 1, "one shared build image (rhel9), not two");
	is_int(js ? (int)js->n_jobs : 0, 3, "plus a precompiled image per kernel");
	is_str(js ? js->jobs[0].image : "", "r.example/driver:535.1-rhel9", "its ref");
	is_str(js ? dk_job_arg(&js->jobs[0], "BASE_IMAGE") : "",
	       "registry.access.redhat.com/ubi9/ubi:latest", "UBI 9, not a minor's");
}

static void test_jobs_conflict(void)
{
	static const char rhel[] =
		"version: 1\nos:\n  id: rhel\n  versions:\n"
		"    - version: \"9.4\"\n      base_image: ubi:9.4\n"
		"      drivers: [ { name: nv, branches: [\"535\"] } ]\n"
		"    - version: \"9.6\"\n      base_image: ubi:9.6\n"
		"      drivers: [ { name: nv, branches: [\"535\"] } ]\n";
	_cleanup_jobs_ struct dk_jobs *js = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	int r = expand(rhel, &js, &err);

	is_int(r, -EBADMSG, "two bases for one rhel9 image: EBADMSG");
	ok(err && strstr(err->msg, "os.yaml:5:7: rhel 9.4 and ") &&
		   strstr(err->msg, "os.yaml:8:7: rhel 9.6 both make image "
				    "r.example/driver:535.1-rhel9 (amd64)"),
	   "names both versions and the image: %s", err ? err->msg : "");
	ok(err && err->hint && strstr(err->hint, "same base_image"), "says what to do");
}

static void test_jobs_arch_config(void)
{
	static const char deb[] =
		"version: 1\nos:\n  id: debian\n  versions:\n    - version: \"12\"\n"
		"      drivers: [ { name: nv, branches: [\"535\"] } ]\n      kernels:\n"
		"        - { release: 6.1.0-56-amd64, arch: amd64, headers: installed }\n"
		"        - { release: 6.1.0-56-arm64, arch: aarch64, headers: installed "
		"}\n";
	_cleanup_jobs_ struct dk_jobs *js = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	int r = expand(deb, &js, &err);

	is_int(r, 0, "debian, two arches: %s", err ? err->msg : "ok");
	is_int(js ? (int)js->n_jobs : 0, 4, "a build and a precompiled image per arch");
	for (size_t i = 0; js && i < js->n_jobs; i++) {
		_cleanup_free_ char *want =
			dk_strdup_printf("/c/nv-%s.yaml", js->jobs[i].arch);
		const char *got = dk_job_arg(&js->jobs[i], "DRVKIT_CONFIG");

		ok(want && got && strlen(got) > strlen(want) &&
			   streq(got + strlen(got) - strlen(want), want),
		   "job %zu (%s): its arch's config (%s)", i, js->jobs[i].arch, got);
	}
}

static void test_tags(void)
{
	static const char *const cases[][3] = {
		{"rhel", "9.4", "rhel9"},
		{"rocky", "8.10", "rocky8"},
		{"ol", "9", "ol9"},
		{"centos", "9", "centos9"},
		{"almalinux", "9.5", "almalinux9"},
		{"rhcos", "4.16", "rhcos4.16"},
		{"rhcos", "4.16.3", "rhcos4.16"},
		{"ubuntu", "22.04", "ubuntu22.04"},
		{"debian", "12", "debian12"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *t = dk_mx_os_tag(cases[i][0], cases[i][1]);

		is_str(t, cases[i][2], "os tag %s %s", cases[i][0], cases[i][1]);
	}
	{
		_cleanup_free_ char *p =
			dk_mx_precompiled_tag("550", "5.15.0-131-generic", "ubuntu22.04");
		_cleanup_free_ char *q =
			dk_mx_precompiled_tag("535", "6.12.22+bpo-amd64", "debian12");
		_cleanup_free_ char *b = dk_mx_build_tag("535.261.03", "rhel9");

		is_str(p, "550-5.15.0-131-generic-ubuntu22.04", "precompiled tag");
		is_str(q, "535-6.12.22_bpo-amd64-debian12", "'+' is not a tag character");
		is_str(b, "535.261.03-rhel9", "build tag");
	}
	is_str(dk_mx_arch_normalise("x86_64"), "amd64", "x86_64");
	is_str(dk_mx_arch_normalise("aarch64"), "arm64", "aarch64");
	is_str(dk_mx_arch_normalise("arm64"), "arm64", "arm64");
	ok(!dk_mx_arch_normalise("i386"), "i386 refused");
	ok(dk_mx_version_cmp("6.12", "6.9") > 0, "6.12 > 6.9");
	ok(dk_mx_version_cmp("5.15.0-9-generic", "5.15.0-131-generic") < 0, "-9 < -131");
	ok(dk_mx_version_cmp("22.04", "22.04") == 0, "equal");
	ok(dk_mx_version_cmp("4.16", "4.16.1") < 0, "prefix first");
}

int main(void)
{
	FX_RUN(test_good);
	FX_RUN(test_errors);
	FX_RUN(test_missing);
	FX_RUN(test_tags);
	FX_RUN(test_jobs_shared_image);
	FX_RUN(test_jobs_conflict);
	FX_RUN(test_jobs_arch_config);
	return tap_done();
}
