/* SPDX-License-Identifier: Apache-2.0 */
/* Loading signing keys and certificates. Key bytes and passphrases are wiped
 * (OPENSSL_cleanse) as soon as OpenSSL has parsed them and never reach a message. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "kmod/sign.h"
#include "kmod/sslerr.h"

DK_DEFINE_CLEANUP(BIO *, BIO_free)
DK_DEFINE_CLEANUP(EVP_PKEY *, EVP_PKEY_free)

/* A buffer holding secret bytes (read by dk_read_regular: one allocation, no
 * realloc copies): wiped before it is freed. */
struct secret {
	char *p;
	size_t len;
};

static void secret_clear(struct secret *s)
{
	if (s->p) {
		OPENSSL_cleanse(s->p, s->len + 1);
		free(s->p);
	}
	s->p = NULL;
	s->len = 0;
}

/* The digests the kernel verifies module signatures with; names as sign-file takes
 * them. */
static const struct {
	const char *name;
	const EVP_MD *(*md)(void);
} hashes[] = {
	{"sha256", EVP_sha256},
	{"sha384", EVP_sha384},
	{"sha512", EVP_sha512},
};

/* Index into hashes[], or -1. */
static int hash_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(hashes); i++)
		if (streq(name, hashes[i].name))
			return (int)i;
	return -1;
}

const EVP_MD *dk_sign_hash_parse(const char *name)
{
	int i = hash_find(name);

	return i < 0 ? NULL : hashes[i].md();
}

/* Key and passphrase files are secrets: say so when others can read them. */
static void warn_if_shared(const char *what, const char *path, const struct stat *st)
{
	if (st->st_mode & (S_IRWXG | S_IRWXO))
		dk_warn("%s %s is accessible by group or others (mode %04o); chmod 600 "
			"it",
			what, path, (unsigned)(st->st_mode & 07777));
}

struct pass_ctx {
	const char *pass; /* NULL: none given */
	bool asked;
};

/* Never prompts: an encrypted key without a passphrase source is an error. */
static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	struct pass_ctx *pc = u;
	size_t n;

	pc->asked = true;
	if (!pc->pass)
		return -1;
	n = strlen(pc->pass);
	if (size < 0 || n > (size_t)size)
		return -1;
	memcpy(buf, pc->pass, n);
	return (int)n;
}

static int load_passphrase(const struct dk_signer_opts *o, struct secret *pass,
			   struct dk_error **err)
{
	struct stat st;
	const char *v;
	int r;

	if (o->passphrase_file && o->passphrase_env)
		return dk_error_set(err, EINVAL,
				    "give either a passphrase file or a passphrase "
				    "environment variable, not both");
	if (o->passphrase_file) {
		r = dk_read_regular(o->passphrase_file, 64 * 1024, &pass->p, &pass->len,
				    &st, err);
		if (r < 0)
			return dk_error_wrap(err, "passphrase file");
		warn_if_shared("passphrase file", o->passphrase_file, &st);
		/* The first line is the passphrase, as with openssl -passin file: */
		pass->p[strcspn(pass->p, "\r\n")] = '\0';
		return 0;
	}
	if (o->passphrase_env) {
		v = secure_getenv(o->passphrase_env);
		if (!v)
			return dk_error_set(err, ENOENT,
					    "passphrase variable %s is not set",
					    o->passphrase_env);
		pass->len = strlen(v);
		pass->p = strdup(v);
		if (!pass->p)
			return dk_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* pass: the passphrase, NULL when none was given; pass_from: where it came from,
 * for the message when it does not open the key. */
static int load_key(const char *path, const char *pass, const char *pass_from,
		    EVP_PKEY **out, struct dk_error **err)
{
	_cleanup_(secret_clear) struct secret pem = {NULL, 0};
	_cleanup_(dk_BIO_freep) BIO *bio = NULL;
	struct pass_ctx pc = {pass, false};
	struct stat st;
	EVP_PKEY *key;
	int r;

	r = dk_read_regular(path, 1u << 20, &pem.p, &pem.len, &st, err);
	if (r < 0)
		return dk_error_wrap(err, "signing key");
	warn_if_shared("signing key", path, &st);
	bio = BIO_new_mem_buf(pem.p, (int)pem.len);
	if (!bio)
		return dk_ssl_error(err, ENOMEM, "signing key %s", path);
	ERR_clear_error();
	key = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, &pc);
	if (key) {
		*out = key;
		return 0;
	}
	if (pc.asked && !pass)
		return dk_ssl_error(err, EINVAL,
				    "signing key %s is encrypted: give "
				    "--passphrase-file or --passphrase-env",
				    path);
	if (pc.asked)
		return dk_ssl_error(
			err, EBADMSG,
			"signing key %s: wrong passphrase or damaged key: check "
			"that %s holds this key's passphrase (test with: "
			"openssl pkey -in %s -noout)",
			path, pass_from, path);
	if (!strstr(pem.p, "PRIVATE KEY-----"))
		return dk_ssl_error(
			err, EBADMSG,
			"signing key %s: not a PEM private key (expected "
			"'-----BEGIN ... PRIVATE KEY-----'; a DER key converts "
			"with: openssl pkey -inform DER -in KEY -out KEY.pem)",
			path);
	return dk_ssl_error(err, EBADMSG,
			    "signing key %s: cannot parse the key (damaged, or a key "
			    "type OpenSSL does not know)",
			    path);
}

int dk_cert_load(const char *path, X509 **out, struct dk_error **err)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_(dk_BIO_freep) BIO *bio = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509 *x;
	int r;

