#!/bin/bash
# Regenerates the seed corpus tests/fuzz/corpus/<target>/ from the repository's fixtures,
# the test modules (tests/modules/build.sh) and small archives made here. Run from the
# repository root after changing a fixture; regression inputs (crash-*, hang-*) that a
# fuzzer found are kept. Keep the whole corpus under 2 MB.
# The fixture paths hold no blanks: word-split lists of them are fine here.
# shellcheck disable=SC2046,SC2012,SC2086
set -euo pipefail
cd "$(dirname "$0")/../.."
c=tests/fuzz/corpus
fx=tests/fixtures/detect
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seeds() { # seeds TARGET FILE... : copies each file as <n>-<basename>
	local t=$1 n=0
	shift
	mkdir -p "$c/$t"
	find "$c/$t" -type f ! -name 'crash-*' ! -name 'hang-*' ! -name 'regress-*' -delete
	for f in "$@"; do
		n=$((n + 1))
		cp "$f" "$c/$t/seed-$n-$(basename "$f" .ko)" # .ko: ignored by git
	done
}

# Modules: the test modules without debug info (what distributions ship), one of them
# signed by a throw-away key with the kernel's own sign-file.
mods=$(tests/modules/build.sh "${DK_BUILDDIR:-build}/test-modules")
for m in dktest_export dktest_params; do
	strip --strip-debug -o "$tmp/$m.ko" "$mods/$m.ko"
done
signfile=$(ls /usr/src/linux-headers-*/scripts/sign-file 2>/dev/null | head -n1)
openssl req -new -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=drvkit fuzz seed/" \
	-keyout "$tmp/key.pem" -outform DER -out "$tmp/cert.der" 2>/dev/null
cp "$tmp/dktest_export.ko" "$tmp/dktest_export-signed.ko"
"$signfile" sha256 "$tmp/key.pem" "$tmp/cert.der" "$tmp/dktest_export-signed.ko"
seeds modfile "$tmp"/dktest_export.ko "$tmp"/dktest_params.ko "$tmp"/dktest_export-signed.ko
# modsig: the signed module's tail (PKCS#7 + struct module_signature + marker)
size=$(stat -c %s "$tmp/dktest_export.ko")
tail -c +$((size + 1)) "$tmp/dktest_export-signed.ko" >"$tmp/signature"
printf 'ELF-ish bytes\0' | cat - "$tmp/signature" >"$tmp/short-module-signed"
seeds modsig "$tmp/signature" "$tmp/short-module-signed"

head -n 60 "$fx/ubuntu2204-gpu/usr/src/linux-headers-5.15.0-131-generic/Module.symvers" \
	>"$tmp/Module.symvers-ubuntu"
head -n 60 "$fx/rhcos416-dtk/usr/src/kernels/5.14.0-427.26.1.el9_4.x86_64/Module.symvers" \
	>"$tmp/Module.symvers-rhel"
printf '0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\n' >"$tmp/Module.symvers-4col"
seeds symvers "$tmp"/Module.symvers-*

seeds osrelease $(find "$fx" -name os-release | sort)
seeds proc-modules $(find "$fx" -path '*/proc/modules' | sort)
seeds proc-version $(find "$fx" \( -path '*/proc/version' -o -path '*/nvidia/version' \
	-o -name lockdown -o -name utsrelease.h \) | sort)
for f in $(find "$fx" -name .config | sort); do
	grep -E '^(CONFIG_(MODULE|LOCALVERSION|SMP|PREEMPT|CC_|X86_64|ARM64|RANDSTRUCT|GCC)|# CONFIG_(MODULE|PREEMPT))' \
		"$f" >"$tmp/config-$(echo "$f" | cut -d/ -f4)" || true
done
seeds kconfig "$tmp"/config-*
seeds dtk $(find "$fx" -name driver-toolkit-release.json | sort)

# config: the unit test's full config and the shipped fleet configs
sed -n '/^static const char good\[\] =/,/;$/p' tests/unit/test-config.c | sed '1d' |
	sed -E 's/^\t"(.*)"[;]?$/\1/; s/\\n$//' >"$tmp/config-unit.yaml"
