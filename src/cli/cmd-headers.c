/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"

#include "host/headers.h"
#include "get/headers-fetch.h"
#include "cli/cli.h"

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
	       "  -p, --package PKG    a package: a file, a file:// URL, or an http(s)\n"
	       "                       URL with its digest as URL#sha256=HEX (a digest\n"
	       "                       on a file is checked too); repeatable. URLs are\n"
	       "                       downloaded all at once and verified\n"
	       "      --cache-dir DIR  keep verified downloads by digest; reuse them\n"
	       "      --ca-bundle FILE trust these CA certificates (PEM) for https\n"
	       "      --json           JSON output\n"
	       "\n"
	       "Exit codes: 0 usable tree found, 1 failure, 2 usage, 3 the packages "
	       "give\n"
	       "no usable tree (or a checksum mismatch), 4 no usable installed tree (or\n"
	       "a package not found), 5 permission denied.\n");
}

/* Splits "REF#sha256=HEX" in place; *sha256 is NULL without a digest. */
static int split_package(char *ref, const char **sha256)
{
	char *hash = strstr(ref, "#sha256=");
	char hex[DK_SHA256_HEX_LEN + 1];

	*sha256 = NULL;
	if (!hash)
		return 0;
	*hash = '\0';
	*sha256 = hash + strlen("#sha256=");
	return dk_sha256_parse_hex(*sha256, hex) < 0 ? -EINVAL : 0;
}

/* A local package with a digest is checked here; the others are in fetch. */
static int check_local(const char *path, const char *sha256, struct dk_error **err)
{
	char want[DK_SHA256_HEX_LEN + 1], got[DK_SHA256_HEX_LEN + 1];
	int r;

	if (startswith(path, "file://"))
		path += strlen("file://");
	if (dk_sha256_parse_hex(sha256, want) < 0)
		return dk_error_set(err, EINVAL, "bad sha256 '%s'", sha256);
	r = dk_sha256_file(path, got);
	if (r < 0)
		return dk_error_set(err, -r, "%s: %s", path, strerror(-r));
	if (!streq(want, got))
		return dk_error_set(err, EBADMSG,
				    "%s: checksum mismatch: expected sha256 %s, got %s",
				    path, want, got);
	return 0;
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

static void render_json(struct json_writer *w, const struct dk_headers_info *h)
{
	json_begin_object(w);
	json_kv_string(w, "kernel", h->kver);
	json_kv_string(w, "root", h->root);
	json_kv_bool(w, "materialised", h->materialised);
	json_kv_string(w, "build", h->build_dir);
	json_key(w, "candidates");
	json_begin_array(w);
	for (size_t i = 0; i < h->n_cands; i++) {
		json_begin_object(w);
		json_kv_string(w, "where", h->cands[i].where);
		json_kv_string(w, "path", h->cands[i].path);
		json_kv_bool(w, "usable", h->cands[i].usable);
		json_kv_string(w, "reason", h->cands[i].reason);
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "compiler");
	json_begin_object(w);
	json_kv_string(w, "cc_version_text", h->cc_version_text);
	json_kv_int(w, "gcc_version", h->gcc_version);
	json_kv_string(w, "gcc_path", h->gcc_path);
	json_kv_string(w, "gcc_found", h->gcc_found);
	json_kv_bool(w, "gcc_same_major", h->gcc_same_major);
	json_kv_bool(w, "gcc_exact", h->gcc_exact);
	json_end_object(w);
	json_end_object(w);
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	_cleanup_headers_info_ struct dk_headers_info *info = NULL;
	_cleanup_headers_fetcher_ struct dk_headers_fetcher *fetcher = NULL;
	const char *packages[MAX_PACKAGES], *urls[MAX_PACKAGES], *shas[MAX_PACKAGES];
	struct dk_cli_list package = {packages, 0, MAX_PACKAGES, "too many --package"};
	struct dk_fetch_opts fo = {0};
	size_t n_urls = 0;
	const char *kver, *outdir = NULL;
	size_t n_packages;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING('o', "output", &outdir),
		DK_CLI_OPT_LIST('p', "package", &package),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {"headers",
					   DK_CLI_KERNEL | DK_CLI_HOST_ROOT |
						   DK_CLI_JSON | DK_CLI_CACHE |
						   DK_CLI_SHORT,
					   help,
					   ctx,
					   .no_operands = true,
					   .fetch = &fo};
	struct json_writer *w;
	struct utsname u;
	int r;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	kver = ctx->kernel;
	n_packages = package.n;
	if (!!outdir != (n_packages > 0))
		return dk_usage_error("headers", "-o DIR and --package go together");
	if (!kver) {
		if (uname(&u) < 0)
			return dk_error_set(err, errno, "uname: %s", strerror(errno));
		kver = u.release;
	}

	for (size_t i = 0; i < n_packages; i++) {
		char *ref = (char *)packages[i]; /* argv: writable */
		const char *sha256;
		bool remote;

		if (split_package(ref, &sha256) < 0)
			return dk_usage_error("headers",
					      "%s: bad #sha256= (64 hex digits)", ref);
		remote = strstr(ref, "://") && !startswith(ref, "file://");
		if (remote && !sha256)
			return dk_usage_error("headers",
					      "%s: a URL needs its digest: "
					      "--package URL#sha256=HEX",
					      ref);
		if (remote) {
			urls[n_urls] = ref;
			shas[n_urls++] = sha256;
		} else if (sha256) {
			r = check_local(ref, sha256, err);
			if (r < 0)
				return r;
		}
	}
	if (n_urls > 0) {
		r = dk_headers_fetcher_new(&fo, urls, shas, n_urls, &fetcher, err);
		if (r < 0)
			return r;
	}
	if (outdir)
		r = dk_headers_materialise(kver, packages, n_packages, outdir,
					   fetcher ? dk_headers_fetcher_fetch : NULL,
					   fetcher, &info, err);
	else
		r = dk_headers_find(ctx->host_root, kver, &info, err);
	if (info) { /* also when the tree is not usable: the candidates say why */
		int rr;

		w = dk_output_begin(&cli.out);
		if (w)
			render_json(w, info);
		else
			render_text(info);
		rr = dk_output_end(&cli.out, r < 0 ? NULL : err);
		if (r >= 0)
			r = rr;
	}
	if (r < 0)
		return r;
	if (!info->build_dir) {
		_cleanup_free_ char *why = dk_headers_explain(info);

		return dk_error_set(err, ENOENT,
				    "no usable kernel headers for %s below %s: %s", kver,
				    info->root, why ? why : "out of memory");
	}
	return DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_headers = {"headers",
				      "find or unpack kernel headers for a kernel", run};
