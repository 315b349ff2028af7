/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "host/policy.h"
#include "kmod/check.h"
#include "kmod/modfile.h"
#include "kmod/sign.h"
#include "init/init.h"

#define TERMINATION_LOG_MAX 4096

enum action {
	ACT_LOAD,	  /* not loaded: insert */
	ACT_RELOAD,	  /* another build is loaded: unload it, then insert */
	ACT_SKIP_OURS,	  /* loaded, identical, loaded by a previous drvkit init */
	ACT_SKIP_FOREIGN, /* loaded, identical, loaded by someone else: left alone */
};

struct imod {
	struct dk_modfile *file;
	const struct dk_config_component *comp;
	const struct dk_config_module *cm;
	enum action act;
	bool done;     /* inserted (or skipped) in this run */
	bool inserted; /* inserted by this run: a failed start unloads it */
};

/* A module to unload before loading: replaced in-tree, or our other version. */
struct iremove {
	char *name;
	const struct dk_config_component *comp; /* NULL: not replaced, reloaded */
	bool removed;  /* unloaded by this run: a failed start puts it back */
	bool was_ours; /* a build a previous drvkit init loaded */
};

struct init {
	struct dk_ctx *ctx;
	const struct dk_config *cfg;
	struct dk_modctx *m;
	struct dk_modfile **files; /* config order */
	size_t n_files;
	struct imod *mods; /* load order */
	size_t n_mods;
	struct iremove *remove; /* removal order: users first */
	size_t n_remove;
	char **probed; /* in-tree dependencies this run loaded, in load order */
	size_t n_probed;
	struct dk_state state;
	struct dk_plan *plan;
	char *state_path, *status_path, *lock_path;
	int lock_fd, sfd;
	bool term, skip_waits;
	bool state_saved; /* state.json holds in->state (every change is saved at once) */
	int64_t t0;
};

static void init_release(struct init *in)
{
	dk_modfiles_free(in->files, in->n_files);
	free(in->mods);
	for (size_t i = 0; i < in->n_remove; i++)
		free(in->remove[i].name);
	free(in->remove);
	dk_names_free(in->probed, in->n_probed);
	dk_state_release(&in->state);
	free(in->state_path);
	free(in->status_path);
	free(in->lock_path);
	if (in->lock_fd >= 0)
		close(in->lock_fd);
	if (in->sfd >= 0)
		close(in->sfd);
	dk_modctx_free(in->m);
}

const char *dk_plan_verb_str(enum dk_plan_verb v)
{
	static const char *const names[] = {"unload", "build", "check",	   "sign",
					    "load",   "skip",  "firmware", "restore"};

	return (size_t)v < ARRAY_SIZE(names) ? names[v] : "?";
}

void dk_plan_release(struct dk_plan *plan)
{
	for (size_t i = 0; i < plan->n_steps; i++) {
		free(plan->steps[i].module);
		free(plan->steps[i].detail);
	}
	free(plan->steps);
	free(plan->kernel);
	memset(plan, 0, sizeof(*plan));
}

_printf_format_(4, 5) static int plan_add(struct init *in, enum dk_plan_verb verb,
					  const char *module, const char *fmt, ...)
{
	struct dk_plan *p = in->plan;
	struct dk_plan_step *ns;
	struct strbuf b;
	va_list ap;

	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	dk_info("plan: %-8s %s: %s", dk_plan_verb_str(verb), module, b.oom ? "" : b.s);
	if (!p) {
		strbuf_release(&b);
		return 0;
	}
	ns = realloc(p->steps, (p->n_steps + 1) * sizeof(*ns));
	if (!ns) {
		strbuf_release(&b);
		return -ENOMEM;
	}
	p->steps = ns;
	ns[p->n_steps].verb = verb;
	ns[p->n_steps].module = strdup(module);
	ns[p->n_steps].detail = strbuf_steal(&b);
	p->n_steps++;
	if (!ns[p->n_steps - 1].module || !ns[p->n_steps - 1].detail)
		return -ENOMEM;
	return 0;
}

/* ---- signals ---- */

/* Blocks every signal but the synchronous faults (tini's set), so they queue on
 * the signalfd instead of killing us between steps. */
static int signals_setup(struct init *in, struct dk_error **err)
{
	static const int sync_sigs[] = {SIGSEGV, SIGBUS, SIGFPE,  SIGILL, SIGABRT,
					SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU};
	sigset_t set;

	sigfillset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(sync_sigs); i++)
		sigdelset(&set, sync_sigs[i]);
	if (sigprocmask(SIG_SETMASK, &set, NULL) < 0)
		return dk_error_set(err, errno, "start: block signals: %s",
				    strerror(errno));
	in->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (in->sfd < 0)
		return dk_error_set(err, errno,
				    "start: signalfd: %s: init cannot wait for SIGTERM "
				    "without it (a seccomp profile may block it)",
				    strerror(errno));
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		dk_warn("cannot become a child subreaper: %s", strerror(errno));
	return 0;
}

static void reap_children(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return;
		dk_debug("reaped child %d (status %d)", (int)pid, status);
	}
}

/* Reads every queued signal. Returns true when SIGTERM/SIGINT came. */
static bool drain_signals(struct init *in)
{
	struct signalfd_siginfo si;
	bool term = false;

	while (read(in->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap_children();
			break;
		case SIGTERM:
		case SIGINT:
			dk_info("received %s from pid %u", strsignal((int)si.ssi_signo),
				si.ssi_pid);
			term = true;
			break;
		default:
			dk_debug("ignoring %s", strsignal((int)si.ssi_signo));
		}
	}
	return term;
}

/* dk_remove_opts.wait while unloading on SIGTERM: a second SIGTERM/SIGINT ends
 * every wait at once. */
static bool shutdown_wait(void *userdata, int ms)
{
	struct init *in = userdata;
	int64_t end = dk_now_ms() + ms;

	if (in->skip_waits)
		return false;
	for (;;) {
		int64_t left = end - dk_now_ms();
		struct pollfd pfd = {in->sfd, POLLIN, 0};

		if (left <= 0)
			return true;
		if (poll(&pfd, 1, (int)left) > 0 && drain_signals(in)) {
			dk_warn("second termination signal: no more waiting for modules "
				"in "
				"use");
			in->skip_waits = true;
			return false;
		}
	}
}

/* Step 9: libkmod, libelf, OpenSSL and libyaml pages touched once while starting
 * would stay in our RSS for the life of the pod. Ask the kernel to reclaim clean
 * file-backed pages (a hint: nothing is lost, pages come back from the page cache on
 * use). */
static void trim_memory(void)
{
	/* The heap first: Module.symvers and libkmod's indexes were freed. */
	malloc_trim(0);
#ifdef MADV_PAGEOUT
	_cleanup_fclose_ FILE *f = fopen("/proc/self/maps", "re");
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		char perms[8] = "";
		int path_at = 0;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms,
			   &path_at) < 3)
			continue;
		/* file-backed mappings only; never the stack, heap or vdso */
		if (path_at <= 0 || line[path_at] != '/')
			continue;
		(void)madvise((void *)start, end - start, MADV_PAGEOUT);
	}
#endif
}