seeds config "$tmp/config-unit.yaml" kernel-matrix/configs/*.yaml
cat >"$tmp/params.yaml" <<'P'
dktest_params: { count: 7, label: hello, enable: true }
nvidia:
  NVreg_OpenRmEnableUnsupportedGpus: 1
  NVreg_RegistryDwords: "RmGpuComputeExecTimeout=0; x=1"
P
seeds params "$tmp/params.yaml"
cat >"$tmp/state.json" <<'S'
{
  "version": 1,
  "pid": 42,
  "kernel": "6.1.0-18-amd64",
  "modules": [
    {"name": "mlx_compat", "component": "ofed", "path": "/opt/ofed/mlx_compat.ko", "srcversion": "ABCDEF0123456789ABCDEF0", "version": "24.10"},
    {"name": "nvidia", "component": "nvidia", "path": "/opt/nvidia/nvidia.ko", "srcversion": "0123456789ABCDEF0123456", "version": "550.54.14"}
  ],
  "replaced": [{"name": "mlx5_ib", "component": "ofed", "restore": true}],
  "probed": ["tls"]
}
S
seeds state "$tmp/state.json"

# archives: tar, tar.gz, tar.xz, zip, cpio, ar (a .deb's outer format), with a
# directory, a file, a symlink inside, an absolute symlink and a hardlink
mkdir -p "$tmp/tree/usr/src/d"
echo hello >"$tmp/tree/usr/src/d/f.txt"
ln -s f.txt "$tmp/tree/usr/src/d/link"
ln -s /usr/src/d/f.txt "$tmp/tree/usr/src/d/abs"
ln "$tmp/tree/usr/src/d/f.txt" "$tmp/tree/usr/src/d/hard"
(cd "$tmp/tree" && tar --owner=0 --group=0 -cf "$tmp/a.tar" usr &&
	tar -czf "$tmp/a.tar.gz" usr && tar -cJf "$tmp/a.tar.xz" usr &&
	find usr | cpio -o -H newc --quiet >"$tmp/a.cpio" &&
	ar rc "$tmp/a.ar" usr/src/d/f.txt)
(cd "$tmp/tree" && python3 -c 'import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],"w"); z.write("usr/src/d/f.txt"); z.close()' "$tmp/a.zip")
seeds archive "$tmp"/a.*

# matrix: the shipped matrix in one input (files cut at NUL), and the fleet fixtures
join_nul() { # the files as one input, cut at NUL bytes by the matrix target
	local first=1 f
	for f in "$@"; do
		[ "$first" = 1 ] || printf '\0'
		first=0
		cat "$f"
	done
}
join_nul kernel-matrix/{drivers,debian-12,rhel-9,ubuntu}.yaml >"$tmp/shipped"
join_nul kernel-matrix/{drivers,rhcos}.yaml >"$tmp/rhcos"
for d in tests/fleet/fixtures/matrix-*; do
	join_nul "$d"/*.yaml >"$tmp/fixture-$(basename "$d")"
done
seeds matrix "$tmp/shipped" "$tmp/rhcos" "$tmp"/fixture-*
seeds labels tests/fleet/labels/*.yaml
# manifest: those of the build tests' outputs (one with uses:), as the build cache keeps them
mans=$(find "${DK_BUILDDIR:-build}" -name manifest.json -size -8k 2>/dev/null | sort | head -n 40)
[ -n "$mans" ] || { echo "make-corpus.sh: no manifest.json under build: run meson test build first" >&2; exit 1; }
cp $(echo "$mans" | head -n1) "$tmp/manifest.json"
cp $(grep -l '"manifest_sha256"' $mans | head -n1) "$tmp/manifest-uses.json" 2>/dev/null || true
seeds manifest "$tmp"/manifest*.json
seeds patch tests/fixtures/patch/git.patch tests/fixtures/patch/plain.diff \
	tests/fixtures/build/greeting.patch
du -sh "$c"
