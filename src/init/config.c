/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include <yaml.h>

#include "base/fsutil.h"
#include "init/config.h"

/* A walk over a loaded YAML document. `key` is the dotted path of the node being
 * looked at ("components[0].modules[1].params"), used in every message. */
struct walk {
	const char *file;
	yaml_document_t *doc;
	struct dk_error **err;
};

static void yaml_document_deletep(yaml_document_t **d)
{
	if (*d)
		yaml_document_delete(*d);
}

static void yaml_parser_deletep(yaml_parser_t **p)
{
	if (*p)
		yaml_parser_delete(*p);
}

_printf_format_(4, 5) static int walk_fail(struct walk *w, const yaml_node_t *node,
					   const char *key, const char *fmt, ...)
{
	struct strbuf b;
	va_list ap;
	int r;

	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (node)
		r = dk_error_set(w->err, EBADMSG, "%s:%zu:%zu: %s%s%s", w->file,
				 node->start_mark.line + 1, node->start_mark.column + 1,
				 key && *key ? key : "", key && *key ? ": " : "",
				 b.oom ? "out of memory" : b.s);
	else
		r = dk_error_set(w->err, EBADMSG, "%s: %s%s%s", w->file,
				 key && *key ? key : "", key && *key ? ": " : "",
				 b.oom ? "out of memory" : b.s);
	strbuf_release(&b);
	return r;
}

static char *subkey(const char *parent, const char *name)
{
	struct strbuf b;

	strbuf_init(&b);
	if (parent && *parent)
		strbuf_printf(&b, "%s.%s", parent, name);
	else
		strbuf_puts(&b, name);
	return strbuf_steal(&b);
}

static char *subindex(const char *parent, size_t i)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_printf(&b, "%s[%zu]", parent, i);
	return strbuf_steal(&b);
}

static yaml_node_t *node_at(struct walk *w, int idx)
{
	return yaml_document_get_node(w->doc, idx);
}

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || streq(v, "~") || streq(v, "null") || streq(v, "Null") ||
	       streq(v, "NULL");
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static int get_string(struct walk *w, const yaml_node_t *n, const char *key, char **out)
{
	char *s;

	if (n->type != YAML_SCALAR_NODE)
		return walk_fail(w, n, key, "expected a string, got %s", node_kind(n));
	if (is_null(n))
		return walk_fail(w, n, key, "expected a string, got an empty value");
	s = strdup((const char *)n->data.scalar.value);
	if (!s)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	free(*out);
	*out = s;
	return 0;
}

static int get_path(struct walk *w, const yaml_node_t *n, const char *key, char **out)
{
	int r = get_string(w, n, key, out);

	if (r < 0)
		return r;
	if ((*out)[0] != '/')
		return walk_fail(w, n, key, "expected an absolute path, got '%s'", *out);
	return 0;
}

