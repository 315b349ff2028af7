/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the .yaml files of kernel-matrix/: one table-driven walk per file
 * (base/yaml.h), so every message is "FILE:LINE:COL: key.path: expected ..." and an
 * unknown key gets a "did you mean". The checks across files (an OS twice, an unknown
 * driver) are in matrix-check.c. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/sha256.h"
#include "base/yaml.h"
#include "fleet/labels.h"
#include "fleet/matrix-internal.h"

/* What one file's walk fills: the matrix (drivers and oses are appended) and what the
 * file said at its top. */
struct mx_file {
	struct dk_matrix *m;
	const char *dir; /* the file's directory ("" for none), for drivers' config: */
	bool has_version;
};

static bool chars_ok(const char *s, const char *extra)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      strchr(extra, *s)))
			return false;
	return true;
}

static struct dk_mx_pos pos_of(struct dk_yaml_walk *w, const struct dk_yaml_node *n)
{
	return (struct dk_mx_pos){w->file, n->line, n->column};
}

static void *grow(void *arr, size_t n, size_t size)
{
	void *p = realloc(arr, (n + 1) * size);

	if (p)
		memset((char *)p + n * size, 0, size);
	return p;
}

#define GROW(w, arr, n)                                                \
	({                                                             \
		__typeof__(arr) _g = grow((arr), (n), sizeof(*(arr))); \
		_g ? ((arr) = _g, &(arr)[(n)++], 0)                    \
		   : dk_error_set((w)->err, ENOMEM, "out of memory");  \
	})

/* A scalar of [a-z0-9] plus extra; what: "a driver name" for the message. */
static int get_name(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    const char *extra, const char *what, char **out)
{
	_cleanup_free_ char *s = NULL;
	int r = dk_yaml_get_string(w, n, key, &s);

	if (r < 0)
		return r;
	if (!chars_ok(s, extra))
		return dk_yaml_fail(w, n, key,
				    "'%s' is not %s: use lowercase letters, digits and "
				    "'%s'",
				    s, what, extra);
	*out = TAKE_PTR(s);
	return 0;
}

static int get_branch_name(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, char **out)
{
	return get_name(w, n, key, "._-", "a branch name", out);
}

/* ---- drivers: ---- */

static int set_driver_name(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	return get_name(w, n, key, "-", "a driver name",
			&((struct dk_mx_driver *)obj)->name);
}

static int set_branch_version(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			      const char *key, void *obj)
{
	return get_name(w, n, key, "._+~-", "a driver version",
			&((struct dk_mx_branch *)obj)->version);
}

static int set_branch_branch(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			     const char *key, void *obj)
{
	return get_branch_name(w, n, key, &((struct dk_mx_branch *)obj)->branch);
}

static const struct dk_yaml_field branch_fields[] = {
	{.name = "branch", .required = true, .set = set_branch_branch},
	{.name = "version", .required = true, .set = set_branch_version},
};

/* A list of mappings: each walked with fields into a new element of *arr. */
#define WALK_LIST(w, n, key, what, fields, arr, count, each)                             \
	({                                                                               \
		int _r = 0;                                                              \
		if ((n)->kind != DK_YAML_SEQUENCE)                                       \
			_r = dk_yaml_fail((w), (n), (key),                               \
					  "expected a list of %s, got %s", (what),       \
					  dk_yaml_kind_name(n));                         \
		for (size_t _i = 0; _r >= 0 && _i < (n)->n; _i++) {                      \
			_cleanup_free_ char *_sub = dk_yaml_subindex((key), _i);         \
			if (!_sub) {                                                     \
				_r = dk_error_set((w)->err, ENOMEM, "out of memory");    \
				break;                                                   \
			}                                                                \
			_r = GROW((w), (arr), (count));                                  \
			if (_r < 0)                                                      \
				break;                                                   \
			(arr)[(count)-1].pos = pos_of((w), (n)->items[_i]);              \
			_r = dk_yaml_walk_mapping((w), (n)->items[_i], _sub, (fields),   \
						  ARRAY_SIZE(fields),                    \
						  &(arr)[(count)-1]);                    \
			if (_r >= 0)                                                     \
				_r = each((w), (n)->items[_i], _sub, &(arr)[(count)-1]); \
		}                                                                        \
		_r;                                                                      \
	})

