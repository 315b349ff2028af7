/* SPDX-License-Identifier: Apache-2.0 */
/* What the test daemons share: an event log of "NAME EVENT MS" lines (wall-clock
 * milliseconds, comparable with `date +%s%3N`), appended with one write each. */
#pragma once

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static inline void testd_log(const char *log, const char *name, const char *event)
{
	struct timespec ts;
	char line[256];
	int fd, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%s %s %lld\n", name, event,
		     (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)!write(fd, line, (size_t)n);
		close(fd);
	}
}

static inline void testd_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* "file:PATH" creates PATH; "unix:PATH" listens there (the fd stays open). */
static inline int testd_ready(const char *how)
{
	if (strncmp(how, "file:", 5) == 0) {
		int fd = open(how + 5, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		return fd < 0 ? -1 : close(fd);
	}
	if (strncmp(how, "unix:", 5) == 0) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", how + 5);
		unlink(sun.sun_path);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
		    listen(fd, 8) < 0)
			return -1;
		return 0;
	}
	return -1;
}
