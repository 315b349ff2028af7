#!/bin/bash
# drvkit extract URL --sha256: download and extract in one streaming pass, against the
# loopback test server (tests/fetch-server.py): content, checksum mismatch, a cut
# transfer resumed, 404, and a hostile archive that stops the download.
. "$(dirname "$0")/../lib.sh"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
# The fixture: the tree $SRC and what the server serves, $WWW. Each case that needs the
# server starts its own (start_file_server), so its request log is its own.
WWW=$FIX/www
SRC=$FIX/src
case_fixture() {
	TMP=$FIX
	mkdir -p "$WWW" "$SRC/sub/deeper"
	echo hello >"$SRC/hello.txt"
	head -c 300000 /dev/urandom >"$SRC/sub/random.bin"
	seq 200000 >"$SRC/sub/deeper/numbers.txt"
	ln -s ../hello.txt "$SRC/sub/link-to-hello"
	tar -C "$SRC" -cJf "$WWW/src.tar.xz" .

	# a .deb holding the same tree as usr/src/dktest-src.tar.xz
	mkdir -p "$TMP/pkg/DEBIAN" "$TMP/pkg/usr/src" "$TMP/pkg/usr/share/doc/dktest"
	cat >"$TMP/pkg/DEBIAN/control" <<EOF
Package: dktest
Version: 1.0
Architecture: all
Maintainer: drvkit tests <t@example.org>
Description: drvkit test package
EOF
	echo doc >"$TMP/pkg/usr/share/doc/dktest/README"
	cp "$WWW/src.tar.xz" "$TMP/pkg/usr/src/dktest-src.tar.xz"
	dpkg-deb -Zxz --build "$TMP/pkg" "$WWW/dktest.deb" >/dev/null

	# hostile: a '../' entry first, then 16 MB, so that the download is still running
	# when the extractor refuses the archive
	python3 - "$WWW/evil.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    for name, size in (("fine-before", 1), ("../dk-evil-dotdot", 1), ("padding", 16 << 20)):
        i = tarfile.TarInfo(name)
        i.size = size
        t.addfile(i, io.BytesIO(b"x" * size))
EOF
}
tcase "fixture: a tree, a tar.xz and a .deb of it, a hostile tar" case_fixture

sha() { sha256sum "$1" | cut -d' ' -f1; }
S_TAR=$(sha "$WWW/src.tar.xz")
S_DEB=$(sha "$WWW/dktest.deb")
S_EVIL=$(sha "$WWW/evil.tar")
ZERO=$(printf '%064d' 0)

FAST=(--retry-delay-ms 10)
same_tree() { diff -r "$SRC" "$1" >/dev/null && [ "$(readlink "$1/sub/link-to-hello")" = ../hello.txt ]; }

# --- tar.xz
case_tarxz() {
	start_file_server "$WWW"
	run "$DRVKIT" extract "$U/ok/src.tar.xz" --sha256 "$S_TAR" -C "$TMP/o1"
	is "$rc" 0 "tar.xz over http: exit 0"
	same_tree "$TMP/o1" &&
		ok 0 "tar.xz: tree identical" || ok 1 "tar.xz: tree identical"
	[ -z "$(find "$TMP/o1" -name '.drvkit-*')" ] &&
		ok 0 "no staging directory left" || ok 1 "no staging directory left"
}
tcase "tar.xz" case_tarxz

# --- .deb with a nested tar.xz, one pass
case_deb() {
	start_file_server "$WWW"
	run "$DRVKIT" extract "$U/ok/dktest.deb" --sha256 "$S_DEB" -C "$TMP/o2" \
		--nested-member usr/src/dktest-src.tar.xz
	is "$rc" 0 ".deb -> nested tar.xz over http: exit 0"
	same_tree "$TMP/o2" &&
		ok 0 ".deb -> nested tar.xz: tree identical, the .deb and the inner tarball never stored" || ok 1 ".deb -> nested tar.xz: tree identical, the .deb and the inner tarball never stored"
	run "$DRVKIT" extract "$U/ok/dktest.deb" --sha256 "$S_DEB" -C "$TMP/o3" \
		--nested-member 'usr/src/*.tar.xz' --member 'sub/deeper'
	[ "$rc" -eq 0 ] && [ -f "$TMP/o3/sub/deeper/numbers.txt" ] && [ ! -e "$TMP/o3/hello.txt" ] &&
		ok 0 "--nested-member with --member selecting inside the inner archive" || ok 1 "--nested-member with --member selecting inside the inner archive"
}
tcase ".deb with a nested tar.xz" case_deb

