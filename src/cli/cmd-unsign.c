/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <stdio.h>

#include "kmod/sign.h"

#include "cli/cli.h"

static void help(void)
{
	printf("Usage: drvkit unsign [-o OUT] FILE.ko...\n"
	       "\n"
	       "Remove an appended module signature; the result is the module as it was\n"
	       "before signing. Unsigned files are left as they are.\n"
	       "\n"
	       "  -o, --output OUT   write the result to OUT (one input only)\n"
	       "  -h, --help         this help\n");
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	const char *output = NULL;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING('o', "output", &output),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {"unsign", 0, help, ctx,
					   .need_operand = "no module given"};
	int code = DK_EXIT_OK;
	size_t n;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	n = (size_t)(argc - optind);
	if (output && n > 1)
		return dk_usage_error("unsign", "-o takes a single input module");
	for (int i = optind; i < argc; i++) {
		bool was_signed = false;
		int r = dk_unsign_file(argv[i], output, &was_signed, err);

		if (r < 0 && n == 1)
			return r;
		if (r < 0) {
			dk_log(DK_LOG_ERROR, 0, "%s", (*err)->msg);
			dk_error_free(err);
			code = code == DK_EXIT_OK ? dk_exit_code_for(-r)
						  : DK_EXIT_FAILURE;
			continue;
		}
		if (was_signed)
			dk_info("removed the signature of %s", argv[i]);
		else
			printf("%s: not signed, left unchanged\n", argv[i]);
	}
	return code;
}

const struct dk_cmd dk_cmd_unsign = {"unsign", "remove a module signature", run};
