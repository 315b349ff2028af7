#!/bin/bash
# drvkit sign / verify / unsign against the kernel's own scripts/sign-file, on real
# modules built from tests/modules, with keys generated here by openssl.
. "$(dirname "$0")/../lib.sh"

SIGN_FILE=${SIGN_FILE:-/usr/lib/linux-kbuild-6.1/scripts/sign-file}
if [ ! -x "$SIGN_FILE" ] || ! command -v openssl >/dev/null; then
	skip "sign-file ($SIGN_FILE) or openssl missing (install linux-kbuild-6.1, openssl)"
	done_testing
	exit
fi
need_modules
MODLIST="dktest_params dktest_user dktest_export"
K=$FIX/keys          # the fixture: keys and SIGNED (sign-file output), read by every case
SIGNED=$FIX/signed.ko
PASS='c0rrect horse'
ALL=$TMP/all-output.log # every drvkit stdout/stderr, checked for key material at the end
: >"$ALL"
# work: the case's scratch directory $W
work() {
	W=$TMP/work
	mkdir -p "$W"
}

# t DESC CMD...: one TAP point for a command's success.
t() {
	local d=$1
	shift
	if "$@" >/dev/null 2>&1; then ok 0 "$d"; else ok 1 "$d"; fi
}
# drv ARGS...: runs drvkit (stdin closed: nothing may prompt), output in $TMP/{out,err}.
drv() {
	run "$DRVKIT" "$@" </dev/null
	cat "$TMP/out" "$TMP/err" >>"$ALL"
}
# flip FILE OFFSET: inverts one byte; a negative offset counts from the end.
flip() {
	python3 - "$1" "$2" <<'EOF'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read())
b[off] ^= 0xff
open(p, 'wb').write(b)
EOF
}
# set_siglen FILE N: rewrites the be32 sig_len of the trailer.
set_siglen() {
	python3 - "$1" "$2" <<'EOF'
import sys, struct
p, n = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read())
b[-28 - 4:-28] = struct.pack('>I', n)
open(p, 'wb').write(b)
EOF
}
# sigfile_sign HASH KEY CERT IN OUT: what users' scripts do.
sigfile_sign() {
	cp "$4" "$5"
	"$SIGN_FILE" "$1" "$2" "$3" "$5"
}

# --- keys -------------------------------------------------------------------
case_fixture() {
	mkdir -p "$K"
	gen_cert() { # gen_cert NAME CN openssl-req-newkey-args...
		local n=$1 cn=$2
		shift 2
		openssl req -new -x509 -nodes -days 30 -subj "/CN=$cn" "$@" \
			-keyout "$K/$n.key" -out "$K/$n.crt" 2>/dev/null
		chmod 600 "$K/$n.key"
	}
	gen_cert rsa2048 "drvkit rsa2048" -newkey rsa:2048
	gen_cert rsa4096 "drvkit rsa4096" -newkey rsa:4096
	gen_cert other "drvkit other" -newkey rsa:2048
	gen_cert p256 "drvkit p256" -newkey ec -pkeyopt ec_paramgen_curve:P-256
	gen_cert p384 "drvkit p384" -newkey ec -pkeyopt ec_paramgen_curve:P-384
	openssl x509 -in "$K/rsa2048.crt" -outform DER -out "$K/rsa2048.der"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes-256-cbc \
		-pass "pass:$PASS" -out "$K/enc.key" 2>/dev/null
	chmod 600 "$K/enc.key"
	openssl req -new -x509 -days 30 -subj "/CN=drvkit encrypted" -key "$K/enc.key" \
		-passin "pass:$PASS" -out "$K/enc.crt"
	printf '%s\n' "$PASS" >"$K/pass.txt"
	printf 'wrong\n' >"$K/wrongpass.txt"
	t "test keys generated" test -s "$K/rsa2048.key" -a -s "$K/p384.crt" -a -s "$K/enc.crt" \
		-a -s "$K/rsa2048.der"
	sigfile_sign sha256 "$K/rsa2048.key" "$K/rsa2048.crt" "$MODS/dktest_params.ko" "$SIGNED"
}
tcase "fixture: keys and a signed module" case_fixture