# --- wrong checksum: the archive is fine, the digest is not
case_checksum() {
	start_file_server "$WWW"
	mkdir "$TMP/o4"
	run "$DRVKIT" extract "$U/ok/src.tar.xz" --sha256 "$ZERO" -C "$TMP/o4"
	is "$rc" 3 "wrong checksum: exit 3"
	like "$TMP/err" "$U/ok/src.tar.xz: checksum mismatch: expected sha256 $ZERO, got $S_TAR" \
		"message names the URL and both digests"
	[ -z "$(ls -A "$TMP/o4")" ] &&
		ok 0 "wrong checksum: DIR left empty (not even a partial tree)" || ok 1 "wrong checksum: DIR left empty (not even a partial tree)"
	run "$DRVKIT" extract "$U/ok/dktest.deb" --sha256 "$ZERO" -C "$TMP/o4b" \
		--nested-member usr/src/dktest-src.tar.xz
	[ "$rc" -eq 3 ] && [ ! -e "$TMP/o4b" ] &&
		ok 0 "wrong checksum, nested: DIR (created by drvkit) removed" || ok 1 "wrong checksum, nested: DIR (created by drvkit) removed"
	run "$DRVKIT" extract "$U/wrong/src.tar.xz" --sha256 "$S_TAR" -C "$TMP/o4c" "${FAST[@]}"
	[ "$rc" -eq 3 ] && [ ! -e "$TMP/o4c" ] &&
		ok 0 "corrupted body: exit 3, nothing written" || ok 1 "corrupted body: exit 3, nothing written"
}
tcase "wrong checksum" case_checksum

# --- a connection cut mid-body, resumed with Range
case_cut() {
	start_file_server "$WWW"
	run "$DRVKIT" extract "$U/cut/dktest.deb" --sha256 "$S_DEB" -C "$TMP/o5" \
		--nested-member usr/src/dktest-src.tar.xz "${FAST[@]}"
	is "$rc" 0 "cut mid-body: exit 0"
	same_tree "$TMP/o5" &&
		ok 0 "cut mid-body: resumed, tree identical" || ok 1 "cut mid-body: resumed, tree identical"
	grep -q '"path": "/cut/dktest.deb", "range": "bytes=[1-9]' "$SERVER_LOG" &&
		ok 0 "the second request resumed with Range" || ok 1 "the second request resumed with Range"
}
tcase "a connection cut mid-body" case_cut

# --- 404
case_404() {
	start_file_server "$WWW"
	run "$DRVKIT" extract "$U/404/src.tar.xz" --sha256 "$S_TAR" -C "$TMP/o6"
	is "$rc" 4 "404: exit 4"
	like "$TMP/err" "HTTP 404" "404: message says so"
	[ ! -e "$TMP/o6" ] &&
		ok 0 "404: nothing written" || ok 1 "404: nothing written"
}
tcase "404" case_404

# --- hostile archive: refused, download stopped, nothing written
case_hostile() {
	start_file_server "$WWW"
	mkdir -p "$TMP/cache"
	run "$DRVKIT" extract "$U/ok/evil.tar" --sha256 "$S_EVIL" -C "$TMP/o7" --cache-dir "$TMP/cache"
	is "$rc" 3 "'../' entry: exit 3"
	like "$TMP/err" "'\.\.' component" "message names the reason"
	[ ! -e "$TMP/o7" ] && [ ! -e "$TMP/dk-evil-dotdot" ] &&
		ok 0 "'../' entry: nothing written, inside or outside DIR" || ok 1 "'../' entry: nothing written, inside or outside DIR"
	[ ! -e "$TMP/cache/sha256/$S_EVIL" ] &&
		ok 0 "the download was stopped (no complete copy reached the cache)" || ok 1 "the download was stopped (no complete copy reached the cache)"
	# the same URL, complete, does reach the cache: the check above means something
	run "$DRVKIT" extract "$U/ok/src.tar.xz" --sha256 "$S_TAR" -C "$TMP/o8" --cache-dir "$TMP/cache"
	[ "$rc" -eq 0 ] && [ -f "$TMP/cache/sha256/$S_TAR" ] &&
		ok 0 "a complete streaming download is cached" || ok 1 "a complete streaming download is cached"
	kill "$SPID" || true
	wait "$SPID" 2>/dev/null || true
	run "$DRVKIT" extract "$U/ok/src.tar.xz" --sha256 "$S_TAR" -C "$TMP/o9" --cache-dir "$TMP/cache"
	[ "$rc" -eq 0 ] && same_tree "$TMP/o9" &&
		ok 0 "second run served from the cache (server stopped)" || ok 1 "second run served from the cache (server stopped)"
}
tcase "hostile archive, the cache" case_hostile

# --- usage
case_usage() {
	start_file_server "$WWW"
	run "$DRVKIT" extract "$U/ok/src.tar.xz" -C "$TMP/o10"
	is "$rc" 2 "a URL without --sha256: usage error"
	run "$DRVKIT" extract "$U/ok/src.tar.xz" --sha256 nothex -C "$TMP/o10"
	is "$rc" 2 "bad --sha256: usage error"
	# a local file with --sha256 is verified too
	run "$DRVKIT" extract "$WWW/src.tar.xz" --sha256 "$ZERO" -C "$TMP/o11"
	[ "$rc" -eq 3 ] && [ ! -e "$TMP/o11" ] &&
		ok 0 "local file with a wrong --sha256: exit 3, nothing written" || ok 1 "local file with a wrong --sha256: exit 3, nothing written"
}
tcase "usage, a local file with --sha256" case_usage

done_testing
