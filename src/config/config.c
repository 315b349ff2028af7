/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/yaml.h"
#include "config/config.h"

bool dk_module_name_ok(const char *s)
{
	if (!*s || strlen(s) >= DK_MODULE_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool has_control_but_tab(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return true;
	return false;
}

bool dk_kernel_release_ok(const char *s)
{
	return *s && strlen(s) < 65 && !strpbrk(s, "/ ") && !strstr(s, "..") &&
	       !streq(s, ".") && !has_control(s);
}

/* The one check that a module is named once (config modules, params file): by the
 * kernel's name, so a-b and a_b are the same module. mods[i] against the earlier. */
static int module_repeats(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			  const char *key, const struct dk_config_module *mods, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (streq(mods[j].name, mods[i].name))
			return dk_yaml_fail(
				w, n, key, "module %s is listed twice (first on line %d)",
				mods[i].name, mods[j].line);
	return 0;
}

/* A list longer than max is refused before its items are read: every check after
 * (duplicates, the plan) stays cheap. */
static int check_count(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, size_t max, const char *what)
{
	if (n->n > max)
		return dk_yaml_fail(w, n, key, "%zu %s: at most %zu are allowed", n->n,
				    what, max);
	return 0;
}

static int get_module_name(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, char **out)
{
	int r = dk_yaml_get_string(w, n, key, out);

	if (r < 0)
		return r;
	if (!dk_module_name_ok(*out))
		return dk_yaml_fail(
			w, n, key, "'%s' is not a module name (letters, digits, _ and -)",
			*out);
	dk_modname_kernel(*out);
	return 0;
}

/* ---- params ---- */

static int set_params(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		      const char *key, void *obj)
{
	struct dk_config_module *m = obj;

	if (n->kind != DK_YAML_MAPPING)
		return dk_yaml_fail(w, n, key,
				    "expected a mapping of name: value, got %s",
				    dk_yaml_kind_name(n));
	if (check_count(w, n, key, DK_CONFIG_MAX_PARAMS, "parameters") < 0)
		return -EBADMSG;
	m->params = calloc(n->n ? n->n : 1, sizeof(*m->params));
	if (!m->params)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		const struct dk_yaml_node *kn = n->pairs[i].key, *vn = n->pairs[i].value;
		struct dk_config_param *pp = &m->params[m->n_params];
		_cleanup_free_ char *sub = NULL;

		if (kn->kind != DK_YAML_SCALAR)
			return dk_yaml_fail(w, kn, key,
					    "expected a mapping of name: value");
		sub = dk_yaml_subkey(key, kn->value);
		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		if (!dk_module_name_ok(kn->value) || strchr(kn->value, '-'))
			return dk_yaml_fail(w, kn, sub, "'%s' is not a parameter name",
					    kn->value);
		if (dk_yaml_key_repeats(n, i))
			return dk_yaml_fail(w, kn, sub, "given twice");
		if (vn->kind != DK_YAML_SCALAR)
			return dk_yaml_fail(w, vn, sub,
					    "expected a scalar value (number, string or "
					    "bool), got %s",
					    dk_yaml_kind_name(vn));
		/* The kernel splits parameters at spaces outside double quotes: a
		 * value with spaces or tabs is quoted, so one with a quote, a
		 * newline, \r or another control character cannot be passed. */
		if (strchr(vn->value, '"') || strpbrk(vn->value, "\n\r\v\f") ||
		    has_control_but_tab(vn->value))
			return dk_yaml_fail(w, vn, sub,
					    "a value cannot hold double quotes, newlines "
					    "or control characters");
		pp->name = strdup(kn->value);
		pp->value = strdup(vn->value);
		m->n_params++;
		if (!pp->name || !pp->value)
			return dk_error_set(w->err, ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- modules ---- */

static int set_module_name(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	return get_module_name(w, n, key, &((struct dk_config_module *)obj)->name);
}

static const struct dk_yaml_field module_fields[] = {
	{.name = "name", .required = true, .set = set_module_name},
	{.name = "params", .set = set_params},
};

static int set_modules(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, void *obj)
{
	struct dk_config_component *c = obj;

	if (n->kind != DK_YAML_SEQUENCE)
		return dk_yaml_fail(w, n, key, "expected a list of modules, got %s",
				    dk_yaml_kind_name(n));
	if (n->n == 0)
		return dk_yaml_fail(w, n, key, "expected at least one module");
	if (check_count(w, n, key, DK_CONFIG_MAX_MODULES, "modules") < 0)
		return -EBADMSG;
	c->modules = calloc(n->n, sizeof(*c->modules));
	if (!c->modules)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		const struct dk_yaml_node *mn = n->items[i];
		struct dk_config_module *m = &c->modules[i];
		_cleanup_free_ char *sub = dk_yaml_subindex(key, i);
		int r;

		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		c->n_modules = i + 1;
		m->line = (int)mn->line;
		/* Shorthand: "- nvidia" is "- name: nvidia". */
		if (mn->kind == DK_YAML_SCALAR)
			r = get_module_name(w, mn, sub, &m->name);
		else
			r = dk_yaml_walk_mapping(w, mn, sub, module_fields,
						 ARRAY_SIZE(module_fields), m);
		if (r < 0)
			return r;
		r = module_repeats(w, mn, sub, c->modules, i);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- component ---- */

/* A list of module names (replaces, protected_modules). */
static int get_name_list(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			 const char *key, char ***out, size_t *n_out)
{
	if (n->kind == DK_YAML_SEQUENCE &&
	    check_count(w, n, key, DK_CONFIG_MAX_MODULES, "module names") < 0)
		return -EBADMSG;
	return dk_yaml_get_list(w, n, key, "module names", get_module_name, out, n_out);
}

static int set_replaces(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			const char *key, void *obj)
{
	struct dk_config_component *c = obj;

	return get_name_list(w, n, key, &c->replaces, &c->n_replaces);
}

/* Device node globs of a component's modules (host/procs.h): absolute paths. */
static int set_devices(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, void *obj)
{
	struct dk_config_component *c = obj;

	if (n->kind == DK_YAML_SEQUENCE &&
	    check_count(w, n, key, DK_CONFIG_MAX_MODULES, "device globs") < 0)
		return -EBADMSG;
	return dk_yaml_get_list(w, n, key, "device globs", dk_yaml_get_path, &c->devices,
				&c->n_devices);
}

/* A component name appears in messages, manifests and cache paths. */
static int set_component_name(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			      const char *key, void *obj)
{
	struct dk_config_component *c = obj;
	int r = dk_yaml_get_string(w, n, key, &c->name);

	if (r < 0)
		return r;
	if (has_control(c->name) || strchr(c->name, '/') || streq(c->name, ".") ||
	    streq(c->name, ".."))
		return dk_yaml_fail(w, n, key,
				    "not a component name (no '/', control characters, "
				    "'.' or '..')");
	return 0;
}

static const struct dk_yaml_field component_fields[] = {
	{.name = "name", .required = true, .set = set_component_name},
	{.name = "version",
	 .type = DK_YAML_STRING,
	 .offset = offsetof(struct dk_config_component, version)},
	{.name = "source", .required = true, .set = dk_config_set_source},
	{.name = "modules", .required = true, .set = set_modules},
	{.name = "replaces", .set = set_replaces},
	{.name = "restore",
	 .type = DK_YAML_BOOL,
	 .offset = offsetof(struct dk_config_component, restore)},
	{.name = "share_headers",
	 .type = DK_YAML_PATH,
	 .offset = offsetof(struct dk_config_component, share_headers)},
	{.name = "devices", .set = set_devices},
};

/* One module belongs to one component. */
static int check_modules_once(struct dk_yaml_walk *w, const struct dk_config *cfg,
			      const char *key)
{
	for (size_t i = 0; i < cfg->n_components; i++) {
		const struct dk_config_component *a = &cfg->components[i];

		for (size_t k = 0; k < a->n_modules; k++)
			for (size_t j = i + 1; j < cfg->n_components; j++) {
				const struct dk_config_component *b = &cfg->components[j];

				for (size_t l = 0; l < b->n_modules; l++)
					if (streq(a->modules[k].name, b->modules[l].name))
						return dk_yaml_fail(
							w, NULL, key,
							"module %s is listed in "
							"components %s and %s",
							a->modules[k].name, a->name,
							b->name);
			}
	}
	return 0;
}

static int set_components(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			  const char *key, void *obj)
{
	struct dk_config *cfg = obj;
	size_t total;
	int r;

	if (n->kind != DK_YAML_SEQUENCE)
		return dk_yaml_fail(w, n, key, "expected a list of components, got %s",
				    dk_yaml_kind_name(n));
	if (n->n == 0)
		return dk_yaml_fail(w, n, key, "expected at least one component");
	if (check_count(w, n, key, DK_CONFIG_MAX_COMPONENTS, "components") < 0)
		return -EBADMSG;
	cfg->components = calloc(n->n, sizeof(*cfg->components));
	if (!cfg->components)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		const struct dk_yaml_node *cn = n->items[i];
		_cleanup_free_ char *sub = dk_yaml_subindex(key, i);
		int r;

		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		cfg->n_components = i + 1;
		cfg->components[i].line = (int)cn->line;
		r = dk_yaml_walk_mapping(w, cn, sub, component_fields,
					 ARRAY_SIZE(component_fields),
					 &cfg->components[i]);
		if (r < 0)
			return r;
		if (cfg->components[i].share_headers && !cfg->components[i].build &&
		    !cfg->components[i].precompiled)
			return dk_yaml_fail(
				w, cn, sub,
				"share_headers: needs a build: or precompiled: "
				"source (the headers and Module.symvers come "
				"from its build)");
		for (size_t j = 0; j < i; j++)
			if (streq(cfg->components[j].name, cfg->components[i].name))
				return dk_yaml_fail(w, cn, sub,
						    "component %s is listed twice",
						    cfg->components[i].name);
	}
	total = 0;
	for (size_t i = 0; i < cfg->n_components; i++)
		total += cfg->components[i].n_modules;
	if (total > DK_CONFIG_MAX_MODULES)
		return dk_yaml_fail(w, n, key, "%zu modules: at most %d are allowed",
				    total, DK_CONFIG_MAX_MODULES);
	r = check_modules_once(w, cfg, key);
	return r < 0 ? r : dk_config_check_sources(w, cfg, n, key);
}

/* ---- signing ---- */

static int set_signing_hash(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			    const char *key, void *obj)
{
	static const char *const ok[] = {"sha256", "sha384", "sha512"};
	struct dk_config_signing *s = obj;
	int r = dk_yaml_get_string(w, n, key, &s->hash);

	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (streq(s->hash, ok[i]))
			return 0;
	return dk_yaml_fail(w, n, key, "unsupported hash '%s' (sha256, sha384, sha512)",
			    s->hash);
}

#define SIGNING_PATH(field, req)                                         \
	{                                                                \
		.name = #field, .type = DK_YAML_PATH, .required = (req), \
		.offset = offsetof(struct dk_config_signing, field)      \
	}

static const struct dk_yaml_field signing_fields[] = {
	SIGNING_PATH(key, true),
	SIGNING_PATH(cert, true),
	{.name = "hash", .set = set_signing_hash},
	SIGNING_PATH(passphrase_file, false),
};

static int set_signing(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, void *obj)
{
	struct dk_config *cfg = obj;

	if (dk_yaml_is_null(n))
		return 0;
	cfg->signing = calloc(1, sizeof(*cfg->signing));
	if (!cfg->signing)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	return dk_yaml_walk_mapping(w, n, key, signing_fields, ARRAY_SIZE(signing_fields),
				    cfg->signing);
}

/* ---- top level ---- */

static int set_kernel(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		      const char *key, void *obj)
{
	struct dk_config *cfg = obj;
	int r = dk_yaml_get_string(w, n, key, &cfg->kernel);

	if (r < 0)
		return r;
	if (!dk_kernel_release_ok(cfg->kernel))
		return dk_yaml_fail(w, n, key,
				    "not a kernel release (uname -r: no '/', '..', "
				    "spaces or control characters)");
	return 0;
}

static int set_protected_modules(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
				 const char *key, void *obj)
{
	struct dk_config *cfg = obj;

	return get_name_list(w, n, key, &cfg->protected_modules, &cfg->n_protected);
}

/* driver_root: an absolute directory below "/", kept without "//" or a trailing '/'
 * so that it compares with /proc/self/mountinfo; "." and ".." refused. Never "/":
 * binding the root onto itself would hide the whole filesystem. */
static int set_driver_root(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	struct dk_config *cfg = obj;
	char *s, *o;
	int r = dk_yaml_get_path(w, n, key, &cfg->driver_root);

	if (r < 0)
		return r;
	for (s = o = cfg->driver_root; *s; s++) {
		if (*s == '/' && (s[1] == '/' || s[1] == '\0'))
			continue;
		if (*s == '/' && s[1] == '.' &&
		    (s[2] == '/' || s[2] == '\0' ||
		     (s[2] == '.' && (s[3] == '/' || s[3] == '\0'))))
			return dk_yaml_fail(
				w, n, key,
				"'.' and '..' are not allowed here: write "
				"the directory itself (e.g. /run/nvidia/driver)");
		*o++ = *s;
	}
	*o = '\0';
	if (o == cfg->driver_root)
		return dk_yaml_fail(
			w, n, key,
			"the driver root cannot be / itself: name a directory "
			"(e.g. /run/nvidia/driver)");
	return 0;
}

#define TOP_PATH(field)                                     \
	{                                                   \
		.name = #field, .type = DK_YAML_PATH,       \
		.offset = offsetof(struct dk_config, field) \
	}

static const struct dk_yaml_field top_fields[] = {
	TOP_PATH(state_dir),
	TOP_PATH(ready_file),
	TOP_PATH(termination_log),
	TOP_PATH(host_root),
	{.name = "kernel", .set = set_kernel},
	{.name = "grace_period",
	 .type = DK_YAML_INT,
	 .offset = offsetof(struct dk_config, grace_period),
	 .min = 0,
	 .max = 86400},
	{.name = "unload_other_versions",
	 .type = DK_YAML_BOOL,
	 .offset = offsetof(struct dk_config, unload_other_versions)},
	{.name = "protected_modules", .set = set_protected_modules},
	{.name = "firmware_path",
	 .type = DK_YAML_PATH,
	 .null_ok = true,
	 .offset = offsetof(struct dk_config, firmware_path)},
	{.name = "driver_root", .set = set_driver_root},
	TOP_PATH(driver_root_source),
	TOP_PATH(cache_dir),
	{.name = "signing", .set = set_signing},
	{.name = "components", .required = true, .set = set_components},
	{.name = "daemons", .set = dk_config_set_daemons},
	{.name = "daemon_stop_order", .set = dk_config_set_daemon_stop_order},
	{.name = "validation", .set = dk_config_set_validation},
	{.name = "daemons_status_file",
	 .type = DK_YAML_PATH,
	 .offset = offsetof(struct dk_config, daemons_status_file)},
};

static int set_default(char **field, const char *value)
{
	if (*field)
		return 0;
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

int dk_config_parse(const char *name, const char *data, size_t len,
		    struct dk_config **out, struct dk_error **err)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	struct dk_yaml_walk w = {name, err};
	int r;

	r = dk_yaml_parse(name, data, len, 0, &doc, err);
	if (r < 0)
		return r;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return dk_error_set(err, ENOMEM, "out of memory");
	cfg->grace_period = 25;
	if (!doc->root)
		return dk_error_set(err, EBADMSG, "%s: the file is empty", name);
	r = dk_yaml_walk_mapping(&w, doc->root, "", top_fields, ARRAY_SIZE(top_fields),
				 cfg);
	if (r >= 0)
		r = dk_config_check_daemons(&w, cfg, doc->root);
	if (r < 0)
		return r;
	if (set_default(&cfg->path, name) < 0 ||
	    set_default(&cfg->state_dir, "/run/drvkit") < 0 ||
	    set_default(&cfg->termination_log, "/dev/termination-log") < 0 ||
	    set_default(&cfg->host_root, "/") < 0 ||
	    set_default(&cfg->driver_root_source, "/") < 0 ||
	    set_default(&cfg->cache_dir, "/var/cache/drvkit") < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (cfg->driver_root && !cfg->firmware_path) {
		cfg->firmware_path = dk_path_join(cfg->driver_root, "lib/firmware");
		if (!cfg->firmware_path)
			return dk_error_set(err, ENOMEM, "out of memory");
	}
	if (!cfg->ready_file) {
		cfg->ready_file = dk_path_join(cfg->state_dir, "ready");
		if (!cfg->ready_file)
			return dk_error_set(err, ENOMEM, "out of memory");
	}
	if (cfg->signing && !cfg->signing->hash &&
	    set_default(&cfg->signing->hash, "sha256") < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	*out = TAKE_PTR(cfg);
	return 0;
}

int dk_config_load(const char *path, struct dk_config **out, struct dk_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r;

	r = dk_read_file(path, DK_YAML_MAX_BYTES, &data, &len);
	if (r == -EFBIG)
		return dk_error_set(err, EFBIG,
				    "config %s is larger than the limit of %u KiB: is it "
				    "the right file?",
				    path, DK_YAML_MAX_BYTES / 1024);
	if (r < 0)
		return dk_error_set(err, -r, "read config %s: %s", path, strerror(-r));
	return dk_config_parse(path, data, len, out, err);
}

static void module_release(struct dk_config_module *m)
{
	for (size_t i = 0; i < m->n_params; i++) {
		free(m->params[i].name);
		free(m->params[i].value);
	}
	free(m->params);
	free(m->name);
}

void dk_config_free(struct dk_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_components; i++) {
		struct dk_config_component *c = &cfg->components[i];

		free(c->share_headers);
		for (size_t j = 0; j < c->n_modules; j++)
			module_release(&c->modules[j]);
		free(c->modules);
		for (size_t j = 0; j < c->n_replaces; j++)
			free(c->replaces[j]);
		free(c->replaces);
		for (size_t j = 0; j < c->n_devices; j++)
			free(c->devices[j]);
		free(c->devices);
		free(c->name);
		free(c->version);
		dk_config_component_release_source(c);
	}
	free(cfg->components);
	dk_config_daemons_release(cfg);
	for (size_t i = 0; i < cfg->n_protected; i++)
		free(cfg->protected_modules[i]);
	free(cfg->protected_modules);
	if (cfg->signing) {
		free(cfg->signing->key);
		free(cfg->signing->cert);
		free(cfg->signing->hash);
		free(cfg->signing->passphrase_file);
		free(cfg->signing);
	}
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->ready_file);
	free(cfg->termination_log);
	free(cfg->host_root);
	free(cfg->kernel);
	free(cfg->firmware_path);
	free(cfg->driver_root);
	free(cfg->driver_root_source);
	free(cfg->cache_dir);
	free(cfg);
}

/* ---- params file ---- */

int dk_params_load(const char *path, struct dk_config_module **out, size_t *n,
		   struct dk_error **err)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	struct dk_yaml_walk w = {path, err};
	struct dk_config_module *mods = NULL;
	const struct dk_yaml_node *root;
	int r;

	r = dk_read_file(path, DK_YAML_MAX_BYTES, &data, NULL);
	if (r == -EFBIG)
		return dk_error_set(err, EFBIG,
				    "params file %s is larger than the limit of %u KiB",
				    path, DK_YAML_MAX_BYTES / 1024);
	if (r < 0)
		return dk_error_set(err, -r, "read params file %s: %s", path,
				    strerror(-r));
	r = dk_yaml_parse(path, data, strlen(data), 0, &doc, err);
	if (r < 0)
		return r;
	root = doc->root;
	if (!root) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	if (root->kind != DK_YAML_MAPPING)
		return dk_yaml_fail(&w, root, "",
				    "expected a mapping of module: { name: value }");
	if (check_count(&w, root, "", DK_CONFIG_MAX_MODULES, "modules") < 0)
		return -EBADMSG;
	mods = calloc(root->n ? root->n : 1, sizeof(*mods));
	if (!mods)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < root->n; i++) {
		const struct dk_yaml_node *kn = root->pairs[i].key;

		mods[i].line = (int)kn->line;
		r = get_module_name(&w, kn, "", &mods[i].name);
		if (r >= 0)
			r = module_repeats(&w, kn, kn->value, mods, i);
		if (r >= 0)
			r = set_params(&w, root->pairs[i].value, mods[i].name, &mods[i]);
		if (r < 0) {
			dk_params_free(mods, root->n);
			return r;
		}
	}
	*out = mods;
	*n = root->n;
	return 0;
}

void dk_params_free(struct dk_config_module *mods, size_t n)
{
	if (!mods)
		return;
	for (size_t i = 0; i < n; i++)
		module_release(&mods[i]);
	free(mods);
}

char *dk_params_string(const struct dk_config_param *params, size_t n)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_puts(&b, "");
	for (size_t i = 0; i < n; i++) {
		const char *v = params[i].value;
		bool quote = strpbrk(v, " \t\n\v\f\r") != NULL || !*v;

		strbuf_printf(&b, "%s%s=%s%s%s", i ? " " : "", params[i].name,
			      quote ? "\"" : "", v, quote ? "\"" : "");
	}
	return strbuf_steal(&b);
}
