/* SPDX-License-Identifier: Apache-2.0 */
/* Supervision, tini's model: every signal but the synchronous faults is blocked
 * and read from a signalfd; children (ours and orphans reparented to us) are
 * reaped in a waitpid(-1, WNOHANG) loop. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/cleanup.h"

#include "base/log.h"
#include "base/spawn.h"
#include "init/init-run.h"

/* Blocks every signal but the synchronous faults (tini's set), so they queue on
 * the signalfd instead of killing us between phases. */
int dk_init_signals(struct dk_init *in, struct dk_error **err)
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

static void reap_children(struct dk_init *in)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return;
		/* A child of dk_spawn_run() gets its status handed over. */
		if (dk_spawn_reaped(pid, status) ||
		    dk_init_daemon_reaped(in, pid, status))
			continue;
		dk_debug("reaped child %d (status %d)", (int)pid, status);
	}
}

/* Reads every queued signal. Returns true when SIGTERM/SIGINT came. */
bool dk_init_drain_signals(struct dk_init *in)
{
	struct signalfd_siginfo si;
	bool term = false;

	while (read(in->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap_children(in);
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
bool dk_init_shutdown_wait(void *userdata, int ms)
{
	struct dk_init *in = userdata;
	int64_t end = dk_now_ms() + ms;

	if (in->skip_waits)
		return false;
	for (;;) {
		int64_t left = end - dk_now_ms();
		struct pollfd pfd = {in->sfd, POLLIN, 0};

		if (left <= 0)
			return true;
		if (poll(&pfd, 1, (int)left) > 0 && dk_init_drain_signals(in)) {
			dk_warn("second termination signal: no more waiting for modules "
				"in use");
			in->skip_waits = true;
			return false;
		}
	}
}

/* libkmod, libelf, OpenSSL and libyaml pages touched once while starting would
 * stay in our RSS for the life of the pod. Ask the kernel to reclaim clean
 * file-backed pages (a hint: nothing is lost, pages come back from the page cache
 * on use). */
void dk_init_trim_memory(void)
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

/* Blocks on the signalfd, reaping children, until SIGTERM/SIGINT. */
void dk_init_wait(struct dk_init *in)
{
	dk_info("%s: blocking on signals (pid %d)", PHASE(WAIT), (int)getpid());
	for (;;) {
		struct pollfd pfd = {in->sfd, POLLIN, 0};

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			dk_warn("%s: poll on the signalfd: %s", PHASE(WAIT),
				strerror(errno));
		if (dk_init_drain_signals(in))
			return;
	}
}
