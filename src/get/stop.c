/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "get/stop.h"

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

void dk_get_stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
}

int dk_get_stop_signal(void)
{
	return stop_signal;
}

int dk_get_check_stop(const char *what, struct dk_error **err)
{
	int sig = stop_signal;

	if (!sig)
		return 0;
	return dk_error_set(err, EINTR, "%s: stopped by %s", what,
			    sig == SIGINT ? "SIGINT" : "SIGTERM");
}
