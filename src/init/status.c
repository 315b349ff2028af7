/* SPDX-License-Identifier: Apache-2.0 */
/* `drvkit status`: a module of the state file against the kernel. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/yaml.h"
#include "init/init.h"

const char *dk_status_check_str(enum dk_status_check c)
{
	switch (c) {
	case DK_STATUS_LOADED:
		return "loaded";
	case DK_STATUS_MISSING:
		return "missing";
	case DK_STATUS_DIFFERENT:
		return "different";
	}
	return "?";
}

enum dk_status_check dk_status_check_module(const struct dk_modctx *m,
					    const struct dk_state_module *sm,
					    char **detail)
{
	struct dk_modstate st;
	enum dk_status_check res = DK_STATUS_LOADED;
	struct strbuf b;

	strbuf_init(&b);
	if (dk_module_state(m, sm->name, &st) < 0 || st.state == DK_LOADED_NO ||
	    st.state == DK_LOADED_BUILTIN) {
		res = DK_STATUS_MISSING;
		strbuf_puts(&b, sm->loading ? "not loaded (drvkit init stopped while "
					      "inserting it)"
					    : "not loaded");
	} else if (sm->srcversion && st.srcversion &&
		   !streq(sm->srcversion, st.srcversion)) {
		res = DK_STATUS_DIFFERENT;
		strbuf_printf(&b, "kernel has srcversion %s, drvkit loaded %s",
			      st.srcversion, sm->srcversion);
	} else if (!sm->srcversion && sm->version && st.version &&
		   !streq(sm->version, st.version)) {
		res = DK_STATUS_DIFFERENT;
		strbuf_printf(&b, "kernel has version %s, drvkit loaded %s", st.version,
			      sm->version);
	} else {
		strbuf_printf(&b, "%s, refcnt %ld", dk_loaded_str(st.state), st.refcnt);
		/* What is loaded, so a reader tells our build from another. */
		if (st.version)
			strbuf_printf(&b, ", version %s", st.version);
		if (st.srcversion)
			strbuf_printf(&b, ", srcversion %s", st.srcversion);
	}
	dk_modstate_release(&st);
	if (detail)
		*detail = strbuf_steal(&b);
	else
		strbuf_release(&b);
	return res;
}

static int dup_member(const struct dk_yaml_node *obj, const char *key, char **out)
{
	const char *v = dk_yaml_scalar(dk_yaml_get(obj, key));

	*out = v ? strdup(v) : NULL;
	return v && !*out ? -ENOMEM : 0;
}

static long num_member(const struct dk_yaml_node *obj, const char *key)
{
	const char *v = dk_yaml_scalar(dk_yaml_get(obj, key));

	return v ? strtol(v, NULL, 10) : 0;
}

int dk_status_daemons_read(const char *path, struct dk_status_daemons *out,
			   struct dk_error **err)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	const struct dk_yaml_node *list;
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = dk_read_file_err(path, DK_YAML_MAX_BYTES, &data, &len, err);
	if (r == -ENOENT) {
		dk_error_free(err);
		return 0;
	}
	if (r < 0)
		return r;
	r = dk_yaml_parse(path, data, len, DK_YAML_JSON, &doc, err);
	if (r < 0)
		return r;
	if (!doc->root || doc->root->kind != DK_YAML_MAPPING)
		return dk_error_set(err, EBADMSG, "%s: expected a JSON object", path);
	list = dk_yaml_get(doc->root, "daemons");
	if (dup_member(doc->root, "phase", &out->phase) < 0 ||
	    dup_member(doc->root, "waiting_for", &out->waiting_for) < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (!list || list->kind != DK_YAML_SEQUENCE || !list->n)
		return 0;
	out->d = calloc(list->n, sizeof(*out->d));
	if (!out->d)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < list->n; i++) {
		const struct dk_yaml_node *o = list->items[i];
		struct dk_daemon_report *d = &out->d[out->n++];
		const char *req = dk_yaml_scalar(dk_yaml_get(o, "required"));

		if (dup_member(o, "name", &d->name) < 0 ||
		    dup_member(o, "state", &d->state) < 0 ||
		    dup_member(o, "last_exit", &d->last_exit) < 0 ||
		    dup_member(o, "why", &d->why) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
		d->pid = num_member(o, "pid");
		d->restarts = num_member(o, "restarts");
		d->restart_in_ms = num_member(o, "restart_in_ms");
		d->since = num_member(o, "since");
		d->required = !req || !streq(req, "false");
	}
	return 0;
}

void dk_status_daemons_release(struct dk_status_daemons *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->d[i].name);
		free(s->d[i].state);
		free(s->d[i].last_exit);
		free(s->d[i].why);
	}
	free(s->d);
	free(s->phase);
	free(s->waiting_for);
	memset(s, 0, sizeof(*s));
}
