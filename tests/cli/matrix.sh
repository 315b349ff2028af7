#!/bin/bash
# drvkit matrix over tests/fleet/fixtures: every format against its golden output
# (DK_UPDATE_GOLDEN=1 rewrites them), the formats parse as JSON / YAML, --check, and the
# errors of bad matrices with their file:line:col and exit code.
. "$(dirname "$0")/../lib.sh"

FLEET=$DK_SRCDIR/tests/fleet
GOLDEN=$FLEET/golden

# Each case runs in its own $TMP with the good matrix as ./kernel-matrix (the default DIR).
good() { cp -a "$FLEET/fixtures/matrix-good" "$TMP/kernel-matrix"; }

# golden FORMAT ARGS...: drvkit matrix --format FORMAT ARGS... equals golden/matrix.FORMAT
golden() {
	local fmt=$1 g=$GOLDEN/matrix.$1
	shift
	good
	run "$DRVKIT" matrix --format "$fmt" "$@"
	is "$rc" 0 "$fmt: exit 0"
	okf "$([ -s "$TMP/err" ] && echo 1 || echo 0)" "$fmt: nothing on stderr" "$TMP/err"
	if [ "${DK_UPDATE_GOLDEN:-}" = 1 ]; then
		mkdir -p "$GOLDEN" && cp "$TMP/out" "$g"
		diag "$g updated"
	fi
	if diff -u "$g" "$TMP/out" >"$TMP/diff"; then ok 0 "$fmt: equals its golden"; else
		okf 1 "$fmt: equals its golden (DK_UPDATE_GOLDEN=1 rewrites it)" "$TMP/diff"
	fi
}

have_yaml() { python3 -c 'import yaml' 2>/dev/null; }

case_json() {
	golden json --registry quay.io/acme
	check "json parses" python3 -c '
import json, sys
jobs = json.load(open(sys.argv[1]))
assert len(jobs) == 21, len(jobs)
kinds = [j["kind"] for j in jobs]
assert kinds == sorted(kinds), "build images first"
b = [j for j in jobs if j["kind"] == "build"]
assert all(j["kernel"] is None for j in b)
p = [j for j in jobs if j["kind"] == "precompiled"]
assert all(j["build_args"]["BUILD_IMAGE"] in [x["image"] for x in b] for j in p)
' "$TMP/out"
}

case_github() {
	golden github --registry quay.io/acme
	is "$(wc -l <"$TMP/out")" 1 "github: one line"
	check "github: an include list of 21 objects" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d) == ["include"] and len(d["include"]) == 21
' "$TMP/out"
}

case_gitlab() {
	golden gitlab --registry quay.io/acme
	if have_yaml; then
		check "gitlab: parallel.matrix of scalar mappings" python3 -c '
import yaml, sys
d = yaml.safe_load(open(sys.argv[1]))
m = d["parallel"]["matrix"]
assert len(m) == 21
assert all(isinstance(v, str) for e in m for v in e.values())
assert m[0]["DK_IMAGE"] == "quay.io/acme/driver:535.261.03-debian12", m[0]
' "$TMP/out"
	else
		skip "python3-yaml is not installed"
	fi
}

case_tags() {
	golden tags --registry quay.io/acme/
	like "$TMP/out" $'^quay.io/acme/driver:535-6.1.0-56-amd64-debian12\tprecompiled\tamd64\tdockerfiles/precompiled.Dockerfile\tBUILD_IMAGE=quay.io/acme/driver:535.261.03-debian12\t' \
		"tags: a precompiled line with its build image"
	like "$TMP/out" $'HEADERS=http://[^\t]*#sha256=1{64} http://[^\t]*#sha256=2{64}\tHEADERS_FROM=packages' \
		"tags: headers as URL#sha256=HEX, space-separated"
	like "$TMP/out" $'driver:550.163.01-rhcos4.15\tbuild\tamd64\tdockerfiles/openshift.Dockerfile\tBASE_IMAGE=\t.*\tDTK_IMAGE=$' \
		"tags: rhcos with a null DTK: empty DTK_IMAGE"
	like "$TMP/out" '535-6\.12\.22_bpo-amd64-debian12' "tags: '+' becomes '_'"
	like "$TMP/out" 'DRVKIT_CONFIG=kernel-matrix/configs/nvidia.yaml' "tags: the config path"
	like "$TMP/out" 'ofed:24.10-1.1.4.0-rhel9.*DRVKIT_CONFIG=$' "tags: no config: empty"
	run "$DRVKIT" matrix --format tags --os ubuntu --kind precompiled
	is "$(wc -l <"$TMP/out")" 6 "--os ubuntu --kind precompiled: 6 images"
	unlike "$TMP/out" $'\tbuild\t' "--kind precompiled: no build image"
	run "$DRVKIT" matrix --format tags --driver ofed
	is "$(wc -l <"$TMP/out")" 2 "--driver ofed: 2 images"
}