# --- byte comparison with sign-file -------------------------------------------
case_bytes() { # case_bytes MODULE
	local m=$1 h c
	work
	for h in sha256 sha384 sha512; do
		for c in crt der; do
			sigfile_sign "$h" "$K/rsa2048.key" "$K/rsa2048.$c" "$MODS/$m.ko" "$W/ref.ko"
			cp "$MODS/$m.ko" "$W/dk.ko"
			drv sign --key "$K/rsa2048.key" --cert "$K/rsa2048.$c" --hash "$h" "$W/dk.ko"
			is "$rc" 0 "sign $m $h ($c cert) exits 0"
			t "sign $m $h ($c cert) equals sign-file byte for byte" cmp "$W/ref.ko" "$W/dk.ko"
		done
	done
	sigfile_sign sha256 "$K/rsa4096.key" "$K/rsa4096.crt" "$MODS/$m.ko" "$W/ref.ko"
	cp "$MODS/$m.ko" "$W/dk.ko"
	drv sign --key "$K/rsa4096.key" --cert "$K/rsa4096.crt" "$W/dk.ko"
	t "sign $m with RSA 4096 equals sign-file" cmp "$W/ref.ko" "$W/dk.ko"
}
for m in $MODLIST; do
	tcase "$m: bytes equal sign-file's" case_bytes "$m"
done

# sign -o leaves the input alone
case_sign_o() {
	work
	cp "$MODS/dktest_user.ko" "$W/in.ko"
	drv sign --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" -o "$W/out.ko" "$W/in.ko"
	sigfile_sign sha256 "$K/rsa2048.key" "$K/rsa2048.crt" "$MODS/dktest_user.ko" "$W/ref.ko"
	t "sign -o: output equals sign-file" cmp "$W/ref.ko" "$W/out.ko"
	t "sign -o: input untouched" cmp "$MODS/dktest_user.ko" "$W/in.ko"
	drv sign --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" -o "$W/out.ko" "$W/in.ko" "$W/ref.ko"
	is "$rc" 2 "sign -o with two inputs is a usage error"
	drv sign --cert "$K/rsa2048.crt" "$W/in.ko"
	is "$rc" 2 "sign without --key is a usage error"
	drv sign --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" --hash md5 "$W/in.ko"
	is "$rc" 2 "sign --hash md5 is a usage error"
}
tcase "sign -o and usage" case_sign_o

# encrypted key: KBUILD_SIGN_PIN for sign-file, never argv for drvkit
case_encrypted() {
	work
	KBUILD_SIGN_PIN=$PASS sigfile_sign sha256 "$K/enc.key" "$K/enc.crt" "$MODS/dktest_params.ko" "$W/ref.ko"
	cp "$MODS/dktest_params.ko" "$W/dk.ko"
	DK_TEST_PIN=$PASS drv sign --key "$K/enc.key" --cert "$K/enc.crt" --passphrase-env DK_TEST_PIN "$W/dk.ko"
	is "$rc" 0 "sign with encrypted key (--passphrase-env) exits 0"
	t "encrypted key via --passphrase-env equals sign-file (KBUILD_SIGN_PIN)" cmp "$W/ref.ko" "$W/dk.ko"
	cp "$MODS/dktest_params.ko" "$W/dk.ko"
	drv sign --key "$K/enc.key" --cert "$K/enc.crt" --passphrase-file "$K/pass.txt" "$W/dk.ko"
	t "encrypted key via --passphrase-file equals sign-file" cmp "$W/ref.ko" "$W/dk.ko"
}
tcase "encrypted key" case_encrypted