static int set_branches(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			const char *key, void *obj)
{
	struct dk_mx_driver *d = obj;

	if (n->kind != DK_YAML_SEQUENCE || n->n == 0)
		return dk_yaml_fail(w, n, key,
				    "expected a list of {branch, version}, at least one");
	for (size_t i = 0; i < n->n; i++) {
		_cleanup_free_ char *sub = dk_yaml_subindex(key, i);
		struct dk_mx_branch *b;
		int r;

		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		r = GROW(w, d->branches, d->n_branches);
		if (r < 0)
			return r;
		b = &d->branches[d->n_branches - 1];
		r = dk_yaml_walk_mapping(w, n->items[i], sub, branch_fields,
					 ARRAY_SIZE(branch_fields), b);
		if (r < 0)
			return r;
		for (size_t j = 0; j + 1 < d->n_branches; j++)
			if (streq(d->branches[j].branch, b->branch))
				return dk_yaml_fail(w, n->items[i], sub,
						    "branch %s is listed twice",
						    b->branch);
	}
	return 0;
}

/* config: a path whose only placeholder is {arch} (one config per arch: the NVIDIA
 * proprietary source carries per-arch objects, so its pinned .deb differs). */
static int set_driver_config(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			     const char *key, void *obj)
{
	struct dk_mx_driver *d = obj;
	_cleanup_free_ char *s = NULL, *x = NULL;
	const char *bad = NULL;
	int r = dk_yaml_get_string(w, n, key, &s);

	if (r < 0)
		return r;
	x = dk_mx_driver_config_expand(s, "amd64", &bad);
	if (!x && bad)
		return dk_yaml_fail(
			w, n, key,
			"unknown placeholder at '%.24s': the only one is {arch} "
			"(amd64 or arm64)",
			bad);
	if (!x)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	free(d->config);
	d->config = TAKE_PTR(s);
	return 0;
}

char *dk_mx_driver_config_expand(const char *path, const char *arch, const char **bad)
{
	static const char *const names[] = {"arch"};
	const char *values[] = {arch};

	*bad = NULL;
	return dk_expand_placeholders(path, names, values, 1, true, bad);
}

char *dk_mx_driver_config(const struct dk_mx_driver *d, const char *arch)
{
	const char *bad;

	return d->config ? dk_mx_driver_config_expand(d->config, arch, &bad) : strdup("");
}

/* node_selector: label keys and values as Kubernetes allows them (a DaemonSet with a
 * bad one is refused by the API server, long after CI built its images). */
static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool label_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 63 || !alnum(s[0]) || !alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!alnum(s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static bool label_prefix_ok(const char *s, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	for (size_t start = 0, i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!((s[i] >= 'a' && s[i] <= 'z') ||
			      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
				return false;
			continue;
		}
		if (i == start || i - start > 63 || s[start] == '-' || s[i - 1] == '-')
			return false;
		start = i + 1;
	}
	return true;
}

static bool label_key_ok(const char *k)
{
	const char *slash = strchr(k, '/');

	if (!slash)
		return label_name_ok(k, strlen(k));
	return label_prefix_ok(k, (size_t)(slash - k)) &&
	       label_name_ok(slash + 1, strlen(slash + 1));
}

static bool label_value_ok(const char *v)
{
	return !*v || label_name_ok(v, strlen(v));
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct dk_mx_label *)a)->key,
		      ((const struct dk_mx_label *)b)->key);
}