/* ---- files: state, status, ready, termination log ---- */

static int mkdir_parent(const char *path)
{
	_cleanup_free_ char *p = strdup(path);
	char *slash;

	if (!p)
		return -ENOMEM;
	slash = strrchr(p, '/');
	if (!slash || slash == p)
		return 0;
	*slash = '\0';
	return dk_mkdir_p(p, 0755);
}

static void write_termination_log(const struct init *in, const char *msg)
{
	const char *path = in->cfg->termination_log;
	_cleanup_close_ int fd = -1;
	size_t len = strlen(msg);

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		dk_warn("cannot write the termination log %s: %s: Kubernetes will not "
			"show why init stopped; check termination_log in %s",
			path, strerror(errno), in->cfg->path);
		return;
	}
	/* Kubernetes reads at most 4096 bytes; it is a plain file (often a bind
	 * mount), so it is written in place, not renamed over. */
	if (len > TERMINATION_LOG_MAX)
		len = TERMINATION_LOG_MAX;
	if (write(fd, msg, len) < 0)
		dk_warn("write the termination log %s: %s", path, strerror(errno));
}

static const char *action_str(enum action a)
{
	switch (a) {
	case ACT_LOAD:
	case ACT_RELOAD:
		return "loaded";
	case ACT_SKIP_OURS:
		return "adopted";
	case ACT_SKIP_FOREIGN:
		return "skipped";
	}
	return "?";
}