static int get_bool(struct walk *w, const yaml_node_t *n, const char *key, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off"};
	const char *v;

	if (n->type != YAML_SCALAR_NODE)
		return walk_fail(w, n, key, "expected true or false, got %s",
				 node_kind(n));
	v = (const char *)n->data.scalar.value;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (streq(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (streq(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return walk_fail(w, n, key, "expected true or false, got '%s'", v);
}

static int get_int(struct walk *w, const yaml_node_t *n, const char *key, long min,
		   long max, int *out)
{
	const char *v;
	char *end = NULL;
	long l;

	if (n->type != YAML_SCALAR_NODE)
		return walk_fail(w, n, key, "expected a number, got %s", node_kind(n));
	v = (const char *)n->data.scalar.value;
	errno = 0;
	l = strtol(v, &end, 10);
	if (errno || end == v || *end)
		return walk_fail(w, n, key, "expected a number, got '%s'", v);
	if (l < min || l > max)
		return walk_fail(w, n, key, "%ld is out of range (%ld..%ld)", l, min,
				 max);
	*out = (int)l;
	return 0;
}

static bool valid_module_name(const char *s)
{
	if (!*s || strlen(s) >= 56)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

static int get_module_name(struct walk *w, const yaml_node_t *n, const char *key,
			   char **out)
{
	int r = get_string(w, n, key, out);

	if (r < 0)
		return r;
	if (!valid_module_name(*out))
		return walk_fail(w, n, key,
				 "'%s' is not a module name (letters, digits, _ and -)",
				 *out);
	/* The kernel knows modules by their name with - turned into _. */
	for (char *p = *out; *p; p++)
		if (*p == '-')
			*p = '_';
	return 0;
}

/* Edit distance, small strings only: for "did you mean". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t c = prev[j - 1] + (a[i - 1] != b[j - 1]);

			c = MIN(c, prev[j] + 1);
			c = MIN(c, cur[j - 1] + 1);
			cur[j] = c;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
}

/* A table-driven mapping: each known key has a handler. */
struct field {
	const char *name;
	int (*set)(struct walk *w, const yaml_node_t *n, const char *key, void *obj);
	bool required;
};

static int unknown_key(struct walk *w, const yaml_node_t *kn, const char *parent,
		       const char *name, const struct field *fields, size_t nf)
{
	_cleanup_free_ char *key = subkey(parent, name);
	const char *best = NULL;
	size_t bd = SIZE_MAX;
	struct strbuf all;
	int r;

	for (size_t i = 0; i < nf; i++) {
		size_t d = distance(name, fields[i].name);

		if (d < bd) {
			bd = d;
			best = fields[i].name;
		}
	}
	if (best && bd <= MAX((size_t)2, strlen(name) / 3))
		return walk_fail(w, kn, key, "unknown key (did you mean '%s'?)", best);
	strbuf_init(&all);
	for (size_t i = 0; i < nf; i++)
		strbuf_printf(&all, "%s%s", i ? ", " : "", fields[i].name);
	r = walk_fail(w, kn, key, "unknown key (known: %s)", all.oom ? "?" : all.s);
	strbuf_release(&all);
	return r;
}

static int walk_mapping(struct walk *w, const yaml_node_t *n, const char *key,
			const struct field *fields, size_t nf, void *obj)
{
	bool seen[16] = {false};

	if (n->type != YAML_MAPPING_NODE)
		return walk_fail(w, n, key, "expected a mapping, got %s", node_kind(n));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node_at(w, p->key), *vn = node_at(w, p->value);
		_cleanup_free_ char *sub = NULL;
		const char *name;
		size_t i;
		int r;

		if (!kn || !vn || kn->type != YAML_SCALAR_NODE)
			return walk_fail(w, kn ? kn : n, key, "keys must be strings");
		name = (const char *)kn->data.scalar.value;
		for (i = 0; i < nf; i++)
			if (streq(fields[i].name, name))
				break;
		if (i == nf)
			return unknown_key(w, kn, key, name, fields, nf);
		sub = subkey(key, name);
		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		if (seen[i])
			return walk_fail(w, kn, sub, "given twice");
		seen[i] = true;
		r = fields[i].set(w, vn, sub, obj);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < nf; i++) {
		if (fields[i].required && !seen[i]) {
			_cleanup_free_ char *sub = subkey(key, fields[i].name);

			return walk_fail(w, n, sub ? sub : fields[i].name,
					 "required key is missing");
		}
	}
	return 0;
}

/* ---- params ---- */

static int set_params(struct walk *w, const yaml_node_t *n, const char *key, void *obj)
{
	struct dk_config_module *m = obj;
	size_t count;

	if (n->type != YAML_MAPPING_NODE)
		return walk_fail(w, n, key, "expected a mapping of name: value, got %s",
				 node_kind(n));
	count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	m->params = calloc(count ? count : 1, sizeof(*m->params));
	if (!m->params)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node_at(w, p->key), *vn = node_at(w, p->value);
		struct dk_config_param *pp = &m->params[m->n_params];
		const char *name, *v;
		_cleanup_free_ char *sub = NULL;

		if (!kn || !vn || kn->type != YAML_SCALAR_NODE)
			return walk_fail(w, kn ? kn : n, key,
					 "expected a mapping of name: value");
		name = (const char *)kn->data.scalar.value;
		sub = subkey(key, name);
		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		if (!valid_module_name(name) || strchr(name, '-'))
			return walk_fail(w, kn, sub, "'%s' is not a parameter name",
					 name);
		for (size_t i = 0; i < m->n_params; i++)
			if (streq(m->params[i].name, name))
				return walk_fail(w, kn, sub, "given twice");
		if (vn->type != YAML_SCALAR_NODE)
			return walk_fail(w, vn, sub,
					 "expected a scalar value (number, string or "
					 "bool), got %s",
					 node_kind(vn));
		v = (const char *)vn->data.scalar.value;
		if (strchr(v, '"') || strchr(v, '\n'))
			return walk_fail(w, vn, sub,
					 "a value cannot hold double quotes or newlines");
		pp->name = strdup(name);
		pp->value = strdup(v);
		m->n_params++;
		if (!pp->name || !pp->value)
			return dk_error_set(w->err, ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- modules ---- */

static int set_module_name(struct walk *w, const yaml_node_t *n, const char *key,
			   void *obj)
{
	return get_module_name(w, n, key, &((struct dk_config_module *)obj)->name);
}

static const struct field module_fields[] = {
	{"name", set_module_name, true},
	{"params", set_params, false},
};

static int set_modules(struct walk *w, const yaml_node_t *n, const char *key, void *obj)
{
	struct dk_config_component *c = obj;
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE)
		return walk_fail(w, n, key, "expected a list of modules, got %s",
				 node_kind(n));
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count == 0)
		return walk_fail(w, n, key, "expected at least one module");
	c->modules = calloc(count, sizeof(*c->modules));
	if (!c->modules)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *mn = node_at(w, n->data.sequence.items.start[i]);
		struct dk_config_module *m = &c->modules[i];
		_cleanup_free_ char *sub = subindex(key, i);
		int r;

		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		c->n_modules = i + 1;
		m->line = (int)mn->start_mark.line + 1;
		/* Shorthand: "- nvidia" is "- name: nvidia". */
		if (mn->type == YAML_SCALAR_NODE)
			r = get_module_name(w, mn, sub, &m->name);
		else
			r = walk_mapping(w, mn, sub, module_fields,
					 ARRAY_SIZE(module_fields), m);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (streq(c->modules[j].name, m->name))
				return walk_fail(w, mn, sub, "module %s is listed twice",
						 m->name);
	}
	return 0;
}

/* ---- component ---- */

static int set_source_dir(struct walk *w, const yaml_node_t *n, const char *key,
			  void *obj)
{
	return get_path(w, n, key, &((struct dk_config_component *)obj)->source_dir);
}

/* Later issues add archive, url and build here. */
static const struct field source_fields[] = {
	{"dir", set_source_dir, true},
};

static int set_source(struct walk *w, const yaml_node_t *n, const char *key, void *obj)
{
	return walk_mapping(w, n, key, source_fields, ARRAY_SIZE(source_fields), obj);
}

static int set_component_name(struct walk *w, const yaml_node_t *n, const char *key,
			      void *obj)
{
	return get_string(w, n, key, &((struct dk_config_component *)obj)->name);
}

/* A list of module names (replaces, protected_modules). */
static int get_name_list(struct walk *w, const yaml_node_t *n, const char *key,
			 char ***out, size_t *n_out)
{
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE)
		return walk_fail(w, n, key, "expected a list of module names, got %s",
				 node_kind(n));
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	*out = calloc(count ? count : 1, sizeof(char *));
	if (!*out)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *mn = node_at(w, n->data.sequence.items.start[i]);
		_cleanup_free_ char *sub = subindex(key, i);
		int r;

		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		*n_out = i + 1;
		r = get_module_name(w, mn, sub, &(*out)[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int set_replaces(struct walk *w, const yaml_node_t *n, const char *key, void *obj)
{
	struct dk_config_component *c = obj;

	return get_name_list(w, n, key, &c->replaces, &c->n_replaces);
}

static int set_restore(struct walk *w, const yaml_node_t *n, const char *key, void *obj)
{
	return get_bool(w, n, key, &((struct dk_config_component *)obj)->restore);
}

static const struct field component_fields[] = {
	{"name", set_component_name, true}, {"source", set_source, true},
	{"modules", set_modules, true},	    {"replaces", set_replaces, false},
	{"restore", set_restore, false},
};

static int set_components(struct walk *w, const yaml_node_t *n, const char *key,
			  void *obj)
{
	struct dk_config *cfg = obj;
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE)
		return walk_fail(w, n, key, "expected a list of components, got %s",
				 node_kind(n));
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (count == 0)
		return walk_fail(w, n, key, "expected at least one component");
	cfg->components = calloc(count, sizeof(*cfg->components));
	if (!cfg->components)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *cn = node_at(w, n->data.sequence.items.start[i]);
		_cleanup_free_ char *sub = subindex(key, i);
		int r;

		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		cfg->n_components = i + 1;
		r = walk_mapping(w, cn, sub, component_fields,
				 ARRAY_SIZE(component_fields), &cfg->components[i]);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (streq(cfg->components[j].name, cfg->components[i].name))
				return walk_fail(w, cn, sub,
						 "component %s is listed twice",
						 cfg->components[i].name);
	}
	/* One module belongs to one component. */
	for (size_t i = 0; i < count; i++)
		for (size_t k = 0; k < cfg->components[i].n_modules; k++)
			for (size_t j = i + 1; j < count; j++)
				for (size_t l = 0; l < cfg->components[j].n_modules; l++)
					if (streq(cfg->components[i].modules[k].name,
						  cfg->components[j].modules[l].name))
						return walk_fail(w, NULL, key,
								 "module %s is listed in "
								 "components %s and %s",
								 cfg->components[i]
									 .modules[k]
									 .name,
								 cfg->components[i].name,
								 cfg->components[j].name);
	return 0;
}

/* ---- signing ---- */

#define SIGNING_PATH(field)                                                            \
	static int set_signing_##field(struct walk *w, const yaml_node_t *n,           \
				       const char *key, void *obj)                     \
	{                                                                              \
		return get_path(w, n, key, &((struct dk_config_signing *)obj)->field); \
	}
SIGNING_PATH(key)
SIGNING_PATH(cert)
SIGNING_PATH(passphrase_file)

static int set_signing_hash(struct walk *w, const yaml_node_t *n, const char *key,
			    void *obj)
{
	static const char *const ok[] = {"sha256", "sha384", "sha512"};
	struct dk_config_signing *s = obj;
	int r = get_string(w, n, key, &s->hash);

	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (streq(s->hash, ok[i]))
			return 0;
	return walk_fail(w, n, key, "unsupported hash '%s' (sha256, sha384, sha512)",
			 s->hash);
}

static const struct field signing_fields[] = {
	{"key", set_signing_key, true},
	{"cert", set_signing_cert, true},
	{"hash", set_signing_hash, false},
	{"passphrase_file", set_signing_passphrase_file, false},
};

static int set_signing(struct walk *w, const yaml_node_t *n, const char *key, void *obj)
{
	struct dk_config *cfg = obj;

	if (is_null(n))
		return 0;
	cfg->signing = calloc(1, sizeof(*cfg->signing));
	if (!cfg->signing)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	return walk_mapping(w, n, key, signing_fields, ARRAY_SIZE(signing_fields),
			    cfg->signing);
}

/* ---- top level ---- */

#define TOP_PATH(field)                                                               \
	static int set_##field(struct walk *w, const yaml_node_t *n, const char *key, \
			       void *obj)                                             \
	{                                                                             \
		return get_path(w, n, key, &((struct dk_config *)obj)->field);        \
	}
TOP_PATH(state_dir)
TOP_PATH(ready_file)
TOP_PATH(termination_log)
TOP_PATH(host_root)

static int set_firmware_path(struct walk *w, const yaml_node_t *n, const char *key,
			     void *obj)
{
	if (is_null(n))
		return 0;
	return get_path(w, n, key, &((struct dk_config *)obj)->firmware_path);
}

static int set_kernel(struct walk *w, const yaml_node_t *n, const char *key, void *obj)
{
	struct dk_config *cfg = obj;
	int r = get_string(w, n, key, &cfg->kernel);

	if (r < 0)
		return r;
	if (strchr(cfg->kernel, '/') || strchr(cfg->kernel, ' '))
		return walk_fail(w, n, key, "'%s' is not a kernel release", cfg->kernel);
	return 0;
}

static int set_grace_period(struct walk *w, const yaml_node_t *n, const char *key,
			    void *obj)
{
	return get_int(w, n, key, 0, 86400, &((struct dk_config *)obj)->grace_period);
}

static int set_unload_other_versions(struct walk *w, const yaml_node_t *n,
				     const char *key, void *obj)
{
	return get_bool(w, n, key, &((struct dk_config *)obj)->unload_other_versions);
}

static int set_protected_modules(struct walk *w, const yaml_node_t *n, const char *key,
				 void *obj)
{
	struct dk_config *cfg = obj;

	return get_name_list(w, n, key, &cfg->protected_modules, &cfg->n_protected);
}

static const struct field top_fields[] = {
	{"state_dir", set_state_dir, false},
	{"ready_file", set_ready_file, false},
	{"termination_log", set_termination_log, false},
	{"host_root", set_host_root, false},
	{"kernel", set_kernel, false},
	{"grace_period", set_grace_period, false},
	{"unload_other_versions", set_unload_other_versions, false},
	{"protected_modules", set_protected_modules, false},
	{"firmware_path", set_firmware_path, false},
	{"signing", set_signing, false},
	{"components", set_components, true},
};

static int set_default(char **field, const char *value)
{
	if (*field)
		return 0;
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

/* Loads the single YAML document of data; *doc is set on success. */
static int load_document(const char *name, const char *data, size_t len,
			 yaml_document_t *doc, struct dk_error **err)
{
	yaml_parser_t parser;
	_cleanup_(yaml_parser_deletep) yaml_parser_t *pp = NULL;

	if (!yaml_parser_initialize(&parser))
		return dk_error_set(err, ENOMEM, "out of memory");
	pp = &parser;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, doc)) {
		const yaml_mark_t *m =
			parser.problem_mark.line || parser.problem_mark.column
				? &parser.problem_mark
				: &parser.context_mark;

		if (parser.error == YAML_MEMORY_ERROR)
			return dk_error_set(err, ENOMEM, "out of memory");
		return dk_error_set(
			err, EBADMSG, "%s:%zu:%zu: %s%s%s", name, m->line + 1,
			m->column + 1, parser.problem ? parser.problem : "invalid YAML",
			parser.context ? " " : "", parser.context ? parser.context : "");
	}
	return 0;
}

