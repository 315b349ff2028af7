#!/bin/bash
# Builds the test modules in tests/modules against installed Debian kernel headers.
# Usage: build.sh OUTDIR [KVER|KERNEL_TREE]   (KVER default: newest /usr/src/linux-headers-*-amd64;
#        a directory instead builds against that configured kernel tree, e.g. the VM test kernel)
# Prints the directory holding the .ko files. Cached by a hash of the sources + KVER;
# concurrent callers serialise on a lock.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR [KVER]}
mkdir -p "$out"
out=$(cd "$out" && pwd) # kbuild needs an absolute M=
kver=${2:-${DK_KVER:-}}
if [ -z "$kver" ]; then
	kver=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sed 's|.*/linux-headers-||' | sort -V | tail -n1)
fi
kdir=/lib/modules/$kver/build
if [ -d "$kver" ]; then
	kdir=$(cd "$kver" && pwd)
	kver=$(cat "$kdir/include/config/kernel.release")
fi
if [ -z "$kver" ] || [ ! -e "$kdir/Module.symvers" ]; then
	echo "build.sh: no kernel headers for '${kver:-?}' (install linux-headers-amd64)" >&2
	exit 1
fi
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
hash=$( (cat "$src"/Kbuild "$src"/*.c; echo "$kver $kdir"; cat "$kdir/Module.symvers") | sha256sum | cut -c1-16)
dir="$out/$kver-$hash"
if [ ! -f "$dir/.done" ]; then
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$src"/Kbuild "$src"/*.c "$dir"/
	make -s -C "$kdir" M="$dir" modules >"$dir/build.log" 2>&1 || {
		cat "$dir/build.log" >&2
		exit 1
	}
	touch "$dir/.done"
fi
echo "$dir"