static void write_status(struct init *in, const char *phase, const char *error)
{
	struct json_writer w;
	int r;

	json_init(&w, true);
	json_begin_object(&w);
	json_kv_string(&w, "phase", phase);
	json_kv_int(&w, "pid", getpid());
	json_kv_string(&w, "kernel", in->m ? in->m->kver : NULL);
	json_kv_string(&w, "config", in->cfg->path);
	json_kv_string(&w, "ready_file", in->cfg->ready_file);
	json_kv_int(&w, "elapsed_ms", dk_now_ms() - in->t0);
	if (error)
		json_kv_string(&w, "error", error);
	json_key(&w, "modules");
	json_begin_array(&w);
	for (size_t i = 0; i < in->n_mods; i++) {
		const struct imod *im = &in->mods[i];

		json_begin_object(&w);
		json_kv_string(&w, "name", im->file->name);
		json_kv_string(&w, "component", im->comp->name);
		json_kv_string(&w, "path", im->file->path);
		json_kv_string(&w, "srcversion", im->file->srcversion);
		json_kv_string(&w, "version", im->file->version);
		json_kv_string(&w, "action", im->done ? action_str(im->act) : "pending");
		json_kv_bool(&w, "loaded",
			     dk_state_find_module(&in->state, im->file->name) ||
				     im->act == ACT_SKIP_FOREIGN);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_key(&w, "replaced");
	json_begin_array(&w);
	for (size_t i = 0; i < in->state.n_replaced; i++)
		json_string(&w, in->state.replaced[i].name);
	json_end_array(&w);
	json_end_object(&w);
	strbuf_putc(&w.out, '\n');
	if (!w.out.oom) {
		r = dk_write_file_atomic(in->status_path, w.out.s, w.out.len, 0644);
		if (r < 0)
			dk_warn("write the status file %s (phase %s): %s: drvkit status "
				"and probes reading it see an old phase; check that "
				"state_dir is a writable mount",
				in->status_path, phase, strerror(-r));
	}
	json_release(&w);
}

static int save_state(struct init *in, struct dk_error **err)
{
	int r;

	in->state.pid = getpid();
	if (!in->state.kernel && !(in->state.kernel = strdup(in->m->kver)))
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_state_write(in->state_path, &in->state, err);
	in->state_saved = r >= 0;
	return r;
}

/* ---- step 1: lock ---- */

static int take_lock(struct init *in, struct dk_error **err)
{
	char buf[32];
	int r;

	r = dk_mkdir_p(in->cfg->state_dir, 0755);
	if (r < 0)
		return dk_error_set(err, -r, "step 1 (lock): create state dir %s: %s",
				    in->cfg->state_dir, strerror(-r));
	in->lock_fd = open(in->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (in->lock_fd < 0)
		return dk_error_set(err, errno,
				    "step 1 (lock): open %s: %s: state_dir must be a "
				    "writable directory (a hostPath mount kept across "
				    "restarts)",
				    in->lock_path, strerror(errno));
	if (flock(in->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		_cleanup_free_ char *pid = NULL;

		if (e != EWOULDBLOCK)
			return dk_error_set(err, e, "step 1 (lock): lock %s: %s",
					    in->lock_path, strerror(e));
		(void)!dk_read_line(in->lock_path, &pid);
		return dk_error_set(
			err, EBUSY,
			"step 1 (lock): another drvkit init (pid %s) holds %s: "
			"only one instance may run per node",
			pid && *pid ? pid : "unknown", in->lock_path);
	}
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(in->lock_fd, 0) < 0 || pwrite(in->lock_fd, buf, strlen(buf), 0) < 0)
		dk_warn("step 1 (lock): write pid to %s: %s (the lock is held; a second "
			"instance will not be able to name this pid)",
			in->lock_path, strerror(errno));
	return 0;
}

/* ---- steps 2-5: plan ---- */

static char *expand_kver(const char *s, const char *kver)
{
	struct strbuf b;

	strbuf_init(&b);
	while (*s) {
		if (startswith(s, "$KVER")) {
			strbuf_puts(&b, kver);
			s += 5;
		} else if (startswith(s, "${KVER}")) {
			strbuf_puts(&b, kver);
			s += 7;
		} else {
			strbuf_putc(&b, *s++);
		}
	}
	return strbuf_steal(&b);
}

/* Step 3: the precompiled directory of a component. Building from source is a
 * later issue: it plugs in here and must produce the same .ko paths. */
static int get_module_file(struct init *in, const struct dk_config_component *c,
			   const struct dk_config_module *cm, struct dk_modfile **out,
			   struct dk_error **err)
{
	_cleanup_free_ char *dir = expand_kver(c->source_dir, in->m->kver);
	_cleanup_free_ char *path = NULL;
	int r;

	if (!dir)
		return dk_error_set(err, ENOMEM, "out of memory");
	/* NAME.ko, else the file name kbuild gives it (nvidia-drm.ko: nvidia_drm). */
	path = dk_strdup_printf("%s/%s.ko", dir, cm->name);
	if (path && !dk_path_exists(path) && strchr(cm->name, '_')) {
		_cleanup_free_ char *alt = dk_strdup_printf("%s/%s.ko", dir, cm->name);

		for (char *p = alt ? strrchr(alt, '/') : NULL; p && *p; p++)
			if (*p == '_')
				*p = '-';
		if (alt && dk_path_exists(alt)) {
			free(path);
			path = TAKE_PTR(alt);
		}
	}
	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_modfile_open(path, out, err);
	if (r == -ENOENT) {
		dk_error_free(err);
		return dk_error_set(err, ENOENT,
				    "step 3 (get): component %s: no %s.ko in %s (%s:%d): "
				    "this image has no modules for kernel %s",
				    c->name, cm->name, dir, in->cfg->path, cm->line,
				    in->m->kver);
	}
	if (r < 0)
		return dk_error_wrap(err, "step 3 (get): component %s", c->name);
	if (!streq((*out)->name, cm->name)) {
		r = dk_error_set(err, EBADMSG,
				 "step 3 (get): component %s: %s holds module %s, not %s",
				 c->name, (*out)->path, (*out)->name, cm->name);
		dk_modfile_free(*out);
		*out = NULL;
		return r;
	}
	return 0;
}

/* Step 4: does the module fit the running kernel? */
static int check_module(struct init *in, const struct imod *im, struct dk_error **err)
{
	const struct dk_modfile *f = im->file;
	size_t kl = strlen(in->m->kver);

	if (!f->vermagic)
		return dk_error_set(err, ENOEXEC,
				    "step 4 (check): %s (%s) has no vermagic: not built "
				    "for a kernel",
				    f->name, f->path);
	if (strncmp(f->vermagic, in->m->kver, kl) != 0 ||
	    (f->vermagic[kl] != ' ' && f->vermagic[kl] != '\0'))
		return dk_error_set(err, ENOEXEC,
				    "step 4 (check): %s (%s) was built for '%s', the "
				    "running kernel is %s",
				    f->name, f->path, f->vermagic, in->m->kver);
	return 0;
}

/* The files stay in->mods' own (opened once, in step 3): only the array goes. */
static void modules_free(struct dk_modfile **mods, size_t n)
{
	(void)n;
	free(mods);
}

/* Step 4 with the kernel's headers (core/check.c: vermagic, every __versions CRC
 * against Module.symvers, missing symbols); without headers on the host, the
 * vermagic release only. */
static int check_modules(struct init *in, struct dk_error **err)
{
	_cleanup_error_ struct dk_error *herr = NULL;
	_cleanup_free_ char *hdr = NULL;
	_cleanup_kernel_ struct dk_kernel *k = NULL;
	struct dk_modfile **mods = NULL;
	struct dk_check_result *res = NULL;
	bool any = false;
	int r;

	for (size_t i = 0; i < in->n_mods; i++)
		any = any || in->mods[i].act == ACT_LOAD || in->mods[i].act == ACT_RELOAD;
	if (!any)
		return 0;
	r = dk_kernel_find_headers(in->m->host_root, in->m->kver, &hdr, &herr);
	if (r < 0) {
		dk_info("step 4 (check): %s; checking the vermagic release only",
			herr ? herr->msg : strerror(-r));
		for (size_t i = 0; i < in->n_mods; i++) {
			const struct imod *im = &in->mods[i];

			if (im->act != ACT_LOAD && im->act != ACT_RELOAD)
				continue;
			r = check_module(in, im, err);
			if (r < 0)
				return dk_error_wrap(err, "component %s", im->comp->name);
			if (plan_add(
				    in, DK_PLAN_CHECK, im->file->name,
				    "vermagic release fits (%s; no kernel headers on the "
				    "host, CRCs not checked)",
				    im->file->vermagic) < 0)
				return dk_error_set(err, ENOMEM, "out of memory");
		}
		return 0;
	}
	r = dk_kernel_open(hdr, &k, err);
	if (r < 0)
		return dk_error_wrap(err, "step 4 (check): kernel headers %s", hdr);
	/* All our modules: they provide symbols to each other. */
	mods = calloc(in->n_mods ? in->n_mods : 1, sizeof(*mods));
	if (!mods)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < in->n_mods; i++)
		mods[i] = in->mods[i].file;
	r = dk_check_modules(k, mods, in->n_mods, &res, err);
	if (r < 0) {
		modules_free(mods, in->n_mods);
		return dk_error_wrap(err, "step 4 (check) against %s", hdr);
	}
	for (size_t i = 0; i < in->n_mods && r >= 0; i++) {
		const struct imod *im = &in->mods[i];
		struct strbuf b;

		if (im->act != ACT_LOAD && im->act != ACT_RELOAD)
			continue;
		if (res[i].fits) {
			if (plan_add(in, DK_PLAN_CHECK, im->file->name,
				     "fits %s (vermagic, symbol CRCs)", hdr) < 0)
				r = dk_error_set(err, ENOMEM, "out of memory");
			continue;
		}
		strbuf_init(&b);
		for (size_t j = 0; j < res[i].n_issues; j++)
			if (res[i].issues[j].fatal)
				strbuf_printf(&b, "%s%s", b.len ? "; " : "",
					      res[i].issues[j].message);
		r = dk_error_set(
			err, ENOEXEC,
			"step 4 (check): component %s: %s (%s) does not fit kernel "
			"%s: %s",
			im->comp->name, im->file->name, im->file->path, in->m->kver,
			b.oom || !b.len ? "see drvkit check" : b.s);
		strbuf_release(&b);
	}
	dk_check_results_free(res, in->n_mods);
	modules_free(mods, in->n_mods);
	return r < 0 ? r : 0;
}

static bool replaces_name(const struct dk_config_component *c, const char *name)
{
	for (size_t i = 0; i < c->n_replaces; i++)
		if (streq(c->replaces[i], name))
			return true;
	return false;
}

static struct imod *find_mod(struct init *in, const char *name)
{
	for (size_t i = 0; i < in->n_mods; i++)
		if (streq(in->mods[i].file->name, name))
			return &in->mods[i];
	return NULL;
}

/* Users of the in-tree RDMA stack that must not be cut off by `replaces`:
 * storage over RDMA and GPUDirect (reference section 5; the OFED container
 * refuses on the same set). protected_modules in the config adds more. */
static const struct {
	const char *name, *what;
} protected_builtin[] = {
	{"ib_iser", "iSCSI over RDMA (iSER) initiator"},
	{"ib_isert", "iSCSI over RDMA (iSER) target"},
	{"ib_srp", "SCSI RDMA Protocol initiator"},
	{"ib_srpt", "SCSI RDMA Protocol target"},
	{"rpcrdma", "NFS over RDMA"},
	{"svcrdma", "NFS over RDMA server"},
	{"xprtrdma", "NFS over RDMA client"},
	{"nvme_rdma", "NVMe over Fabrics RDMA host"},
	{"nvmet_rdma", "NVMe over Fabrics RDMA target"},
	{"nvidia_peermem", "GPUDirect RDMA"},
	{"nv_peer_mem", "GPUDirect RDMA"},
	{"smc", "SMC-R sockets over RDMA"},
	{"rds_rdma", "RDS over RDMA"},
	{"cifs", "SMB client, SMB Direct over RDMA"},
	{"ksmbd", "SMB server, SMB Direct over RDMA"},
};

static const char *protected_what(const struct init *in, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(protected_builtin); i++)
		if (streq(protected_builtin[i].name, name))
			return protected_builtin[i].what;
	for (size_t i = 0; i < in->cfg->n_protected; i++)
		if (streq(in->cfg->protected_modules[i], name))
			return "listed in protected_modules";
	return NULL;
}

static bool replaced_by_config(const struct init *in, const char *name)
{
	for (size_t c = 0; c < in->cfg->n_components; c++)
		if (replaces_name(&in->cfg->components[c], name))
			return true;
	return false;
}

