/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Appended module signature, as scripts/sign-file writes it:
 * [module][PKCS#7 DER][struct module_signature (12 bytes)][MODSIG_MAGIC] */
#define DK_MODSIG_MAGIC "~Module signature appended~\n"
#define DK_MODSIG_MAGIC_LEN (sizeof(DK_MODSIG_MAGIC) - 1)
#define DK_MODSIG_TRAILER_LEN 12
#define DK_MODSIG_ID_PKCS7 2
/* Everything after the DER blob. */
#define DK_MODSIG_TAIL_LEN (DK_MODSIG_TRAILER_LEN + DK_MODSIG_MAGIC_LEN)

struct dk_modsig {
	size_t module_len; /* bytes of the module proper (what was signed); the DER blob
			      starts here */
	size_t sig_len;	   /* DER blob length */
};

/* Finds an appended signature. Returns 1 and fills *sig when present, 0 when the
 * data carries no signature marker, -EBADMSG (with *err) when the marker is there
 * but the trailer is malformed (length outside the file, wrong id type). */
int dk_modsig_locate(const void *data, size_t len, struct dk_modsig *sig,
		     struct dk_error **err) _must_check_;
/* Same, but data that ends in a cut-off marker or in a trailer without its marker
 * (a signed file truncated) is -EBADMSG instead of "unsigned" (0). For signing,
 * unsigning and verifying, where such a file must not pass as unsigned. */
int dk_modsig_locate_strict(const void *data, size_t len, struct dk_modsig *sig,
			    struct dk_error **err) _must_check_;
/* Builds the 12-byte struct module_signature + marker for a DER blob of sig_len
 * bytes into buf (DK_MODSIG_TRAILER_LEN + DK_MODSIG_MAGIC_LEN bytes). */
void dk_modsig_trailer(unsigned char *buf, size_t sig_len);

/* What kmod's modinfo shows about a signature. Strings are malloc'd. */
struct dk_modsig_info {
	char *sig_id;  /* "PKCS#7" */
	char *signer;  /* issuer CN of the signing certificate, NULL when signed by key id
			*/
	char *sig_key; /* serial number (or subject key id), "AB:CD:..." */
	char *sig_hashalgo; /* "sha256" */
	char *signature;    /* raw signature bytes, "AB:CD:..." */
};

/* Parses the PKCS#7 DER blob (OpenSSL). -EBADMSG with *err when it is not PKCS#7 signed
 * data. */
int dk_modsig_describe(const void *der, size_t len, struct dk_modsig_info *info,
		       struct dk_error **err) _must_check_;
void dk_modsig_info_clear(struct dk_modsig_info *info);

/* The hex of bytes: "AB:CD:EF" (upper, ':', as modinfo shows signatures) or "abcdef"
 * (lower, no separator, as /proc/keys shows key ids); NULL on OOM. */
char *dk_hex(const unsigned char *p, size_t n, bool upper, char sep);
