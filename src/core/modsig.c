/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "shared/cleanup.h"

#include "core/modsig.h"
#include "core/sslerr.h"

DK_DEFINE_CLEANUP(PKCS7 *, PKCS7_free)

int dk_modsig_locate(const void *data, size_t len, struct dk_modsig *sig,
		     struct dk_error **err)
{
	const unsigned char *p = data;
	const unsigned char *t;
	size_t tail = DK_MODSIG_TRAILER_LEN + DK_MODSIG_MAGIC_LEN;
	uint32_t sig_len;

	memset(sig, 0, sizeof(*sig));
	if (len < DK_MODSIG_MAGIC_LEN ||
	    memcmp(p + len - DK_MODSIG_MAGIC_LEN, DK_MODSIG_MAGIC, DK_MODSIG_MAGIC_LEN) !=
		    0)
		return 0;
	if (len < tail)
		return dk_error_set(
			err, EBADMSG,
			"signature marker present but the %zu-byte file is too "
			"short for a signature trailer",
			len);
	t = p + len - tail;
	sig->algo = t[0];
	sig->hash = t[1];
	sig->id_type = t[2];
	sig->signer_len = t[3];
	sig->key_id_len = t[4];
	sig_len = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 | (uint32_t)t[10] << 8 |
		  t[11];
	if (sig->id_type != DK_MODSIG_ID_PKCS7)
		return dk_error_set(
			err, EBADMSG,
			"signature trailer has id type %u, expected %u (PKCS#7)",
			sig->id_type, DK_MODSIG_ID_PKCS7);
	if (sig_len == 0 || sig_len > len - tail)
		return dk_error_set(
			err, EBADMSG,
			"signature trailer claims %u signature bytes but only %zu "
			"bytes precede it",
			sig_len, len - tail);
	sig->sig_len = sig_len;
	sig->module_len = len - tail - sig_len;
	sig->sig_offset = sig->module_len;
	return 1;
}

char *dk_hex_colon(const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char *s = malloc(n ? n * 3 : 1);

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		s[i * 3] = hex[p[i] >> 4];
		s[i * 3 + 1] = hex[p[i] & 0xf];
		s[i * 3 + 2] = i + 1 < n ? ':' : '\0';
	}
	if (n == 0)
		s[0] = '\0';
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
		info->sig_key = dk_hex_colon(serial->data, (size_t)serial->length);
	}
	if (dig) {
		X509_ALGOR_get0(&obj, NULL, NULL, dig);
		algo = strdup(OBJ_nid2sn(OBJ_obj2nid(obj)));
		for (char *c = algo; c && *c; c++)
			*c = (char)tolower((unsigned char)*c);
		info->sig_hashalgo = algo;
	}
	if (si->enc_digest)
		info->signature = dk_hex_colon(si->enc_digest->data,
					       (size_t)si->enc_digest->length);
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