static int set_node_selector(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			     const char *key, void *obj)
{
	static const char *const own[] = {DK_LABEL_OS_ID, DK_LABEL_OS_VERSION,
					  DK_LABEL_OSTREE, DK_LABEL_ARCH,
					  DK_LABEL_KERNEL};
	struct dk_mx_driver *d = obj;

	if (n->kind != DK_YAML_MAPPING)
		return dk_yaml_fail(
			w, n, key,
			"expected a mapping of label: value (e.g. "
			"feature.node.kubernetes.io/pci-10de.present: \"true\"), "
			"got %s",
			dk_yaml_kind_name(n));
	for (size_t i = 0; i < n->n; i++) {
		const struct dk_yaml_node *k = n->pairs[i].key, *v = n->pairs[i].value;
		_cleanup_free_ char *sub = NULL;
		struct dk_mx_label *l;
		int r;

		if (k->kind != DK_YAML_SCALAR || !label_key_ok(k->value))
			return dk_yaml_fail(w, k, key,
					    "'%s' is not a label key: expected "
					    "[PREFIX/]NAME, PREFIX a "
					    "DNS subdomain, NAME at most 63 of "
					    "[A-Za-z0-9._-] starting "
					    "and ending with a letter or digit",
					    k->kind == DK_YAML_SCALAR
						    ? k->value
						    : dk_yaml_kind_name(k));
		sub = dk_yaml_subkey(key, k->value);
		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		for (size_t j = 0; j < ARRAY_SIZE(own); j++)
			if (streq(k->value, own[j]))
				return dk_yaml_fail(
					w, k, sub,
					"drvkit daemonsets selects nodes by this label "
					"itself (from the OS version, arch and kernel): "
					"expected another label");
		if (dk_yaml_key_repeats(n, i))
			return dk_yaml_fail(w, k, sub, "label given twice");
		if (v->kind != DK_YAML_SCALAR)
			return dk_yaml_fail(w, v, sub,
					    "expected a label value (a string, e.g. "
					    "\"true\"), got %s",
					    dk_yaml_kind_name(v));
		if (!label_value_ok(v->value))
			return dk_yaml_fail(
				w, v, sub,
				"'%s' is not a label value: expected at most 63 of "
				"[A-Za-z0-9._-] starting and ending with a letter or "
				"digit, "
				"or empty",
				v->value);
		r = GROW(w, d->node_selector, d->n_node_selector);
		if (r < 0)
			return r;
		l = &d->node_selector[d->n_node_selector - 1];
		if (!(l->key = strdup(k->value)) || !(l->value = strdup(v->value)))
			return dk_error_set(w->err, ENOMEM, "out of memory");
	}
	qsort(d->node_selector, d->n_node_selector, sizeof(*d->node_selector), cmp_label);
	return 0;
}

static const struct dk_yaml_field driver_fields[] = {
	{.name = "name", .required = true, .set = set_driver_name},
	{.name = "image",
	 .type = DK_YAML_STRING,
	 .offset = offsetof(struct dk_mx_driver, image)},
	{.name = "config", .null_ok = true, .set = set_driver_config},
	{.name = "branches", .required = true, .set = set_branches},
	{.name = "node_selector", .null_ok = true, .set = set_node_selector},
};

static int no_more(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		   void *obj)
{
	(void)w, (void)n, (void)key, (void)obj;
	return 0;
}

static int set_drivers(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, void *obj)
{
	struct mx_file *f = obj;
	struct dk_matrix *m = f->m;
	size_t first = m->n_drivers;
	int r;

	r = WALK_LIST(w, n, key, "drivers", driver_fields, m->drivers, m->n_drivers,
		      no_more);
	if (r < 0)
		return r;
	for (size_t i = first; i < m->n_drivers; i++) {
		struct dk_mx_driver *d = &m->drivers[i];

		if (!d->image && !(d->image = strdup(d->name)))
			return dk_error_set(w->err, ENOMEM, "out of memory");
		if (d->config && d->config[0] != '/' && f->dir[0]) {
			char *p = dk_path_join(f->dir, d->config);

			if (!p)
				return dk_error_set(w->err, ENOMEM, "out of memory");
			free(d->config);
			d->config = p;
		}
	}
	return 0;
}

/* ---- os: versions[].kernels[] ---- */

static int set_kernel_release(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			      const char *key, void *obj)
{
	_cleanup_free_ char *s = NULL;
	int r = dk_yaml_get_string(w, n, key, &s);

	if (r < 0)
		return r;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._+~-", *p)))
			return dk_yaml_fail(
				w, n, key,
				"'%s' is not a kernel release (uname -r, e.g. "
				"6.1.0-56-amd64)",
				s);
	((struct dk_mx_kernel *)obj)->release = TAKE_PTR(s);
	return 0;
}

static int set_kernel_arch(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	_cleanup_free_ char *s = NULL;
	const char *a;
	int r = dk_yaml_get_string(w, n, key, &s);

	if (r < 0)
		return r;
	a = dk_mx_arch_normalise(s);
	if (!a)
		return dk_yaml_fail(
			w, n, key,
			"unknown architecture '%s': expected amd64 (or x86_64) "
			"or arm64 (or aarch64)",
			s);
	((struct dk_mx_kernel *)obj)->arch = strdup(a);
	return ((struct dk_mx_kernel *)obj)->arch
		       ? 0
		       : dk_error_set(w->err, ENOMEM, "out of memory");
}

