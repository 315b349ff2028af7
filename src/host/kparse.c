/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/yaml.h"
#include "host/kparse.h"
#include "host/osrelease.h"

void dk_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t dk_strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

int dk_strv_add_unique(char ***v, const char *s)
{
	size_t n = dk_strv_len(*v);
	char **nv;
	char *copy;

	for (size_t i = 0; i < n; i++)
		if (streq((*v)[i], s))
			return 0;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	nv = realloc(*v, (n + 2) * sizeof(*nv));
	if (!nv) {
		free(copy);
		return -ENOMEM;
	}
	nv[n] = copy;
	nv[n + 1] = NULL;
	*v = nv;
	return 0;
}

static char *strndup_trim(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

/* Index just past the ')' matching the '(' at s[open], or 0 when unbalanced. */
static size_t match_paren(const char *s, size_t open)
{
	int depth = 0;

	for (size_t i = open; s[i] && s[i] != '\n'; i++) {
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i + 1;
	}
	return 0;
}

/* Length of the group content starting at s up to a depth-0 ',' or the closing ')'. */
static size_t group_text_len(const char *s)
{
	int depth = 0;
	size_t i;

	for (i = 0; s[i] && s[i] != '\n'; i++) {
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')') {
			if (depth == 0)
				break;
			depth--;
		} else if (s[i] == ',' && depth == 0)
			break;
	}
	return i;
}

static size_t version_len(const char *s)
{
	size_t n = 0;

	while (isdigit((unsigned char)s[n]) || s[n] == '.')
		n++;
	return n > 0 && isdigit((unsigned char)s[0]) ? n : 0;
}

/* Parses one "(...)" group's content: "gcc version V ...", "gcc (X) V",
 * "gcc-12 (X) V", "clang version V ...", "Ubuntu clang version V". */
static int cc_from_group(const char *g, size_t glen, struct dk_cc_info *out)
{
	const char *p = g, *v = NULL, *name;
	size_t vl;

	if (startswith(p, "gcc")) {
		name = "gcc";
		p += 3;
		if (*p == '-')
			while (*++p && (isdigit((unsigned char)*p) || *p == '.'))
				;
		if (startswith(p, " version ")) {
			v = p + strlen(" version ");
		} else if (startswith(p, " (")) {
			size_t close = match_paren(p, 1);

			if (close == 0)
				return -ENODATA;
			v = p + close;
			while (*v == ' ')
				v++;
		} else {
			return -ENODATA;
		}
	} else {
		const char *c = strstr(g, "clang version ");

		if (!c || (size_t)(c - g) >= glen)
			return -ENODATA;
		name = "clang";
		v = c + strlen("clang version ");
	}
	vl = version_len(v);
	if (vl == 0)
		return -ENODATA;
	out->name = strdup(name);
	out->version = strndup(v, vl);
	out->text = strndup_trim(g, glen);
	if (!out->name || !out->version || !out->text) {
		dk_cc_info_free(out);
		return -ENOMEM;
	}
	return 0;
}

int dk_proc_version_cc_parse(const char *buf, struct dk_cc_info *out)
{
	memset(out, 0, sizeof(*out));
	for (const char *p = buf; (p = strchr(p, '(')); p++) {
		int r = cc_from_group(p + 1, group_text_len(p + 1), out);

		if (r != -ENODATA)
			return r;
	}
	return -ENODATA;
}

void dk_cc_info_free(struct dk_cc_info *cc)
{
	free(cc->name);
	free(cc->version);
	free(cc->text);
	memset(cc, 0, sizeof(*cc));
}

int dk_lockdown_parse(const char *buf, char **mode)
{
	const char *open = strchr(buf, '['), *close;

	if (!open)
		return -EBADMSG;
	close = strchr(open, ']');
	if (!close || close == open + 1)
		return -EBADMSG;
	*mode = strndup(open + 1, (size_t)(close - open - 1));
	return *mode ? 0 : -ENOMEM;
}

