/* SPDX-License-Identifier: Apache-2.0 */
/* The files init keeps on the node: the lock, state.json, status.json, the ready
 * file and the termination log. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "init/init-run.h"

#define TERMINATION_LOG_MAX 4096

/* Opens (creating) a file init keeps on the node, in a directory others may be able
 * to write: a symlink there is never followed, the open never blocks (a FIFO), and
 * only a regular file with no other names (hard links) is accepted. Never truncates
 * on open: the caller does once the file is known to be ours. */
static int open_node_file(const char *path, int flags, const char *key,
			  struct dk_error **err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int e, fl;

	fd = open(path, flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
		  0644);
	if (fd < 0 && errno == ELOOP)
		return dk_error_set(err, ELOOP,
				    "%s is a symlink: refusing to follow it (someone "
				    "may have planted it: remove it)",
				    path);
	if (fd < 0 && errno == ENXIO)
		errno = EBADMSG; /* a FIFO without a reader */
	if (fd < 0 || fstat(fd, &st) < 0) {
		e = errno;
		return dk_error_set(err, e, "open %s: %s%s%s", path,
				    e == EBADMSG ? "a FIFO, not a regular file"
						 : strerror(e),
				    e == EBADMSG ? ": give the path of a file" : "",
				    e == EBADMSG ? "" : key);
	}
	if (!S_ISREG(st.st_mode))
		return dk_error_set(err, EBADMSG,
				    "%s is %s, not a regular file: give the path of a "
				    "file",
				    path, dk_file_type_str(st.st_mode));
	if (st.st_nlink > 1)
		return dk_error_set(err, EPERM,
				    "%s has other hard links: refusing to write it "
				    "(someone may have planted it: remove it)",
				    path);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return dk_error_set(err, errno, "%s: %s", path, strerror(errno));
	return TAKE_FD(fd);
}

/* What a predecessor killed between an atomic write's temporary and its rename left
 * next to the files it writes: we hold the lock, so none is being written. */
static void remove_stale_temps(struct dk_init *in)
{
	const char *const paths[] = {in->state_path, in->status_path,
				     in->cfg->ready_file};

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		int n = paths[i] ? dk_remove_stale_temps_of(paths[i]) : 0;

		if (n > 0)
			dk_info("%s: removed %d temporary file%s of %s left by an "
				"instance "
				"killed while writing it",
				PHASE(LOCK), n, n == 1 ? "" : "s", paths[i]);
	}
}

int dk_init_lock(struct dk_init *in, struct dk_error **err)
{
	_cleanup_free_ char *pid = NULL;
	char buf[32];
	int r, e;

	r = dk_mkdir_p(in->cfg->state_dir, 0755);
	if (r < 0)
		return dk_error_set(err, -r, "%s: create state dir %s: %s", PHASE(LOCK),
				    in->cfg->state_dir, strerror(-r));
	in->lock_fd = open_node_file(in->lock_path, O_RDWR,
				     ": state_dir must be a writable directory (a "
				     "hostPath mount kept across restarts)",
				     err);
	if (in->lock_fd < 0)
		return dk_error_wrap(err, "%s", PHASE(LOCK));
	if (flock(in->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno;
		if (e != EWOULDBLOCK)
			return dk_error_set(err, e, "%s: lock %s: %s", PHASE(LOCK),
					    in->lock_path, strerror(e));
		(void)!dk_read_line(in->lock_path, &pid);
		return dk_error_set(err, EBUSY,
				    "%s: another drvkit init (pid %s) holds %s: only one "
				    "instance may run per node",
				    PHASE(LOCK), pid && *pid ? pid : "unknown",
				    in->lock_path);
	}
	remove_stale_temps(in);
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(in->lock_fd, 0) < 0 || pwrite(in->lock_fd, buf, strlen(buf), 0) < 0)
		dk_warn("%s: write pid to %s: %s (the lock is held; a second instance "
			"will "
			"not be able to name this pid)",
			PHASE(LOCK), in->lock_path, strerror(errno));
	return 0;
}

