/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/clock.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/spawn.h"
#include "config/config.h"
#include "build/kbuild.h"

/* The build's PATH when the spec's env gives none: the system's tools, never the
 * caller's PATH (a container's PATH may point at anything). */
#define BUILD_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* One argument with its placeholders filled (the config accepted only known ones). */
static char *expand(const struct dk_kbuild *b, const char *arg)
{
	static const char *const names[] = DK_MAKE_PLACEHOLDERS;
	char jobs[16];
	const char *values[DK_MAKE_N_PLACEHOLDERS] = {
		b->kernel,
		b->build_dir,
		b->src,
		jobs,
		b->out,
		b->uses_symvers ? b->uses_symvers : "",
		b->uses_include ? b->uses_include : ""};
	const char *bad;

	snprintf(jobs, sizeof(jobs), "%d", b->jobs > 0 ? b->jobs : 1);
	return dk_expand_placeholders(arg, names, values, DK_MAKE_N_PLACEHOLDERS, false,
				      &bad);
}

char **dk_kbuild_argv(const struct dk_kbuild *b)
{
	static const char *const kbuild[] = {"make",	"-C",	    "{build_dir}",
					     "M={src}", "-j{jobs}", "modules"};
	size_t n = b->make ? b->n_make : ARRAY_SIZE(kbuild);
	char **v = calloc(n + 3, sizeof(char *));
	size_t k = 0;

	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(v[k++] = expand(b, b->make ? b->make[i] : kbuild[i])))
			goto oom;
	/* The default invocation names the compiler and the providers' symbols on the
	 * command line, where kbuild's own assignments cannot override them. */
	if (!b->make && b->cc && !(v[k++] = dk_strdup_printf("CC=%s", b->cc)))
		goto oom;
	if (!b->make && b->uses_symvers &&
	    !(v[k++] = dk_strdup_printf("KBUILD_EXTRA_SYMBOLS=%s", b->uses_symvers)))
		goto oom;
	return v;
oom:
	strv_free(v);
	return NULL;
}

static int env_set(char **v, size_t *n, const char *entry)
{
	size_t len = strcspn(entry, "=");
	char *dup = strdup(entry);

	if (!dup)
		return -ENOMEM;
	for (size_t i = 0; i < *n; i++)
		if (strncmp(v[i], entry, len + 1) == 0) {
			free(v[i]);
			v[i] = dup;
			return 0;
		}
	v[(*n)++] = dup;
	return 0;
}

char **dk_kbuild_env(const struct dk_kbuild *b)
{
	_cleanup_free_ char *home = NULL, *kcflags = NULL, *cc = NULL, *syms = NULL,
			    *inc = NULL;
	const char *base[] = {
		"PATH=" BUILD_PATH,
		"LANG=C",
		"LC_ALL=C",
		"TZ=UTC",
		/* Reproducible modules: no build time, user or host in the objects. */
		"KBUILD_BUILD_TIMESTAMP=" DK_KBUILD_TIMESTAMP,
		"KBUILD_BUILD_USER=drvkit",
		"KBUILD_BUILD_HOST=drvkit",
		"SOURCE_DATE_EPOCH=0",
	};
	size_t n = 0;
	char **v = calloc(ARRAY_SIZE(base) + b->n_env + 8, sizeof(char *));

	if (!v)
		return NULL;
	home = dk_strdup_printf("HOME=%s", b->work ? b->work : "/nonexistent");
	/* ... and no work-directory path in debug info or __FILE__. */
	kcflags = b->work ? dk_strdup_printf(
				    "KCFLAGS=-ffile-prefix-map=%s=" DK_KBUILD_PREFIX "%s",
				    b->work, b->uses_maps ? b->uses_maps : "")
			  : NULL;
	cc = b->cc ? dk_strdup_printf("CC=%s", b->cc) : NULL;
	syms = b->uses_symvers
		       ? dk_strdup_printf("KBUILD_EXTRA_SYMBOLS=%s", b->uses_symvers)
		       : NULL;
	inc = b->uses_include
		      ? dk_strdup_printf("DRVKIT_USES_INCLUDE=%s", b->uses_include)
		      : NULL;
	for (size_t i = 0; i < ARRAY_SIZE(base); i++)
		if (env_set(v, &n, base[i]) < 0)
			goto oom;
	if (!home || env_set(v, &n, home) < 0 || (b->work && !kcflags) ||
	    (kcflags && env_set(v, &n, kcflags) < 0) || (cc && env_set(v, &n, cc) < 0) ||
	    (syms && env_set(v, &n, syms) < 0) || (inc && env_set(v, &n, inc) < 0))
		goto oom;
	for (size_t i = 0; i < b->n_env; i++)
		if (env_set(v, &n, b->env[i]) < 0)
			goto oom;
	return v;
oom:
	strv_free(v);
	return NULL;
}

