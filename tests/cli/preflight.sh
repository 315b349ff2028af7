#!/bin/bash
# drvkit init's preflight: every problem at once, each with what to do, before
# anything on the node changes. A node with all of them together: another build of
# one of our modules loaded, a kernel without CONFIG_MODULE_UNLOAD, signatures
# enforced and our modules unsigned, one module built for another kernel. Fixture
# host roots (os-release of Ubuntu and RHEL), a fixture /proc/keys (--procfs) and a
# fixture MokListRT in efivars (the sysfs root), the preload shim for the syscalls.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

# mokcert NAME: a self-signed certificate $TMP/NAME.crt (PEM) + .der + .key
mokcert() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/$1.key" -out "$TMP/$1.crt" \
		-days 1 -subj "/CN=$1" 2>/dev/null
	chmod 600 "$TMP/$1.key"
	openssl x509 -in "$TMP/$1.crt" -outform DER -out "$TMP/$1.der"
}
skid() { # skid CERT: its subject key identifier as /proc/keys shows it
	openssl x509 -in "$1" -noout -ext subjectKeyIdentifier 2>/dev/null | tail -1 | tr -d ' :' |
		tr 'A-F' 'a-f'
}
# moklist OUT DER...: an efivarfs MokListRT (attributes + one EFI_SIGNATURE_LIST per cert)
moklist() {
	python3 - "$@" <<'PY'
import struct, sys, uuid
out = sys.argv[1]
data = struct.pack('<I', 7)
x509 = uuid.UUID('a5c059a1-94e4-4aa7-87b5-ab155c2bf072').bytes_le
for p in sys.argv[2:]:
    der = open(p, 'rb').read()
    entry = b'\x42' * 16 + der
    data += x509 + struct.pack('<III', 28 + len(entry), 0, len(entry)) + entry
open(out, 'wb').write(data)
PY
}
# proc_keys SKID CN: a fixture /proc/keys with one builtin key
proc_keys() {
	mkdir -p "$PROCFS"
	{
		echo "0a5e4b6c I------     1 perm 1f0b0000     0     0 keyring   .builtin_trusted_keys: 1"
		echo "1e9a7a68 I------     1 perm 1f010000     0     0 asymmetri $2: $1: X509.rsa ${1:0:8} []"
	} >"$PROCFS/keys"
}

