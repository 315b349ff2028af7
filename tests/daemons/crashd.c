/* SPDX-License-Identifier: Apache-2.0 */
/* crashd NAME LOG unix:PATH CRASH_AFTER_MS COUNTER CRASHES: listens on PATH (ready),
 * then aborts after CRASH_AFTER_MS, as long as COUNTER (a file holding a number)
 * is below CRASHES; after that it stays until SIGTERM. */
#include <signal.h>
#include <stdio.h>
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
	FILE *f;
	int n = 0;

	if (argc != 7)
		return 2;
	signal(SIGTERM, on_term);
	testd_log(argv[2], argv[1], "start");
	if (testd_ready(argv[3]) < 0)
		return 3;
	testd_log(argv[2], argv[1], "ready");
	f = fopen(argv[5], "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = 0;
		fclose(f);
	}
	if (n < atoi(argv[6])) {
		f = fopen(argv[5], "w");
		if (f) {
			fprintf(f, "%d\n", n + 1);
			fclose(f);
		}
		testd_sleep_ms(atol(argv[4]));
		testd_log(argv[2], argv[1], "crash");
		abort();
	}
	while (!term)
		pause();
	testd_log(argv[2], argv[1], "term");
	return 0;
}
