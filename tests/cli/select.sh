#!/bin/bash
# drvkit select over the fixture matrix (tests/fleet/fixtures/select-matrix) and label sets
# (tests/fleet/fixtures/labels): output and exit code against golden files in
# tests/fleet/golden/select.*; DK_UPDATE_GOLDEN=1 rewrites them.
. "$(dirname "$0")/../lib.sh"

GOLD=$DK_SRCDIR/tests/fleet/golden
MX=tests/fleet/fixtures/select-matrix
LB=tests/fleet/fixtures/labels

golden() { # golden NAME ARGS...: run from the source dir (stable relative paths)
	local name=$1 f=$GOLD/select.$1.txt
	shift
	local rc=0
	(cd "$DK_SRCDIR" && "$DRVKIT" select "$@") >"$TMP/out" 2>&1 || rc=$?
	echo "exit $rc" >>"$TMP/out"
	if [ "${DK_UPDATE_GOLDEN:-0}" = 1 ]; then cp "$TMP/out" "$f"; fi
	if diff -u "$f" "$TMP/out" >"$TMP/diff"; then ok 0 "$name: output equals the golden file"; else
		okf 1 "$name: output equals the golden file" "$TMP/diff"
	fi
}

case_labels() {
	golden precompiled --matrix $MX --registry reg.example --labels $LB/debian-precompiled.yaml
	golden sanitised --matrix $MX --registry reg.example --labels $LB/debian-sanitised.json
	golden unlisted-kernel --matrix $MX --registry reg.example --labels $LB/debian-unlisted.yaml
	golden os-version-missing --matrix $MX --labels $LB/debian-11.yaml
	golden arm64-from-kernel --matrix $MX --labels $LB/debian-arm64.yaml
	golden arm64-nodelist --matrix $MX --labels $LB/ubuntu-arm64.yaml --json
	golden rhcos-415 --matrix $MX --registry reg.example --labels $LB/rhcos-415.yaml
	golden rhcos-416 --matrix $MX --registry reg.example --labels $LB/rhcos-416.yaml
	golden rhcos-unknown-ostree --matrix $MX --labels $LB/rhcos-unknown-ostree.yaml
	golden pending-kernel --matrix $MX --labels $LB/debian-precompiled.yaml \
		--pending-kernel 6.12.117+deb12-amd64
	golden pending-kernel-unlisted --matrix $MX --labels $LB/rhcos-415.yaml \
		--pending-kernel 5.14.0-427.99.1.el9_4.x86_64 --json
	golden driver-filter --matrix $MX --labels $LB/ubuntu-arm64.yaml --driver ofed
	golden driver-not-built --matrix $MX --labels $LB/debian-precompiled.yaml --driver ofed
	golden node-selector-partial --matrix $MX --labels $LB/ubuntu-gpu-only.yaml
	golden node-selector-none --matrix $MX --labels $LB/ubuntu-gpu-only.yaml --driver ofed --json
}
tcase "label sets" case_labels

