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

#include "base/yaml.h"

/* Node visits a walk may make, aliases counted each time: stops "billion laughs". */
#define MAX_WEIGHT (1u << 20)

/* ---- loading ---- */

struct frame {
	struct dk_yaml_node *node;
	char *anchor;	 /* registered when the collection ends: no self-reference */
	size_t last_end; /* character index after the last child (for JSON commas) */
};

struct anchor {
	char *name;
	struct dk_yaml_node *node;
};

/* Anchors by name: an open-addressing hash table, so that a file of many anchors and
 * aliases loads in linear time (a list made 100 000 of them take half a minute). */
struct anchors {
	struct anchor *v;
	size_t n, cap; /* cap: 0 or a power of two, at most half full */
};

struct loader {
	const char *name;
	const char *data;
	size_t len;
	unsigned flags;
	struct dk_error **err;
	struct dk_yaml_doc *doc;
	struct frame stack[DK_YAML_MAX_DEPTH];
	size_t depth;
	struct anchors anchors;
	unsigned documents; /* document starts seen */
	/* libyaml marks count characters; this maps them to bytes, moving forward. */
	size_t cur_chr, cur_byte;
};

static void yaml_parser_deletep(yaml_parser_t **p)
{
	if (*p)
		yaml_parser_delete(*p);
}

static void yaml_event_deletep(yaml_event_t **e)
{
	if (*e)
		yaml_event_delete(*e);
}

/* The one place a YAML error is worded: "FILE:LINE:COL: [KEY: ]message", "line L column
 * C: ..." without a file name, or "FILE: [KEY: ]message" without a position (line 0). */
static int vfail(struct dk_error **err, const char *name, size_t line, size_t col,
		 const char *key, const char *fmt, va_list ap)
{
	bool has_key = key && *key;
	const char *msg;
	struct strbuf b;
	int r;

	strbuf_init(&b);
	strbuf_vprintf(&b, fmt, ap);
	msg = b.oom ? "out of memory" : b.s;
	if (line && name)
		r = dk_error_set(err, EBADMSG, "%s:%zu:%zu: %s%s%s", name, line, col,
				 has_key ? key : "", has_key ? ": " : "", msg);
	else if (line)
		r = dk_error_set(err, EBADMSG, "line %zu column %zu: %s%s%s", line, col,
				 has_key ? key : "", has_key ? ": " : "", msg);
	else
		r = dk_error_set(err, EBADMSG, "%s%s%s%s%s", name ? name : "",
				 name ? ": " : "", has_key ? key : "",
				 has_key ? ": " : "", msg);
	strbuf_release(&b);
	return r;
}

_printf_format_(5, 6) static int fail_at(struct dk_error **err, const char *name,
					 size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(err, name, line, col, NULL, fmt, ap);
	va_end(ap);
	return r;
}

_printf_format_(3, 4) static int load_fail(struct loader *l, const yaml_mark_t *m,
					   const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(l->err, l->name, m->line + 1, m->column + 1, NULL, fmt, ap);
	va_end(ap);
	return r;
}

static int parser_fail(struct loader *l, const yaml_parser_t *p)
{
	const yaml_mark_t *m = p->problem_mark.line || p->problem_mark.column
				       ? &p->problem_mark
				       : &p->context_mark;

	if (p->error == YAML_MEMORY_ERROR)
		return dk_error_set(l->err, ENOMEM, "out of memory");
	return load_fail(l, m, "%s%s%s", p->problem ? p->problem : "invalid YAML",
			 p->context ? " " : "", p->context ? p->context : "");
}

static size_t byte_at(struct loader *l, size_t chr)
{
	while (l->cur_chr < chr && l->cur_byte < l->len) {
		unsigned char c = (unsigned char)l->data[l->cur_byte];

		l->cur_byte += c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		l->cur_chr++;
	}
	return MIN(l->cur_byte, l->len);
}

