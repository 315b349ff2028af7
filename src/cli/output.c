/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>

#include "cli/output.h"

struct json_writer *dk_output_begin(struct dk_output *o)
{
	if (!o->json)
		return NULL;
	dk_output_release(o);
	json_init(&o->w, true);
	o->begun = true;
	return &o->w;
}

int dk_output_end(struct dk_output *o, struct dk_error **err)
{
	int r = 0;

	if (!o->begun)
		return 0;
	if (o->w.out.oom)
		r = dk_error_set(err, ENOMEM, "render JSON: out of memory");
	else
		printf("%s\n", json_str(&o->w));
	dk_output_release(o);
	return r;
}

void dk_output_release(struct dk_output *o)
{
	if (o->begun)
		json_release(&o->w);
	o->begun = false;
}