static int set_pkg_url(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, void *obj)
{
	_cleanup_free_ char *s = NULL;
	int r = dk_yaml_get_string(w, n, key, &s);

	if (r < 0)
		return r;
	if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8) &&
	    strncmp(s, "file://", 7))
		return dk_yaml_fail(w, n, key,
				    "'%s' is not a URL drvkit can download: expected "
				    "http://, https:// or file://",
				    s);
	if (strpbrk(s, " \t#"))
		return dk_yaml_fail(w, n, key,
				    "'%s': a URL here may not hold spaces or '#' (the "
				    "headers' build argument is 'URL#sha256=HEX')",
				    s);
	((struct dk_mx_package *)obj)->url = TAKE_PTR(s);
	return 0;
}

static int set_pkg_sha256(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			  const char *key, void *obj)
{
	_cleanup_free_ char *s = NULL;
	int r = dk_yaml_get_string(w, n, key, &s);

	if (r < 0)
		return r;
	if (!dk_sha256_is_hex(s))
		return dk_yaml_fail(w, n, key,
				    "expected 64 lowercase hex digits (sha256sum of the "
				    "package), got '%s'",
				    s);
	((struct dk_mx_package *)obj)->sha256 = TAKE_PTR(s);
	return 0;
}

static const struct dk_yaml_field package_fields[] = {
	{.name = "url", .required = true, .set = set_pkg_url},
	{.name = "sha256", .required = true, .set = set_pkg_sha256},
};

static int set_packages(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			const char *key, void *obj)
{
	struct dk_mx_kernel *k = obj;

	if (n->kind != DK_YAML_SEQUENCE || n->n == 0)
		return dk_yaml_fail(
			w, n, key,
			"expected a list of {url, sha256}, at least one package");
	return WALK_LIST(w, n, key, "{url, sha256}", package_fields, k->packages,
			 k->n_packages, no_more);
}

static const struct dk_yaml_field headers_fields[] = {
	{.name = "packages", .required = true, .set = set_packages},
};

static int set_headers(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, void *obj)
{
	struct dk_mx_kernel *k = obj;
	const char *s = dk_yaml_scalar(n);

	if (n->kind == DK_YAML_MAPPING) {
		k->headers = DK_MX_HEADERS_PACKAGES;
		return dk_yaml_walk_mapping(w, n, key, headers_fields,
					    ARRAY_SIZE(headers_fields), k);
	}
	if (s && streq(s, "installed"))
		k->headers = DK_MX_HEADERS_INSTALLED;
	else if (s && streq(s, "dtk"))
		k->headers = DK_MX_HEADERS_DTK;
	else
		return dk_yaml_fail(
			w, n, key,
			"expected installed, dtk or {packages: [{url, sha256}]}, "
			"got %s%s%s",
			s ? "'" : "", s ? s : dk_yaml_kind_name(n), s ? "'" : "");
	return 0;
}

static const struct dk_yaml_field kernel_fields[] = {
	{.name = "release", .required = true, .set = set_kernel_release},
	{.name = "arch", .required = true, .set = set_kernel_arch},
	{.name = "headers", .required = true, .set = set_headers},
};

/* ---- os: versions[].drivers[] ---- */

static int set_use_name(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			const char *key, void *obj)
{
	return get_name(w, n, key, "-", "a driver name",
			&((struct dk_mx_use *)obj)->driver);
}

static int set_use_branches(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			    const char *key, void *obj)
{
	struct dk_mx_use *u = obj;
	int r = dk_yaml_get_list(w, n, key, "branches", get_branch_name, &u->branches,
				 &u->n_branches);

	if (r >= 0 && u->n_branches == 0)
		return dk_yaml_fail(w, n, key, "expected at least one branch");
	return r;
}

static const struct dk_yaml_field use_fields[] = {
	{.name = "name", .required = true, .set = set_use_name},
	{.name = "branches", .required = true, .set = set_use_branches},
};

/* ---- os: versions[] ---- */

static int set_osver_version(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			     const char *key, void *obj)
{
	return get_name(w, n, key, "._-",
			"an OS version (VERSION_ID, e.g. \"12\", \"22.04\")",
			&((struct dk_mx_osver *)obj)->version);
}

