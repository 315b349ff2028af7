/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "shared/cleanup.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "build/build.h"
#include "config/config.h"

#include "cli/cli.h"
#include "cli/opts.h"

static void help(void)
{
	printf("Usage: drvkit build --config FILE [--kernel KVER] [--headers DIR] [-j "
	       "N]\n"
	       "                    [-o OUT] [--package FILE] [--component NAME]\n"
	       "\n"
	       "Builds the components of FILE that have a build: source for one kernel,\n"
	       "in dependency order (uses:, after:), independent ones in parallel; each\n"
	       "build is checked against the kernel, signed when signing: is set, and\n"
	       "kept in the build cache: the same inputs are never built twice.\n"
	       "\n"
	       "  -c, --config FILE     the spec (the same file drvkit init reads)\n"
	       "  -k, --kernel KVER     target kernel (default: the running one)\n"
	       "  --headers DIR         the kernel's build tree (default: found under\n"
	       "                        HOST-ROOT: lib/modules/KVER/build, "
	       "/usr/src/...)\n"
	       "  -j, --jobs N          make -j N (default: the CPUs)\n"
	       "  -o, --output OUT      write OUT/KVER/COMPONENT/*.ko and\n"
	       "                        OUT/KVER/manifest.json\n"
	       "  --package FILE        write all of it as one .tar.zst (a precompiled\n"
	       "                        package for init's precompiled: source)\n"
	       "  --component NAME      only NAME (and the components it uses)\n"
	       "  --cache-dir DIR       build cache (default: cache_dir of FILE,\n"
	       "                        /var/cache/drvkit)\n"
	       "  --host-root DIR       find headers and devices below DIR\n"
	       "  --json                the result as JSON\n"
	       "\n"
	       "SIGTERM or SIGINT stops every build (its whole process tree) and leaves\n"
	       "neither output nor cache entry.\n");
}

static int render(const struct dk_got *g, size_t n, const char *kernel,
		  struct dk_output *out, struct dk_error **err)
{
	struct json_writer *w = dk_output_begin(out);

	if (w) {
		json_begin_object(w);
		json_kv_string(w, "kernel", kernel);
		json_key(w, "components");
		json_begin_array(w);
	}
	for (size_t i = 0; i < n; i++) {
		if (w) {
			json_begin_object(w);
			json_kv_string(w, "component", g[i].c->name);
			json_kv_string(w, "from", dk_got_from_name(g[i].from));
			json_kv_string(w, "flavor", g[i].flavor);
			json_kv_string(w, "flavor_why", g[i].flavor_why);
			json_kv_string(w, "key", g[i].key);
			json_kv_string(w, "dir", g[i].dir);
			json_kv_string(w, "why", g[i].why);
			json_kv_int(w, "ms", g[i].ms);
			json_key(w, "modules");
			json_begin_array(w);
			for (size_t k = 0; k < g[i].m->n_modules; k++)
				json_string(w, g[i].m->modules[k].file);
			json_end_array(w);
			json_end_object(w);
			continue;
		}
		printf("%s%s%s%s: %s (%s)\n", g[i].c->name, g[i].flavor ? " (" : "",
		       g[i].flavor ? g[i].flavor : "", g[i].flavor ? ")" : "",
		       dk_got_from_name(g[i].from), g[i].why ? g[i].why : "");
		if (g[i].flavor_why)
			printf("  flavor %s\n", g[i].flavor_why);
		printf("  key %s\n  in %s\n ", g[i].key ? g[i].key : "-", g[i].dir);
		for (size_t k = 0; k < g[i].m->n_modules; k++)
			printf(" %s", g[i].m->modules[k].file);
		printf("\n");
	}
	if (w) {
		json_end_array(w);
		json_end_object(w);
	}
	return dk_output_end(out, err);
}

/* SIGTERM and SIGINT arrive on a signalfd that every running build polls. */
static int cancel_fd_open(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, old) != 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Whether a stop signal arrived. Reads them off the signalfd: a build only polls it,
 * so they stay pending, and restoring the old mask would deliver one and kill us
 * before the error is printed. */
