/* SPDX-License-Identifier: Apache-2.0 */
/* Supervised daemons (daemons.h): one state machine per daemon, driven by init's
 * signalfd loop; nothing here blocks longer than one readiness check or validation
 * run (each bounded by its timeout). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "base/spawn.h"
#include "init/daemons.h"
#include "init/init-run.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define KILL_WAIT_MS 5000 /* after SIGKILL, for the reap */
#define MAX_GROUPS 256

struct daemon {
	const struct dk_config_daemon *c;
	enum dk_daemon_state state;
	pid_t pid;
	int restarts;
	int64_t started, next_start, next_probe;
	int backoff_ms;
	time_t since; /* wall clock: when the state began */
	char *last_exit;
	char *why; /* not ready yet, skipped, not restarted */
	const char **env;
};

struct dk_daemons {
	struct daemon *d;
	size_t n;
	bool stopping;
	bool ready_written; /* the ready file is there */
	bool validated;
	int status_written; /* daemons_status_file: -1 none, 0 NotReady, 1 Ready */
	int64_t next_validation;
	char *waiting; /* why the ready file is absent */
	bool dirty;    /* status.json is behind */
};

const char *dk_daemon_state_str(enum dk_daemon_state s)
{
	static const char *const names[] = {"pending", "starting", "ready",
					    "backoff", "stopped",  "skipped"};

	return (size_t)s < ARRAY_SIZE(names) ? names[s] : "?";
}

static void set_str(char **field, char *value)
{
	free(*field);
	*field = value;
}

static void set_state(struct dk_init *in, struct daemon *d, enum dk_daemon_state s)
{
	d->state = s;
	d->since = time(NULL);
	in->dm->dirty = true;
}

/* "exited with status 3", "killed by signal SEGV" */
static char *describe_exit(int status)
{
	if (WIFSIGNALED(status))
		return dk_strdup_printf("killed by signal %s%s",
					sigabbrev_np(WTERMSIG(status))
						? sigabbrev_np(WTERMSIG(status))
						: "?",
					WCOREDUMP(status) ? " (core dumped)" : "");
	return dk_strdup_printf("exited with status %d", WEXITSTATUS(status));
}

/* ---- daemons_status_file: the NVIDIA driver container's NotReady / Ready ---------- */

static void write_status_file(struct dk_init *in, bool ready)
{
	const char *path = in->cfg->daemons_status_file;
	const char *text = ready ? "Ready" : "NotReady";
	int r;

	if (!path || in->dm->status_written == (int)ready)
		return;
	(void)!dk_mkdir_parent(path, 0755); /* the write below says what failed */
	r = dk_write_file_atomic(path, text, strlen(text), 0644);
	if (r < 0) {
		dk_warn("%s: write %s to %s: %s: the GPU Operator's startup probe reads "
			"it; check that its directory is a writable hostPath mount",
			PHASE(DAEMONS), text, path, strerror(-r));
		return;
	}
	in->dm->status_written = ready;
}

/* ---- conditions, users, environment -------------------------------------------- */

/* Whether a when: condition holds on the host; *why says what was found. */
static bool when_holds(const struct dk_init *in, const struct dk_config_when *w,
		       char **why)
{
	if (w->path_exists) {
		_cleanup_free_ char *p = dk_path_join(in->cfg->host_root, w->path_exists);

		if (p && !dk_path_exists(p)) {
			*why = dk_strdup_printf("when: %s does not exist", p);
			return false;
		}
	}
	if (w->path_not_empty) {
		_cleanup_free_ char *p =
			dk_path_join(in->cfg->host_root, w->path_not_empty);
		_cleanup_free_ char *data = NULL;
		bool empty = true;
		size_t len = 0;

		if (p && dk_is_dir(p)) {
			DIR *dir = opendir(p);
			struct dirent *de;

			while (dir && (de = readdir(dir)))
				if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
					empty = false;
			if (dir)
				closedir(dir);
		} else if (p) {
			int r = dk_read_file(p, 4096, &data, &len);

			empty = r < 0 ? r != -EFBIG : len == 0;
		}
		if (empty) {
			*why = dk_strdup_printf("when: %s is empty or missing", p);
			return false;
		}
	}
	return true;
}

