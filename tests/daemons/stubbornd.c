/* SPDX-License-Identifier: Apache-2.0 */
/* stubbornd NAME LOG: ignores SIGTERM (logs it), so only SIGKILL ends it. */
#include <signal.h>

#include "testd.h"

static volatile sig_atomic_t got;

static void on_term(int sig)
{
	(void)sig;
	got = 1;
}

int main(int argc, char **argv)
{
	signal(SIGTERM, on_term);
	if (argc != 3)
		return 2;
	testd_log(argv[2], argv[1], "start");
	for (;;) {
		pause();
		if (got) {
			got = 0;
			testd_log(argv[2], argv[1], "ignored-term");
		}
	}
}
