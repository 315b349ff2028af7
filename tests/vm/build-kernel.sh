#!/bin/bash
# Builds the signature-enforcing test kernel from Debian's linux-source-6.1:
# tinyconfig + tests/vm/enforcing.config, trusted key = the test signing key (keys.sh).
# Usage: build-kernel.sh            prints the kernel dir: DIR/bzImage, DIR/build (tree to
#                                   build out-of-tree modules against), DIR/kver
# Cached in ${DK_CACHE:-/var/cache/drvkit-test}/kernel-<hash>, hash of (config fragment,
# signing cert, linux-source version, compiler, recipe version), so reruns are free.
# Bump `recipe` when a change below alters the built kernel.
# The build runs under nice; concurrent callers serialise on a lock.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=$("$here/cache-dir.sh")
keys=$("$here/keys.sh")
tarball=/usr/src/linux-source-6.1.tar.xz
[ -f "$tarball" ] || {
	echo "build-kernel.sh: $tarball missing (scripts/install-deps installs linux-source-6.1)" >&2
	exit 1
}
recipe=1
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
hash=$( (cat "$here/enforcing.config" "$keys/signing.crt"
	echo "recipe $recipe"
	echo "$srcver"
	gcc --version | head -n1) | sha256sum | cut -c1-16)
dir=$cache/kernel-$hash
exec 8>"$cache/kernel.lock"
flock 8
if [ -f "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi
# Partial builds left by killed runs (we hold the lock, so nobody is building them).
for d in "$cache"/kernel-*; do
	[ -d "$d" ] && [ ! -f "$d/.done" ] && [ "$d" != "$dir" ] && rm -rf "$d"
done
start=$(date +%s)
echo "build-kernel.sh: building the enforcing kernel in $dir (about 10 minutes on 2 cores)" >&2
rm -rf "$dir"
mkdir -p "$dir"
log=$dir/build.log
tar -xf "$tarball" -C "$dir"
mv "$dir/linux-source-6.1" "$dir/build"
cd "$dir/build"
sed "s|@KEY@|$keys/signing.pem|" "$here/enforcing.config" >"$dir/fragment.config"
{
	make tinyconfig
	scripts/kconfig/merge_config.sh -m .config "$dir/fragment.config"
	make olddefconfig
} >"$log" 2>&1 || {
	tail -n 40 "$log" >&2
	exit 1
}
# Every option of the fragment must have survived olddefconfig.
bad=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	grep -qxF -- "$line" .config || {
		echo "build-kernel.sh: option not set after olddefconfig: $line" >&2
		bad=1
	}
done <"$dir/fragment.config"
[ "$bad" -eq 0 ] || exit 1
nice -n 10 make -j"$(nproc)" bzImage modules >>"$log" 2>&1 || {
	tail -n 40 "$log" >&2
	exit 1
}
cp arch/x86/boot/bzImage "$dir/bzImage"
make -s kernelrelease >"$dir/kver"
end=$(date +%s)
echo "$((end - start))" >"$dir/build-seconds"
touch "$dir/.done"
echo "build-kernel.sh: built $(cat "$dir/kver") in $((end - start)) s" >&2
echo "$dir"
