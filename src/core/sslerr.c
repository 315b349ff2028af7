/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>

#include "shared/strbuf.h"

#include <openssl/err.h>

#include "core/sslerr.h"

int dk_ssl_error(struct dk_error **err, int errnum, const char *fmt, ...)
{
	unsigned long e = ERR_peek_error();
	struct strbuf b;
	va_list ap;
	int r;

	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (e) {
		char buf[256];

		ERR_error_string_n(e, buf, sizeof(buf));
		strbuf_printf(&b, " (%s)", buf);
	}
	ERR_clear_error();
	r = dk_error_set(err, errnum, "%s", b.oom ? "out of memory" : strbuf_str(&b));
	strbuf_release(&b);
	return r;
}