/* Fills the ids of o from the daemon's user: (uid:gid, or a name looked up here). */
static int resolve_user(const struct dk_config_daemon *c, struct dk_spawn_opts *o,
			gid_t *groups, struct dk_error **err)
{
	struct passwd *pw;
	int n = MAX_GROUPS;

	if (c->has_ids) {
		o->set_ids = true;
		o->uid = c->uid;
		o->gid = c->gid;
		return 0;
	}
	if (!c->user)
		return 0;
	errno = 0;
	pw = getpwnam(c->user);
	if (!pw)
		return dk_error_set(err, errno ? errno : ENOENT,
				    "user %s: %s: add it to the image's /etc/passwd, or "
				    "give user: UID:GID",
				    c->user, errno ? strerror(errno) : "no such user");
	if (getgrouplist(c->user, pw->pw_gid, groups, &n) < 0)
		n = 0;
	o->set_ids = true;
	o->uid = pw->pw_uid;
	o->gid = pw->pw_gid;
	o->groups = groups;
	o->n_groups = (size_t)n;
	return 0;
}

/* The config's env, with a PATH when it has none. */
static int make_env(struct daemon *d)
{
	const struct dk_config_daemon *c = d->c;
	bool has_path = false;
	size_t n = 0;

	d->env = calloc(c->n_env + 2, sizeof(*d->env));
	if (!d->env)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_env; i++) {
		has_path |= strncmp(c->env[i], "PATH=", 5) == 0;
		d->env[n++] = c->env[i];
	}
	if (!has_path)
		d->env[n++] = DEFAULT_PATH;
	return 0;
}

/* ---- start, exit ------------------------------------------------------------------ */

static void schedule_restart(struct dk_init *in, struct daemon *d, int64_t now)
{
	const struct dk_config_daemon *c = d->c;

	d->next_start = now + d->backoff_ms;
	dk_warn("%s: %s %s; restart %d in %d ms (restart policy %s)", PHASE(DAEMONS),
		c->name, d->last_exit, d->restarts + 1, d->backoff_ms,
		dk_restart_policy_str(c->restart));
	set_state(in, d, DK_DAEMON_BACKOFF);
	d->backoff_ms = d->backoff_ms > c->backoff_max_ms / 2 ? c->backoff_max_ms
							      : d->backoff_ms * 2;
}

static void start_daemon(struct dk_init *in, struct daemon *d, int64_t now)
{
	const struct dk_config_daemon *c = d->c;
	_cleanup_error_ struct dk_error *e = NULL;
	gid_t groups[MAX_GROUPS];
	struct dk_spawn_opts o = {
		.argv = (const char *const *)c->argv,
		.env = d->env,
		.out = DK_SPAWN_INHERIT,
		.err = DK_SPAWN_INHERIT,
	};
	int r;

	if (d->state == DK_DAEMON_BACKOFF)
		d->restarts++;
	r = resolve_user(c, &o, groups, &e);
	if (r >= 0)
		r = dk_spawn_start(&o, &d->pid, &e);
	if (r < 0) {
		d->pid = 0;
		set_str(&d->last_exit, dk_strdup_printf("could not start: %s", e->msg));
		schedule_restart(in, d, now);
		return;
	}
	d->started = now;
	d->next_probe = now;
	set_str(&d->why, NULL);
	if (d->restarts)
		dk_info("%s: started %s (pid %d, restart %d)", PHASE(DAEMONS), c->name,
			(int)d->pid, d->restarts);
	else
		dk_info("%s: started %s (pid %d)", PHASE(DAEMONS), c->name, (int)d->pid);
	set_state(in, d,
		  c->ready.kind == DK_READY_STARTED ? DK_DAEMON_READY
						    : DK_DAEMON_STARTING);
	if (d->state == DK_DAEMON_READY)
		dk_info("%s: %s is ready (no readiness check: running)", PHASE(DAEMONS),
			c->name);
}

