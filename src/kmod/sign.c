/* SPDX-License-Identifier: Apache-2.0 */
/* Appending, removing and checking module signatures (the format of the kernel's
 * scripts/sign-file; layout in core/modsig.h). */
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "base/fsutil.h"
#include "kmod/modfile.h"
#include "kmod/modsig.h"
#include "kmod/sign.h"
#include "kmod/sslerr.h"

DK_DEFINE_CLEANUP(BIO *, BIO_free)
DK_DEFINE_CLEANUP(CMS_ContentInfo *, CMS_ContentInfo_free)
DK_DEFINE_CLEANUP(STACK_OF(X509) *, sk_X509_free)

/* Room left after the module for the signature, so appending does not copy. */
#define SIG_SLACK 16384

/* The detached PKCS#7 DER for data, built as sign-file builds it (no certificates,
 * no S/MIME capabilities, no signed attributes, issuer and serial as signer id). */
static int sign_der(const struct dk_signer *s, const void *data, size_t len, BIO **der,
		    struct dk_error **err)
{
	_cleanup_(dk_CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
	_cleanup_(dk_BIO_freep) BIO *in = NULL;
	_cleanup_(dk_BIO_freep) BIO *out = NULL;

	if (len > INT_MAX)
		return dk_error_set(err, EFBIG, "module larger than %d bytes", INT_MAX);
	ERR_clear_error();
	in = BIO_new_mem_buf(data, (int)len);
	out = BIO_new(BIO_s_mem());
	if (!in || !out)
		return dk_ssl_error(err, ENOMEM, "out of memory");
	cms = CMS_sign(NULL, NULL, NULL, NULL,
		       CMS_NOCERTS | CMS_PARTIAL | CMS_BINARY | CMS_DETACHED |
			       CMS_STREAM);
	if (!cms)
		return dk_ssl_error(err, EIO, "create PKCS#7 message");
	if (!CMS_add1_signer(cms, s->cert, s->key, s->md,
			     CMS_NOCERTS | CMS_BINARY | CMS_NOSMIMECAP | CMS_NOATTR))
		return dk_ssl_error(err, EIO, "add signer");
	if (CMS_final(cms, in, NULL, CMS_NOCERTS | CMS_BINARY) != 1)
		return dk_ssl_error(err, EIO, "sign");
	if (i2d_CMS_bio_stream(out, cms, NULL, 0) != 1)
		return dk_ssl_error(err, EIO, "encode PKCS#7 message");
	*der = TAKE_PTR(out);
	return 0;
}

/* What signing appends to data: the PKCS#7 DER, struct module_signature, marker. */
static int sign_tail(const struct dk_signer *s, const void *data, size_t len,
		     unsigned char **tail, size_t *tail_len, struct dk_error **err)
{
	_cleanup_(dk_BIO_freep) BIO *der = NULL;
	char *sig = NULL;
	long sig_len;
	int r;

	r = sign_der(s, data, len, &der, err);
	if (r < 0)
		return r;
	sig_len = BIO_get_mem_data(der, &sig);
	if (sig_len <= 0)
		return dk_error_set(err, EIO, "empty signature");
	*tail = malloc((size_t)sig_len + DK_MODSIG_TAIL_LEN);
	if (!*tail)
		return dk_error_set(err, ENOMEM, "out of memory");
	memcpy(*tail, sig, (size_t)sig_len);
	dk_modsig_trailer(*tail + sig_len, (size_t)sig_len);
	*tail_len = (size_t)sig_len + DK_MODSIG_TAIL_LEN;
	return 0;
}

int dk_sign_buffer(const struct dk_signer *s, const void *data, size_t len,
		   unsigned char **out, size_t *out_len, struct dk_error **err)
{
	_cleanup_free_ unsigned char *tail = NULL;
	size_t tail_len = 0;
	unsigned char *buf;
	int r;

	r = sign_tail(s, data, len, &tail, &tail_len, err);
	if (r < 0)
		return r;
	buf = malloc(len + tail_len);
	if (!buf)
		return dk_error_set(err, ENOMEM, "out of memory");
	memcpy(buf, data, len);
	memcpy(buf + len, tail, tail_len);
	*out = buf;
	*out_len = len + tail_len;
	return 0;
}

int dk_unsign_buffer(const void *data, size_t len, size_t *module_len,
		     struct dk_error **err)
{
	struct dk_modsig sig;
	uint32_t last_sig_len = 0;
	int n = 0, r;