# --- modinfo -------------------------------------------------------------------
case_modinfo() {
	work
	cp "$MODS/dktest_export.ko" "$W/mi.ko"
	drv sign --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" --hash sha384 "$W/mi.ko"
	is "$(/usr/sbin/modinfo -F signer "$W/mi.ko")" "drvkit rsa2048" "modinfo shows the signer CN"
	is "$(/usr/sbin/modinfo -F sig_hashalgo "$W/mi.ko")" "sha384" "modinfo shows the hash"
	serial=$(openssl x509 -in "$K/rsa2048.crt" -noout -serial | cut -d= -f2 | sed 's/../&:/g;s/:$//')
	is "$(/usr/sbin/modinfo -F sig_key "$W/mi.ko")" "$serial" "modinfo sig_key is the cert serial"
}
tcase "modinfo of a drvkit-signed module" case_modinfo

# --- verify ----------------------------------------------------------------------
case_verify() {
	work
	cp "$MODS/dktest_export.ko" "$W/mi.ko"
	drv sign --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" --hash sha384 "$W/mi.ko"
	serial=$(openssl x509 -in "$K/rsa2048.crt" -noout -serial | cut -d= -f2 | sed 's/../&:/g;s/:$//')
	drv verify --cert "$K/rsa2048.crt" "$SIGNED"
	is "$rc" 0 "verify: sign-file output verifies"
	like "$TMP/out" "signed.ko: OK \(signer drvkit rsa2048, sha256\)" "verify: OK line names signer and hash"
	drv verify --cert "$K/rsa2048.der" "$SIGNED" "$W/mi.ko"
	is "$rc" 0 "verify: DER certificate, two files"
	drv verify --cert "$K/rsa2048.crt" "$MODS/dktest_params.ko"
	is "$rc" 1 "verify: unsigned exits 1"
	like "$TMP/out" ": unsigned$" "verify: says unsigned"
	drv verify --cert "$K/other.crt" "$SIGNED"
	is "$rc" 1 "verify: wrong certificate exits 1"
	like "$TMP/out" "signed by another key \(signer \"drvkit rsa2048\", serial $serial; certificate is \"drvkit other\"" \
		"verify: wrong certificate says another key, names both"
	drv verify --cert "$K/rsa2048.crt" "$SIGNED" "$MODS/dktest_user.ko"
	is "$rc" 1 "verify: one bad file of two exits 1"
}
tcase "verify" case_verify

case_verify_damaged() {
	work
	cp "$SIGNED" "$W/body.ko"
	flip "$W/body.ko" 200
	drv verify --cert "$K/rsa2048.crt" "$W/body.ko"
	is "$rc" 1 "verify: flipped module byte exits 1"
	like "$TMP/out" "does not match the module contents" "verify: flipped module byte says does not match"

	cp "$SIGNED" "$W/sigbyte.ko"
	flip "$W/sigbyte.ko" -60 # inside the RSA signature value at the end of the DER blob
	drv verify --cert "$K/rsa2048.crt" "$W/sigbyte.ko"
	is "$rc" 1 "verify: flipped signature byte exits 1"
	like "$TMP/out" "sigbyte.ko: (signature does not match|malformed)" "verify: flipped signature byte has a clear message"

	siglen=$(python3 -c "import sys,struct;b=open(sys.argv[1],'rb').read();print(struct.unpack('>I',b[-32:-28])[0])" "$SIGNED")
	cp "$SIGNED" "$W/sighead.ko"
	size=$(stat -c %s "$SIGNED")
	flip "$W/sighead.ko" $((size - 40 - siglen)) # the DER SEQUENCE tag
	drv verify --cert "$K/rsa2048.crt" "$W/sighead.ko"
	is "$rc" 1 "verify: damaged DER header exits 1"
	like "$TMP/out" "sighead.ko: malformed signature trailer: .*PKCS#7" "verify: damaged DER says malformed"
}
tcase "verify damaged signatures" case_verify_damaged