/* ---- errors in the log ---- */

/* "FILE:LINE:[COL:] [fatal ]error: MSG" -> "FILE:LINE: MSG". */
static char *compiler_error(const char *line, size_t len)
{
	_cleanup_free_ char *l = strndup(line, len);
	char *p, *colon, *msg;
	const char *kinds[] = {": fatal error: ", ": error: "};

	if (!l)
		return NULL;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		msg = strstr(l, kinds[k]);
		if (!msg)
			continue;
		*msg = '\0';
		msg += strlen(kinds[k]);
		/* l is now FILE:LINE[:COL]: keep FILE:LINE. */
		colon = strchr(l, ':');
		if (!colon || colon[1] < '0' || colon[1] > '9')
			return NULL;
		p = colon + 1;
		while (*p >= '0' && *p <= '9')
			p++;
		*p = '\0';
		return dk_strdup_printf("%s: %s", l, msg);
	}
	return NULL;
}

/* "FILE: In function 'NAME':" -> NAME; with the quotes of a UTF-8 locale too (the
 * spec's env may set LANG). */
static char *in_function(const char *line, size_t len)
{
	static const char *const quotes[][2] = {{"'", "'"}, {"\u2018", "\u2019"}};
	_cleanup_free_ char *l = strndup(line, len);

	for (size_t q = 0; l && q < ARRAY_SIZE(quotes); q++) {
		_cleanup_free_ char *open =
			dk_strdup_printf(": In function %s", quotes[q][0]);
		char *p = open ? strstr(l, open) : NULL;
		char *end = p ? strstr(p + strlen(open), quotes[q][1]) : NULL;

		if (end)
			return strndup(p + strlen(open),
				       (size_t)(end - p - strlen(open)));
	}
	return NULL;
}

static const char *strip_prefix_map(const char *s)
{
	const char *p = strstr(s, DK_KBUILD_PREFIX "/");

	return p ? p + strlen(DK_KBUILD_PREFIX "/") : s;
}

