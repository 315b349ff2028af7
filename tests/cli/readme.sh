#!/bin/bash
# The specs README documents are real: each parses as drvkit reads it (init --dry-run
# plans every component), so the documentation cannot drift from the config schema.
. "$(dirname "$0")/../lib.sh"

# readme_yaml HEADING: the first ```yaml block after the README heading HEADING
readme_yaml() {
	python3 - "$DK_SRCDIR/README.md" "$1" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
i = s.find(sys.argv[2])
if i < 0:
    sys.exit("heading not found: " + sys.argv[2])
m = re.search(r"```yaml\n(.*?)```", s[i:], re.S)
print(m.group(1), end="")
PY
}

# plans HEADING COMPONENT...: the block parses and init's dry run plans each component
plans() {
	local h=$1
	shift
	# a src: directory the README names stands for the user's: a copy of a test module
	mkdir -p "$TMP/src" && cp -r "$DK_SRCDIR/tests/modules/consumer/." "$TMP/src/"
	readme_yaml "$h" | sed "s#src: /usr/src/[^ ]*#src: $TMP/src#" >"$TMP/spec.yaml"
	is "${PIPESTATUS[0]}" 0 "README \"$h\": its yaml block is there"
	run "$DRVKIT" init --config "$TMP/spec.yaml" --dry-run
	okf "$rc" "README \"$h\": the spec parses (init --dry-run exits 0)" "$TMP/err"
	for c in "$@"; do
		like "$TMP/out" "^  get +$c " "README \"$h\": component $c planned"
	done
}

case_three() {
	plans "### Three components that use each other" ofed nvidia nv_peer_mem
	like "$TMP/spec.yaml" 'uses: \[ ofed, nvidia \]' "nv_peer_mem uses both providers"
	like "$TMP/spec.yaml" '^ +configure: \[ \./configure' "OFED's configure is an argv"
	unlike "$TMP/spec.yaml" '(sh|bash), -c' "no shell in the spec"
}
tcase "the three-component spec" case_three

case_build() {
	# its patch is the one the nvidia tier applies (relative to the config file)
	cp "$DK_SRCDIR/tests/build/nvidia-open-535-pci-resize.patch" "$TMP/"
	plans "## Modules for a kernel drvkit has never seen" nvidia nv-peer-mem
}
tcase "the build: example" case_build

done_testing