/* Step 6 planned: refuse, before anything is unloaded, while a protected module
 * holds a module that must go. One of ours, or one the config lists under
 * replaces itself, does not protect: the config asked for it to go. */
static int check_protected(struct init *in, struct dk_error **err)
{
	const struct dk_config_component *comp = NULL;
	struct strbuf b;
	int r;

	strbuf_init(&b);
	for (size_t i = 0; i < in->n_remove; i++) {
		const struct iremove *ir = &in->remove[i];
		struct dk_modstate st;

		if (dk_module_state(in->m, ir->name, &st) < 0)
			continue;
		for (size_t h = 0; h < st.n_holders; h++) {
			const char *holder = st.holders[h];
			const char *what = protected_what(in, holder);

			if (!what || find_mod(in, holder) ||
			    replaced_by_config(in, holder))
				continue;
			strbuf_printf(&b, "%s%s (%s) holds %s", b.len ? "; " : "", holder,
				      what, ir->name);
			if (!comp)
				comp = ir->comp;
		}
		dk_modstate_release(&st);
	}
	if (!b.len && !b.oom)
		return 0;
	for (size_t c = 0; c < in->cfg->n_components && !comp; c++)
		if (in->cfg->components[c].n_replaces)
			comp = &in->cfg->components[c];
	r = dk_error_set(
		err, EBUSY,
		"step 6 (replace): refused before unloading anything: component %s "
		"replaces in-tree modules, but %s; unloading them would cut storage or "
		"GPUDirect traffic off this node: unmount the iSER/NFS-RDMA/NVMe-oF/SMB "
		"Direct users and unload those modules (or drain the node) first, then "
		"restart this pod (protected: a built-in list plus protected_modules in "
		"%s)",
		comp ? comp->name : "?", b.oom ? "a protected module holds them" : b.s,
		in->cfg->path);
	strbuf_release(&b);
	return r;
}