static struct dk_yaml_node *node_new(struct loader *l, enum dk_yaml_kind kind,
				     const yaml_mark_t *m)
{
	struct dk_yaml_doc *d = l->doc;
	struct dk_yaml_node *n;

	if (d->n_nodes == d->cap_nodes) {
		size_t cap = d->cap_nodes ? d->cap_nodes * 2 : 16;
		struct dk_yaml_node **nv = realloc(d->nodes, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		d->nodes = nv;
		d->cap_nodes = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->kind = kind;
	n->line = m->line + 1;
	n->column = m->column + 1;
	n->weight = 1;
	d->nodes[d->n_nodes++] = n;
	return n;
}

static size_t anchor_hash(const char *s)
{
	size_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The slot of name: its anchor, or the empty slot where it goes. */
static struct anchor *anchor_slot(const struct anchors *a, const char *name)
{
	size_t i = anchor_hash(name) & (a->cap - 1);

	while (a->v[i].name && !streq(a->v[i].name, name))
		i = (i + 1) & (a->cap - 1);
	return &a->v[i];
}

static struct dk_yaml_node *anchor_find(const struct anchors *a, const char *name)
{
	return a->cap ? anchor_slot(a, name)->node : NULL;
}

static int anchors_grow(struct anchors *a)
{
	struct anchors b = {.cap = a->cap ? a->cap * 2 : 16};

	b.v = calloc(b.cap, sizeof(*b.v));
	if (!b.v)
		return -ENOMEM;
	for (size_t i = 0; i < a->cap; i++)
		if (a->v[i].name)
			*anchor_slot(&b, a->v[i].name) = a->v[i];
	b.n = a->n;
	free(a->v);
	*a = b;
	return 0;
}

static int add_anchor(struct loader *l, char *name, struct dk_yaml_node *n,
		      const yaml_mark_t *m)
{
	struct anchors *a = &l->anchors;
	struct anchor *slot;

	if (anchor_find(a, name))
		return load_fail(l, m, "anchor '%s' is defined twice", name);
	if (2 * (a->n + 1) > a->cap && anchors_grow(a) < 0)
		return dk_error_set(l->err, ENOMEM, "out of memory");
	slot = anchor_slot(a, name);
	slot->name = strdup(name);
	if (!slot->name)
		return dk_error_set(l->err, ENOMEM, "out of memory");
	slot->node = n;
	a->n++;
	return 0;
}

/* Makes room for element n of an array holding n: capacity doubles at powers of two,
 * so a list of many items is not reallocated for each one. */
static int grow(void **v, size_t n, size_t size)
{
	void *nv;

	if (n & (n - 1))
		return 0;
	nv = realloc(*v, (n ? 2 * n : 1) * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	return 0;
}

/* Hands a finished node to its parent (or makes it the root). */
static int attach(struct loader *l, struct dk_yaml_node *n, const yaml_mark_t *end)
{
	struct frame *f;
	struct dk_yaml_node *p;

	if (l->depth == 0) {
		l->doc->root = n;
		return 0;
	}
	f = &l->stack[l->depth - 1];
	p = f->node;
	f->last_end = end->index;
	p->weight = p->weight + n->weight > MAX_WEIGHT ? MAX_WEIGHT + 1
						       : p->weight + n->weight;
	if (p->kind == DK_YAML_SEQUENCE) {
		if (grow((void **)&p->items, p->n, sizeof(*p->items)) < 0)
			return dk_error_set(l->err, ENOMEM, "out of memory");
		p->items[p->n++] = n;
		return 0;
	}
	/* Mapping: keys and values arrive in turn; a pair with no value yet is open. */
	if (p->n > 0 && !p->pairs[p->n - 1].value) {
		p->pairs[p->n - 1].value = n;
		return 0;
	}
	if ((l->flags & DK_YAML_JSON) && (n->kind != DK_YAML_SCALAR || n->plain))
		return fail_at(l->err, l->name, n->line, n->column,
			       "keys must be double-quoted strings");
	if (grow((void **)&p->pairs, p->n, sizeof(*p->pairs)) < 0)
		return dk_error_set(l->err, ENOMEM, "out of memory");
	p->pairs[p->n].key = n;
	p->pairs[p->n].value = NULL;
	p->n++;
	return 0;
}

static bool json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return false;
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

static int json_scalar_check(struct loader *l, const yaml_event_t *e)
{
	const char *v = (const char *)e->data.scalar.value;

	switch (e->data.scalar.style) {
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		if (e->start_mark.line != e->end_mark.line)
			return load_fail(l, &e->start_mark, "a string cannot span lines");
		return 0;
	case YAML_PLAIN_SCALAR_STYLE:
		if (streq(v, "true") || streq(v, "false") || streq(v, "null") ||
		    json_number(v))
			return 0;
		if (!*v)
			return load_fail(l, &e->start_mark, "expected a value");
		return load_fail(l, &e->start_mark,
				 "expected a string, number, true, false or "
				 "null, got '%s'",
				 v);
	default:
		return load_fail(l, &e->start_mark, "expected a double-quoted string");
	}
}

/* JSON allows no comma before a closing bracket; YAML flow style does. */
static int json_end_check(struct loader *l, const struct frame *f, const yaml_event_t *e)
{
	size_t from = byte_at(l, f->last_end), to = byte_at(l, e->start_mark.index);

	if (memchr(l->data + from, ',', to > from ? to - from : 0))
		return load_fail(l, &e->start_mark, "a comma before the closing bracket");
	return 0;
}

static int on_scalar(struct loader *l, const yaml_event_t *e)
{
	struct dk_yaml_node *n;

	if ((l->flags & DK_YAML_JSON) && json_scalar_check(l, e) < 0)
		return -EBADMSG;
	if (strlen((const char *)e->data.scalar.value) != e->data.scalar.length)
		return load_fail(l, &e->start_mark, "a value cannot hold NUL characters");
	n = node_new(l, DK_YAML_SCALAR, &e->start_mark);
	if (!n)
		return dk_error_set(l->err, ENOMEM, "out of memory");
	n->value = strdup((const char *)e->data.scalar.value);
	if (!n->value)
		return dk_error_set(l->err, ENOMEM, "out of memory");
	n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (e->data.scalar.anchor) {
		int r = add_anchor(l, (char *)e->data.scalar.anchor, n, &e->start_mark);

		if (r < 0)
			return r;
	}
	return attach(l, n, &e->end_mark);
}

static int on_start(struct loader *l, const yaml_event_t *e, enum dk_yaml_kind kind,
		    yaml_char_t *anchor, bool flow)
{
	struct dk_yaml_node *n;
	struct frame *f;

	if (l->depth == DK_YAML_MAX_DEPTH)
		return load_fail(l, &e->start_mark, "nested deeper than %d levels",
				 DK_YAML_MAX_DEPTH);
	if ((l->flags & DK_YAML_JSON) && !flow)
		return load_fail(l, &e->start_mark, "a YAML block %s is not JSON",
				 kind == DK_YAML_MAPPING ? "mapping" : "list");
	n = node_new(l, kind, &e->start_mark);
	if (!n)
		return dk_error_set(l->err, ENOMEM, "out of memory");
	f = &l->stack[l->depth++];
	f->node = n;
	f->last_end = e->end_mark.index;
	f->anchor = NULL;
	if (anchor && !(f->anchor = strdup((const char *)anchor)))
		return dk_error_set(l->err, ENOMEM, "out of memory");
	return 0;
}

static int on_end(struct loader *l, const yaml_event_t *e)
{
	struct frame *f = &l->stack[l->depth - 1];
	_cleanup_free_ char *anchor = TAKE_PTR(f->anchor);
	struct dk_yaml_node *n = f->node;
	int r;

	if ((l->flags & DK_YAML_JSON) && json_end_check(l, f, e) < 0)
		return -EBADMSG;
	l->depth--;
	if (n->weight > MAX_WEIGHT)
		return fail_at(l->err, l->name, n->line, n->column,
			       "aliases expand to more than %u nodes", MAX_WEIGHT);
	if (anchor) {
		r = add_anchor(l, anchor, n, &e->start_mark);
		if (r < 0)
			return r;
	}
	return attach(l, n, &e->end_mark);
}

static int on_alias(struct loader *l, const yaml_event_t *e)
{
	struct dk_yaml_node *n =
		anchor_find(&l->anchors, (const char *)e->data.alias.anchor);

	if (l->flags & DK_YAML_JSON)
		return load_fail(l, &e->start_mark, "aliases are not JSON");
	if (!n)
		return load_fail(l, &e->start_mark, "found undefined alias");
	return attach(l, n, &e->end_mark);
}

/* Handles one event; 1 when the document is complete. */
static int on_event(struct loader *l, const yaml_event_t *e)
{
	bool json = l->flags & DK_YAML_JSON;

	switch (e->type) {
	case YAML_SCALAR_EVENT:
		if (json && (e->data.scalar.anchor || e->data.scalar.tag))
			return load_fail(l, &e->start_mark,
					 "anchors and tags are not JSON");
		return on_scalar(l, e);
	case YAML_SEQUENCE_START_EVENT:
		if (json && (e->data.sequence_start.anchor || e->data.sequence_start.tag))
			return load_fail(l, &e->start_mark,
					 "anchors and tags are not JSON");
		return on_start(l, e, DK_YAML_SEQUENCE, e->data.sequence_start.anchor,
				e->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE);
	case YAML_MAPPING_START_EVENT:
		if (json && (e->data.mapping_start.anchor || e->data.mapping_start.tag))
			return load_fail(l, &e->start_mark,
					 "anchors and tags are not JSON");
		return on_start(l, e, DK_YAML_MAPPING, e->data.mapping_start.anchor,
				e->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(l, e);
	case YAML_ALIAS_EVENT:
		return on_alias(l, e);
	case YAML_DOCUMENT_START_EVENT:
		/* A file is one document: a second one would be ignored, or half of
		 * what its writer meant. */
		if (l->documents++)
			return load_fail(l, &e->start_mark,
					 "a second document starts here: one document "
					 "expected");
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		return 0; /* read on: what follows must be nothing */
	case YAML_STREAM_END_EVENT:
		return 1;
	default:
		return 0;
	}
}

static void loader_release(struct loader *l)
{
	for (size_t i = 0; i < l->depth; i++)
		free(l->stack[i].anchor);
	for (size_t i = 0; i < l->anchors.cap; i++)
		free(l->anchors.v[i].name);
	free(l->anchors.v);
}

static int load_events(struct loader *l)
{
	yaml_parser_t parser;
	_cleanup_(yaml_parser_deletep) yaml_parser_t *pp = NULL;

	if (!yaml_parser_initialize(&parser))
		return dk_error_set(l->err, ENOMEM, "out of memory");
	pp = &parser;
	yaml_parser_set_input_string(&parser, (const unsigned char *)l->data, l->len);
	for (;;) {
		yaml_event_t event;
		_cleanup_(yaml_event_deletep) yaml_event_t *ep = NULL;
		int r;

		if (!yaml_parser_parse(&parser, &event))
			return parser_fail(l, &parser);
		ep = &event;
		r = on_event(l, &event);
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

int dk_yaml_parse(const char *name, const char *data, size_t len, unsigned flags,
		  struct dk_yaml_doc **out, struct dk_error **err)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	struct loader l = {
		.name = name,
		.data = data,
		.len = len,
		.flags = flags,
		.err = err,
	};
	int r;

	if (len > DK_YAML_MAX_BYTES) {
		if (name)
			return dk_error_set(err, EFBIG, "%s: larger than %u KiB", name,
					    DK_YAML_MAX_BYTES / 1024);
		return dk_error_set(err, EFBIG, "larger than %u KiB",
				    DK_YAML_MAX_BYTES / 1024);
	}
	doc = calloc(1, sizeof(*doc));
	if (!doc)
		return dk_error_set(err, ENOMEM, "out of memory");
	l.doc = doc;
	/* libyaml does not count a UTF-8 byte order mark in its marks. */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		l.cur_byte = 3;
	r = load_events(&l);
	loader_release(&l);
	if (r < 0)
		return r;
	*out = TAKE_PTR(doc);
	return 0;
}

void dk_yaml_free(struct dk_yaml_doc *doc)
{
	if (!doc)
		return;
	for (size_t i = 0; i < doc->n_nodes; i++) {
		free(doc->nodes[i]->value);
		free(doc->nodes[i]->items);
		free(doc->nodes[i]->pairs);
		free(doc->nodes[i]);
	}
	free(doc->nodes);
	free(doc);
}

/* ---- looking things up ---- */

const char *dk_yaml_kind_name(const struct dk_yaml_node *n)
{
	switch (n->kind) {
	case DK_YAML_SCALAR:
		return "a scalar";
	case DK_YAML_SEQUENCE:
		return "a list";
	case DK_YAML_MAPPING:
		return "a mapping";
	}
	return "nothing";
}

bool dk_yaml_is_null(const struct dk_yaml_node *n)
{
	const char *v;

	if (n->kind != DK_YAML_SCALAR || !n->plain)
		return false;
	v = n->value;
	return !*v || streq(v, "~") || streq(v, "null") || streq(v, "Null") ||
	       streq(v, "NULL");
}

const struct dk_yaml_node *dk_yaml_get(const struct dk_yaml_node *n, const char *key)
{
	if (!n || n->kind != DK_YAML_MAPPING)
		return NULL;
	for (size_t i = 0; i < n->n; i++)
		if (n->pairs[i].key->kind == DK_YAML_SCALAR &&
		    streq(n->pairs[i].key->value, key))
			return n->pairs[i].value;
	return NULL;
}

const char *dk_yaml_scalar(const struct dk_yaml_node *n)
{
	if (!n || n->kind != DK_YAML_SCALAR || dk_yaml_is_null(n))
		return NULL;
	return n->value;
}

bool dk_yaml_key_repeats(const struct dk_yaml_node *n, size_t i)
{
	const struct dk_yaml_node *k = n->pairs[i].key;

	if (k->kind != DK_YAML_SCALAR)
		return false;
	for (size_t j = 0; j < i; j++)
		if (n->pairs[j].key->kind == DK_YAML_SCALAR &&
		    streq(n->pairs[j].key->value, k->value))
			return true;
	return false;
}

/* ---- walking ---- */

char *dk_yaml_subkey(const char *parent, const char *name)
{
	return parent && *parent ? dk_strdup_printf("%s.%s", parent, name) : strdup(name);
}

char *dk_yaml_subindex(const char *parent, size_t i)
{
	return dk_strdup_printf("%s[%zu]", parent, i);
}

int dk_yaml_fail(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		 const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(w->err, w->file, n ? n->line : 0, n ? n->column : 0, key, fmt, ap);
	va_end(ap);
	return r;
}

int dk_yaml_get_string(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, char **out)
{
	char *s;

	if (n->kind != DK_YAML_SCALAR)
		return dk_yaml_fail(w, n, key, "expected a string, got %s",
				    dk_yaml_kind_name(n));
	if (dk_yaml_is_null(n))
		return dk_yaml_fail(w, n, key, "expected a string, got an empty value");
	s = strdup(n->value);
	if (!s)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	free(*out);
	*out = s;
	return 0;
}

int dk_yaml_get_path(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		     const char *key, char **out)
{
	int r = dk_yaml_get_string(w, n, key, out);

	if (r < 0)
		return r;
	if ((*out)[0] != '/')
		return dk_yaml_fail(w, n, key, "expected an absolute path, got '%s'",
				    *out);
	return 0;
}

int dk_yaml_get_bool(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		     const char *key, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off"};

	if (n->kind != DK_YAML_SCALAR)
		return dk_yaml_fail(w, n, key, "expected true or false, got %s",
				    dk_yaml_kind_name(n));
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (streq(n->value, yes[i])) {
			*out = true;
			return 0;
		}
		if (streq(n->value, no[i])) {
			*out = false;
			return 0;
		}
	}
	return dk_yaml_fail(w, n, key, "expected true or false, got '%s'", n->value);
}

int dk_yaml_get_int(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    long min, long max, int *out)
{
	char *end = NULL;
	long l;

	if (n->kind != DK_YAML_SCALAR)
		return dk_yaml_fail(w, n, key, "expected a number, got %s",
				    dk_yaml_kind_name(n));
	errno = 0;
	l = strtol(n->value, &end, 10);
	if (errno || end == n->value || *end)
		return dk_yaml_fail(w, n, key, "expected a number, got '%s'", n->value);
	if (l < min || l > max)
		return dk_yaml_fail(w, n, key, "%ld is out of range (%ld..%ld)", l, min,
				    max);
	*out = (int)l;
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

static int unknown_key(struct dk_yaml_walk *w, const struct dk_yaml_node *kn,
		       const char *parent, const char *name,
		       const struct dk_yaml_field *fields, size_t nf)
{
	_cleanup_free_ char *key = dk_yaml_subkey(parent, name);
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
		return dk_yaml_fail(w, kn, key, "unknown key (did you mean '%s'?)", best);
	strbuf_init(&all);
	for (size_t i = 0; i < nf; i++)
		strbuf_printf(&all, "%s%s", i ? ", " : "", fields[i].name);
	r = dk_yaml_fail(w, kn, key, "unknown key (known: %s)", all.oom ? "?" : all.s);
	strbuf_release(&all);
	return r;
}

static int set_field(struct dk_yaml_walk *w, const struct dk_yaml_field *f,
		     const struct dk_yaml_node *n, const char *key, void *obj)
{
	void *member = (char *)obj + f->offset;

	if (f->null_ok && dk_yaml_is_null(n))
		return 0;
	switch (f->type) {
	case DK_YAML_STRING:
		return dk_yaml_get_string(w, n, key, member);
	case DK_YAML_PATH:
		return dk_yaml_get_path(w, n, key, member);
	case DK_YAML_BOOL:
		return dk_yaml_get_bool(w, n, key, member);
	case DK_YAML_INT:
		return dk_yaml_get_int(w, n, key, f->min, f->max, member);
	case DK_YAML_CUSTOM:
		break;
	}
	return f->set(w, n, key, obj);
}

int dk_yaml_walk_mapping(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			 const char *key, const struct dk_yaml_field *fields, size_t nf,
			 void *obj)
{
	if (n->kind != DK_YAML_MAPPING)
		return dk_yaml_fail(w, n, key, "expected a mapping, got %s",
				    dk_yaml_kind_name(n));
	for (size_t p = 0; p < n->n; p++) {
		const struct dk_yaml_node *kn = n->pairs[p].key, *vn = n->pairs[p].value;
		_cleanup_free_ char *sub = NULL;
		size_t i;
		int r;

		if (kn->kind != DK_YAML_SCALAR)
			return dk_yaml_fail(w, kn, key, "keys must be strings");
		for (i = 0; i < nf; i++)
			if (streq(fields[i].name, kn->value))
				break;
		if (i == nf)
			return unknown_key(w, kn, key, kn->value, fields, nf);
		sub = dk_yaml_subkey(key, kn->value);
		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		if (dk_yaml_key_repeats(n, p))
			return dk_yaml_fail(w, kn, sub, "given twice");
		r = set_field(w, &fields[i], vn, sub, obj);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < nf; i++) {
		if (fields[i].required && !dk_yaml_get(n, fields[i].name)) {
			_cleanup_free_ char *sub = dk_yaml_subkey(key, fields[i].name);

			return dk_yaml_fail(w, n, sub ? sub : fields[i].name,
					    "required key is missing");
		}
	}
	return 0;
}

int dk_yaml_get_list(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		     const char *key, const char *what, dk_yaml_item_fn item, char ***out,
		     size_t *n_out)
{
	if (n->kind != DK_YAML_SEQUENCE)
		return dk_yaml_fail(w, n, key, "expected a list of %s, got %s", what,
				    dk_yaml_kind_name(n));
	*out = calloc(n->n + 1, sizeof(char *));
	if (!*out)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		_cleanup_free_ char *sub = dk_yaml_subindex(key, i);
		int r;

		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		*n_out = i + 1;
		r = item ? item(w, n->items[i], sub, &(*out)[i])
			 : dk_yaml_get_string(w, n->items[i], sub, &(*out)[i]);
		if (r < 0)
			return r;
	}
	return 0;
}