case_exit_codes() {
	cd "$DK_SRCDIR"
	run "$DRVKIT" select --matrix $MX --labels $LB/debian-precompiled.yaml
	is "$rc" 0 "a fit exits 0"
	run "$DRVKIT" select --matrix $MX --labels $LB/debian-11.yaml
	is "$rc" 4 "no fit exits 4"
	like "$TMP/out" '^no fit: debian 11 is not in the matrix$' "no fit says what is missing"
	like "$TMP/out" '^  debian 12 \(tests/fleet/fixtures/select-matrix/debian.yaml:5:7\)$' \
		"and names the closest entry with its place"
	printf 'kind: Node\nmetadata:\n  labels:\n    a: [1]\n' >"$TMP/bad.yaml"
	run "$DRVKIT" select --matrix $MX --labels "$TMP/bad.yaml"
	is "$rc" 3 "a label value that is a list exits 3"
	like "$TMP/err" 'bad.yaml:4:8: metadata.labels.a: expected a label value' \
		"and the message has file:line:col and the key path"
	printf 'feature.node.kubernetes.io/system-os_release.ID: debian\n' >"$TMP/few.yaml"
	run "$DRVKIT" select --matrix $MX --labels "$TMP/few.yaml"
	is "$rc" 3 "a missing label exits 3"
	like "$TMP/err" 'no label feature.node.kubernetes.io/system-os_release.VERSION_ID' \
		"and names the label"
	printf 'apiVersion: v1\nkind: List\nitems: [{kind: Node}, {kind: Node}]\n' >"$TMP/two.yaml"
	run "$DRVKIT" select --matrix $MX --labels "$TMP/two.yaml"
	is "$rc" 3 "a list of two nodes exits 3"
	like "$TMP/err" 'two.yaml:3:8: items: expected exactly one Node, got 2' "and says why"
	run "$DRVKIT" select --matrix $MX
	is "$rc" 2 "neither --labels nor --detect is a usage error"
	run "$DRVKIT" select --matrix $MX --labels $LB/debian-11.yaml --detect
	is "$rc" 2 "both are a usage error"
	run "$DRVKIT" select --matrix "$TMP/nonexistent" --labels $LB/debian-11.yaml
	is "$rc" 4 "a missing matrix exits 4"
	run "$DRVKIT" select --matrix $MX --labels $LB/ubuntu-gpu-only.yaml
	is "$rc" 0 "a driver whose node_selector the node misses: the others still fit (exit 0)"
	like "$TMP/out" '^ofed: not for this node: needs feature\.node\.kubernetes\.io/pci-15b3\.present=true \(the node: false\)$' \
		"and the skipped driver is named with the label, the wanted value and the node's"
	run "$DRVKIT" select --matrix $MX --labels $LB/ubuntu-gpu-only.yaml --driver ofed
	is "$rc" 4 "no driver runs on the node: exit 4"
	like "$TMP/out" '^no fit: no driver of the matrix runs on this node: ofed needs feature\.node\.kubernetes\.io/pci-15b3\.present=true \(the node: false\)$' \
		"and the reason names the driver and the label"
}
tcase "exit codes" case_exit_codes

case_detect() {
	cd "$DK_SRCDIR"
	run "$DRVKIT" select --matrix $MX --detect --host-root tests/fixtures/detect/os-debian-12 \
		--procfs "$TMP" --kernel 6.1.0-56-amd64 --json
	if [ "$(uname -m)" != x86_64 ]; then
		skip "detection's arch is uname's: these checks expect x86_64"
		return 0
	fi
	is "$rc" 0 "--detect: a fit exits 0"
	like "$TMP/out" '"source": "detection"' "the facts come from detection"
	like "$TMP/out" '"image": "driver:535-6.1.0-56-amd64-debian12"' \
		"the host's os-release and kernel pick the precompiled image"
	like "$TMP/out" '"node_selector_checked": false' "detection: node_selector not checked"
	run "$DRVKIT" select --matrix $MX --detect --host-root tests/fixtures/detect/os-ubuntu-22.04 \
		--procfs "$TMP" --kernel 5.15.0-131-generic --driver ofed
	is "$rc" 0 "--detect: ofed (node_selector) still answered: detection knows no labels"
	like "$TMP/out" '; node_selector not checked: facts from detection$' \
		"and its reason says the node_selector was not checked"
}
tcase "detect" case_detect

# Inputs tests/fuzz (labels) found; each was a SIGSEGV before.
case_fuzz_labels() {
	cd "$DK_SRCDIR"
	printf '{a: b}: c\n' >"$TMP/mapkey.yaml"
	run "$DRVKIT" select --matrix $MX --labels "$TMP/mapkey.yaml"
	is "$rc" 3 "a mapping as a label name exits 3 (was SIGSEGV)"
	like "$TMP/err" 'mapkey.yaml:1:1: expected a label name, got a mapping$' \
		"and says where and what was expected"
	run "$DRVKIT" select --matrix $MX --labels tests/fuzz/corpus/labels/regress-crash-mapping-as-label-name
	is "$rc" 3 "the fuzzer's input exits 3"
}
tcase "fuzz findings" case_fuzz_labels

done_testing
