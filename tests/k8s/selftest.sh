#!/bin/bash
# The Kubernetes schema validator (tests/k8s/validate.sh) can fail: a known-bad DaemonSet is
# refused with each of its errors at its path, a good DaemonSet + ConfigMap + Namespace
# passes, an unknown kind and a broken document are failures. The first run installs the
# pinned npm packages into the machine-wide test cache (needs node and npm, and the npm
# registry once; scripts/install-deps).
. "$(dirname "$0")/../lib.sh"
V=$DK_SRCDIR/tests/k8s/validate.sh
F=$DK_SRCDIR/tests/k8s/fixtures

case_good() {
	rc=0
	"$V" "$F/good-daemonset.yaml" >"$TMP/out" 2>&1 || rc=$?
	okf "$rc" "the good fixture validates (exit 0)" "$TMP/out"
	is "$(grep -c '^ok ' "$TMP/out")" 3 "three objects, each 'ok'"
	like "$TMP/out" '^ok DaemonSet/nvidia-535-debian12$' "ok DaemonSet/<name>"
	like "$TMP/out" '^ok ConfigMap/nvidia-config$' "ok ConfigMap/<name>"
	like "$TMP/out" '^ok Namespace/drvkit$' "ok Namespace/<name>"
}

case_bad() {
	rc=0
	"$V" "$F/bad-daemonset.yaml" >"$TMP/out" 2>&1 || rc=$?
	is "$rc" 1 "the bad DaemonSet is refused (exit 1)"
	like "$TMP/out" 'bad-daemonset\.yaml#0 DaemonSet/nvidia-535-debian12: /spec/template/spec/terminationGracePeriodSeconds must be integer' \
		"a string where an integer is required: file, document index, path"
	like "$TMP/out" ': /spec must have required property selector' "a missing required field"
	like "$TMP/out" ': /spec/template/spec/hostPID must be boolean' "a string where a boolean is required"
	like "$TMP/out" ': /spec/template/spec/containers/0 must have required property name' "a container without a name"
	unlike "$TMP/out" '^ok ' "nothing is reported valid"
}

case_mixed() { # a bad object among good ones fails the file, and is the one named
	{
		cat "$F/good-daemonset.yaml"
		printf -- '---\napiVersion: batch/v1\nkind: Job\nmetadata: { name: build }\nspec:\n  template:\n    spec:\n      restartPolicy: Sometimes\n      containers: [ { name: b, image: x } ]\n'
	} >"$TMP/mixed.yaml"
	rc=0
	"$V" "$TMP/mixed.yaml" >"$TMP/out" 2>&1 || rc=$?
	is "$rc" 1 "one invalid Job among valid objects: exit 1"
	is "$(grep -c '^ok ' "$TMP/out")" 3 "the valid ones are still listed"
	like "$TMP/out" 'mixed\.yaml#3 Job/build: /spec/template/spec/restartPolicy must be equal to one of the allowed values' \
		"the Job's enum error, with its document index"
}

case_unknown_kind() {
	printf 'apiVersion: apps/v1\nkind: DaemonSets\nmetadata: { name: x }\n' >"$TMP/k.yaml"
	rc=0
	"$V" "$TMP/k.yaml" >"$TMP/out" 2>&1 || rc=$?
	is "$rc" 1 "an unknown kind is a failure"
	like "$TMP/out" 'unknown kind DaemonSets in apps/v1' "it names the kind and apiVersion"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n' >"$TMP/nn.yaml"
	rc=0
	"$V" "$TMP/nn.yaml" >"$TMP/out" 2>&1 || rc=$?
	is "$rc" 1 "an object without metadata.name is a failure"
}

case_broken_yaml() {
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x\n' >"$TMP/y.yaml"
	rc=0
	"$V" "$TMP/y.yaml" >"$TMP/out" 2>&1 || rc=$?
	is "$rc" 2 "a YAML syntax error: exit 2"
	like "$TMP/out" 'y\.yaml#0' "it names the file and document"
	rc=0
	: >"$TMP/empty.yaml"
	"$V" "$TMP/empty.yaml" >"$TMP/out" 2>&1 || rc=$?
	is "$rc" 2 "no objects at all is not a pass"
}

tcase "good DaemonSet, ConfigMap, Namespace pass" case_good
tcase "known-bad DaemonSet fails with every error" case_bad
tcase "one bad object among good ones" case_mixed
tcase "unknown kind, missing name" case_unknown_kind
tcase "broken YAML, empty input" case_broken_yaml
done_testing
