#!/bin/bash
# drvkit extract: real archives built here (tar, zip, .deb, .rpm, nested) and hostile
# ones crafted with python's tarfile/zipfile. Every refusal must exit 3, write nothing
# outside DIR (a canary directory is checked) and leave no partial tree in DIR.
. "$(dirname "$0")/../lib.sh"

# The fixture, read by every case: the reference tree $SRC, archives of it and hostile
# archives in $A, the canary directory hostile archives aim at.
A=$FIX/arch
SRC=$FIX/src
CANARY=$FIX/canary
EVIL=/tmp/dk-evil-$$
canary_state() { (cd "$CANARY" && find . -printf '%p %s %y\n' | sort); }
cleanup_evil() { rm -rf "$EVIL" /tmp/dk-evil-abs-$$; }
atexit cleanup_evil

case_fixture() {
	TMP=$FIX
	mkdir -p "$A" "$SRC/sub/deeper" "$CANARY"
	echo canary >"$CANARY/keep"
	# --- the reference tree
	echo hello >"$SRC/hello.txt"
	head -c 200000 /dev/urandom >"$SRC/sub/random.bin"
	printf '#!/bin/sh\necho hi\n' >"$SRC/sub/run.sh"
	chmod 755 "$SRC/sub/run.sh"
	echo deep >"$SRC/sub/deeper/file"
	ln -s ../hello.txt "$SRC/sub/link-to-hello"
	ln "$SRC/hello.txt" "$SRC/sub/hardlink"
	# --- plain formats
	tar -C "$SRC" -czf "$A/t.tar.gz" .
	tar -C "$SRC" -cJf "$A/t.tar.xz" .
	tar -C "$SRC" -cjf "$A/t.tar.bz2" .
	if command -v zstd >/dev/null; then
		tar -C "$SRC" -cf - . | zstd -q -o "$A/t.tar.zst"
	fi
	(cd "$SRC" && python3 - "$A/t.zip" <<'EOF'
import os, stat, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk("."):
        for d in dirs:
            z.write(os.path.join(root, d))
        for f in files:
            p = os.path.join(root, f)
            if os.path.islink(p):
                i = zipfile.ZipInfo(p[2:])
                i.create_system = 3
                i.external_attr = (stat.S_IFLNK | 0o777) << 16
                z.writestr(i, os.readlink(p))
            else:
                z.write(p)
EOF
	)
	# --- .deb with a nested tar.xz
	mkdir -p "$TMP/pkg/DEBIAN" "$TMP/pkg/usr/share/dktest" "$TMP/pkg/usr/src"
	cat >"$TMP/pkg/DEBIAN/control" <<EOF
Package: dktest
Version: 1.0
Architecture: all
Maintainer: drvkit tests <t@example.org>
Description: drvkit test package
EOF
	cp -a "$SRC/." "$TMP/pkg/usr/share/dktest/"
	tar -C "$SRC" -cJf "$TMP/pkg/usr/src/dktest-src.tar.xz" .
	dpkg-deb -Zxz --build "$TMP/pkg" "$A/dktest.deb" >/dev/null
	# --- hostile archives
	python3 - "$A" "$EVIL" "$CANARY" <<'EOF'
import io, sys, tarfile, zipfile
A, EVIL, CANARY = sys.argv[1:4]

def tar(name, entries):
    with tarfile.open(f"{A}/{name}.tar", "w", format=tarfile.GNU_FORMAT) as t:
        for e in entries:
            kind, path = e[0], e[1]
            i = tarfile.TarInfo(path)
            i.mode = 0o644
            data = None
            if kind == "file":
                data = e[2] if len(e) > 2 else b"x"
                i.size = len(data)
            elif kind == "dir":
                i.type, i.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                i.type, i.linkname = tarfile.SYMTYPE, e[2]
            elif kind == "hard":
                i.type, i.linkname = tarfile.LNKTYPE, e[2]
            elif kind == "chr":
                i.type, i.devmajor, i.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "fifo":
                i.type = tarfile.FIFOTYPE
            t.addfile(i, io.BytesIO(data) if data is not None else None)

ok = [("file", "fine-before")]
tar("dotdot", ok + [("file", "../dk-evil-dotdot")])
tar("dotdot-inner", ok + [("file", "a/../../dk-evil-dotdot")])
tar("absolute", ok + [("file", EVIL + "/abs")])
tar("symlink-abs-dir", ok + [("sym", "link", CANARY), ("file", "link/passwd", b"pwned")])
tar("symlink-rel-dir", ok + [("sym", "link", "../canary"), ("file", "link/passwd", b"pwned")])
tar("symlink-escape", ok + [("sym", "a", "../../..")])
tar("symlink-chain", ok + [("dir", "d1"), ("dir", "d1/d2"), ("sym", "d1/d2/s", "../.."),
                           ("sym", "d1/d2/t", "s/../..")])
tar("symlink-then-file", ok + [("dir", "d"), ("sym", "d/l", "."), ("sym", "x", "d"),
                               ("file", "x/evil", b"through a link")])
tar("hardlink-abs", ok + [("hard", "pw", "/etc/passwd")])
tar("hardlink-dotdot", ok + [("hard", "pw", "../canary/keep")])
tar("hardlink-to-symlink", ok + [("sym", "s", "fine-before"), ("hard", "h", "s")])
tar("hardlink-later", ok + [("hard", "h", "later"), ("file", "later")])
tar("device", ok + [("chr", "null")])
tar("fifo", ok + [("fifo", "pipe")])
tar("many", [("file", f"f{i}") for i in range(200)])
tar("big", ok + [("file", "big", b"\0" * (3 << 20))])
with zipfile.ZipFile(f"{A}/bomb.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr("small", b"fine")
    z.writestr("bomb", b"\0" * (64 << 20))
with open(f"{A}/garbage.tar.gz", "wb") as f:
    f.write(b"this is not an archive at all\n" * 100)
EOF
	# zip bomb on disk: 64 MiB of zeros in ~64 KiB
	diag "bomb.zip is $(stat -c %s "$A/bomb.zip") bytes"
}
tcase "fixture: reference tree and archives" case_fixture
CANARY0=$(canary_state)

# tree_equal DIR: same files, contents, links and modes as $SRC
tree_equal() {
	diff -r --no-dereference "$SRC" "$1" >"$TMP/diff" 2>&1 &&
		[ "$(stat -c %a "$1/sub/run.sh")" = 755 ] &&
		[ "$(readlink "$1/sub/link-to-hello")" = ../hello.txt ] &&
		[ "$(stat -c %i "$1/hello.txt")" = "$(stat -c %i "$1/sub/hardlink")" ]
}

# extract_ok NAME ARCHIVE [ARGS...]: extracts into a fresh dir and compares
extract_ok() {
	local name=$1 arch=$2
	shift 2
	rm -rf "$TMP/o"
	run "$DRVKIT" extract "$arch" -C "$TMP/o" "$@"
	if [ "$rc" -eq 0 ] && tree_equal "$TMP/o"; then
		ok 0 "$name: extracted, identical tree"
	else
		ok 1 "$name: extracted, identical tree"
		diag "rc=$rc"
		sed 's/^/#   /' "$TMP/err" "$TMP/diff" 2>/dev/null | head -20
	fi
}

# --- plain formats
tcase tar.gz extract_ok tar.gz "$A/t.tar.gz"
tcase tar.xz extract_ok tar.xz "$A/t.tar.xz"
tcase tar.bz2 extract_ok tar.bz2 "$A/t.tar.bz2"
case_zst() {
	if command -v zstd >/dev/null; then
		extract_ok tar.zst "$A/t.tar.zst"
	else
		skip "tar.zst: no zstd command to make one (apt-get install zstd)"
	fi
}
tcase "tar.zst" case_zst
# zip has no hardlinks: compare what it has
case_zip() {
	rm -rf "$TMP/o"
	run "$DRVKIT" extract "$A/t.zip" -C "$TMP/o"
	is "$rc" 0 "zip: exit 0"
	cmp -s "$SRC/sub/random.bin" "$TMP/o/sub/random.bin" && [ "$(readlink "$TMP/o/sub/link-to-hello")" = ../hello.txt ] &&
		[ "$(stat -c %a "$TMP/o/sub/run.sh")" = 755 ] &&
			ok 0 "zip: contents, symlink and mode" || ok 1 "zip: contents, symlink and mode"
}
tcase "zip" case_zip

case_stdin() {
	cat "$A/t.tar.gz" | "$DRVKIT" extract - -C "$TMP/stdin" >/dev/null 2>"$TMP/err" && tree_equal "$TMP/stdin" &&
		ok 0 "tar.gz from stdin (streaming API)" || ok 1 "tar.gz from stdin (streaming API)"
}
tcase "tar.gz from stdin" case_stdin

case_member() {
	rm -rf "$TMP/o"
	run "$DRVKIT" extract "$A/t.tar.gz" -C "$TMP/o" --strip 1 --member 'sub/d*' --member 'sub/run.sh'
	[ "$rc" -eq 0 ] && [ -f "$TMP/o/deeper/file" ] && [ -x "$TMP/o/run.sh" ] && [ ! -e "$TMP/o/hello.txt" ] &&
		ok 0 "--member GLOB --strip 1" || ok 1 "--member GLOB --strip 1"
	run "$DRVKIT" extract "$A/t.tar.gz" -C "$TMP/nomatch" --member 'nothing*'
	is "$rc" 4 "--member matching nothing: exit 4"
	[ ! -e "$TMP/nomatch" ] &&
		ok 0 "--member matching nothing: DIR not left behind" || ok 1 "--member matching nothing: DIR not left behind"
}
tcase "--member, --strip" case_member

# extracting into an existing tree merges and replaces files
case_merge() {
	mkdir -p "$TMP/merge/sub"
	echo old >"$TMP/merge/hello.txt"
	echo mine >"$TMP/merge/sub/mine"
	run "$DRVKIT" extract "$A/t.tar.gz" -C "$TMP/merge"
	[ "$rc" -eq 0 ] && [ "$(cat "$TMP/merge/hello.txt")" = hello ] && [ -f "$TMP/merge/sub/mine" ] &&
		[ -f "$TMP/merge/sub/deeper/file" ] && [ -z "$(ls -d "$TMP"/merge/.drvkit-extract-* 2>/dev/null)" ] &&
			ok 0 "extract into an existing directory merges, no staging dir left" || ok 1 "extract into an existing directory merges, no staging dir left"
}
tcase "into an existing directory" case_merge

# --- .deb, nested .deb, .rpm
case_deb() {
	rm -rf "$TMP/o"
	run "$DRVKIT" extract "$A/dktest.deb" -C "$TMP/o" --strip 2 --member 'usr/share/dktest'
	[ "$rc" -eq 0 ] && tree_equal "$TMP/o/dktest" &&
		ok 0 ".deb (dpkg-deb --build): data.tar streamed, tree identical" || ok 1 ".deb (dpkg-deb --build): data.tar streamed, tree identical"
	rm -rf "$TMP/o"
	run "$DRVKIT" extract "$A/dktest.deb" -C "$TMP/o" --member 'usr/src/dktest-src.tar.xz' --nested
	[ "$rc" -eq 0 ] && tree_equal "$TMP/o" && [ -z "$(find "$TMP/o" -name '*.tar.xz')" ] &&
		ok 0 "nested .deb -> tar.xz in one pass, the inner .tar.xz never written" || ok 1 "nested .deb -> tar.xz in one pass, the inner .tar.xz never written"
	rm -rf "$TMP/o"
	run "$DRVKIT" extract "$A/dktest.deb" -C "$TMP/o" --member 'usr/src/*.tar.xz' --nested --inner-member 'sub/deeper'
	[ "$rc" -eq 0 ] && [ -f "$TMP/o/sub/deeper/file" ] && [ ! -e "$TMP/o/hello.txt" ] &&
		ok 0 "nested with --inner-member" || ok 1 "nested with --inner-member"
}
tcase ".deb and nested" case_deb

case_rpm() {
	if command -v rpmbuild >/dev/null; then
		mkdir -p "$TMP/rpm/SPECS"
		cat >"$TMP/rpm/SPECS/dktest.spec" <<EOF
Name: dktest
Version: 1.0
Release: 1
Summary: drvkit test
License: MIT
BuildArch: noarch
%description
test
%install
mkdir -p %{buildroot}/usr/share/dktest
cp -a $SRC/. %{buildroot}/usr/share/dktest/
%files
/usr/share/dktest
EOF
		if rpmbuild --quiet -bb --define "_topdir $TMP/rpm" --define '__os_install_post %{nil}' \
			--define '_build_id_links none' "$TMP/rpm/SPECS/dktest.spec" >"$TMP/rpmbuild.log" 2>&1; then
			rm -rf "$TMP/o"
			run "$DRVKIT" extract "$(ls "$TMP"/rpm/RPMS/noarch/*.rpm)" -C "$TMP/o" --strip 2
			[ "$rc" -eq 0 ] && tree_equal "$TMP/o/dktest" &&
				ok 0 ".rpm (rpmbuild): cpio payload extracted, tree identical" || ok 1 ".rpm (rpmbuild): cpio payload extracted, tree identical"
		else
			ok 1 ".rpm: rpmbuild failed"
			sed 's/^/#   /' "$TMP/rpmbuild.log" | tail -5
		fi
	else
		skip ".rpm: rpmbuild not installed (apt-get install rpm)"
	fi
}
tcase ".rpm" case_rpm


# refused NAME ARCHIVE REGEX [ARGS...]: exit 3, message names the archive, nothing
# outside DIR, DIR (pre-existing, one file in it) holds nothing new
refused() {
	local name=$1 arch=$2 re=$3
	shift 3
	rm -rf "$TMP/dest" "$TMP/dk-evil-dotdot"
	mkdir -p "$TMP/dest"
	echo mine >"$TMP/dest/pre-existing"
	run "$DRVKIT" extract "$arch" -C "$TMP/dest" "$@"
	is "$rc" 3 "$name: refused with exit 3"
	like "$TMP/err" "$re" "$name: message says why"
	[ "$(canary_state)" = "$CANARY0" ] && [ ! -e "$EVIL" ] && [ ! -e "$TMP/dk-evil-dotdot" ] &&
		[ ! -e /tmp/dk-evil-dotdot ] &&
			ok 0 "$name: nothing written outside DIR" || ok 1 "$name: nothing written outside DIR"
	[ "$(ls -A "$TMP/dest")" = pre-existing ] &&
		ok 0 "$name: no partial tree left in DIR" || ok 1 "$name: no partial tree left in DIR"
}
tcase "'..' entry" refused "'..' entry" "$A/dotdot.tar" "dotdot.tar: \.\./dk-evil-dotdot: path contains a '\.\.' component"
tcase "'a/../..' entry" refused "'a/../..' entry" "$A/dotdot-inner.tar" "'\.\.' component"
tcase "absolute entry" refused "absolute entry" "$A/absolute.tar" "absolute.tar: $EVIL/abs: absolute path"
tcase "symlink to an absolute dir" refused "symlink to an absolute dir" "$A/symlink-abs-dir.tar" "symlink to absolute path"
tcase "symlink (rewritten) then file through it" refused "symlink (rewritten) then file through it" "$A/symlink-abs-dir.tar" \
	"link/passwd: leading component 'link' is a symlink" --rewrite-absolute-symlinks
tcase "relative symlink dir, then file through it" refused "relative symlink dir, then file through it" "$A/symlink-rel-dir.tar" "points outside"
tcase "symlink a -> ../../.." refused "symlink a -> ../../.." "$A/symlink-escape.tar" "a: symlink target '\.\./\.\./\.\.' points outside"
tcase "symlink chain escaping through another link" refused "symlink chain escaping through another link" "$A/symlink-chain.tar" \
	"d1/d2/t: symlink resolves outside the extraction directory"
tcase "in-tree symlink, then a file through it" refused "in-tree symlink, then a file through it" "$A/symlink-then-file.tar" "leading component 'x' is a symlink"
tcase "hardlink to /etc/passwd" refused "hardlink to /etc/passwd" "$A/hardlink-abs.tar" "pw: hardlink target '/etc/passwd': absolute path"
tcase "hardlink to ../canary/keep" refused "hardlink to ../canary/keep" "$A/hardlink-dotdot.tar" "hardlink target"
tcase "hardlink to a symlink" refused "hardlink to a symlink" "$A/hardlink-to-symlink.tar" "not a regular file extracted earlier"
tcase "hardlink to a later entry" refused "hardlink to a later entry" "$A/hardlink-later.tar" "not a regular file extracted earlier"
tcase "character device" refused "character device" "$A/device.tar" "null: character device entries are refused"
tcase "fifo" refused "fifo" "$A/fifo.tar" "pipe: fifo entries are refused"
tcase "too many entries" refused "too many entries" "$A/many.tar" "more than 100 entries" --max-entries 100
tcase "entry over --max-size" refused "entry over --max-size" "$A/big.tar" "big: total uncompressed size exceeds the limit of 1048576" --max-size 1M
tcase "zip bomb over --max-size" refused "zip bomb over --max-size" "$A/bomb.zip" "bomb: total uncompressed size exceeds" --max-size 8M
tcase "not an archive" refused "not an archive" "$A/garbage.tar.gz" "garbage.tar.gz: "

case_bomb_ok() {
	run "$DRVKIT" extract "$A/bomb.zip" -C "$TMP/bomb-ok" --max-size 128M
	[ "$rc" -eq 0 ] && [ "$(stat -c %s "$TMP/bomb-ok/bomb")" = $((64 << 20)) ] &&
		ok 0 "the same zip under a large enough --max-size extracts" || ok 1 "the same zip under a large enough --max-size extracts"
	rm -rf "$TMP/bomb-ok"
}
tcase "a large enough --max-size" case_bomb_ok

case_usage() {
	run "$DRVKIT" extract "$A/does-not-exist.tar" -C "$TMP/x"
	is "$rc" 4 "missing archive: exit 4"
	[ ! -e "$TMP/x" ] &&
		ok 0 "missing archive: DIR not created" || ok 1 "missing archive: DIR not created"
	run "$DRVKIT" extract "$A/t.tar.gz"
	is "$rc" 0 "no -C: extracts into the current directory" # (the case's $TMP)
	rm -rf ./hello.txt ./sub
	run "$DRVKIT" extract
	is "$rc" 2 "no archive: usage error"
	run "$DRVKIT" extract "$A/t.tar.gz" --nested
	is "$rc" 2 "--nested without --member: usage error"
}
tcase "missing archive, no -C, usage" case_usage

# --- ENOSPC: a 1 MiB tmpfs
case_enospc() {
	mkdir -p "$TMP/small"
	if mount -t tmpfs -o size=1m dktest "$TMP/small" 2>"$TMP/mount.err"; then
		atexit "umount '$TMP/small' 2>/dev/null"
		run "$DRVKIT" extract "$A/big.tar" -C "$TMP/small/out"
		is "$rc" 1 "ENOSPC: exit 1"
		like "$TMP/err" "big.tar: big: write into .*: No space left on device" "ENOSPC: message names archive, entry and reason"
		[ -z "$(ls -A "$TMP/small")" ] &&
			ok 0 "ENOSPC: nothing left behind" || ok 1 "ENOSPC: nothing left behind"
		umount "$TMP/small"
	else
		skip "ENOSPC: cannot mount a tmpfs ($(cat "$TMP/mount.err"))"
		skip "ENOSPC: (2)"
		skip "ENOSPC: (3)"
	fi
}
tcase "ENOSPC" case_enospc

done_testing
