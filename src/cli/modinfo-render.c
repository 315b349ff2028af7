/* SPDX-License-Identifier: Apache-2.0 */
/* drvkit modinfo's output: kmod's modinfo text layout, or JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/strbuf.h"

#include "base/log.h"

#include "cli/modinfo-render.h"

/* One key/value as kmod lists it: .modinfo in file order, then the signature. */
struct kv {
	const char *key;
	const char *value;
};

/* kmod prints parm and parmtype merged per parameter, newest name first. */
struct param {
	const char *name, *desc, *type;
	int namelen;
	size_t order; /* first appearance among parm/parmtype entries */
};

static int cmp_param_newest(const void *a, const void *b)
{
	const struct param *x = a, *y = b;

	return (x->order < y->order) - (x->order > y->order);
}

/* "AA:BB:..." wrapped after every 20 bytes with "\n\t\t", as libkmod does. */
static char *wrap_hex(const char *hex)
{
	struct strbuf b;
	size_t bytes = 0;

	strbuf_init(&b);
	for (const char *c = hex; *c; c++) {
		strbuf_putc(&b, *c);
		if (*c == ':' && ++bytes % 20 == 0)
			strbuf_puts(&b, "\n\t\t");
	}
	return strbuf_steal(&b);
}

struct info {
	struct kv *kv;
	size_t n;
	struct dk_modsig_info sig;
	char *sig_error;	   /* signed, but the blob could not be described */
	char *sig_key, *signature; /* wrapped */
};

static void info_clear(struct info *in)
{
	free(in->kv);
	free(in->sig_error);
	free(in->sig_key);
	free(in->signature);
	dk_modsig_info_clear(&in->sig);
}

static int info_collect(const struct dk_modfile *mod, struct info *in,
			struct dk_error **err)
{
	const struct dk_modinfo_entry *e;
	size_t n = dk_modfile_modinfo(mod, &e);
	_cleanup_error_ struct dk_error *serr = NULL;

	memset(in, 0, sizeof(*in));
	in->kv = calloc(n + 5, sizeof(*in->kv));
	if (!in->kv)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		in->kv[in->n++] = (struct kv){e[i].key, e[i].value};
	if (dk_modfile_signature_info(mod, &in->sig, &serr) < 0) {
		/* kmod stays silent here (e.g. signed by key id, CMS): so do we */
		dk_debug("%s: signature not shown: %s", dk_modfile_path(mod), serr->msg);
		in->sig_error = strdup(serr->msg);
		return 0;
	}
	/* kmod shows no signature fields for modules signed by key id (no signer) */
	if (!in->sig.sig_id || !in->sig.signer)
		return 0;
	in->sig_key = wrap_hex(in->sig.sig_key ? in->sig.sig_key : "");
	in->signature = wrap_hex(in->sig.signature);
	if (!in->sig_key || !in->signature)
		return dk_error_set(err, ENOMEM, "out of memory");
	in->kv[in->n++] = (struct kv){"sig_id", in->sig.sig_id};
	in->kv[in->n++] = (struct kv){"signer", in->sig.signer};
	in->kv[in->n++] = (struct kv){"sig_key", in->sig_key};
	in->kv[in->n++] = (struct kv){"sig_hashalgo", in->sig.sig_hashalgo};
	in->kv[in->n++] = (struct kv){"signature", in->signature};
	return 0;
}

/* One parm= or parmtype= entry, in file order. */
struct parm_rec {
	const char *name, *rest;
	int namelen;
	bool is_parm;
	size_t order;
};

