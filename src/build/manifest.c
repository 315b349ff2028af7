/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/sha256.h"
#include "base/yaml.h"
#include "build/manifest.h"

/* Manifests are small: 64 KiB is thousands of modules. */
#define MANIFEST_MAX (1u << 20)

void dk_manifest_json(struct json_writer *w, const struct dk_manifest *m)
{
	json_begin_object(w);
	json_kv_int(w, "drvkit_manifest", DK_MANIFEST_VERSION);
	json_kv_string(w, "component", m->component);
	json_kv_string(w, "version", m->version);
	json_kv_string(w, "flavor", m->flavor);
	json_kv_string(w, "kernel", m->kernel);
	json_kv_string(w, "arch", m->arch);
	json_kv_string(w, "key", m->key);
	json_kv_string(w, "alias", m->alias);
	json_kv_string(w, "source_url", m->source_url);
	json_kv_string(w, "source_sha256", m->source_sha256);
	json_kv_strv(w, "patches", m->patches, m->n_patches);
	json_kv_string(w, "spec_sha256", m->spec_sha256);
	json_kv_string(w, "compiler", m->compiler);
	json_kv_string(w, "kernel_config_sha256", m->kernel_config_sha256);
	json_kv_string(w, "kernel_symvers_sha256", m->kernel_symvers_sha256);
	json_key(w, "uses");
	json_begin_array(w);
	for (size_t i = 0; i < m->n_uses; i++) {
		json_begin_object(w);
		json_kv_string(w, "component", m->uses[i].component);
		json_kv_string(w, "manifest_sha256", m->uses[i].manifest_sha256);
		json_kv_string(w, "symvers_sha256", m->uses[i].symvers_sha256);
		json_end_object(w);
	}
	json_end_array(w);
	json_kv_string(w, "symvers_sha256", m->symvers_sha256);
	json_kv_string(w, "signer", m->signer);
	json_key(w, "modules");
	json_begin_array(w);
	for (size_t i = 0; i < m->n_modules; i++) {
		const struct dk_manifest_module *mm = &m->modules[i];

		json_begin_object(w);
		json_kv_string(w, "name", mm->name);
		json_kv_string(w, "file", mm->file);
		json_kv_string(w, "sha256", mm->sha256);
		json_kv_int(w, "size", mm->size);
		json_kv_string(w, "srcversion", mm->srcversion);
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

int dk_manifest_write(const struct dk_manifest *m, const char *dir, struct dk_error **err)
{
	_cleanup_free_ char *path = dk_path_join(dir, "manifest.json");
	struct json_writer w;
	int r;

	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	json_init(&w, true);
	dk_manifest_json(&w, m);
	r = dk_write_json_atomic(path, &w);
	if (r < 0)
		return dk_error_set(err, -r, "write %s: %s", path, strerror(-r));
	return 0;
}

/* ---- reading ---- */

#define M_STR(field, req)                                                        \
	{                                                                        \
		.name = #field, .type = DK_YAML_STRING, .required = (req),       \
		.null_ok = !(req), .offset = offsetof(struct dk_manifest, field) \
	}

static int set_version_no(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			  const char *key, void *obj)
{
	int v = 0, r = dk_yaml_get_int(w, n, key, 0, 1000, &v);

	(void)obj;
	if (r < 0)
		return r;
	if (v != DK_MANIFEST_VERSION)
		return dk_yaml_fail(w, n, key,
				    "manifest version %d; this drvkit reads version %d",
				    v, DK_MANIFEST_VERSION);
	return 0;
}

static int set_patches(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, void *obj)
{
	struct dk_manifest *m = obj;

	return dk_yaml_get_list(w, n, key, "patches", NULL, &m->patches, &m->n_patches);
}

static const struct dk_yaml_field use_fields[] = {
	{.name = "component",
	 .type = DK_YAML_STRING,
	 .required = true,
	 .offset = offsetof(struct dk_manifest_use, component)},
	{.name = "manifest_sha256",
	 .type = DK_YAML_STRING,
	 .required = true,
	 .offset = offsetof(struct dk_manifest_use, manifest_sha256)},
	{.name = "symvers_sha256",
	 .type = DK_YAML_STRING,
	 .null_ok = true,
	 .offset = offsetof(struct dk_manifest_use, symvers_sha256)},
};

static int set_size(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    void *obj)
{
	struct dk_manifest_module *mm = obj;
	const char *s = dk_yaml_scalar(n);
	char *end = NULL;
	long long v;

	errno = 0;
	v = s ? strtoll(s, &end, 10) : -1;
	if (!s || errno || *end || v < 0)
		return dk_yaml_fail(w, n, key, "expected a size in bytes");
	mm->size = v;
	return 0;
}

static const struct dk_yaml_field module_fields[] = {
	{.name = "name",
	 .type = DK_YAML_STRING,
	 .required = true,
	 .offset = offsetof(struct dk_manifest_module, name)},
	{.name = "file",
	 .type = DK_YAML_STRING,
	 .required = true,
	 .offset = offsetof(struct dk_manifest_module, file)},
	{.name = "sha256",
	 .type = DK_YAML_STRING,
	 .required = true,
	 .offset = offsetof(struct dk_manifest_module, sha256)},
	{.name = "size", .required = true, .set = set_size},
	{.name = "srcversion",
	 .type = DK_YAML_STRING,
	 .null_ok = true,
	 .offset = offsetof(struct dk_manifest_module, srcversion)},
};

/* A list of mappings into an array of structs of size sz. */
static int get_objects(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, const struct dk_yaml_field *f, size_t nf,
		       size_t sz, void **out, size_t *n_out)
{
	char *v;

	if (n->kind != DK_YAML_SEQUENCE)
		return dk_yaml_fail(w, n, key, "expected a list");
	v = calloc(n->n + 1, sz);
	if (!v)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	*out = v;
	for (size_t i = 0; i < n->n; i++) {
		_cleanup_free_ char *sub = dk_yaml_subindex(key, i);
		int r;

		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		*n_out = i + 1;
		r = dk_yaml_walk_mapping(w, n->items[i], sub, f, nf, v + i * sz);
		if (r < 0)
			return r;
	}
	return 0;
}

static int set_uses(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    void *obj)
{
	struct dk_manifest *m = obj;

	return get_objects(w, n, key, use_fields, ARRAY_SIZE(use_fields),
			   sizeof(*m->uses), (void **)&m->uses, &m->n_uses);
}

static bool safe_file_name(const char *s)
{
	return *s && !strchr(s, '/') && !streq(s, ".") && !streq(s, "..");
}

static int set_modules(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, void *obj)
{
	struct dk_manifest *m = obj;
	int r = get_objects(w, n, key, module_fields, ARRAY_SIZE(module_fields),
			    sizeof(*m->modules), (void **)&m->modules, &m->n_modules);

	for (size_t i = 0; r >= 0 && i < m->n_modules; i++)
		if (!safe_file_name(m->modules[i].file))
			r = dk_yaml_fail(w, n->items[i], key,
					 "module file '%s' is not a file name",
					 m->modules[i].file);
	return r;
}

static const struct dk_yaml_field manifest_fields[] = {
	{.name = "drvkit_manifest", .required = true, .set = set_version_no},
	M_STR(component, true),
	M_STR(version, false),
	M_STR(flavor, false),
	M_STR(kernel, true),
	M_STR(arch, false),
	M_STR(key, false),
	M_STR(alias, false),
	M_STR(source_url, false),
	M_STR(source_sha256, false),
	{.name = "patches", .set = set_patches},
	M_STR(spec_sha256, false),
	M_STR(compiler, false),
	M_STR(kernel_config_sha256, false),
	M_STR(kernel_symvers_sha256, false),
	{.name = "uses", .set = set_uses},
	M_STR(symvers_sha256, false),
	M_STR(signer, false),
	{.name = "modules", .required = true, .set = set_modules},
};

int dk_manifest_parse(const char *name, const char *data, size_t len,
		      struct dk_manifest **out, struct dk_error **err)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	_cleanup_manifest_ struct dk_manifest *m = NULL;
	struct dk_yaml_walk w = {name, err};
	int r;

	r = dk_yaml_parse(name, data, len, DK_YAML_JSON, &doc, err);
	if (r < 0)
		return r;
	if (!doc->root)
		return dk_error_set(err, EBADMSG, "%s: empty", name);
	m = calloc(1, sizeof(*m));
	if (!m)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_yaml_walk_mapping(&w, doc->root, "", manifest_fields,
				 ARRAY_SIZE(manifest_fields), m);
	if (r < 0)
		return r;
	*out = TAKE_PTR(m);
	return 0;
}

int dk_manifest_read(const char *dir, struct dk_manifest **out, char **sha256,
		     struct dk_error **err)
{
	_cleanup_free_ char *path = dk_path_join(dir, "manifest.json");
	_cleanup_free_ char *data = NULL;
	char hex[DK_SHA256_HEX_LEN + 1];
	size_t len = 0;
	int r;

	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_read_file(path, MANIFEST_MAX, &data, &len);
	if (r < 0)
		return dk_error_set(err, -r, "read %s: %s", path, strerror(-r));
	r = dk_manifest_parse(path, data, len, out, err);
	if (r < 0 || !sha256)
		return r;
	if (dk_sha256_buffer(data, len, hex) < 0 || !(*sha256 = strdup(hex))) {
		dk_manifest_free(*out);
		*out = NULL;
		return dk_error_set(err, ENOMEM, "sha256 of %s failed", path);
	}
	return 0;
}

int dk_manifest_verify(const struct dk_manifest *m, const char *dir,
		       struct dk_error **err)
{
	for (size_t i = 0; i < m->n_modules; i++) {
		const struct dk_manifest_module *mm = &m->modules[i];
		_cleanup_free_ char *path = dk_path_join(dir, mm->file);
		char got[DK_SHA256_HEX_LEN + 1];
		struct stat st;
		int r;

		if (!path)
			return dk_error_set(err, ENOMEM, "out of memory");
		if (lstat(path, &st) < 0)
			return dk_error_set(err, errno, "%s: %s (listed in the manifest)",
					    path, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return dk_error_set(err, EBADMSG, "%s: not a regular file", path);
		if ((int64_t)st.st_size != mm->size)
			return dk_error_set(
				err, EBADMSG, "%s: %lld bytes, the manifest says %lld",
				path, (long long)st.st_size, (long long)mm->size);
		r = dk_sha256_file(path, got);
		if (r < 0)
			return dk_error_set(err, -r, "read %s: %s", path, strerror(-r));
		if (!streq(got, mm->sha256))
			return dk_error_set(err, EBADMSG,
					    "%s: sha256 %s, the manifest says %s", path,
					    got, mm->sha256);
	}
	return 0;
}

const struct dk_manifest_module *dk_manifest_module(const struct dk_manifest *m,
						    const char *name)
{
	for (size_t i = 0; i < m->n_modules; i++)
		if (streq(m->modules[i].name, name))
			return &m->modules[i];
	return NULL;
}

void dk_manifest_free(struct dk_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_modules; i++) {
		free(m->modules[i].name);
		free(m->modules[i].file);
		free(m->modules[i].sha256);
		free(m->modules[i].srcversion);
	}
	free(m->modules);
	for (size_t i = 0; i < m->n_uses; i++) {
		free(m->uses[i].component);
		free(m->uses[i].manifest_sha256);
		free(m->uses[i].symvers_sha256);
	}
	free(m->uses);
	for (size_t i = 0; i < m->n_patches; i++)
		free(m->patches[i]);
	free(m->patches);
	free(m->key);
	free(m->alias);
	free(m->component);
	free(m->version);
	free(m->flavor);
	free(m->kernel);
	free(m->arch);
	free(m->source_url);
	free(m->source_sha256);
	free(m->spec_sha256);
	free(m->compiler);
	free(m->kernel_config_sha256);
	free(m->kernel_symvers_sha256);
	free(m->symvers_sha256);
	free(m->signer);
	free(m);
}
