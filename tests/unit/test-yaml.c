/* SPDX-License-Identifier: Apache-2.0 */
/* base/yaml: the node tree and its marks, the depth cap, JSON mode, the mapping walk
 * (typed fields, duplicates past 16 keys, unknown keys) and parse errors. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/yaml.h"
#include "shared/strbuf.h"
#include "shared/yaml-writer.h"

#include "tap.h"

static int parse(const char *text, unsigned flags, struct dk_yaml_doc **doc,
		 struct dk_error **err)
{
	dk_error_free(err);
	return dk_yaml_parse("t.yaml", text, strlen(text), flags, doc, err);
}

/* The message of parsing text, or "ok". */
static char *parse_msg(const char *text, unsigned flags)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	int r = parse(text, flags, &doc, &err);

	if (r == 0)
		return strdup("ok");
	return strdup(err ? err->msg : "no message");
}

#define is_msg(text, flags, want, ...)                 \
	do {                                           \
		char *_m = parse_msg((text), (flags)); \
		is_str(_m, (want), __VA_ARGS__);       \
		free(_m);                              \
	} while (0)

static void test_tree(void)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	const struct dk_yaml_node *root, *list, *m;

	is_int(parse("name: demo\n"
		     "list:\n"
		     "  - one\n"
		     "  - 'two'\n"
		     "  - { k: \"v\", e: }\n"
		     "empty: ~\n",
		     0, &doc, &err),
	       0, "mapping parses");
	root = doc->root;
	ok(root && root->kind == DK_YAML_MAPPING && root->n == 3,
	   "root is a 3-pair mapping");
	is_int(root->line, 1, "root line");
	is_int(root->column, 1, "root column");
	is_str(dk_yaml_scalar(dk_yaml_get(root, "name")), "demo", "get name");
	list = dk_yaml_get(root, "list");
	ok(list && list->kind == DK_YAML_SEQUENCE && list->n == 3, "list has 3 items");
	is_int(list->line, 3, "list mark line");
	is_int(list->column, 3, "list mark column");
	ok(list->items[0]->plain && !list->items[1]->plain, "plain vs quoted");
	is_str(list->items[1]->value, "two", "quoted value");
	is_int(list->items[1]->line, 4, "item line");
	is_int(list->items[1]->column, 5, "item column");
	m = list->items[2];
	ok(m->kind == DK_YAML_MAPPING && m->n == 2, "flow mapping in list");
	is_int(m->pairs[0].value->column, 10, "flow value column");
	ok(dk_yaml_is_null(dk_yaml_get(m, "e")), "missing value is null");
	ok(!dk_yaml_is_null(dk_yaml_get(m, "k")), "quoted value is not null");
	ok(dk_yaml_scalar(dk_yaml_get(root, "empty")) == NULL, "~ has no scalar text");
	ok(dk_yaml_get(root, "nope") == NULL, "missing key");
	ok(dk_yaml_get(list, "x") == NULL, "get on a list");
	is_str(dk_yaml_kind_name(root), "a mapping", "kind name mapping");
	is_str(dk_yaml_kind_name(list), "a list", "kind name list");
	is_str(dk_yaml_kind_name(list->items[0]), "a scalar", "kind name scalar");
	dk_yaml_free(TAKE_PTR(doc));

	is_int(parse("", 0, &doc, &err), 0, "empty text parses");
	ok(doc->root == NULL, "empty text has no root");
	dk_yaml_free(TAKE_PTR(doc));
	is_int(parse("# just a comment\n", 0, &doc, &err), 0, "comment only parses");
	ok(doc->root == NULL, "comment only has no root");
	dk_yaml_free(TAKE_PTR(doc));
	is_int(parse("a: 1\n---\nb: [\n", 0, &doc, &err), -EBADMSG,
	       "YAML: a second document is refused (test_documents)");
	ok(doc == NULL, "and nothing is loaded");

	is_int(parse("a: 1\nb: 2\na: 3\n", 0, &doc, &err), 0, "repeated keys load");
	ok(!dk_yaml_key_repeats(doc->root, 0) && !dk_yaml_key_repeats(doc->root, 1) &&
		   dk_yaml_key_repeats(doc->root, 2),
	   "key_repeats finds the third pair");
}