# every_problem NAME OS: the node with every problem; $CFG, $PROCFS
every_problem() {
	local bad
	new_host "$1"
	config "$1"
	mkdir -p "$HOST/etc"
	cp "$DK_FIXTURES/detect/$2/etc/os-release" "$HOST/etc/os-release"
	# another build of dktest_params loaded, not by us
	dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko" >/dev/null 2>&1
	echo 0123456789ABCDEF0123456 >"$HOST/sys/module/dktest_params/srcversion"
	# no CONFIG_MODULE_UNLOAD: no refcnt in sysfs (the shim fakes such a kernel)
	rm -f "$HOST/sys/module/dktest_params/refcnt"
	echo "# CONFIG_MODULE_UNLOAD is not set" >"$HOST/boot/config-$KVER"
	# signatures enforced
	mkdir -p "$HOST/sys/module/module/parameters"
	echo Y >"$HOST/sys/module/module/parameters/sig_enforce"
	# dktest_user built for another kernel (same length release)
	bad=$TMP/mods-$1/$KVER
	mkdir -p "$bad"
	cp "$MODS"/*.ko "$bad/"
	python3 - "$bad/dktest_user.ko" "$KVER" <<'PY'
import sys
p, k = sys.argv[1], sys.argv[2].encode()
other = (k[:-1] + (b'X' if k[-1:] != b'X' else b'Y'))
b = open(p, 'rb').read()
assert b'vermagic=' + k in b
open(p, 'wb').write(b.replace(b'vermagic=' + k, b'vermagic=' + other))
PY
	sed -i "s|dir: .*|dir: $TMP/mods-$1/\$KVER }|" "$CFG"
	# the kernel's keys: one unrelated builtin key, one unrelated MOK
	PROCFS=$TMP/proc-$1
	mokcert "other-$1"
	proc_keys "$(skid "$TMP/other-$1.crt")" "Some Vendor key"
	mkdir -p "$HOST/sys/firmware/efi/efivars"
	moklist "$HOST/sys/firmware/efi/efivars/MokListRT-605dab50-e046-4300-abb6-3dd810dd8b23" "$TMP/other-$1.der"
	: >"$SHIMLOG"
}

case_every_problem() {
	if ! command -v openssl >/dev/null; then
		for i in $(seq 1 16); do skip "openssl not installed"; done
		return
	fi
	every_problem every os-ubuntu-22.04
	run dk init --config "$CFG" --procfs "$PROCFS" --dry-run
	cp "$TMP/out" "$TMP/../preflight-every-problem.txt" 2>/dev/null
	diag "$(cat "$TMP/out")"
	is "$rc" 1 "dry run: exit 1, the code a start would exit with (the first problem: another build, EEXIST)"
	like "$TMP/out" "^problems: 6 \(5 refuse a start: it would exit 1, changing nothing\)" "the count, and the exit a start would have"
	like "$TMP/out" "^  error +other-build +dktest_params: plan: component example: dktest_params is already loaded and differs .*CONFIG_MODULE_UNLOAD" \
		"another build loaded, on a kernel that cannot unload"
	like "$TMP/out" "^ +what to do: this kernel cannot remove a loaded module, so the only way is a reboot: preload this driver at boot" \
		"its fix: a reboot with the driver preloaded"
	unlike "$TMP/out" "unload_other_versions|rmmod|unload it first|under replaces" \
		"no suggestion that needs an unload on a kernel that cannot unload"
	like "$TMP/out" "^  warning no-unload-on-stop +-: plan: .*CONFIG_MODULE_UNLOAD.*stays loaded until the node reboots; a stop \(SIGTERM\) cannot unload it" \
		"said before loading: what is loaded now cannot be removed on stop"
	like "$TMP/out" "^  error +wrong-kernel +dktest_user: check: component example: dktest_user \(.*\) does not fit kernel $KVER: it was built for '${KVER%?}" \
		"a module built for another kernel"
	like "$TMP/out" "what to do: run the image .* built for kernel $KVER, or build component example from source .*install linux-headers-$KVER on the host" \
		"its fix names the Ubuntu package"
	unlike "$TMP/out" "kernel-devel|SUSE|kernel-default" "no RHEL or SUSE package names on Ubuntu"
	is "$(grep -Ec '^  error +unsigned' "$TMP/out")" 3 "each unsigned module, on an enforcing kernel"
	like "$TMP/out" "^  error +unsigned +dktest_export: check: component example: dktest_export \(.*\) is unsigned and the kernel enforces module signatures \(sig_enforce=Y" \
		"unsigned: names the module and the policy"
	like "$TMP/out" "what to do: configure signing: \(key, cert\) with a key the kernel trusts, e.g. one enrolled in MOK" \
		"and what to do"

	# JSON: the same list for tooling
	run dk init --config "$CFG" --procfs "$PROCFS" --dry-run --json
	is "$rc" 1 "--json: exit 1 too"
	python3 - "$TMP/out" >"$TMP/json.check" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
kinds = [p['kind'] for p in d['problems']]
assert d['would_start'] is False, d['would_start']
assert d['exit_code'] == 1, d['exit_code']
assert kinds == ['other-build', 'no-unload-on-stop', 'wrong-kernel', 'unsigned', 'unsigned', 'unsigned'], kinds
for p in d['problems']:
    assert set(p) == {'kind', 'severity', 'exit_code', 'component', 'module', 'message', 'hint'}, p
    assert p['hint'], p
assert d['problems'][0]['module'] == 'dktest_params' and d['problems'][0]['component'] == 'example'
assert d['problems'][1]['severity'] == 'warning' and d['problems'][1]['module'] is None
assert d['problems'][2]['exit_code'] == 3
print('ok')
PY
	is "$(cat "$TMP/json.check")" ok "--json: every problem with kind, module, component, message, hint; would_start false, exit_code 1"

	# a real start: refused before touching anything, all of them in the termination log
	run dk init --config "$CFG" --procfs "$PROCFS"
	is "$rc" 1 "a start is refused with the same exit code"
	like "$TERMLOG" "^drvkit init: 5 problems refuse a start; nothing on the node was changed:" "termination log: the count"
	for k in other-build wrong-kernel unsigned; do
		like "$TERMLOG" "^  [0-9]\. \[$k\] " "termination log lists $k"
	done
	like "$TERMLOG" "what to do: this kernel cannot remove a loaded module" "termination log: with what to do"
	is "$(shimlog 'insert|delete')" "" "nothing inserted or removed"
	like "$TMP/err" "warn: plan: .*stays loaded until the node reboots" "the start warns about stop too"
}

case_rhel_hints() {
	if ! command -v openssl >/dev/null; then
		for i in 1 2 3; do skip "openssl not installed"; done
		return
	fi
	every_problem rhel os-rhel-9.4
	run dk init --config "$CFG" --procfs "$PROCFS" --dry-run
	is "$rc" 1 "RHEL node: exit 1"
	like "$TMP/out" "what to do: run the image .*install kernel-devel-$KVER on the host" "RHEL: kernel-devel"
	unlike "$TMP/out" "linux-headers|SUSE|kernel-default" "no Debian or SUSE package names on RHEL"
}

# A kernel that can unload: the other build's fix may name unloading.
case_other_build_can_unload() {
	new_host canunload
	config canunload
	dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko" >/dev/null 2>&1
	echo 0123456789ABCDEF0123456 >"$HOST/sys/module/dktest_params/srcversion"
	run dk init --config "$CFG" --dry-run
	is "$rc" 1 "another build, unload not allowed: exit 1"
	like "$TMP/out" "what to do: set it to true, list dktest_params under replaces, or unload it first" \
		"where unloading works, it is suggested"
	unlike "$TMP/out" "no-unload-on-stop" "and no warning about stop"
}

# The signing certificate against the kernel's keys.
case_signing_trust() {
	local id
	if ! command -v openssl >/dev/null; then
		for i in 1 2 3 4 5 6; do skip "openssl not installed"; done
		return
	fi
	new_host trust
	mokcert ours
	mokcert other
	config trust "signing: { key: $TMP/ours.key, cert: $TMP/ours.crt, hash: sha256 }"
	mkdir -p "$HOST/sys/module/module/parameters" "$HOST/sys/firmware/efi/efivars"
	echo Y >"$HOST/sys/module/module/parameters/sig_enforce"
	PROCFS=$TMP/proc
	MOK=$HOST/sys/firmware/efi/efivars/MokListRT-605dab50-e046-4300-abb6-3dd810dd8b23
	proc_keys "$(skid "$TMP/other.crt")" other
	moklist "$MOK" "$TMP/other.der"
	run dk init --config "$CFG" --procfs "$PROCFS" --dry-run
	is "$rc" 1 "a signing certificate the kernel does not trust: exit 1"
	id=$(skid "$TMP/ours.crt")
	like "$TMP/out" "^  error +untrusted-key +-: sign: the kernel enforces module signatures \(sig_enforce=Y.*\) and does not trust the signing certificate $TMP/ours.crt \(CN 'ours', key id $id\): it is not among the 1 asymmetric keys of $PROCFS/keys nor the 1 certificates enrolled in MOK" \
		"names the certificate, its key id and where it looked"
	like "$TMP/out" "what to do: enroll the certificate in MOK: .*mokutil --import" "and how to enroll it"
	unlike "$TMP/out" "error +unsigned" "signing configured: the unsigned files are no problem"
	moklist "$MOK" "$TMP/other.der" "$TMP/ours.der"
	run dk init --config "$CFG" --procfs "$PROCFS" --dry-run
	is "$rc" 0 "enrolled in MOK: trusted, exit 0"
	moklist "$MOK" "$TMP/other.der"
	proc_keys "$id" ours
	run dk init --config "$CFG" --procfs "$PROCFS" --dry-run
	is "$rc" 0 "in the kernel's keyring (/proc/keys): trusted, exit 0"
	like "$TMP/out" "^problems: none, a start would go ahead" "and says so"
}

# Modules signed by a key (their own signature) against the kernel's keys.
case_signed_modules() {
	local SIGNED
	if ! command -v openssl >/dev/null; then
		for i in 1 2 3; do skip "openssl not installed"; done
		return
	fi
	new_host signed
	mokcert vendor
	mokcert other
	SIGNED=$TMP/signed/$KVER
	mkdir -p "$SIGNED"
	cp "$MODS"/dktest_export.ko "$MODS"/dktest_user.ko "$MODS"/dktest_params.ko "$SIGNED/"
	"$DRVKIT" sign --key "$TMP/vendor.key" --cert "$TMP/vendor.crt" "$SIGNED"/*.ko >/dev/null ||
		diag "drvkit sign failed"
	config signed
	sed -i "s|dir: .*|dir: $TMP/signed/\$KVER }|" "$CFG"
	mkdir -p "$HOST/sys/module/module/parameters"
	echo Y >"$HOST/sys/module/module/parameters/sig_enforce"
	PROCFS=$TMP/proc
	proc_keys "$(skid "$TMP/other.crt")" other
	run dk init --config "$CFG" --procfs "$PROCFS" --dry-run
	is "$rc" 1 "modules signed by a key the kernel does not show: exit 1"
	like "$TMP/out" "^  error +untrusted-key +dktest_export: check: component example: dktest_export \(.*\) is signed by 'vendor' \(key [0-9a-f]+\), which the kernel \(sig_enforce=Y.*\) does not trust" \
		"names the module and its signer"
	proc_keys "$(skid "$TMP/vendor.crt")" vendor
	run dk init --config "$CFG" --procfs "$PROCFS" --dry-run
	is "$rc" 0 "signer among the kernel's keys: exit 0"
}

# Nothing visible of the kernel's keys: a warning, not a refusal.
case_trust_unknown() {
	if ! command -v openssl >/dev/null; then
		for i in 1 2; do skip "openssl not installed"; done
		return
	fi
	new_host unknown
	mokcert ours
	config unknown "signing: { key: $TMP/ours.key, cert: $TMP/ours.crt, hash: sha256 }"
	mkdir -p "$HOST/sys/module/module/parameters" "$TMP/emptyproc"
	echo Y >"$HOST/sys/module/module/parameters/sig_enforce"
	run dk init --config "$CFG" --procfs "$TMP/emptyproc" --dry-run
	is "$rc" 0 "keys not visible: a start would go ahead"
	like "$TMP/out" "^  warning trust-unknown +-: check: the kernel enforces module signatures .*which keys it trusts cannot be seen" \
		"and warns that it cannot tell"
}

run_case case_every_problem
run_case case_rhel_hints
run_case case_other_build_can_unload
run_case case_signing_trust
run_case case_signed_modules
run_case case_trust_unknown
done_testing
