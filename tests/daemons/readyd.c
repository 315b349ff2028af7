/* SPDX-License-Identifier: Apache-2.0 */
/* readyd NAME LOG DELAY_MS file:PATH|unix:PATH: ready after DELAY_MS; exits 0 on
 * SIGTERM, logging "NAME term MS" first. */
#include <signal.h>
#include <stdlib.h>

#include "testd.h"

static volatile sig_atomic_t term;

static void on_term(int sig)
{
	(void)sig;
	term = 1;
}

int main(int argc, char **argv)
{
	if (argc != 5)
		return 2;
	signal(SIGTERM, on_term);
	testd_log(argv[2], argv[1], "start");
	testd_sleep_ms(atol(argv[3]));
	if (testd_ready(argv[4]) < 0)
		return 3;
	testd_log(argv[2], argv[1], "ready");
	while (!term)
		pause();
	testd_log(argv[2], argv[1], "term");
	return 0;
}
