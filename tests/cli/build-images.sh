#!/bin/bash
# scripts/build-images over a hand-written tags file (the `drvkit matrix --format tags`
# contract) with a stub buildah on PATH that records each call's argv (one argument per
# line) and answers `inspect` for the refs in STUB_PRESENT: argv arrays (a build arg with
# spaces stays one argument), skipping present images, --only, --dry-run, the refused
# rhcos line without its Driver Toolkit image, a failing build and exit codes; a REF with
# two arches (STUB_LISTS / STUB_REMOTE: `manifest inspect` of a local / docker:// list,
# "REF=arch,arch ...") built into a manifest list per arch, skipped per arch, pushed once.
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
pull) exit 125 ;;
manifest)
	if [ "$2" = inspect ]; then
		name=$3 lists=$STUB_LISTS
		[[ $name == docker://* ]] && name=${name#docker://} lists=$STUB_REMOTE
		for l in $lists; do
			[ "${l%%=*}" = "$name" ] || continue
			echo '{ "manifests": ['
			IFS=, read -r -a as <<<"${l#*=}"
			for a in "${as[@]}"; do printf '  { "platform": { "architecture": "%s", "os": "linux" } },\n' "$a"; done
			echo '] }'
			exit 0
		done
		exit 125
	fi
	n=$(ls "$STUB_DIR" | wc -l)
	printf '%s\n' "$@" >"$STUB_DIR/call-$n"
	exit 0 ;;
push | bud)
	n=$(ls "$STUB_DIR" | wc -l)
	printf '%s\n' "$@" >"$STUB_DIR/call-$n"
	# what the build context (the last argument) holds, while it exists
	[ "$1" = bud ] && (cd "${!#}" && ls -A) >"$STUB_DIR.ctx-$n"
	for r in $STUB_FAIL; do [[ " $* " == *" -t $r "* ]] && exit 1; done
	exit 0 ;;
esac
exit 0
EOS
	chmod +x "$TMP/bin/buildah"
	mkdir -p "$TMP/calls"
	export PATH="$TMP/bin:$PATH" STUB_DIR=$TMP/calls STUB_PRESENT= STUB_FAIL= STUB_LISTS= STUB_REMOTE=
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
	ctx=$(tail -n 1 "$TMP/calls/call-1")
	is "$(tail -n 5 "$TMP/calls/call-1" | tr '\n' ' ')" \
		"-f $ctx/dockerfiles/precompiled.Dockerfile -t reg/nv:550-6.1.0-56-amd64-debian12 $ctx " \
		"-f DOCKERFILE -t REF CONTEXT"
	t "the context is a copy of the repository's files, not the checkout ($ctx)" test "$ctx" != "$DK_SRCDIR"
	check "the context holds the Dockerfiles and the sources" grep -qx dockerfiles "$TMP/calls.ctx-1"
	check "the context holds no build directory and no .git" sh -c "! grep -qxE 'build.*|\.git' '$TMP/calls.ctx-1'"
	t "the temporary context is removed afterwards" test ! -e "$ctx"
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

write_multi() { # a build image for amd64 and arm64, an Ubuntu precompiled image (its
	# kernel release names no arch) for both, and a single-arch precompiled one
	local b=reg/nv:550.1-debian12 u=reg/nv:550-5.15.0-131-generic-ubuntu22.04
	{
		echo "$b${TAB}build${TAB}amd64${TAB}dockerfiles/debian.Dockerfile${TAB}BASE_IMAGE=debian:12"
		echo "$b${TAB}build${TAB}arm64${TAB}dockerfiles/debian.Dockerfile${TAB}BASE_IMAGE=debian:12"
		echo "reg/nv:550-6.1.0-56-amd64-debian12${TAB}precompiled${TAB}amd64${TAB}dockerfiles/precompiled.Dockerfile${TAB}BUILD_IMAGE=$b${TAB}KERNEL=6.1.0-56-amd64"
		echo "$u${TAB}precompiled${TAB}amd64${TAB}dockerfiles/precompiled.Dockerfile${TAB}BUILD_IMAGE=reg/nv:550.1-ubuntu22.04${TAB}KERNEL=5.15.0-131-generic"
		echo "$u${TAB}precompiled${TAB}arm64${TAB}dockerfiles/precompiled.Dockerfile${TAB}BUILD_IMAGE=reg/nv:550.1-ubuntu22.04${TAB}KERNEL=5.15.0-131-generic"
	} >"$TMP/tags"
}
case_multi_dry() {
	write_multi
	stub
	run "$BI" --tags-file "$TMP/tags" --dry-run
	is "$rc" 0 "exit 0"
	is "$(wc -l <"$TMP/out")" 5 "one command per line"
	like "$TMP/out" '^buildah .* --arch amd64 .*-f [^ ]*debian.Dockerfile --manifest reg/nv:550.1-debian12 -t reg/nv:550.1-debian12-amd64 ' \
		"a REF with two arches: amd64 into its manifest list, tagged REF-amd64"
	like "$TMP/out" '^buildah .* --arch arm64 .*--manifest reg/nv:550.1-debian12 -t reg/nv:550.1-debian12-arm64 ' \
		"and arm64 into the same list"
	like "$TMP/out" '--manifest reg/nv:550-5.15.0-131-generic-ubuntu22.04 -t reg/nv:550-5.15.0-131-generic-ubuntu22.04-arm64 ' \
		"the Ubuntu precompiled image is a list too"
	like "$TMP/out" 'BUILD_IMAGE=reg/nv:550.1-debian12-amd64 .*-t reg/nv:550-6.1.0-56-amd64-debian12 [^ ]*$' \
		"a single-arch REF keeps -t REF, FROM its multi-arch build image's arch tag"
	like "$TMP/out" 'BUILD_IMAGE=reg/nv:550.1-ubuntu22.04 ' "a single-arch BUILD_IMAGE is passed as is"
	is "$(grep -c -- '--manifest' "$TMP/out")" 4 "only the multi-arch lines use --manifest"
}
case_multi_push() {
	write_multi
	stub
	STUB_LISTS="reg/nv:550.1-debian12=amd64" STUB_PRESENT="reg/nv:550.1-debian12-amd64" \
		STUB_REMOTE="reg/nv:550-5.15.0-131-generic-ubuntu22.04=amd64" run "$BI" --tags-file "$TMP/tags" --push
	is "$rc" 0 "exit 0"
	like "$TMP/err" "reg/nv:550.1-debian12: amd64 present in its manifest list, skipped" "an arch in the local list is skipped"
	is "$(ls "$TMP/calls" | wc -l)" 7 "4 builds, 1 push, 2 manifest pushes"
	is "$(grep -A3 -x -- --arch "$TMP/calls/call-0" | tr '\n' ' ')" "--arch arm64 --build-arg BASE_IMAGE=debian:12 " "the missing arch is built"
	check "into the list" grep -qx -- --manifest "$TMP/calls/call-0"
	check "FROM the build image's local arch tag" grep -qx BUILD_IMAGE=reg/nv:550.1-debian12-amd64 "$TMP/calls/call-1"
	is "$(tr '\n' ' ' <"$TMP/calls/call-2")" "push reg/nv:550-6.1.0-56-amd64-debian12 " "a single-arch image is pushed after its build"
	check "a list with only amd64 in the registry: amd64 built" grep -qx amd64 "$TMP/calls/call-3"
	check "and arm64" grep -qx arm64 "$TMP/calls/call-4"
	is "$(tr '\n' ' ' <"$TMP/calls/call-5")" \
		"manifest push --all reg/nv:550.1-debian12 docker://reg/nv:550.1-debian12 " "the list pushed once, with --all"
	is "$(tr '\n' ' ' <"$TMP/calls/call-6")" \
		"manifest push --all reg/nv:550-5.15.0-131-generic-ubuntu22.04 docker://reg/nv:550-5.15.0-131-generic-ubuntu22.04 " \
		"the other list too"
	rm -f "$TMP/calls"/*
	STUB_REMOTE="reg/nv:550-5.15.0-131-generic-ubuntu22.04=amd64,arm64" run "$BI" --tags-file "$TMP/tags" --push --only precompiled
	like "$TMP/err" "generic-ubuntu22.04: in the registry with all of amd64 arm64, skipped" "a full list in the registry is skipped"
	is "$(ls "$TMP/calls" | wc -l)" 2 "one build and its push"
	check "no local arch tag: FROM the build image's REF" grep -qx BUILD_IMAGE=reg/nv:550.1-debian12 "$TMP/calls/call-0"
}
case_multi_refused() {
	write_multi
	stub
	STUB_PRESENT=reg/nv:550.1-debian12 run "$BI" --tags-file "$TMP/tags" --only build
	is "$rc" 2 "a single local image where a list is wanted: exit 2"
	like "$TMP/err" "reg/nv:550.1-debian12: a single image in local storage, not a manifest list" "says so"
	run "$BI" --tags-file "$TMP/tags" --tool docker --dry-run
	is "$rc" 2 "docker and a multi-arch REF: exit 2"
	like "$TMP/err" "reg/nv:550.1-debian12: built for amd64 arm64: .*use --tool buildah" "names the REF and says to use buildah"
	is "$(wc -l <"$TMP/out")" 1 "the single-arch line still printed"
}

tcase builds case_builds
tcase multi-dry case_multi_dry
tcase multi-push case_multi_push
tcase multi-refused case_multi_refused
tcase present-only case_present_only
tcase dry-run case_dry_run
tcase refused-and-failed case_refused_and_failed
tcase usage case_usage
done_testing