	for (;;) {
		/* Only the outermost end can be a truncated file; inside, the bytes
		 * before a signature are the module as it was signed. */
		r = n == 0 ? dk_modsig_locate_strict(data, len, &sig, err)
			   : dk_modsig_locate(data, len, &sig, err);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		len = sig.module_len;
		last_sig_len = sig.sig_len;
		n++;
	}
	/* What is left must still be a module: a trailer claiming every byte before
	 * it (or some non-ELF prefix) is not a signature of this file. */
	if (n > 0 && (len < SELFMAG || memcmp(data, ELFMAG, SELFMAG) != 0))
		return dk_error_set(err, EBADMSG,
				    "the signature trailer claims %u signature bytes, "
				    "which leaves %zu bytes that are not an ELF module "
				    "(no ELF magic): not a module signature",
				    last_sig_len, len);
	*module_len = len;
	return n;
}

/* Signing reads the module through its one mapping (dk_modfile_open_raw): hashing
 * reads the page cache directly and the copy to the output is done by the kernel
 * (copy_file_range), so a large module is never copied through user space (-j 16 on
 * 300 MB modules would otherwise hold 5 GB).
 *
 * The price of a mapping: if another process truncates the file while it is
 * being signed, the thread reading past the new end gets SIGBUS and drvkit dies
 * with "Bus error". drvkit itself never truncates a module (it replaces files by
 * rename, so a mapped inode keeps its bytes), and catching SIGBUS would take a
 * process-wide signal handler in the core. So the risk is documented here and in
 * dk_sign_file(); a file rewritten in place without shrinking is caught by
 * check_unchanged() instead of being signed half old, half new. */

/* After hashing: was the file written to meanwhile (a build or copy still running)?
 * Then the signature covers bytes that are no longer the file's. */
static int check_unchanged(const char *path, const struct dk_modfile *f,
			   struct dk_error **err)
{
	struct stat then, now;
	int fd = dk_modfile_fd(f, &then);

	if (fstat(fd, &now) < 0)
		return dk_error_set(err, errno, "%s: %s", path, strerror(errno));
	if (now.st_size != then.st_size || now.st_mtim.tv_sec != then.st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != then.st_mtim.tv_nsec)
		return dk_error_set(err, EAGAIN,
				    "%s: changed while it was being signed (another "
				    "process is writing it); sign it again once it is "
				    "complete",
				    path);
	return 0;
}

/* Writes the first len bytes of f plus tail to OUTPUT, or in place over PATH (the
 * file a symlink points at, not the link), atomically. */
static int write_module(const char *path, const char *output, const struct dk_modfile *f,
			size_t len, const void *tail, size_t tail_len,
			struct dk_error **err)
{
	_cleanup_free_ char *real = NULL;
	const char *dest = output;
	struct stat st;
	int fd = dk_modfile_fd(f, &st);
	int r;

	if (!dest) {
		real = realpath(path, NULL);
		if (!real)
			return dk_error_set(err, errno, "%s: %s", path, strerror(errno));
		dest = real;
	}
	r = dk_copy_file_atomic(dest, fd, len, tail, tail_len, st.st_mode & 07777);
	if (r < 0)
		return dk_error_set(err, -r, "write %s: %s", dest, strerror(-r));
	return 0;
}

/* Maps path as it is and finds where its signature starts: 1 when signed, 0 when not. */
static int open_module(const char *path, struct dk_modfile **f, const void **data,
		       size_t *module_len, struct dk_error **err)
{
	size_t len;
	int r;

	r = dk_modfile_open_raw(path, f, err);
	if (r < 0)
		return r;
	*data = dk_modfile_data(*f, &len);
	r = dk_unsign_buffer(*data, len, module_len, err);
	return r < 0 ? dk_error_wrap(err, "%s", path) : r;
}

int dk_sign_file(const struct dk_signer *s, const char *path, const char *output,
		 unsigned flags, struct dk_error **err)
{
	_cleanup_modfile_ struct dk_modfile *f = NULL;
	_cleanup_free_ unsigned char *tail = NULL;
	size_t module_len, tail_len = 0;
	const void *data;
	int r;

	r = open_module(path, &f, &data, &module_len, err);
	if (r < 0)
		return r;
	if (r > 0 && !(flags & DK_SIGN_RESIGN))
		return dk_error_set(err, EEXIST,
				    "%s: already signed (use --resign to replace the "
				    "signature)",
				    path);
	r = sign_tail(s, data, module_len, &tail, &tail_len, err);
	if (r < 0)
		return dk_error_wrap(err, "%s", path);
	r = check_unchanged(path, f, err);
	if (r < 0)
		return r;
	return write_module(path, output, f, module_len, tail, tail_len, err);
}

int dk_unsign_file(const char *path, const char *output, bool *was_signed,
		   struct dk_error **err)
{
	_cleanup_modfile_ struct dk_modfile *f = NULL;
	size_t module_len;
	const void *data;
	int r;

