/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <stdio.h>

#include "shared/json-writer.h"

#include "kmod/sign.h"

#include "cli/cli.h"

static void help(void)
{
	printf("Usage: drvkit verify --cert CERT [--json] FILE.ko...\n"
	       "\n"
	       "Check each module's appended signature against CERT (PEM or DER), as "
	       "the\n"
	       "kernel would. Exit 0 only if every module verifies.\n"
	       "\n"
	       "  --cert CERT   the certificate the modules should be signed with\n"
	       "  --json        one JSON array of results on stdout\n"
	       "  -h, --help    this help\n");
}

static void print_text(const char *path, const struct dk_verify_result *res)
{
	switch (res->verdict) {
	case DK_VERIFY_OK:
		printf("%s: OK (signer %s, %s)\n", path,
		       res->signer ? res->signer : "(key id)",
		       res->hash ? res->hash : "?");
		break;
	case DK_VERIFY_UNSIGNED:
		printf("%s: unsigned\n", path);
		break;
	case DK_VERIFY_OTHER_KEY:
		printf("%s: signed by another key (signer \"%s\", serial %s; "
		       "certificate is \"%s\", serial %s)\n",
		       path, res->signer ? res->signer : "",
		       res->signer_serial ? res->signer_serial : "?", res->cert_name,
		       res->cert_serial);
		break;
	case DK_VERIFY_MISMATCH:
		printf("%s: signature does not match the module contents (corrupted or "
		       "modified after signing)\n",
		       path);
		break;
	case DK_VERIFY_MALFORMED:
		printf("%s: malformed signature trailer: %s\n", path,
		       res->detail ? res->detail : "?");
		break;
	}
}

static void add_json(struct json_writer *w, const char *path,
		     const struct dk_verify_result *res)
{
	json_begin_object(w);
	json_kv_string(w, "file", path);
	json_kv_string(w, "verdict", dk_verify_verdict_name(res->verdict));
	json_kv_bool(w, "ok", res->verdict == DK_VERIFY_OK);
	json_kv_string(w, "signer", res->signer);
	json_kv_string(w, "signer_serial", res->signer_serial);
	json_kv_string(w, "hash", res->hash);
	json_kv_string(w, "cert", res->cert_name);
	json_kv_string(w, "cert_serial", res->cert_serial);
	json_kv_string(w, "detail", res->detail);
	json_end_object(w);
}

/* A module that could not be checked at all (missing, unreadable): not a verdict. */
static void add_json_error(struct json_writer *w, const char *path, const char *msg)
{
	json_begin_object(w);
	json_kv_string(w, "file", path);
	json_kv_string(w, "verdict", "error");
	json_kv_bool(w, "ok", false);
	json_kv_string(w, "detail", msg);
	json_end_object(w);
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	_cleanup_(dk_X509_freep) X509 *cert = NULL;
	const char *cert_path = NULL;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING(0, "cert", &cert_path),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {"verify", DK_CLI_JSON, help, ctx};
	struct json_writer *w;
	int r, code = DK_EXIT_OK;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	if (!cert_path)
		return dk_usage_error("verify", "--cert is required");
	if (optind >= argc)
		return dk_usage_error("verify", "no module given");
	r = dk_cert_load(cert_path, &cert, err);
	if (r < 0)
		return r;

	w = dk_output_begin(&cli.out);
	if (w)
		json_begin_array(w);
	for (int i = optind; i < argc; i++) {
		struct dk_verify_result res;

		r = dk_verify_file(cert, argv[i], &res, err);
		if (r < 0) {
			dk_log(DK_LOG_ERROR, 0, "%s", (*err)->msg);
			if (w)
				add_json_error(w, argv[i], (*err)->msg);
			dk_error_free(err);
			if (code == DK_EXIT_OK || code == DK_EXIT_FAILURE)
				code = dk_exit_code_for(-r);
			dk_verify_result_clear(&res);
			continue;
		}
		if (w)
			add_json(w, argv[i], &res);
		else
			print_text(argv[i], &res);
		if (res.verdict != DK_VERIFY_OK && code == DK_EXIT_OK)
			code = DK_EXIT_FAILURE;
		dk_verify_result_clear(&res);
	}
	if (w)
		json_end_array(w);
	r = dk_output_end(&cli.out, err);
	fflush(stdout);
	return r < 0 ? r : code;
}

const struct dk_cmd dk_cmd_verify = {
	"verify", "check module signatures against a certificate", run};
