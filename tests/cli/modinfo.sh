#!/bin/bash
# drvkit modinfo against kmod's modinfo on real modules built from tests/modules,
# a signed copy, a copy with crafted .modinfo, and broken files.
. "$(dirname "$0")/../lib.sh"

KMOD_MODINFO=/usr/sbin/modinfo
need_modules
SIGN_FILE=$(ls /usr/lib/linux-kbuild-*/scripts/sign-file 2>/dev/null | sort -V | tail -n1)
MODULES="dktest_params.ko dktest_export.ko dktest_user.ko signed.ko signed-keyid.ko crafted.ko"
FIELDS="filename license version description author alias srcversion depends retpoline
name vermagic parm sig_id signer sig_key sig_hashalgo signature noeq k"

# The fixture, copied into each case's $TMP (its cwd): the modules, signed and crafted copies.
case_fixture() {
	TMP=$FIX
	cp "$MODS"/dktest_params.ko "$MODS"/dktest_export.ko "$MODS"/dktest_user.ko "$TMP"/

	# A signed copy (sign-file from linux-kbuild, a throwaway key).
	openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 -subj "/CN=drvkit test" \
		-newkey rsa:2048 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
	cp "$TMP/dktest_params.ko" "$TMP/signed.ko"
	"$SIGN_FILE" sha256 "$TMP/key.pem" "$TMP/cert.pem" "$TMP/signed.ko"
	# signed by subject key id (-k): kmod shows no signature fields
	cp "$TMP/dktest_params.ko" "$TMP/signed-keyid.ko"
	"$SIGN_FILE" -k sha256 "$TMP/key.pem" "$TMP/cert.pem" "$TMP/signed-keyid.ko"

	# A copy whose .modinfo exercises kmod's corner cases: parmtype without parm, parm
	# without type, a parm without ':', repeated keys, no '=', an empty key, a long key.
	printf 'alias=a1\0parmtype=t1:int\0parm=p1:desc one\0parm=p2\0parmtype=p3:\0parm=p4:\0alias=a2\0noeq\0=emptykey\0k=v=w\0averyveryverylongkeyname=x\0\0\0name=crafted\0parmtype=p4:uint\0' >"$TMP/mi.bin"
	objcopy --update-section .modinfo="$TMP/mi.bin" "$TMP/dktest_params.ko" "$TMP/crafted.ko"
}
tcase "fixture" case_fixture

case_kmod_equal() { # case_kmod_equal MODULE: text and every -F field equal kmod's
	local m=$1 f
	use_fixture
	"$KMOD_MODINFO" "$m" >kmod.out 2>/dev/null
	run "$DRVKIT" modinfo "$m"
	if diff -u kmod.out "$TMP/out" >diff.out; then ok 0 "$m: text output equals kmod's"; else
		ok 1 "$m: text output equals kmod's"
		sed 's/^/#   /' diff.out
	fi
	for f in $FIELDS; do
		"$KMOD_MODINFO" -F "$f" "$m" >kmod.out 2>/dev/null
		run "$DRVKIT" modinfo -F "$f" "$m"
		if [ "$rc" -eq 0 ] && cmp -s kmod.out "$TMP/out"; then
			ok 0 "$m: -F $f equals kmod's"
		else
			ok 1 "$m: -F $f equals kmod's (rc $rc)"
			diff -u kmod.out "$TMP/out" | sed 's/^/#   /' || true
		fi
	done
}
for m in $MODULES; do
	tcase "$m: equals kmod" case_kmod_equal "$m"
done

case_crafted() {
	use_fixture
	run "$DRVKIT" modinfo crafted.ko
	like "$TMP/err" 'crafted.ko: invalid "parm=p2": missing' "crafted.ko: warns about parm=p2 like kmod"
	run "$DRVKIT" modinfo --json signed-keyid.ko
	t "signed-keyid.ko: JSON signature present, undescribed, with sig_len" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["signature"]
assert s["sig_len"] > 0 and s["sig_id"] is None and "error" in s, s' "$TMP/out"
}
tcase "crafted .modinfo and a key-id signature" case_crafted

