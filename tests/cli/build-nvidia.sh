#!/bin/bash
# drvkit build on the real NVIDIA 535.261.03 sources from Debian (nvidia-kernel-source,
# nvidia-open-kernel-source: tests/build/nvidia-debs.sh keeps the .debs in the machine-wide
# test cache), served over loopback, against the installed Debian 6.1 headers:
#   - proprietary: nvidia, nvidia-modeset, nvidia-uvm, nvidia-drm, nvidia-peermem; they pass
#     `drvkit check`, are signed (kmod's modinfo shows the signer); the second run is a cache
#     hit and no make runs;
#   - open: fails on this kernel (a stable update added an argument to pci_resize_resource):
#     drvkit quotes the compiler's error with the function, names component, version, flavor
#     and kernel, and gives the log; with the one-line patch under patches: it builds.
# A cold run takes several minutes on 2 cores (each flavor: conftests, then the compile).
. "$(dirname "$0")/../lib.sh"
. "$DK_SRCDIR/tests/build/nvidia-lib.sh"

fatal() { # a missing prerequisite fails the file (never a silent skip)
	ok 1 "$1"
	done_testing
	exit 1
}
KVER=$(nv_kver) || fatal "kernel headers installed (linux-headers-amd64)"
nv_debs || fatal "Debian's NVIDIA source packages (tests/build/nvidia-debs.sh)"
WWW=$(dirname "$NV_PROP_DEB")
PATCH=$DK_SRCDIR/tests/build/nvidia-open-535-pci-resize.patch
CACHE=$FIX/cache

case_fixture() {
	mkdir -p "$FIX/bin"
	cat >"$FIX/bin/make" <<'EOF'
#!/bin/sh
echo "make $*" >>"${DK_MAKE_LOG:-/dev/null}"
exec /usr/bin/make "$@"
EOF
	chmod +x "$FIX/bin/make"
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=drvkit nvidia test/" \
		-keyout "$FIX/key.pem" -out "$FIX/cert.pem" 2>/dev/null
	chmod 600 "$FIX/key.pem"
}
tcase "fixture: make wrapper, signing key" case_fixture

# nvconfig FLAVOR [PATCHES-YAML]: a spec for one flavor, the .deb on the loopback server
nvconfig() {
	local deb sha member subdir
	if [ "$1" = open ]; then
		deb=$NV_OPEN_DEB sha=$NV_OPEN_SHA member=$NV_OPEN_MEMBER subdir=$NV_OPEN_SUBDIR
	else
		deb=$NV_PROP_DEB sha=$NV_PROP_SHA member=$NV_PROP_MEMBER subdir=$NV_PROP_SUBDIR
	fi
	CFG=$TMP/nvidia-$1.yaml
	cat >"$CFG" <<EOC
cache_dir: $CACHE
kernel: $KVER
signing: { key: $FIX/key.pem, cert: $FIX/cert.pem }
components:
  - name: nvidia
    version: "$NV_VERSION"
    source:
      build:
        flavor: $1
        url: "$U/ok/$(basename "$deb")"
        sha256: $sha
        member: $member
        subdir: $subdir
        make: [ make, "-j{jobs}", "KERNEL_UNAME={kernel}", modules ]
        env: [ "PATH=$FIX/bin:/usr/bin:/bin", "DK_MAKE_LOG=$TMP/make.log" ]
${2:-}
    modules: [ nvidia, nvidia-modeset, nvidia-uvm, nvidia-drm ]
EOC
}
makes() { [ -f "$TMP/make.log" ] && wc -l <"$TMP/make.log" || echo 0; }

