#!/bin/bash
# Builds a gzip'd newc initramfs for the VM tests and prints its path. Cached by content
# hash in OUTDIR: an unchanged tree is not packed again.
# Usage: mkinitramfs.sh OUTDIR KVER [--drvkit BIN] [--host-modules "m1 m2"] [--tree KTREE]
#                       [--add SRC:DEST]...
#   --drvkit        drvkit binary, copied to /bin/drvkit with the shared libraries ldd names
#   --host-modules  modules of /lib/modules/KVER (and their modules.dep dependencies) to include
#   --tree          kernel build tree whose modules.builtin* go into /lib/modules/KVER
#   --add SRC:DEST  copy file or directory SRC to DEST inside (DEST absolute)
# The image holds busybox-static (/bin/busybox + applet links), tests/vm/guest as /dk and
# /init, tests/tap.sh as /dk/tap.sh, and /lib/modules/KVER indexed with `depmod -b` so
# libkmod lookups work inside.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: mkinitramfs.sh OUTDIR KVER ...}
kver=${2:?usage: mkinitramfs.sh OUTDIR KVER ...}
shift 2
drvkit= hostmods= tree=
adds=()
while [ $# -gt 0 ]; do
	case "$1" in
	--drvkit) drvkit=$2; shift 2 ;;
	--host-modules) hostmods=$2; shift 2 ;;
	--tree) tree=$2; shift 2 ;;
	--add) adds+=("$2"); shift 2 ;;
	*) echo "mkinitramfs.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
mkdir -p "$out"
st=$(mktemp -d "$out/stage.XXXXXX")
trap 'rm -rf "$st"' EXIT
mkdir -p "$st"/{bin,dev,proc,sys,run,tmp,etc,usr,lib/modules/"$kver"}
ln -s bin "$st/sbin"
ln -s ../bin "$st/usr/bin"
ln -s ../bin "$st/usr/sbin"

# busybox and its applets
bb=/bin/busybox
file -L "$bb" | grep -q 'statically linked' || { echo "mkinitramfs.sh: $bb is not static (install busybox-static)" >&2; exit 1; }
cp "$bb" "$st/bin/busybox"
for a in $("$bb" --list); do
	[ "$a" = busybox ] || ln -sf busybox "$st/bin/$a"
done

copy_with_libs() { # copy_with_libs BIN DEST
	cp -L "$1" "$st$2"
	local lib
	for lib in $(ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^\t\/[^ ]*ld-linux/{print $1}'); do
		[ -e "$st$lib" ] && continue
		mkdir -p "$st$(dirname "$lib")"
		cp -L "$lib" "$st$lib"
	done
}
if [ -n "$drvkit" ]; then
	copy_with_libs "$drvkit" /bin/drvkit
fi

# kernel modules of the host tree with their dependencies
mdir=/lib/modules/$kver
for m in $hostmods; do
	line=$(grep -E "(^|/)${m//_/[-_]}\.ko(\.[a-z]+)?:" "$mdir/modules.dep" | head -n1)
	[ -n "$line" ] || { echo "mkinitramfs.sh: module $m not in $mdir/modules.dep" >&2; exit 1; }
	for f in ${line/:/}; do
		mkdir -p "$st$mdir/$(dirname "$f")"
		cp "$mdir/$f" "$st$mdir/$f"
	done
done
if [ -n "$hostmods" ]; then
	cp "$mdir"/modules.{order,builtin,builtin.modinfo} "$st$mdir/"
fi
if [ -n "$tree" ]; then
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[ -f "$tree/$f" ] && cp "$tree/$f" "$st$mdir/"
	done
fi
touch "$st$mdir/modules.order" "$st$mdir/modules.builtin"
depmod -b "$st" "$kver"

# the guest side: /init and /dk
cp -r "$here/guest" "$st/dk"
cp "$here/../tap.sh" "$st/dk/tap.sh" # the TAP library the host tests use too
mv "$st/dk/init" "$st/init"
chmod +x "$st/init"
for a in ${adds[@]+"${adds[@]}"}; do
	src=${a%%:*} dest=${a#*:}
	mkdir -p "$st$(dirname "$dest")"
	cp -rL "$src" "$st$dest"
done

hash=$(cd "$st" && find . -print0 | LC_ALL=C sort -z |
	tar --null --no-recursion -T - --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - | sha256sum | cut -c1-16)
img=$out/initramfs-$hash.cpio.gz
if [ ! -f "$img" ]; then
	(cd "$st" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --reproducible --quiet) |
		gzip -1 >"$img.tmp"
	mv "$img.tmp" "$img"
fi
echo "$img"