	r = open_module(path, &f, &data, &module_len, err);
	if (r < 0)
		return r;
	*was_signed = r > 0;
	if (r == 0 && !output)
		return 0; /* nothing to do: leave the file alone */
	return write_module(path, output, f, module_len, NULL, 0, err);
}

struct sign_pool {
	const struct dk_signer *signer;
	const char *const *paths;
	struct dk_sign_result *results;
	size_t n;
	unsigned flags;
	atomic_size_t next;
};

static void *sign_worker(void *arg)
{
	struct sign_pool *pool = arg;
	size_t i;

	while ((i = atomic_fetch_add(&pool->next, 1)) < pool->n) {
		struct dk_sign_result *res = &pool->results[i];

		res->r = dk_sign_file(pool->signer, pool->paths[i], NULL, pool->flags,
				      &res->err);
		/* OpenSSL keeps a per-thread error queue; leave none behind. */
		ERR_clear_error();
	}
	return NULL;
}

size_t dk_sign_files(const struct dk_ctx *ctx, const struct dk_signer *s,
		     const char *const *paths, size_t n, unsigned flags, int jobs,
		     struct dk_sign_result *results)
{
	struct sign_pool pool = {s, paths, results, n, flags, 0};
	_cleanup_free_ pthread_t *threads = NULL;
	size_t started = 0, failed = 0;

