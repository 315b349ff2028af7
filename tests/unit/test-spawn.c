/* SPDX-License-Identifier: Apache-2.0 */
/* base/spawn: exit status, signals, output capture and logging, the explicit
 * environment, the child's signal state and process group, timeouts that kill the
 * whole group, the reaper handover, and a missing program. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/clock.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/spawn.h"

#include "fixture.h"
#include "tap.h"

static char tmpdir[] = "/tmp/dk-test-spawn-XXXXXX";

/* Runs `/bin/sh -c script` with stdout and stderr captured. */
static int sh(const char *script, struct dk_spawn_opts *o, struct dk_spawn_result *res,
	      struct dk_error **err)
{
	const char *const argv[] = {"/bin/sh", "-c", script, NULL};

	o->argv = argv;
	return dk_spawn_run(o, res, err);
}

static void test_exit_and_signal(void)
{
	struct dk_spawn_opts o = {0};
	struct dk_spawn_result res;
	_cleanup_error_ struct dk_error *err = NULL;

	is_int(sh("exit 7", &o, &res, &err), 0,
	       "a non-zero exit is a result, not an error");
	is_int(res.exit_code, 7, "exit code");
	is_int(res.signo, 0, "no signal");
	ok(res.pid > 0 && !res.timed_out, "pid set, not timed out");
	ok(dk_spawn_check(&res, "sh", &err) == -EIO && strstr(err->msg, "status 7"),
	   "check: '%s'", err ? err->msg : "");
	dk_error_free(&err);
	dk_spawn_result_release(&res);

	is_int(sh("kill -TERM $$", &o, &res, &err), 0, "signal death runs");
	is_int(res.signo, SIGTERM, "killed by SIGTERM");
	is_int(res.exit_code, -1, "no exit code");
	ok(dk_spawn_check(&res, "sh", &err) == -EIO && strstr(err->msg, "signal TERM"),
	   "check names the signal: '%s'", err ? err->msg : "");
	dk_error_free(&err);
	dk_spawn_result_release(&res);

	is_int(sh("exit 0", &o, &res, &err), 0, "exit 0");
	is_int(dk_spawn_check(&res, "sh", &err), 0, "check: success");
	dk_spawn_result_release(&res);
}

static void test_capture(void)
{
	struct dk_spawn_opts o = {.out = DK_SPAWN_CAPTURE, .err = DK_SPAWN_CAPTURE};
	struct dk_spawn_result res;
	_cleanup_error_ struct dk_error *err = NULL;

	is_int(sh("echo out; echo err >&2; echo more", &o, &res, &err), 0,
	       "capture runs");
	is_str(res.out, "out\nmore\n", "stdout captured");
	is_str(res.err, "err\n", "stderr captured separately");
	is_int(res.out_len, 9, "stdout length");
	ok(!res.out_truncated && !res.err_truncated, "nothing truncated");
	dk_spawn_result_release(&res);

	o.capture_max = 4;
	is_int(sh("printf 123456789", &o, &res, &err), 0, "capped capture runs");
	is_str(res.out, "1234", "capture keeps capture_max bytes");
	ok(res.out_truncated, "and says it dropped the rest");
	dk_spawn_result_release(&res);

	o = (struct dk_spawn_opts){.out = DK_SPAWN_CAPTURE};
	is_int(sh("head -c 300000 /dev/zero", &o, &res, &err), 0,
	       "output larger than a pipe buffer");
	is_int(res.out_len, 300000, "all of it read");
	dk_spawn_result_release(&res);

	o = (struct dk_spawn_opts){.out = DK_SPAWN_CAPTURE, .cwd = tmpdir};
	is_int(sh("pwd", &o, &res, &err), 0, "cwd runs");
	ok(res.out && strncmp(res.out, tmpdir, strlen(tmpdir)) == 0, "cwd applied: %s",
	   res.out);
	dk_spawn_result_release(&res);
}

static void test_env(void)
{
	const char *const env[] = {"A=1", "B=two words", NULL};
	const char *const argv[] = {"/usr/bin/env", NULL};
	struct dk_spawn_opts o = {.argv = argv, .env = env, .out = DK_SPAWN_CAPTURE};
	struct dk_spawn_result res;
	_cleanup_error_ struct dk_error *err = NULL;

	setenv("DK_TEST_LEAK", "1", 1);
	is_int(dk_spawn_run(&o, &res, &err), 0, "env runs");
	is_str(res.out, "A=1\nB=two words\n",
	       "the environment is exactly what was given");
	dk_spawn_result_release(&res);

	o.env = NULL;
	is_int(dk_spawn_run(&o, &res, &err), 0, "env NULL runs");
	is_str(res.out, "", "env NULL: an empty environment, not environ");
	dk_spawn_result_release(&res);
}

