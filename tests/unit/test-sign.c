/* SPDX-License-Identifier: Apache-2.0 */
/* core/sign: trailer layout, hash names, sign/verify/unsign of buffers and files with a
 * key made in process (the byte comparison with sign-file is in tests/cli/sign.sh). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base/fsutil.h"
#include "kmod/modsig.h"
#include "kmod/sign.h"

#include "tap.h"
#include "fixture-x509.h"

static void test_trailer(void)
{
	unsigned char t[DK_MODSIG_TRAILER_LEN + DK_MODSIG_MAGIC_LEN];
	static const unsigned char want[12] = {0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xa3};

	dk_modsig_trailer(t, 0x1a3);
	ok(memcmp(t, want, 12) == 0, "trailer: id_type 2, big-endian sig_len");
	ok(memcmp(t + 12, "~Module signature appended~\n", 28) == 0, "trailer: marker");
	ok(dk_sign_hash_parse("sha256") == EVP_sha256(), "hash sha256");
	ok(dk_sign_hash_parse("sha512") == EVP_sha512(), "hash sha512");
	ok(dk_sign_hash_parse("md5") == NULL, "hash md5 refused");
	ok(dk_sign_hash_parse("SHA256") == NULL, "hash names are lower case");
}

static void test_buffers(EVP_PKEY *key, X509 *cert, X509 *other)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_signer_ struct dk_signer *s = NULL;
	_cleanup_free_ unsigned char *a = NULL, *b = NULL;
	static const char module[] = "\177ELF not really a module, but bytes to sign";
	struct dk_verify_result res;
	struct dk_modsig sig;
	size_t alen = 0, blen = 0, mlen = 0;
	int r;

	r = dk_signer_new_from(key, cert, "sha384", &s, &err);
	is_int(r, 0, "signer from in-memory key");
	if (r < 0)
		return;
	is_str(s->hash, "sha384", "signer hash");
	is_int(dk_sign_buffer(s, module, sizeof(module), &a, &alen, &err), 0,
	       "sign buffer");
	is_int(dk_sign_buffer(s, module, sizeof(module), &b, &blen, &err), 0,
	       "sign again");
	ok(alen == blen && memcmp(a, b, alen) == 0, "RSA signatures are deterministic");
	ok(memcmp(a, module, sizeof(module)) == 0, "module bytes come first");
	is_int(dk_modsig_locate(a, alen, &sig, &err), 1, "signature found");
	is_int(sig.module_len, sizeof(module), "module_len");
	is_int(sig.sig_len + sizeof(module) + 40, alen, "sig_len fills the rest");
	is_int(dk_unsign_buffer(a, alen, &mlen, &err), 1, "unsign finds one signature");
	is_int(mlen, sizeof(module), "unsign gives the module length");
	is_int(dk_unsign_buffer(module, sizeof(module), &mlen, &err), 0, "plain: none");

	is_int(dk_verify_buffer(cert, a, alen, &res, &err), 0, "verify runs");
	is_int(res.verdict, DK_VERIFY_OK, "verify: ok");
	is_str(res.signer, "unit signer", "verify: signer CN");
	is_str(res.hash, "sha384", "verify: hash");
	dk_verify_result_clear(&res);
	is_int(dk_verify_buffer(other, a, alen, &res, &err), 0, "verify runs (other)");
	is_int(res.verdict, DK_VERIFY_OTHER_KEY, "verify: other key");
	is_str(res.signer_serial, "01", "verify: signer serial");
	is_str(res.cert_serial, "02", "verify: cert serial");
	dk_verify_result_clear(&res);
	a[3] ^= 1;
	is_int(dk_verify_buffer(cert, a, alen, &res, &err), 0, "verify runs (flipped)");
	is_int(res.verdict, DK_VERIFY_MISMATCH, "verify: flipped byte");
	dk_verify_result_clear(&res);
	is_int(dk_verify_buffer(cert, a, alen - 3, &res, &err), 0, "verify runs (cut)");
	is_int(res.verdict, DK_VERIFY_MALFORMED, "verify: cut marker is malformed");
	dk_verify_result_clear(&res);
	is_int(dk_unsign_buffer(a, alen - 3, &mlen, &err), -EBADMSG,
	       "unsign: cut marker");
	ok(err && strstr(err->msg, "truncated"), "cut marker: says truncated");
	dk_error_free(&err);
	is_int(dk_modsig_locate(a, alen - DK_MODSIG_MAGIC_LEN, &sig, &err), 0,
	       "locate: trailer without marker is no signature");
	is_int(dk_modsig_locate_strict(a, alen - DK_MODSIG_MAGIC_LEN, &sig, &err),
	       -EBADMSG, "locate_strict: trailer without marker is truncated");
	dk_error_free(&err);
	is_int(dk_verify_buffer(cert, module, sizeof(module), &res, &err), 0,
	       "verify runs");
	is_int(res.verdict, DK_VERIFY_UNSIGNED, "verify: unsigned");
	dk_verify_result_clear(&res);
}

static void test_mismatch(EVP_PKEY *key, X509 *other_cert)
{
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_signer *s = NULL;

	is_int(dk_signer_new_from(key, other_cert, NULL, &s, &err), -EINVAL,
	       "key of another certificate refused");
	ok(err && strstr(err->msg, "does not belong"), "mismatch message");
	dk_error_free(&err);
	is_int(dk_signer_new_from(key, other_cert, "md5", &s, &err), -EINVAL,
	       "md5 refused");
}

static void test_files(EVP_PKEY *key, X509 *cert)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_signer_ struct dk_signer *s = NULL;
	char dir[] = "/tmp/dk-test-sign.XXXXXX";
	char paths[6][64];
	const char *pp[6];
	struct dk_sign_result res[6];
	struct stat st;
	bool was_signed = false;
	size_t failed;

	if (!mkdtemp(dir) || dk_signer_new_from(key, cert, NULL, &s, &err) < 0) {
		skip("temp dir or signer");
		return;
	}
	for (int i = 0; i < 6; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/m%d.ko", dir, i);
		pp[i] = paths[i];
		/* ELF magic first: unsign refuses what would not start like a module */
		if (dk_write_file_atomic(paths[i], "\177ELFmodule-", 12, 0604) < 0)
			printf("# cannot write %s\n", paths[i]);
	}
	failed = dk_sign_files(NULL, s, pp, 6, 0, 3, res);
	is_int(failed, 0, "6 files signed with 3 threads");
	ok(stat(paths[4], &st) == 0 && (st.st_mode & 07777) == 0604, "mode kept");
	ok(st.st_size > 12 + 40, "file grew by a signature");
	failed = dk_sign_files(NULL, s, pp, 6, 0, 2, res);
	is_int(failed, 6, "signing again is refused for every file");
	is_int(res[5].r, -EEXIST, "refusal is -EEXIST");
	for (int i = 0; i < 6; i++)
		dk_error_free(&res[i].err);
	is_int(dk_sign_files(NULL, s, pp, 6, DK_SIGN_RESIGN, 0, res), 0, "resign all");
	is_int(dk_unsign_file(paths[0], NULL, &was_signed, &err), 0, "unsign file");
	ok(was_signed, "it was signed");
	ok(stat(paths[0], &st) == 0 && st.st_size == 12, "unsigned size");
	is_int(dk_unsign_file(paths[0], NULL, &was_signed, &err), 0, "unsign again");
	ok(!was_signed, "now it is not");
	for (int i = 0; i < 6; i++)
		unlink(paths[i]);
	is_int(rmdir(dir), 0, "no temp files left");
}

int main(void)
{
	EVP_PKEY *key = EVP_RSA_gen(2048), *key2 = EVP_RSA_gen(2048);
	X509 *cert, *other;

	if (!key || !key2) {
		skip("RSA key generation failed");
		return tap_done();
	}
	cert = fx_self_signed(key, "unit signer", 1);
	other = fx_self_signed(key2, "unit other", 2);
	test_trailer();
	test_buffers(key, cert, other);
	test_mismatch(key, other);
	test_files(key, cert);
	X509_free(cert);
	X509_free(other);
	EVP_PKEY_free(key);
	EVP_PKEY_free(key2);
	return tap_done();
}
