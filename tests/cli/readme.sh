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

# The operator examples: complete configs that parse. GPU: its module dir is the image's,
# absent here, so the dry run stops at getting it (exit 4, naming the component); Network:
# OFED is built from source (cache_dir), so the dry run plans the build (exit 0).
operator() { # operator HEADING COMPONENT RC
	readme_yaml "$1" >"$TMP/spec.yaml"
	is "$?" 0 "README \"$1\": its yaml block is there"
	run "$DRVKIT" init --config "$TMP/spec.yaml" --dry-run
	unlike "$TMP/err" "spec\.yaml:[0-9]+:[0-9]+:" "README \"$1\": the config parses"
	is "$rc" "$3" "README \"$1\": the dry run exits $3"
	like "$TMP/err" "component $2" "README \"$1\": names component $2"
}
case_operators() {
	operator "### GPU Operator: the driver DaemonSet" nvidia 4
	like "$TMP/spec.yaml" "^driver_root: /run/nvidia/driver" "GPU Operator: the driver root"
	like "$TMP/spec.yaml" "validation: \{ command: \[ nvidia-smi \]" "GPU Operator: nvidia-smi validates"
	operator "### Network Operator: the OFED container" ofed 0
	like "$TMP/spec.yaml" "share_headers: /run/mellanox/drivers/usr/src" "Network Operator: shares OFED's headers"
}
tcase "the GPU and Network Operator examples" case_operators

done_testing