int dk_config_parse(const char *name, const char *data, size_t len,
		    struct dk_config **out, struct dk_error **err)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	_cleanup_(yaml_document_deletep) yaml_document_t *dp = NULL;
	yaml_document_t doc;
	yaml_node_t *root;
	struct walk w = {name, &doc, err};
	int r;

	r = load_document(name, data, len, &doc, err);
	if (r < 0)
		return r;
	dp = &doc;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return dk_error_set(err, ENOMEM, "out of memory");
	cfg->grace_period = 25;
	root = yaml_document_get_root_node(&doc);
	if (!root)
		return dk_error_set(err, EBADMSG, "%s: the file is empty", name);
	r = walk_mapping(&w, root, "", top_fields, ARRAY_SIZE(top_fields), cfg);
	if (r < 0)
		return r;
	if (set_default(&cfg->path, name) < 0 ||
	    set_default(&cfg->state_dir, "/run/drvkit") < 0 ||
	    set_default(&cfg->termination_log, "/dev/termination-log") < 0 ||
	    set_default(&cfg->host_root, "/") < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
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

	r = dk_read_file(path, 1u << 20, &data, &len);
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

		for (size_t j = 0; j < c->n_modules; j++)
			module_release(&c->modules[j]);
		free(c->modules);
		for (size_t j = 0; j < c->n_replaces; j++)
			free(c->replaces[j]);
		free(c->replaces);
		free(c->name);
		free(c->source_dir);
	}
	free(cfg->components);
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
	free(cfg);
}