bool dk_init_daemon_reaped(struct dk_init *in, pid_t pid, int status)
{
	struct dk_daemons *dm = in->dm;
	int64_t now = dk_now_ms();

	for (size_t i = 0; dm && i < dm->n; i++) {
		struct daemon *d = &dm->d[i];
		const struct dk_config_daemon *c = d->c;

		if (d->pid != pid || pid <= 0)
			continue;
		d->pid = 0;
		set_str(&d->last_exit, describe_exit(status));
		/* A long good run starts the backoff over. */
		if (now - d->started >= c->backoff_max_ms)
			d->backoff_ms = c->backoff_initial_ms;
		if (dm->stopping || c->restart == DK_RESTART_NEVER ||
		    (c->restart == DK_RESTART_ON_FAILURE && WIFEXITED(status) &&
		     WEXITSTATUS(status) == 0)) {
			if (!dm->stopping) {
				set_str(&d->why,
					dk_strdup_printf(
						"%s; restart policy %s: not "
						"restarted",
						d->last_exit,
						dk_restart_policy_str(c->restart)));
				dk_warn("%s: %s %s", PHASE(DAEMONS), c->name, d->why);
			}
			set_state(in, d, DK_DAEMON_STOPPED);
		} else {
			schedule_restart(in, d, now);
		}
		return true;
	}
	return false;
}

/* ---- readiness ------------------------------------------------------------------- */

/* A connect that does not block longer than timeout_ms. */
static int try_connect(int family, const struct sockaddr *sa, socklen_t len,
		       int timeout_ms)
{
	_cleanup_close_ int fd =
		socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	int e = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	pfd = (struct pollfd){fd, POLLOUT, 0};
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
		return -errno;
	return -e;
}

static int check_unix(const struct dk_config_ready *rd, char **why)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int r;

	if (strlen(rd->path) >= sizeof(sun.sun_path)) {
		*why = dk_strdup_printf("socket path %s is too long", rd->path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, rd->path);
	r = try_connect(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun), rd->timeout_ms);
	if (r < 0)
		*why = dk_strdup_printf("unix socket %s: %s", rd->path, strerror(-r));
	return r;
}

static int check_tcp(const struct dk_config_ready *rd, char **why)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char port[16];
	int r = -ECONNREFUSED;

	snprintf(port, sizeof(port), "%d", rd->port);
	if (getaddrinfo(rd->host, port, &hints, &res) != 0) {
		*why = dk_strdup_printf("tcp %s:%d: cannot resolve %s", rd->host,
					rd->port, rd->host);
		return -EHOSTUNREACH;
	}
	for (struct addrinfo *a = res; a && r < 0; a = a->ai_next)
		r = try_connect(a->ai_family, a->ai_addr, a->ai_addrlen, rd->timeout_ms);
	freeaddrinfo(res);
	if (r < 0)
		*why = dk_strdup_printf("tcp %s:%d: %s", rd->host, rd->port,
					strerror(-r));
	return r;
}

/* Runs argv (a readiness check, the validation): 0 when it exits 0, else *why with
 * its status and the last line it wrote to stderr. */
static int run_check(const char *const *argv, const char *const *env, int timeout_ms,
		     char **why)
{
	_cleanup_error_ struct dk_error *e = NULL;
	struct dk_spawn_opts o = {
		.argv = argv,
		.env = env,
		.out = DK_SPAWN_NULL,
		.err = DK_SPAWN_CAPTURE,
		.capture_max = 4096,
		.timeout_ms = timeout_ms,
		.grace_ms = 1000,
	};
	struct dk_spawn_result res;
	int r = dk_spawn_run(&o, &res, &e);

	if (r >= 0)
		r = dk_spawn_check(&res, argv[0], &e);
	if (r < 0) {
		char *last = res.err ? res.err : NULL;

		if (last) {
			dk_strip(last);
			last = strrchr(last, '\n') ? strrchr(last, '\n') + 1 : last;
		}
		*why = dk_strdup_printf("%s%s%s", e ? e->msg : strerror(-r),
					last && *last ? ": " : "",
					last && *last ? last : "");
	}
	dk_spawn_result_release(&res);
	return r;
}

static int check_ready(struct daemon *d, char **why)
{
	const struct dk_config_ready *rd = &d->c->ready;

	switch (rd->kind) {
	case DK_READY_STARTED:
		return 0;
	case DK_READY_FILE:
		if (dk_path_exists(rd->path))
			return 0;
		*why = dk_strdup_printf("%s does not exist yet", rd->path);
		return -ENOENT;
	case DK_READY_UNIX:
		return check_unix(rd, why);
	case DK_READY_TCP:
		return check_tcp(rd, why);
	case DK_READY_COMMAND:
		return run_check((const char *const *)rd->argv, d->env, rd->timeout_ms,
				 why);
	}
	return -EINVAL;
}

