/* SPDX-License-Identifier: Apache-2.0 */
/* sha256 helpers, URL redaction, request checks and the streaming variant on local
 * sources (network cases are in tests/cli/fetch.sh against a real server). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/error.h"
#include "base/fsutil.h"
#include "base/sha256.h"
#include "get/fetch.h"

#include "tap.h"

#define ABC_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define WRONG_SHA "007816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_sha256(void)
{
	_cleanup_sha256_ struct dk_sha256 s = {};
	char hex[DK_SHA256_HEX_LEN + 1];

	ok(dk_sha256_reset(&s) == 0, "reset");
	ok(dk_sha256_update(&s, "a", 1) == 0 && dk_sha256_update(&s, "bc", 2) == 0,
	   "update in pieces");
	ok(dk_sha256_final_hex(&s, hex) == 0, "final");
	is_str(hex, ABC_SHA, "sha256(abc)");
	ok(dk_sha256_reset(&s) == 0 && dk_sha256_final_hex(&s, hex) == 0, "reset reuses");
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	       "sha256 of nothing");

	ok(dk_sha256_parse_hex(
		   "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF"
		   "61F20015AD",
		   hex) == 0,
	   "parse: prefix and upper case");
	is_str(hex, ABC_SHA, "parse: lower-cased");
	ok(dk_sha256_parse_hex("ba7816bf", hex) == -EINVAL, "parse: too short");
	ok(dk_sha256_parse_hex(ABC_SHA "00", hex) == -EINVAL, "parse: too long");
	ok(dk_sha256_parse_hex(
		   "zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f2"
		   "0015ad",
		   hex) == -EINVAL,
	   "parse: not hex");
}

static void test_redact(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"https://u:p@host/x", "https://host/x"},
		{"https://u@host:8443/x?a=b@c", "https://host:8443/x?a=b@c"},
		{"http://a:b@c@host/", "http://host/"},
		{"https://host/path@x", "https://host/path@x"},
		{"/local/path", "/local/path"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *r = dk_fetch_redact_url(cases[i].in);

		is_str(r, cases[i].out, "redact %s", cases[i].in);
	}
}

struct sink {
	struct strbuf got;
	size_t calls;
};

static int collect(const void *buf, size_t len, void *userdata)
{
	struct sink *s = userdata;

	strbuf_putn(&s->got, buf, len);
	s->calls++;
	return 0;
}

static int refuse(const void *buf, size_t len, void *userdata)
{
	return -ENOSPC;
}

static void test_stream_local(void)
{
	char dir[] = "/tmp/dk-fetch-unit.XXXXXX";
	_cleanup_free_ char *src = NULL, *dst = NULL, *url = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_fetch_opts o = {.progress = 2};
	struct sink s = {};
	int r;

	if (!mkdtemp(dir)) {
		skip("mkdtemp failed");
		return;
	}
	src = dk_path_join(dir, "src");
	dst = dk_path_join(dir, "dst");
	ok(dk_write_file_atomic(src, "abc", 3, 0644) == 0, "write source");

	strbuf_init(&s.got);
	r = dk_fetch_stream(&o, src, ABC_SHA, collect, &s, &err);
	is_int(r, 0, "stream a local file");
	is_str(strbuf_str(&s.got), "abc", "consumer got the bytes");
	strbuf_release(&s.got);

	strbuf_init(&s.got);
	strbuf_printf(&s.got, "file://%s", src);
	url = strbuf_steal(&s.got);
	r = dk_fetch_stream(&o, url, WRONG_SHA, collect, &s, &err);
	is_int(r, -EBADMSG, "stream with a wrong digest: EBADMSG");
	ok(err && strstr(err->msg, "expected sha256 00") &&
		   strstr(err->msg, "got " ABC_SHA),
	   "message has both digests");
	is_str(strbuf_str(&s.got), "abc", "bytes were streamed before the verdict");
	strbuf_release(&s.got);
	dk_error_free(&err);

	r = dk_fetch_stream(&o, src, ABC_SHA, refuse, NULL, &err);
	is_int(r, -ENOSPC, "consumer error stops the fetch");
	dk_error_free(&err);

	{
		struct dk_fetch_req req = {.url = src, .sha256 = ABC_SHA, .dest = dst};

		r = dk_fetch(&o, &req, 1, &err);
		is_int(r, 0, "fetch to a file");
		ok(req.size == 3 && req.result == 0 && !req.from_cache,
		   "request results");
		ok(access(dst, F_OK) == 0, "file in place");
	}
	{
		struct dk_fetch_req req = {
			.url = src, .sha256 = ABC_SHA, .dest = dst, .write_fn = collect};

		r = dk_fetch(&o, &req, 1, &err);
		is_int(r, -EINVAL, "dest and write_fn together: EINVAL");
		dk_error_free(&err);
	}
	{
		struct dk_fetch_req req = {
			.url = "ftp://x/y", .sha256 = ABC_SHA, .dest = dst};

		r = dk_fetch(&o, &req, 1, &err);
		is_int(r, -EPROTONOSUPPORT, "ftp:// is refused");
		dk_error_free(&err);
	}
	unlink(dst);
	unlink(src);
	rmdir(dir);
}

int main(void)
{
	test_sha256();
	test_redact();
	test_stream_local();
	return tap_done();
}
