/* SPDX-License-Identifier: Apache-2.0 */
/* neverd NAME LOG: runs, never becomes ready; exits 0 on SIGTERM. */
#include <signal.h>

#include "testd.h"

static volatile sig_atomic_t term;

static void on_term(int sig)
{
	(void)sig;
	term = 1;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	signal(SIGTERM, on_term);
	testd_log(argv[2], argv[1], "start");
	while (!term)
		pause();
	testd_log(argv[2], argv[1], "term");
	return 0;
}