static void test_aliases(void)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	const struct dk_yaml_node *a, *b;

	is_int(parse("a: &p { x: 1 }\nb: *p\n", 0, &doc, &err), 0, "alias parses");
	a = dk_yaml_get(doc->root, "a");
	b = dk_yaml_get(doc->root, "b");
	ok(a && a == b, "alias is the anchored node");
	is_int(b->line, 1, "alias carries the anchor's mark");
	is_msg("a: *nope\n", 0, "t.yaml:1:4: found undefined alias", "undefined alias");
	is_msg("a: &s [ 1, *s ]\n", 0, "t.yaml:1:12: found undefined alias",
	       "a list cannot hold itself");
	is_msg("a: &x 1\nb: &x 2\n", 0, "t.yaml:2:4: anchor 'x' is defined twice",
	       "anchor defined twice");
	{
		/* 10 levels of 10 aliases: 10^10 nodes if expanded. */
		char text[4096] = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";

		for (int i = 1; i < 10; i++) {
			char line[256];

			snprintf(line, sizeof(line),
				 "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, "
				 "*l%d, "
				 "*l%d, *l%d]\n",
				 i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
				 i - 1, i - 1, i - 1);
			strcat(text, line);
		}
		is_msg(text, 0, "t.yaml:6:5: aliases expand to more than 1048576 nodes",
		       "billion laughs stops");
	}
}

static char *nested(size_t depth, const char *inner)
{
	size_t il = strlen(inner);
	char *s = malloc(2 * depth + il + 1);

	if (!s)
		abort();
	memset(s, '[', depth);
	memcpy(s + depth, inner, il);
	memset(s + depth + il, ']', depth);
	s[2 * depth + il] = '\0';
	return s;
}

static void test_depth(void)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	char *s = nested(DK_YAML_MAX_DEPTH, "1");
	const struct dk_yaml_node *n;
	size_t d = 0;
	struct timespec t0, t1;

	is_int(parse(s, 0, &doc, &err), 0, "64 levels parse");
	for (n = doc->root; n && n->kind == DK_YAML_SEQUENCE; n = n->items[0])
		d++;
	is_int(d, DK_YAML_MAX_DEPTH, "64 lists deep");
	free(s);
	s = nested(DK_YAML_MAX_DEPTH + 1, "1");
	is_msg(s, 0, "t.yaml:1:65: nested deeper than 64 levels", "65 levels refused");
	free(s);
	s = nested(200000, "");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_msg(s, DK_YAML_JSON, "t.yaml:1:65: nested deeper than 64 levels",
	       "200000 levels refused");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(t1.tv_sec - t0.tv_sec < 2, "and quickly");
	free(s);
	is_msg("a:\n  b:\n    c: [ { d: 1 } ]\n", 0, "ok", "block nesting counts too");
}

