/* SPDX-License-Identifier: Apache-2.0 */
/* drvkit matrix: the kernel matrix as CI jobs, image tags or in-cluster build Jobs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "fleet/jobs.h"
#include "fleet/matrix.h"
#include "cli/cli.h"

static void help(void)
{
	printf("Usage: drvkit matrix [DIR] [--format FORMAT] [--registry R] [--os ID]\n"
	       "                     [--driver NAME] [--kind build|precompiled]\n"
	       "                     [--context URL] [--namespace N]\n"
	       "       drvkit matrix [DIR] --check\n"
	       "\n"
	       "Expand the kernel matrix (every *.yaml of DIR, or one file; default:\n"
	       "kernel-matrix, relative to the current directory) into image builds: "
	       "one\n"
	       "build image per driver branch, OS version and arch, one precompiled "
	       "image\n"
	       "per driver branch, OS version and kernel; build images first.\n"
	       "\n"
	       "  -f, --format F     json (default: an array of jobs), github (one "
	       "line:\n"
	       "                     {\"include\": [...]} for strategy.matrix), gitlab\n"
	       "                     (parallel: matrix: for a job), tags (one line per\n"
	       "                     image: REF KIND ARCH DOCKERFILE KEY=VALUE..., tab-\n"
	       "                     separated, what scripts/build-images reads), "
	       "k8s-jobs\n"
	       "                     (Kubernetes Jobs that build and push missing "
	       "images\n"
	       "                     with rootless buildah)\n"
	       "      --registry R   prefix every image with R/ (e.g. quay.io/acme)\n"
	       "      --os ID        only this OS (os-release ID)\n"
	       "      --driver NAME  only this driver\n"
	       "      --kind K       only build or only precompiled images\n"
	       "      --context URL  k8s-jobs: the build context (a git URL holding\n"
	       "                     dockerfiles/); required there, as is --registry\n"
	       "      --namespace N  k8s-jobs: the Jobs' namespace\n"
	       "      --check        validate; print one line per OS and warnings\n"
	       "  -h, --help         this help\n"
	       "\n"
	       "Exit codes: 0 ok (valid), 2 usage, 3 invalid matrix, 4 DIR not found.\n");
}

static void summary(const struct dk_matrix *m, const struct dk_mx_os *os)
{
	_cleanup_strbuf_ struct strbuf vers, drivers;
	size_t kernels = 0;

	strbuf_init(&vers);
	strbuf_init(&drivers);
	for (size_t v = 0; v < os->n_versions; v++) {
		const struct dk_mx_osver *ov = &os->versions[v];

		strbuf_printf(&vers, "%s%s", v ? " " : "", ov->version);
		kernels += ov->n_kernels;
		for (size_t u = 0; u < ov->n_uses; u++)
			for (size_t b = 0; b < ov->uses[u].n_branches; b++) {
				_cleanup_free_ char *e =
					dk_strdup_printf("%s-%s", ov->uses[u].driver,
							 ov->uses[u].branches[b]);

				if (e && !strstr(strbuf_str(&drivers), e))
					strbuf_printf(&drivers, "%s%s",
						      drivers.len ? " " : "", e);
			}
	}
	(void)m;
	printf("%s: %zu version%s (%s), %zu kernel%s, drivers: %s\n", os->id,
	       os->n_versions, os->n_versions == 1 ? "" : "s", strbuf_str(&vers), kernels,
	       kernels == 1 ? "" : "s", drivers.len ? strbuf_str(&drivers) : "none");
}

static size_t warnings(const struct dk_matrix *m, const struct dk_jobs *js)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_oses; i++)
		for (size_t v = 0; v < m->oses[i].n_versions; v++) {
			const struct dk_mx_osver *ov = &m->oses[i].versions[v];

			if (!streq(m->oses[i].id, "rhcos") || ov->dtk_image)
				continue;
			n++;
			if (ov->dtk_pos.line)
				fprintf(stderr, "warning: %s:%zu:%zu: ", ov->dtk_pos.file,
					ov->dtk_pos.line, ov->dtk_pos.column);
			else
				fprintf(stderr, "warning: %s:%zu:%zu: ", ov->pos.file,
					ov->pos.line, ov->pos.column);
			fprintf(stderr,
				"os.versions[%zu].dtk_image: not filled in: run `oc adm "
				"release info --image-for=driver-toolkit <release "
				"image>` for "
				"rhcos %s and put the image here\n",
				v, ov->version);
		}
	/* Per job: a config path may differ per arch ({arch}). */
	for (size_t i = 0; i < js->n_jobs; i++) {
		const struct dk_job *j = &js->jobs[i];
		const char *cfg = dk_job_arg(j, "DRVKIT_CONFIG");
		bool seen = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = streq(cfg, dk_job_arg(&js->jobs[k], "DRVKIT_CONFIG"));
		if (seen || !*cfg || dk_path_exists(cfg))
			continue;
		n++;
		fprintf(stderr,
			"warning: %s:%zu:%zu: driver %s: config %s does not exist (its "
			"%s "
			"images would run without it)\n",
			j->driver->pos.file, j->driver->pos.line, j->driver->pos.column,
			j->driver->name, cfg, j->arch);
	}
	return n;
}

