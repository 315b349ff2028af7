/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The kernel log (/dev/kmsg) around one module insert: the lines the module printed
 * while the kernel ran its init, quoted when the kernel refuses it ("No such device"
 * says little; "NVRM: No NVIDIA GPU found." says what is wrong). */

#include <stddef.h>
#include <stdint.h>

#include "shared/cleanup.h"
#include "shared/macro.h"

#define DK_KMSG_PATH "/dev/kmsg"
#define DK_KMSG_MAX_LINES 4   /* lines quoted */
#define DK_KMSG_MAX_BYTES 512 /* bytes of the quote, separators included */

/* One /dev/kmsg record: "prio,seq,ts_usec,flags[,...];message". */
struct dk_kmsg_record {
	int facility;	  /* prio >> 3: 0 for the kernel, others written by user space */
	int level;	  /* prio & 7: LOG_ERR ... */
	uint64_t seq;	  /* sequence number */
	uint64_t ts_usec; /* the kernel's clock at printk, in microseconds since boot */
	const char *msg;  /* the message, inside the parsed line (not NUL-terminated) */
	size_t msg_len;	  /* without trailing blanks */
};

/* Parses one record line, without its newline. Pure. -EINVAL when it is not a
 * record (continuation lines " KEY=value" included). */
int dk_kmsg_parse(const char *line, size_t len, struct dk_kmsg_record *rec) _must_check_;

/* The window: the records logged between dk_kmsg_open() and dk_kmsg_read(). */
struct dk_kmsg;

/* A window for module (its lines are matched by name, '-' and '_' alike); NULL on
 * ENOMEM. Until dk_kmsg_open() succeeds it reads nothing. */
struct dk_kmsg *dk_kmsg_new(const char *module);
void dk_kmsg_free(struct dk_kmsg *k);
DK_DEFINE_CLEANUP(struct dk_kmsg *, dk_kmsg_free)
#define _cleanup_kmsg_ __attribute__((cleanup(dk_dk_kmsg_freep)))

/* Opens path (/dev/kmsg, or a file in tests) and moves to its end, so only what is
 * logged from now on is read. Returns 0 or -errno; callers may ignore it: an
 * unreadable log (EPERM without CAP_SYSLOG, ENOENT in a container without
 * /dev/kmsg) only means there is nothing to quote (logged at debug). */
int dk_kmsg_open(struct dk_kmsg *k, const char *path);
/* Reads what was logged since dk_kmsg_open(), up to now (EAGAIN, or end of file);
 * records lost to the ring buffer (EPIPE) are skipped. */
void dk_kmsg_read(struct dk_kmsg *k);

/* Feeds bytes read from the log: one record per read() from /dev/kmsg, or any number
 * of lines, possibly cut mid-line, from a regular file (the rest is kept for the
 * next call). Continuation lines (" KEY=value") and user-space records are
 * skipped. Pure. 0 or -ENOMEM. */
int dk_kmsg_feed(struct dk_kmsg *k, const char *data, size_t len) _must_check_;

/* The lines to quote, "line; line", or NULL when there are none (or on ENOMEM).
 * The lines naming the module; if none does, the window's other lines, warnings
 * and errors first (NVIDIA's "NVRM:" lines do not name "nvidia"); never the
 * kernel's own taint and signature notices. At most DK_KMSG_MAX_LINES lines and
 * DK_KMSG_MAX_BYTES bytes, repeated lines once. Pure. */
char *dk_kmsg_quote(const struct dk_kmsg *k);