char *dk_kbuild_first_error(const char *log)
{
	_cleanup_free_ char *func = NULL, *last_make = NULL;

	for (const char *p = log; p && *p;) {
		size_t len = strcspn(p, "\n");
		_cleanup_free_ char *e = compiler_error(p, len);
		char *f = in_function(p, len);

		if (f) {
			free(func);
			func = f;
		} else if (memmem(p, len, ": At top level:", 15)) {
			/* gcc left the function it named last. */
			free(func);
			func = NULL;
		}
		if (e) {
			const char *shown = strip_prefix_map(e);

			return func ? dk_strdup_printf("%s (in function %s)", shown, func)
				    : strdup(shown);
		}
		if (len > 7 && strncmp(p, "ERROR: ", 7) == 0)
			return strndup(p, len); /* modpost: undefined symbols */
		if (strstr(p, "make") == p && memmem(p, len, "Error", 5)) {
			free(last_make);
			last_make = strndup(p, len);
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	return TAKE_PTR(last_make);
}

/* ---- running ---- */

struct out_state {
	const struct dk_kbuild *b;
	FILE *log;
	int64_t t0;
	char target[128];
};

static void on_line(int stream, const char *line, void *userdata)
{
	struct out_state *o = userdata;
	const char *t = line;

	(void)stream;
	if (o->log)
		fprintf(o->log, "%s\n", line);
	/* "  CC [M]  /path/x.o": the last word is the target being made. */
	while (*t == ' ')
		t++;
	if ((strncmp(t, "CC", 2) == 0 || strncmp(t, "LD", 2) == 0 ||
	     strncmp(t, "MODPOST", 7) == 0) &&
	    strrchr(t, ' '))
		snprintf(o->target, sizeof(o->target), "%s",
			 strip_prefix_map(strrchr(t, ' ') + 1));
	if (o->b->tty) {
		int64_t s = (dk_now_ms() - o->t0) / 1000;

		fprintf(stderr, "\r\033[K%s: %d:%02d %s", o->b->component, (int)(s / 60),
			(int)(s % 60), o->target);
		fflush(stderr);
	} else if (!o->b->quiet) {
		fprintf(stderr, "%s: %s\n", o->b->component, line);
	}
}

/* Removes every "dir/" from s: the compiler names files by their absolute path in
 * the work tree (-ffile-prefix-map does not reach diagnostics); relative to where
 * make ran they read as in the user's source. */
static void drop_dir(char *s, const char *dir)
{
	size_t n = strlen(dir);

	for (char *p = s; n && p && (p = strstr(p, dir));) {
		if (p[n] == '/')
			memmove(p, p + n + 1, strlen(p + n + 1) + 1);
		else
			p += n;
	}
}

static int failure(const struct dk_kbuild *b, const char *step,
		   const struct dk_spawn_result *res, struct dk_error **err)
{
	_cleanup_free_ char *log = NULL, *first = NULL, *what = NULL;

	if (dk_read_file(b->log_path, 64u << 20, &log, NULL) == 0)
		first = dk_kbuild_first_error(log);
	drop_dir(first, b->src);
	what = res->signo
		       ? dk_strdup_printf("%s was killed by signal %d", step, res->signo)
		       : dk_strdup_printf("%s exited with status %d", step,
					  res->exit_code);
	dk_error_set(err, EIO,
		     "component %s (version %s, flavor %s) for kernel %s: %s; %s",
		     b->component, b->version ? b->version : "unknown",
		     b->flavor ? b->flavor : "-", b->kernel,
		     first ? first : "no error line in the build log", what ? what : "");
	dk_error_append(err, "; full log: %s", b->log_path);
	return -EIO;
}

char **dk_kbuild_configure_argv(const struct dk_kbuild *b)
{
	char **v = calloc(b->n_configure + 1, sizeof(char *));

	for (size_t i = 0; v && i < b->n_configure; i++)
		if (!(v[i] = expand(b, b->configure[i]))) {
			strv_free(v);
			return NULL;
		}
	return v;
}

/* One step (configure, then make) in b->src, its output appended to the log. */
static int run_step(const struct dk_kbuild *b, const char *step, char **argv, char **env,
		    FILE *log, struct dk_error **err)
{
	struct out_state o = {.b = b, .t0 = dk_now_ms(), .log = log};
	struct dk_spawn_opts so = {
		.argv = (const char *const *)argv,
		.env = (const char *const *)env,
		.cwd = b->src,
		.out = DK_SPAWN_LINES,
		.err = DK_SPAWN_LINES,
		.on_line = on_line,
		.userdata = &o,
		.cancel_fd = b->cancel_fd,
		.grace_ms = 5000,
	};
	struct dk_spawn_result res;
	int r;

	fprintf(log, "# drvkit build: component %s, kernel %s, %s in %s\n#", b->component,
		b->kernel, step, b->src);
	for (char **a = argv; *a; a++)
		fprintf(log, " %s", *a);
	fprintf(log, "\n");
	fflush(log);
	r = dk_spawn_run(&so, &res, err);
	if (b->tty)
		fprintf(stderr, "\r\033[K");
	fflush(log);
	if (r == 0 && (res.exit_code != 0 || res.signo))
		r = failure(b, step, &res, err);
	else if (r < 0 && r != -ECANCELED)
		dk_error_wrap(err, "component %s: %s", b->component, step);
	dk_spawn_result_release(&res);
	return r;
}

int dk_kbuild_run(const struct dk_kbuild *b, struct dk_error **err)
{
	char **argv = dk_kbuild_argv(b), **env = dk_kbuild_env(b);
	char **conf = b->configure ? dk_kbuild_configure_argv(b) : NULL;
	FILE *log = NULL;
	int r;

	if (!argv || !env || (b->configure && !conf)) {
		r = dk_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	log = fopen(b->log_path, "we");
	if (!log) {
		r = dk_error_set(err, errno, "build log %s: %s", b->log_path,
				 strerror(errno));
		goto out;
	}
	r = conf ? run_step(b, "configure", conf, env, log, err) : 0;
	if (r == 0)
		r = run_step(b, "make", argv, env, log, err);
out:
	if (log)
		fclose(log);
	strv_free(conf);
	strv_free(argv);
	strv_free(env);
	return r;
}