static void test_signal_state(void)
{
	struct dk_spawn_opts o = {.out = DK_SPAWN_CAPTURE};
	struct dk_spawn_result res;
	_cleanup_error_ struct dk_error *err = NULL;
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_pipe;
	sigset_t all, old;
	char want[64];

	/* What init does: every signal blocked, some ignored. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGPIPE, &ign, &old_pipe);
	is_int(sh("exec grep -E '^Sig(Blk|Ign)' /proc/self/status", &o, &res, &err), 0,
	       "runs with all signals blocked in the parent");
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	is_str(res.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
	       "child: empty signal mask, nothing ignored");
	dk_spawn_result_release(&res);

	is_int(sh("exec cut -d' ' -f5 /proc/self/stat", &o, &res, &err), 0,
	       "pgrp probe runs");
	snprintf(want, sizeof(want), "%d\n", (int)res.pid);
	is_str(res.out, want, "the child leads its own process group");
	ok(res.pid != getpgrp(), "not the caller's group");
	dk_spawn_result_release(&res);
}

static bool gone(pid_t pid)
{
	char path[64], *stat = NULL;
	bool dead;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (dk_read_file(path, 0, &stat, NULL) < 0)
		return true;
	dead = strstr(stat, ") Z ") != NULL; /* a zombie waiting for its new parent */
	free(stat);
	return dead;
}

static pid_t read_pid(const char *path)
{
	char *s = NULL;
	pid_t pid = -1;

	if (dk_read_file(path, 0, &s, NULL) == 0)
		pid = (pid_t)atoi(s);
	free(s);
	return pid;
}

static void test_timeout(void)
{
	_cleanup_free_ char *pidfile = dk_path_join(tmpdir, "grandchild");
	_cleanup_free_ char *script = NULL;
	struct dk_spawn_opts o = {.timeout_ms = 300, .grace_ms = 300};
	struct dk_spawn_result res;
	_cleanup_error_ struct dk_error *err = NULL;
	int64_t t0 = dk_now_ms();
	pid_t g;
	bool dead = false;

	script = dk_strdup_printf("sleep 30 & echo $! >%s; wait", pidfile);
	is_int(sh(script, &o, &res, &err), -ETIMEDOUT, "timeout reported as ETIMEDOUT");
	ok(res.timed_out && res.signo == SIGTERM, "timed out, ended by SIGTERM (%d)",
	   res.signo);
	ok(err && strstr(err->msg, "timed out after 300 ms") &&
		   strstr(err->msg, "process group"),
	   "the message says so: '%s'", err ? err->msg : "");
	ok(dk_now_ms() - t0 < 5000, "did not wait for the sleep");
	g = read_pid(pidfile);
	for (int i = 0; i < 100 && g > 0 && !(dead = gone(g)); i++)
		usleep(20000);
	ok(g > 0 && dead, "the grandchild (pid %d) was killed with the group", (int)g);
	dk_error_free(&err);
	dk_spawn_result_release(&res);

	/* A group that ignores SIGTERM gets SIGKILL after the grace period. */
	t0 = dk_now_ms();
	is_int(sh("trap '' TERM; sleep 30; true", &o, &res, &err), -ETIMEDOUT,
	       "SIGTERM ignored: still ends");
	is_int(res.signo, SIGKILL, "SIGKILL after the grace period");
	ok(dk_now_ms() - t0 >= 550 && dk_now_ms() - t0 < 5000, "after timeout + grace");
	dk_error_free(&err);
	dk_spawn_result_release(&res);
}

/* The reaper wins the race: it reaps the child before the spawner looks. */
static void reap_first(pid_t pid, void *userdata)
{
	int *handed = userdata, status;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*handed = dk_spawn_reaped(pid, status);
}

static atomic_bool reaper_stop;

/* init's reaper, as a thread: waitpid(-1) and hand every status over. */
static void *reaper(void *unused)
{
	while (!atomic_load(&reaper_stop)) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0)
			dk_spawn_reaped(pid, status);
		else
			usleep(200);
	}
	return NULL;
}