# Absolute paths as given, relative ones joined to the cwd (no normalisation).
case_paths() {
	use_fixture
	for arg in ./dktest_params.ko "$TMP//dktest_params.ko" ../"$(basename "$TMP")"/signed.ko; do
		"$KMOD_MODINFO" -n "$arg" >kmod.out
		run "$DRVKIT" modinfo -F filename "$arg"
		is "$(cat "$TMP/out")" "$(cat kmod.out)" "filename for $arg equals kmod's"
	done
}
tcase "filename of relative and absolute paths" case_paths

# Several files: each in turn, like kmod.
case_several() {
	use_fixture
	"$KMOD_MODINFO" $MODULES >kmod.out 2>/dev/null
	run "$DRVKIT" modinfo $MODULES
	t "several files: output equals kmod's" cmp -s kmod.out "$TMP/out"
}
tcase "several files" case_several

# The checker can fail: a different module's output must differ.
case_differs() {
	use_fixture
	"$KMOD_MODINFO" dktest_export.ko >kmod.out
	run "$DRVKIT" modinfo dktest_params.ko
	differs() { ! cmp -s "$1" "$2"; }
	t "comparison detects a difference" differs kmod.out "$TMP/out"
}
tcase "the comparison can fail" case_differs

# JSON: parses; versions_count equals __versions size / 64; signature matches kmod.
versions_count() { # FILE -> number of 64-byte __versions entries per readelf
	local sz
	sz=$(readelf -SW "$1" |
		sed -n 's/.*\] __versions *PROGBITS *[0-9a-f]* [0-9a-f]* \([0-9a-f]*\) .*/\1/p')
	echo $((16#$sz / 64))
}
case_json() {
	use_fixture
	for m in $MODULES; do
		run "$DRVKIT" modinfo --json "$m"
		want=$(versions_count "$m")
		got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["versions_count"]) if len(d["versions"]) == d["versions_count"] else print("inconsistent")' "$TMP/out" 2>&1)
		is "$got" "$want" "$m: JSON parses, versions_count = readelf __versions size / 64 ($want)"
	done
	run "$DRVKIT" modinfo --json dktest_params.ko
	t "JSON fields, params, versions of dktest_params.ko" python3 - "$TMP/out" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["filename"].endswith("/dktest_params.ko"), d["filename"]
f = d["fields"]
assert f["license"] == "GPL" and f["version"] == "1.2.3", f
assert f["depends"] == "" and f["name"] == "dktest_params", f
assert isinstance(f["parm"], list) and len(f["parm"]) == 3, f
assert [p["name"] for p in d["params"]] == ["enable", "label", "count"], d["params"]
assert d["params"][2] == {"name": "count", "description": "How many widgets", "type": "int"}
assert d["signature"] is None
syms = [v["symbol"] for v in d["versions"]]
assert "module_layout" in syms and "_printk" in syms, syms
EOF
	run "$DRVKIT" modinfo --json signed.ko
	for f in signer sig_key sig_hashalgo; do
		want=$("$KMOD_MODINFO" -F "$f" signed.ko)
		got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signature"][sys.argv[2]])' "$TMP/out" "$f")
		is "$got" "$want" "JSON signature.$f equals kmod's"
	done
	want=$("$KMOD_MODINFO" -F signature signed.ko | tr -d '\n\t')
	got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["signature"]["signature"])' "$TMP/out")
	is "$got" "$want" "JSON signature.signature equals kmod's, unwrapped"
	run "$DRVKIT" modinfo --json dktest_params.ko signed.ko
	got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d), d[1]["signature"]["sig_id"])' "$TMP/out")
	is "$got" "2 PKCS#7" "JSON for two files is an array"
}
tcase "JSON" case_json