static int set_dtk_image(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			 const char *key, void *obj)
{
	struct dk_mx_osver *v = obj;

	v->dtk_pos = pos_of(w, n);
	if (dk_yaml_is_null(n))
		return 0;
	return dk_yaml_get_string(w, n, key, &v->dtk_image);
}

static int set_uses(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    void *obj)
{
	struct dk_mx_osver *v = obj;

	return WALK_LIST(w, n, key, "{name, branches}", use_fields, v->uses, v->n_uses,
			 no_more);
}

static int set_kernels(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, void *obj)
{
	struct dk_mx_osver *v = obj;

	return WALK_LIST(w, n, key, "kernels", kernel_fields, v->kernels, v->n_kernels,
			 no_more);
}

static const struct dk_yaml_field osver_fields[] = {
	{.name = "version", .required = true, .set = set_osver_version},
	{.name = "ostree_version",
	 .type = DK_YAML_STRING,
	 .null_ok = true,
	 .offset = offsetof(struct dk_mx_osver, ostree_version)},
	{.name = "dtk_image", .null_ok = false, .set = set_dtk_image},
	{.name = "base_image",
	 .type = DK_YAML_STRING,
	 .null_ok = true,
	 .offset = offsetof(struct dk_mx_osver, base_image)},
	{.name = "drivers", .set = set_uses},
	{.name = "kernels", .set = set_kernels},
};

/* ---- os: ---- */

static int set_os_id(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		     const char *key, void *obj)
{
	return get_name(w, n, key, "._-", "an os-release ID (e.g. debian, rhcos)",
			&((struct dk_mx_os *)obj)->id);
}

static int set_versions(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			const char *key, void *obj)
{
	struct dk_mx_os *os = obj;

	if (n->kind == DK_YAML_SEQUENCE && n->n == 0)
		return dk_yaml_fail(w, n, key, "expected at least one version");
	return WALK_LIST(w, n, key, "versions", osver_fields, os->versions,
			 os->n_versions, no_more);
}

static const struct dk_yaml_field os_fields[] = {
	{.name = "id", .required = true, .set = set_os_id},
	{.name = "versions", .required = true, .set = set_versions},
};

static int set_os(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		  void *obj)
{
	struct mx_file *f = obj;
	struct dk_matrix *m = f->m;
	int r;

	r = GROW(w, m->oses, m->n_oses);
	if (r < 0)
		return r;
	m->oses[m->n_oses - 1].pos = pos_of(w, n);
	r = dk_yaml_walk_mapping(w, n, key, os_fields, ARRAY_SIZE(os_fields),
				 &m->oses[m->n_oses - 1]);
	return r < 0 ? r : dk_mx_check_os(w, &m->oses[m->n_oses - 1]);
}

static int set_version(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, void *obj)
{
	const char *s = dk_yaml_scalar(n);

	if (!s || !streq(s, "1"))
		return dk_yaml_fail(
			w, n, key,
			"unsupported matrix version %s%s%s: this drvkit reads "
			"version: 1",
			s ? "'" : "", s ? s : dk_yaml_kind_name(n), s ? "'" : "");
	((struct mx_file *)obj)->has_version = true;
	return 0;
}

static const struct dk_yaml_field top_fields[] = {
	{.name = "version", .required = true, .set = set_version},
	{.name = "drivers", .set = set_drivers},
	{.name = "os", .set = set_os},
};

static int load_file(struct dk_matrix *m, const char *path, struct dk_error **err)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	_cleanup_free_ char *data = NULL, *dir = strdup(path);
	struct dk_yaml_walk w = {path, err};
	struct mx_file f = {.m = m};
	size_t len = 0, nd = m->n_drivers, no = m->n_oses;
	char *slash;
	int r;

	if (!dir)
		return dk_error_set(err, ENOMEM, "out of memory");
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	f.dir = slash ? dir : "";
	r = dk_read_file(path, DK_YAML_MAX_BYTES, &data, &len);
	if (r < 0)
		return dk_error_set(err, -r, "read %s: %s", path, strerror(-r));
	r = dk_yaml_parse(path, data, len, 0, &doc, err);
	if (r < 0)
		return r;
	if (!doc->root)
		return dk_error_set(
			err, EBADMSG,
			"%s: the file is empty: expected version: 1 and drivers: "
			"or os:",
			path);
	r = dk_yaml_walk_mapping(&w, doc->root, "", top_fields, ARRAY_SIZE(top_fields),
				 &f);
	if (r < 0)
		return r;
	if (m->n_drivers == nd && m->n_oses == no)
		return dk_yaml_fail(
			&w, doc->root, "",
			"expected drivers: (driver branches) or os: (an OS, its "
			"versions and kernels); this file has neither");
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_yaml_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] != '.' && l > 5 && streq(n + l - 5, ".yaml");
}

