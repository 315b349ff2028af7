/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "shared/json-writer.h"

#include "cli/detect-render.h"

/* --- text ------------------------------------------------------------------ */

#define KEY_WIDTH 24

static void kv(FILE *f, const char *key, const char *fmt, ...) _printf_format_(3, 4);

static void kv(FILE *f, const char *key, const char *fmt, ...)
{
	va_list ap;

	fprintf(f, "  %s:%*s", key, (int)(KEY_WIDTH - strlen(key)), "");
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

static void kv_str(FILE *f, const char *key, const char *v)
{
	kv(f, key, "%s", v ? v : "-");
}

/* "value (source)", "value (reason)" or "unknown (reason)". */
static void kv_fact(FILE *f, const char *key, const struct dk_fact *fact)
{
	if (!fact->value)
		kv(f, key, "unknown (%s)",
		   fact->reason ? fact->reason : "no reason given");
	else if (fact->reason)
		kv(f, key, "%s (%s)", fact->value, fact->reason);
	else if (fact->source)
		kv(f, key, "%s (%s)", fact->value, fact->source);
	else
		kv(f, key, "%s", fact->value);
}

static void text_kernel(FILE *f, const struct dk_detect_kernel *k)
{
	fprintf(f, "kernel:\n");
	kv_fact(f, "release", &k->release);
	kv_fact(f, "arch", &k->arch);
	if (k->built_cc.value)
		kv(f, "built_with", "%s %s (%s)", k->built_by.name, k->built_by.version,
		   k->built_by.text);
	else
		kv_fact(f, "built_with", &k->built_cc);
	if (k->n_gcc == 0)
		kv(f, "gcc_available", "unknown (no gcc or gcc-N on PATH)");
	for (size_t i = 0; i < k->n_gcc; i++)
		kv(f, "gcc_available", "%s %s%s%s%s", k->gcc[i].path,
		   k->gcc[i].version ? k->gcc[i].version : "unknown",
		   k->gcc[i].error ? " (" : "", k->gcc[i].error ? k->gcc[i].error : "",
		   k->gcc[i].error ? ")" : "");
	kv_str(f, "gcc_matching", k->gcc_matching);
}

static void text_os(FILE *f, const struct dk_detect_os *os)
{
	const struct dk_osrelease *o = &os->osr;

	fprintf(f, "os:\n");
	if (os->reason) {
		kv(f, "id", "unknown (%s)", os->reason);
		kv(f, "family", "unknown");
		return;
	}
	kv_str(f, "source", os->source);
	kv_str(f, "id", o->id);
	kv_str(f, "id_like", o->id_like);
	kv_str(f, "pretty_name", o->pretty_name);
	kv_str(f, "version_id", o->version_id);
	if (o->version_major >= 0)
		kv(f, "version_major", "%d", o->version_major);
	else
		kv_str(f, "version_major", NULL);
	if (o->version_minor >= 0)
		kv(f, "version_minor", "%d", o->version_minor);
	else
		kv_str(f, "version_minor", NULL);
	kv_str(f, "version_codename", o->version_codename);
	kv_str(f, "variant_id", o->variant_id);
	if (o->ostree_version || o->rhel_version) {
		kv_str(f, "ostree_version", o->ostree_version);
		kv_str(f, "rhel_version", o->rhel_version);
	}
	kv_str(f, "family", dk_distro_family_name(o->family));
}

static void text_dtk(FILE *f, const struct dk_detect_dtk *t)
{
	fprintf(f, "driver_toolkit:\n");
	kv(f, "present", "%s", t->present ? "yes" : "no");
	if (t->reason)
		kv(f, "error", "%s", t->reason);
	if (t->present && !t->reason) {
		kv_str(f, "kernel_version", t->rel.kernel_version);
		kv_str(f, "rt_kernel_version", t->rel.rt_kernel_version);
		kv_str(f, "rhel_version", t->rel.rhel_version);
	}
	if (t->broken == DK_TRI_UNKNOWN)
		kv(f, "broken", "unknown (%s)",
		   t->broken_reason ? t->broken_reason : "-");
	else if (t->broken_reason)
		kv(f, "broken", "%s (%s)", dk_tri_name(t->broken), t->broken_reason);
	else
		kv(f, "broken", "%s", dk_tri_name(t->broken));
}

static void text_headers(FILE *f, const struct dk_detect_headers *h)
{
	fprintf(f, "headers:\n");
	kv_str(f, "selected", h->selected >= 0 ? h->dirs[h->selected].path : NULL);
	for (size_t i = 0; i < h->n; i++) {
		const struct dk_header_dir *hd = &h->dirs[i];

		if (!hd->exists) {
			kv(f, hd->kind, "%s: missing (%s)", hd->path, hd->reason);
			continue;
		}
		kv(f, hd->kind,
		   "%s -> %s: uts_release %s %s, .config %s, Module.symvers %s", hd->path,
		   hd->resolved, hd->uts_release ? hd->uts_release : "unknown",
		   hd->uts_matches == DK_TRI_YES  ? "matches"
		   : hd->uts_matches == DK_TRI_NO ? "MISMATCH"
						  : "unknown",
		   hd->has_config ? "yes" : "no", hd->has_symvers ? "yes" : "no");
		if (hd->config_gcc_version || hd->config_cc_version_text)
			kv(f, "config_cc", "%s (CONFIG_GCC_VERSION=%s)",
			   hd->config_cc_version_text ? hd->config_cc_version_text : "-",
			   hd->config_gcc_version ? hd->config_gcc_version : "-");
	}
}

/* A policy answer as a fact: unknown (0 in every policy enum) has no value. */
#define POLICY_FACT(field, str)                                                        \
	(&(struct dk_fact){.value = (field).value ? (char *)str((field).value) : NULL, \
			   .source = (field).source,                                   \
			   .reason = (field).why})

static void text_policy(FILE *f, const struct dk_kernel_policy *p)
{
	fprintf(f, "policy:\n");
	kv_fact(f, "sig_enforce", POLICY_FACT(p->sig_enforce, dk_sig_enforce_str));
	kv_fact(f, "lockdown", POLICY_FACT(p->lockdown, dk_lockdown_str));
	kv_fact(f, "secure_boot", POLICY_FACT(p->secure_boot, dk_secure_boot_str));
	kv_fact(f, "module_unload", POLICY_FACT(p->module_unload, dk_module_unload_str));
	kv_fact(f, "modversions", POLICY_FACT(p->modversions, dk_modversions_str));
}

static void text_devices(FILE *f, const struct dk_detect_devices *dv)
{
	fprintf(f, "devices:\n");
	if (dv->reason)
		kv(f, "pci", "unknown (%s)", dv->reason);
	else if (dv->n == 0)
		kv(f, "pci", "none");
	for (size_t i = 0; i < dv->n; i++) {
		const struct dk_pci_dev *p = &dv->v[i];
		char numa[16] = "unknown";

		if (p->numa_known)
			snprintf(numa, sizeof(numa), "%d", p->numa_node);
		kv(f, p->address, "%04x:%04x class %06x %s driver=%s numa_node=%s",
		   p->vendor, p->device, p->class_code, p->kind,
		   p->driver ? p->driver : "none", numa);
	}
}

static void text_modules(FILE *f, const struct dk_detect_modules *m,
			 const struct dk_detect_nvidia *nv)
{
	fprintf(f, "modules:\n");
	if (m->reason)
		kv(f, "loaded", "unknown (%s)", m->reason);
	else if (m->n == 0)
		kv(f, "loaded", "none of interest");
	for (size_t i = 0; i < m->n; i++) {
		const struct dk_loaded_module *l = &m->v[i];
		char holders[512] = "";
		size_t off = 0;

		for (char **h = l->holders; h && *h && off < sizeof(holders); h++)
			off += (size_t)snprintf(holders + off, sizeof(holders) - off,
						"%s%s", off ? "," : "", *h);
		kv(f, l->name, "size=%llu refcnt=%d holders=%s version=%s srcversion=%s",
		   l->size, l->refcnt, holders[0] ? holders : "-",
		   l->version ? l->version : "-", l->srcversion ? l->srcversion : "-");
	}
	fprintf(f, "nvidia:\n");
	if (nv->reason) {
		kv(f, "flavour", "unknown (%s)", nv->reason);
		return;
	}
	kv(f, "flavour", "%s", dk_nvidia_flavour_name(nv->ver.flavour));
	kv_str(f, "version", nv->ver.version);
	kv_str(f, "gcc", nv->ver.gcc);
}

void dk_detect_render_text(FILE *f, const struct dk_detect *d)
{
	text_kernel(f, &d->kernel);
	text_os(f, &d->os);
	text_dtk(f, &d->dtk);
	text_headers(f, &d->headers);
	text_policy(f, &d->policy);
	text_devices(f, &d->devices);
	text_modules(f, &d->modules, &d->nvidia);
}

/* --- JSON ------------------------------------------------------------------ */

static void j_fact(struct json_writer *w, const char *key, const struct dk_fact *f)
{
	json_key(w, key);
	json_begin_object(w);
	json_kv_string(w, "value", f->value);
	json_kv_string(w, "source", f->source);
	json_kv_string(w, "reason", f->reason);
	json_end_object(w);
}

static void j_tri(struct json_writer *w, const char *key, enum dk_tri t)
{
	json_key(w, key);
	if (t == DK_TRI_UNKNOWN)
		json_null(w);
	else
		json_bool(w, t == DK_TRI_YES);
}

static void j_int_or_null(struct json_writer *w, const char *key, bool known, int v)
{
	json_key(w, key);
	if (known)
		json_int(w, v);
	else
		json_null(w);
}

static void j_hex(struct json_writer *w, const char *key, unsigned v, int width)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "0x%0*x", width, v);
	json_kv_string(w, key, buf);
}

