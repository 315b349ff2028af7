/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "host/keyrings.h"

/* EFI_CERT_X509_GUID a5c059a1-94e4-4aa7-87b5-ab155c2bf072, as stored (the first three
 * fields little-endian). */
static const unsigned char x509_guid[16] = {0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94,
					    0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15,
					    0x5c, 0x2b, 0xf0, 0x72};

char *dk_keyid_normalize(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++)
		if (isxdigit((unsigned char)*s))
			*o++ = (char)tolower((unsigned char)*s);
	*o = '\0';
	return out;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

/* "CN: keyid: X509.rsa 1234abcd []": the key id is the last ": "-separated part that
 * is all hex (8 digits or more) before the subtype; the CN is what comes before it. */
static int parse_asymmetric(const char *desc, struct dk_proc_keys *out)
{
	const char *id = NULL, *id_end = NULL;
	_cleanup_free_ char *raw = NULL;
	struct dk_proc_key *nk;

	for (const char *p = desc; (p = strstr(p, ": ")); p += 2) {
		const char *s = p + 2;
		size_t n = strcspn(s, ": \n");

		if (startswith(s, "X509.") || startswith(s, "PKCS"))
			break;
		if (n >= 8 && all_hex(s, n) &&
		    (s[n] == ':' || s[n] == '\0' || s[n] == '\n')) {
			id = s;
			id_end = s + n;
		}
	}
	if (!id)
		return 0;
	nk = reallocarray(out->keys, out->n + 1, sizeof(*nk));
	if (!nk)
		return -ENOMEM;
	out->keys = nk;
	raw = strndup(id, (size_t)(id_end - id));
	nk[out->n].cn = strndup(desc, (size_t)(id - 2 - desc));
	nk[out->n].keyid = raw ? dk_keyid_normalize(raw) : NULL;
	if (!nk[out->n].cn || !nk[out->n].keyid) {
		free(nk[out->n].cn);
		free(nk[out->n].keyid);
		return -ENOMEM;
	}
	out->n++;
	return 0;
}

static int add_keyring(const char *desc, struct dk_proc_keys *out)
{
	_cleanup_free_ char *name = strndup(desc, strcspn(desc, ":\n"));

	return name ? dk_strv_push(&out->keyrings, &out->n_keyrings, name) : -ENOMEM;
}

/* One line: serial flags usage expiry perm uid gid type description. */
static int parse_line(const char *line, struct dk_proc_keys *out)
{
	const char *p = line, *type = NULL;
	size_t type_len = 0;

	for (int field = 0; field < 8; field++) {
		p += strspn(p, " \t");
		if (!*p || *p == '\n')
			return 0;
		if (field == 7) {
			type = p;
			type_len = strcspn(p, " \t\n");
		}
		p += strcspn(p, " \t\n");
	}
	p += strspn(p, " \t");
	if (type_len == 9 && strncmp(type, "asymmetri", 9) == 0)
		return parse_asymmetric(p, out);
	if (type_len == 7 && strncmp(type, "keyring", 7) == 0 && *p == '.')
		return add_keyring(p, out);
	return 0;
}

int dk_proc_keys_parse(const char *text, struct dk_proc_keys *out)
{
	memset(out, 0, sizeof(*out));
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		_cleanup_free_ char *one =
			nl ? strndup(line, (size_t)(nl - line)) : strdup(line);
		int r;

		if (!one)
			return -ENOMEM;
		r = parse_line(one, out);
		if (r < 0)
			return r;
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

void dk_proc_keys_release(struct dk_proc_keys *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->keys[i].cn);
		free(k->keys[i].keyid);
	}
	free(k->keys);
	for (size_t i = 0; i < k->n_keyrings; i++)
		free(k->keyrings[i]);
	free(k->keyrings);
	memset(k, 0, sizeof(*k));
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* EFI_SIGNATURE_LIST: SignatureType (GUID), SignatureListSize, SignatureHeaderSize,
 * SignatureSize (u32 each), the header, then entries of SignatureSize bytes: the
 * owner's GUID and the data. */
int dk_efi_siglist_parse(const void *data, size_t len, bool with_attributes,
			 struct dk_efi_cert **out, size_t *n_other)
{
	const unsigned char *p = data;
	size_t off = with_attributes ? 4 : 0, n = 0;
	_cleanup_free_ struct dk_efi_cert *v = NULL;

	*out = NULL;
	*n_other = 0;
	if (len < off)
		return -EBADMSG;
	while (off < len) {
		const unsigned char *l = p + off;
		size_t list, hdr, sig, rest;

		if (len - off < 28)
			return -EBADMSG;
		list = le32(l + 16);
		hdr = le32(l + 20);
		sig = le32(l + 24);
		if (list < 28 || list > len - off || hdr > list - 28 || sig < 16)
			return -EBADMSG;
		rest = list - 28 - hdr;
		if (rest % sig)
			return -EBADMSG;
		for (size_t e = 0; e < rest / sig; e++) {
			const unsigned char *ent = l + 28 + hdr + e * sig;
			struct dk_efi_cert *nv;

			if (memcmp(l, x509_guid, 16) != 0) {
				(*n_other)++;
				continue;
			}
			nv = reallocarray(v, n + 1, sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			v = nv;
			v[n].der = ent + 16;
			v[n].len = sig - 16;
			n++;
		}
		off += list;
	}
	*out = TAKE_PTR(v);
	return (int)n;
}