# Bad input: exit code and a message naming the file. Under ASan a crash fails here.
bad() { # bad FILE WANT_RC REGEX DESC
	run "$DRVKIT" modinfo "$1"
	is "$rc" "$2" "$4: exit $2"
	like "$TMP/err" "^drvkit modinfo: .*$(basename "$1").*$3" "$4: message names the file and says why"
	unlike "$TMP/err" "AddressSanitizer|runtime error" "$4: no sanitizer report"
	t "$4: nothing on stdout" test ! -s "$TMP/out"
}
case_bad_text() {
	use_fixture
	: >empty.ko
	bad empty.ko 3 "not an ELF file" "empty file"
	echo "hello, I am text" >text.ko
	bad text.ko 3 "not an ELF file" "text file"
}
tcase "empty and text files" case_bad_text
case_bad_truncated() {
	use_fixture
	size=$(stat -c %s dktest_params.ko)
	for cut in 4 10 40 63 64 200 1000 $((size / 2)) $((size - 100)) $((size - 1)); do
		head -c "$cut" dktest_params.ko >"trunc-$cut.ko"
		bad "trunc-$cut.ko" 3 "not an ELF|truncated|bad" "truncated at $cut bytes"
	done
}
tcase "truncated files" case_bad_truncated
# 32-bit: EI_CLASS set to ELFCLASS32 in a copy
case_bad_elf32() {
	use_fixture
	cp dktest_params.ko elf32.ko
	printf '\001' | dd of=elf32.ko bs=1 seek=4 conv=notrunc status=none
	bad elf32.ko 3 "32-bit" "32-bit ELF"
}
tcase "32-bit ELF" case_bad_elf32
# an ELF that is not a module: a regular object without .modinfo
case_bad_obj() {
	use_fixture
	echo 'int x;' >obj.c
	gcc -c obj.c -o obj.ko
	bad obj.ko 3 "no .modinfo" "ELF object without .modinfo"
}
tcase "ELF object without .modinfo" case_bad_obj
# signed, then the signature trailer corrupted (sig_len larger than the file)
case_bad_sig() {
	use_fixture
	cp signed.ko badsig.ko
	sz=$(stat -c %s badsig.ko)
	printf '\177\377\377\377' | dd of=badsig.ko bs=1 seek=$((sz - 28 - 4)) conv=notrunc status=none
	bad badsig.ko 3 "signature" "corrupt signature trailer"
}
tcase "corrupt signature trailer" case_bad_sig
# Section headers intact but a section pointing outside the file, and a __versions
# whose size is not a multiple of 64 (section headers patched in copies).
patch_shdr() { # IN OUT SECTION offset|size VALUE
	python3 - "$@" <<'EOF'
import struct, sys
src, dst, name, field, value = sys.argv[1:6]
b = bytearray(open(src, "rb").read())
shoff, = struct.unpack_from("<Q", b, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", b, 0x3a)
def sh(i): return shoff + i * shentsize
stroff, = struct.unpack_from("<Q", b, sh(shstrndx) + 0x18)
for i in range(shnum):
    nm, = struct.unpack_from("<I", b, sh(i))
    end = b.index(b"\0", stroff + nm)
    if b[stroff + nm:end].decode() == name:
        struct.pack_into("<Q", b, sh(i) + (0x18 if field == "offset" else 0x20), int(value, 0))
open(dst, "wb").write(b)
EOF
}
case_bad_sections() {
	use_fixture
	patch_shdr dktest_params.ko bigsec.ko .modinfo size 0x7fffffff
	bad bigsec.ko 3 "section \.modinfo \(offset [0-9]+, size 2147483647\) does not fit in the [0-9]+ bytes" \
		"section larger than the file"
	patch_shdr dktest_params.ko faroff.ko __versions offset 0x10000000
	bad faroff.ko 3 "section __versions \(offset 268435456, size [0-9]+\) does not fit" \
		"section offset outside the file"
	patch_shdr dktest_params.ko vers65.ko __versions size 65
	bad vers65.ko 3 "__versions is 65 bytes" "__versions size not a multiple of 64"
}
tcase "sections outside the file" case_bad_sections
case_bad_missing() {
	bad missing.ko 4 "No such file" "missing file"
	mkdir dir.ko
	bad dir.ko 3 "directory" "a directory"
}
tcase "missing file, directory" case_bad_missing

case_usage() {
	use_fixture
	run "$DRVKIT" modinfo
	is "$rc" 2 "no file: usage error (exit 2)"
	run "$DRVKIT" modinfo --bogus dktest_params.ko
	is "$rc" 2 "unknown option: exit 2"
	run "$DRVKIT" modinfo --help
	is "$rc" 0 "--help: exit 0"
	like "$TMP/out" "Usage: drvkit modinfo" "--help prints usage"
}
tcase "usage" case_usage

# Crafted module files (tests/mkmod.py writes them from scratch; the symbol table comes
# before the sections it points into).
MKMOD=$DK_SRCDIR/tests/mkmod.py
case_crafted_sections() {
	python3 "$MKMOD" gen.ko
	run "$DRVKIT" modinfo -F name gen.ko
	is "$rc:$(cat "$TMP/out")" "0:dktest_gen" "generated module: modinfo reads it"
	# __crc_ symbol read through a __kcrctab_gpl whose offset lies outside the file
	python3 "$MKMOD" crc.ko --kcrctab-offset 4294967296
	bad crc.ko 3 "section __kcrctab_gpl \(offset 4294967296, size 4\) does not fit in the [0-9]+ bytes" \
		"__kcrctab outside the file (was SIGSEGV)"
	run "$DRVKIT" modinfo --json crc.ko
	is "$rc" 3 "__kcrctab outside the file: --json exits 3"
	# offset + size wraps around 2^64
	python3 "$MKMOD" wrap.ko --modinfo-size 18446744073709551600
	bad wrap.ko 3 "section \.modinfo \(offset [0-9]+, size 18446744073709551600\) does not fit in the [0-9]+ bytes" \
		"huge .modinfo sh_size"
	unlike "$TMP/err" "ends at" "huge .modinfo sh_size: no wrapped end offset"
	# found by the fuzzer (tests/fuzz/corpus/modfile): a second __versions leaked the first
	cp "$DK_SRCDIR/tests/fuzz/corpus/modfile/regress-leak-two-versions-sections" two.ko
	bad two.ko 3 "two __versions sections: a module has one" "two __versions sections refused"
}
tcase "crafted section headers" case_crafted_sections

# Many aliases or parameters: the renderer is n log n (was n^2: 20 000 took 6-13 s).
ms_now() { echo $(($(date +%s%N) / 1000000)); }
fast() { # fast MAX_MS DESC ARGS...: drvkit modinfo ARGS exits 0 within MAX_MS
	local max=$1 desc=$2 t0 ms
	shift 2
	t0=$(ms_now)
	run "$DRVKIT" modinfo "$@"
	ms=$(($(ms_now) - t0))
	diag "$desc: ${ms} ms"
	is "$rc" 0 "$desc: exit 0"
	t "$desc: within $max ms (took $ms)" test "$ms" -lt "$max"
}
case_many() {
	python3 "$MKMOD" aliases.ko --aliases 20000
	python3 "$MKMOD" params.ko --params 20000
	python3 "$MKMOD" both.ko --aliases 100000 --params 100000
	fast 2000 "20 000 aliases" aliases.ko
	is "$(grep -c '^alias:' "$TMP/out")" 20000 "20 000 aliases: all shown"
	fast 2000 "20 000 aliases, JSON" --json aliases.ko
	fast 2000 "20 000 parameters" params.ko
	is "$(grep -c '^parm:' "$TMP/out")" 20000 "20 000 parameters: all shown"
	is "$(grep '^parm:' "$TMP/out" | head -n1)" "parm:           p19999:parameter 19999 (int)" \
		"20 000 parameters: newest first, like kmod"
	fast 2000 "20 000 parameters, -F parm" -F parm params.ko
	fast 2000 "20 000 parameters, JSON" --json params.ko
	t "20 000 parameters, JSON: in file order, merged" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
p = d["params"]
assert len(p) == 20000 and p[0] == {"name": "p0", "description": "parameter 0", "type": "int"}, p[:2]
assert len(d["fields"]["parm"]) == 20000 and d["fields"]["parm"][1] == "p1:parameter 1"' "$TMP/out"
	fast 5000 "100 000 aliases and 100 000 parameters" both.ko
	fast 5000 "100 000 aliases and 100 000 parameters, JSON" --json both.ko
	if [ -x "$KMOD_MODINFO" ]; then
		"$KMOD_MODINFO" params.ko >kmod.out 2>/dev/null
		run "$DRVKIT" modinfo params.ko
		t "20 000 parameters: text equals kmod's" cmp -s kmod.out "$TMP/out"
	fi
}
tcase "many aliases and parameters" case_many

done_testing