	r = dk_read_file(path, 1u << 20, &buf, &len);
	if (r < 0)
		return dk_error_set(err, -r, "certificate %s: %s", path, strerror(-r));
	ERR_clear_error();
	if (memmem(buf, len, "-----BEGIN", 10)) {
		bio = BIO_new_mem_buf(buf, (int)len);
		if (!bio)
			return dk_ssl_error(err, ENOMEM, "certificate %s", path);
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	} else {
		p = (const unsigned char *)buf;
		x = d2i_X509(NULL, &p, (long)len);
	}
	if (!x)
		return dk_ssl_error(err, EBADMSG,
				    "certificate %s: not a PEM or DER X.509 certificate",
				    path);
	*out = x;
	return 0;
}

int dk_cert_ids_get(const X509 *cert, struct dk_cert_ids *out)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id((X509 *)cert);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
	bool oom = false;

	memset(out, 0, sizeof(*out));
	out->cn = dk_ssl_name_cn(X509_get_subject_name(cert));
	out->issuer_cn = dk_ssl_name_cn(X509_get_issuer_name(cert));
	if (skid) {
		out->skid = dk_hex(ASN1_STRING_get0_data(skid),
				   (size_t)ASN1_STRING_length(skid), false, 0);
		oom |= !out->skid;
	}
	if (serial) {
		out->serial = dk_hex(ASN1_STRING_get0_data(serial),
				     (size_t)ASN1_STRING_length(serial), false, 0);
		oom |= !out->serial;
	}
	return oom ? -ENOMEM : 0;
}

int dk_cert_ids_der(const void *der, size_t len, struct dk_cert_ids *out)
{
	const unsigned char *p = der;
	_cleanup_(dk_X509_freep) X509 *x = NULL;

	memset(out, 0, sizeof(*out));
	if (len > LONG_MAX)
		return -EBADMSG;
	x = d2i_X509(NULL, &p, (long)len);
	if (!x)
		return -EBADMSG;
	return dk_cert_ids_get(x, out);
}

void dk_cert_ids_release(struct dk_cert_ids *ids)
{
	free(ids->cn);
	free(ids->issuer_cn);
	free(ids->skid);
	free(ids->serial);
	memset(ids, 0, sizeof(*ids));
}

int dk_signer_new_from(EVP_PKEY *key, X509 *cert, const char *hash,
		       struct dk_signer **out, struct dk_error **err)
{
	struct dk_signer *s;
	const EVP_MD *md;

	md = dk_sign_hash_parse(hash ? hash : "sha256");
	if (!md)
		return dk_error_set(err, EINVAL,
				    "unsupported hash '%s' (sha256, sha384, sha512)",
				    hash);
	ERR_clear_error();
	if (X509_check_private_key(cert, key) != 1)
		return dk_ssl_error(err, EINVAL,
				    "the signing key does not belong to the certificate");
	s = calloc(1, sizeof(*s));
	if (!s)
		return dk_error_set(err, ENOMEM, "out of memory");
	EVP_PKEY_up_ref(key);
	X509_up_ref(cert);
	s->key = key;
	s->cert = cert;
	s->md = md;
	s->hash = hashes[hash_find(hash ? hash : "sha256")].name;
	/* Fill the certificate's cached extensions now, before threads share it. */
	(void)X509_check_purpose(cert, -1, 0);
	*out = s;
	return 0;
}

int dk_signer_new(const struct dk_signer_opts *opts, struct dk_signer **out,
		  struct dk_error **err)
{
	_cleanup_(secret_clear) struct secret pass = {NULL, 0};
	_cleanup_(dk_EVP_PKEY_freep) EVP_PKEY *key = NULL;
	_cleanup_(dk_X509_freep) X509 *cert = NULL;
	_cleanup_free_ char *pass_from = NULL;
	int r;

	if (!opts->key_path || !opts->cert_path)
		return dk_error_set(err, EINVAL,
				    "a signing key and a certificate are needed");
	if (opts->hash && !dk_sign_hash_parse(opts->hash))
		return dk_error_set(err, EINVAL,
				    "unsupported hash '%s' (sha256, sha384, sha512)",
				    opts->hash);
	r = load_passphrase(opts, &pass, err);
	if (r < 0)
		return r;
	if (opts->passphrase_file)
		pass_from = dk_strdup_printf("passphrase file %s", opts->passphrase_file);
	else if (opts->passphrase_env)
		pass_from = dk_strdup_printf("variable %s", opts->passphrase_env);
	r = load_key(opts->key_path, pass.p, pass_from ? pass_from : "?", &key, err);
	if (r < 0)
		return r;
	r = dk_cert_load(opts->cert_path, &cert, err);
	if (r < 0)
		return r;
	r = dk_signer_new_from(key, cert, opts->hash, out, err);
	if (r < 0)
		return dk_error_wrap(err, "key %s, certificate %s", opts->key_path,
				     opts->cert_path);
	return 0;
}

void dk_signer_free(struct dk_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	free(s);
}