case_verify_truncated() {
	work
	size=$(stat -c %s "$SIGNED")
	for cut in 1 12 28 29 40 41 100; do
		head -c $((size - cut)) "$SIGNED" >"$W/trunc.ko"
		drv verify --cert "$K/rsa2048.crt" "$W/trunc.ko"
		is "$rc" 1 "verify: file cut by $cut bytes exits 1 (no crash)"
		like "$TMP/out" "trunc.ko: (unsigned|malformed signature trailer: .+|signature does not match.*)$" \
			"verify: file cut by $cut bytes gets a verdict"
		case $cut in
		1 | 12 | 28)
			like "$TMP/out" "trunc.ko: malformed signature trailer: .*truncated" \
				"verify: file cut by $cut bytes is called truncated"
			drv sign --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" --resign "$W/trunc.ko"
			is "$rc" 3 "sign --resign of a file cut by $cut bytes is refused (exit 3)"
			;;
		esac
	done
	tail -c 40 "$SIGNED" >"$W/onlytrailer.ko"
	drv verify --cert "$K/rsa2048.crt" "$W/onlytrailer.ko"
	like "$TMP/out" "malformed signature trailer" "verify: bare trailer is malformed (rc $rc)"
}
tcase "verify truncated files" case_verify_truncated

case_siglen() {
	work
	cp "$SIGNED" "$W/siglen.ko"
	set_siglen "$W/siglen.ko" 2147483647
	drv verify --cert "$K/rsa2048.crt" "$W/siglen.ko"
	is "$rc" 1 "verify: sig_len outside the file exits 1"
	like "$TMP/out" "siglen.ko: malformed signature trailer: .*claims 2147483647" "verify: sig_len outside the file says malformed"
	drv unsign "$W/siglen.ko"
	is "$rc" 3 "unsign: malformed trailer exits 3"
	like "$TMP/err" "siglen.ko" "unsign: malformed trailer names the file"
}
tcase "sig_len outside the file" case_siglen

case_siglen_zero() {
	work
	cp "$SIGNED" "$W/zero.ko"
	set_siglen "$W/zero.ko" 0
	cp "$W/zero.ko" "$W/zero.orig"
	drv verify --cert "$K/rsa2048.crt" "$W/zero.ko"
	is "$rc" 1 "verify: sig_len 0 exits 1"
	like "$TMP/out" "zero.ko: malformed signature trailer: .*empty \\(0-byte\\) signature" \
		"verify: sig_len 0 says the signature is empty"
	unlike "$TMP/out" "but only" "verify: sig_len 0 does not say 'but only N precede it'"
	drv unsign "$W/zero.ko"
	is "$rc" 3 "unsign: sig_len 0 exits 3"
	like "$TMP/err" "zero.ko: .*empty \\(0-byte\\) signature" "unsign: sig_len 0 says why"
	t "unsign: sig_len 0 leaves the file untouched" cmp "$W/zero.orig" "$W/zero.ko"
}
tcase "sig_len 0" case_siglen_zero

case_siglen_all() { # a trailer claiming every byte before it as signature
	local size
	work
	cp "$SIGNED" "$W/all.ko"
	size=$(stat -c %s "$W/all.ko")
	set_siglen "$W/all.ko" $((size - 40))
	cp "$W/all.ko" "$W/all.orig"
	drv unsign "$W/all.ko"
	is "$rc" 3 "unsign: a signature claiming the whole file exits 3"
	like "$TMP/err" "all.ko: the signature trailer claims $((size - 40)) signature bytes, which leaves 0 bytes that are not an ELF module" \
		"unsign: a signature claiming the whole file says so"
	t "unsign: a signature claiming the whole file leaves it untouched" cmp "$W/all.orig" "$W/all.ko"
	is "$(stat -c %s "$W/all.ko")" "$size" "unsign: the file keeps its $size bytes"
	drv unsign -o "$W/all-out.ko" "$W/all.ko"
	is "$rc" 3 "unsign -o: a signature claiming the whole file exits 3"
	t "unsign -o: no output written" test ! -e "$W/all-out.ko"
	drv sign --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" --resign "$W/all.ko"
	is "$rc" 3 "sign --resign: a signature claiming the whole file exits 3"
	t "sign --resign: the file untouched" cmp "$W/all.orig" "$W/all.ko"
}
tcase "sig_len claiming the whole file" case_siglen_all

