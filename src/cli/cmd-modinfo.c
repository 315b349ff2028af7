/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/strbuf.h"

#include "core/elf.h"
#include "core/log.h"

#include "cli.h"

static void help(void)
{
	printf("Usage: drvkit modinfo [--json] [-F FIELD] FILE.ko...\n"
	       "\n"
	       "Show a module's .modinfo fields, its __versions count and its appended\n"
	       "signature. The text output matches kmod's modinfo.\n"
	       "\n"
	       "  -F, --field FIELD   print only FIELD's values, one per line (like "
	       "modinfo -F)\n"
	       "      --json          JSON: an object per file (an array for several)\n"
	       "  -h, --help          this help\n"
	       "\n"
	       "Exit codes: 0 ok, 2 usage, 3 not a (64-bit) module, 4 file not found.\n");
}

/* One key/value as kmod lists it: .modinfo in file order, then the signature. */
struct kv {
	const char *key;
	const char *value;
};

/* kmod prints parm and parmtype merged per parameter, newest name first. */
struct param {
	const char *name, *desc, *type;
	int namelen;
};

static char *abs_path(const char *path)
{
	_cleanup_free_ char *cwd = NULL;
	char *s = NULL;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd || asprintf(&s, "%s/%s", cwd, path) < 0)
		return NULL;
	return s;
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
	bool has_sig;
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

static int info_collect(const struct dk_module *mod, struct info *in,
			struct dk_error **err)
{
	const struct dk_modinfo_entry *e;
	size_t n = dk_module_modinfo(mod, &e);
	_cleanup_error_ struct dk_error *serr = NULL;

	memset(in, 0, sizeof(*in));
	in->kv = calloc(n + 5, sizeof(*in->kv));
	if (!in->kv)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		in->kv[in->n++] = (struct kv){e[i].key, e[i].value};
	if (dk_module_signature_info(mod, &in->sig, &serr) < 0) {
		/* kmod stays silent here (e.g. signed by key id, CMS): so do we */
		dk_debug("%s: signature not shown: %s", dk_module_path(mod), serr->msg);
		in->sig_error = strdup(serr->msg);
		return 0;
	}
	/* kmod shows no signature fields for modules signed by key id (no signer) */
	if (!in->sig.sig_id || !in->sig.signer)
		return 0;
	in->has_sig = true;
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

/* Builds the parameter list like kmod: new names are prepended. Returns the count. */
static size_t params_collect(const struct dk_module *mod, const struct info *in,
			     struct param *ps)
{
	size_t np = 0;