static void json_kernel(struct json_writer *w, const struct dk_detect_kernel *k)
{
	json_key(w, "kernel");
	json_begin_object(w);
	j_fact(w, "release", &k->release);
	j_fact(w, "arch", &k->arch);
	json_key(w, "built_with");
	json_begin_object(w);
	json_kv_string(w, "compiler", k->built_by.name);
	json_kv_string(w, "version", k->built_by.version);
	json_kv_string(w, "text", k->built_by.text);
	json_kv_string(w, "source", k->built_cc.source);
	json_kv_string(w, "reason", k->built_cc.reason);
	json_end_object(w);
	json_key(w, "gcc_available");
	json_begin_array(w);
	for (size_t i = 0; i < k->n_gcc; i++) {
		json_begin_object(w);
		json_kv_string(w, "path", k->gcc[i].path);
		json_kv_string(w, "version", k->gcc[i].version);
		json_kv_string(w, "reason", k->gcc[i].error);
		json_end_object(w);
	}
	json_end_array(w);
	json_kv_string(w, "gcc_matching", k->gcc_matching);
	json_end_object(w);
}

static void json_os(struct json_writer *w, const struct dk_detect_os *os)
{
	const struct dk_osrelease *o = &os->osr;

	json_key(w, "os");
	json_begin_object(w);
	json_kv_string(w, "source", os->source);
	json_kv_string(w, "reason", os->reason);
	json_kv_string(w, "id", o->id);
	json_kv_string(w, "id_like", o->id_like);
	json_kv_string(w, "name", o->name);
	json_kv_string(w, "pretty_name", o->pretty_name);
	json_kv_string(w, "version_id", o->version_id);
	j_int_or_null(w, "version_major", o->version_major >= 0, o->version_major);
	j_int_or_null(w, "version_minor", o->version_minor >= 0, o->version_minor);
	json_kv_string(w, "version_codename", o->version_codename);
	json_kv_string(w, "variant_id", o->variant_id);
	json_kv_string(w, "ostree_version", o->ostree_version);
	json_kv_string(w, "rhel_version", o->rhel_version);
	json_kv_string(w, "family", os->reason ? NULL : dk_distro_family_name(o->family));
	json_end_object(w);
}

