/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/strbuf.h"

#include "error.h"

/* Returned when we cannot even allocate the error: never abort in the error path. */
static struct dk_error oom_error = {ENOMEM, (char *)"out of memory"};

static bool is_static(const struct dk_error *e)
{
	return e == &oom_error;
}

int dk_error_set(struct dk_error **err, int errnum, const char *fmt, ...)
{
	struct strbuf b;
	struct dk_error *e;
	va_list ap;

	if (errnum <= 0)
		errnum = EIO;
	if (!err)
		return -errnum;
	dk_error_free(err);
	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	e = calloc(1, sizeof(*e));
	if (!e || b.oom) {
		free(e);
		strbuf_release(&b);
		*err = &oom_error;
		return -errnum;
	}
	e->errnum = errnum;
	e->msg = strbuf_steal(&b);
	*err = e;
	return -errnum;
}

int dk_error_wrap(struct dk_error **err, const char *fmt, ...)
{
	struct strbuf b;
	va_list ap;

	if (!err || !*err)
		return -EIO;
	if (is_static(*err))
		return -(*err)->errnum;
	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	strbuf_puts(&b, ": ");
	strbuf_puts(&b, (*err)->msg);
	if (b.oom) {
		strbuf_release(&b);
		return -(*err)->errnum;
	}
	free((*err)->msg);
	(*err)->msg = strbuf_steal(&b);
	return -(*err)->errnum;
}

int dk_error_append(struct dk_error **err, const char *fmt, ...)
{
	struct strbuf b;
	va_list ap;

	if (!err || !*err)
		return -EIO;
	if (is_static(*err))
		return -(*err)->errnum;
	strbuf_init(&b);
	strbuf_puts(&b, (*err)->msg);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (b.oom) {
		strbuf_release(&b);
		return -(*err)->errnum;
	}
	free((*err)->msg);
	(*err)->msg = strbuf_steal(&b);
	return -(*err)->errnum;
}

void dk_error_free(struct dk_error **err)
{
	if (!err || !*err)
		return;
	if (!is_static(*err)) {
		free((*err)->msg);
		free(*err);
	}
	*err = NULL;
}

const char *dk_error_hint(int errnum)
{
	switch (errnum) {
	case EKEYREJECTED:
		return "the kernel requires modules signed by a trusted key; sign with a "
		       "key "
		       "enrolled in MOK (drvkit sign) or built into the kernel";
	case ENOEXEC:
		return "the module was built for another kernel: rebuild it against this "
		       "kernel's headers (drvkit check shows what differs)";
	case EBADMSG:
		return "the file is damaged or not what it claims to be; fetch or build "
		       "it again";
	case EPERM:
	case EACCES:
		return "run as root in a privileged container; under lockdown only "
		       "signed "
		       "modules load";
	default:
		return NULL;
	}
}

int dk_exit_code_for(int errnum)
{
	switch (errnum) {
	case 0:
		return DK_EXIT_OK;
	case EBADMSG:
	case ENOEXEC:
	case EPROTO:
	case EOVERFLOW:
		return DK_EXIT_BADINPUT;
	case ENOENT:
	case ENOTDIR:
		return DK_EXIT_NOTFOUND;
	case EPERM:
	case EACCES:
		return DK_EXIT_PERM;
	case ELIBACC:
		return DK_EXIT_NOLIB;
	default:
		return DK_EXIT_FAILURE;
	}
}