	for (size_t i = 0; i < in->n; i++) {
		bool is_parm = streq(in->kv[i].key, "parm");
		const char *v = in->kv[i].value, *colon;
		struct param *p = NULL;
		int nl;

		if (!is_parm && !streq(in->kv[i].key, "parmtype"))
			continue;
		colon = strchr(v, ':');
		if (!colon) {
			dk_warn("%s: invalid \"%s=%s\": missing ':'", dk_module_path(mod),
				in->kv[i].key, v);
			continue;
		}
		nl = (int)(colon - v);
		for (size_t j = 0; j < np && !p; j++)
			if (ps[j].namelen == nl && memcmp(ps[j].name, v, (size_t)nl) == 0)
				p = &ps[j];
		if (!p) {
			memmove(ps + 1, ps, np * sizeof(*ps));
			p = &ps[0];
			*p = (struct param){.name = v, .namelen = nl};
			np++;
		}
		if (is_parm)
			p->desc = colon + 1;
		else
			p->type = colon + 1;
	}
	return np;
}

static void print_param(const struct param *p, bool field)
{
	const char *pre = field ? "" : "parm:           ";

	if (!p->desc && field)
		printf("%.*s: (%s)\n", p->namelen, p->name, p->type);
	else if (!p->desc)
		printf("%s%.*s:%s\n", pre, p->namelen, p->name, p->type);
	else if (p->type)
		printf("%s%.*s:%s (%s)\n", pre, p->namelen, p->name, p->desc, p->type);
	else
		printf("%s%.*s:%s\n", pre, p->namelen, p->name, p->desc);
}

static void print_text(const struct info *in, const char *filename, const char *field,
		       struct param *ps, size_t np)
{
	if (field && streq(field, "filename")) {
		printf("%s\n", filename);
		return;
	}
	if (!field)
		printf("%-16s%s\n", "filename:", filename);
	if (field && streq(field, "parm")) {
		for (size_t i = 0; i < np; i++)
			print_param(&ps[i], true);
		return;
	}
	for (size_t i = 0; i < in->n; i++) {
		const char *key = in->kv[i].key;

		if (field) {
			if (streq(field, key))
				printf("%s\n", in->kv[i].value);
			continue;
		}
		if (streq(key, "parm") || streq(key, "parmtype"))
			continue;
		/* same printf as kmod, negative widths included */
		printf("%s:%-*s%s\n", key, 15 - (int)strlen(key), "", in->kv[i].value);
	}
	for (size_t i = 0; !field && i < np; i++)
		print_param(&ps[i], false);
}

static void print_json(struct json_writer *w, const struct dk_module *mod,
		       const struct info *in, const char *filename, struct param *ps,
		       size_t np)
{
	const struct dk_modinfo_entry *e;
	size_t n = dk_module_modinfo(mod, &e);
	const struct dk_modversion *v;
	size_t nv = dk_module_versions(mod, &v);

	json_begin_object(w);
	json_kv_string(w, "filename", filename);
	json_kv_string(w, "name", dk_module_name(mod));
	json_key(w, "fields");
	json_begin_object(w);
	for (size_t i = 0; i < n; i++) {
		size_t count = 0;
		bool first = true;

		for (size_t j = 0; j < n; j++)
			if (streq(e[j].key, e[i].key)) {
				first = first && j >= i;
				count++;
			}
		if (!first)
			continue;
		json_key(w, e[i].key);
		if (count == 1) {
			json_string(w, e[i].value);
			continue;
		}
		json_begin_array(w);
		for (size_t j = i; j < n; j++)
			if (streq(e[j].key, e[i].key))
				json_string(w, e[j].value);
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
	if (dk_module_signature(mod)) {
		json_begin_object(w);
		json_kv_int(w, "sig_len", (int64_t)dk_module_signature(mod)->sig_len);
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
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	static const struct option opts[] = {
		{"field", required_argument, NULL, 'F'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	const char *field = NULL;
	bool json = ctx->json;
	struct dk_module **mods = NULL;
	struct json_writer w;
	int c, n, r = 0;

	while ((c = getopt_long(argc, argv, "F:h", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			field = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			help();
			return DK_EXIT_OK;
		default:
			return dk_usage_error("modinfo", "bad option");
		}
	}
	n = argc - optind;
	if (n <= 0)
		return dk_usage_error("modinfo", "no module file given");
	if (json && field)
		return dk_usage_error("modinfo", "-F and --json cannot be combined");
	/* open everything first: a bad file fails the command before any output */
	mods = calloc((size_t)n, sizeof(*mods));
	if (!mods)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (int i = 0; i < n && r >= 0; i++)
		r = dk_module_open(argv[optind + i], &mods[i], err);
	json_init(&w, true);
	if (json && n > 1)
		json_begin_array(&w);
	for (int i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *filename = abs_path(dk_module_path(mods[i]));
		_cleanup_free_ struct param *ps = NULL;
		struct info in;
		size_t np;

		r = info_collect(mods[i], &in, err);
		ps = calloc(in.n + 1, sizeof(*ps));
		if (r >= 0 && (!filename || !ps))
			r = dk_error_set(err, ENOMEM, "out of memory");
		if (r >= 0) {
			np = params_collect(mods[i], &in, ps);
			if (json)
				print_json(&w, mods[i], &in, filename, ps, np);
			else
				print_text(&in, filename, field, ps, np);
		}
		info_clear(&in);
	}
	if (json && n > 1)
		json_end_array(&w);
	if (r >= 0 && json)
		printf("%s\n", json_str(&w));
	json_release(&w);
	for (int i = 0; i < n; i++)
		dk_module_free(mods[i]);
	free(mods);
	return r < 0 ? r : DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_modinfo = {"modinfo", "show a module's modinfo and signature",
				      run};