case_verify_missing() {
	work
	drv verify --cert "$K/rsa2048.crt" "$W/does-not-exist.ko"
	is "$rc" 4 "verify: missing module exits 4"
	drv verify --cert "$K/missing.crt" "$SIGNED"
	is "$rc" 4 "verify: missing certificate exits 4"
	drv verify --cert "$K/rsa2048.key" "$SIGNED"
	is "$rc" 3 "verify: a key is not a certificate (exit 3)"
}
tcase "verify missing files, a key as certificate" case_verify_missing

case_verify_json() {
	work
	cp "$SIGNED" "$W/body.ko"
	flip "$W/body.ko" 200
	cp "$SIGNED" "$W/siglen.ko"
	set_siglen "$W/siglen.ko" 2147483647
	drv verify --cert "$K/rsa2048.crt" --json "$SIGNED" "$MODS/dktest_user.ko" "$W/body.ko" "$W/siglen.ko" "$W/gone.ko"
	is "$rc" 4 "verify --json: exit 4 with a missing file"
	t "verify --json: verdicts ok, unsigned, mismatch, malformed, error" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert [x["verdict"] for x in r] == ["ok", "unsigned", "mismatch", "malformed", "error"], r
assert r[0]["signer"] == "drvkit rsa2048" and r[0]["hash"] == "sha256"
' "$TMP/out"
}
tcase "verify --json" case_verify_json

# --- unsign / resign -----------------------------------------------------------------
case_unsign() {
	work
	for m in $MODLIST; do
		sigfile_sign sha512 "$K/rsa4096.key" "$K/rsa4096.crt" "$MODS/$m.ko" "$W/u.ko"
		drv unsign "$W/u.ko"
		is "$rc" 0 "unsign $m exits 0"
		t "unsign $m gives back the original byte for byte" cmp "$MODS/$m.ko" "$W/u.ko"
	done
	cp "$MODS/dktest_user.ko" "$W/plain.ko"
	touch -d '2020-01-01 00:00' "$W/plain.ko"
	drv unsign "$W/plain.ko"
	is "$rc" 0 "unsign of an unsigned module exits 0"
	like "$TMP/out" "plain.ko: not signed" "unsign says the module is not signed"
	is "$(stat -c %Y "$W/plain.ko")" "$(date -d '2020-01-01 00:00' +%s)" "unsign leaves an unsigned module untouched"
	drv unsign -o "$W/uo.ko" "$SIGNED"
	t "unsign -o: output is the original" cmp "$MODS/dktest_params.ko" "$W/uo.ko"
	# sign-file run twice stacks two signatures; unsign removes both
	sigfile_sign sha256 "$K/rsa2048.key" "$K/rsa2048.crt" "$SIGNED" "$W/twice.ko"
	drv unsign "$W/twice.ko"
	t "unsign removes stacked signatures" cmp "$MODS/dktest_params.ko" "$W/twice.ko"
}
tcase "unsign" case_unsign

case_resign() {
	work
	cp "$SIGNED" "$W/re.ko"
	drv sign --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" "$W/re.ko"
	is "$rc" 1 "sign of a signed module is refused (exit 1)"
	like "$TMP/err" "re.ko: already signed.*--resign" "refusal names the file and --resign"
	t "refused module is untouched" cmp "$SIGNED" "$W/re.ko"
	drv sign --key "$K/rsa4096.key" --cert "$K/rsa4096.crt" --hash sha512 --resign "$W/re.ko"
	is "$rc" 0 "sign --resign exits 0"
	sigfile_sign sha512 "$K/rsa4096.key" "$K/rsa4096.crt" "$MODS/dktest_params.ko" "$W/ref.ko"
	t "--resign equals sign-file on the original" cmp "$W/ref.ko" "$W/re.ko"
}
tcase "sign of a signed module, --resign" case_resign

