/* SPDX-License-Identifier: Apache-2.0 */
/* A self-signed certificate for the unit tests that sign, load keys or match them
 * against keyrings (needs libcrypto). */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* An X.509 v3 certificate for key, subject and issuer CN=cn, with serial and a
 * subject key identifier (as sign-file's certificates and the kernel's keys have),
 * valid for an hour; NULL when OpenSSL fails. */
static inline X509 *fx_self_signed(EVP_PKEY *key, const char *cn, long serial)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int good;

	if (!x)
		return NULL;
	good = X509_set_version(x, 2) &&
	       ASN1_INTEGER_set(X509_get_serialNumber(x), serial) &&
	       X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
	       X509_gmtime_adj(X509_getm_notAfter(x), 3600) && X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	good = good &&
	       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					  (const unsigned char *)cn, -1, -1, 0) &&
	       X509_set_issuer_name(x, name);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = good ? X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier, "hash")
		   : NULL;
	good = ext && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!good || !X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}