const char *dk_nvidia_flavour_name(enum dk_nvidia_flavour f)
{
	switch (f) {
	case DK_NVIDIA_OPEN:
		return "open";
	case DK_NVIDIA_PROPRIETARY:
		return "proprietary";
	case DK_NVIDIA_UNKNOWN:
		break;
	}
	return "unknown";
}

int dk_nvidia_version_parse(const char *buf, struct dk_nvidia_version *out)
{
	const char *l = strstr(buf, "NVRM version:"), *km, *g;
	size_t vl, ll;

	memset(out, 0, sizeof(*out));
	if (!l)
		return -EBADMSG;
	ll = strcspn(l, "\n");
	km = strstr(l, "Kernel Module");
	if (!km || (size_t)(km - l) >= ll)
		return -EBADMSG;
	/* "NVIDIA UNIX Open Kernel Module for x86_64  550.54.14 ..." or
	 * "NVIDIA UNIX x86_64 Kernel Module  535.183.01 ..." */
	out->flavour = (km - l >= 5 && strncmp(km - 5, "Open ", 5) == 0)
			       ? DK_NVIDIA_OPEN
			       : DK_NVIDIA_PROPRIETARY;
	km += strlen("Kernel Module");
	while (*km == ' ')
		km++;
	if (startswith(km, "for ")) {
		km += 4;
		km += strcspn(km, " \n");
		while (*km == ' ')
			km++;
	}
	vl = version_len(km);
	if (vl == 0) {
		out->flavour = DK_NVIDIA_UNKNOWN;
		return -EBADMSG;
	}
	out->version = strndup(km, vl);
	if (!out->version)
		return -ENOMEM;
	g = strstr(buf, "GCC version:");
	if (g) {
		g += strlen("GCC version:");
		out->gcc = strndup_trim(g, strcspn(g, "\n"));
		if (!out->gcc) {
			dk_nvidia_version_free(out);
			return -ENOMEM;
		}
	}
	return 0;
}

void dk_nvidia_version_free(struct dk_nvidia_version *nv)
{
	free(nv->version);
	free(nv->gcc);
	memset(nv, 0, sizeof(*nv));
}

/* --- Driver Toolkit release JSON ------------------------------------------ */

/* The value of a known key: a JSON string. */
static int dtk_string(const struct dk_yaml_node *k, const struct dk_yaml_node *v,
		      char **slot, struct dk_error **err)
{
	char *s;

	if (v->kind != DK_YAML_SCALAR || v->plain)
		return dk_error_set(err, EBADMSG,
				    "malformed JSON: line %zu column %zu: %s: expected a "
				    "string value",
				    v->line, v->column, k->value);
	s = strdup(v->value);
	if (!s)
		return dk_error_set(err, ENOMEM, "out of memory");
	free(*slot);
	*slot = s;
	return 0;
}

int dk_dtk_parse(const char *buf, struct dk_dtk_release *out, struct dk_error **err)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	struct dk_dtk_release d = {0};
	const struct dk_yaml_node *root;
	int r;

	r = dk_yaml_parse(NULL, buf, strlen(buf), DK_YAML_JSON, &doc, err);
	if (r == -EBADMSG)
		return dk_error_wrap(err, "malformed JSON");
	if (r < 0)
		return r;
	root = doc->root;
	if (!root || root->kind != DK_YAML_MAPPING)
		return dk_error_set(err, EBADMSG, "malformed JSON: expected an object");
	for (size_t i = 0; i < root->n && r == 0; i++) {
		const struct dk_yaml_node *k = root->pairs[i].key,
					  *v = root->pairs[i].value;

		if (streq(k->value, "KERNEL_VERSION"))
			r = dtk_string(k, v, &d.kernel_version, err);
		else if (streq(k->value, "RT_KERNEL_VERSION"))
			r = dtk_string(k, v, &d.rt_kernel_version, err);
		else if (streq(k->value, "RHEL_VERSION"))
			r = dtk_string(k, v, &d.rhel_version, err);
		else if (v->kind != DK_YAML_SCALAR)
			/* The file is flat; anything deeper is not the DTK release. */
			r = dk_error_set(
				err, EBADMSG,
				"malformed JSON: line %zu column %zu: %s: nested "
				"value not supported",
				v->line, v->column, k->value);
	}
	if (r < 0) {
		dk_dtk_release_free(&d);
		return r;
	}
	*out = d;
	return 0;
}

