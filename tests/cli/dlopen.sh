#!/bin/bash
# libcurl and libarchive are loaded on first use (src/base/dlib.h), not at exec: the
# binary must not list them as NEEDED, commands that do not use them must work without
# them, and those that do must say clearly which package is missing (exit 6, ELIBACC).
# DRVKIT_TEST_LIBCURL / DRVKIT_TEST_LIBARCHIVE name a library to load instead.
. "$(dirname "$0")/../lib.sh"

case_needed() {
	readelf -d "$DRVKIT" | awk '/\(NEEDED\)/ { gsub(/[][]/, "", $NF); print $NF }' >"$TMP/needed"
	diag "NEEDED: $(tr '\n' ' ' <"$TMP/needed")"
	unlike "$TMP/needed" '^libcurl' "libcurl is not NEEDED"
	unlike "$TMP/needed" '^libarchive' "libarchive is not NEEDED"
	like "$TMP/needed" '^libkmod' "libkmod still linked normally"
}
tcase "NEEDED entries" case_needed

NOPE=libdrvkit-test-nonexistent.so.0
# the fixture: a file to fetch and an archive to extract, copied into each case
case_fixture() {
	TMP=$FIX
	head -c 1000 /dev/urandom >"$TMP/a.bin"
	mkdir -p "$TMP/src/d"
	echo hello >"$TMP/src/d/f"
	tar -C "$TMP/src" -czf "$TMP/t.tar.gz" d
}
tcase "fixture" case_fixture
SHA=$(sha256sum "$FIX/a.bin" | cut -d' ' -f1)

# Normal use: they load on demand.
case_normal() {
	use_fixture
	run "$DRVKIT" fetch --no-progress "file://$TMP/a.bin" --sha256 "$SHA" -o "$TMP/b.bin"
	is "$rc" 0 "fetch file:// works"
	run "$DRVKIT" extract "$TMP/t.tar.gz" -C "$TMP/o1"
	is "$rc" 0 "extract works"
	is "$(cat "$TMP/o1/d/f" 2>/dev/null)" hello "extract: content"
}
tcase "libcurl and libarchive load on demand" case_normal

# libcurl missing: http(s) fails clearly; local sources do not need it.
case_no_libcurl() {
	use_fixture
	run env DRVKIT_TEST_LIBCURL=$NOPE "$DRVKIT" fetch --no-progress \
		http://127.0.0.1:9/x.bin --sha256 "$SHA" -o "$TMP/c.bin"
	is "$rc" 6 "no libcurl: http fetch exits 6"
	like "$TMP/err" "^drvkit fetch: http://127\.0\.0\.1:9/x\.bin: $NOPE not found: install libcurl4 \(Debian\) / libcurl \(RHEL\)$" \
		"no libcurl: message names the library and the packages"
	t "no libcurl: no file left behind" test ! -e "$TMP/c.bin" -a ! -e "$TMP/c.bin.part"
	run env DRVKIT_TEST_LIBCURL=$NOPE "$DRVKIT" fetch --no-progress "file://$TMP/a.bin" \
		--sha256 "$SHA" -o "$TMP/d.bin"
	is "$rc" 0 "no libcurl: file:// fetch still works"
	# the override is a library name only, never a path: a path is ignored and the real
	# libcurl is used (the connection to the discard port is then refused)
	run env DRVKIT_TEST_LIBCURL="$TMP/$NOPE" "$DRVKIT" fetch --no-progress --retries 0 \
		http://127.0.0.1:9/x.bin --sha256 "$SHA" -o "$TMP/e.bin"
	is "$rc" 1 "override with a path is ignored: exit 1"
	unlike "$TMP/err" "not found: install" "override with a path is ignored: libcurl was loaded"
}
tcase "libcurl missing" case_no_libcurl

# libarchive missing: extract fails clearly; detect falls back without config.gz.
case_no_libarchive() {
	use_fixture
	run env DRVKIT_TEST_LIBARCHIVE=$NOPE "$DRVKIT" extract "$TMP/t.tar.gz" -C "$TMP/o2"
	is "$rc" 6 "no libarchive: extract exits 6"
	like "$TMP/err" "$NOPE not found: install libarchive13 \(Debian\) / libarchive \(RHEL\)$" \
		"no libarchive: message names the library and the packages"
	t "no libarchive: nothing extracted" test ! -e "$TMP/o2/d"
	mkdir -p "$TMP/gzroot/proc"
	printf 'CONFIG_MODULE_UNLOAD=y\n' | gzip -c >"$TMP/gzroot/proc/config.gz"
	run env DRVKIT_TEST_LIBARCHIVE=$NOPE "$DRVKIT" detect --host-root "$TMP/gzroot" \
		--kernel 6.1.0-test --json
	is "$rc" 0 "no libarchive: detect still works"
	like "$TMP/out" "config\.gz: Can not access a needed shared library" \
		"no libarchive: detect says why config.gz was not read"
}
tcase "libarchive missing" case_no_libarchive

done_testing
