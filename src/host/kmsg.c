/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/log.h"
#include "host/kmsg.h"

/* The kernel's records are at most 8 KiB (CONSOLE_EXT_LOG_MAX): a smaller buffer
 * makes read() of /dev/kmsg fail with EINVAL. Also the longest line kept from a
 * regular file. */
#define READ_MAX 8192
/* Reads per window: a log flooded faster than we read must not keep us here. */
#define READS_MAX 4096

/* Lines of one kind, the first ones of the window. */
struct kept {
	char *line[DK_KMSG_MAX_LINES];
	size_t n;
};

struct dk_kmsg {
	int fd;		       /* -1: nothing to read */
	char *module;	       /* whose lines */
	struct strbuf partial; /* a line cut by a read of a regular file */
	bool overlong;	       /* partial grew past READ_MAX: skip to the next line */
	struct kept named;     /* lines naming the module */
	struct kept urgent;    /* other lines at LOG_WARNING or worse */
	struct kept other;     /* the rest */
	size_t records;	       /* kernel records of the window */
	size_t lost; /* EPIPE answers: records overwritten before we read them */
};

/* The kernel's notices about any out-of-tree, unsigned or proprietary module, printed
 * under its name: not what the module said. */
static const char *const boilerplate[] = {
	"taints kernel",   /* loading out-of-tree module, module license */
	"tainting kernel", /* module verification failed: ... */
	"Disabling lock debugging due to", /* ... kernel taint */
};