static void probe(struct dk_init *in, struct daemon *d, int64_t now)
{
	_cleanup_free_ char *why = NULL;

	if (check_ready(d, &why) >= 0) {
		dk_info("%s: %s is ready (pid %d, %lld ms after its start)",
			PHASE(DAEMONS), d->c->name, (int)d->pid,
			(long long)(dk_now_ms() - d->started));
		set_str(&d->why, NULL);
		set_state(in, d, DK_DAEMON_READY);
		return;
	}
	d->next_probe = now + d->c->ready.interval_ms;
	if (!why || (d->why && streq(d->why, why)))
		return;
	dk_info("%s: %s (pid %d) not ready: %s", PHASE(DAEMONS), d->c->name, (int)d->pid,
		why);
	set_str(&d->why, TAKE_PTR(why));
	in->dm->dirty = true;
}

/* ---- the whole: ready file, validation ----------------------------------------------
 */

/* Why the ready file cannot be there (the first required daemon not ready), or NULL. */
static char *required_not_ready(const struct dk_daemons *dm)
{
	for (size_t i = 0; i < dm->n; i++) {
		const struct daemon *d = &dm->d[i];

		if (!d->c->required || d->state == DK_DAEMON_READY ||
		    d->state == DK_DAEMON_SKIPPED)
			continue;
		switch (d->state) {
		case DK_DAEMON_STARTING:
			return dk_strdup_printf("daemon %s (pid %d) is not ready: %s",
						d->c->name, (int)d->pid,
						d->why ? d->why : "not checked yet");
		case DK_DAEMON_BACKOFF:
			return dk_strdup_printf("daemon %s %s; restart %d pending",
						d->c->name, d->last_exit,
						d->restarts + 1);
		case DK_DAEMON_STOPPED:
			return dk_strdup_printf("daemon %s %s", d->c->name,
						d->why ? d->why : "stopped");
		default:
			return dk_strdup_printf("daemon %s is not started yet",
						d->c->name);
		}
	}
	return NULL;
}

static void set_waiting(struct dk_init *in, char *why)
{
	struct dk_daemons *dm = in->dm;

	if ((!why && !dm->waiting) || (why && dm->waiting && streq(why, dm->waiting))) {
		free(why);
		return;
	}
	if (why)
		dk_info("%s: no ready file: %s", PHASE(DAEMONS), why);
	set_str(&dm->waiting, why);
	dm->dirty = true;
}

static void unready(struct dk_init *in)
{
	struct dk_daemons *dm = in->dm;

	write_status_file(in, false);
	dm->validated = false;
	if (!dm->ready_written)
		return;
	dm->ready_written = false;
	if (unlink(in->cfg->ready_file) < 0 && errno != ENOENT)
		dk_warn("%s: remove %s: %s: probes still see it", PHASE(DAEMONS),
			in->cfg->ready_file, strerror(errno));
	dk_warn("%s: removed %s: %s", PHASE(DAEMONS), in->cfg->ready_file,
		dm->waiting ? dm->waiting : "a required daemon is not ready");
}

/* The ready file follows the required daemons and the validation. Returns true
 * while only the validation is missing. */
static bool update_ready(struct dk_init *in, int64_t now)
{
	const struct dk_config_validation *v = in->cfg->validation;
	struct dk_daemons *dm = in->dm;
	_cleanup_error_ struct dk_error *e = NULL;
	char *why = required_not_ready(dm);

	if (why) {
		set_waiting(in, why);
		unready(in);
		return false;
	}
	write_status_file(in, true);
	if (dm->ready_written)
		return false;
	if (v && !dm->validated) {
		_cleanup_free_ char *vwhy = NULL;

		if (now < dm->next_validation)
			return true;
		if (run_check((const char *const *)v->argv, NULL, v->timeout_ms, &vwhy) <
		    0) {
			dm->next_validation = dk_now_ms() + v->interval_ms;
			set_waiting(in, dk_strdup_printf("validation %s: %s", v->argv[0],
							 vwhy ? vwhy : "failed"));
			return true;
		}
		dk_info("%s: validation %s succeeded", PHASE(DAEMONS), v->argv[0]);
		dm->validated = true;
	}
	set_waiting(in, NULL);
	dm->dirty = false;
	if (dk_init_ready(in, &e) < 0) {
		dk_warn("%s", e->msg);
		return false;
	}
	dm->ready_written = true;
	dk_info("%s: %s written: every required daemon is ready; ready %lld ms after "
		"start",
		PHASE(READY), in->cfg->ready_file, (long long)(dk_now_ms() - in->t0));
	return false;
}

