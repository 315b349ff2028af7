/* SPDX-License-Identifier: Apache-2.0 */
/* `drvkit status`: a module of the state file against the kernel. */
#include <stdlib.h>
#include <string.h>

#include "shared/strbuf.h"

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