static void test_json(void)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	const struct dk_yaml_node *root, *arr;

	is_int(parse("{\n  \"s\": \"a\\\"\\u00e9\\/\\n\",\n  \"n\": -1.5e3, \"t\": "
		     "true,\n"
		     "  \"z\": null, \"a\": [1, {\"b\": []}, \"x\"], \"o\": {}\n}\n",
		     DK_YAML_JSON, &doc, &err),
	       0, "JSON object parses%s%s", err ? ": " : "", err ? err->msg : "");
	root = doc->root;
	ok(root && root->kind == DK_YAML_MAPPING && root->n == 6, "six keys");
	is_str(dk_yaml_scalar(dk_yaml_get(root, "s")), "a\"\xc3\xa9/\n",
	       "escapes decoded");
	is_str(dk_yaml_scalar(dk_yaml_get(root, "n")), "-1.5e3", "number text");
	ok(dk_yaml_get(root, "n")->plain, "number is plain");
	ok(dk_yaml_scalar(dk_yaml_get(root, "z")) == NULL, "null");
	arr = dk_yaml_get(root, "a");
	ok(arr && arr->kind == DK_YAML_SEQUENCE && arr->n == 3, "array of three");
	is_int(arr->line, 4, "array line");
	is_int(arr->column, 19, "array column");
	dk_yaml_free(TAKE_PTR(doc));
	is_int(parse("[]", DK_YAML_JSON, &doc, &err), 0, "empty array parses");
	dk_yaml_free(TAKE_PTR(doc));
	is_int(parse("\xef\xbb\xbf{\"\xc3\xa9\": [\"\xc3\xbc\"]}", DK_YAML_JSON, &doc,
		     &err),
	       0, "BOM and UTF-8 parse");

	is_msg("{\"a\": 1,}", DK_YAML_JSON,
	       "t.yaml:1:9: a comma before the closing bracket", "trailing comma in {}");
	is_msg("[1, 2 , ]", DK_YAML_JSON,
	       "t.yaml:1:9: a comma before the closing bracket", "trailing comma in []");
	is_msg("{\"\xc3\xa9\xc3\xa9\": \"\xc3\xbc\", \"a\": [1, [2]]}", DK_YAML_JSON,
	       "ok", "UTF-8 text and no trailing comma");
	is_msg("{\"\xc3\xa9\xc3\xa9\": \"\xc3\xbc\", \"a\": [1, [2],]}", DK_YAML_JSON,
	       "t.yaml:1:26: a comma before the closing bracket",
	       "trailing comma after UTF-8 text");
	is_msg("{'a': 1}", DK_YAML_JSON, "t.yaml:1:2: expected a double-quoted string",
	       "single quotes");
	is_msg("{\"a\": yes}", DK_YAML_JSON,
	       "t.yaml:1:7: expected a string, number, true, false or null, got 'yes'",
	       "a YAML word");
	is_msg("{\"a\": 01}", DK_YAML_JSON,
	       "t.yaml:1:7: expected a string, number, true, false or null, got '01'",
	       "leading zero");
	is_msg("{\"a\"}", DK_YAML_JSON, "t.yaml:1:5: expected a value",
	       "key without value");
	is_msg("{a: 1}", DK_YAML_JSON,
	       "t.yaml:1:2: expected a string, number, true, false or null, got 'a'",
	       "bare key");
	is_msg("{1: 1}", DK_YAML_JSON, "t.yaml:1:2: keys must be double-quoted strings",
	       "number key");
	is_msg("{\"a\": \"x\n y\"}", DK_YAML_JSON,
	       "t.yaml:1:7: a string cannot span lines", "multi-line string");
	is_msg("a: 1\n", DK_YAML_JSON, "t.yaml:1:1: a YAML block mapping is not JSON",
	       "block mapping");
	is_msg("- 1\n", DK_YAML_JSON, "t.yaml:1:1: a YAML block list is not JSON",
	       "block list");
	is_msg("[&a 1, *a]", DK_YAML_JSON, "t.yaml:1:2: anchors and tags are not JSON",
	       "anchor");
	is_msg("[!!str 1]", DK_YAML_JSON, "t.yaml:1:2: anchors and tags are not JSON",
	       "tag");
	is_msg("{} x", DK_YAML_JSON, "t.yaml:1:4: did not find expected <document start>",
	       "trailing data");
	is_msg("{}\n---\n{}\n", DK_YAML_JSON,
	       "t.yaml:2:1: a second document starts here: one document expected",
	       "two documents");
	is_msg("{\"a\": \"x\\u0000y\"}", DK_YAML_JSON,
	       "t.yaml:1:7: a value cannot hold NUL characters", "NUL in a string");
}

