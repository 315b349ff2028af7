/* SPDX-License-Identifier: Apache-2.0 */
/* Signing keys (kmod/keys.c): keys and certificates made here with the OpenSSL API,
 * written as a user would have them (plain or encrypted PEM, DER certificate,
 * passphrase files), then loaded through dk_signer_new(). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/error.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "kmod/sign.h"

#include "fixture.h"
#include "tap.h"
#include "fixture-x509.h"

#define PASS "correct horse"

static char dir[] = "/tmp/dk-test-keys.XXXXXX";

static char *path_of(const char *leaf)
{
	return dk_strdup_printf("%s/%s", dir, leaf);
}

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

/* Writes leaf with mode; pass: encrypt the key with it (AES-256-CBC). */
static int write_key(const char *leaf, EVP_PKEY *key, const char *pass, mode_t mode)
{
	_cleanup_free_ char *p = path_of(leaf);
	FILE *f;
	int ok;

	if (!p || !(f = fopen(p, "we")))
		return -1;
	ok = PEM_write_PrivateKey(f, key, pass ? EVP_aes_256_cbc() : NULL, NULL, 0, NULL,
				  (void *)pass);
	fclose(f);
	return ok && chmod(p, mode) == 0 ? 0 : -1;
}

static int write_cert(const char *leaf, X509 *x, bool der)
{
	_cleanup_free_ char *p = path_of(leaf);
	FILE *f;
	int ok;

	if (!p || !(f = fopen(p, "we")))
		return -1;
	ok = der ? i2d_X509_fp(f, x) : PEM_write_X509(f, x);
	fclose(f);
	return ok ? 0 : -1;
}

static int write_text(const char *leaf, const char *text, mode_t mode)
{
	_cleanup_free_ char *p = path_of(leaf);

	return p ? dk_write_file_atomic(p, text, strlen(text), mode) : -1;
}

/* What dk_signer_new() says and warns (stderr is captured) for these options. */
struct outcome {
	int r;
	char *msg;     /* error message or NULL */
	char *warning; /* stderr while loading */
	char *hash;
};

static void outcome_clear(struct outcome *o)
{
	free(o->msg);
	free(o->warning);
	free(o->hash);
	memset(o, 0, sizeof(*o));
}

