/* SPDX-License-Identifier: Apache-2.0 */
/* The keys the kernel trusts as the host shows them: /proc/keys lines, the MOK list
 * (EFI signature lists in efivars), the ids of a certificate, and the headers
 * package of each distribution family (the hints of preflight). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "host/keyrings.h"
#include "host/osrelease.h"
#include "kmod/sign.h"

#include "tap.h"
#include "fixture-x509.h"

static const char proc_keys[] =
	"0a5e4b6c I------     1 perm 1f0b0000     0     0 keyring   "
	".builtin_trusted_keys: 2\n"
	"1e9a7a68 I------     1 perm 1f010000     0     0 asymmetri Debian Secure Boot "
	"CA: "
	"6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1: X509.rsa bb419ea1 []\n"
	"2b6f1b22 I------     1 perm 1f030000     0     0 asymmetri Canonical Ltd.: "
	"Master "
	"Certificate Authority: AD91990BC22AB1F517048C23B6655A268E345A63: X509.rsa "
	"8e345a63 []\n"
	"31f0e0a1 I------     1 perm 1f0b0000     0     0 keyring   .platform: 1\n"
	"3a1b2c3d I--Q---     1 perm 3f010000     0     0 user      notakey: 5\n"
	"garbage\n"
	"4c00ffee I------     1 perm 1f010000     0     0 asymmetri no id here: "
	"X509.rsa\n";

static void test_proc_keys(void)
{
	struct dk_proc_keys k;

	is_int(dk_proc_keys_parse(proc_keys, &k), 0, "/proc/keys parses");
	is_int((int)k.n, 2,
	       "two asymmetric keys with a key id (user key, garbage and "
	       "one without an id skipped)");
	if (k.n == 2) {
		is_str(k.keys[0].cn, "Debian Secure Boot CA", "CN");
		is_str(k.keys[0].keyid, "6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1",
		       "key id (the subject key identifier)");
		is_str(k.keys[1].cn, "Canonical Ltd.: Master Certificate Authority",
		       "\"O: CN\" kept whole");
		is_str(k.keys[1].keyid, "ad91990bc22ab1f517048c23b6655a268e345a63",
		       "key id lower-cased");
	}
	is_int((int)k.n_keyrings, 2, "two keyrings named");
	if (k.n_keyrings == 2)
		is_str(k.keyrings[1], ".platform", "keyring name without its count");
	dk_proc_keys_release(&k);
	is_int(dk_proc_keys_parse("", &k), 0, "empty /proc/keys (nothing visible)");
	is_int((int)k.n, 0, "no keys");
	dk_proc_keys_release(&k);
}

static void test_keyid(void)
{
	_cleanup_free_ char *a = dk_keyid_normalize("AB:cd:01");

	is_str(a, "abcd01", "AB:cd:01 normalised");
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* One EFI_SIGNATURE_LIST of type guid with n entries of data (each sz bytes). */
static size_t put_list(unsigned char *out, const unsigned char *guid,
		       const unsigned char *const *data, size_t n, size_t sz)
{
	size_t list = 28 + n * (16 + sz);

	memcpy(out, guid, 16);
	put32(out + 16, (uint32_t)list);
	put32(out + 20, 0);
	put32(out + 24, (uint32_t)(16 + sz));
	for (size_t i = 0; i < n; i++) {
		memset(out + 28 + i * (16 + sz), 0x42, 16); /* owner */
		memcpy(out + 28 + i * (16 + sz) + 16, data[i], sz);
	}
	return list;
}