static void test_errors(void)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	char *big;

	is_msg("a: [\n", 0,
	       "t.yaml:2:1: did not find expected node content while parsing "
	       "a flow node",
	       "unclosed list");
	is_msg("a: b\n  c: d\n", 0,
	       "t.yaml:2:4: mapping values are not allowed in this "
	       "context",
	       "bad indentation");
	is_msg("a: \"x\n", 0,
	       "t.yaml:2:1: found unexpected end of stream while scanning "
	       "a quoted scalar",
	       "unclosed quote");
	is_msg("a:\n\t- b\n", 0,
	       "t.yaml:2:1: found character that cannot start any token "
	       "while scanning for the next token",
	       "tab indentation");
	is_int(dk_yaml_parse(NULL, "[", 1, 0, &doc, &err), -EBADMSG, "no name");
	is_str(err ? err->msg : NULL,
	       "line 2 column 1: did not find expected node content while parsing a flow "
	       "node",
	       "no name: line and column");
	big = calloc(1, DK_YAML_MAX_BYTES + 2);
	if (!big)
		abort();
	memset(big, '#', DK_YAML_MAX_BYTES + 1);
	is_int(dk_yaml_parse("big.yaml", big, DK_YAML_MAX_BYTES + 1, 0, &doc, &err),
	       -EFBIG, "over the size limit");
	is_str(err ? err->msg : NULL, "big.yaml: larger than 1024 KiB", "size message");
	free(big);
}

/* ---- the walk ---- */

struct many {
	int v[20];
	char *s;
	char *p;
	bool b;
	int i;
	char *opt;
};

static int set_v(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		 void *obj)
{
	struct many *m = obj;
	int idx = atoi(strrchr(key, 'k') + 1);

	return dk_yaml_get_int(w, n, key, 0, 100, &m->v[idx]);
}

#define K(x)                                                        \
	{                                                           \
		.name = "k" #x, .required = (x) == 19, .set = set_v \
	}
static const struct dk_yaml_field many_fields[] = {
	K(0),
	K(1),
	K(2),
	K(3),
	K(4),
	K(5),
	K(6),
	K(7),
	K(8),
	K(9),
	K(10),
	K(11),
	K(12),
	K(13),
	K(14),
	K(15),
	K(16),
	K(17),
	K(18),
	K(19),
	{.name = "string", .type = DK_YAML_STRING, .offset = offsetof(struct many, s)},
	{.name = "path", .type = DK_YAML_PATH, .offset = offsetof(struct many, p)},
	{.name = "flag", .type = DK_YAML_BOOL, .offset = offsetof(struct many, b)},
	{.name = "count",
	 .type = DK_YAML_INT,
	 .offset = offsetof(struct many, i),
	 .min = -5,
	 .max = 5},
	{.name = "optional",
	 .type = DK_YAML_PATH,
	 .null_ok = true,
	 .offset = offsetof(struct many, opt)},
};

static char *walk_msg(const char *text, struct many *m)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_yaml_walk w = {"w.yaml", &err};
	int r;

	memset(m, 0, sizeof(*m));
	r = dk_yaml_parse("w.yaml", text, strlen(text), 0, &doc, &err);
	if (r == 0)
		r = dk_yaml_walk_mapping(&w, doc->root, "top", many_fields,
					 ARRAY_SIZE(many_fields), m);
	return strdup(r == 0 ? "ok" : err ? err->msg : "no message");
}

static void many_release(struct many *m)
{
	free(m->s);
	free(m->p);
	free(m->opt);
}

#define is_walk(text, want, ...)                  \
	do {                                      \
		struct many _m;                   \
		char *_w = walk_msg((text), &_m); \
		is_str(_w, (want), __VA_ARGS__);  \
		free(_w);                         \
		many_release(&_m);                \
	} while (0)

