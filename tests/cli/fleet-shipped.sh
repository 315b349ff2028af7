#!/bin/bash
# The shipped kernel matrix (kernel-matrix/) and the fixture nodes of tests/fleet/labels: a
# cluster mid-upgrade between RHCOS 4.16 and 4.17, a Debian node whose kernel is in no matrix,
# a pending kernel, a kernel whose label value NFD sanitised, an arm64 node, an OS no matrix
# describes, a CPU-only node (no pci-10de label: nvidia's node_selector keeps it off). drvkit matrix (every format, --check), select and daemonsets against golden files
# in tests/fleet/golden/shipped/ (DK_UPDATE_GOLDEN=1 rewrites them all in one run), and the
# properties that carry the meaning checked independently of drvkit's writers: select's
# answers, the DaemonSets a node lands on (tests/fleet/shipped-check.py evaluates nodeSelector
# and nodeAffinity against each node's labels), select and daemonsets agreeing, and the
# Kubernetes objects valid against the API schemas (tests/k8s/validate.sh).
. "$(dirname "$0")/../lib.sh"

GOLD=$DK_SRCDIR/tests/fleet/golden/shipped
MX=kernel-matrix
R=nvcr.example/nvidia
CTX='https://git.example.com/drivers.git#main'
LB=tests/fleet/labels
NODES=(debian-12-6.1 debian-12-6.12 debian-12-unknown-kernel debian-12-cpu-only rhcos-416-node
	rhcos-417-node sles-15 ubuntu-2204-arm64)

have_yaml() { python3 -c 'import yaml' 2>/dev/null; }

# golden NAME FILE: FILE equals $GOLD/NAME (DK_UPDATE_GOLDEN=1 first copies FILE there)
golden() {
	local g=$GOLD/$1
	if [ "${DK_UPDATE_GOLDEN:-0}" = 1 ]; then
		mkdir -p "$GOLD" && cp "$2" "$g"
		diag "$g updated"
	fi
	if [ ! -f "$g" ]; then
		ok 1 "$1: equals its golden file"
		diag "$g is missing: DK_UPDATE_GOLDEN=1 meson test -C build fleet-shipped writes it"
	elif diff -u "$g" "$2" >"$TMP/diff"; then ok 0 "$1: equals its golden file"; else
		okf 1 "$1: equals its golden file (DK_UPDATE_GOLDEN=1 rewrites it)" "$TMP/diff"
	fi
}

# k8s_valid DESC FILE: tests/k8s/validate.sh accepts every object of FILE
k8s_valid() {
	if ! command -v node >/dev/null; then
		skip "$1: node is not installed (scripts/install-deps)"
		return 0
	fi
	local vrc=0
	"$DK_SRCDIR/tests/k8s/validate.sh" "$2" >"$TMP/valid.out" 2>&1 || vrc=$?
	okf "$vrc" "$1: valid Kubernetes objects (tests/k8s/validate.sh)" "$TMP/valid.out"
}

# sel NAME ARGS...: drvkit select ARGS... from the source dir, text and --json; sets
# $TMP/sel/NAME.{txt,json,rc} (the text output, with its exit code appended, is the golden)
sel() {
	local name=$1 src
	shift
	mkdir -p "$TMP/sel"
	src=0
	(cd "$DK_SRCDIR" && "$DRVKIT" select --matrix $MX --registry $R "$@") \
		>"$TMP/sel/$name.txt" 2>&1 || src=$?
	echo "exit $src" >>"$TMP/sel/$name.txt"
	src=0
	(cd "$DK_SRCDIR" && "$DRVKIT" select --matrix $MX --registry $R "$@" --json) \
		>"$TMP/sel/$name.json" 2>"$TMP/sel/$name.err" || src=$?
	echo "$src" >"$TMP/sel/$name.rc"
	golden "select.$name.txt" "$TMP/sel/$name.txt"
	cp "$TMP/sel/$name.json" "$TMP/sel/$name.jg"
	echo "exit $src" >>"$TMP/sel/$name.jg"
	golden "select.$name.json" "$TMP/sel/$name.jg"
}