# --- key handling ----------------------------------------------------------------------
case_keys() {
	work
	cp "$MODS/dktest_params.ko" "$W/k.ko"
	DK_TEST_PIN=wrong drv sign --key "$K/enc.key" --cert "$K/enc.crt" --passphrase-env DK_TEST_PIN "$W/k.ko"
	ok $((rc == 0)) "wrong passphrase fails (rc $rc)"
	like "$TMP/err" "enc.key: wrong passphrase or damaged key" "wrong passphrase: clear message"
	drv sign --key "$K/enc.key" --cert "$K/enc.crt" --passphrase-file "$K/wrongpass.txt" "$W/k.ko"
	like "$TMP/err" "wrong passphrase" "wrong passphrase from a file: clear message"
	drv sign --key "$K/enc.key" --cert "$K/enc.crt" "$W/k.ko"
	ok $((rc == 0)) "encrypted key without passphrase fails without prompting (rc $rc)"
	like "$TMP/err" "encrypted.*--passphrase-file or --passphrase-env" "encrypted key without passphrase: says how"
	drv sign --key "$K/enc.key" --cert "$K/enc.crt" --passphrase-env DK_UNSET_VARIABLE "$W/k.ko"
	like "$TMP/err" "DK_UNSET_VARIABLE is not set" "unset passphrase variable is named"
	drv sign --key "$K/rsa2048.key" --cert "$K/rsa4096.crt" "$W/k.ko"
	ok $((rc == 0)) "mismatched key and certificate refused (rc $rc)"
	like "$TMP/err" "does not belong to the certificate" "mismatch: clear message"
	drv sign --key "$K/p256.key" --cert "$K/rsa2048.crt" "$W/k.ko"
	ok $((rc == 0)) "EC key with RSA certificate refused (rc $rc)"
	drv sign --key "$K/missing.key" --cert "$K/rsa2048.crt" "$W/k.ko"
	is "$rc" 4 "missing key file exits 4"
	like "$TMP/err" "missing.key" "missing key file is named"
	drv sign --key "$K" --cert "$K/rsa2048.crt" "$W/k.ko"
	ok $((rc == 0)) "directory as key fails (rc $rc)"
	like "$TMP/err" "is a directory" "directory as key: clear message"
	drv sign --key "$K/rsa2048.crt" --cert "$K/rsa2048.crt" "$W/k.ko"
	like "$TMP/err" "rsa2048.crt: not a PEM private key" "certificate as key: clear message (rc $rc)"
	t "failed key loads leave the module untouched" cmp "$MODS/dktest_params.ko" "$W/k.ko"
	drv sign --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" "$W/k.ko"
	unlike "$TMP/err" "accessible by group" "no warning for a 0600 key"
	cp "$K/rsa2048.key" "$W/shared.key"
	chmod 640 "$W/shared.key"
	cp "$MODS/dktest_params.ko" "$W/k.ko"
	drv sign --key "$W/shared.key" --cert "$K/rsa2048.crt" "$W/k.ko"
	is "$rc" 0 "group-readable key still signs"
	like "$TMP/err" "shared.key is accessible by group or others \(mode 0640\)" "group-readable key: warning"
}
tcase "key handling" case_keys