static void test_walk(void)
{
	static const char all[] =
		"{k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7, "
		"k8: 8, k9: 9, k10: 10, k11: 11, k12: 12, k13: 13, k14: 14, "
		"k15: 15, k16: 16, k17: 17, k18: 18, k19: 19";
	struct many m;
	char text[1024], *msg;

	snprintf(text, sizeof(text),
		 "%s, string: hi, path: /x, flag: on, count: -5, "
		 "optional: ~}",
		 all);
	msg = walk_msg(text, &m);
	is_str(msg, "ok", "25 keys walk");
	free(msg);
	ok(m.v[0] == 0 && m.v[17] == 17 && m.v[19] == 19, "custom setters ran");
	is_str(m.s, "hi", "string field");
	is_str(m.p, "/x", "path field");
	ok(m.b, "bool field");
	is_int(m.i, -5, "int field");
	ok(m.opt == NULL, "null_ok leaves it unset");
	many_release(&m);

	snprintf(text, sizeof(text), "%s, k18: 1}", all);
	is_walk(text, "w.yaml:1:162: top.k18: given twice", "duplicate past 16 keys");
	snprintf(text, sizeof(text), "%s, count: 1, count: 2}", all);
	is_walk(text, "w.yaml:1:172: top.count: given twice", "duplicate typed key");
	is_walk("{k0: 1}", "w.yaml:1:1: top.k19: required key is missing",
		"the 20th key is required");
	is_walk("{k19: 1, strnig: x}",
		"w.yaml:1:10: top.strnig: unknown key (did you mean "
		"'string'?)",
		"did you mean");
	is_walk("{k19: 1, zzzzzzzzzz: x}",
		"w.yaml:1:10: top.zzzzzzzzzz: unknown key (known: k0, k1, k2, k3, k4, "
		"k5, "
		"k6, k7, k8, k9, k10, k11, k12, k13, k14, k15, k16, k17, k18, k19, "
		"string, "
		"path, flag, count, optional)",
		"known keys listed");
	is_walk("{k19: 1, [a]: x}", "w.yaml:1:10: top: keys must be strings",
		"a list as key");
	is_walk("[1]", "w.yaml:1:1: top: expected a mapping, got a list",
		"not a mapping");
	is_walk("{k19: 1, path: x}",
		"w.yaml:1:16: top.path: expected an absolute path, got 'x'", "path");
	is_walk("{k19: 1, string: ~}",
		"w.yaml:1:18: top.string: expected a string, got an empty value",
		"empty string");
	is_walk("{k19: 1, string: []}",
		"w.yaml:1:18: top.string: expected a string, got a list",
		"string from a list");
	is_walk("{k19: 1, flag: maybe}",
		"w.yaml:1:16: top.flag: expected true or false, got 'maybe'", "bool");
	is_walk("{k19: 1, flag: {}}",
		"w.yaml:1:16: top.flag: expected true or false, got a mapping",
		"bool mapping");
	is_walk("{k19: 1, count: 6}", "w.yaml:1:17: top.count: 6 is out of range (-5..5)",
		"int range");
	is_walk("{k19: 1, count: 1x}",
		"w.yaml:1:17: top.count: expected a number, got '1x'", "int text");
	is_walk("{k19: 1, count: [1]}",
		"w.yaml:1:17: top.count: expected a number, got a list", "int list");
	is_walk("{k19: 1, optional: rel}",
		"w.yaml:1:20: top.optional: expected an absolute path, got 'rel'",
		"null_ok still checks a value");
	is_walk("{k19: 101}", "w.yaml:1:7: top.k19: 101 is out of range (0..100)",
		"custom setter error");
}