void dk_dtk_release_free(struct dk_dtk_release *dtk)
{
	free(dtk->kernel_version);
	free(dtk->rt_kernel_version);
	free(dtk->rhel_version);
	memset(dtk, 0, sizeof(*dtk));
}

/* --- /proc/modules -------------------------------------------------------- */

static void proc_module_release(struct dk_proc_module *m)
{
	free(m->name);
	free(m->state);
	dk_strv_free(m->used_by);
}

void dk_proc_modules_free(struct dk_proc_module *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		proc_module_release(&m[i]);
	free(m);
}

/* Splits a line into at most max whitespace-separated fields (in place). */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " \t", &save); t && n < max;
	     t = strtok_r(NULL, " \t", &save))
		f[n++] = t;
	return n;
}

static int parse_module_line(char *line, struct dk_proc_module *m)
{
	char *f[6], *end = NULL, *save = NULL;
	long refcnt;

	memset(m, 0, sizeof(*m));
	if (split_fields(line, f, ARRAY_SIZE(f)) < 5)
		return -EBADMSG;
	errno = 0;
	m->size = strtoull(f[1], &end, 10);
	if (errno || *end || end == f[1])
		return -EBADMSG;
	if (streq(f[2], "-")) {
		refcnt = -1;
	} else {
		refcnt = strtol(f[2], &end, 10);
		if (*end || end == f[2] || refcnt < 0 || refcnt > 1000000000)
			return -EBADMSG;
	}
	m->refcnt = (int)refcnt;
	m->used_by = calloc(1, sizeof(char *));
	m->name = strdup(f[0]);
	m->state = strdup(f[4]);
	if (!m->used_by || !m->name || !m->state)
		return -ENOMEM;
	if (!streq(f[3], "-"))
		for (char *t = strtok_r(f[3], ",", &save); t;
		     t = strtok_r(NULL, ",", &save))
			if (*t && dk_strv_add_unique(&m->used_by, t) < 0)
				return -ENOMEM;
	return 0;
}

int dk_proc_modules_parse(const char *buf, struct dk_proc_module **out, size_t *n)
{
	_cleanup_free_ char *copy = strdup(buf);
	struct dk_proc_module *v = NULL;
	size_t count = 0;
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct dk_proc_module m;
		struct dk_proc_module *nv;
		int r = parse_module_line(line, &m);

		if (r == -EBADMSG) {
			proc_module_release(&m);
			continue;
		}
		nv = r < 0 ? NULL : realloc(v, (count + 1) * sizeof(*v));
		if (!nv) {
			proc_module_release(&m);
			dk_proc_modules_free(v, count);
			return -ENOMEM;
		}
		v = nv;
		v[count++] = m;
	}
	*out = v;
	*n = count;
	return 0;
}

/* --- utsrelease.h ------------------------------------------------------- */

int dk_define_string_get(const char *buf, const char *name, char **value)
{
	size_t nl = strlen(name);

	for (const char *p = buf; (p = strstr(p, "#define")) != NULL;) {
		const char *q = p + strlen("#define");

		p = q;
		if (*q != ' ' && *q != '\t')
			continue;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, name, nl) != 0 || (q[nl] != ' ' && q[nl] != '\t'))
			continue;
		q += nl + strcspn(q + nl, "\"\n"); /* the value is on the same line */
		if (*q != '"')
			return -ENOENT;
		q++;
		*value = strndup(q, strcspn(q, "\"\n"));
		return *value ? 0 : -ENOMEM;
	}
	return -ENOENT;
}

int dk_utsrelease_parse(const char *buf, char **release)
{
	return dk_define_string_get(buf, "UTS_RELEASE", release);
}
