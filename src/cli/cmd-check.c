/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"

#include "kmod/check.h"
#include "kmod/modfile.h"

#include "cli/cli.h"

static void help(void)
{
	printf("Usage: drvkit check (--kernel KVER | --headers DIR) [--json] "
	       "[--host-root DIR]\n"
	       "                    FILE.ko...\n"
	       "\n"
	       "Will these modules load into that kernel? Compares each module's "
	       "vermagic\n"
	       "and __versions CRCs with the kernel headers (Module.symvers, .config) "
	       "and\n"
	       "looks for undefined symbols nobody exports. Modules given together "
	       "count\n"
	       "as providers of their exports for each other.\n"
	       "\n"
	       "  -k, --kernel KVER     find headers for KVER under the host root:\n"
	       "                        lib/modules/KVER/build, "
	       "usr/src/linux-headers-KVER,\n"
	       "                        usr/src/kernels/KVER, "
	       "usr/src/linux-VER-obj/ARCH/FLAVOUR\n"
	       "                        (SUSE): the first whose utsrelease.h says KVER "
	       "and\n"
	       "                        that has .config and Module.symvers\n"
	       "      --headers DIR     use this kernel headers tree\n"
	       "      --host-root DIR   the host's / (default /)\n"
	       "      --json            JSON output\n"
	       "  -h, --help            this help\n"
	       "\n"
	       "Exit codes: 0 every module fits, 1 some module does not, 2 usage,\n"
	       "3 bad module or headers file, 4 headers or module not found.\n");
}

static void print_json(struct json_writer *w, const struct dk_kernel *k,
		       const struct dk_check_result *res, size_t n, bool all_fit)
{
	json_begin_object(w);
	json_key(w, "kernel");
	json_begin_object(w);
	json_kv_string(w, "release", k->release);
	json_kv_string(w, "headers", k->headers);
	json_kv_string(w, "vermagic", k->vermagic);
	json_kv_bool(w, "modversions", k->modversions);
	json_kv_int(w, "exports", (int64_t)dk_symvers_count(k->symvers));
	json_end_object(w);
	json_kv_bool(w, "fits", all_fit);
	json_key(w, "modules");
	json_begin_array(w);
	for (size_t i = 0; i < n; i++) {
		json_begin_object(w);
		json_kv_string(w, "filename", dk_modfile_path(res[i].mod));
		json_kv_string(w, "name", dk_modfile_name(res[i].mod));
		json_kv_string(w, "vermagic",
			       dk_modfile_modinfo_get(res[i].mod, "vermagic"));
		json_kv_bool(w, "fits", res[i].fits);
		for (int fatal = 1; fatal >= 0; fatal--) {
			json_key(w, fatal ? "problems" : "notes");
			json_begin_array(w);
			for (size_t j = 0; j < res[i].n_issues; j++) {
				const struct dk_check_issue *is = &res[i].issues[j];
				char crc[32];

				if (is->fatal != (fatal == 1))
					continue;
				json_begin_object(w);
				json_kv_string(w, "kind", dk_issue_kind_name(is->kind));
				if (is->symbol)
					json_kv_string(w, "symbol", is->symbol);
				if (is->kind == DK_ISSUE_CRC) {
					snprintf(crc, sizeof(crc), "0x%08llx",
						 (unsigned long long)is->module_crc);
					json_kv_string(w, "module_crc", crc);
					snprintf(crc, sizeof(crc), "0x%08x",
						 is->kernel_crc);
					json_kv_string(w, "kernel_crc", crc);
					json_kv_string(w, "provider", is->provider);
				}
				json_kv_string(w, "message", is->message);
				json_end_object(w);
			}
			json_end_array(w);
		}
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

static void print_text(const struct dk_kernel *k, const struct dk_check_result *res,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *path = dk_modfile_path(res[i].mod);
		size_t bad = 0;

		for (size_t j = 0; j < res[i].n_issues; j++) {
			printf("%s: %s\n", path, res[i].issues[j].message);
			bad += res[i].issues[j].fatal;
		}
		if (res[i].fits)
			printf("%s: fits %s\n", path, k->release);
		else
			printf("%s: does not fit %s (%zu problem%s)\n", path, k->release,
			       bad, bad == 1 ? "" : "s");
	}
}

static int check(struct dk_ctx *ctx, const char *kver, const char *headers,
		 struct dk_output *out, char **files, size_t n, struct dk_error **err)
{
	_cleanup_kernel_ struct dk_kernel *k = NULL;
	_cleanup_free_ char *found = NULL;
	_cleanup_free_ struct dk_modfile **mods = NULL;
	struct dk_check_result *res = NULL;
	bool all_fit = true;
	int r = 0;

	if (kver) {
		r = dk_kernel_find_headers(ctx->host_root, kver, &found, err);
		if (r < 0)
			return r;
		headers = found;
	}
	r = dk_kernel_open(headers, &k, err);
	if (r < 0)
		return r;
	mods = calloc(n, sizeof(*mods));
	if (!mods)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n && r >= 0; i++)
		r = dk_modfile_open(files[i], &mods[i], err);
	if (r >= 0)
		r = dk_check_modules(k, mods, n, &res, err);
	if (r >= 0) {
		for (size_t i = 0; i < n; i++)
			all_fit = all_fit && res[i].fits;
		struct json_writer *w = dk_output_begin(out);

		if (w)
			print_json(w, k, res, n, all_fit);
		else
			print_text(k, res, n);
		r = dk_output_end(out, err);
		if (r >= 0)
			r = all_fit ? DK_EXIT_OK : DK_EXIT_FAILURE;
	}
	dk_check_results_free(res, n);
	for (size_t i = 0; i < n; i++)
		dk_modfile_free(mods[i]);
	return r;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	const char *headers = NULL;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING(0, "headers", &headers),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {
		"check", DK_CLI_KERNEL | DK_CLI_HOST_ROOT | DK_CLI_JSON | DK_CLI_SHORT,
		help, ctx, .bad_option = "bad option"};

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	if (!ctx->kernel == !headers)
		return dk_usage_error("check", "give exactly one of --kernel KVER and "
					       "--headers DIR");
	if (optind >= argc)
		return dk_usage_error("check", "no module file given");
	return check(ctx, ctx->kernel, headers, &cli.out, argv + optind,
		     (size_t)(argc - optind), err);
}

const struct dk_cmd dk_cmd_check = {"check", "will these modules load into that kernel?",
				    run};