static int cmp_parm_rec(const void *a, const void *b)
{
	const struct parm_rec *x = a, *y = b;
	int n = x->namelen < y->namelen ? x->namelen : y->namelen;
	int c = memcmp(x->name, y->name, (size_t)n);

	if (!c)
		c = (x->namelen > y->namelen) - (x->namelen < y->namelen);
	return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Builds the parameter list like kmod: one per name, the last parm= and parmtype= of
 * each, newest name first (kmod prepends). Sorted by name instead of searched, so
 * 100 000 parameters cost n log n. Returns the count, or -ENOMEM. */
static ssize_t params_collect(const struct dk_modfile *mod, const struct info *in,
			      struct param *ps)
{
	_cleanup_free_ struct parm_rec *rec = calloc(in->n + 1, sizeof(*rec));
	size_t nr = 0, np = 0;

	if (!rec)
		return -ENOMEM;
	for (size_t i = 0; i < in->n; i++) {
		bool is_parm = streq(in->kv[i].key, "parm");
		const char *v = in->kv[i].value, *colon;

		if (!is_parm && !streq(in->kv[i].key, "parmtype"))
			continue;
		colon = strchr(v, ':');
		if (!colon) {
			dk_warn("%s: invalid \"%s=%s\": missing ':'",
				dk_modfile_path(mod), in->kv[i].key, v);
			continue;
		}
		rec[nr] = (struct parm_rec){v, colon + 1, (int)(colon - v), is_parm, nr};
		nr++;
	}
	qsort(rec, nr, sizeof(*rec), cmp_parm_rec);
	for (size_t i = 0; i < nr; i++) {
		struct param *p = &ps[np];

		if (i == 0 || rec[i].namelen != rec[i - 1].namelen ||
		    memcmp(rec[i].name, rec[i - 1].name, (size_t)rec[i].namelen) != 0) {
			*p = (struct param){.name = rec[i].name,
					    .namelen = rec[i].namelen,
					    .order = rec[i].order};
			np++;
		} else {
			p = &ps[np - 1];
		}
		if (rec[i].is_parm)
			p->desc = rec[i].rest;
		else
			p->type = rec[i].rest;
	}
	/* newest first: by first appearance, descending */
	qsort(ps, np, sizeof(*ps), cmp_param_newest);
	return (ssize_t)np;
}

static void print_param(FILE *f, const struct param *p, bool field)
{
	const char *pre = field ? "" : "parm:           ";

	if (!p->desc && field)
		fprintf(f, "%.*s: (%s)\n", p->namelen, p->name, p->type);
	else if (!p->desc)
		fprintf(f, "%s%.*s:%s\n", pre, p->namelen, p->name, p->type);
	else if (p->type)
		fprintf(f, "%s%.*s:%s (%s)\n", pre, p->namelen, p->name, p->desc,
			p->type);
	else
		fprintf(f, "%s%.*s:%s\n", pre, p->namelen, p->name, p->desc);
}

static void print_text(FILE *f, const struct info *in, const char *filename,
		       const char *field, struct param *ps, size_t np)
{
	if (field && streq(field, "filename")) {
		fprintf(f, "%s\n", filename);
		return;
	}
	if (!field)
		fprintf(f, "%-16s%s\n", "filename:", filename);
	if (field && streq(field, "parm")) {
		for (size_t i = 0; i < np; i++)
			print_param(f, &ps[i], true);
		return;
	}
	for (size_t i = 0; i < in->n; i++) {
		const char *key = in->kv[i].key;

		if (field) {
			if (streq(field, key))
				fprintf(f, "%s\n", in->kv[i].value);
			continue;
		}
		if (streq(key, "parm") || streq(key, "parmtype"))
			continue;
		/* same printf as kmod, negative widths included */
		fprintf(f, "%s:%-*s%s\n", key, 15 - (int)strlen(key), "",
			in->kv[i].value);
	}
	for (size_t i = 0; !field && i < np; i++)
		print_param(f, &ps[i], false);
}

static int cmp_entry_index(const void *a, const void *b, void *entries)
{
	const struct dk_modinfo_entry *e = entries;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(e[x].key, e[y].key);

	return c ? c : (x > y) - (x < y);
}

/* The .modinfo entry indexes grouped by key (file order within a key), and for each
 * entry where its key's group starts: repeated keys found in n log n, not n^2. */
static int group_entries(const struct dk_modinfo_entry *e, size_t n, size_t **groups,
			 size_t **group_at)
{
	size_t *g = calloc(n + 1, sizeof(*g)), *at = calloc(n + 1, sizeof(*at));

	if (!g || !at) {
		free(g);
		free(at);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		g[i] = i;
	qsort_r(g, n, sizeof(*g), cmp_entry_index, (void *)e);
	for (size_t i = 0, start = 0; i < n; i++) {
		if (i > 0 && !streq(e[g[i]].key, e[g[i - 1]].key))
			start = i;
		at[g[i]] = start;
	}
	*groups = g;
	*group_at = at;
	return 0;
}

static int print_json(struct json_writer *w, const struct dk_modfile *mod,
		      const struct info *in, const char *filename, struct param *ps,
		      size_t np)
{
	const struct dk_modinfo_entry *e;
	size_t n = dk_modfile_modinfo(mod, &e);
	const struct dk_modversion *v;
	size_t nv = dk_modfile_versions(mod, &v);
	_cleanup_free_ size_t *groups = NULL, *group_at = NULL;

	if (group_entries(e, n, &groups, &group_at) < 0)
		return -ENOMEM;

	json_begin_object(w);
	json_kv_string(w, "filename", filename);
	json_kv_string(w, "name", dk_modfile_name(mod));
	json_key(w, "fields");
	json_begin_object(w);
	for (size_t i = 0; i < n; i++) {
		const size_t *g = groups ? groups + group_at[i] : NULL;

		if (!g || g[0] != i)
			continue; /* not the first entry of its key */
		json_key(w, e[i].key);
		if (g + 1 == groups + n || !streq(e[g[1]].key, e[i].key)) {
			json_string(w, e[i].value);
			continue;
		}
		json_begin_array(w);
		for (; g < groups + n && streq(e[*g].key, e[i].key); g++)
			json_string(w, e[*g].value);
		json_end_array(w);
	}
	json_end_object(w);
	json_key(w, "params");
	json_begin_array(w);
	for (size_t i = np; i-- > 0;) { /* file order */
		_cleanup_free_ char *name = strndup(ps[i].name, (size_t)ps[i].namelen);

		json_begin_object(w);
		json_kv_string(w, "name", name);
		json_kv_string(w, "description", ps[i].desc);
		json_kv_string(w, "type", ps[i].type);
		json_end_object(w);
	}
	json_end_array(w);
	json_kv_int(w, "versions_count", (int64_t)nv);
	json_key(w, "versions");
	json_begin_array(w);
	for (size_t i = 0; i < nv; i++) {
		char crc[32];

		snprintf(crc, sizeof(crc), "0x%08llx", (unsigned long long)v[i].crc);
		json_begin_object(w);
		json_kv_string(w, "symbol", v[i].name);
		json_kv_string(w, "crc", crc);
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "signature");
	if (dk_modfile_signature(mod)) {
		json_begin_object(w);
		json_kv_int(w, "sig_len", (int64_t)dk_modfile_signature(mod)->sig_len);
		if (in->sig_error)
			json_kv_string(w, "error", in->sig_error);
		json_kv_string(w, "sig_id", in->sig.sig_id);
		json_kv_string(w, "signer", in->sig.signer);
		json_kv_string(w, "sig_key", in->sig.sig_key);
		json_kv_string(w, "sig_hashalgo", in->sig.sig_hashalgo);
		json_kv_string(w, "signature", in->sig.signature);
		json_end_object(w);
	} else {
		json_null(w);
	}
	json_end_object(w);
	return 0;
}

int dk_modinfo_render(FILE *f, struct json_writer *w, const struct dk_modfile *mod,
		      const char *filename, const char *field, struct dk_error **err)
{
	_cleanup_free_ struct param *ps = NULL;
	struct info in;
	ssize_t np = 0;
	int r;

	r = info_collect(mod, &in, err);
	ps = calloc(in.n + 1, sizeof(*ps));
	if (r >= 0 && ps)
		np = params_collect(mod, &in, ps);
	if (r >= 0 && (!ps || np < 0))
		r = dk_error_set(err, ENOMEM, "out of memory");
	if (r >= 0 && w && print_json(w, mod, &in, filename, ps, (size_t)np) < 0)
		r = dk_error_set(err, ENOMEM, "out of memory");
	else if (r >= 0 && !w)
		print_text(f, &in, filename, field, ps, (size_t)np);
	info_clear(&in);
	return r;
}