static void test_reaped(void)
{
	int handed = -1;
	struct dk_spawn_opts o = {.on_start = reap_first, .userdata = &handed};
	struct dk_spawn_result res;
	_cleanup_error_ struct dk_error *err = NULL;
	pthread_t t;
	int right = 0;

	is_int(sh("exit 3", &o, &res, &err), 0,
	       "child reaped by someone else: no ECHILD");
	is_int(handed, 1, "dk_spawn_reaped() took the status");
	is_int(res.exit_code, 3, "the spawner got the handed-over status");
	dk_spawn_result_release(&res);
	is_int(dk_spawn_reaped(getpid() + 100000, 0), 0, "an unknown pid is not ours");

	atomic_store(&reaper_stop, false);
	pthread_create(&t, NULL, reaper, NULL);
	o = (struct dk_spawn_opts){.out = DK_SPAWN_CAPTURE};
	for (int i = 0; i < 20; i++) {
		_cleanup_free_ char *s = dk_strdup_printf("echo %d; exit %d", i, i);
		char want[16];

		snprintf(want, sizeof(want), "%d\n", i);
		if (sh(s, &o, &res, &err) == 0 && res.exit_code == i &&
		    streq(res.out, want))
			right++;
		dk_error_free(&err);
		dk_spawn_result_release(&res);
	}
	atomic_store(&reaper_stop, true);
	pthread_join(t, NULL);
	is_int(right, 20, "racing a waitpid(-1) reaper thread: every status arrives");
}

static void test_missing(void)
{
	const char *const abs[] = {"/nonexistent/dk-prog", NULL};
	const char *const rel[] = {"dk-no-such-prog", NULL};
	const char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	struct dk_spawn_opts o = {.argv = abs};
	struct dk_spawn_result res;
	_cleanup_error_ struct dk_error *err = NULL;

	is_int(dk_spawn_run(&o, &res, &err), -ENOENT, "missing path: ENOENT");
	ok(err && strstr(err->msg, "/nonexistent/dk-prog") &&
		   strstr(err->msg, strerror(ENOENT)),
	   "names the program: '%s'", err ? err->msg : "");
	dk_error_free(&err);
	dk_spawn_result_release(&res);

	o = (struct dk_spawn_opts){.argv = rel, .env = env};
	is_int(dk_spawn_run(&o, &res, &err), -ENOENT, "missing on PATH: ENOENT");
	ok(err && strstr(err->msg, "dk-no-such-prog") &&
		   strstr(err->msg, "/usr/bin:/bin"),
	   "names the program and PATH: '%s'", err ? err->msg : "");
	dk_error_free(&err);
	dk_spawn_result_release(&res);

	const char *const sh_name[] = {"sh", "-c", "exit 5", NULL};
	o = (struct dk_spawn_opts){.argv = sh_name, .env = env};
	is_int(dk_spawn_run(&o, &res, &err), 0, "a name is looked up in env's PATH");
	is_int(res.exit_code, 5, "and run");
	dk_spawn_result_release(&res);
}

static void test_log(void)
{
	_cleanup_free_ char *path = dk_path_join(tmpdir, "log");
	_cleanup_free_ char *text = NULL;
	struct dk_spawn_opts o = {.out = DK_SPAWN_LOG,
				  .err = DK_SPAWN_LOG,
				  .log_level = DK_LOG_INFO,
				  .log_prefix = "tool"};
	struct dk_spawn_result res;
	_cleanup_error_ struct dk_error *err = NULL;
	int fd, saved;

	fflush(stdout);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	dk_log_setup(DK_LOG_INFO, false, NULL);
	is_int(sh("echo one; echo two >&2; printf three", &o, &res, &err), 0, "log runs");
	dk_log_setup(DK_LOG_WARN, false, NULL);
	dup2(saved, STDERR_FILENO);
	close(saved);
	ok(res.out == NULL && res.err == NULL, "nothing captured in log mode");
	dk_spawn_result_release(&res);
	ok(dk_read_file(path, 0, &text, NULL) == 0, "log read");
	ok(text && strstr(text, ": info: tool: one\n"), "stdout line logged");
	ok(text && strstr(text, ": info: tool: two\n"), "stderr line logged");
	ok(text && strstr(text, ": info: tool: three\n"), "an unfinished last line too");
}

struct lines {
	int n[3];
	char last[2][64];
	int cancel_w; /* write end: written after the second stdout line */
};

static void on_line(int stream, const char *line, void *userdata)
{
	struct lines *l = userdata;

	l->n[stream]++;
	snprintf(l->last[stream - 1], sizeof(l->last[0]), "%s", line);
	if (stream == 1 && l->n[1] == 2 && l->cancel_w > 0)
		(void)!write(l->cancel_w, "x", 1);
}