static void test_moklist(void)
{
	static const unsigned char x509_guid[16] = {0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94,
						    0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15,
						    0x5c, 0x2b, 0xf0, 0x72};
	static const unsigned char sha256_guid[16] = {0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50,
						      0x92, 0x40, 0xac, 0xa9, 0x41, 0xf9,
						      0x36, 0x93, 0x43, 0x28};
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *c = key ? fx_self_signed(key, "drvkit MOK test", 0x1234) : NULL;
	unsigned char *der = NULL, buf[4096], hash[32];
	const unsigned char *one[1], *hashes[1] = {hash};
	int dl = c ? i2d_X509(c, &der) : -1;
	size_t len = 4;
	_cleanup_free_ struct dk_efi_cert *certs = NULL;
	struct dk_cert_ids ids = {0};
	size_t other = 0;
	int n;

	if (dl <= 0 || dl > 1500) {
		skip("cannot make a test certificate");
		return;
	}
	memset(hash, 0x11, sizeof(hash));
	one[0] = der;
	put32(buf, 7); /* efivarfs attributes */
	len += put_list(buf + len, x509_guid, one, 1, (size_t)dl);
	len += put_list(buf + len, sha256_guid, hashes, 1, sizeof(hash));
	len += put_list(buf + len, x509_guid, one, 1, (size_t)dl);
	n = dk_efi_siglist_parse(buf, len, true, &certs, &other);
	is_int(n, 2, "MokListRT: two X.509 certificates");
	is_int((int)other, 1, "and one hash entry counted apart");
	ok(n == 2 && certs[1].len == (size_t)dl &&
		   memcmp(certs[1].der, der, (size_t)dl) == 0,
	   "the second certificate's DER as written");
	if (n > 0) {
		is_int(dk_cert_ids_der(certs[0].der, certs[0].len, &ids), 0, "its ids");
		is_str(ids.cn, "drvkit MOK test", "subject CN");
		is_str(ids.serial, "1234", "serial, lower-case hex");
		ok(ids.skid && strlen(ids.skid) == 40, "subject key identifier (%s)",
		   ids.skid ? ids.skid : "none");
		dk_cert_ids_release(&ids);
	}
	free(certs);
	certs = NULL;
	n = dk_efi_siglist_parse(buf + 4, len - 4, false, &certs, &other);
	is_int(n, 2, "mok-variables copy (no attributes)");
	free(certs);
	certs = NULL;
	put32(buf + 4 + 16, 100000);
	is_int(dk_efi_siglist_parse(buf, len, true, &certs, &other), -EBADMSG,
	       "a list size past the end: EBADMSG");
	put32(buf + 4 + 16, (uint32_t)(28 + 16 + dl));
	put32(buf + 4 + 24, 0);
	is_int(dk_efi_siglist_parse(buf, len, true, &certs, &other), -EBADMSG,
	       "a signature size of 0: EBADMSG");
	is_int(dk_efi_siglist_parse(buf, 10, true, &certs, &other), -EBADMSG,
	       "a cut-off header: EBADMSG");
	is_int(dk_efi_siglist_parse(buf, 4, true, &certs, &other), 0,
	       "attributes only: an empty list");
	is_int(dk_cert_ids_der("junk", 4, &ids), -EBADMSG, "junk is no certificate");
	dk_cert_ids_release(&ids);
	OPENSSL_free(der);
	X509_free(c);
	EVP_PKEY_free(key);
}

static void test_headers_pkg(void)
{
	static const struct {
		enum dk_distro_family f;
		const char *kver, *want;
	} t[] = {
		{DK_FAMILY_DEBIAN, "6.8.0-45-generic", "linux-headers-6.8.0-45-generic"},
		{DK_FAMILY_RHEL, "5.14.0-427.el9.x86_64",
		 "kernel-devel-5.14.0-427.el9.x86_64"},
		{DK_FAMILY_AMZN, "6.1.1-1.amzn2023", "kernel-devel-6.1.1-1.amzn2023"},
		{DK_FAMILY_SUSE, "5.14.21-150500.55.65-default",
		 "kernel-default-devel-5.14.21-150500.55.65"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		_cleanup_free_ char *p = dk_distro_headers_pkg(t[i].f, t[i].kver);

		is_str(p, t[i].want, "%s: %s", dk_distro_family_name(t[i].f), t[i].want);
	}
	{
		_cleanup_free_ char *p =
			dk_distro_headers_pkg(DK_FAMILY_UNKNOWN, "6.1.0-1");

		ok(p && strstr(p, "linux-headers-6.1.0-1") &&
			   strstr(p, "kernel-devel-6.1.0-1") && strstr(p, "SUSE"),
		   "unknown family: every family's package (%s)", p ? p : "");
	}
}

static void test_family_of_root(void)
{
	const char *fixtures = getenv("DK_FIXTURES");
	_cleanup_free_ char *ubuntu = NULL, *rhel = NULL;

	if (!fixtures) {
		skip("DK_FIXTURES not set");
		return;
	}
	ubuntu = dk_strdup_printf("%s/detect/os-ubuntu-22.04", fixtures);
	rhel = dk_strdup_printf("%s/detect/os-rhel-9.4", fixtures);
	is_int(dk_distro_family_of_root(ubuntu), DK_FAMILY_DEBIAN, "ubuntu root: debian");
	is_int(dk_distro_family_of_root(rhel), DK_FAMILY_RHEL, "rhel root: rhel");
	is_int(dk_distro_family_of_root("/nonexistent"), DK_FAMILY_UNKNOWN,
	       "no os-release: unknown");
}

int main(void)
{
	test_proc_keys();
	test_keyid();
	test_moklist();
	test_headers_pkg();
	test_family_of_root();
	return tap_done();
}
