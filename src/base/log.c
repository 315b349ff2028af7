/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "shared/json-writer.h"
#include "shared/strbuf.h"

#include "base/log.h"

/* Logging settings are the one piece of process-wide state (set by main), together
 * with whether a progress line is on the screen (the sink owns stderr). */
static struct {
	enum dk_log_level level;
	bool json;
	const char *cmd;
	bool progress_shown;
} log_opts = {DK_LOG_WARN, false, NULL, false};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void dk_log_setup(enum dk_log_level level, bool json, const char *cmd)
{
	log_opts.level = level;
	log_opts.json = json;
	log_opts.cmd = cmd;
}

int dk_log_level_parse(const char *s, enum dk_log_level *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (streq(s, level_names[i])) {
			*out = (enum dk_log_level)i;
			return 0;
		}
	}
	return -1;
}

bool dk_log_enabled(enum dk_log_level level)
{
	return level <= log_opts.level;
}

void dk_log(enum dk_log_level level, int errnum, const char *fmt, ...)
{
	struct strbuf msg, line;
	va_list ap;

	if (!dk_log_enabled(level))
		return;
	strbuf_init(&msg);
	strbuf_init(&line);
	va_start(ap, fmt);
	strbuf_vprintf(&msg, fmt, ap);
	va_end(ap);

	if (log_opts.json) {
		struct timeval tv;
		struct tm tm;
		char ts[40];
		struct json_writer w;

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%06ldZ",
			 (long)tv.tv_usec);
		json_init(&w, false);
		json_begin_object(&w);
		json_kv_string(&w, "time", ts);
		json_kv_string(&w, "level", level_names[level]);
		if (log_opts.cmd)
			json_kv_string(&w, "cmd", log_opts.cmd);
		json_kv_string(&w, "msg", strbuf_str(&msg));
		if (errnum)
			json_kv_int(&w, "errno", errnum);
		json_end_object(&w);
		strbuf_printf(&line, "%s\n", json_str(&w));
		json_release(&w);
	} else {
		strbuf_printf(&line, "drvkit[%d]: %s: %s", (int)getpid(),
			      level_names[level], strbuf_str(&msg));
		if (errnum)
			strbuf_printf(&line, ": %s", strerror(errnum));
		strbuf_putc(&line, '\n');
	}
	/* One write per line so concurrent writers do not interleave. */
	if (!line.oom) {
		dk_log_progress(NULL);
		(void)!write(STDERR_FILENO, line.s, line.len);
	}
	strbuf_release(&msg);
	strbuf_release(&line);
}

void dk_log_progress(const char *text)
{
	struct strbuf line;

	if (!text) {
		if (log_opts.progress_shown)
			(void)!write(STDERR_FILENO, "\r\033[K", 4);
		log_opts.progress_shown = false;
		return;
	}
	strbuf_init(&line);
	strbuf_printf(&line, "\r\033[K%s", text);
	if (!line.oom)
		(void)!write(STDERR_FILENO, line.s, line.len);
	strbuf_release(&line);
	log_opts.progress_shown = true;
}

bool dk_log_is_tty(void)
{
	return isatty(STDERR_FILENO) == 1;
}