/* Starts and probes what is due; returns the next time something is. */
static int64_t tick(struct dk_init *in)
{
	struct dk_daemons *dm = in->dm;
	int64_t now = dk_now_ms(), next = now + 60000;

	for (size_t i = 0; i < dm->n; i++) {
		struct daemon *d = &dm->d[i];

		if (d->state == DK_DAEMON_BACKOFF && now >= d->next_start)
			start_daemon(in, d, now);
		if (d->state == DK_DAEMON_STARTING && now >= d->next_probe)
			probe(in, d, now);
		now = dk_now_ms();
		if (d->state == DK_DAEMON_BACKOFF)
			next = MIN(next, d->next_start);
		if (d->state == DK_DAEMON_STARTING)
			next = MIN(next, d->next_probe);
	}
	if (update_ready(in, now))
		next = MIN(next, dm->next_validation);
	if (dm->dirty) {
		dm->dirty = false;
		dk_init_status(in, dm->ready_written ? "ready" : "daemons", NULL);
	}
	return next;
}

int dk_init_daemons_start(struct dk_init *in)
{
	const struct dk_config *cfg = in->cfg;
	struct dk_daemons *dm;
	int64_t now = dk_now_ms();

	dm = in->dm = calloc(1, sizeof(*in->dm));
	if (!dm || !(dm->d = calloc(cfg->n_daemons, sizeof(*dm->d))))
		return -ENOMEM;
	dm->n = cfg->n_daemons;
	dm->status_written = -1;
	write_status_file(in, false);
	for (size_t i = 0; i < dm->n; i++) {
		struct daemon *d = &dm->d[i];
		char *why = NULL;

		d->c = &cfg->daemons[i];
		d->backoff_ms = d->c->backoff_initial_ms;
		if (make_env(d) < 0)
			return -ENOMEM;
		if (!when_holds(in, &d->c->when, &why)) {
			dk_info("%s: %s not started: %s", PHASE(DAEMONS), d->c->name,
				why ? why : "");
			set_str(&d->why, why);
			set_state(in, d, DK_DAEMON_SKIPPED);
			continue;
		}
		start_daemon(in, d, now);
	}
	return 0;
}

void dk_init_supervise(struct dk_init *in)
{
	dk_info("%s: supervising %zu daemons, blocking on signals (pid %d)", PHASE(WAIT),
		in->dm ? in->dm->n : 0, (int)getpid());
	for (;;) {
		int64_t next = in->dm ? tick(in) : dk_now_ms() + 60000;
		int64_t left = MAX(next - dk_now_ms(), 0);
		struct pollfd pfd = {in->sfd, POLLIN, 0};

		if (poll(&pfd, 1, (int)MIN(left, 60000)) < 0 && errno != EINTR)
			dk_warn("%s: poll on the signalfd: %s", PHASE(WAIT),
				strerror(errno));
		if (dk_init_drain_signals(in))
			return;
	}
}

/* ---- stop ------------------------------------------------------------------------ */

/* Waits until d is reaped or ms pass; true when it was. */
static bool wait_exit(struct dk_init *in, struct daemon *d, int ms)
{
	int64_t end = dk_now_ms() + ms;

	while (d->pid > 0) {
		int64_t left = end - dk_now_ms();
		struct pollfd pfd = {in->sfd, POLLIN, 0};

		if (left <= 0)
			return false;
		(void)poll(&pfd, 1, (int)MIN(left, 1000));
		(void)dk_init_drain_signals(in);
	}
	return true;
}

