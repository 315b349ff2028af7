/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/clock.h"
#include "base/fsutil.h"
#include "base/spawn.h"

#define CAPTURE_MAX_DEFAULT (1u << 20)
#define GRACE_MS_DEFAULT 2000
#define LOG_LINE_MAX 4096 /* a longer line is logged in pieces */
#define TICK_MS 50	  /* exit polling where pidfd_open() is missing */
#define HANDOVER_MS 5000  /* how long to wait for a reaper that took our child */

/* The children of running dk_spawn_run() calls. This registry is the one piece of
 * process-wide state besides the log settings, and it has to be: a process-wide
 * reaper (init's waitpid(-1) loop, tini's model) may reap a child before its spawner
 * does, and the exit status must then reach the spawner instead of being lost to a
 * race. Nodes live on the spawners' stacks; the lock also covers posix_spawn() so a
 * reaper can never see a pid before it is registered. */
struct child {
	pid_t pid;
	bool reaped;
	int status;
	struct child *next;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cond = PTHREAD_COND_INITIALIZER;
static struct child *reg_head;

int dk_spawn_reaped(pid_t pid, int status)
{
	int found = 0;

	pthread_mutex_lock(&reg_lock);
	for (struct child *c = reg_head; c; c = c->next) {
		if (c->pid == pid && !c->reaped) {
			c->reaped = true;
			c->status = status;
			found = 1;
			pthread_cond_broadcast(&reg_cond);
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return found;
}

static void reg_remove(struct child *me)
{
	pthread_mutex_lock(&reg_lock);
	for (struct child **p = &reg_head; *p; p = &(*p)->next) {
		if (*p == me) {
			*p = me->next;
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
}

/* Waits (bounded) for a reaper that took our child to hand its status over. */
static bool reg_take(struct child *me, int *status)
{
	struct timespec until;
	bool got;

	/* Monotonic, like every deadline here: a wall-clock jump must not stretch it. */
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += HANDOVER_MS / 1000;
	pthread_mutex_lock(&reg_lock);
	while (!me->reaped)
		if (pthread_cond_clockwait(&reg_cond, &reg_lock, CLOCK_MONOTONIC,
					   &until) == ETIMEDOUT)
			break;
	got = me->reaped;
	*status = me->status;
	pthread_mutex_unlock(&reg_lock);
	return got;
}

/* ---- output -------------------------------------------------------------------- */

struct stream {
	int fd; /* read end of the pipe, -1 once at EOF (or none) */
	enum dk_spawn_stream mode;
	struct strbuf buf; /* CAPTURE: the bytes; LOG: the unfinished line */
	size_t max;
	bool truncated;
	const char *prefix;
	enum dk_log_level level;
	int no; /* 1 or 2 */
	const struct dk_spawn_opts *o;
};

static void stream_log_line(struct stream *s)
{
	const char *line =
		s->buf.oom ? "(line lost: out of memory)" : strbuf_str(&s->buf);

	if (s->mode == DK_SPAWN_LINES)
		s->o->on_line(s->no, line, s->o->userdata);
	else
		dk_log(s->level, 0, "%s: %s", s->prefix, line);
	strbuf_release(&s->buf);
	strbuf_init(&s->buf);
}

static void stream_take(struct stream *s, const char *p, size_t n)
{
	if (s->mode == DK_SPAWN_CAPTURE) {
		size_t room = s->max - MIN(s->max, s->buf.len);

		if (n > room)
			s->truncated = true;
		strbuf_putn(&s->buf, p, MIN(n, room));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			stream_log_line(s);
			continue;
		}
		strbuf_putc(&s->buf, p[i]);
		if (s->buf.len >= LOG_LINE_MAX)
			stream_log_line(s);
	}
}

/* Reads what is there; closes the stream at EOF or on a read error. */
static void stream_read(struct stream *s)
{
	char buf[16 * 1024];

	while (s->fd >= 0) {
		ssize_t n = read(s->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			dk_closep(&s->fd);
			s->fd = -1;
			if (s->mode >= DK_SPAWN_LOG && s->buf.len > 0)
				stream_log_line(s);
			return;
		}
		stream_take(s, buf, (size_t)n);
	}
}

static void stream_release(struct stream *s)
{
	dk_closep(&s->fd);
	s->fd = -1;
	strbuf_release(&s->buf);
}

/* ---- starting ------------------------------------------------------------------ */

static const char *env_get(const char *const *env, const char *name)
{
	size_t len = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

/* argv[0] as a path: itself when it has a slash, else the first executable of that
 * name in env's PATH. */
static int find_program(const char *name, const char *const *env, char **out,
			struct dk_error **err)
{
	const char *path = env_get(env, "PATH");
	_cleanup_free_ char *dirs = NULL;
	char *save = NULL;

	if (strchr(name, '/')) {
		*out = strdup(name);
		return *out ? 0 : dk_error_set(err, ENOMEM, "out of memory");
	}
	dirs = strdup(path ? path : "/usr/bin:/bin");
	if (!dirs)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *full = dk_path_join(d, name);

		if (!full)
			return dk_error_set(err, ENOMEM, "out of memory");
		if (d[0] == '/' && access(full, X_OK) == 0) {
			*out = TAKE_PTR(full);
			return 0;
		}
	}
	return dk_error_set(err, ENOENT, "run %s: not found in PATH (%s)", name,
			    path ? path : "/usr/bin:/bin");
}

static int setup_attr(posix_spawnattr_t *attr)
{
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	/* Every bit, not sigfillset(): that leaves out glibc's internal signals (32, 33),
	 * which posix_spawn() sets to SIG_IGN in the child of a threaded caller, and an
	 * ignored signal stays ignored across exec. */
	memset(&all, 0xff, sizeof(all));
	r = posix_spawnattr_init(attr);
	if (r != 0)
		return r;
	r = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK |
						   POSIX_SPAWN_SETSIGDEF |
						   POSIX_SPAWN_SETPGROUP);
	if (r == 0)
		r = posix_spawnattr_setsigmask(attr, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(attr, &all);
	if (r == 0)
		r = posix_spawnattr_setpgroup(attr, 0);
	if (r != 0)
		posix_spawnattr_destroy(attr);
	return r;
}

/* stdin from /dev/null; fd (1 or 2) to a pipe, /dev/null or left alone. */
static int setup_stream(posix_spawn_file_actions_t *fa, struct stream *s, int fd,
			int (*p)[2])
{
	if (s->mode == DK_SPAWN_INHERIT)
		return 0;
	if (s->mode == DK_SPAWN_NULL)
		return posix_spawn_file_actions_addopen(fa, fd, "/dev/null", O_WRONLY, 0);
	if (pipe2(*p, O_CLOEXEC) < 0)
		return errno;
	return posix_spawn_file_actions_adddup2(fa, (*p)[1], fd);
}

static void close_pipe(int (*p)[2])
{
	dk_closep(&(*p)[0]);
	dk_closep(&(*p)[1]);
}

struct run {
	const struct dk_spawn_opts *o;
	const char *name; /* for messages: argv[0] */
	struct stream s[2];
	struct child me;
	int pidfd;
};

static int start(struct run *run, const char *prog, struct dk_error **err)
{
	static const char *const empty[] = {NULL};
	const struct dk_spawn_opts *o = run->o;
	_cleanup_(close_pipe) int out[2] = {-1, -1};
	_cleanup_(close_pipe) int errp[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int r;

	r = setup_attr(&attr);
	if (r != 0)
		return dk_error_set(err, r, "run %s: spawn attributes: %s", run->name,
				    strerror(r));
	r = posix_spawn_file_actions_init(&fa);
	if (r != 0) {
		posix_spawnattr_destroy(&attr);
		return dk_error_set(err, r, "run %s: %s", run->name, strerror(r));
	}
	r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = setup_stream(&fa, &run->s[0], STDOUT_FILENO, &out);
	if (r == 0)
		r = setup_stream(&fa, &run->s[1], STDERR_FILENO, &errp);
	if (r == 0 && o->cwd)
		r = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
	if (r == 0) {
		pthread_mutex_lock(&reg_lock);
		r = posix_spawn(&run->me.pid, prog, &fa, &attr, (char *const *)o->argv,
				(char *const *)(o->env ? o->env : empty));
		if (r == 0) {
			run->me.next = reg_head;
			reg_head = &run->me;
		}
		pthread_mutex_unlock(&reg_lock);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0)
		return dk_error_set(err, r, "run %s: %s", prog, strerror(r));
	run->s[0].fd = TAKE_FD(out[0]);
	run->s[1].fd = TAKE_FD(errp[0]);
	/* Non-blocking: one poll() serves both pipes and the exit. */
	for (int i = 0; i < 2; i++)
		if (run->s[i].fd >= 0)
			(void)fcntl(run->s[i].fd, F_SETFL, O_NONBLOCK);
	/* pidfd_open(2): poll() then wakes us when the child exits. */
	run->pidfd = (int)syscall(SYS_pidfd_open, run->me.pid, 0);
	return 0;
}

/* ---- waiting ------------------------------------------------------------------- */

/* Has the child exited? Leaves it a zombie, so its pid and process group cannot be
 * reused while we may still signal them. */
static bool exited(struct run *run)
{
	siginfo_t si = {0};

	if (waitid(P_PID, (id_t)run->me.pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD; /* a reaper took it: the status is on its way */
	return si.si_pid == run->me.pid;
}

static int reap(struct run *run, int *status, struct dk_error **err)
{
	for (;;) {
		pid_t p = waitpid(run->me.pid, status, 0);

		if (p == run->me.pid)
			return 0;
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0 && errno == ECHILD && reg_take(&run->me, status))
			return 0;
		return dk_error_set(err, ECHILD, "run %s: pid %d was reaped elsewhere",
				    run->name, (int)run->me.pid);
	}
}

static int poll_timeout(int64_t now, int64_t deadline, int64_t kill_at, bool pidfd)
{
	int64_t t = pidfd ? -1 : TICK_MS;

	if (deadline >= 0)
		t = t < 0 ? MAX(deadline - now, 0) : MIN(t, MAX(deadline - now, 0));
	if (kill_at >= 0)
		t = t < 0 ? MAX(kill_at - now, 0) : MIN(t, MAX(kill_at - now, 0));
	return (int)MIN(t, (int64_t)60000);
}

/* Reads output until the child exits, enforcing the timeout on its whole group. */
static void supervise(struct run *run, bool *timed_out, bool *cancelled)
{
	const struct dk_spawn_opts *o = run->o;
	int64_t deadline = o->timeout_ms > 0 ? dk_now_ms() + o->timeout_ms : -1;
	int64_t kill_at = -1;

	while (!exited(run)) {
		struct pollfd pfd[4];
		int64_t now = dk_now_ms();
		bool cancel_now = false;
		nfds_t n = 0;

		for (int i = 0; i < 2; i++)
			if (run->s[i].fd >= 0)
				pfd[n++] = (struct pollfd){run->s[i].fd, POLLIN, 0};
		if (run->pidfd >= 0)
			pfd[n++] = (struct pollfd){run->pidfd, POLLIN, 0};
		if (o->cancel_fd > 0 && !*cancelled && !*timed_out)
			pfd[n++] = (struct pollfd){o->cancel_fd, POLLIN, 0};
		if (poll(pfd, n, poll_timeout(now, deadline, kill_at, run->pidfd >= 0)) >
		    0) {
			for (int i = 0; i < 2; i++)
				stream_read(&run->s[i]);
			cancel_now = pfd[n - 1].fd == o->cancel_fd && o->cancel_fd > 0 &&
				     (pfd[n - 1].revents & (POLLIN | POLLHUP));
		}
		now = dk_now_ms();
		if (cancel_now || (deadline >= 0 && now >= deadline)) {
			*(cancel_now ? cancelled : timed_out) = true;
			deadline = -1;
			kill_at =
				now + (o->grace_ms > 0 ? o->grace_ms : GRACE_MS_DEFAULT);
			(void)kill(-run->me.pid, SIGTERM);
		} else if (kill_at >= 0 && now >= kill_at) {
			kill_at = -1;
			(void)kill(-run->me.pid, SIGKILL);
		}
	}
	/* Nothing of a timed-out group survives it (the zombie still holds the id). */
	if (*timed_out || *cancelled)
		(void)kill(-run->me.pid, SIGKILL);
	/* What the child wrote is in the pipes; a grandchild holding them open must
	 * not keep us here. */
	for (int i = 0; i < 2; i++) {
		stream_read(&run->s[i]);
		if (run->s[i].mode >= DK_SPAWN_LOG && run->s[i].buf.len > 0)
			stream_log_line(&run->s[i]);
	}
}

static void stream_init(struct stream *s, const struct dk_spawn_opts *o,
			enum dk_spawn_stream mode, const char *name, int no)
{
	s->fd = -1;
	s->no = no;
	s->o = o;
	s->mode = mode;
	strbuf_init(&s->buf);
	s->max = o->capture_max ? o->capture_max : CAPTURE_MAX_DEFAULT;
	s->prefix = o->log_prefix ? o->log_prefix : name;
	s->level = o->log_level;
}

static int finish(struct run *run, struct dk_spawn_result *res, bool timed_out,
		  bool cancelled, struct dk_error **err)
{
	int r = reap(run, &res->status, err);

	if (r < 0)
		return r;
	res->timed_out = timed_out;
	res->cancelled = cancelled;
	res->exit_code = WIFEXITED(res->status) ? WEXITSTATUS(res->status) : -1;
	res->signo = WIFSIGNALED(res->status) ? WTERMSIG(res->status) : 0;
	for (int i = 0; i < 2; i++) {
		struct stream *s = &run->s[i];
		char **dst = i == 0 ? &res->out : &res->err;

		if (s->mode != DK_SPAWN_CAPTURE)
			continue;
		if (s->buf.oom)
			return dk_error_set(err, ENOMEM, "run %s: out of memory",
					    run->name);
		*(i == 0 ? &res->out_len : &res->err_len) = s->buf.len;
		*(i == 0 ? &res->out_truncated : &res->err_truncated) = s->truncated;
		*dst = s->buf.s ? strbuf_steal(&s->buf) : strdup("");
		if (!*dst)
			return dk_error_set(err, ENOMEM, "run %s: out of memory",
					    run->name);
	}
	if (cancelled)
		return dk_error_set(
			err, ECANCELED,
			"%s: stopped on request; its process group was killed",
			run->name);
	if (timed_out)
		return dk_error_set(err, ETIMEDOUT,
				    "%s: timed out after %d ms; its process group was "
				    "killed",
				    run->name, run->o->timeout_ms);
	return 0;
}

int dk_spawn_run(const struct dk_spawn_opts *o, struct dk_spawn_result *res,
		 struct dk_error **err)
{
	_cleanup_free_ char *prog = NULL;
	struct run run = {.o = o, .pidfd = -1};
	bool timed_out = false, cancelled = false;
	int r;

	memset(res, 0, sizeof(*res));
	if (!o->argv || !o->argv[0])
		return dk_error_set(err, EINVAL, "run: no program given");
	run.name = o->argv[0];
	stream_init(&run.s[0], o, o->out, run.name, 1);
	stream_init(&run.s[1], o, o->err, run.name, 2);
	if ((o->out == DK_SPAWN_LINES || o->err == DK_SPAWN_LINES) && !o->on_line)
		return dk_error_set(err, EINVAL, "run %s: DK_SPAWN_LINES needs on_line",
				    run.name);
	r = find_program(o->argv[0], o->env, &prog, err);
	if (r == 0)
		r = start(&run, prog, err);
	if (r == 0) {
		res->pid = run.me.pid;
		if (o->on_start)
			o->on_start(run.me.pid, o->userdata);
		supervise(&run, &timed_out, &cancelled);
		r = finish(&run, res, timed_out, cancelled, err);
		reg_remove(&run.me);
	}
	dk_closep(&run.pidfd);
	stream_release(&run.s[0]);
	stream_release(&run.s[1]);
	return r;
}

/* ---- starting without waiting (dk_spawn_start) ----------------------------------- */

/* What the child of dk_spawn_start() reports when a step before the exec fails. */
struct start_failure {
	int step; /* index into start_steps */
	int errnum;
};

static const char *const start_steps[] = {
	"reset its signals",
	"open /dev/null",
	"set its process group",
	"setgroups",
	"setgid",
	"setuid",
	"set its parent-death signal",
	"exec",
};

/* In the child of fork(): only async-signal-safe calls until the exec. */
_noreturn_ static void start_child(const struct dk_spawn_opts *o, const char *prog,
				   pid_t parent, int report)
{
	static const char *const empty[] = {NULL};
	struct start_failure f = {0, 0};
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;
	int fd;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		goto fail;
	f.step = 1;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 ||
	    (o->out != DK_SPAWN_INHERIT && dup2(fd, STDOUT_FILENO) < 0) ||
	    (o->err != DK_SPAWN_INHERIT && dup2(fd, STDERR_FILENO) < 0))
		goto fail;
	f.step = 2;
	if (setpgid(0, 0) < 0)
		goto fail;
	if (o->set_ids) {
		f.step = 3;
		if (setgroups(o->n_groups, o->groups) < 0)
			goto fail;
		f.step = 4;
		if (setgid(o->gid) < 0)
			goto fail;
		f.step = 5;
		if (setuid(o->uid) < 0)
			goto fail;
	}
	/* After the ids (changing them clears it): a daemon does not outlive a killed
	 * init, whose successor starts its own. */
	f.step = 6;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		goto fail;
	if (getppid() != parent)
		_exit(127);
	f.step = 7;
	execve(prog, (char *const *)o->argv, (char *const *)(o->env ? o->env : empty));
fail:
	f.errnum = errno;
	(void)!write(report, &f, sizeof(f));
	_exit(127);
}

int dk_spawn_start(const struct dk_spawn_opts *o, pid_t *pid, struct dk_error **err)
{
	_cleanup_free_ char *prog = NULL;
	_cleanup_(close_pipe) int p[2] = {-1, -1};
	struct start_failure f;
	pid_t parent = getpid(), child;
	ssize_t n;
	int r;

	*pid = 0;
	if (!o->argv || !o->argv[0])
		return dk_error_set(err, EINVAL, "run: no program given");
	if ((o->out != DK_SPAWN_NULL && o->out != DK_SPAWN_INHERIT) ||
	    (o->err != DK_SPAWN_NULL && o->err != DK_SPAWN_INHERIT))
		return dk_error_set(err, EINVAL,
				    "run %s: a started program's output goes to "
				    "/dev/null or ours",
				    o->argv[0]);
	r = find_program(o->argv[0], o->env, &prog, err);
	if (r < 0)
		return r;
	if (pipe2(p, O_CLOEXEC) < 0)
		return dk_error_set(err, errno, "run %s: pipe: %s", prog,
				    strerror(errno));
	child = fork();
	if (child < 0)
		return dk_error_set(err, errno, "run %s: fork: %s", prog,
				    strerror(errno));
	if (child == 0)
		start_child(o, prog, parent, p[1]);
	dk_closep(&p[1]);
	p[1] = -1;
	/* EOF: the exec closed the pipe. A report: the child failed and exited. */
	do
		n = read(p[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(f)) {
		*pid = child;
		return 0;
	}
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	if (f.step == 7)
		return dk_error_set(err, f.errnum, "run %s: %s", prog,
				    strerror(f.errnum));
	return dk_error_set(err, f.errnum, "run %s: %s: %s", prog, start_steps[f.step],
			    strerror(f.errnum));
}

void dk_spawn_result_release(struct dk_spawn_result *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}

int dk_spawn_check(const struct dk_spawn_result *res, const char *name,
		   struct dk_error **err)
{
	if (res->timed_out)
		return dk_error_set(err, ETIMEDOUT, "%s timed out", name);
	if (res->signo)
		return dk_error_set(err, EIO, "%s was killed by signal %s", name,
				    sigabbrev_np(res->signo) ? sigabbrev_np(res->signo)
							     : "?");
	if (res->exit_code != 0)
		return dk_error_set(err, EIO, "%s exited with status %d", name,
				    res->exit_code);
	return 0;
}
