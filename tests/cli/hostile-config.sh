#!/bin/bash
# Hostile config, params and state files (issue 12): each refused with the file, the place
# and the reason, exit 3, and quickly. No modules are loaded: the files are refused first.
. "$(dirname "$0")/../lib.sh"

dk() { "$DRVKIT" "$@"; }

# cfg NAME TEXT: a config file $TMP/NAME.yaml
cfg() { printf '%b' "$2" >"$TMP/$1.yaml"; }

case_too_large() {
	head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$TMP/big.yaml"
	run dk init --config "$TMP/big.yaml" --dry-run
	is "$rc" 3 "config over 1 MiB: exit 3"
	like "$TMP/err" "^drvkit init: config $TMP/big.yaml is larger than the limit of 1024 KiB" \
		"names the file and the limit"
}

case_second_document() {
	cfg two 'components: []\n---\nstate_dir: /x\n'
	run dk init --config "$TMP/two.yaml" --dry-run
	is "$rc" 3 "a second document: exit 3"
	like "$TMP/err" "two.yaml:2:1: a second document starts here: one document expected" \
		"file:line:col, one document expected"
}

case_deep() {
	python3 -c "print('a: ' + '{a: ' * 50000)" >"$TMP/deep.yaml"
	SECONDS=0
	run dk init --config "$TMP/deep.yaml" --dry-run
	is "$rc" 3 "200 KB of nested flow mappings: exit 3"
	like "$TMP/err" "deep.yaml:1:[0-9]+: nested deeper than 64 levels" "names the depth limit"
	ok $([ "$SECONDS" -lt 2 ] && echo 0 || echo 1) "in under 2 s (${SECONDS} s)"
}

case_kernel() {
	local k
	for k in .. 6.1/x "\"6.1\\\\x1b\"" 6.1..2; do
		cfg kern "kernel: $k\ncomponents:\n  - name: x\n    source: { dir: /m }\n    modules: [ a ]\n"
		run dk init --config "$TMP/kern.yaml" --dry-run
		is "$rc" 3 "kernel: $k: exit 3"
		like "$TMP/err" "kern.yaml:1:9: kernel: not a kernel release" "kernel: $k: refused"
	done
}

case_component_name() {
	cfg comp 'components:\n  - name: "a\\x07b"\n    source: { dir: /m }\n    modules: [ a ]\n'
	run dk init --config "$TMP/comp.yaml" --dry-run
	is "$rc" 3 "component name with a control character: exit 3"
	like "$TMP/err" "comp.yaml:2:11: components\[0\]\.name: not a component name" "refused"
}

# (the params file's twins, a-b and a_b, and \r are in test-config: `drvkit load` reads
# its modules before its params file)
case_params_cr() {
	cfg pcr 'components:\n  - name: x\n    source: { dir: /m }\n    modules:\n      - name: a\n        params: { x: "1\\r2" }\n'
	run dk init --config "$TMP/pcr.yaml" --dry-run
	is "$rc" 3 "param value with \\r: exit 3"
	like "$TMP/err" "pcr.yaml:6:22: components\[0\]\.modules\[0\]\.params\.x: a value cannot hold double quotes, newlines or control characters" \
		"refused"
}

case_state() {
	mkdir -p "$TMP/st"
	printf '{"version": 1, "modules": "nvidia"}\n' >"$TMP/st/state.json"
	run dk status --state-dir "$TMP/st" --host-root "$TMP"
	is "$rc" 3 "state file whose modules is a string: exit 3"
	like "$TMP/err" "state file $TMP/st/state.json: modules: expected a list" "names the file and the key"
	printf '{"version": 1, "modules": [ {"name": "../../x"} ]}\n' >"$TMP/st/state.json"
	run dk status --state-dir "$TMP/st" --host-root "$TMP"
	is "$rc" 3 "state file with a bad module name: exit 3"
	like "$TMP/err" "state file $TMP/st/state.json: modules: a name that is not a module name" \
		"names the file and the key"
}

tcase too-large case_too_large
tcase second-document case_second_document
tcase deep case_deep
tcase kernel case_kernel
tcase component-name case_component_name
tcase params-cr case_params_cr
tcase state case_state
done_testing
