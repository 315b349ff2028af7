/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "fleet/daemonsets.h"
#include "fleet/jobs.h"
#include "fleet/matrix.h"

#include "cli/cli.h"

static void help(void)
{
	printf("Usage: drvkit daemonsets --matrix DIR --registry R [--namespace N]\n"
	       "                         [--config F] [--signing-secret NAME] [-o FILE]\n"
	       "\n"
	       "Kubernetes YAML that runs the matrix's images: a ConfigMap per driver "
	       "(its\n"
	       "drvkit config), then per OS version, driver branch and arch a DaemonSet "
	       "on\n"
	       "the build image, and one per listed kernel on its precompiled image. "
	       "Node\n"
	       "Feature Discovery labels select the nodes (os-release ID and "
	       "VERSION_ID,\n"
	       "rhcos OSTREE_VERSION, kubernetes.io/arch, kernel-version.full); a build\n"
	       "DaemonSet leaves out the kernels a precompiled one serves.\n"
	       "\n"
	       "  --matrix DIR          the kernel matrix\n"
	       "  --registry R          image prefix (R/IMAGE:TAG)\n"
	       "  --namespace N         namespace of every object "
	       "(default " DK_DS_DEFAULT_NAMESPACE ")\n"
	       "  --config F            the drvkit config of every driver (default: "
	       "each\n"
	       "                        driver's config: in the matrix)\n"
	       "  --signing-secret NAME the Secret with the signing key (tls.key, "
	       "tls.crt,\n"
	       "                        passphrase) for configs with signing: (default\n"
	       "                        " DK_DS_DEFAULT_SIGNING_SECRET ")\n"
	       "  -o, --output FILE     write there (atomically) instead of stdout\n"
	       "  -h, --help            this help\n"
	       "\n"
	       "Exit codes: 0 ok, 2 usage, 3 a bad matrix or config, 4 a missing "
	       "file.\n");
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	const char *matrix = NULL, *output = NULL;
	struct dk_ds_opts o = {0};
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING(0, "matrix", &matrix),
		DK_CLI_OPT_STRING(0, "registry", &o.registry),
		DK_CLI_OPT_STRING(0, "namespace", &o.namespace),
		DK_CLI_OPT_STRING(0, "config", &o.config),
		DK_CLI_OPT_STRING(0, "signing-secret", &o.signing_secret),
		DK_CLI_OPT_STRING('o', "output", &output),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {"daemonsets", 0, help, ctx,
					   .no_operands = true};
	_cleanup_matrix_ struct dk_matrix *m = NULL;
	_cleanup_free_ char *ns = NULL, *secret = NULL;
	_cleanup_strbuf_ struct strbuf b;
	int r;

	strbuf_init(&b);
	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	if (!matrix || !o.registry)
		return dk_usage_error("daemonsets",
				      "--matrix DIR and --registry R are needed");
	if (!matrix[0] || (o.config && !o.config[0]) || (output && !output[0]))
		return dk_usage_error("daemonsets", "empty option value");
	if (o.namespace &&
	    (!(ns = dk_jobs_k8s_name(o.namespace)) || strcmp(ns, o.namespace) != 0))
		return dk_usage_error(
			"daemonsets",
			"--namespace %s: expected a DNS-1123 label ([a-z0-9-], "
			"at most 63)",
			o.namespace);
	if (o.signing_secret && (!(secret = dk_jobs_k8s_name(o.signing_secret)) ||
				 strcmp(secret, o.signing_secret) != 0))
		return dk_usage_error("daemonsets",
				      "--signing-secret %s: expected a DNS-1123 name",
				      o.signing_secret);
	r = dk_matrix_load(matrix, &m, err);
	if (r >= 0)
		r = dk_daemonsets_render(m, &o, &b, err);
	if (r < 0)
		return r;
	if (!output) {
		fputs(strbuf_str(&b), stdout);
		return fflush(stdout) == 0
			       ? DK_EXIT_OK
			       : dk_error_set(err, EIO, "cannot write stdout");
	}
	r = dk_write_file_atomic(output, b.s, b.len, 0644);
	if (r < 0)
		return dk_error_set(err, -r, "cannot write %s: %s", output, strerror(-r));
	return DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_daemonsets = {
	"daemonsets", "Kubernetes DaemonSets for the kernel matrix", run};