/* The files of dir, sorted (or dir itself when it is a file). */
static int list_files(struct dk_matrix *m, const char *dir, struct dk_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (!dk_is_dir(dir)) {
		if (!dk_path_exists(dir))
			return dk_error_set(err, ENOENT,
					    "kernel matrix %s: no such directory or file",
					    dir);
		m->files = calloc(1, sizeof(*m->files));
		if (!m->files || !(m->files[0] = strdup(dir)))
			return dk_error_set(err, ENOMEM, "out of memory");
		m->n_files = 1;
		return 0;
	}
	d = opendir(dir);
	if (!d)
		return dk_error_set(err, errno, "kernel matrix %s: %s", dir,
				    strerror(errno));
	while ((de = readdir(d))) {
		char **f;

		if (!is_yaml_name(de->d_name))
			continue;
		f = realloc(m->files, (m->n_files + 1) * sizeof(*f));
		if (!f)
			return dk_error_set(err, ENOMEM, "out of memory");
		m->files = f;
		f[m->n_files] = dk_path_join(dir, de->d_name);
		if (!f[m->n_files])
			return dk_error_set(err, ENOMEM, "out of memory");
		m->n_files++;
	}
	if (m->n_files == 0)
		return dk_error_set(err, ENOENT,
				    "kernel matrix %s: no *.yaml files in the directory",
				    dir);
	qsort(m->files, m->n_files, sizeof(*m->files), cmp_str);
	return 0;
}

int dk_matrix_load(const char *dir, struct dk_matrix **out, struct dk_error **err)
{
	_cleanup_matrix_ struct dk_matrix *m = calloc(1, sizeof(*m));
	int r;

	if (!m || !(m->dir = strdup(dir)))
		return dk_error_set(err, ENOMEM, "out of memory");
	r = list_files(m, dir, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->n_files; i++) {
		r = load_file(m, m->files[i], err);
		if (r < 0)
			return r;
	}
	r = dk_mx_check_matrix(m, err);
	if (r < 0)
		return r;
	*out = TAKE_PTR(m);
	return 0;
}

static void osver_release(struct dk_mx_osver *v)
{
	for (size_t i = 0; i < v->n_uses; i++) {
		for (size_t j = 0; j < v->uses[i].n_branches; j++)
			free(v->uses[i].branches[j]);
		free(v->uses[i].branches);
		free(v->uses[i].driver);
	}
	free(v->uses);
	for (size_t i = 0; i < v->n_kernels; i++) {
		struct dk_mx_kernel *k = &v->kernels[i];

		for (size_t j = 0; j < k->n_packages; j++) {
			free(k->packages[j].url);
			free(k->packages[j].sha256);
		}
		free(k->packages);
		free(k->release);
		free(k->arch);
	}
	free(v->kernels);
	free(v->version);
	free(v->ostree_version);
	free(v->dtk_image);
	free(v->base_image);
}

void dk_matrix_free(struct dk_matrix *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_oses; i++) {
		for (size_t j = 0; j < m->oses[i].n_versions; j++)
			osver_release(&m->oses[i].versions[j]);
		free(m->oses[i].versions);
		free(m->oses[i].id);
	}
	free(m->oses);
	for (size_t i = 0; i < m->n_drivers; i++) {
		struct dk_mx_driver *d = &m->drivers[i];

		for (size_t j = 0; j < d->n_branches; j++) {
			free(d->branches[j].branch);
			free(d->branches[j].version);
		}
		free(d->branches);
		for (size_t j = 0; j < d->n_node_selector; j++) {
			free(d->node_selector[j].key);
			free(d->node_selector[j].value);
		}
		free(d->node_selector);
		free(d->name);
		free(d->image);
		free(d->config);
	}
	free(m->drivers);
	for (size_t i = 0; i < m->n_files; i++)
		free(m->files[i]);
	free(m->files);
	free(m->dir);
	free(m);
}