# jq_ NAME EXPR: a Python expression over select NAME's JSON (bound to j)
jq_() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
	"$TMP/sel/$1.json" "$2"; }

# ---- drvkit matrix ----

# mx FORMAT ARGS...: drvkit matrix kernel-matrix --format FORMAT ARGS... into $TMP/FORMAT
mx() {
	local fmt=$1
	shift
	cd "$DK_SRCDIR"
	run "$DRVKIT" matrix $MX --format "$fmt" "$@"
	cp "$TMP/out" "$TMP/$fmt"
	is "$rc" 0 "matrix $fmt: exit 0"
	okf "$([ -s "$TMP/err" ] && echo 1 || echo 0)" "matrix $fmt: nothing on stderr" "$TMP/err"
	golden "matrix.$fmt" "$TMP/$fmt"
}

case_matrix() {
	mx json --registry $R
	mx github --registry $R
	mx gitlab --registry $R
	mx tags --registry $R
	mx k8s-jobs --registry $R --context "$CTX"
	run "$DRVKIT" matrix $MX --format json
	cp "$TMP/out" "$TMP/plain.json"
	check "the formats agree: the same images, in the same order" python3 - "$TMP" "$R" <<'PY'
import json, sys, yaml
t, r = sys.argv[1], sys.argv[2]
jobs = json.load(open(t + "/json"))
plain = json.load(open(t + "/plain.json"))
assert [r + "/" + j["image"] for j in plain] == [j["image"] for j in jobs]
gh = json.load(open(t + "/github"))["include"]
assert len(gh) == len(jobs)
gl = yaml.safe_load(open(t + "/gitlab"))["parallel"]["matrix"]
assert len(gl) == len(jobs)
tags = [l.split("\t") for l in open(t + "/tags").read().splitlines()]
assert [x[0] for x in tags] == [j["image"] for j in jobs]
assert [x[2] for x in tags] == [j["arch"] for j in jobs]
k8s = [d for d in yaml.safe_load_all(open(t + "/k8s-jobs")) if d]
assert all(d["kind"] == "Job" for d in k8s)
builds = [d for d in k8s if d["metadata"]["labels"]["drvkit.io/image-kind"] != "manifest-list"]
lists = [d for d in k8s if d["metadata"]["labels"]["drvkit.io/image-kind"] == "manifest-list"]
assert [d["metadata"]["annotations"]["drvkit.io/image"] for d in builds] == [j["image"] for j in jobs]
# an image of two arches: each arch pushes IMAGE-ARCH, one list Job joins them into IMAGE
arches = {}
for j in jobs:
    arches.setdefault(j["image"], []).append(j["arch"])
multi = {i: a for i, a in arches.items() if len(a) > 1}
assert sorted(d["metadata"]["annotations"]["drvkit.io/image"] for d in lists) == sorted(multi), "one list Job per multi-arch image"
for d in builds:
    c = d["spec"]["template"]["spec"]["containers"][0]
    img = d["metadata"]["annotations"]["drvkit.io/image"]
    env = {e["name"]: e["value"] for e in c["env"]}
    arch = d["metadata"]["labels"]["drvkit.io/arch"]
    want = img + "-" + arch if img in multi else img
    assert env["IMAGE"] == want and c["args"][c["args"].index("--tag") + 1] == want, (img, env["IMAGE"])
    bi = env.get("BUILD_IMAGE")
    if bi is not None:
        base = bi[: -len("-" + arch)] if bi.endswith("-" + arch) else bi
        assert (bi == base + "-" + arch) == (base in multi), ("FROM the arch's build image", img, bi)
for d in lists:
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == sorted(multi[d["metadata"]["annotations"]["drvkit.io/image"]])
PY
	is "$(wc -l <"$TMP/tags")" 19 "tags: 19 images (8 build: rhel 9.4 and 9.6 share driver:535.261.03-rhel9; 11 precompiled)"
	# build-images pushes one REF per line: two lines with the same REF and arch push over
	# each other (the second one is skipped as present, or replaces the first)
	cut -f1,3 "$TMP/tags" | sort | uniq -d >"$TMP/dup"
	okf "$([ -s "$TMP/dup" ] && echo 1 || echo 0)" "tags: no two images with the same REF and arch" \
		"$TMP/dup"
	like "$TMP/tags" $'^nvcr.example/nvidia/driver:535-5.14.0-427.37.1.el9_4.x86_64-rhcos4.16\tprecompiled\tamd64\t.*\tHEADERS_FROM=dtk' \
		"tags: the rhcos 4.16 precompiled image, its headers from the DTK"
	like "$TMP/tags" $'^nvcr.example/nvidia/driver:535.261.03-rhcos4.17\tbuild\tamd64\tdockerfiles/openshift.Dockerfile\t.*\tDTK_IMAGE=$' \
		"tags: the rhcos 4.17 build image, its null DTK empty"
	like "$TMP/tags" $'^nvcr.example/nvidia/driver:535-6.12.117_deb12-arm64-debian12\tprecompiled\tarm64\t.*\tHEADERS=http://deb.debian.org/[^\t]*linux-headers-6.12.117%2bdeb12-arm64_[^\t]*#sha256=65ef8d1db3' \
		"tags: the arm64 6.12 image, '+' sanitised in its tag, its pinned packages"
	have_yaml || return 0
	k8s_valid "matrix k8s-jobs" "$TMP/k8s-jobs"
}
tcase "matrix: every format" case_matrix