case_proprietary() {
	local t0 s d m
	start_file_server "$WWW"
	nvconfig proprietary
	t0=$(date +%s)
	rc=0
	"$DRVKIT" build --config "$CFG" -o "$TMP/out" >"$TMP/out.txt" 2>"$TMP/err.txt" || rc=$?
	is "$rc" 0 "proprietary $NV_VERSION builds against $KVER"
	s=$(($(date +%s) - t0))
	diag "proprietary build: ${s} s; make ran $(makes) time(s)"
	d=$TMP/out/$KVER/nvidia
	for m in nvidia nvidia-modeset nvidia-uvm nvidia-drm nvidia-peermem; do
		ok "$([ -s "$d/$m.ko" ] && echo 0 || echo 1)" "$m.ko built ($(du -h "$d/$m.ko" 2>/dev/null | cut -f1))"
	done
	rc=0
	"$DRVKIT" check --kernel "$KVER" "$d"/*.ko >"$TMP/check.txt" 2>&1 || rc=$?
	is "$rc" 0 "drvkit check: every module fits $KVER"
	is "$(/sbin/modinfo -F signer "$d/nvidia.ko")" "drvkit nvidia test" "kmod's modinfo shows the signer"
	rc=0
	"$DRVKIT" verify --cert "$FIX/cert.pem" "$d"/*.ko >"$TMP/verify.txt" 2>&1 || rc=$?
	is "$rc" 0 "every module verifies against the signing certificate"
	is "$(/sbin/modinfo -F depends "$d/nvidia-modeset.ko")" "nvidia,video" "nvidia-modeset depends on nvidia, video"
	like "$d/manifest.json" '"flavor": "proprietary"' "manifest: flavor"
	like "$d/manifest.json" "\"source_sha256\": \"$NV_PROP_SHA\"" "manifest: the source's sha256"
	like "$d/manifest.json" '"signer": "drvkit nvidia test"' "manifest: signer"
	is "$(grep -c '"GET"' "$TMP/server.log")" 1 "the .deb was downloaded once"

	# The second run: a cache hit, no make.
	rm -f "$TMP/make.log"
	t0=$(date +%s%N)
	rc=0
	"$DRVKIT" build --config "$CFG" -o "$TMP/out2" >"$TMP/out2.txt" 2>"$TMP/err2.txt" || rc=$?
	is "$rc" 0 "second run succeeds"
	diag "second run: $((($(date +%s%N) - t0) / 1000000)) ms"
	is "$(makes)" 0 "second run: no make, no compiler"
	like "$TMP/out2.txt" "^nvidia \(proprietary\): cache \(cache: hit [0-9a-f]{12} \(by key\)\)" "second run: cache hit"
	ok "$(cmp -s "$d/nvidia.ko" "$TMP/out2/$KVER/nvidia/nvidia.ko" && echo 0 || echo 1)" \
		"the same nvidia.ko"
}

case_open() {
	local d
	start_file_server "$WWW"
	nvconfig open
	rc=0
	"$DRVKIT" build --config "$CFG" -o "$TMP/out" >"$TMP/out.txt" 2>"$TMP/err.txt" || rc=$?
	is "$rc" 1 "open $NV_VERSION does not build against $KVER: exit 1"
	like "$TMP/err.txt" "^drvkit build: component nvidia \(version $NV_VERSION, flavor open\) for kernel $KVER: nvidia/nv-pci.c:223: too few arguments to function 'pci_resize_resource' \(in function [a-z_]+\); make exited with status [0-9]+; full log: $CACHE/logs/nvidia-$KVER-[0-9a-f]{12}.log" \
		"the error quotes the compiler: file:line, message, function; and the log"
	log=$(sed -n 's/.*full log: \(.*\.log\).*/\1/p' "$TMP/err.txt" | head -1)
	like "$log" "too few arguments to function 'pci_resize_resource'" "the log holds the error"
	ok "$([ ! -d "$TMP/out" ] && echo 0 || echo 1)" "no output"

	# The one-line fix, through patches:
	nvconfig open "        patches: [ $PATCH ]"
	# (patches: goes under build:, which the heredoc indents by 8)
	rc=0
	"$DRVKIT" build --config "$CFG" -o "$TMP/out" >"$TMP/out.txt" 2>"$TMP/err.txt" || rc=$?
	is "$rc" 0 "with patches: [ nvidia-open-535-pci-resize.patch ] the open flavor builds"
	d=$TMP/out/$KVER/nvidia
	ok "$([ -s "$d/nvidia.ko" ] && [ -s "$d/nvidia-uvm.ko" ] && echo 0 || echo 1)" "open nvidia.ko and nvidia-uvm.ko built"
	rc=0
	"$DRVKIT" check --kernel "$KVER" "$d"/*.ko >"$TMP/check.txt" 2>&1 || rc=$?
	is "$rc" 0 "drvkit check: the open modules fit $KVER"
	like "$d/manifest.json" '"patches": \[' "manifest lists the patch"
	like "$d/manifest.json" "nvidia-open-535-pci-resize.patch [0-9a-f]{64}" "with its sha256"
	is "$(/sbin/modinfo -F license "$d/nvidia.ko")" "Dual MIT/GPL" "the open flavor's license"
}

tcase "proprietary: built, checked, signed; then a cache hit" case_proprietary
tcase "open: the compiler's error, then built with a patch" case_open
done_testing
