// SPDX-License-Identifier: Apache-2.0
/*
 * Static helper for the VM benchmark (scripts/bench init), built into the initramfs.
 *
 *   dkvm-bench seq CMD ARGS... [:: CMD ARGS...]...
 *       runs the commands one after another; prints "us=N" (CLOCK_MONOTONIC, fork of
 *       the first to exit of the last) and fails if one fails.
 *   dkvm-bench init READY_FILE SETTLE_MS CMD ARGS...
 *       starts CMD and waits for READY_FILE with inotify on its directory (no busy
 *       polling stealing the one emulated CPU); prints "us=N" (start to ready file);
 *       waits SETTLE_MS; prints "rss_kb= anon_kb= file_kb= shmem_kb=" of CMD; sends
 *       SIGTERM, waits, prints "stop_us=N exit=N" (SIGTERM to exit).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static pid_t spawn(char **argv)
{
	pid_t pid = fork();

	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "dkvm-bench: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Prints VmRSS, RssAnon, RssFile, RssShmem of pid (files in an initramfs count as shmem).
 */
static void print_rss(pid_t pid)
{
	char path[64], line[256];
	long rss = -1, anon = -1, file = -1, shmem = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "VmRSS:", 6) == 0)
				rss = strtol(line + 6, NULL, 10);
			else if (strncmp(line, "RssAnon:", 8) == 0)
				anon = strtol(line + 8, NULL, 10);
			else if (strncmp(line, "RssFile:", 8) == 0)
				file = strtol(line + 8, NULL, 10);
			else if (strncmp(line, "RssShmem:", 9) == 0)
				shmem = strtol(line + 9, NULL, 10);
		}
		fclose(f);
	}
	printf("rss_kb=%ld anon_kb=%ld file_kb=%ld shmem_kb=%ld\n", rss, anon, file,
	       shmem);
}

static int cmd_seq(int argc, char **argv)
{
	long long t0 = now_us();
	int i = 0;

	while (i < argc) {
		int j = i;

		while (j < argc && strcmp(argv[j], "::") != 0)
			j++;
		argv[j < argc ? j : argc] = NULL;
		int rc = wait_exit(spawn(argv + i));
		if (rc != 0) {
			fprintf(stderr, "dkvm-bench: %s exited %d\n", argv[i], rc);
			return 1;
		}
		i = j + 1;
	}
	printf("us=%lld\n", now_us() - t0);
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	struct stat sb;
	long long t0, t1;
	pid_t pid;
	int st;

	if (argc < 3)
		return 2;
	const char *ready = argv[0];
	long settle_ms = strtol(argv[1], NULL, 10);
	char dirbuf[4096];
	snprintf(dirbuf, sizeof(dirbuf), "%s", ready);
	const char *dir = dirname(dirbuf);
	mkdir(dir, 0755);
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in < 0 ||
	    inotify_add_watch(in, dir, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		fprintf(stderr, "dkvm-bench: inotify on %s: %s\n", dir, strerror(errno));
		return 1;
	}
	unlink(ready);
	t0 = now_us();
	pid = spawn(argv + 2);
	for (;;) {
		struct pollfd p = {.fd = in, .events = POLLIN};
		char buf[4096];

		if (stat(ready, &sb) == 0)
			break;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			fprintf(stderr, "dkvm-bench: %s exited before ready\n", argv[2]);
			return 1;
		}
		if (now_us() - t0 > 60000000) {
			fprintf(stderr, "dkvm-bench: no ready file after 60 s\n");
			kill(pid, SIGKILL);
			return 1;
		}
		if (poll(&p, 1, 50) > 0)
			while (read(in, buf, sizeof(buf)) > 0)
				;
	}
	t1 = now_us();
	printf("us=%lld\n", t1 - t0);
	usleep(settle_ms * 1000);
	print_rss(pid);
	fflush(stdout);
	t0 = now_us();
	kill(pid, SIGTERM);
	int rc = wait_exit(pid);
	printf("stop_us=%lld exit=%d\n", now_us() - t0, rc);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "seq") == 0)
		return cmd_seq(argc - 2, argv + 2);
	if (argc >= 5 && strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 2, argv + 2);
	fprintf(stderr, "usage: dkvm-bench seq CMD... [:: CMD...] | init READY SETTLE_MS "
			"CMD...\n");
	return 2;
}
