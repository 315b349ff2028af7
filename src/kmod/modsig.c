/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "shared/cleanup.h"

#include "kmod/modsig.h"
#include "kmod/sslerr.h"

DK_DEFINE_CLEANUP(PKCS7 *, PKCS7_free)

/* struct module_signature: u8 algo, hash, id_type, signer_len, key_id_len, pad[3],
 * __be32 sig_len. For PKCS#7 only id_type and sig_len carry information; the rest
 * is zero. */
#define SIGLEN_OFF 8

static uint32_t trailer_sig_len(const unsigned char *t)
{
	return (uint32_t)t[SIGLEN_OFF] << 24 | (uint32_t)t[SIGLEN_OFF + 1] << 16 |
	       (uint32_t)t[SIGLEN_OFF + 2] << 8 | t[SIGLEN_OFF + 3];
}

void dk_modsig_trailer(unsigned char *buf, size_t sig_len)
{
	memset(buf, 0, DK_MODSIG_TRAILER_LEN);
	buf[2] = DK_MODSIG_ID_PKCS7;
	buf[SIGLEN_OFF] = (unsigned char)(sig_len >> 24);
	buf[SIGLEN_OFF + 1] = (unsigned char)(sig_len >> 16);
	buf[SIGLEN_OFF + 2] = (unsigned char)(sig_len >> 8);
	buf[SIGLEN_OFF + 3] = (unsigned char)sig_len;
	memcpy(buf + DK_MODSIG_TRAILER_LEN, DK_MODSIG_MAGIC, DK_MODSIG_MAGIC_LEN);
}

int dk_modsig_locate(const void *data, size_t len, struct dk_modsig *sig,
		     struct dk_error **err)
{
	const unsigned char *p = data;
	const unsigned char *t;
	uint32_t sig_len;

	memset(sig, 0, sizeof(*sig));
	if (len < DK_MODSIG_MAGIC_LEN ||
	    memcmp(p + len - DK_MODSIG_MAGIC_LEN, DK_MODSIG_MAGIC, DK_MODSIG_MAGIC_LEN) !=
		    0)
		return 0;
	if (len < DK_MODSIG_TAIL_LEN)
		return dk_error_set(
			err, EBADMSG,
			"signature marker present but the %zu-byte file is too "
			"short for a signature trailer",
			len);
	t = p + len - DK_MODSIG_TAIL_LEN;
	sig_len = trailer_sig_len(t);
	if (t[2] != DK_MODSIG_ID_PKCS7)
		return dk_error_set(
			err, EBADMSG,
			"signature trailer has id type %u, expected %u (PKCS#7)", t[2],
			DK_MODSIG_ID_PKCS7);
	if (sig_len == 0)
		return dk_error_set(
			err, EBADMSG,
			"signature trailer claims an empty (0-byte) signature: "
			"not a valid module signature");
	if (sig_len > len - DK_MODSIG_TAIL_LEN)
		return dk_error_set(
			err, EBADMSG,
			"signature trailer claims %u signature bytes but only %zu "
			"bytes precede it",
			sig_len, len - DK_MODSIG_TAIL_LEN);
	sig->sig_len = sig_len;
	sig->module_len = len - DK_MODSIG_TAIL_LEN - sig_len;
	return 1;
}

/* Without a complete marker, is this the tail of a cut-off signature? A file that
 * ends in the first 8+ bytes of the marker, or in a struct module_signature naming
 * PKCS#7 and a plausible length, was signed and then truncated. */
static int check_truncated(const unsigned char *p, size_t len, struct dk_error **err)
{
	static const unsigned char trailer_head[SIGLEN_OFF] = {0, 0, DK_MODSIG_ID_PKCS7};

	for (size_t n = DK_MODSIG_MAGIC_LEN - 1; n >= 8; n--)
		if (len >= n && memcmp(p + len - n, DK_MODSIG_MAGIC, n) == 0)
			return dk_error_set(err, EBADMSG,
					    "the signature marker is cut short (%zu of "
					    "%zu bytes): file truncated; copy or build "
					    "it again",
					    n, DK_MODSIG_MAGIC_LEN);
	if (len >= DK_MODSIG_TRAILER_LEN) {
		const unsigned char *t = p + len - DK_MODSIG_TRAILER_LEN;
		uint32_t sig_len = trailer_sig_len(t);

		if (memcmp(t, trailer_head, SIGLEN_OFF) == 0 && sig_len > 0 &&
		    sig_len <= len - DK_MODSIG_TRAILER_LEN)
			return dk_error_set(err, EBADMSG,
					    "the file ends in a signature trailer "
					    "without the marker: file truncated; copy "
					    "or build it again");
	}
	return 0;
}

int dk_modsig_locate_strict(const void *data, size_t len, struct dk_modsig *sig,
			    struct dk_error **err)
{
	int r = dk_modsig_locate(data, len, sig, err);

	if (r == 0)
		r = check_truncated(data, len, err);
	return r;
}

char *dk_hex(const unsigned char *p, size_t n, bool upper, char sep)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t w = sep ? 3 : 2; /* characters per byte */
	char *s = malloc(n ? n * w + 1 : 1), *o = s;

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (sep && i)
			*o++ = sep;
		*o++ = hex[p[i] >> 4];
		*o++ = hex[p[i] & 0xf];
	}
	*o = '\0';
	return s;
}

int dk_modsig_describe(const void *der, size_t len, struct dk_modsig_info *info,
		       struct dk_error **err)
{
	_cleanup_(dk_PKCS7_freep) PKCS7 *p7 = NULL;
	const unsigned char *p = der;
	STACK_OF(PKCS7_SIGNER_INFO) * sis;
	PKCS7_SIGNER_INFO *si;
	X509_ALGOR *dig = NULL;
	const ASN1_OBJECT *obj = NULL;
	char *algo;

	memset(info, 0, sizeof(*info));
	p7 = d2i_PKCS7(NULL, &p, (long)len);
	if (!p7 || !PKCS7_type_is_signed(p7))
		return dk_error_set(err, EBADMSG, "signature is not PKCS#7 signed data");
	sis = PKCS7_get_signer_info(p7);
	if (!sis || sk_PKCS7_SIGNER_INFO_num(sis) < 1)
		return dk_error_set(err, EBADMSG, "PKCS#7 signature has no signer");
	si = sk_PKCS7_SIGNER_INFO_value(sis, 0);
	PKCS7_SIGNER_INFO_get0_algs(si, NULL, &dig, NULL);
	info->sig_id = strdup("PKCS#7");
	if (si->issuer_and_serial) {
		const ASN1_INTEGER *serial = si->issuer_and_serial->serial;

		info->signer = dk_ssl_name_cn(si->issuer_and_serial->issuer);
		info->sig_key = dk_hex(serial->data, (size_t)serial->length, true, ':');
	}
	if (dig) {
		X509_ALGOR_get0(&obj, NULL, NULL, dig);
		algo = strdup(OBJ_nid2sn(OBJ_obj2nid(obj)));
		for (char *c = algo; c && *c; c++)
			*c = (char)tolower((unsigned char)*c);
		info->sig_hashalgo = algo;
	}
	if (si->enc_digest)
		info->signature = dk_hex(si->enc_digest->data,
					 (size_t)si->enc_digest->length, true, ':');
	if (!info->sig_id || !info->signature) {
		dk_modsig_info_clear(info);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

void dk_modsig_info_clear(struct dk_modsig_info *info)
{
	free(info->sig_id);
	free(info->signer);
	free(info->sig_key);
	free(info->sig_hashalgo);
	free(info->signature);
	memset(info, 0, sizeof(*info));
}
