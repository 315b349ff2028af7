#!/bin/bash
# drvkit check: real modules from tests/modules against the installed Debian headers,
# and copies with a CRC, the vermagic or the license changed.
. "$(dirname "$0")/../lib.sh"

need_modules
# each case starts in its own $TMP holding copies of the three modules
cp "$MODS"/dktest_params.ko "$MODS"/dktest_export.ko "$MODS"/dktest_user.ko "$FIX"/
KVER=$(/usr/sbin/modinfo -F vermagic "$FIX/dktest_params.ko" | cut -d' ' -f1)
diag "kernel $KVER"

# python3 helpers that edit copies of modules
edit() { # edit OP IN OUT ARGS...
	python3 - "$@" <<'EOF'
import struct, sys
op, src, dst = sys.argv[1:4]
args = sys.argv[4:]
b = bytearray(open(src, "rb").read())
shoff, = struct.unpack_from("<Q", b, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", b, 0x3a)
def sh(i): return shoff + i * shentsize
stroff, = struct.unpack_from("<Q", b, sh(shstrndx) + 0x18)
def section(name):
    for i in range(shnum):
        nm, = struct.unpack_from("<I", b, sh(i))
        end = b.index(b"\0", stroff + nm)
        if b[stroff + nm:end].decode() == name:
            off, size = struct.unpack_from("<QQ", b, sh(i) + 0x18)
            return off, size
    sys.exit("no section " + name)
if op == "crc":  # set the __versions CRC of a symbol
    off, size = section("__versions")
    for e in range(off, off + size, 64):
        if b[e + 8:e + 64].split(b"\0")[0].decode() == args[0]:
            struct.pack_into("<Q", b, e, int(args[1], 0))
            break
    else:
        sys.exit("no __versions entry " + args[0])
elif op == "u32":  # set a 32-bit word in a section
    off, size = section(args[0])
    struct.pack_into("<I", b, off + int(args[1], 0), int(args[2], 0))
elif op == "modinfo":  # replace a string inside .modinfo, same length
    off, size = section(".modinfo")
    old, new = args[0].encode(), args[1].encode()
    assert len(old) == len(new)
    i = b.index(old, off, off + size)
    b[i:i + len(old)] = new
open(dst, "wb").write(b)
EOF
}

# --- fitting modules ---
case_fit() {
	use_fixture
	for m in dktest_params.ko dktest_export.ko; do
		run "$DRVKIT" check --kernel "$KVER" "$m"
		is "$rc" 0 "$m fits --kernel $KVER"
		like "$TMP/out" "^$m: fits $KVER\$" "$m: says it fits"
		run "$DRVKIT" check --headers "/lib/modules/$KVER/build" "$m"
		is "$rc" 0 "$m fits --headers /lib/modules/$KVER/build"
	done
	run "$DRVKIT" check --kernel "$KVER" dktest_user.ko dktest_export.ko dktest_params.ko
	is "$rc" 0 "all three together fit"
	is "$(grep -c ": fits $KVER\$" "$TMP/out")" 3 "each of the three says it fits"
}
tcase "fitting modules" case_fit

# dktest_user needs dktest_export_add, which only dktest_export.ko exports
case_unknown_symbol() {
	use_fixture
	run "$DRVKIT" check --kernel "$KVER" dktest_user.ko
	is "$rc" 1 "dktest_user.ko alone does not fit (exit 1)"
	like "$TMP/out" "^dktest_user.ko: unknown symbol dktest_export_add" "names the missing symbol"
	like "$TMP/out" "^dktest_user.ko: does not fit $KVER \(1 problem\)" "says it does not fit"
	run "$DRVKIT" check --kernel "$KVER" dktest_user.ko dktest_export.ko
	is "$rc" 0 "dktest_user.ko with dktest_export.ko fits"
}
tcase "unknown symbol" case_unknown_symbol

# --- CRC mismatches ---
case_crc() {
	use_fixture
	edit crc dktest_params.ko crc-printk.ko _printk 0x12345678
	want=$(awk '$2 == "_printk" && $3 == "vmlinux" { print $1 }' "/lib/modules/$KVER/build/Module.symvers")
	run "$DRVKIT" check --kernel "$KVER" crc-printk.ko
	is "$rc" 1 "_printk CRC changed: exit 1"
	like "$TMP/out" "^crc-printk.ko: CRC mismatch for _printk: module 0x12345678, kernel $want\$" \
		"names _printk with both CRCs"
	edit crc dktest_params.ko crc-layout.ko module_layout 0xdeadbeef
	run "$DRVKIT" check --kernel "$KVER" crc-layout.ko
	is "$rc" 1 "module_layout CRC changed: exit 1"
	like "$TMP/out" "CRC mismatch for module_layout: module 0xdeadbeef" "names module_layout"
	run "$DRVKIT" check --json --kernel "$KVER" crc-layout.ko dktest_export.ko
	is "$rc" 1 "JSON: exit 1 as well"
	t "JSON: fits false, one crc problem for module_layout, the other module fits" \
		python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["fits"] is False and d["kernel"]["modversions"] is True, d
m = d["modules"]
assert m[0]["fits"] is False and m[1]["fits"] is True, m
p = m[0]["problems"]
assert len(p) == 1 and p[0]["kind"] == "crc" and p[0]["symbol"] == "module_layout", p
assert p[0]["module_crc"] == "0xdeadbeef" and p[0]["provider"] == "vmlinux", p
' "$TMP/out"
}
tcase "CRC mismatches" case_crc

# an export's CRC in another file on the command line (__kcrctab_gpl of dktest_export)
case_export_crc() {
	use_fixture
	edit u32 dktest_export.ko export-crc.ko __kcrctab_gpl 0 0x0badf00d
	run "$DRVKIT" check --kernel "$KVER" dktest_user.ko export-crc.ko
	is "$rc" 1 "export's CRC changed in the providing module: exit 1"
	like "$TMP/out" "^dktest_user.ko: CRC mismatch for dktest_export_add: module 0x[0-9a-f]{8}, kernel 0x0badf00d from .*export-crc.ko" \
		"names dktest_export_add and the providing file"
}
tcase "an export's CRC in another module" case_export_crc

# --- vermagic ---
case_vermagic() {
	use_fixture
	edit modinfo dktest_params.ko vm-flags.ko " SMP preempt " " SMP preemqt "
	run "$DRVKIT" check --kernel "$KVER" vm-flags.ko
	is "$rc" 1 "vermagic flags edited: exit 1"
	like "$TMP/out" "^vm-flags.ko: vermagic mismatch: module '$KVER SMP preemqt mod_unload" "names vermagic"
	other=$(echo "$KVER" | sed 's/^\(.\)/9/')
	edit modinfo dktest_params.ko vm-release.ko "vermagic=$KVER " "vermagic=$other "
	run "$DRVKIT" check --kernel "$KVER" vm-release.ko
	is "$rc" 0 "only the release differs: still fits (modversions)"
	like "$TMP/out" "^vm-release.ko: note: built for release $other" "notes the release difference"
}
tcase "vermagic" case_vermagic

# --- GPL-only symbols ---
case_gpl() {
	use_fixture
	edit modinfo dktest_user.ko user-mit.ko "license=GPL" "license=MIT"
	run "$DRVKIT" check --kernel "$KVER" user-mit.ko dktest_export.ko
	is "$rc" 1 "non-GPL module using a GPL-only export: exit 1"
	like "$TMP/out" "dktest_export_add is GPL-only" "names the GPL-only symbol"
}
tcase "GPL-only symbols" case_gpl

# --- host root: absolute symlinks resolved inside it ---
case_host_root() {
	use_fixture
	fake=6.1.0-99-drvkit-test
	H=root/usr/src/linux-headers-$fake
	mkdir -p "$H/include/generated" "root/lib/modules/$fake"
	cp "/lib/modules/$KVER/build/.config" "/lib/modules/$KVER/build/Module.symvers" "$H/"
	echo "#define UTS_RELEASE \"$fake\"" >"$H/include/generated/utsrelease.h"
	ln -s "/usr/src/linux-headers-$fake" "root/lib/modules/$fake/build"
	run "$DRVKIT" check --host-root "$TMP/root" --kernel "$fake" dktest_params.ko
	is "$rc" 0 "--host-root: absolute build link resolved inside the root"
	like "$TMP/out" "fits $fake" "checked against the release from utsrelease.h"
	rm "$H/Module.symvers"
	run "$DRVKIT" check --host-root "$TMP/root" --kernel "$fake" dktest_params.ko
	is "$rc" 4 "--host-root: headers without Module.symvers: exit 4"
	like "$TMP/err" "without Module.symvers" "says Module.symvers is missing"
}
tcase "host root" case_host_root

# --- Module.symvers with a malformed line ---
case_bad_symvers() {
	use_fixture
	S=hdr-bad
	mkdir -p "$S/include/generated"
	cp "/lib/modules/$KVER/build/.config" "/lib/modules/$KVER/build/include/generated/utsrelease.h" "$S/" 2>/dev/null || true
	mv "$S/utsrelease.h" "$S/include/generated/"
	printf '0x92997ed8\t_printk\tvmlinux\tEXPORT_SYMBOL\t\n0x9060323f\tmodule_layout\tvmlinux\tEXPORT_SYMBOL\t\nzz\tbroken\tvmlinux\tEXPORT_SYMBOL\t\n' >"$S/Module.symvers"
	run "$DRVKIT" check --headers "$S" dktest_params.ko
	is "$rc" 3 "malformed Module.symvers: exit 3"
	like "$TMP/err" "Module.symvers:3: bad CRC 'zz'" "error names file:line"
}
tcase "malformed Module.symvers" case_bad_symvers

# --- headers not found ---
case_no_headers() {
	use_fixture
	run "$DRVKIT" check --kernel 0.0.0-nonexistent dktest_params.ko
	is "$rc" 4 "unknown kernel: exit 4"
	like "$TMP/err" "looked in /lib/modules/0.0.0-nonexistent/build, /usr/src/linux-headers-0.0.0-nonexistent, /usr/src/kernels/0.0.0-nonexistent" \
		"says where it looked"
	# the package of this machine's distribution only (tests/cli/preflight.sh: others)
	if grep -Eq '^ID(_LIKE)?=.*(debian|ubuntu)' /etc/os-release 2>/dev/null; then
		like "$TMP/err" "install linux-headers-0.0.0-nonexistent for exactly this release" \
			"says what to install"
		unlike "$TMP/err" "kernel-devel|SUSE" "and names no other distribution's package"
	else
		like "$TMP/err" "install .*0.0.0-nonexistent" "says what to install"
		ok 0 "(not a Debian-family machine)"
	fi
	run "$DRVKIT" check --headers "$TMP/nonexistent" dktest_params.ko
	is "$rc" 4 "--headers DIR missing: exit 4"
}
tcase "headers not found" case_no_headers

# --- bad input and usage ---
case_usage() {
	use_fixture
	: >empty.ko
	run "$DRVKIT" check --kernel "$KVER" dktest_params.ko empty.ko
	is "$rc" 3 "an empty module file: exit 3"
	like "$TMP/err" "empty.ko: not an ELF file" "names the bad file"
	run "$DRVKIT" check --kernel "$KVER" missing.ko
	is "$rc" 4 "a missing module file: exit 4"
	run "$DRVKIT" check dktest_params.ko
	is "$rc" 2 "neither --kernel nor --headers: exit 2"
	run "$DRVKIT" check --kernel "$KVER" --headers /tmp dktest_params.ko
	is "$rc" 2 "both --kernel and --headers: exit 2"
	run "$DRVKIT" check --kernel "$KVER"
	is "$rc" 2 "no module: exit 2"
	run "$DRVKIT" check --help
	is "$rc" 0 "--help: exit 0"
	unlike "$TMP/err" "AddressSanitizer|runtime error" "no sanitizer report"
}
tcase "bad input and usage" case_usage

# A module whose symbol table points into a __kcrctab_gpl outside the file (was SIGSEGV).
case_crafted_crc() {
	python3 "$DK_SRCDIR/tests/mkmod.py" crc.ko --kcrctab-offset 4294967296
	run "$DRVKIT" check --kernel "$KVER" crc.ko
	is "$rc" 3 "__kcrctab outside the file: exit 3 (was SIGSEGV)"
	like "$TMP/err" "^drvkit check: .*crc.ko: .*section __kcrctab_gpl \(offset 4294967296, size 4\) does not fit" \
		"__kcrctab outside the file: names the file and the section"
}
tcase "crafted __kcrctab" case_crafted_crc

done_testing
