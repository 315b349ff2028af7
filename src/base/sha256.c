/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include <openssl/evp.h>

#include "base/fsutil.h"
#include "base/sha256.h"

static const char hex_digits[] = "0123456789abcdef";

int dk_sha256_reset(struct dk_sha256 *s)
{
	if (!s->md_ctx) {
		s->md_ctx = EVP_MD_CTX_new();
		if (!s->md_ctx)
			return -ENOMEM;
	}
	if (EVP_DigestInit_ex(s->md_ctx, EVP_sha256(), NULL) != 1)
		return -EIO;
	return 0;
}

int dk_sha256_update(struct dk_sha256 *s, const void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (!s->md_ctx || EVP_DigestUpdate(s->md_ctx, buf, len) != 1)
		return -EIO;
	return 0;
}

int dk_sha256_final_hex(struct dk_sha256 *s, char hex[static DK_SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!s->md_ctx || EVP_DigestFinal_ex(s->md_ctx, md, &n) != 1 || n != 32)
		return -EIO;
	for (unsigned int i = 0; i < n; i++) {
		hex[2 * i] = hex_digits[md[i] >> 4];
		hex[2 * i + 1] = hex_digits[md[i] & 0xf];
	}
	hex[2 * n] = '\0';
	return 0;
}

void dk_sha256_release(struct dk_sha256 *s)
{
	EVP_MD_CTX_free(s->md_ctx);
	s->md_ctx = NULL;
}

int dk_sha256_update_fd(struct dk_sha256 *s, int fd, unsigned long long len)
{
	char buf[64 * 1024];
	unsigned long long off = 0;

	while (off < len) {
		size_t want = len - off < sizeof(buf) ? (size_t)(len - off) : sizeof(buf);
		ssize_t r = pread(fd, buf, want, (off_t)off);
		int q;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		q = dk_sha256_update(s, buf, (size_t)r);
		if (q < 0)
			return q;
		off += (unsigned long long)r;
	}
	return 0;
}

int dk_sha256_file(const char *path, char hex[static DK_SHA256_HEX_LEN + 1])
{
	_cleanup_sha256_ struct dk_sha256 s = {};
	_cleanup_close_ int fd = -1;
	char buf[64 * 1024];
	int r;

	{
		_cleanup_error_ struct dk_error *err = NULL;
		struct stat st;

		/* never blocks on a FIFO; a device (/dev/zero) would hash for ever */
		fd = dk_open_regular(path, SIZE_MAX, &st, &err);
		if (fd < 0)
			return fd;
	}
	r = dk_sha256_reset(&s);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		r = dk_sha256_update(&s, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	return dk_sha256_final_hex(&s, hex);
}

int dk_sha256_parse_hex(const char *s, char out[static DK_SHA256_HEX_LEN + 1])
{
	size_t i;

	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	for (i = 0; i < DK_SHA256_HEX_LEN; i++) {
		int v = dk_hexval(s[i]);

		if (v < 0)
			return -EINVAL;
		out[i] = hex_digits[v];
	}
	if (s[i] != '\0')
		return -EINVAL;
	out[i] = '\0';
	return 0;
}

bool dk_sha256_is_hex(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == DK_SHA256_HEX_LEN;
}

int dk_sha256_buffer(const void *buf, size_t len, char hex[static DK_SHA256_HEX_LEN + 1])
{
	_cleanup_sha256_ struct dk_sha256 s = {0};
	int r = dk_sha256_reset(&s);

	if (r >= 0)
		r = dk_sha256_update(&s, buf, len);
	if (r >= 0)
		r = dk_sha256_final_hex(&s, hex);
	return r;
}
