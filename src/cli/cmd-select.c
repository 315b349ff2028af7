/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"

#include "host/detect.h"
#include "fleet/labels.h"
#include "fleet/matrix.h"
#include "fleet/select.h"

#include "cli/cli.h"

#define DEFAULT_MATRIX "kernel-matrix"

static void help(void)
{
	printf("Usage: drvkit select (--labels FILE | --detect [--host-root DIR] "
	       "[--procfs DIR]\n"
	       "                     [--kernel KVER]) [--matrix DIR] [--registry R]\n"
	       "                     [--pending-kernel KVER] [--driver NAME] [--branch "
	       "B] "
	       "[--json]\n"
	       "\n"
	       "The image a node must run, for every driver branch its OS version "
	       "builds:\n"
	       "the precompiled image when the matrix lists the node's exact kernel "
	       "(and\n"
	       "arch), else the build image of its OS version (rhcos: the version whose\n"
	       "ostree_version is the node's OSTREE_VERSION, built on its Driver "
	       "Toolkit),\n"
	       "else no fit: what is missing and the closest entries. A driver with a\n"
	       "node_selector runs only where the node's labels match it (not checked\n"
	       "with --detect).\n"
	       "\n"
	       "  --labels FILE         the node's labels: a label: value mapping, a "
	       "Node\n"
	       "                        (kubectl get node NAME -o yaml) or a one-Node "
	       "list;\n"
	       "                        YAML or JSON (NFD's feature.node.kubernetes.io/\n"
	       "                        kernel-version.full, system-os_release.ID,\n"
	       "                        .VERSION_ID, .OSTREE_VERSION, "
	       "kubernetes.io/arch)\n"
	       "  --detect              this host, as drvkit detect sees it\n"
	       "  --matrix DIR          the kernel matrix (default " DEFAULT_MATRIX ")\n"
	       "  --registry R          image prefix (R/IMAGE:TAG)\n"
	       "  --pending-kernel KVER answer for the kernel the node boots next "
	       "(preflight\n"
	       "                        before an OS roll) instead of the running one\n"
	       "  --driver NAME         only this driver; --branch B: only this branch\n"
	       "  --json                one JSON object\n"
	       "  -h, --help            this help\n"
	       "\n"
	       "Exit codes: 0 an image fits, 4 no fit (or the matrix is missing), 3 a "
	       "bad\n"
	       "labels file or matrix (or a needed label is missing), 2 usage.\n");
}

static void render_json(struct json_writer *w, const struct dk_node_facts *n,
			const struct dk_selection *s)
{
	json_begin_object(w);
	json_kv_string(w, "source", n->source);
	json_kv_string(w, "node", n->node);
	json_kv_string(w, "kernel", s->kernel);
	json_kv_bool(w, "pending", s->pending);
	json_kv_string(w, "running_kernel", n->kernel);
	json_kv_string(w, "os", n->os_id);
	json_kv_string(w, "os_version", n->os_version);
	json_kv_string(w, "ostree_version", n->ostree_version);
	json_kv_string(w, "arch", n->arch);
	json_kv_string(w, "arch_from", n->arch_from);
	json_kv_bool(w, "fit", s->missing == DK_SEL_FIT);
	json_kv_string(w, "missing",
		       s->missing == DK_SEL_FIT ? NULL : dk_sel_missing_name(s->missing));
	json_kv_string(w, "reason", s->missing_reason);
	json_key(w, "images");
	json_begin_array(w);
	for (size_t i = 0; i < s->n_answers; i++) {
		const struct dk_sel_answer *a = &s->answers[i];

		json_begin_object(w);
		json_kv_string(w, "driver", a->driver->name);
		json_kv_string(w, "branch", a->branch->branch);
		json_kv_string(w, "version", a->branch->version);
		json_kv_string(w, "kind", dk_sel_kind_name(a->kind));
		json_kv_string(w, "image", a->image);
		json_kv_string(w, "reason", a->reason);
		json_end_object(w);
	}
	json_end_array(w);
	json_kv_bool(w, "node_selector_checked", n->has_labels);
	json_key(w, "not_selected");
	json_begin_array(w);
	for (size_t i = 0; i < s->n_skipped; i++) {
		const struct dk_sel_skip *k = &s->skipped[i];

		json_begin_object(w);
		json_kv_string(w, "driver", k->driver->name);
		json_kv_string(w, "label", k->label);
		json_kv_string(w, "wanted", k->wanted);
		json_kv_string(w, "node_value", k->has);
		json_kv_string(w, "reason", k->line);
		json_end_object(w);
	}
	json_end_array(w);
	json_kv_strv(w, "closest", s->closest, s->n_closest);
	json_end_object(w);
}