static void test_fail(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_yaml_walk w = {"f.yaml", &err};
	struct dk_yaml_walk anon = {NULL, &err};
	char *k;

	is_int(dk_yaml_fail(&w, NULL, "a.b", "no %s", "mark"), -EBADMSG, "fail: EBADMSG");
	is_str(err->msg, "f.yaml: a.b: no mark", "fail without node");
	dk_yaml_fail(&w, NULL, "", "whole file");
	is_str(err->msg, "f.yaml: whole file", "fail without key");
	dk_yaml_fail(&anon, NULL, "k", "x");
	is_str(err->msg, "k: x", "fail without file");
	k = dk_yaml_subkey("", "a");
	is_str(k, "a", "subkey at the top");
	free(k);
	k = dk_yaml_subkey("a", "b");
	is_str(k, "a.b", "subkey");
	free(k);
	k = dk_yaml_subindex("a.b", 3);
	is_str(k, "a.b[3]", "subindex");
	free(k);
}

/* What shared/yaml-writer writes reads back as the same strings through the one reader:
 * no value changes type (no, 1.10, ~) or breaks the document (": ", "#", newlines,
 * quotes), and a key that is not plain is quoted. */
static void test_writer_round_trip(void)
{
	static const char *const tricky[] = {"no",	 "1.10",	"~",	 "",
					     "a: b # c", "line\nbreak", "\"q\"", "- x",
					     "{a}",	 "tab\there"};
	const char *const flow[] = {"yes", "0x10", "x, y"};
	struct dk_yaml_doc *doc = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	struct strbuf b;
	const struct dk_yaml_node *n;
	int r;

	strbuf_init(&b);
	yaml_key(&b, 0, "top");
	for (size_t i = 0; i < ARRAY_SIZE(tricky); i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%zu", i);
		yaml_kv(&b, 1, k, tricky[i]);
	}
	yaml_kv(&b, 1, "odd key: x", "v");
	yaml_kraw(&b, 1, "n", "%d", 7);
	yaml_kflow(&b, 1, "flow", flow, ARRAY_SIZE(flow));
	yaml_key(&b, 1, "list");
	yaml_item_kv(&b, 2, "name", "first");
	yaml_kv(&b, 3, "value", "true");
	yaml_item(&b, 2, "null");
	r = dk_yaml_parse("w", strbuf_str(&b), b.len, 0, &doc, &err);
	is_int(r, 0, "writer output parses: %s", err ? err->msg : "ok");
	n = doc ? dk_yaml_get(doc->root, "top") : NULL;
	for (size_t i = 0; n && i < ARRAY_SIZE(tricky); i++) {
		char k[16];
		const struct dk_yaml_node *v;

		snprintf(k, sizeof(k), "k%zu", i);
		v = dk_yaml_get(n, k);
		ok(v && v->kind == DK_YAML_SCALAR && !v->plain &&
			   streq(v->value, tricky[i]),
		   "value %zu reads back quoted and equal", i);
	}
	ok(n && dk_yaml_get(n, "odd key: x") &&
		   streq(dk_yaml_get(n, "odd key: x")->value, "v"),
	   "a key that is not plain is quoted");
	ok(n && dk_yaml_get(n, "n") && dk_yaml_get(n, "n")->plain,
	   "raw values stay plain");
	ok(n && dk_yaml_get(n, "flow") && dk_yaml_get(n, "flow")->n == 3 &&
		   streq(dk_yaml_get(n, "flow")->items[2]->value, "x, y"),
	   "flow list of three, a comma inside an item kept");
	n = n ? dk_yaml_get(n, "list") : NULL;
	ok(n && n->kind == DK_YAML_SEQUENCE && n->n == 2 &&
		   n->items[0]->kind == DK_YAML_MAPPING &&
		   streq(dk_yaml_get(n->items[0], "value")->value, "true") &&
		   !n->items[1]->plain && streq(n->items[1]->value, "null"),
	   "list: a mapping item with two keys, then a quoted string item");
	dk_yaml_free(doc);
	strbuf_release(&b);
}

