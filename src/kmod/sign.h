/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/cleanup.h"
#include "shared/macro.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/ctx.h"
#include "base/error.h"
#include "kmod/modsig.h" /* dk_modsig_trailer() */

/* _cleanup_(dk_X509_freep) X509 *cert */
DK_DEFINE_CLEANUP(X509 *, X509_free)

/* Module signing as scripts/sign-file does it: a detached PKCS#7 (CMS) signature with
 * no certificates and no signed attributes, signer named by issuer + serial, appended
 * with struct module_signature and the "~Module signature appended~" marker (see
 * core/modsig.h). With RSA (PKCS#1 v1.5) the result is byte-identical to sign-file's.
 * ECDSA signatures are randomised, so two signatures of the same module differ. */

/* Key material loaded once and shared by every signature (also across threads: it is
 * only read after dk_signer_new()). */
struct dk_signer {
	EVP_PKEY *key;
	X509 *cert;
	const EVP_MD *md;
	const char *hash; /* "sha256", "sha384", "sha512" */
};

struct dk_signer_opts {
	const char *key_path;  /* PEM private key, optionally encrypted */
	const char *cert_path; /* X.509 certificate, PEM or DER */
	const char *hash;      /* NULL = sha256 */
	/* At most one passphrase source; never the command line. */
	const char *passphrase_file; /* first line of this file */
	const char *passphrase_env;  /* name of an environment variable */
};

/* Maps a hash name to its digest; NULL when it is not one the kernel verifies. */
const EVP_MD *dk_sign_hash_parse(const char *name);

/* Loads key and certificate, checks that they belong together. Warns when the key
 * file is readable by group or others. Never puts key material into messages. */
int dk_signer_new(const struct dk_signer_opts *opts, struct dk_signer **out,
		  struct dk_error **err) _must_check_ _nonnull_(1, 2);
/* Same from objects already loaded (takes its own references). */
int dk_signer_new_from(EVP_PKEY *key, X509 *cert, const char *hash,
		       struct dk_signer **out, struct dk_error **err) _must_check_;
void dk_signer_free(struct dk_signer *s);
DK_DEFINE_CLEANUP(struct dk_signer *, dk_signer_free)
#define _cleanup_signer_ _cleanup_(dk_dk_signer_freep)

/* Signs module bytes: *out (malloc'd) is data + PKCS#7 DER + trailer + marker. */
int dk_sign_buffer(const struct dk_signer *s, const void *data, size_t len,
		   unsigned char **out, size_t *out_len,
		   struct dk_error **err) _must_check_;

/* Length of data without its appended signature(s); stacked signatures (sign-file
 * run twice) are all removed. Returns the number of signatures removed, or -EBADMSG
 * when a trailer is malformed. */
int dk_unsign_buffer(const void *data, size_t len, size_t *module_len,
		     struct dk_error **err) _must_check_;

enum {
	DK_SIGN_RESIGN =
		1 << 0, /* strip an existing signature first instead of refusing */
};

/* Signs path in place (temp file + rename, mode kept) or into output when not NULL.
 * An already signed module is refused with -EEXIST unless DK_SIGN_RESIGN. The input
 * is left untouched on any failure. The module is read through mmap: it must not be
 * truncated by another process meanwhile (that is SIGBUS); one modified in place
 * while it is signed is refused with -EAGAIN. */
int dk_sign_file(const struct dk_signer *s, const char *path, const char *output,
		 unsigned flags, struct dk_error **err) _must_check_;

struct dk_sign_result {
	const char *path;
	int r;		      /* 0 or -errno */
	struct dk_error *err; /* set when r < 0; caller frees */
};

/* Signs paths[0..n) in place with `jobs` threads (<= 0: ctx->jobs, then online
 * cores). Fills results[i] for every file; returns the number of failures. */
size_t dk_sign_files(const struct dk_ctx *ctx, const struct dk_signer *s,
		     const char *const *paths, size_t n, unsigned flags, int jobs,
		     struct dk_sign_result *results);

/* Removes the appended signature of path, in place or into output. *was_signed is
 * false (and nothing written) when the file carries no signature. */
int dk_unsign_file(const char *path, const char *output, bool *was_signed,
		   struct dk_error **err) _must_check_;

/* Verification of an appended signature against one certificate. */
enum dk_verify_verdict {
	DK_VERIFY_OK,
	DK_VERIFY_UNSIGNED,
	DK_VERIFY_OTHER_KEY, /* signer is not the given certificate */
	DK_VERIFY_MISMATCH,  /* signature does not match the module bytes */
	DK_VERIFY_MALFORMED, /* trailer or PKCS#7 blob cannot be parsed */
};

struct dk_verify_result {
	enum dk_verify_verdict verdict;
	char *signer;	     /* issuer CN named by the signature (as modinfo's signer) */
	char *signer_serial; /* "AB:CD:..." */
	char *hash;	     /* "sha256" */
	char *cert_name;     /* issuer CN of the given certificate */
	char *cert_serial;
	char *detail; /* why, for MALFORMED and MISMATCH */
};

const char *dk_verify_verdict_name(enum dk_verify_verdict v);
/* What the kernel and a module signature know a certificate by: subject CN (as
 * /proc/keys shows it), issuer CN (a signature's signer), subject key identifier
 * and serial, lower-case hex without colons. NULL where the certificate has none. */
struct dk_cert_ids {
	char *cn, *issuer_cn, *skid, *serial;
};
/* 0, or -ENOMEM (release *out in both cases). */
int dk_cert_ids_get(const X509 *cert, struct dk_cert_ids *out) _must_check_;
/* The same from DER bytes: -EBADMSG when they are not an X.509 certificate. */
int dk_cert_ids_der(const void *der, size_t len, struct dk_cert_ids *out) _must_check_;
void dk_cert_ids_release(struct dk_cert_ids *ids);
/* Loads a certificate, PEM or DER. */
int dk_cert_load(const char *path, X509 **out, struct dk_error **err) _must_check_;
/* Returns 0 with a verdict in *res, or -errno when verification could not run. */
int dk_verify_buffer(X509 *cert, const void *data, size_t len,
		     struct dk_verify_result *res, struct dk_error **err) _must_check_;
int dk_verify_file(X509 *cert, const char *path, struct dk_verify_result *res,
		   struct dk_error **err) _must_check_;
void dk_verify_result_clear(struct dk_verify_result *res);
