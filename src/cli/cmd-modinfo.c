/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"

#include "base/fsutil.h"
#include "kmod/modfile.h"

#include "cli/cli.h"
#include "cli/modinfo-render.h"

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

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	const char *field = NULL;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING('F', "field", &field),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {"modinfo",
					   DK_CLI_JSON,
					   help,
					   ctx,
					   .need_operand = "no module file given",
					   .bad_option = "bad option"};
	struct dk_modfile **mods = NULL;
	struct json_writer *w;
	int n, r = 0;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	n = argc - optind;
	if (cli.out.json && field)
		return dk_usage_error("modinfo", "-F and --json cannot be combined");
	/* open everything first: a bad file fails the command before any output */
	mods = calloc((size_t)n, sizeof(*mods));
	if (!mods)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (int i = 0; i < n && r >= 0; i++)
		r = dk_modfile_open(argv[optind + i], &mods[i], err);
	w = dk_output_begin(&cli.out);
	if (w && n > 1)
		json_begin_array(w);
	for (int i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *filename =
			dk_path_absolute(dk_modfile_path(mods[i]));

		if (!filename)
			r = dk_error_set(err, ENOMEM, "out of memory");
		else
			r = dk_modinfo_render(stdout, w, mods[i], filename, field, err);
	}
	if (w && n > 1)
		json_end_array(w);
	if (r >= 0)
		r = dk_output_end(&cli.out, err);
	for (int i = 0; i < n; i++)
		dk_modfile_free(mods[i]);
	free(mods);
	return r < 0 ? r : DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_modinfo = {"modinfo", "show a module's modinfo and signature",
				      run};