static bool parse_num(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;

	if (s == end || !isdigit((unsigned char)*s))
		return false;
	for (; s < end && isdigit((unsigned char)*s); s++) {
		if (n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*v = n;
	return true;
}

static bool parse_sep(const char **p, const char *end)
{
	if (*p == end || **p != ',')
		return false;
	(*p)++;
	return true;
}

int dk_kmsg_parse(const char *line, size_t len, struct dk_kmsg_record *rec)
{
	const char *semi = memchr(line, ';', len), *p = line;
	uint64_t prio;

	/* Past the timestamp come the flags and, in newer kernels, more fields
	 * (caller id): what they say does not matter here. */
	if (!semi || !parse_num(&p, semi, &prio) || prio > 1023 || !parse_sep(&p, semi) ||
	    !parse_num(&p, semi, &rec->seq) || !parse_sep(&p, semi) ||
	    !parse_num(&p, semi, &rec->ts_usec) || (p != semi && *p != ','))
		return -EINVAL;
	rec->facility = (int)(prio >> 3);
	rec->level = (int)(prio & 7);
	rec->msg = semi + 1;
	rec->msg_len = len - (size_t)(rec->msg - line);
	while (rec->msg_len && isspace((unsigned char)rec->msg[rec->msg_len - 1]))
		rec->msg_len--;
	return 0;
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static bool same_char(char a, char b)
{
	return a == b || ((a == '-' || a == '_') && (b == '-' || b == '_'));
}

/* Whether msg names module as a word of its own, '-' and '_' alike: "dktest_fail:
 * ...", "nvidia-peermem nv_mem_client_init:551 ..." for nvidia_peermem, but not
 * "nvidia-nvlink: ..." for nvidia. */
static bool names_module(const char *msg, size_t len, const char *module)
{
	size_t ml = strlen(module);

	for (size_t i = 0; ml && i + ml <= len; i++) {
		size_t j = 0;

		if ((i > 0 && name_char(msg[i - 1])) ||
		    (i + ml < len && name_char(msg[i + ml])))
			continue;
		while (j < ml && same_char(msg[i + j], module[j]))
			j++;
		if (j == ml)
			return true;
	}
	return false;
}

static bool is_boilerplate(const char *msg, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(boilerplate); i++)
		if (memmem(msg, len, boilerplate[i], strlen(boilerplate[i])))
			return true;
	return false;
}

static int kept_add(struct kept *k, const char *msg, size_t len)
{
	if (k->n == DK_KMSG_MAX_LINES)
		return 0;
	len = MIN(len, (size_t)DK_KMSG_MAX_BYTES);
	for (size_t i = 0; i < k->n; i++)
		if (strlen(k->line[i]) == len && memcmp(k->line[i], msg, len) == 0)
			return 0;
	k->line[k->n] = strndup(msg, len);
	if (!k->line[k->n])
		return -ENOMEM;
	k->n++;
	return 0;
}

static void kept_release(struct kept *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->line[i]);
	k->n = 0;
}

static int feed_line(struct dk_kmsg *k, const char *line, size_t len)
{
	struct dk_kmsg_record rec;

	/* Continuation lines, and what user space wrote to /dev/kmsg (it cannot
	 * claim the kernel's facility 0). */
	if (dk_kmsg_parse(line, len, &rec) < 0 || rec.facility != 0)
		return 0;
	k->records++;
	if (!rec.msg_len || is_boilerplate(rec.msg, rec.msg_len))
		return 0;
	if (names_module(rec.msg, rec.msg_len, k->module))
		return kept_add(&k->named, rec.msg, rec.msg_len);
	return kept_add(rec.level <= LOG_WARNING ? &k->urgent : &k->other, rec.msg,
			rec.msg_len);
}

/* Adds data to the cut line; 1 when it is now whole (the newline consumed), 0 when
 * data ended first. */
static int partial_add(struct dk_kmsg *k, const char *data, size_t len, size_t *used)
{
	const char *nl = memchr(data, '\n', len);
	size_t n = nl ? (size_t)(nl - data) : len;

	*used = nl ? n + 1 : n;
	if (!k->overlong)
		strbuf_putn(&k->partial, data, n);
	if (k->partial.oom)
		return -ENOMEM;
	if (k->partial.len > READ_MAX) {
		k->overlong = true;
		strbuf_release(&k->partial);
		strbuf_init(&k->partial);
	}
	return nl ? 1 : 0;
}

int dk_kmsg_feed(struct dk_kmsg *k, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	int r;

	if (k->partial.len || k->overlong) {
		size_t used;

		r = partial_add(k, p, len, &used);
		if (r <= 0)
			return r;
		p += used;
		r = k->overlong ? 0 : feed_line(k, k->partial.s, k->partial.len);
		k->overlong = false;
		strbuf_release(&k->partial);
		strbuf_init(&k->partial);
		if (r < 0)
			return r;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t used;

		if (!nl)
			return partial_add(k, p, (size_t)(end - p), &used);
		r = feed_line(k, p, (size_t)(nl - p));
		if (r < 0)
			return r;
		p = nl + 1;
	}
	return 0;
}

char *dk_kmsg_quote(const struct dk_kmsg *k)
{
	const struct kept *use = k->named.n    ? &k->named
				 : k->urgent.n ? &k->urgent
					       : &k->other;
	struct strbuf b;

	if (!use->n)
		return NULL;
	strbuf_init(&b);
	for (size_t i = 0; i < use->n; i++)
		strbuf_printf(&b, "%s%s", i ? "; " : "", use->line[i]);
	if (b.oom) {
		strbuf_release(&b);
		return NULL;
	}
	if (b.len > DK_KMSG_MAX_BYTES) {
		b.len = DK_KMSG_MAX_BYTES - 3;
		memcpy(b.s + b.len, "...", 4);
		b.len += 3;
	}
	return strbuf_steal(&b);
}

struct dk_kmsg *dk_kmsg_new(const char *module)
{
	struct dk_kmsg *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->fd = -1;
	strbuf_init(&k->partial);
	k->module = strdup(module);
	if (!k->module) {
		free(k);
		return NULL;
	}
	return k;
}

void dk_kmsg_free(struct dk_kmsg *k)
{
	if (!k)
		return;
	if (k->fd >= 0)
		close(k->fd);
	free(k->module);
	strbuf_release(&k->partial);
	kept_release(&k->named);
	kept_release(&k->urgent);
	kept_release(&k->other);
	free(k);
}

int dk_kmsg_open(struct dk_kmsg *k, const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int r;

	if (fd < 0) {
		r = -errno;
		dk_debug("kernel log %s not read (an insert failure will not quote it): "
			 "%s",
			 path, strerror(-r));
		return r;
	}
	/* The window starts now: what the module prints while the kernel runs its
	 * init comes after this point, earlier lines (another attempt) are not ours. */
	if (lseek(fd, 0, SEEK_END) < 0) {
		r = -errno;
		dk_debug("kernel log %s not read: seek to its end: %s", path,
			 strerror(-r));
		return r;
	}
	if (k->fd >= 0)
		close(k->fd);
	k->fd = TAKE_FD(fd);
	return 0;
}

void dk_kmsg_read(struct dk_kmsg *k)
{
	char buf[READ_MAX];

	if (k->fd < 0)
		return;
	for (int i = 0; i < READS_MAX; i++) {
		ssize_t n = read(k->fd, buf, sizeof(buf));

		if (n > 0) {
			if (dk_kmsg_feed(k, buf, (size_t)n) < 0)
				break;
			continue;
		}
		if (n == 0) /* end of a regular file */
			break;
		if (errno == EINTR)
			continue;
		if (errno == EPIPE) { /* overwritten: the read after goes on */
			k->lost++;
			continue;
		}
		if (errno != EAGAIN)
			dk_debug("read the kernel log: %s", strerror(errno));
		break;
	}
	dk_debug("kernel log: %zu records since the insert of %s began%s", k->records,
		 k->module, k->lost ? " (some overwritten before they were read)" : "");
}
