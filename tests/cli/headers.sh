#!/bin/bash
# drvkit headers: the installed Debian headers on this machine, a fixture host root
# with a broken tree, and a tree materialised from the real Debian packages
# (apt-get download, cached under the build dir) that the test modules build against.
. "$(dirname "$0")/../lib.sh"

KVER=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sed 's|.*/linux-headers-||' | sort -V | tail -n1)
if [ -z "$KVER" ]; then
	skip_all "no Debian kernel headers installed (linux-headers-amd64)"
fi
diag "kernel $KVER"

# --- installed headers on the real /
case_installed() {
	run "$DRVKIT" headers --kernel "$KVER"
	is "$rc" 0 "installed headers: exit 0"
	like "$TMP/out" "^candidate: .*/linux-headers-$KVER: usable" "lib/modules/$KVER/build is found and usable"
	like "$TMP/out" "^candidate: /usr/src/kernels/$KVER: rejected: does not exist" "the RHEL location is reported as missing"
	like "$TMP/out" "^build: /usr/src/linux-headers-$KVER$" "build: names the tree to pass as -C"
	like "$TMP/out" "^compiler: gcc-[0-9]+ " "the compiler the kernel was built with"
	like "$TMP/out" "^gcc: /.*gcc(-[0-9]+)? [0-9.]+ \((same version|same major version)\)" "a matching gcc is found and run"
	run "$DRVKIT" headers --kernel "$KVER" --json
	[ "$rc" -eq 0 ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["build"] == "/usr/src/linux-headers-" + sys.argv[2], d["build"]
assert d["candidates"][0]["where"] == "lib/modules/%s/build" % sys.argv[2]
assert d["compiler"]["gcc_version"] > 0
' "$TMP/out" "$KVER" 2>"$TMP/py.err" &&
		ok 0 "--json" || ok 1 "--json"
}
tcase "installed headers" case_installed

# --- fixture host roots
case_host_root() {
	R=$TMP/root
	mkdir -p "$R/lib/modules/$KVER" "$R/usr/src/kernels/$KVER/include/generated"
	ln -s "/usr/src/kernels/$KVER" "$R/lib/modules/$KVER/build" # absolute, as on RHEL
	echo '#define UTS_RELEASE "5.14.0-1.el9.x86_64"' >"$R/usr/src/kernels/$KVER/include/generated/utsrelease.h"
	touch "$R/usr/src/kernels/$KVER/.config" "$R/usr/src/kernels/$KVER/Module.symvers"
	run "$DRVKIT" headers --kernel "$KVER" --host-root "$R"
	is "$rc" 4 "broken tree (utsrelease mismatch): exit 4"
	like "$TMP/out" "^candidate: $R/usr/src/kernels/$KVER: rejected: UTS_RELEASE is '5.14.0-1.el9.x86_64', not '$KVER'" \
		"the absolute build link is resolved in the host root, rejected with the reason"
	like "$TMP/err" "no usable kernel headers for $KVER below $R" "error message"
	# the same tree, fixed, is accepted through the absolute link
	echo "#define UTS_RELEASE \"$KVER\"" >"$R/usr/src/kernels/$KVER/include/generated/utsrelease.h"
	rm "$R/usr/src/kernels/$KVER/Module.symvers"
	run "$DRVKIT" headers --kernel "$KVER" --host-root "$R"
	like "$TMP/out" "rejected: no Module.symvers" "missing Module.symvers is a reason"
	touch "$R/usr/src/kernels/$KVER/Module.symvers"
	run "$DRVKIT" headers --kernel "$KVER" --host-root "$R"
	[ "$rc" -eq 0 ] && grep -qx "build: $R/usr/src/kernels/$KVER" "$TMP/out" &&
		ok 0 "RHEL layout below a host root is usable" || ok 1 "RHEL layout below a host root is usable"
}
tcase "a host root with a RHEL layout" case_host_root

# --- materialise from the real Debian packages
CACHE=$DK_BUILDDIR/test-debs
mkdir -p "$CACHE"
COMMON=$(dpkg -s "linux-headers-$KVER" 2>/dev/null | sed -n 's/^Depends: //p' | tr ',' '\n' |
	sed -n 's/^ *\(linux-headers-[^ ]*-common\).*/\1/p' | head -n1)
KBUILD=$(dpkg -s "linux-headers-$KVER" 2>/dev/null | sed -n 's/^Depends: //p' | tr ',' '\n' |
	sed -n 's/^ *\(linux-kbuild-[^ ]*\).*/\1/p' | head -n1)
PKGS=("linux-headers-$KVER" "${COMMON:-linux-headers-common-unknown}" "${KBUILD:-linux-kbuild-unknown}")
diag "packages: ${PKGS[*]}"
(
	cd "$CACHE" || exit 1
	exec 9>.lock
	flock 9
	for p in "${PKGS[@]}"; do
		ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p" >"$CACHE/download.log" 2>&1 || exit 1
	done
)
debs=()
files=()
for p in "${PKGS[@]}"; do
	f=$(ls "$CACHE/${p}"_*.deb 2>/dev/null | sort -V | tail -n1)
	[ -n "$f" ] && debs+=(--package "$f") && files+=("$f")
done
if [ ${#debs[@]} -ne 6 ]; then
	skip "materialise: cannot download ${PKGS[*]} ($(tail -n1 "$CACHE/download.log" 2>/dev/null))"
	done_testing
	exit $?
fi
# serve: the same packages served over loopback HTTP (for this case), each with its digest
# in $urls
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
serve() {
	local f
	start_file_server "$CACHE"
	urls=()
	for f in "${files[@]}"; do
		urls+=(--package "$U/ok/$(basename "$f")#sha256=$(sha256sum "$f" | cut -d' ' -f1)")
	done
}

# local files (with a digest on one of them: checked too)
case_local() {
	run "$DRVKIT" headers --kernel "$KVER" "${debs[@]:0:4}" \
		--package "${files[2]}#sha256=$(sha256sum "${files[2]}" | cut -d' ' -f1)" -o "$TMP/hl"
	is "$rc" 0 "materialise from 3 local .debs: exit 0"
	rm -rf "$TMP/hl"
}
tcase "materialise from local .debs" case_local

case_http() {
	serve
	H=$TMP/h
	mkdir -p "$TMP/dl"
	run env TMPDIR="$TMP/dl" "$DRVKIT" headers --kernel "$KVER" "${urls[@]}" -o "$H" --cache-dir "$TMP/cache"
	is "$rc" 0 "materialise from 3 .debs over http: exit 0"
	is "$(grep -c '"method": "GET"' "$SERVER_LOG")" 3 "each package downloaded once"
	n=$(ls "$TMP/cache/sha256" 2>/dev/null | wc -l)
	is "$n" 3 "verified downloads kept in --cache-dir"
	is "$(ls -A "$TMP/dl")" "" "the downloads were removed after unpacking"
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$TMP/err"
	like "$TMP/out" "^build: $H/usr/src/linux-headers-$KVER$" "build: points inside -o DIR"
	grep -q "UTS_RELEASE \"$KVER\"" "$H/usr/src/linux-headers-$KVER/include/generated/utsrelease.h" &&
		ok 0 "utsrelease.h matches $KVER" || ok 1 "utsrelease.h matches $KVER"
	# no symlink inside may point outside H (absolute ones were rewritten)
	abs=$(find "$H" -type l -lname '/*' | head -n3)
	is "$abs" "" "no absolute symlinks left"
	out=$(find "$H" -type l | while read -r l; do
		t=$(realpath -m "$l")
		case "$t" in "$H"/*) ;; *) echo "$l -> $t" ;; esac
	done | head -n3)
	is "$out" "" "every symlink resolves inside the tree"
	is "$(readlink "$H/lib/modules/$KVER/build")" "../../../usr/src/linux-headers-$KVER" "lib/modules/KVER/build rewritten relative"
	unlike "$H/usr/src/linux-headers-$KVER/Makefile" "include /usr" "the arch Makefile no longer includes the host's common tree"
	[ -e "$H/usr/src/linux-headers-$KVER/scripts/basic/fixdep" ] || [ -e "$H/usr/src/linux-headers-$KVER/scripts/mod/modpost" ] &&
		ok 0 "scripts (from linux-kbuild) reachable through the tree's links" || ok 1 "scripts (from linux-kbuild) reachable through the tree's links"

	# build the test modules against THAT tree (downloaded over http), with the host's copies hidden from it:
	# every path kbuild uses must come from $H
	M=$TMP/mods
	mkdir -p "$M"
	cp "$DK_SRCDIR"/tests/modules/Kbuild "$DK_SRCDIR"/tests/modules/*.c "$M"/
	if make -s -C "$H/usr/src/linux-headers-$KVER" M="$M" modules >"$TMP/build.log" 2>&1; then
		ok 0 "test modules build against the materialised tree"
		vm=$(modinfo -F vermagic "$M/dktest_params.ko")
		case "$vm" in "$KVER "*) ok 0 "vermagic '$vm' starts with $KVER" ;; *)
			ok 1 "vermagic starts with $KVER"
			diag "vermagic: $vm"
			;;
		esac
		grep -qs "$H/usr/src/linux-headers-" "$M"/.dktest_params.o.cmd &&
			! grep -qsE '(^|[ :=])/usr/(src/linux-headers|lib/linux-kbuild)' "$M"/.*.cmd &&
				ok 0 "the build used the materialised headers, not the host's" || ok 1 "the build used the materialised headers, not the host's"
	else
		ok 1 "test modules build against the materialised tree"
		sed 's/^/#   /' "$TMP/build.log" | tail -20
		skip "vermagic (no module)"
		skip "host headers not used (no module)"
	fi
}
tcase "materialise over http, build the test modules against it" case_http

# the same packages for another kernel release: rejected with the reason
case_other_kernel() {
	run "$DRVKIT" headers --kernel 9.9.9-bogus "${debs[@]}" -o "$TMP/h2"
	is "$rc" 3 "packages for another kernel: exit 3"
	like "$TMP/err" "hold no usable headers for 9.9.9-bogus" "message says so"
}
tcase "packages for another kernel" case_other_kernel

case_url_errors() {
	serve
	run "$DRVKIT" headers --kernel "$KVER" --package "$U/ok/$(basename "${files[0]}")" -o "$TMP/h3"
	is "$rc" 2 "http URL without #sha256=: usage error"
	like "$TMP/err" "URL#sha256=HEX" "message says how to give the digest"
	run "$DRVKIT" headers --kernel "$KVER" "${urls[@]:0:2}" --package "$U/404/x.deb#sha256=$(printf '%064d' 0)" -o "$TMP/h3"
	is "$rc" 4 "one package 404: exit 4"
	[ ! -e "$TMP/h3" ] &&
		ok 0 "nothing left behind" || ok 1 "nothing left behind"
	run "$DRVKIT" headers --kernel "$KVER" "${urls[@]:0:4}" --package "$U/ok/$(basename "${files[2]}")#sha256=$(printf '%064d' 0)" -o "$TMP/h3"
	is "$rc" 3 "wrong digest: exit 3"
	like "$TMP/err" "checksum mismatch: expected sha256 0{64}, got [0-9a-f]{64}" "message names both digests"
	[ ! -e "$TMP/h3" ] &&
		ok 0 "nothing left behind" || ok 1 "nothing left behind"
}
tcase "URL without digest, 404, wrong digest" case_url_errors

case_usage() {
	run "$DRVKIT" headers --kernel "$KVER" --package "$CACHE/nonexistent.deb" -o "$TMP/h4"
	is "$rc" 4 "missing package file: exit 4"
	run "$DRVKIT" headers --kernel "$KVER" -o "$TMP/h5"
	is "$rc" 2 "-o without --package: usage"
}
tcase "missing package file, usage" case_usage

done_testing
