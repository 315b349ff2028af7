/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "shared/json-writer.h"

#include "cli.h"
#include "core/headers.h"

#define MAX_PACKAGES 32

static void help(void)
{
	printf("Usage: drvkit headers [--kernel KVER] [--host-root DIR] [--json]\n"
	       "       drvkit headers [--kernel KVER] -o DIR --package PKG... [--json]\n"
	       "\n"
	       "Find the installed build tree (kernel headers) for KVER, or unpack it\n"
	       "from distro packages (.deb: linux-headers-KVER, "
	       "linux-headers-BASE-common,\n"
	       "linux-kbuild-X.Y; .rpm: kernel-devel) into DIR without dpkg or rpm.\n"
	       "The last line, 'build: PATH', is the directory to pass to kbuild as -C.\n"
	       "\n"
	       "  -k, --kernel KVER    kernel release (default: uname -r)\n"
	       "      --host-root DIR  look below DIR instead of / (default: /)\n"
	       "  -o, --output DIR     unpack --package files into DIR\n"
	       "  -p, --package PKG    a package file or file:// URL (repeatable)\n"
	       "      --json           JSON output\n"
	       "\n"
	       "Exit codes: 0 usable tree found, 2 usage, 3 the packages give no usable\n"
	       "tree, 4 no usable installed tree.\n");
}

static void render_text(const struct dk_headers_info *h)
{
	printf("kernel: %s\n", h->kver);
	for (size_t i = 0; i < h->n_cands; i++) {
		const struct dk_headers_candidate *c = &h->cands[i];

		printf("candidate: %s: %s%s%s\n", c->path,
		       c->usable ? "usable" : "rejected", c->usable ? "" : ": ",
		       c->usable ? "" : c->reason);
	}
	if (h->cc_version_text || h->gcc_version)
		printf("compiler: %s (CONFIG_GCC_VERSION=%ld)\n",
		       h->cc_version_text ? h->cc_version_text : "?", h->gcc_version);
	if (h->gcc_version > 0) {
		if (h->gcc_found)
			printf("gcc: %s %s (%s)\n", h->gcc_path, h->gcc_found,
			       h->gcc_exact	   ? "same version"
			       : h->gcc_same_major ? "same major version"
						   : "different major version");
		else
			printf("gcc: not found (need gcc-%ld)\n", h->gcc_version / 10000);
	}
	if (h->build_dir)
		printf("build: %s\n", h->build_dir);
}

static void render_json(const struct dk_headers_info *h)
{
	struct json_writer w;

	json_init(&w, true);
	json_begin_object(&w);
	json_kv_string(&w, "kernel", h->kver);
	json_kv_string(&w, "root", h->root);
	json_kv_bool(&w, "materialised", h->materialised);
	json_kv_string(&w, "build", h->build_dir);
	json_key(&w, "candidates");
	json_begin_array(&w);
	for (size_t i = 0; i < h->n_cands; i++) {
		json_begin_object(&w);
		json_kv_string(&w, "where", h->cands[i].where);
		json_kv_string(&w, "path", h->cands[i].path);
		json_kv_bool(&w, "usable", h->cands[i].usable);
		json_kv_string(&w, "reason", h->cands[i].reason);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_key(&w, "compiler");
	json_begin_object(&w);
	json_kv_string(&w, "cc_version_text", h->cc_version_text);
	json_kv_int(&w, "gcc_version", h->gcc_version);
	json_kv_string(&w, "gcc_path", h->gcc_path);
	json_kv_string(&w, "gcc_found", h->gcc_found);
	json_kv_bool(&w, "gcc_same_major", h->gcc_same_major);
	json_kv_bool(&w, "gcc_exact", h->gcc_exact);
	json_end_object(&w);
	json_end_object(&w);
	printf("%s\n", json_str(&w));
	json_release(&w);
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	enum { OPT_ROOT = 256, OPT_JSON };
	static const struct option opts[] = {
		{"kernel", required_argument, NULL, 'k'},
		{"host-root", required_argument, NULL, OPT_ROOT},
		{"output", required_argument, NULL, 'o'},
		{"package", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	_cleanup_headers_info_ struct dk_headers_info *info = NULL;
	const char *packages[MAX_PACKAGES];
	const char *kver = ctx->kernel, *outdir = NULL;
	size_t n_packages = 0;
	struct utsname u;
	int c, r;

	while ((c = getopt_long(argc, argv, "k:o:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kver = optarg;
			break;
		case OPT_ROOT:
			ctx->host_root = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		case 'p':
			if (n_packages >= MAX_PACKAGES)
				return dk_usage_error("headers", "too many --package");
			packages[n_packages++] = optarg;
			break;
		case OPT_JSON:
			ctx->json = true;
			break;
		case 'h':
			help();
			return DK_EXIT_OK;
		default:
			return dk_usage_error("headers", "unknown option");
		}
	}
	if (optind != argc)
		return dk_usage_error("headers", "unexpected argument '%s'",
				      argv[optind]);
	if (!!outdir != (n_packages > 0))
		return dk_usage_error("headers", "-o DIR and --package go together");
	if (!kver) {
		if (uname(&u) < 0)
			return dk_error_set(err, errno, "uname: %s", strerror(errno));
		kver = u.release;
	}

	if (outdir)
		/* No downloader yet: pass dk_fetch here once src/core/fetch.h lands. */
		r = dk_headers_materialise(kver, packages, n_packages, outdir, NULL, NULL,
					   &info, err);
	else
		r = dk_headers_find(ctx->host_root, kver, &info, err);
	if (info) {
		if (ctx->json)
			render_json(info);
		else
			render_text(info);
	}
	if (r < 0)
		return r;
	if (!info->build_dir)
		return dk_error_set(err, ENOENT,
				    "no usable kernel headers for %s below %s", kver,
				    info->root);
	return DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_headers = {"headers",
				      "find or unpack kernel headers for a kernel", run};