case_check() {
	cd "$DK_SRCDIR"
	run "$DRVKIT" matrix $MX --check
	is "$rc" 0 "--check: the shipped matrix is valid (exit 0)"
	cat "$TMP/out" "$TMP/err" >"$TMP/check"
	golden matrix.check "$TMP/check"
	like "$TMP/out" '^kernel-matrix: valid: 5 files, 19 images, [0-9]+ warnings?$' "--check: the summary"
	like "$TMP/out" '^rhcos: 2 versions \(4\.16 4\.17\), 2 kernels, drivers: nvidia-535$' \
		"--check: both RHCOS versions"
	like "$TMP/err" '^warning: kernel-matrix/rhcos\.yaml:22:18: os\.versions\[0\]\.dtk_image: not filled in: .*for rhcos 4\.16' \
		"--check: warns that rhcos 4.16's dtk_image is null, with its place"
	like "$TMP/err" '^warning: kernel-matrix/rhcos\.yaml:29:18: os\.versions\[1\]\.dtk_image: not filled in: .*for rhcos 4\.17' \
		"--check: and rhcos 4.17's"
	grep -v 'dtk_image: not filled in' "$TMP/err" >"$TMP/other" || true
	okf "$([ -s "$TMP/other" ] && echo 1 || echo 0)" \
		"--check: no other warning (every config the matrix names exists)" "$TMP/other"
}
tcase "matrix --check" case_check

# ---- drvkit select ----