static void render_text(const struct dk_node_facts *n, const struct dk_selection *s)
{
	printf("node: %s%s%s%s\n", n->source, n->node ? " (" : "", n->node ? n->node : "",
	       n->node ? ")" : "");
	if (s->pending)
		printf("kernel: %s (pending: answered for the kernel the node boots "
		       "next; "
		       "it runs %s)\n",
		       s->kernel, n->kernel ? n->kernel : "an unknown kernel");
	else
		printf("kernel: %s\n", s->kernel);
	printf("os: %s %s%s%s\narch: %s (from %s)\n", n->os_id, n->os_version,
	       n->ostree_version ? " OSTREE_VERSION " : "",
	       n->ostree_version ? n->ostree_version : "", n->arch, n->arch_from);
	for (size_t i = 0; i < s->n_answers; i++) {
		const struct dk_sel_answer *a = &s->answers[i];

		printf("%s %s: %s %s\n  %s\n", a->driver->name, a->branch->branch,
		       dk_sel_kind_name(a->kind), a->image, a->reason);
	}
	for (size_t i = 0; i < s->n_skipped; i++)
		printf("%s: not for this node: %s\n", s->skipped[i].driver->name,
		       s->skipped[i].line);
	if (s->missing != DK_SEL_FIT)
		printf("no fit: %s\n", s->missing_reason);
	if (s->n_closest)
		printf("%s:\n",
		       s->missing != DK_SEL_FIT ? "closest" : "nearest listed kernels");
	for (size_t i = 0; i < s->n_closest; i++)
		printf("  %s\n", s->closest[i]);
}

static int facts(struct dk_ctx *ctx, const char *labels, struct dk_node_facts *n,
		 struct dk_error **err)
{
	struct dk_detect d;
	int r;

	if (labels)
		return dk_labels_load(labels, n, err);
	r = dk_detect_run(ctx, &d, err);
	if (r >= 0)
		r = dk_node_facts_from_detect(&d, n, err);
	dk_detect_free(&d);
	return r;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	const char *labels = NULL, *matrix = DEFAULT_MATRIX;
	struct dk_sel_opts so = {0};
	bool detect = false;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING(0, "labels", &labels),
		DK_CLI_OPT_BOOL(0, "detect", &detect),
		DK_CLI_OPT_STRING(0, "matrix", &matrix),
		DK_CLI_OPT_STRING(0, "registry", &so.registry),
		DK_CLI_OPT_STRING(0, "pending-kernel", &so.pending_kernel),
		DK_CLI_OPT_STRING(0, "driver", &so.driver),
		DK_CLI_OPT_STRING(0, "branch", &so.branch),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {
		"select", DK_CLI_HOST_ROOT | DK_CLI_PROCFS | DK_CLI_KERNEL | DK_CLI_JSON,
		help, ctx, .no_operands = true};
	_cleanup_node_facts_ struct dk_node_facts n = {0};
	_cleanup_matrix_ struct dk_matrix *m = NULL;
	_cleanup_selection_ struct dk_selection *s = NULL;
	struct json_writer *w;
	int r;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	if (!!labels == detect)
		return dk_usage_error("select", "give one of --labels FILE and --detect");
	if ((labels && !labels[0]) || !matrix[0] ||
	    (so.pending_kernel && !so.pending_kernel[0]) || !ctx->host_root[0])
		return dk_usage_error("select", "empty option value");
	if (labels && (ctx->kernel || ctx->procfs || strcmp(ctx->host_root, "/") != 0))
		return dk_usage_error(
			"select", "--host-root, --procfs and --kernel go with --detect");
	r = facts(ctx, labels, &n, err);
	if (r >= 0)
		r = dk_matrix_load(matrix, &m, err);
	if (r >= 0)
		r = dk_select(m, &n, &so, &s, err);
	if (r < 0)
		return r;
	w = dk_output_begin(&cli.out);
	if (w)
		render_json(w, &n, s);
	else
		render_text(&n, s);
	r = dk_output_end(&cli.out, err);
	if (r < 0)
		return r;
	return s->missing == DK_SEL_FIT ? DK_EXIT_OK : DK_EXIT_NOTFOUND;
}

const struct dk_cmd dk_cmd_select = {"select", "which image a node runs (kernel matrix)",
				     run};