case_k8s() {
	golden k8s-jobs --registry quay.io/acme --namespace gpu-operator \
		--context https://example.com/drivers.git#main
	like "$TMP/out" '"--build-arg"' "k8s: build args in argv"
	unlike "$TMP/out" 'bud.*BASE_IMAGE' "k8s: no value pasted into the script"
	if have_yaml; then
		check "k8s-jobs: Jobs with valid names" python3 -c '
import yaml, sys, re
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
assert len(docs) == 25, len(docs)  # 21 images + a list Job per image of two arches (4)
names = [d["metadata"]["name"] for d in docs]
assert len(set(names)) == 25, "unique names"
for n in names:
    assert len(n) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", n), n
for d in docs:
    assert d["kind"] == "Job" and d["metadata"]["namespace"] == "gpu-operator"
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert c["securityContext"]["runAsUser"] == 1000
    assert "$IMAGE" in c["command"][2] and "quay.io" not in c["command"][2]
    if d["metadata"]["labels"]["drvkit.io/image-kind"] == "manifest-list":
        assert c["args"] == ["amd64", "arm64"], c["args"]
        assert "manifest push --all" in c["command"][2]
        continue
    assert c["args"][-1] == "https://example.com/drivers.git#main"
' "$TMP/out"
	else
		skip "python3-yaml is not installed"
	fi
	run "$DRVKIT" matrix --format k8s-jobs --registry r
	is "$rc" 2 "k8s-jobs without --context: usage error"
	like "$TMP/err" 'needs --context URL' "k8s-jobs: says --context"
	run "$DRVKIT" matrix --format k8s-jobs --context https://x/y.git
	is "$rc" 2 "k8s-jobs without --registry: usage error"
}

case_check() {
	good
	run "$DRVKIT" matrix --check
	is "$rc" 0 "--check: exit 0"
	like "$TMP/out" '^rhcos: 2 versions \(4\.16 4\.15\), 2 kernels, drivers: nvidia-550$' \
		"--check: the rhcos line"
	like "$TMP/out" '^ubuntu: 1 version \(22\.04\), 3 kernels, drivers: nvidia-550 nvidia-535$' \
		"--check: the ubuntu line"
	like "$TMP/out" '^kernel-matrix: valid: 5 files, 21 images, 1 warning$' "--check: summary"
	like "$TMP/err" '^warning: kernel-matrix/rhcos\.yaml:14:18: os\.versions\[1\]\.dtk_image: not filled in: run `oc adm release info --image-for=driver-toolkit <release image>`' \
		"--check: the null DTK warned about, with its place"
	rm kernel-matrix/configs/nvidia.yaml
	run "$DRVKIT" matrix --check
	like "$TMP/err" 'kernel-matrix/drivers\.yaml:3:5: driver nvidia: config kernel-matrix/configs/nvidia\.yaml does not exist' \
		"--check: a missing config warned about"
}

# bad FIXTURE EXIT REGEX: --check on tests/fleet/fixtures/FIXTURE fails with EXIT and says REGEX
bad() {
	cp -a "$FLEET/fixtures/$1" "$TMP/$1"
	run "$DRVKIT" matrix "$1" --check
	is "$rc" "$2" "$1: exit $2"
	like "$TMP/err" "$3" "$1: the message"
	is "$(wc -c <"$TMP/out")" 0 "$1: nothing on stdout"
}

case_bad() {
	bad matrix-unknown-branch 3 "matrix-unknown-branch/debian\.yaml:7:11: os\.versions\[0\]\.drivers\[0\]\.branches\[1\]: driver nvidia has no branch '570' \(its branches: 535, 550; defined at matrix-unknown-branch/drivers\.yaml:3:5\)"
	bad matrix-os-twice 3 'matrix-os-twice/b-debian\.yaml:3:3: os: OS debian is also defined in matrix-os-twice/a-debian\.yaml:3:3'
	bad matrix-bad-arch 3 "matrix-bad-arch/ubuntu\.yaml:8:17: os\.versions\[0\]\.kernels\[0\]\.arch: unknown architecture 'ppc64le': expected amd64 \(or x86_64\) or arm64 \(or aarch64\)"
	run "$DRVKIT" matrix
	is "$rc" 4 "no kernel-matrix here: exit 4"
	like "$TMP/err" 'kernel matrix kernel-matrix: no such directory' "says which directory"
}

case_usage() {
	good
	run "$DRVKIT" matrix --format yaml
	is "$rc" 2 "unknown format: exit 2"
	like "$TMP/err" 'expected json, github, gitlab, tags or k8s-jobs' "names the formats"
	run "$DRVKIT" matrix --os sles
	is "$rc" 2 "--os of no OS: exit 2"
	run "$DRVKIT" matrix --help
	is "$rc" 0 "--help: exit 0"
	like "$TMP/out" 'default: *$' "help: the default DIR"
	like "$TMP/out" '^Exit codes: 0 ok \(valid\), 2 usage, 3 invalid matrix, 4 DIR not found\.$' \
		"help: exit codes"
}

tcase "json" case_json
tcase "github" case_github
tcase "gitlab" case_gitlab
tcase "tags" case_tags
tcase "k8s-jobs" case_k8s
tcase "check" case_check
tcase "bad matrices" case_bad
tcase "usage" case_usage
done_testing