case_select() {
	local n
	for n in "${NODES[@]}"; do sel "$n" --labels $LB/$n.yaml; done
	sel pending-6.12 --labels $LB/debian-12-6.1.yaml --pending-kernel 6.12.117+deb12-amd64
	sel pending-unknown --labels $LB/debian-12-6.1.yaml --pending-kernel 6.12.999+deb12-amd64

	for n in "${NODES[@]}" pending-6.12 pending-unknown; do
		[ "$n" = sles-15 ] || [ "$n" = debian-12-cpu-only ] && continue
		is "$(cat "$TMP/sel/$n.rc")" 0 "$n: an image fits (exit 0)"
		is "$(jq_ $n 'len(j["images"])')" 1 "$n: one image (nvidia 535)"
	done
	is "$(jq_ debian-12-6.1 'j["images"][0]["image"]')" $R/driver:535-6.1.0-56-amd64-debian12 \
		"debian 6.1: its precompiled image"
	is "$(jq_ debian-12-6.12 'j["images"][0]["image"]')" \
		$R/driver:535-6.12.117_deb12-amd64-debian12 \
		"debian 6.12: the sanitised label 6.12.117_deb12-amd64 finds 6.12.117+deb12-amd64's image"

	local a b
	a=$(jq_ rhcos-416-node 'j["images"][0]["image"]')
	b=$(jq_ rhcos-417-node 'j["images"][0]["image"]')
	t "mid-upgrade: the RHCOS 4.16 and 4.17 nodes get different images" [ "$a" != "$b" ]
	like <(echo "$a") '^nvcr\.example/nvidia/driver:535-5\.14\.0-427\.37\.1\.el9_4\.x86_64-rhcos4\.16$' \
		"the 4.16 node: the precompiled image of its own kernel, tagged rhcos4.16"
	like <(echo "$b") '^nvcr\.example/nvidia/driver:535-5\.14\.0-427\.44\.1\.el9_4\.x86_64-rhcos4\.17$' \
		"the 4.17 node: the precompiled image of its own kernel, tagged rhcos4.17"
	is "$(jq_ rhcos-417-node 'j["ostree_version"]')" 417.94.202411050056-0 \
		"the 4.17 node: its OSTREE_VERSION read"

	is "$(jq_ debian-12-unknown-kernel 'j["images"][0]["kind"] + " " + j["images"][0]["image"]')" \
		"build $R/driver:535.261.03-debian12" "unknown kernel: the Debian 12 build image"
	like "$TMP/sel/debian-12-unknown-kernel.txt" '^  kernel 6\.1\.0-56-amd64 \(amd64\) of debian 12 \(kernel-matrix/debian-12\.yaml:17:11\)$' \
		"unknown kernel: the nearest listed kernel, with its place"

	is "$(jq_ pending-6.12 '[j["pending"], j["running_kernel"], j["kernel"]]')" \
		"[True, '6.1.0-56-amd64', '6.12.117+deb12-amd64']" "pending: answered for the next kernel"
	is "$(jq_ pending-6.12 'j["images"][0]["image"]')" $R/driver:535-6.12.117_deb12-amd64-debian12 \
		"pending 6.12.117+deb12-amd64: the precompiled 6.12 image"
	is "$(jq_ pending-unknown 'j["images"][0]["kind"] + " " + j["images"][0]["image"]')" \
		"build $R/driver:535.261.03-debian12" "pending kernel in no matrix: the build image"

	is "$(cat "$TMP/sel/sles-15.rc")" 4 "sles: no fit (exit 4)"
	is "$(jq_ sles-15 '[j["fit"], j["missing"], j["images"]]')" "[False, 'os', []]" \
		"sles: no image; what is missing: the OS"
	like "$TMP/sel/sles-15.txt" '^no fit: OS sles is in no file of the matrix kernel-matrix$' \
		"sles: says what is missing"
	like "$TMP/sel/sles-15.txt" '^  OS rhel \(kernel-matrix/rhel-9\.yaml:11:3\)$' \
		"sles: the closest entries, with their places"

	is "$(cat "$TMP/sel/debian-12-cpu-only.rc")" 4 "CPU-only node: no driver for it (exit 4)"
	is "$(jq_ debian-12-cpu-only '[j["fit"], j["missing"], j["images"], j["not_selected"][0]["node_value"]]')" \
		"[False, 'not-selected', [], None]" "CPU-only node: no image; nvidia not selected, the label missing"
	like "$TMP/sel/debian-12-cpu-only.txt" '^no fit: no driver of the matrix runs on this node: nvidia needs feature\.node\.kubernetes\.io/pci-10de\.present=true \(the node: missing\)$' \
		"CPU-only node: the reason names nvidia's node_selector label and that the node lacks it"

	is "$(jq_ ubuntu-2204-arm64 '[j["arch"], j["images"][0]["kind"]]')" "['arm64', 'precompiled']" \
		"arm64: a precompiled image for arm64"
	like "$TMP/sel/ubuntu-2204-arm64.txt" '^  kernel 5\.15\.0-131-generic \(arm64\) is listed for ubuntu 22\.04 \(kernel-matrix/ubuntu\.yaml:18:11\)' \
		"arm64: the arm64 entry of the kernel (ubuntu.yaml:18), not the amd64 one"
	cd "$DK_SRCDIR"
	run "$DRVKIT" matrix $MX --format json --registry $R
	is "$(python3 -c 'import json,sys; print([j["image"] for j in json.load(open(sys.argv[1]))
		if j["arch"] == "arm64" and j["kernel"] == "5.15.0-131-generic"])' "$TMP/out")" \
		"['$(jq_ ubuntu-2204-arm64 'j["images"][0]["image"]')']" \
		"arm64: the image is the matrix's arm64 job for that kernel"
}
tcase "select: the fixture nodes" case_select