static void json_dtk(struct json_writer *w, const struct dk_detect_dtk *t)
{
	json_key(w, "dtk");
	json_begin_object(w);
	json_kv_bool(w, "present", t->present);
	json_kv_string(w, "source", t->source);
	json_kv_string(w, "reason", t->reason);
	json_kv_string(w, "kernel_version", t->rel.kernel_version);
	json_kv_string(w, "rt_kernel_version", t->rel.rt_kernel_version);
	json_kv_string(w, "rhel_version", t->rel.rhel_version);
	j_tri(w, "broken", t->broken);
	json_kv_string(w, "broken_reason", t->broken_reason);
	json_end_object(w);
}

static void json_headers(struct json_writer *w, const struct dk_detect_headers *h)
{
	json_key(w, "headers");
	json_begin_object(w);
	json_kv_string(w, "selected",
		       h->selected >= 0 ? h->dirs[h->selected].path : NULL);
	json_key(w, "candidates");
	json_begin_array(w);
	for (size_t i = 0; i < h->n; i++) {
		const struct dk_header_dir *hd = &h->dirs[i];

		json_begin_object(w);
		json_kv_string(w, "kind", hd->kind);
		json_kv_string(w, "path", hd->path);
		json_kv_string(w, "resolved", hd->resolved);
		json_kv_bool(w, "exists", hd->exists);
		json_kv_string(w, "reason", hd->reason);
		json_kv_string(w, "uts_release", hd->uts_release);
		j_tri(w, "uts_release_matches", hd->uts_matches);
		json_kv_string(w, "uts_reason", hd->uts_reason);
		json_kv_bool(w, "config", hd->has_config);
		json_kv_bool(w, "module_symvers", hd->has_symvers);
		json_kv_string(w, "config_gcc_version", hd->config_gcc_version);
		json_kv_string(w, "config_cc_version_text", hd->config_cc_version_text);
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

static void json_policy(struct json_writer *w, const struct dk_kernel_policy *p)
{
	json_key(w, "policy");
	json_begin_object(w);
	j_fact(w, "sig_enforce", POLICY_FACT(p->sig_enforce, dk_sig_enforce_str));
	j_fact(w, "lockdown", POLICY_FACT(p->lockdown, dk_lockdown_str));
	j_fact(w, "secure_boot", POLICY_FACT(p->secure_boot, dk_secure_boot_str));
	j_fact(w, "module_unload", POLICY_FACT(p->module_unload, dk_module_unload_str));
	j_fact(w, "modversions", POLICY_FACT(p->modversions, dk_modversions_str));
	json_end_object(w);
}

static void json_devices(struct json_writer *w, const struct dk_detect_devices *dv)
{
	json_key(w, "devices");
	json_begin_object(w);
	json_kv_string(w, "source", dv->source);
	json_kv_string(w, "reason", dv->reason);
	json_key(w, "pci");
	json_begin_array(w);
	for (size_t i = 0; i < dv->n; i++) {
		const struct dk_pci_dev *p = &dv->v[i];

		json_begin_object(w);
		json_kv_string(w, "address", p->address);
		j_hex(w, "vendor", p->vendor, 4);
		j_hex(w, "device", p->device, 4);
		j_hex(w, "class", p->class_code, 6);
		json_kv_string(w, "kind", p->kind);
		json_kv_string(w, "driver", p->driver);
		j_int_or_null(w, "numa_node", p->numa_known, p->numa_node);
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

static void json_modules(struct json_writer *w, const struct dk_detect_modules *m)
{
	json_key(w, "modules");
	json_begin_object(w);
	json_kv_string(w, "source", m->source);
	json_kv_string(w, "reason", m->reason);
	json_key(w, "loaded");
	json_begin_array(w);
	for (size_t i = 0; i < m->n; i++) {
		const struct dk_loaded_module *l = &m->v[i];

		json_begin_object(w);
		json_kv_string(w, "name", l->name);
		json_kv_int(w, "size", (int64_t)l->size);
		j_int_or_null(w, "refcnt", l->refcnt >= 0, l->refcnt);
		json_kv_string(w, "state", l->state);
		json_kv_strv(w, "holders", l->holders, SIZE_MAX);
		json_kv_string(w, "version", l->version);
		json_kv_string(w, "srcversion", l->srcversion);
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

static void json_nvidia(struct json_writer *w, const struct dk_detect_nvidia *nv)
{
	json_key(w, "nvidia");
	json_begin_object(w);
	json_kv_string(w, "source", nv->source);
	json_kv_string(w, "reason", nv->reason);
	json_kv_string(w, "flavour",
		       nv->reason ? NULL : dk_nvidia_flavour_name(nv->ver.flavour));
	json_kv_string(w, "version", nv->ver.version);
	json_kv_string(w, "gcc", nv->ver.gcc);
	json_end_object(w);
}

void dk_detect_render_json(struct json_writer *w, const struct dk_detect *d)
{
	json_begin_object(w);
	json_kernel(w, &d->kernel);
	json_os(w, &d->os);
	json_dtk(w, &d->dtk);
	json_headers(w, &d->headers);
	json_policy(w, &d->policy);
	json_devices(w, &d->devices);
	json_modules(w, &d->modules);
	json_nvidia(w, &d->nvidia);
	json_end_object(w);
}
