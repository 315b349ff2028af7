#!/bin/bash
# scripts/build-images over a hand-written tags file (the `drvkit matrix --format tags`
# contract) with a stub buildah on PATH that records each call's argv (one argument per
# line) and answers `inspect` for the refs in STUB_PRESENT: argv arrays (a build arg with
# spaces stays one argument), skipping present images, --only, --dry-run, the refused
# rhcos line without its Driver Toolkit image, a failing build and exit codes.
. "$(dirname "$0")/../lib.sh"
BI=$DK_SRCDIR/scripts/build-images

TAB=$'\t'
write_tags() { # the fixture: a build and a precompiled line, plus what the case adds
	{
		echo "reg/nv:550.1-debian12${TAB}build${TAB}amd64${TAB}dockerfiles/debian.Dockerfile${TAB}BASE_IMAGE=debian:12${TAB}DRIVER_NAME=nv${TAB}DRVKIT_CONFIG="
		echo "reg/nv:550-6.1.0-56-amd64-debian12${TAB}precompiled${TAB}amd64${TAB}dockerfiles/precompiled.Dockerfile${TAB}BUILD_IMAGE=reg/nv:550.1-debian12${TAB}KERNEL=6.1.0-56-amd64${TAB}HEADERS=http://x/a.deb#sha256=aa http://x/b.deb#sha256=bb${TAB}HEADERS_FROM=packages"
	} >"$TMP/tags"
}
stub() { # a buildah on PATH
	mkdir -p "$TMP/bin"
	cat >"$TMP/bin/buildah" <<'EOS'
#!/bin/bash
# stub: --storage-driver X, then the verb
[ "$1" = --storage-driver ] && shift 2
case "$1" in
inspect) for r in $STUB_PRESENT; do [ "$r" = "${!#}" ] && exit 0; done; exit 125 ;;
bud)
	n=$(ls "$STUB_DIR" | wc -l)
	printf '%s\n' "$@" >"$STUB_DIR/call-$n"
	for r in $STUB_FAIL; do [[ " $* " == *" -t $r "* ]] && exit 1; done
	exit 0 ;;
esac
exit 0
EOS
	chmod +x "$TMP/bin/buildah"
	mkdir -p "$TMP/calls"
	export PATH="$TMP/bin:$PATH" STUB_DIR=$TMP/calls STUB_PRESENT= STUB_FAIL=
}

case_builds() {
	write_tags
	stub
	run "$BI" --tags-file "$TMP/tags"
	is "$rc" 0 "both built: exit 0"
	is "$(ls "$TMP/calls" | wc -l)" 2 "two buildah bud calls"
	is "$(sed -n '1,5p' "$TMP/calls/call-0" | tr '\n' ' ')" "bud --isolation chroot --arch amd64 " \
		"bud with chroot isolation and the line's arch"
	check "vfs storage" grep -q -- "--storage-driver vfs bud" "$TMP/err"
	check "the HEADERS build arg with its spaces is one argument" \
		grep -qx 'HEADERS=http://x/a.deb#sha256=aa http://x/b.deb#sha256=bb' "$TMP/calls/call-1"
	check "an empty build arg is passed (DRVKIT_CONFIG=)" grep -qx 'DRVKIT_CONFIG=' "$TMP/calls/call-0"
	is "$(tail -n 5 "$TMP/calls/call-1" | tr '\n' ' ')" \
		"-f $DK_SRCDIR/dockerfiles/precompiled.Dockerfile -t reg/nv:550-6.1.0-56-amd64-debian12 $DK_SRCDIR " \
		"-f DOCKERFILE -t REF CONTEXT (the repository root)"
	like "$TMP/err" "2 built, 0 present, 0 failed, 0 refused" "summary"
}
case_present_only() {
	write_tags
	stub
	STUB_PRESENT=reg/nv:550.1-debian12 run "$BI" --tags-file "$TMP/tags"
	is "$rc" 0 "exit 0"
	like "$TMP/err" "reg/nv:550.1-debian12: present, skipped" "a present image is skipped"
	is "$(ls "$TMP/calls" | wc -l)" 1 "only the missing one is built"
	rm -f "$TMP/calls"/*
	run "$BI" --tags-file "$TMP/tags" --only build
	is "$(ls "$TMP/calls" | wc -l)" 1 "--only build: one call"
	check "--only build: the build image" grep -qx 'reg/nv:550.1-debian12' "$TMP/calls/call-0"
}
case_dry_run() {
	write_tags
	stub
	run "$BI" --tags-file "$TMP/tags" --dry-run -v /c:/var/cache/apt/archives
	is "$rc" 0 "exit 0"
	is "$(ls "$TMP/calls" | wc -l)" 0 "nothing built"
	is "$(wc -l <"$TMP/out")" 2 "one command line per image"
	like "$TMP/out" '^buildah --storage-driver vfs bud --isolation chroot --arch amd64 .*HEADERS=http://x/a.deb#sha256=aa\\ http://x/b.deb#sha256=bb .*-v /c:/var/cache/apt/archives -f ' \
		"printed quoted for a shell, with the volume"
}
case_refused_and_failed() {
	write_tags
	echo "reg/nv:550.1-rhcos4.16${TAB}build${TAB}amd64${TAB}dockerfiles/openshift.Dockerfile${TAB}BASE_IMAGE=${TAB}DTK_IMAGE=" >>"$TMP/tags"
	echo "garbage line" >>"$TMP/tags"
	stub
	STUB_FAIL=reg/nv:550.1-debian12 run "$BI" --tags-file "$TMP/tags"
	is "$rc" 2 "a refused line: exit 2"
	like "$TMP/err" "reg/nv:550.1-rhcos4.16: DTK_IMAGE is empty" "the rhcos line without its DTK is refused"
	like "$TMP/err" "Fill it in the matrix" "and says what to fill"
	like "$TMP/err" "line 4: expected REF KIND ARCH DOCKERFILE" "a malformed line is named by number"
	like "$TMP/err" "reg/nv:550.1-debian12: build failed" "a failing build is named"
	is "$(ls "$TMP/calls" | wc -l)" 2 "the other lines still ran"
	sed -i '3,4d' "$TMP/tags"
	STUB_FAIL=reg/nv:550.1-debian12 run "$BI" --tags-file "$TMP/tags"
	is "$rc" 1 "a failed build alone: exit 1"
}
case_usage() {
	run "$BI" --only nothing
	is "$rc" 2 "--only with a bad kind: exit 2"
	like "$TMP/err" "expected build or precompiled" "says what is expected"
	run "$BI" --tags-file "$TMP/none"
	is "$rc" 2 "a missing tags file: exit 2"
}

tcase builds case_builds
tcase present-only case_present_only
tcase dry-run case_dry_run
tcase refused-and-failed case_refused_and_failed
tcase usage case_usage
done_testing
