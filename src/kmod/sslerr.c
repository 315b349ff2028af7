/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "shared/strbuf.h"

#include <openssl/err.h>
#include <openssl/objects.h>

#include "kmod/sslerr.h"

/* Appends " (<reason>)" for OpenSSL's earliest queued error, if any, and empties the
 * queue so the next failure does not show a stale reason. */
static void put_reason(struct strbuf *b)
{
	unsigned long e = ERR_peek_error();

	if (e) {
		char buf[256];

		ERR_error_string_n(e, buf, sizeof(buf));
		strbuf_printf(b, " (%s)", buf);
	}
	ERR_clear_error();
}

int dk_ssl_error(struct dk_error **err, int errnum, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf b = {NULL};
	va_list ap;

	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	put_reason(&b);
	return dk_error_set(err, errnum, "%s", b.oom ? "out of memory" : strbuf_str(&b));
}

char *dk_ssl_detail(const char *what)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_puts(&b, what);
	put_reason(&b);
	return strbuf_steal(&b);
}

char *dk_ssl_name_cn(const X509_NAME *name)
{
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *s;

	if (idx < 0)
		return NULL;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	return strndup((const char *)ASN1_STRING_get0_data(s),
		       (size_t)ASN1_STRING_length(s));
}