static bool cancel_fd_drain(int fd)
{
	struct signalfd_siginfo si;
	bool got = false;

	while (fd >= 0 && read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		got = true;
	return got;
}

/* Paths that reach make (M=, -C, -I), which runs in another directory: absolute.
 * NULL stays NULL; *bad set on OOM. */
static char *absolute(const char *p, bool *bad)
{
	char *a;

	if (!p)
		return NULL;
	a = dk_path_absolute(p);
	*bad |= !a;
	return a;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	_cleanup_free_ char *abs_cache = NULL, *abs_headers = NULL, *abs_root = NULL;
	bool bad = false;
	_cleanup_config_ struct dk_config *cfg = NULL;
	const char *config = NULL, *headers = NULL, *out = NULL, *package = NULL;
	const char *only = NULL, *cache = NULL;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING('c', "config", &config),
		DK_CLI_OPT_STRING(0, "headers", &headers),
		DK_CLI_OPT_STRING('o', "output", &out),
		DK_CLI_OPT_STRING(0, "package", &package),
		DK_CLI_OPT_STRING(0, "component", &only),
		DK_CLI_OPT_STRING(0, "cache-dir", &cache),
		DK_CLI_OPT_SHARED,
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {
		"build",
		DK_CLI_HOST_ROOT | DK_CLI_SYSFS | DK_CLI_PROCFS | DK_CLI_KERNEL |
			DK_CLI_JOBS | DK_CLI_SHORT | DK_CLI_JSON,
		help, ctx};
	static const enum dk_get_step steps[] = {DK_GET_CACHE, DK_GET_BUILD};
	struct dk_got *got = NULL;
	struct utsname u;
	sigset_t old;
	size_t n = 0;
	int sfd, r;

	cli.no_operands = true;
	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	if (!config)
		return dk_usage_error("build", "--config FILE is required");
	r = dk_config_load(config, &cfg, err);
	if (r < 0)
		return r;
	/* The command line, else the spec (the same file init reads), else this host. */
	if (!ctx->kernel && cfg->kernel)
		ctx->kernel = cfg->kernel;
	if (!ctx->kernel && uname(&u) == 0)
		ctx->kernel = u.release;
	abs_cache = absolute(cache, &bad);
	abs_headers = absolute(headers, &bad);
	abs_root = absolute(ctx->host_root ? ctx->host_root : cfg->host_root, &bad);
	if (bad)
		return dk_error_set(err, ENOMEM,
				    "cannot make --cache-dir, --headers or "
				    "--host-root absolute (no current directory)");
	sfd = cancel_fd_open(&old);
	struct dk_build_opts bo = {
		.cfg = cfg,
		.kernel = ctx->kernel,
		.headers = abs_headers,
		.host_root = abs_root,
		.sysfs = ctx->sysfs,
		.procfs = ctx->procfs,
		.cache_dir = abs_cache,
		.jobs = ctx->jobs > 0 ? ctx->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN),
		.cancel_fd = sfd,
		.tty = isatty(STDERR_FILENO) && !cli.out.json,
		.only = only,
		.steps = steps,
		.n_steps = ARRAY_SIZE(steps),
	};
	r = dk_get_components(&bo, &got, &n, err);
	/* A signal between builds (a cache hit, a check) stops before the output too. */
	if (cancel_fd_drain(sfd) && r >= 0)
		r = dk_error_set(err, ECANCELED, "stopped by a signal");
	if (r == -ECANCELED)
		dk_error_append(err,
				"; stopped by a signal: no output was written, and the "
				"stopped build left no cache entry");
	if (r >= 0 && n == 0)
		r = dk_error_set(err, ENOENT, "%s has no component with a build: source",
				 config);
	if (r >= 0 && out)
		r = dk_build_write_out(got, n, ctx->kernel, out, err);
	if (r >= 0 && package)
		r = dk_build_write_package(got, n, ctx->kernel,
					   abs_cache ? abs_cache : cfg->cache_dir,
					   package, err);
	if (r >= 0)
		r = render(got, n, ctx->kernel, &cli.out, err);
	dk_got_free(got, n);
	if (cancel_fd_drain(sfd) && r >= 0)
		r = dk_error_set(err, ECANCELED,
				 "stopped by a signal (the output was already written)");
	if (sfd >= 0)
		close(sfd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r < 0 ? r : DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_build = {"build", "build modules from source for a kernel",
				    run, false};