void dk_init_termination_log(const struct dk_init *in, const char *msg)
{
	const char *path = in->cfg->termination_log;
	_cleanup_error_ struct dk_error *e = NULL;
	_cleanup_close_ int fd = -1;
	size_t len = strlen(msg);

	if (!path)
		return;
	fd = open_node_file(path, O_WRONLY, ": its directory must be writable", &e);
	if (fd < 0 || ftruncate(fd, 0) < 0) {
		dk_warn("cannot write the termination log: %s: Kubernetes will not "
			"show why init stopped; check termination_log in %s",
			e ? e->msg : strerror(errno), in->cfg->path);
		return;
	}
	/* Kubernetes reads at most 4096 bytes; it is a plain file (often a bind
	 * mount), so it is written in place, not renamed over. */
	if (len > TERMINATION_LOG_MAX)
		len = TERMINATION_LOG_MAX;
	if (write(fd, msg, len) < 0)
		dk_warn("write the termination log %s: %s: Kubernetes will not show why "
			"init stopped; check termination_log in %s",
			path, strerror(errno), in->cfg->path);
}

static const char *action_str(enum dk_plan_act a)
{
	switch (a) {
	case DK_PLAN_ACT_LOAD:
	case DK_PLAN_ACT_RELOAD:
		return "loaded";
	case DK_PLAN_ACT_ADOPT:
		return "adopted";
	case DK_PLAN_ACT_SKIP:
		return "skipped";
	}
	return "?";
}

static void status_modules(struct dk_init *in, struct json_writer *w)
{
	json_key(w, "modules");
	json_begin_array(w);
	for (size_t i = 0; i < in->d.n_mods; i++) {
		const struct dk_plan_mod *pm = &in->d.mods[i];
		const struct dk_modfile *f = dk_init_file(in, i);
		bool done = in->done && in->done[i];

		json_begin_object(w);
		json_kv_string(w, "name", f->name);
		json_kv_string(w, "component", pm->comp->name);
		json_kv_string(w, "path", f->path);
		json_kv_string(w, "srcversion", f->srcversion);
		json_kv_string(w, "version", f->version);
		json_kv_string(w, "action", done ? action_str(pm->act) : "pending");
		json_kv_bool(w, "loaded",
			     dk_state_find_module(&in->state, f->name) ||
				     pm->act == DK_PLAN_ACT_SKIP);
		json_end_object(w);
	}
	json_end_array(w);
}

void dk_init_status(struct dk_init *in, const char *phase, const char *error)
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
	status_modules(in, &w);
	dk_init_daemons_json(in, &w);
	json_key(&w, "replaced");
	json_begin_array(&w);
	for (size_t i = 0; i < in->state.n_replaced; i++)
		json_string(&w, in->state.replaced[i].name);
	json_end_array(&w);
	json_end_object(&w);
	r = dk_write_json_atomic(in->status_path, &w);
	if (r < 0)
		dk_warn("write the status file %s (phase %s): %s: drvkit status and "
			"probes "
			"reading it see an old phase; check that state_dir is a writable "
			"mount",
			in->status_path, phase, strerror(-r));
}

int dk_init_save_state(struct dk_init *in, struct dk_error **err)
{
	int r;

	in->state.pid = getpid();
	if (!in->state.kernel && !(in->state.kernel = strdup(in->m->kver)))
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_state_write(in->state_path, &in->state, err);
	in->state_saved = r >= 0;
	return r;
}

/* status.json says ready, then the ready file appears (written atomically). */
int dk_init_ready(struct dk_init *in, struct dk_error **err)
{
	const char *ready = in->cfg->ready_file;
	int r;

	dk_init_status(in, "ready", NULL);
	r = dk_mkdir_parent(ready, 0755);
	if (r >= 0)
		r = dk_write_file_atomic(ready, "", 0, 0644);
	if (r < 0) {
		dk_error_set(err, -r,
			     "%s: write %s: %s: check that its directory is a writable "
			     "mount",
			     PHASE(READY), ready, strerror(-r));
		(void)unlink(ready);
	}
	return r;
}
