/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/strbuf.h"

#include "base/error.h"

/* Returned when we cannot even allocate the error: never abort in the error path. */
static struct dk_error oom_error = {ENOMEM, (char *)"out of memory", NULL};

static bool is_static(const struct dk_error *e)
{
	return e == &oom_error;
}

/* The one place an error message is built: prefix, then fmt, then suffix (either may
 * be NULL). Returns the message, or NULL when out of memory. */
static char *compose(const char *prefix, const char *fmt, va_list ap, const char *suffix)
{
	struct strbuf b;

	strbuf_init(&b);
	if (prefix)
		strbuf_puts(&b, prefix);
	strbuf_vprintf(&b, fmt, ap);
	if (suffix) {
		strbuf_puts(&b, ": ");
		strbuf_puts(&b, suffix);
	}
	return strbuf_steal(&b); /* NULL (and released) on OOM */
}

int dk_error_set(struct dk_error **err, int errnum, const char *fmt, ...)
{
	struct dk_error *e;
	va_list ap;

	if (errnum <= 0)
		errnum = EIO;
	if (!err)
		return -errnum;
	dk_error_free(err);
	e = calloc(1, sizeof(*e));
	if (e) {
		va_start(ap, fmt);
		e->msg = compose(NULL, fmt, ap, NULL);
		va_end(ap);
	}
	if (!e || !e->msg) {
		free(e);
		*err = &oom_error;
		return -errnum;
	}
	e->errnum = errnum;
	*err = e;
	return -errnum;
}

/* Puts the formatted text before (wrap) or after (append) the message of *err. On OOM
 * the old message stays: the error still reaches main() with its errno. */
static int rewrite(struct dk_error **err, bool before, const char *fmt, va_list ap)
{
	char *msg;

	if (!err || !*err)
		return -EIO;
	if (is_static(*err))
		return -(*err)->errnum;
	msg = before ? compose(NULL, fmt, ap, (*err)->msg)
		     : compose((*err)->msg, fmt, ap, NULL);
	if (msg) {
		free((*err)->msg);
		(*err)->msg = msg;
	}
	return -(*err)->errnum;
}

int dk_error_wrap(struct dk_error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = rewrite(err, true, fmt, ap);
	va_end(ap);
	return r;
}

int dk_error_append(struct dk_error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = rewrite(err, false, fmt, ap);
	va_end(ap);
	return r;
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

int dk_error_set_hint(struct dk_error **err, const char *hint)
{
	if (!err || !*err)
		return -EIO;
	if (!is_static(*err))
		(*err)->hint = hint;
	return -(*err)->errnum;
}

const char *dk_error_hint(int errnum)
{
	switch (errnum) {
	case EKEYREJECTED:
		return "the kernel requires modules signed by a trusted key; configure "
		       "signing with a key enrolled in MOK or built into the kernel "
		       "(drvkit sign, or signing: in the init config)";
	case ENOEXEC:
		return "the module was built for another kernel: rebuild it against this "
		       "kernel's headers (drvkit check shows what differs)";
	case EBADMSG:
		return "the file is damaged or not what it claims to be; fetch or build "
		       "it again";
	case EPERM:
	case EACCES:
		/* A file's permissions or a read-only mount, most often: the kernel's
		 * own refusals get dk_error_kernel_hint's. */
		return "check the owner, mode and mount of the path named above; "
		       "drvkit runs as root in a privileged container";
	default:
		return NULL;
	}
}

const char *dk_error_kernel_hint(int errnum)
{
	switch (errnum) {
	case EINVAL:
		return "a parameter is invalid, or a symbol CRC differs (dmesg: "
		       "\"disagrees about version of symbol\"): check the params, or "
		       "rebuild against this kernel's headers and the Module.symvers of "
		       "the modules it uses (OFED, NVIDIA)";
	case ENOENT:
		return "unknown symbol (see dmesg): load the module that provides it "
		       "first";
	case EEXIST:
		return "a module of this name is already loaded: unload it first";
	case EAGAIN:
	case EBUSY:
		return "the module is in use: stop its users (holders, open devices) "
		       "first";
	case ENOSYS:
		/* from init_module/finit_module: loading itself is not available */
		return "the kernel cannot load modules: it was built without "
		       "CONFIG_MODULES, or a seccomp filter blocks the module syscalls "
		       "(run the container privileged with seccomp Unconfined)";
	case EOPNOTSUPP:
		return "the kernel cannot unload modules (no CONFIG_MODULE_UNLOAD): "
		       "reboot the node to change them";
	case EPERM:
	case EACCES:
		return "run as root in a privileged container (CAP_SYS_MODULE); under "
		       "lockdown only signed modules load";
	default:
		return dk_error_hint(errnum);
	}
}

const char *dk_error_hint_of(const struct dk_error *err, int errnum, bool module_context)
{
	if (err && err->hint)
		return err->hint;
	return module_context ? dk_error_hint(err ? err->errnum : errnum) : NULL;
}

int dk_exit_code_for(int errnum)
{
	switch (errnum) {
	case 0:
		return DK_EXIT_OK;
	case EBADMSG:
	case ENOEXEC:
	case EFBIG:
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