static void stop_daemon(struct dk_init *in, struct daemon *d)
{
	const struct dk_config_daemon *c = d->c;
	pid_t pid = d->pid;
	int64_t t = dk_now_ms();

	if (pid <= 0) {
		if (d->state == DK_DAEMON_BACKOFF || d->state == DK_DAEMON_PENDING)
			set_state(in, d, DK_DAEMON_STOPPED);
		return;
	}
	dk_info("%s: stopping %s (pid %d) with SIG%s, SIGKILL after %d ms", PHASE(STOP),
		c->name, (int)pid, sigabbrev_np(c->stop_signal), c->stop_timeout_ms);
	/* The whole process group: what the daemon started goes with it. */
	if (kill(-pid, c->stop_signal) < 0)
		(void)kill(pid, c->stop_signal);
	if (!wait_exit(in, d, c->stop_timeout_ms)) {
		dk_warn("%s: %s (pid %d) still runs %d ms after SIG%s: SIGKILL",
			PHASE(STOP), c->name, (int)pid, c->stop_timeout_ms,
			sigabbrev_np(c->stop_signal));
		if (kill(-pid, SIGKILL) < 0)
			(void)kill(pid, SIGKILL);
		if (!wait_exit(in, d, KILL_WAIT_MS))
			dk_warn("%s: %s (pid %d) survived SIGKILL for %d ms (stuck in "
				"the kernel?): the modules it holds cannot unload",
				PHASE(STOP), c->name, (int)pid, KILL_WAIT_MS);
	}
	(void)kill(-pid, SIGKILL); /* what is left of its group */
	dk_info("%s: %s stopped (%s) in %lld ms", PHASE(STOP), c->name,
		d->last_exit ? d->last_exit : "?", (long long)(dk_now_ms() - t));
}

void dk_init_daemons_stop(struct dk_init *in)
{
	const struct dk_config *cfg = in->cfg;
	struct dk_daemons *dm = in->dm;

	if (!dm)
		return;
	dm->stopping = true;
	if (unlink(cfg->ready_file) == 0)
		dk_info("%s: removed %s", PHASE(STOP), cfg->ready_file);
	dm->ready_written = false;
	write_status_file(in, false);
	dk_init_status(in, "stopping", NULL);
	for (size_t k = 0; k < cfg->n_daemon_stop_order; k++)
		for (size_t i = 0; i < dm->n; i++)
			if (streq(dm->d[i].c->name, cfg->daemon_stop_order[k]))
				stop_daemon(in, &dm->d[i]);
	for (size_t i = dm->n; i-- > 0;)
		stop_daemon(in, &dm->d[i]);
	dk_init_status(in, "stopping", NULL);
}

/* ---- status.json ----------------------------------------------------------------- */

void dk_init_daemons_json(const struct dk_init *in, struct json_writer *w)
{
	const struct dk_daemons *dm = in->dm;

	if (!dm)
		return;
	json_kv_string(w, "waiting_for", dm->waiting);
	json_key(w, "daemons");
	json_begin_array(w);
	for (size_t i = 0; i < dm->n; i++) {
		const struct daemon *d = &dm->d[i];

		json_begin_object(w);
		json_kv_string(w, "name", d->c->name);
		json_kv_string(w, "state", dk_daemon_state_str(d->state));
		json_kv_bool(w, "required", d->c->required);
		json_kv_int(w, "pid", d->pid);
		json_kv_int(w, "restarts", d->restarts);
		json_kv_string(w, "last_exit", d->last_exit);
		json_kv_string(w, "why", d->why);
		json_kv_int(w, "since", (int64_t)d->since);
		if (d->state == DK_DAEMON_BACKOFF)
			json_kv_int(w, "restart_in_ms",
				    MAX(d->next_start - dk_now_ms(), (int64_t)0));
		json_end_object(w);
	}
	json_end_array(w);
}

void dk_init_daemons_free(struct dk_init *in)
{
	struct dk_daemons *dm = in->dm;

	if (!dm)
		return;
	for (size_t i = 0; dm->d && i < dm->n; i++) {
		free(dm->d[i].last_exit);
		free(dm->d[i].why);
		free(dm->d[i].env);
	}
	free(dm->d);
	free(dm->waiting);
	free(dm);
	in->dm = NULL;
}