/* Lines reach on_line() per stream; a readable cancel fd stops the whole group. */
static void test_lines_cancel(void)
{
	_cleanup_free_ char *pidfile = dk_path_join(tmpdir, "grandchild2");
	_cleanup_free_ char *script = NULL;
	struct lines l = {0};
	struct dk_spawn_opts o = {.out = DK_SPAWN_LINES,
				  .err = DK_SPAWN_LINES,
				  .on_line = on_line,
				  .userdata = &l,
				  .grace_ms = 300};
	struct dk_spawn_result res;
	_cleanup_error_ struct dk_error *err = NULL;
	int p[2];
	int64_t t0;
	pid_t g;
	bool dead = false;

	is_int(sh("echo a; echo b >&2; printf 'c\\nd'", &o, &res, &err), 0, "ran");
	is_int(l.n[1], 3, "three stdout lines (the last without a newline)");
	is_int(l.n[2], 1, "one stderr line");
	is_str(l.last[0], "d", "last stdout line");
	is_str(l.last[1], "b", "stderr line");
	dk_spawn_result_release(&res);

	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	memset(&l, 0, sizeof(l));
	l.cancel_w = p[1];
	o.cancel_fd = p[0];
	script = dk_strdup_printf("sleep 30 & echo $! >%s; echo one; echo two; wait",
				  pidfile);
	t0 = dk_now_ms();
	is_int(sh(script, &o, &res, &err), -ECANCELED, "cancel fd: ECANCELED");
	ok(res.cancelled && !res.timed_out, "result says cancelled");
	ok(err && strstr(err->msg, "stopped on request"), "message: '%s'",
	   err ? err->msg : "");
	ok(dk_now_ms() - t0 < 5000, "did not wait for the sleep");
	g = read_pid(pidfile);
	for (int i = 0; i < 100 && g > 0 && !(dead = gone(g)); i++)
		usleep(20000);
	ok(g > 0 && dead, "the grandchild (pid %d) was killed with the group", (int)g);
	dk_spawn_result_release(&res);
	close(p[0]);
	close(p[1]);
}

/* dk_spawn_start: returns at once, the child in its own process group, with the
 * given environment and ids; a program that cannot start fails before it returns. */
static void test_start(void)
{
	_cleanup_free_ char *out = dk_path_join(tmpdir, "start.out");
	_cleanup_free_ char *script = NULL, *got = NULL;
	const char *const env[] = {"A=1", NULL};
	const char *argv[] = {"/bin/sh", "-c", NULL, NULL};
	const char *const missing[] = {"/nonexistent/dk-daemon", NULL};
	_cleanup_free_ char *plain = dk_path_join(tmpdir, "plain");
	const char *notexec[] = {NULL, NULL};
	struct dk_spawn_opts o = {.argv = argv, .env = env};
	_cleanup_error_ struct dk_error *err = NULL;
	int64_t t0 = dk_now_ms();
	pid_t pid = 0;
	int status = 0;

	script = dk_strdup_printf(
		"echo \"$(id -u):$(id -g) $A $(cut -d' ' -f5 /proc/$$/stat)\" > %s; "
		"sleep 0.3",
		out);
	argv[2] = script;
	o.set_ids = true;
	o.uid = 65534;
	o.gid = 65534;
	/* 65534 cannot write into our 0700 tmpdir: the file is made for it first */
	(void)!chmod(tmpdir, 0755);
	close(open(out, O_WRONLY | O_CREAT | O_CLOEXEC, 0666));
	(void)!chmod(out, 0666);
	is_int(dk_spawn_start(&o, &pid, &err), 0, "start: starts");
	ok(pid > 0 && dk_now_ms() - t0 < 250, "start: returns at once with the pid (%d)",
	   (int)pid);
	is_int(waitpid(pid, &status, 0), pid, "start: the caller reaps it");
	is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0, "start: it exited 0");
	is_int(dk_read_file(out, 0, &got, NULL), 0, "start: it wrote its line");
	if (got)
		dk_strip(got);
	{
		_cleanup_free_ char *want =
			dk_strdup_printf("65534:65534 1 %d", (int)pid);

		is_str(got, want, "start: uid:gid 65534, env A=1, its own process group");
	}
	(void)!chmod(tmpdir, 0700);

	o = (struct dk_spawn_opts){.argv = missing, .env = env};
	is_int(dk_spawn_start(&o, &pid, &err), -ENOENT,
	       "start: a missing program: ENOENT");
	ok(err && strstr(err->msg, "/nonexistent/dk-daemon"), "names it: '%s'",
	   err ? err->msg : "");
	dk_error_free(&err);
	close(open(plain, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	notexec[0] = plain;
	o.argv = notexec;
	is_int(dk_spawn_start(&o, &pid, &err), -EACCES,
	       "start: not executable: EACCES from the exec, before it returns");
	ok(err && strstr(err->msg, "plain: Permission denied"), "names it: '%s'",
	   err ? err->msg : "");
	dk_error_free(&err);
	o.argv = argv;
	o.out = DK_SPAWN_CAPTURE;
	is_int(dk_spawn_start(&o, &pid, &err), -EINVAL, "start: CAPTURE refused");
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_exit_and_signal();
	test_capture();
	test_env();
	test_signal_state();
	test_timeout();
	test_reaped();
	test_missing();
	test_log();
	test_lines_cancel();
	test_start();
	fx_rm_rf(tmpdir);
	return tap_done();
}
