/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"

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
	struct dk_modfile **mods = NULL;
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
		r = dk_modfile_open(argv[optind + i], &mods[i], err);
	json_init(&w, true);
	if (json && n > 1)
		json_begin_array(&w);
	for (int i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *filename = abs_path(dk_modfile_path(mods[i]));

		if (!filename)
			r = dk_error_set(err, ENOMEM, "out of memory");
		else
			r = dk_modinfo_render(stdout, json ? &w : NULL, mods[i], filename,
					      field, err);
	}
	if (json && n > 1)
		json_end_array(&w);
	if (r >= 0 && json)
		printf("%s\n", json_str(&w));
	json_release(&w);
	for (int i = 0; i < n; i++)
		dk_modfile_free(mods[i]);
	free(mods);
	return r < 0 ? r : DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_modinfo = {"modinfo", "show a module's modinfo and signature",
				      run};