/* ---- params file ---- */

int dk_params_load(const char *path, struct dk_config_module **out, size_t *n,
		   struct dk_error **err)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_(yaml_document_deletep) yaml_document_t *dp = NULL;
	yaml_document_t doc;
	struct walk w = {path, &doc, err};
	struct dk_config_module *mods = NULL;
	yaml_node_t *root;
	size_t count = 0;
	int r;

	r = dk_read_file(path, 1u << 20, &data, NULL);
	if (r < 0)
		return dk_error_set(err, -r, "read params file %s: %s", path,
				    strerror(-r));
	r = load_document(path, data, strlen(data), &doc, err);
	if (r < 0)
		return r;
	dp = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	if (root->type != YAML_MAPPING_NODE)
		return walk_fail(&w, root, "",
				 "expected a mapping of module: { name: value }");
	count = (size_t)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
	mods = calloc(count ? count : 1, sizeof(*mods));
	if (!mods)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		yaml_node_pair_t *p = &root->data.mapping.pairs.start[i];
		yaml_node_t *kn = node_at(&w, p->key), *vn = node_at(&w, p->value);

		r = get_module_name(&w, kn, "", &mods[i].name);
		if (r >= 0)
			r = set_params(&w, vn, mods[i].name, &mods[i]);
		if (r < 0) {
			dk_params_free(mods, count);
			return r;
		}
	}
	*out = mods;
	*n = count;
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
		bool quote = strpbrk(v, " \t") != NULL || !*v;

		strbuf_printf(&b, "%s%s=%s%s%s", i ? " " : "", params[i].name,
			      quote ? "\"" : "", v, quote ? "\"" : "");
	}
	return strbuf_steal(&b);
}