# EC keys (ECDSA signatures are randomised: check they verify, not bytes)
case_ec() { # case_ec CURVE:HASH
	local c=$1 n h size siglen
	work
	n=${c%%:*} h=${c#*:}
	cp "$MODS/dktest_export.ko" "$W/ec.ko"
	drv sign --key "$K/$n.key" --cert "$K/$n.crt" --hash "$h" "$W/ec.ko"
	is "$rc" 0 "EC $n: sign exits 0"
	drv verify --cert "$K/$n.crt" "$W/ec.ko"
	is "$rc" 0 "EC $n: drvkit verify accepts it"
	like "$TMP/out" "OK \(signer drvkit $n, $h\)" "EC $n: verdict names signer and $h"
	size=$(stat -c %s "$W/ec.ko")
	siglen=$(python3 -c "import sys,struct;b=open(sys.argv[1],'rb').read();print(struct.unpack('>I',b[-32:-28])[0])" "$W/ec.ko")
	head -c $((size - 40 - siglen)) "$W/ec.ko" >"$W/ec.body"
	tail -c $((siglen + 40)) "$W/ec.ko" | head -c "$siglen" >"$W/ec.p7"
	t "EC $n: body before the signature is the original module" cmp "$MODS/dktest_export.ko" "$W/ec.body"
	t "EC $n: openssl cms -verify accepts it" openssl cms -verify -binary -inform DER \
		-in "$W/ec.p7" -content "$W/ec.body" -certfile "$K/$n.crt" -nointern -noverify -out /dev/null
	sigfile_sign "$h" "$K/$n.key" "$K/$n.crt" "$MODS/dktest_export.ko" "$W/ecref.ko"
	drv verify --cert "$K/$n.crt" "$W/ecref.ko"
	is "$rc" 0 "EC $n: sign-file's ECDSA signature verifies with drvkit"
}
for c in p256:sha256 p384:sha384; do
	tcase "EC ${c%%:*}" case_ec "$c"
done

# --- parallel --------------------------------------------------------------------------
case_parallel() {
	work
	P=$W/par
	mkdir -p "$P" "$W/parref"
	i=0
	for n in 1 2 3; do
		for m in $MODLIST; do
			i=$((i + 1))
			[ "$i" -le 8 ] || break
			cp "$MODS/$m.ko" "$P/m$i.ko"
			chmod 0640 "$P/m$i.ko"
			sigfile_sign sha384 "$K/rsa2048.key" "$K/rsa2048.crt" "$MODS/$m.ko" "$W/parref/m$i.ko"
		done
	done
	drv --log-level info sign -j 4 --hash sha384 --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" "$P"/m*.ko
	is "$rc" 0 "sign -j 4 of 8 modules exits 0"
	is "$(grep -c 'info: signed .*m[0-9].ko (sha384)' "$TMP/err")" 8 "one info line per signed module"
	same=0
	for f in "$P"/m*.ko; do cmp -s "$f" "$W/parref/$(basename "$f")" && same=$((same + 1)); done
	is "$same" 8 "all 8 parallel signatures equal sign-file's"
	is "$(stat -c %a "$P"/m*.ko | sort -u)" 640 "file mode kept"
	is "$(ls -A "$P" | grep -vc '^m[0-9]\.ko$')" 0 "no temp files left behind"
	cp "$P/m1.ko" "$P/m1.before"
	cp "$MODS/dktest_user.ko" "$P/fresh.ko"
	drv sign -j 4 --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" "$P/m1.ko" "$P/fresh.ko" "$P/nope.ko"
	is "$rc" 1 "batch with failures exits 1"
	like "$TMP/err" "m1.ko: already signed" "batch: the already signed file is named"
	like "$TMP/err" "nope.ko" "batch: the missing file is named"
	t "batch: the failed file is untouched" cmp "$P/m1.before" "$P/m1.ko"
	drv verify --cert "$K/rsa2048.crt" "$P/fresh.ko"
	is "$rc" 0 "batch: the good file was signed anyway"
	is "$(ls -A "$P" | grep -c tmp)" 0 "batch with failures leaves no temp files"
	mkdir -p "$W/ro"
	cp "$MODS/dktest_user.ko" "$W/ro/x.ko"
	drv sign --key "$K/rsa2048.key" --cert "$K/rsa2048.crt" -o "$W/no/such/dir/x.ko" "$W/ro/x.ko"
	ok $((rc == 0)) "unwritable output fails (rc $rc)"
	like "$TMP/err" "no/such/dir/x.ko" "unwritable output is named"
	t "unwritable output: input untouched" cmp "$MODS/dktest_user.ko" "$W/ro/x.ko"
}
tcase "parallel" case_parallel

# --- secrets never printed ------------------------------------------------------------
case_secrets() {
	leak=0
	for k in "$K"/*.key; do
		while read -r line; do
			case "$line" in -----*) continue ;; esac
			if grep -qF -- "$line" "$ALL"; then
				leak=1
				diag "key material of $k printed"
			fi
		done <"$k"
	done
	ok "$leak" "no key PEM text in any drvkit output"
	unlike "$ALL" "$PASS" "passphrase never printed"
}
tcase "secrets never printed" case_secrets

done_testing