static int check_filter(const struct dk_matrix *m, const char *os, const char *driver)
{
	bool found = !os;

	for (size_t i = 0; i < m->n_oses && !found; i++)
		found = streq(m->oses[i].id, os);
	if (!found)
		return dk_usage_error("matrix", "--os %s: the matrix has no such OS", os);
	if (driver && !dk_mx_driver_find(m, driver))
		return dk_usage_error("matrix",
				      "--driver %s: the matrix defines no such driver",
				      driver);
	return 0;
}

static int emit(const char *s, struct dk_error **err)
{
	if (fputs(s, stdout) == EOF || fflush(stdout) == EOF)
		return dk_error_set(err, errno ? errno : EIO, "write to stdout: %s",
				    strerror(errno ? errno : EIO));
	return 0;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	const char *format = "json", *registry = NULL, *os = NULL, *driver = NULL;
	const char *kind = NULL, *context = NULL, *namespace = NULL;
	bool check = false;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING('f', "format", &format),
		DK_CLI_OPT_STRING(0, "registry", &registry),
		DK_CLI_OPT_STRING(0, "os", &os),
		DK_CLI_OPT_STRING(0, "driver", &driver),
		DK_CLI_OPT_STRING(0, "kind", &kind),
		DK_CLI_OPT_STRING(0, "context", &context),
		DK_CLI_OPT_STRING(0, "namespace", &namespace),
		DK_CLI_OPT_BOOL(0, "check", &check),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {"matrix", 0, help, ctx};
	_cleanup_matrix_ struct dk_matrix *m = NULL;
	_cleanup_jobs_ struct dk_jobs *jobs = NULL;
	_cleanup_free_ char *text = NULL;
	struct dk_jobs_filter filter = {0};
	struct dk_jobs_k8s k8s = {0};
	enum dk_jobs_format fmt;
	const char *dir = "kernel-matrix";
	int r;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	if (argc - optind > 1)
		return dk_usage_error("matrix", "one matrix directory at most");
	if (argc - optind == 1)
		dir = argv[optind];
	if (dk_jobs_format_parse(format, &fmt) < 0)
		return dk_usage_error(
			"matrix",
			"--format %s: expected json, github, gitlab, tags or "
			"k8s-jobs",
			format);
	if (kind && !streq(kind, "build") && !streq(kind, "precompiled"))
		return dk_usage_error("matrix",
				      "--kind %s: expected build or precompiled", kind);
	if (!check && fmt == DK_JOBS_K8S && (!context || !*context))
		return dk_usage_error(
			"matrix",
			"--format k8s-jobs needs --context URL: the git "
			"repository the Jobs build from (it holds dockerfiles/)");
	if (!check && fmt == DK_JOBS_K8S && (!registry || !*registry))
		return dk_usage_error(
			"matrix", "--format k8s-jobs needs --registry R: where the Jobs "
				  "push the images");
	if ((context || namespace) && fmt != DK_JOBS_K8S)
		return dk_usage_error("matrix",
				      "--context and --namespace are for k8s-jobs");
	if (namespace && !*namespace)
		return dk_usage_error("matrix", "--namespace: empty");
	r = dk_matrix_load(dir, &m, err);
	if (r < 0)
		return r;
	r = check_filter(m, os, driver);
	if (r)
		return r;
	filter = (struct dk_jobs_filter){os, driver, kind && streq(kind, "precompiled"),
					 kind && streq(kind, "build")};
	r = dk_jobs_expand(m, registry, &filter, &jobs, err);
	if (r < 0)
		return r;
	if (check) {
		size_t w;

		for (size_t i = 0; i < m->n_oses; i++)
			if (!os || streq(os, m->oses[i].id))
				summary(m, &m->oses[i]);
		w = warnings(m, jobs);
		printf("%s: valid: %zu file%s, %zu image%s, %zu warning%s\n", dir,
		       m->n_files, m->n_files == 1 ? "" : "s", jobs->n_jobs,
		       jobs->n_jobs == 1 ? "" : "s", w, w == 1 ? "" : "s");
		return DK_EXIT_OK;
	}
	k8s = (struct dk_jobs_k8s){context, namespace};
	r = dk_jobs_render(jobs, fmt, &k8s, &text, err);
	if (r < 0)
		return r;
	r = emit(text, err);
	return r < 0 ? r : DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_matrix = {
	"matrix",
	"expand the kernel matrix into image builds (CI jobs, "
	"tags, Kubernetes Jobs)",
	run};