	for (size_t i = 0; i < n; i++)
		results[i] = (struct dk_sign_result){paths[i], 0, NULL};
	if (jobs <= 0 && ctx)
		jobs = ctx->jobs;
	if (jobs <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		jobs = c > 0 ? (int)MIN(c, 1024L) : 1;
	}
	if ((size_t)jobs > n)
		jobs = (int)n;
	/* The calling thread works too, so jobs - 1 helpers. */
	if (jobs > 1)
		threads = calloc((size_t)jobs - 1, sizeof(*threads));
	for (int t = 0; threads && t < jobs - 1; t++) {
		if (pthread_create(&threads[t], NULL, sign_worker, &pool) != 0)
			break; /* fewer threads still finish the work */
		started++;
	}
	sign_worker(&pool);
	for (size_t t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	for (size_t i = 0; i < n; i++)
		if (results[i].r < 0)
			failed++;
	return failed;
}

const char *dk_verify_verdict_name(enum dk_verify_verdict v)
{
	switch (v) {
	case DK_VERIFY_OK:
		return "ok";
	case DK_VERIFY_UNSIGNED:
		return "unsigned";
	case DK_VERIFY_OTHER_KEY:
		return "other-key";
	case DK_VERIFY_MISMATCH:
		return "mismatch";
	case DK_VERIFY_MALFORMED:
		return "malformed";
	}
	return "?";
}

/* The issuer CN of cert, "" when it has none (as modinfo shows it); NULL on OOM. */
static char *issuer_cn(const X509 *cert)
{
	char *cn = dk_ssl_name_cn(X509_get_issuer_name(cert));

	return cn ? cn : strdup("");
}

static int verdict(struct dk_verify_result *res, enum dk_verify_verdict v,
		   const char *detail)
{
	res->verdict = v;
	if (detail && !res->detail)
		res->detail = strdup(detail);
	return 0;
}

int dk_verify_buffer(X509 *cert, const void *data, size_t len,
		     struct dk_verify_result *res, struct dk_error **err)
{
	_cleanup_(dk_CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
	_cleanup_(dk_sk_X509_freep) STACK_OF(X509) *certs = NULL;
	_cleanup_(dk_BIO_freep) BIO *content = NULL;
	_cleanup_error_ struct dk_error *lerr = NULL;
	struct dk_modsig_info info;
	STACK_OF(CMS_SignerInfo) * sis;
	const unsigned char *der;
	struct dk_modsig sig;
	int r;

	memset(res, 0, sizeof(*res));
	res->cert_name = issuer_cn(cert);
	res->cert_serial = dk_hex(
		ASN1_STRING_get0_data(X509_get0_serialNumber(cert)),
		(size_t)ASN1_STRING_length(X509_get0_serialNumber(cert)), true, ':');
	if (!res->cert_name || !res->cert_serial)
		return dk_error_set(err, ENOMEM, "out of memory");

	r = dk_modsig_locate_strict(data, len, &sig, &lerr);
	if (r < 0)
		return verdict(res, DK_VERIFY_MALFORMED, lerr->msg);
	if (r == 0)
		return verdict(res, DK_VERIFY_UNSIGNED, NULL);
	der = (const unsigned char *)data + sig.module_len;
	if (dk_modsig_describe(der, sig.sig_len, &info, &lerr) < 0)
		return verdict(res, DK_VERIFY_MALFORMED, lerr->msg);
	res->signer = TAKE_PTR(info.signer);
	res->signer_serial = TAKE_PTR(info.sig_key);
	res->hash = TAKE_PTR(info.sig_hashalgo);
	dk_modsig_info_clear(&info);

	ERR_clear_error();
	cms = d2i_CMS_ContentInfo(NULL, &der, (long)sig.sig_len);
	if (!cms) {
		res->detail = dk_ssl_detail("cannot parse the PKCS#7 signature");
		return verdict(res, DK_VERIFY_MALFORMED, NULL);
	}
	sis = CMS_get0_SignerInfos(cms);
	if (!sis || sk_CMS_SignerInfo_num(sis) < 1)
		return verdict(res, DK_VERIFY_MALFORMED,
			       "PKCS#7 signature has no signer");
	for (int i = 0; i < sk_CMS_SignerInfo_num(sis); i++)
		if (CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(sis, i), cert) != 0)
			return verdict(res, DK_VERIFY_OTHER_KEY, NULL);

	if (sig.module_len > INT_MAX)
		return dk_error_set(err, EFBIG, "module larger than %d bytes", INT_MAX);
	certs = sk_X509_new_null();
	content = BIO_new_mem_buf(data, (int)sig.module_len);
	if (!certs || !content || !sk_X509_push(certs, cert))
		return dk_ssl_error(err, ENOMEM, "out of memory");
	if (CMS_verify(cms, certs, NULL, content, NULL,
		       CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY | CMS_NOINTERN) != 1) {
		res->detail = dk_ssl_detail("signature check failed");
		return verdict(res, DK_VERIFY_MISMATCH, NULL);
	}
	ERR_clear_error();
	return verdict(res, DK_VERIFY_OK, NULL);
}

int dk_verify_file(X509 *cert, const char *path, struct dk_verify_result *res,
		   struct dk_error **err)
{
	_cleanup_modfile_ struct dk_modfile *f = NULL;
	const void *data;
	size_t len;
	int r;

	memset(res, 0, sizeof(*res));
	r = dk_modfile_open_raw(path, &f, err);
	if (r < 0)
		return r;
	data = dk_modfile_data(f, &len);
	r = dk_verify_buffer(cert, data, len, res, err);
	if (r < 0)
		return dk_error_wrap(err, "%s", path);
	return 0;
}

void dk_verify_result_clear(struct dk_verify_result *res)
{
	free(res->signer);
	free(res->signer_serial);
	free(res->hash);
	free(res->cert_name);
	free(res->cert_serial);
	free(res->detail);
	memset(res, 0, sizeof(*res));
}