# ---- drvkit daemonsets ----

case_daemonsets() {
	cd "$DK_SRCDIR"
	run "$DRVKIT" daemonsets --matrix $MX --registry $R
	is "$rc" 0 "daemonsets over the shipped matrix: exit 0"
	okf "$([ -s "$TMP/err" ] && echo 1 || echo 0)" "daemonsets: nothing on stderr" "$TMP/err"
	cp "$TMP/out" "$TMP/ds.yaml"
	[ "$rc" = 0 ] || return 0 # no golden written from a failed run
	golden daemonsets.yaml "$TMP/ds.yaml"
	if ! have_yaml; then
		skip "python3-yaml is not installed"
		return 0
	fi
	k8s_valid daemonsets "$TMP/ds.yaml"
	local n src files=()
	mkdir -p "$TMP/sel"
	for n in "${NODES[@]}"; do
		files+=("$LB/$n.yaml")
		src=0
		"$DRVKIT" select --matrix $MX --registry $R --labels $LB/$n.yaml --json \
			>"$TMP/sel/$n.json" 2>/dev/null || src=$?
		echo "$src" >"$TMP/sel/$n.rc"
	done
	"$DRVKIT" matrix $MX --format json >"$TMP/mx.json"
	src=0
	python3 tests/fleet/shipped-check.py "$TMP/ds.yaml" "$TMP/mx.json" $MX $R "$TMP/sel" \
		"${files[@]}" >"$TMP/py.out" 2>&1 || src=$?
	okf "$src" "every node on exactly one DaemonSet per driver, select's image; names valid" \
		"$TMP/py.out"
	[ "$src" = 0 ] && diag_file "$TMP/py.out" 10
	local a b
	a=$(grep -c '^# rhcos-416-node: nvidia-535-rhcos4-16-' "$TMP/py.out" || true)
	b=$(grep -c '^# rhcos-417-node: nvidia-535-rhcos4-17-' "$TMP/py.out" || true)
	is "$a $b" "1 1" "mid-upgrade: each RHCOS node on its own version's DaemonSet"
	like "$TMP/py.out" '^# sles-15: $' "sles: on no DaemonSet"
	like "$TMP/py.out" '^# debian-12-cpu-only: $' "CPU-only node: on no DaemonSet (nvidia's nodeSelector)"
	like "$TMP/py.out" '^# ubuntu-2204-arm64: [^ ]*-arm64 ' "arm64: on an arm64 DaemonSet"
}
tcase "daemonsets: every node on one DaemonSet, agreeing with select" case_daemonsets

done_testing