/* A file is one document: the second is refused, not ignored. */
static void test_documents(void)
{
	const char *want = "t.yaml:2:1: a second document starts here: one document "
			   "expected";

	is_msg("a: 1\n---\nb: 2\n", 0, want, "second document refused");
	is_msg("a: 1\n---\n", 0, want, "empty second document refused");
	is_msg("a: 1\n...\n---\nb: 2\n", 0,
	       "t.yaml:3:1: a second document starts here: one document expected",
	       "second document after an end marker refused");
	is_msg("---\na: 1\n...\n", 0, "ok", "one document with both markers");
	is_msg("a: 1\n...\n", 0, "ok", "one document with an end marker");
	is_msg("{}\n---\n{}\n", DK_YAML_JSON, want, "JSON: second document refused");
}

typedef void (*gen_fn)(struct strbuf *b, size_t i);

static void gen_deep_map(struct strbuf *b, size_t i)
{
	(void)i;
	strbuf_puts(b, "{a: ");
}
static void gen_deep_seq(struct strbuf *b, size_t i)
{
	(void)i;
	strbuf_puts(b, "[");
}
static void gen_deep_lines(struct strbuf *b, size_t i)
{
	(void)i;
	strbuf_puts(b, "[\n");
}
static void gen_deep_block(struct strbuf *b, size_t i)
{
	(void)i;
	strbuf_puts(b, "- ");
}
static void gen_deep_keys(struct strbuf *b, size_t i)
{
	(void)i;
	strbuf_puts(b, "? ");
}
static void gen_anchors(struct strbuf *b, size_t i)
{
	strbuf_printf(b, "- &a%zu x\n", i);
}
static void gen_aliases(struct strbuf *b, size_t i)
{
	if (i < 40000)
		strbuf_printf(b, "- &a%zu x\n", i);
	else
		strbuf_printf(b, "- *a%zu\n", i % 40000);
}
static void gen_keys(struct strbuf *b, size_t i)
{
	strbuf_printf(b, "k%zu: v\n", i);
}

/* Hostile inputs just under DK_YAML_MAX_BYTES load (or fail) in well under a second;
 * the bound here is 2 s for a loaded machine. */
static void test_limits(void)
{
	static const struct {
		const char *desc, *want;
		gen_fn gen;
	} v[] = {
		{"nested flow mappings", "nested deeper than 64 levels", gen_deep_map},
		{"nested flow lists", "nested deeper than 64 levels", gen_deep_seq},
		{"nested flow lists, one a line", "nested deeper than 64 levels",
		 gen_deep_lines},
		{"nested block lists", "nested deeper than 64 levels", gen_deep_block},
		{"nested complex keys", "nested deeper than 64 levels", gen_deep_keys},
		{"90 000 anchors", "ok", gen_anchors},
		{"anchors and 70 000 aliases", "ok", gen_aliases},
		{"a mapping of 100 000 keys", "ok", gen_keys},
	};

	for (size_t k = 0; k < ARRAY_SIZE(v); k++) {
		struct strbuf b;
		struct timespec t0, t1;
		_cleanup_free_ char *m = NULL;
		double s;

		strbuf_init(&b);
		for (size_t i = 0; b.len < DK_YAML_MAX_BYTES - 64; i++)
			v[k].gen(&b, i);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		m = parse_msg(b.s, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		ok(m && strstr(m, v[k].want), "%s (%zu bytes): %s", v[k].desc, b.len,
		   v[k].want);
		if (m && !strstr(m, v[k].want))
			printf("#   got '%s'\n", m);
		ok(s < 2.0, "%s: %.3f s", v[k].desc, s);
		strbuf_release(&b);
	}
}

int main(void)
{
	test_writer_round_trip();
	test_tree();
	test_aliases();
	test_depth();
	test_documents();
	test_limits();
	test_json();
	test_errors();
	test_walk();
	test_fail();
	return tap_done();
}
