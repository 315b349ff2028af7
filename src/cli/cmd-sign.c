/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "shared/cleanup.h"

#include "kmod/sign.h"

#include "cli/cli.h"

static void help(void)
{
	printf("Usage: drvkit sign --key KEY --cert CERT [OPTIONS] FILE.ko...\n"
	       "\n"
	       "Append a kernel module signature, as the kernel's scripts/sign-file "
	       "does\n"
	       "(byte-identical output for RSA keys). Files are signed in place.\n"
	       "\n"
	       "  --key KEY              PEM private key (RSA or EC), optionally "
	       "encrypted\n"
	       "  --cert CERT            X.509 certificate, PEM or DER\n"
	       "  --hash ALGO            sha256 (default), sha384 or sha512\n"
	       "  --passphrase-file F    read the key passphrase from the first line of "
	       "F\n"
	       "  --passphrase-env VAR   read the key passphrase from variable VAR\n"
	       "  -j, --jobs N           sign N files at a time (default: online cores)\n"
	       "  --resign               replace an existing signature instead of "
	       "refusing\n"
	       "  -o, --output OUT       write the signed module to OUT (one input "
	       "only)\n"
	       "  -h, --help             this help\n");
}

/* --hash ALGO: one the kernel verifies */
static int parse_hash(struct dk_cli *cli, const struct dk_cli_opt *opt, const char *arg)
{
	if (!dk_sign_hash_parse(arg))
		return dk_usage_error("sign",
				      "unknown hash '%s' (sha256, sha384, sha512)", arg);
	*(const char **)opt->value = arg;
	return 0;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	struct dk_signer_opts so = {0};
	_cleanup_signer_ struct dk_signer *signer = NULL;
	_cleanup_free_ struct dk_sign_result *results = NULL;
	const char *output = NULL;
	unsigned flags = 0;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING(0, "key", &so.key_path),
		DK_CLI_OPT_STRING(0, "cert", &so.cert_path),
		DK_CLI_OPT_CALL(0, "hash", parse_hash, &so.hash),
		DK_CLI_OPT_STRING(0, "passphrase-file", &so.passphrase_file),
		DK_CLI_OPT_STRING(0, "passphrase-env", &so.passphrase_env),
		DK_CLI_OPT_BITS("resign", &flags, DK_SIGN_RESIGN),
		DK_CLI_OPT_STRING('o', "output", &output),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {"sign", DK_CLI_JOBS | DK_CLI_SHORT, help, ctx};
	int r, code = -1;
	size_t n, failed;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	n = (size_t)(argc - optind);
	if (!so.key_path || !so.cert_path)
		return dk_usage_error("sign", "--key and --cert are required");
	if (so.passphrase_file && so.passphrase_env)
		return dk_usage_error("sign",
				      "give --passphrase-file or --passphrase-env, "
				      "not both");
	if (n == 0)
		return dk_usage_error("sign", "no module given");
	if (output && n > 1)
		return dk_usage_error("sign", "-o takes a single input module");

	r = dk_signer_new(&so, &signer, err);
	if (r < 0)
		return r;
	if (n == 1) {
		r = dk_sign_file(signer, argv[optind], output, flags, err);
		if (r < 0)
			return r;
		dk_info("signed %s (%s)", output ? output : argv[optind], signer->hash);
		return DK_EXIT_OK;
	}
	results = calloc(n, sizeof(*results));
	if (!results)
		return dk_error_set(err, ENOMEM, "out of memory");
	failed = dk_sign_files(ctx, signer, (const char *const *)argv + optind, n, flags,
			       ctx->jobs, results);
	for (size_t i = 0; i < n; i++) {
		struct dk_sign_result *res = &results[i];

		if (res->r >= 0) {
			dk_info("signed %s (%s)", res->path, signer->hash);
			continue;
		}
		dk_log(DK_LOG_ERROR, 0, "%s", res->err ? res->err->msg : res->path);
		/* Exit with the common cause's code when all failures agree. */
		if (code < 0)
			code = dk_exit_code_for(-res->r);
		else if (code != dk_exit_code_for(-res->r))
			code = DK_EXIT_FAILURE;
		dk_error_free(&res->err);
	}
	if (failed)
		dk_log(DK_LOG_ERROR, 0, "%zu of %zu modules not signed", failed, n);
	return failed ? code : DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_sign = {"sign", "sign kernel modules (like sign-file)", run};