static int plan(struct init *in, struct dk_error **err)
{
	const struct dk_config *cfg = in->cfg;
	_cleanup_free_ size_t *order = NULL;
	_cleanup_free_ const struct dk_config_component **fcomp = NULL;
	_cleanup_free_ const struct dk_config_module **fcm = NULL;
	_cleanup_kernel_policy_ struct dk_kernel_policy kp = {0};
	_cleanup_free_ char *policy = NULL;
	char **want = NULL, **rm = NULL;
	size_t n_want = 0, n_rm = 0, total = 0;
	bool enforcing = false;
	int r;

	/* Step 2: detect. The kernel release and the host tree. */
	if (cfg->kernel)
		in->ctx->kernel = cfg->kernel;
	in->ctx->host_root = cfg->host_root;
	r = dk_modctx_new(in->ctx, &in->m, err);
	if (r < 0)
		return dk_error_wrap(err, "step 2 (detect)");
	if (in->plan && !(in->plan->kernel = strdup(in->m->kver)))
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_kernel_policy_read(in->ctx, in->m->kver, &kp, err);
	if (r < 0)
		return dk_error_wrap(err, "step 2 (detect)");
	policy = dk_kernel_policy_enforcement(&kp);
	enforcing = dk_kernel_policy_enforcing(&kp);
	dk_info("step 2 (detect): kernel %s, host modules %s, sysfs %s, %s", in->m->kver,
		in->m->moddir, in->m->sysfs, policy ? policy : "");
	if (!dk_path_exists(in->m->moddir))
		dk_warn("step 2 (detect): %s does not exist: in-tree dependencies and "
			"replaced modules cannot be loaded; mount the host's "
			"/lib/modules "
			"and set host_root",
			in->m->moddir);
	if (enforcing && !cfg->signing)
		dk_warn("step 2 (detect): the kernel enforces module signatures (%s) and "
			"no signing key is configured: only modules already signed by a "
			"trusted key will load",
			policy ? policy : "");
	r = dk_state_read(in->state_path, &in->state, err);
	if (r < 0) {
		dk_warn("step 2 (detect): ignoring the previous state: %s: modules a "
			"previous drvkit init loaded count as loaded by someone else "
			"(left alone on exit)",
			(*err)->msg);
		dk_error_free(err);
	}
	if (in->state.kernel && !streq(in->state.kernel, in->m->kver)) {
		dk_info("the state file is for kernel %s, not %s: ignoring it",
			in->state.kernel, in->m->kver);
		dk_state_release(&in->state);
	}
	if (in->state.n_modules)
		dk_info("state file: a previous instance (pid %ld) loaded %zu modules",
			in->state.pid, in->state.n_modules);

	/* Step 3: get the files. */
	for (size_t i = 0; i < cfg->n_components; i++)
		total += cfg->components[i].n_modules;
	in->files = calloc(total ? total : 1, sizeof(*in->files));
	fcomp = calloc(total ? total : 1, sizeof(*fcomp));
	fcm = calloc(total ? total : 1, sizeof(*fcm));
	order = calloc(total ? total : 1, sizeof(*order));
	in->mods = calloc(total ? total : 1, sizeof(*in->mods));
	if (!in->files || !fcomp || !fcm || !order || !in->mods)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_components; i++) {
		const struct dk_config_component *c = &cfg->components[i];

		for (size_t j = 0; j < c->n_modules; j++) {
			r = get_module_file(in, c, &c->modules[j],
					    &in->files[in->n_files], err);
			if (r < 0)
				return r;
			fcomp[in->n_files] = c;
			fcm[in->n_files] = &c->modules[j];
			in->n_files++;
		}
	}
	r = dk_module_order(in->m, in->files, in->n_files, order, err);
	if (r < 0)
		return dk_error_wrap(err, "step 2 (plan)");

	/* Step 2: what to do with each, in load order. */
	for (size_t k = 0; k < in->n_files; k++) {
		struct imod *im = &in->mods[in->n_mods++];
		const struct dk_state_module *prev;
		_cleanup_free_ char *why = NULL;

		im->file = in->files[order[k]];
		im->comp = fcomp[order[k]];
		im->cm = fcm[order[k]];
		prev = dk_state_find_module(&in->state, im->file->name);
		switch (dk_module_match(in->m, im->file, &why)) {
		case DK_MATCH_ABSENT:
			im->act = ACT_LOAD;
			break;
		case DK_MATCH_SAME:
			im->act = prev ? ACT_SKIP_OURS : ACT_SKIP_FOREIGN;
			r = plan_add(
				in, DK_PLAN_SKIP, im->file->name, "%s%s", why,
				prev ? " (loaded by a previous drvkit init: adopted)"
				     : " (not loaded by drvkit: left alone on exit)");
			if (r < 0)
				return dk_error_set(err, ENOMEM, "out of memory");
			break;
		case DK_MATCH_BUILTIN:
			return dk_error_set(
				err, EEXIST,
				"step 2 (plan): component %s: %s is built into "
				"kernel %s and cannot be replaced: remove it from "
				"the component's modules in %s, or use a kernel "
				"that builds it as a module",
				im->comp->name, im->file->name, in->m->kver, cfg->path);
		case DK_MATCH_DIFFERENT:
			if (replaces_name(im->comp, im->file->name) || prev ||
			    cfg->unload_other_versions) {
				im->act = ACT_RELOAD;
				break;
			}
			return dk_error_set(
				err, EEXIST,
				"step 2 (plan): component %s: %s is already loaded and "
				"differs (%s); not unloading it because "
				"unload_other_versions is false: set it to true, list %s "
				"under replaces, or unload it first",
				im->comp->name, im->file->name, why, im->file->name);
		}
	}

	/* Step 6 planned: what must be unloaded before loading. */
	for (size_t i = 0; i < cfg->n_components && r >= 0; i++) {
		const struct dk_config_component *c = &cfg->components[i];

		for (size_t j = 0; j < c->n_replaces; j++) {
			struct imod *ours = find_mod(in, c->replaces[j]);

			if (ours &&
			    (ours->act == ACT_SKIP_OURS || ours->act == ACT_SKIP_FOREIGN))
				continue; /* ours is what is loaded */
			want = reallocarray(want, n_want + 1, sizeof(char *));
			if (!want)
				return dk_error_set(err, ENOMEM, "out of memory");
			want[n_want++] = c->replaces[j];
		}
	}
	for (size_t i = 0; i < in->n_mods; i++) {
		if (in->mods[i].act != ACT_RELOAD)
			continue;
		want = reallocarray(want, n_want + 1, sizeof(char *));
		if (!want)
			return dk_error_set(err, ENOMEM, "out of memory");
		want[n_want++] = in->mods[i].file->name;
	}
	r = dk_module_removal_order(in->m, want, n_want, true, &rm, &n_rm, err);
	free(want);
	if (r < 0)
		return dk_error_wrap(err, "step 2 (plan)");
	in->remove = calloc(n_rm ? n_rm : 1, sizeof(*in->remove));
	if (!in->remove) {
		dk_names_free(rm, n_rm);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_rm; i++) {
		struct iremove *ir = &in->remove[in->n_remove++];
		struct imod *ours = find_mod(in, rm[i]);

		ir->name = TAKE_PTR(rm[i]);
		for (size_t c = 0; c < cfg->n_components && !ir->comp; c++)
			if (replaces_name(&cfg->components[c], ir->name))
				ir->comp = &cfg->components[c];
		if (ours && ours->act != ACT_RELOAD && ours->act != ACT_LOAD) {
			/* One of ours uses a replaced module: it goes and comes back. */
			ours->act = ACT_RELOAD;
		}
		r = plan_add(in, DK_PLAN_UNLOAD, ir->name, "%s",
			     ours	? "another build of this module is loaded"
			     : ir->comp ? "in-tree module replaced by this config"
					: "uses a module being replaced");
		if (r < 0)
			break;
	}
	free(rm);
	if (r < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = check_protected(in, err);
	if (r < 0)
		return r;
	if (in->n_remove) {
		_cleanup_free_ char *why = kp.module_unload.value == DK_MODULE_UNLOAD_NO
						   ? dk_kernel_policy_no_unload_why(&kp)
						   : NULL;

		if (kp.module_unload.value == DK_MODULE_UNLOAD_NO)
			return dk_error_set(
				err, EOPNOTSUPP,
				"step 2 (plan): %s must be unloaded first, but "
				"%s; reboot the node with this driver preloaded "
				"or use a kernel with CONFIG_MODULE_UNLOAD",
				in->remove[0].name, why ? why : "it cannot");
	}

	/* Step 4: check, then step 5 planned, then the loads. */
	r = check_modules(in, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < in->n_mods; i++) {
		struct imod *im = &in->mods[i];
		_cleanup_free_ char *params = NULL;

		if (im->act != ACT_LOAD && im->act != ACT_RELOAD)
			continue;
		if (cfg->signing &&
		    plan_add(in, DK_PLAN_SIGN, im->file->name, "with %s (%s)",
			     cfg->signing->cert, cfg->signing->hash) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
		params = dk_params_string(im->cm->params, im->cm->n_params);
		if (!params)
			return dk_error_set(err, ENOMEM, "out of memory");
		free(im->file->params);
		im->file->params = *params ? TAKE_PTR(params) : NULL;
		if (plan_add(in, DK_PLAN_LOAD, im->file->name, "%s%s%s%s (component %s)",
			     im->file->path, im->file->params ? " [" : "",
			     im->file->params ? im->file->params : "",
			     im->file->params ? "]" : "", im->comp->name) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
	}
	if (cfg->firmware_path &&
	    plan_add(in, DK_PLAN_FIRMWARE, cfg->firmware_path,
		     "firmware search path (kept if one is set already)") < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = n_rm; i-- > 0;) {
		const struct iremove *ir = &in->remove[i];

		if (ir->comp && ir->comp->restore &&
		    plan_add(in, DK_PLAN_RESTORE, ir->name, "on exit (component %s)",
			     ir->comp->name) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

static int init_setup(struct init *in, struct dk_ctx *ctx, const struct dk_config *cfg,
		      struct dk_error **err)
{
	memset(in, 0, sizeof(*in));
	in->ctx = ctx;
	in->cfg = cfg;
	in->lock_fd = -1;
	in->sfd = -1;
	in->t0 = dk_now_ms();
	in->state_path = dk_path_join(cfg->state_dir, "state.json");
	in->status_path = dk_path_join(cfg->state_dir, "status.json");
	in->lock_path = dk_path_join(cfg->state_dir, "lock");
	if (!in->state_path || !in->status_path || !in->lock_path)
		return dk_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int dk_init_plan(struct dk_ctx *ctx, const struct dk_config *cfg, struct dk_plan *p,
		 struct dk_error **err)
{
	_cleanup_(init_release) struct init in = {.lock_fd = -1, .sfd = -1};
	int r;

	memset(p, 0, sizeof(*p));
	r = init_setup(&in, ctx, cfg, err);
	if (r < 0)
		return r;
	in.plan = p;
	r = plan(&in, err);
	if (r < 0)
		dk_plan_release(p);
	return r;
}

/* Step 5: sign what we load when a key is configured. The source directory may
 * be read-only (an image layer): signed copies go to <state_dir>/signed/. */
static int sign_modules(struct init *in, struct dk_error **err)
{
	const struct dk_config_signing *cs = in->cfg->signing;
	struct dk_signer_opts so = {0};
	_cleanup_signer_ struct dk_signer *signer = NULL;
	_cleanup_free_ char *dir = NULL;
	int64_t t = dk_now_ms();
	size_t n = 0;
	int r;

	if (!cs)
		return 0;
	so.key_path = cs->key;
	so.cert_path = cs->cert;
	so.hash = cs->hash;
	so.passphrase_file = cs->passphrase_file;
	dir = dk_path_join(in->cfg->state_dir, "signed");
	if (!dir)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < in->n_mods; i++) {
		struct imod *im = &in->mods[i];
		_cleanup_free_ char *base = NULL, *out = NULL;

		if (im->act != ACT_LOAD && im->act != ACT_RELOAD)
			continue;
		if (!signer) {
			r = dk_signer_new(&so, &signer, err);
			if (r < 0)
				return dk_error_wrap(err, "step 5 (sign)");
			r = dk_mkdir_p(dir, 0700);
			if (r < 0)
				return dk_error_set(err, -r,
						    "step 5 (sign): create %s: %s", dir,
						    strerror(-r));
		}
		base = dk_strdup_printf("%s.ko", im->file->name);
		out = base ? dk_path_join(dir, base) : NULL;
		if (!out)
			return dk_error_set(err, ENOMEM, "out of memory");
		r = dk_sign_file(signer, im->file->path, out, DK_SIGN_RESIGN, err);
		if (r < 0)
			return dk_error_wrap(err, "step 5 (sign): component %s: %s",
					     im->comp->name, im->file->name);
		free(im->file->path);
		im->file->path = TAKE_PTR(out);
		n++;
	}
	if (n)
		dk_info("step 5 (sign): %zu modules signed with %s (%s) into %s (%lld "
			"ms)",
			n, cs->cert, cs->hash, dir, (long long)(dk_now_ms() - t));
	return 0;
}

/* ---- steps 6-8 ---- */

static int replace_modules(struct init *in, struct dk_error **err)
{
	struct dk_remove_opts ro = {dk_now_ms() + (int64_t)in->cfg->grace_period * 1000,
				    shutdown_wait, in};
	int r;

	for (size_t i = 0; i < in->n_remove; i++) {
		struct iremove *ir = &in->remove[i];
		struct imod *ours = find_mod(in, ir->name);
		bool restore = false;

		ir->was_ours = dk_state_find_module(&in->state, ir->name) != NULL;
		r = dk_module_remove(in->m, ir->name, &ro, err);
		if (r < 0 && ir->comp)
			return dk_error_wrap(err, "step 6 (replace): component %s",
					     ir->comp->name);
		if (r < 0)
			return dk_error_wrap(err, "step 6 (replace): %s",
					     ours ? "another build of one of ours"
						  : "a user of a replaced module");
		ir->removed = r == 0;
		dk_state_remove_module(&in->state, ir->name);
		if (!ir->was_ours) {
			/* What we unload and did not load is remembered; users of
			 * replaced modules come back when a replacing component
			 * restores. */
			if (ir->comp)
				restore = ir->comp->restore;
			else if (!ours)
				for (size_t c = 0; c < in->cfg->n_components; c++)
					restore = restore ||
						  (in->cfg->components[c].n_replaces &&
						   in->cfg->components[c].restore);
			if (dk_state_add_replaced(&in->state, ir->name,
						  ir->comp ? ir->comp->name : NULL,
						  restore) < 0)
				return dk_error_set(err, ENOMEM, "out of memory");
		}
		r = save_state(in, err);
		if (r < 0)
			return dk_error_wrap(err, "step 6 (replace)");
		if (in->skip_waits)
			in->term = true;
	}
	return 0;
}

static int set_firmware_path(struct init *in)
{
	_cleanup_free_ char *p =
		dk_path_join(in->m->sysfs, "module/firmware_class/parameters/path");
	_cleanup_free_ char *cur = NULL;
	_cleanup_close_ int fd = -1;
	const char *want = in->cfg->firmware_path;
	int r;

	if (!p)
		return -ENOMEM;
	r = dk_read_line(p, &cur);
	if (r < 0) {
		dk_warn("step 7 (firmware): cannot read %s: %s; firmware search path "
			"not set to %s: mount the host's /sys, or boot with "
			"firmware_class.path=%s",
			p, strerror(-r), want, want);
		return 0;
	}
	if (*cur) {
		if (!streq(cur, want))
			dk_warn("step 7 (firmware): the firmware search path is already "
				"'%s'; keeping it (wanted '%s')",
				cur, want);
		return 0;
	}
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, want, strlen(want)) < 0) {
		dk_warn("step 7 (firmware): write %s: %s; firmware search path not set "
			"to %s: mount /sys read-write, or boot with "
			"firmware_class.path=%s",
			p, strerror(errno), want, want);
		return 0;
	}
	dk_info("step 7 (firmware): search path set to %s", want);
	return 0;
}

static bool is_loaded(const struct dk_modctx *m, const char *name)
{
	struct dk_modstate st;
	bool loaded;

	if (dk_module_state(m, name, &st) < 0)
		return false;
	loaded = st.state != DK_LOADED_NO && st.state != DK_LOADED_BUILTIN;
	dk_modstate_release(&st);
	return loaded;
}

/* Inserts one of ours and remembers the in-tree dependencies that the insert
 * loaded (even when the insert itself then failed), so a failed start can
 * unload them too. */
static int insert_tracked(struct init *in, const struct imod *im, struct dk_error **err)
{
	const struct dk_modfile *f = im->file;
	bool *absent = calloc(f->n_depends ? f->n_depends : 1, sizeof(bool));
	int r;

	if (!absent)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < f->n_depends; i++)
		absent[i] =
			!find_mod(in, f->depends[i]) && !is_loaded(in->m, f->depends[i]);
	r = dk_module_insert(in->m, f, err);
	for (size_t i = 0; i < f->n_depends; i++) {
		char **np;

		if (!absent[i] || !is_loaded(in->m, f->depends[i]))
			continue;
		np = realloc(in->probed, (in->n_probed + 1) * sizeof(*np));
		if (np) {
			in->probed = np;
			np[in->n_probed] = strdup(f->depends[i]);
			if (np[in->n_probed])
				in->n_probed++;
		}
	}
	free(absent);
	return r;
}

static int load_modules(struct init *in, struct dk_error **err)
{
	for (size_t i = 0; i < in->n_mods && !in->term; i++) {
		struct imod *im = &in->mods[i];
		int r;

		switch (im->act) {
		case ACT_SKIP_FOREIGN:
			im->done = true;
			continue;
		case ACT_SKIP_OURS:
			im->done = true;
			break;
		case ACT_LOAD:
		case ACT_RELOAD:
			r = insert_tracked(in, im, err);
			if (r < 0)
				return dk_error_wrap(err, "step 7 (load): component %s",
						     im->comp->name);
			im->done = true;
			im->inserted = true;
			break;
		}
		if (dk_state_add_module(&in->state, im->file->name, im->comp->name,
					im->file->path, im->file->srcversion,
					im->file->version) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
		r = save_state(in, err);
		if (r < 0)
			return dk_error_wrap(err, "step 8 (state)");
		if (drain_signals(in))
			in->term = true;
	}
	return 0;
}

/* ---- step 10: shutdown ---- */

static int shutdown_modules(struct init *in, struct strbuf *failure)
{
	int64_t start = dk_now_ms();
	struct dk_remove_opts ro = {start + (int64_t)in->cfg->grace_period * 1000,
				    shutdown_wait, in};
	_cleanup_error_ struct dk_error *err = NULL;
	int r;

	if (unlink(in->cfg->ready_file) == 0)
		dk_info("step 10 (stop): removed %s", in->cfg->ready_file);
	write_status(in, "stopping", NULL);
	if (!in->m)
		return 0;
	/* Our modules, in reverse load order. */
	while (in->state.n_modules > 0) {
		const char *name = in->state.modules[in->state.n_modules - 1].name;

		r = dk_module_remove(in->m, name, &ro, &err);
		if (r < 0) {
			strbuf_printf(failure, "step 10 (stop): %s", err->msg);
			if (err->errnum != EBUSY && err->hint)
				strbuf_printf(failure, " (%s)", err->hint);
			return -err->errnum;
		}
		if (r == 1)
			dk_info("step 10 (stop): %s was not loaded any more", name);
		dk_state_remove_module(&in->state, name);
		if (save_state(in, &err) < 0) {
			dk_warn("%s", err->msg);
			dk_error_free(&err);
		}
	}
	/* Replaced in-tree modules, providers first. */
	while (in->state.n_replaced > 0) {
		const struct dk_state_replaced *rp =
			&in->state.replaced[in->state.n_replaced - 1];
		_cleanup_free_ char *name = strdup(rp->name);

		if (!name)
			return -ENOMEM;
		if (rp->restore) {
			if (dk_now_ms() >= ro.deadline_ms) {
				strbuf_printf(failure,
					      "step 10 (restore): the grace period ended "
					      "before in-tree %s could be reloaded: load "
					      "it by hand (modprobe %s) and raise "
					      "grace_period",
					      name, name);
				return -ETIMEDOUT;
			}
			r = dk_module_probe(in->m, name, &err);
			if (r < 0) {
				strbuf_printf(failure, "step 10 (restore): %s", err->msg);
				return -err->errnum;
			}
		}
		dk_state_remove_replaced(&in->state, name);
		if (save_state(in, &err) < 0) {
			dk_warn("%s", err->msg);
			dk_error_free(&err);
		}
	}
	if (unlink(in->state_path) < 0 && errno != ENOENT)
		dk_warn("step 10 (stop): remove the state file %s: %s: the next "
			"drvkit init finds nothing of it loaded and ignores it",
			in->state_path, strerror(errno));
	dk_info("step 10 (stop): everything unloaded in %lld ms",
		(long long)(dk_now_ms() - start));
	return 0;
}

static int stop(struct init *in)
{
	struct strbuf failure;
	int r;

	strbuf_init(&failure);
	r = shutdown_modules(in, &failure);
	if (r < 0) {
		const char *msg = failure.len ? failure.s : strerror(-r);

		dk_err("%s", msg);
		write_termination_log(in, msg);
		write_status(in, "failed", msg);
		strbuf_release(&failure);
		return DK_EXIT_FAILURE;
	}
	write_status(in, "stopped", NULL);
	strbuf_release(&failure);
	return DK_EXIT_OK;
}

static void list_add(struct strbuf *b, const char *name, const char *why)
{
	strbuf_printf(b, "%s%s%s%s%s", b->len ? ", " : "", name, why ? " (" : "",
		      why ? why : "", why ? ")" : "");
}

/* A start that failed once step 6 began: put the node back as this run found
 * it, within grace_period. Unloads what this run inserted (reverse load order)
 * and the in-tree dependencies it pulled in, then reloads what step 6 removed
 * (providers first) whatever `restore:` says: `restore: false` is for a clean
 * stop, where the operator chose to leave the node without the in-tree stack;
 * a failed start provides nothing in its place, and a node that lost its
 * network or storage stack to a bad driver image is worse off than one that
 * keeps its in-tree drivers until the next try. Nothing this run did not load
 * is unloaded; modules adopted from a previous instance stay, in the state
 * file. The outcome is appended to *err. */
static void rollback(struct init *in, struct dk_error **err)
{
	int64_t start = dk_now_ms();
	struct dk_remove_opts ro = {start + (int64_t)in->cfg->grace_period * 1000,
				    shutdown_wait, in};
	struct strbuf unloaded, restored, left, not_restored, kept;
	bool acted = false, ours_left = false;
	int r;

	strbuf_init(&unloaded);
	strbuf_init(&restored);
	strbuf_init(&left);
	strbuf_init(&not_restored);
	strbuf_init(&kept);
	dk_warn("start failed: rolling back what this run changed (within %d s)",
		in->cfg->grace_period);
	for (size_t i = in->n_mods; i-- > 0;) {
		struct imod *im = &in->mods[i];
		_cleanup_error_ struct dk_error *e = NULL;

		if (im->act == ACT_SKIP_OURS &&
		    dk_state_find_module(&in->state, im->file->name))
			list_add(&kept, im->file->name, NULL);
		if (!im->inserted)
			continue;
		acted = true;
		r = dk_module_remove(in->m, im->file->name, &ro, &e);
		if (r < 0) {
			list_add(&left, im->file->name, e->msg);
			ours_left = true;
			continue;
		}
		im->inserted = false;
		dk_state_remove_module(&in->state, im->file->name);
		list_add(&unloaded, im->file->name, NULL);
	}
	for (size_t i = in->n_probed; i-- > 0;) {
		_cleanup_error_ struct dk_error *e = NULL;

		acted = true;
		r = dk_module_remove(in->m, in->probed[i], &ro, &e);
		if (r < 0)
			list_add(&left, in->probed[i], e->msg);
		else
			list_add(&unloaded, in->probed[i], "in-tree dependency");
	}
	for (size_t i = in->n_remove; i-- > 0;) {
		const struct iremove *ir = &in->remove[i];
		_cleanup_error_ struct dk_error *e = NULL;

		if (!ir->removed)
			continue;
		acted = true;
		if (ir->was_ours) {
			list_add(&not_restored, ir->name,
				 "an earlier build loaded by a previous drvkit init; its "
				 "file may be gone");
			continue;
		}
		if (ours_left) {
			list_add(&not_restored, ir->name,
				 "modules of this run are still loaded");
			continue;
		}
		if (dk_now_ms() >= ro.deadline_ms) {
			list_add(&not_restored, ir->name, "the grace period ended");
			continue;
		}
		r = dk_module_probe(in->m, ir->name, &e);
		if (r < 0) {
			list_add(&not_restored, ir->name, e->msg);
			continue;
		}
		dk_state_remove_replaced(&in->state, ir->name);
		list_add(&restored, ir->name, NULL);
	}

	/* The state file keeps describing whatever is still loaded or replaced, so
	 * the next instance adopts or restores it; none left: no state. */
	if (in->state.n_modules || in->state.n_replaced) {
		_cleanup_error_ struct dk_error *e = NULL;

		if (save_state(in, &e) < 0)
			dk_warn("rollback: %s", e->msg);
	} else if (unlink(in->state_path) < 0 && errno != ENOENT) {
		dk_warn("rollback: remove %s: %s", in->state_path, strerror(errno));
	}

	if (!acted) {
		dk_error_append(err, "\nnothing to roll back: this run had not loaded or "
				     "unloaded any module yet");
	} else if (!left.len && !not_restored.len) {
		dk_error_append(err, "\nrolled back in %lld ms: unloaded %s; restored %s",
				(long long)(dk_now_ms() - start),
				unloaded.len ? unloaded.s : "nothing",
				restored.len ? restored.s
					     : "nothing (nothing was replaced)");
	} else {
		dk_error_append(err, "\nrollback incomplete: unloaded %s; restored %s",
				unloaded.len ? unloaded.s : "nothing",
				restored.len ? restored.s : "nothing");
		if (left.len)
			dk_error_append(err, "; still loaded: %s", left.s);
		if (not_restored.len)
			dk_error_append(err, "; not restored: %s", not_restored.s);
		dk_error_append(err,
				"\n%s describes what is left: the next drvkit init "
				"adopts or cleans it up; or unload by hand (drvkit "
				"unload NAME) once the users are gone, and load the "
				"in-tree modules (modprobe NAME)",
				in->state_path);
	}
	if (kept.len)
		dk_error_append(err,
				"\nkept loaded: %s (loaded by a previous drvkit init, "
				"not by this run; listed in %s)",
				kept.s, in->state_path);
	if (unloaded.oom || restored.oom || left.oom || not_restored.oom || kept.oom)
		dk_error_append(err, "\n(out of memory while describing the rollback)");
	strbuf_release(&unloaded);
	strbuf_release(&restored);
	strbuf_release(&left);
	strbuf_release(&not_restored);
	strbuf_release(&kept);
}

/* Records a start-up failure where Kubernetes shows it, then returns it. */
static int startup_failed(struct init *in, int r, struct dk_error **err)
{
	struct strbuf b;
	const char *hint = dk_error_hint_of(*err, -r, true);

	strbuf_init(&b);
	strbuf_printf(&b, "drvkit init: %s", *err ? (*err)->msg : strerror(-r));
	if (hint && !strstr(b.s ? b.s : "", hint))
		strbuf_printf(&b, "\nhint: %s", hint);
	strbuf_putc(&b, '\n');
	if (!b.oom)
		write_termination_log(in, b.s);
	if (in->lock_fd >= 0)
		write_status(in, "failed", *err ? (*err)->msg : strerror(-r));
	strbuf_release(&b);
	return r;
}

/* A start-up failure once modules may have changed: roll back, then record. */
static int changed_failed(struct init *in, int r, struct dk_error **err)
{
	if (!*err)
		dk_error_set(err, -r, "%s", strerror(-r));
	rollback(in, err);
	return startup_failed(in, r, err);
}

int dk_init_run(struct dk_ctx *ctx, const struct dk_config *cfg, struct dk_error **err)
{
	_cleanup_(init_release) struct init in = {.lock_fd = -1, .sfd = -1};
	int64_t t;
	int r;

	r = init_setup(&in, ctx, cfg, err);
	if (r < 0)
		return r;
	r = signals_setup(&in, err);
	if (r < 0)
		return startup_failed(&in, r, err);

	t = dk_now_ms();
	r = take_lock(&in, err);
	if (r < 0)
		return startup_failed(&in, r, err);
	/* A ready file left by a killed predecessor must not say ready now. */
	if (unlink(cfg->ready_file) == 0)
		dk_info("removed stale %s", cfg->ready_file);
	dk_info("step 1 (lock): %s held (%lld ms)", in.lock_path,
		(long long)(dk_now_ms() - t));

	t = dk_now_ms();
	r = plan(&in, err);
	if (r < 0)
		return startup_failed(&in, r, err);
	dk_info("steps 2-5 (detect, plan, get, check): %zu modules, %zu to unload first "
		"(%lld ms)",
		in.n_mods, in.n_remove, (long long)(dk_now_ms() - t));
	write_status(&in, "starting", NULL);
	r = sign_modules(&in, err);
	if (r < 0)
		return startup_failed(&in, r, err);
	if (drain_signals(&in))
		return stop(&in);

	t = dk_now_ms();
	r = replace_modules(&in, err);
	if (r < 0)
		return changed_failed(&in, r, err);
	if (in.n_remove)
		dk_info("step 6 (replace): %zu modules unloaded (%lld ms)", in.n_remove,
			(long long)(dk_now_ms() - t));
	if (in.term || drain_signals(&in))
		return stop(&in);

	t = dk_now_ms();
	r = load_modules(&in, err);
	if (r < 0)
		return changed_failed(&in, r, err);
	if (in.term)
		return stop(&in);
	if (cfg->firmware_path)
		(void)set_firmware_path(&in);
	dk_info("step 7 (load): %zu modules (%lld ms)", in.n_mods,
		(long long)(dk_now_ms() - t));

	t = dk_now_ms();
	/* Steps 6-7 saved the state after each change; write it here only when
	 * nothing was (every module loaded by someone else already). */
	r = in.state_saved ? 0 : save_state(&in, err);
	if (r < 0)
		return changed_failed(&in, r, err);
	write_status(&in, "ready", NULL);
	r = mkdir_parent(cfg->ready_file);
	if (r >= 0)
		r = dk_write_file_atomic(cfg->ready_file, "", 0, 0644);
	if (r < 0) {
		dk_error_set(err, -r,
			     "step 8 (ready): write %s: %s: check that its directory "
			     "is a writable mount",
			     cfg->ready_file, strerror(-r));
		(void)unlink(cfg->ready_file);
		return changed_failed(&in, r, err);
	}
	dk_info("step 8 (ready): %s written (%lld ms); ready %lld ms after start",
		cfg->ready_file, (long long)(dk_now_ms() - t),
		(long long)(dk_now_ms() - in.t0));

	/* Step 9: keep little memory while we wait. */
	dk_modctx_drop_caches(in.m);
	for (size_t i = 0; i < in.n_files; i++) {
		free(in.files[i]->params);
		in.files[i]->params = NULL;
		dk_modfile_drop_image(in.files[i]);
	}
	trim_memory();
	dk_info("step 9 (wait): blocking on signals (pid %d)", (int)getpid());
	for (;;) {
		struct pollfd pfd = {in.sfd, POLLIN, 0};

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			dk_warn("step 9 (wait): poll on the signalfd: %s",
				strerror(errno));
		if (drain_signals(&in))
			break;
	}
	return stop(&in);
}

/* ---- status ---- */

const char *dk_status_check_str(enum dk_status_check c)
{
	switch (c) {
	case DK_STATUS_LOADED:
		return "loaded";
	case DK_STATUS_MISSING:
		return "missing";
	case DK_STATUS_DIFFERENT:
		return "different";
	}
	return "?";
}

enum dk_status_check dk_status_check_module(const struct dk_modctx *m,
					    const struct dk_state_module *sm,
					    char **detail)
{
	struct dk_modstate st;
	enum dk_status_check res = DK_STATUS_LOADED;
	struct strbuf b;

	strbuf_init(&b);
	if (dk_module_state(m, sm->name, &st) < 0 || st.state == DK_LOADED_NO ||
	    st.state == DK_LOADED_BUILTIN) {
		res = DK_STATUS_MISSING;
		strbuf_puts(&b, "not loaded");
	} else if (sm->srcversion && st.srcversion &&
		   !streq(sm->srcversion, st.srcversion)) {
		res = DK_STATUS_DIFFERENT;
		strbuf_printf(&b, "kernel has srcversion %s, drvkit loaded %s",
			      st.srcversion, sm->srcversion);
	} else if (!sm->srcversion && sm->version && st.version &&
		   !streq(sm->version, st.version)) {
		res = DK_STATUS_DIFFERENT;
		strbuf_printf(&b, "kernel has version %s, drvkit loaded %s", st.version,
			      sm->version);
	} else {
		strbuf_printf(&b, "%s, refcnt %ld", dk_loaded_str(st.state), st.refcnt);
	}
	dk_modstate_release(&st);
	if (detail)
		*detail = strbuf_steal(&b);
	else
		strbuf_release(&b);
	return res;
}