static void load(const char *key, const char *cert, const char *pass_file,
		 const char *pass_env, const char *hash, struct outcome *o)
{
	_cleanup_free_ char *kp = path_of(key), *cp = path_of(cert);
	_cleanup_free_ char *pp = pass_file ? path_of(pass_file) : NULL;
	_cleanup_free_ char *cap = path_of("stderr");
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_signer_opts opts = {kp, cp, hash, pp, pass_env};
	struct dk_signer *s = NULL;
	int saved = dup(STDERR_FILENO);
	int fd = cap ? open(cap, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;

	memset(o, 0, sizeof(*o));
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	o->r = dk_signer_new(&opts, &s, &err);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (cap && dk_read_file(cap, 0, &o->warning, NULL) < 0)
		o->warning = NULL;
	if (err)
		o->msg = strdup(err->msg);
	if (s)
		o->hash = strdup(s->hash);
	dk_signer_free(s);
}

static bool has(const char *s, const char *needle)
{
	return s && strstr(s, needle);
}

static void test_keys(void)
{
	struct outcome o;

	load("key.pem", "cert.pem", NULL, NULL, NULL, &o);
	is_int(o.r, 0, "plain key (0600) and PEM certificate load");
	is_str(o.hash, "sha256", "default hash sha256");
	ok(o.warning && !*o.warning, "no warning for a 0600 key");
	outcome_clear(&o);

	load("key.pem", "cert.der", NULL, NULL, "sha512", &o);
	is_int(o.r, 0, "DER certificate loads");
	is_str(o.hash, "sha512", "hash sha512 taken");
	outcome_clear(&o);

	load("key.pem", "cert.pem", NULL, NULL, "md5", &o);
	is_int(o.r, -EINVAL, "md5 refused");
	ok(has(o.msg, "unsupported hash 'md5'"), "and named");
	outcome_clear(&o);

	load("shared.pem", "cert.pem", NULL, NULL, NULL, &o);
	is_int(o.r, 0, "a world-readable key still loads");
	ok(has(o.warning, "signing key") && has(o.warning, "shared.pem") &&
		   has(o.warning, "accessible by group or others (mode 0644)") &&
		   has(o.warning, "chmod 600"),
	   "with a warning naming the file, its mode and the fix");
	outcome_clear(&o);

	load("key.pem", "other.pem", NULL, NULL, NULL, &o);
	is_int(o.r, -EINVAL, "a certificate of another key is refused");
	ok(has(o.msg, "does not belong to the certificate"), "and says so");
	outcome_clear(&o);

	load("cert.pem", "cert.pem", NULL, NULL, NULL, &o);
	is_int(o.r, -EBADMSG, "a certificate given as the key: EBADMSG");
	ok(has(o.msg, "not a PEM private key"), "says it is not a private key");
	outcome_clear(&o);

	load("missing.pem", "cert.pem", NULL, NULL, NULL, &o);
	is_int(o.r, -ENOENT, "missing key file: ENOENT");
	outcome_clear(&o);
}

static void test_passphrases(void)
{
	struct outcome o;

	load("enc.pem", "cert.pem", NULL, NULL, NULL, &o);
	is_int(o.r, -EINVAL, "encrypted key without a passphrase: EINVAL");
	ok(has(o.msg, "is encrypted: give --passphrase-file or --passphrase-env"),
	   "says how to give one (never prompts)");
	outcome_clear(&o);

	load("enc.pem", "cert.pem", "pass", NULL, NULL, &o);
	is_int(o.r, 0, "passphrase file (first line) opens the key");
	ok(o.warning && !*o.warning, "no warning for a 0600 passphrase file");
	outcome_clear(&o);

	load("enc.pem", "cert.pem", "pass-shared", NULL, NULL, &o);
	is_int(o.r, 0, "a world-readable passphrase file works");
	ok(has(o.warning, "passphrase file") && has(o.warning, "(mode 0644)"),
	   "with a warning");
	outcome_clear(&o);

	load("enc.pem", "cert.pem", "pass-wrong", NULL, NULL, &o);
	is_int(o.r, -EBADMSG, "wrong passphrase: EBADMSG");
	ok(has(o.msg, "wrong passphrase or damaged key") && has(o.msg, "pass-wrong"),
	   "says wrong passphrase and where it came from");
	ok(!has(o.msg, "not this one") && !has(o.msg, PASS),
	   "the passphrase is not in the message");
	outcome_clear(&o);

	setenv("DK_TEST_PASS", PASS, 1);
	load("enc.pem", "cert.pem", NULL, "DK_TEST_PASS", NULL, &o);
	is_int(o.r, 0, "passphrase from the environment");
	outcome_clear(&o);

	load("enc.pem", "cert.pem", "pass", "DK_TEST_PASS", NULL, &o);
	is_int(o.r, -EINVAL, "file and variable together: EINVAL");
	outcome_clear(&o);

	unsetenv("DK_TEST_PASS");
	load("enc.pem", "cert.pem", NULL, "DK_TEST_PASS", NULL, &o);
	is_int(o.r, -ENOENT, "unset passphrase variable: ENOENT");
	ok(has(o.msg, "DK_TEST_PASS is not set"), "names the variable");
	outcome_clear(&o);
}

static int setup(void)
{
	EVP_PKEY *key = new_key(), *other = new_key();
	X509 *cert = key ? fx_self_signed(key, "drvkit test", 0x1234) : NULL;
	X509 *ocert = other ? fx_self_signed(other, "someone else", 0x1234) : NULL;
	int r = -1;

	if (cert && ocert && write_key("key.pem", key, NULL, 0600) == 0 &&
	    write_key("shared.pem", key, NULL, 0644) == 0 &&
	    write_key("enc.pem", key, PASS, 0600) == 0 &&
	    write_cert("cert.pem", cert, false) == 0 &&
	    write_cert("cert.der", cert, true) == 0 &&
	    write_cert("other.pem", ocert, false) == 0 &&
	    write_text("pass", PASS "\nsecond line ignored\n", 0600) == 0 &&
	    write_text("pass-shared", PASS "\n", 0644) == 0 &&
	    write_text("pass-wrong", "not this one\n", 0600) == 0)
		r = 0;
	X509_free(cert);
	X509_free(ocert);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return r;
}

int main(void)
{
	dk_log_setup(DK_LOG_WARN, false, "test-keys");
	if (!mkdtemp(dir) || setup() < 0) {
		ok(0, "make test keys in %s", dir);
		return tap_done();
	}
	test_keys();
	test_passphrases();
	fx_rm_rf(dir);
	return tap_done();
}
