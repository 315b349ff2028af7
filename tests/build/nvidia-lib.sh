# Helpers for tests that build Debian's NVIDIA kernel module sources (bash; source it after
# tests/lib.sh, which provides atexit and $TMP).
#
#   nv_debs            downloads the .debs once (tests/build/nvidia-debs.sh) and sets
#                      NV_PROP_DEB NV_PROP_SHA NV_OPEN_DEB NV_OPEN_SHA (paths, sha256),
#                      NV_VERSION (upstream, 535.261.03), NV_DEB_VERSION (535.261.03-1),
#                      NV_PROP_MEMBER NV_OPEN_MEMBER (the tarball inside each .deb) and
#                      NV_PROP_SUBDIR NV_OPEN_SUBDIR (the kbuild dir inside that tarball)
#   nv_serve [DIR]     serves DIR (default: the folder of the .debs) on 127.0.0.1 with
#                      tests/fetch-server.py; sets NV_URL_BASE (append /<file name>),
#                      NV_SERVER_LOG (one JSON line per request), and for the default DIR
#                      NV_PROP_URL NV_OPEN_URL; stopped at exit (atexit). Call nv_debs
#                      and nv_serve outside tcase so that the variables reach every case
#   nv_kver            prints the release of the newest installed Debian headers
#                      (DK_KVER overrides), as the kernel reports it (utsrelease.h)
#   nv_headers KVER|DIR prints "<source dir> <output dir>" of those headers (DIR: the kbuild
#                      output dir): NVIDIA's SYSSRC and SYSOUT (Debian splits them into
#                      -common and -<arch>; elsewhere both are the same dir)
#   nv_tree FLAVOR DIR extracts a flavor (proprietary|open) into DIR, prints its kbuild dir
#   nv_pin_env [TREE]  prints NAME=VALUE lines for a reproducible build. Only the KCFLAGS
#                      file-prefix-map of TREE (the kbuild dir) changes the modules (measured:
#                      two paths give cmp-identical NVIDIA modules with it, different without);
#                      the KBUILD_BUILD_* pins are for vmlinux-style builds and harmless here
#   nv_vm_cpio SRC GUEST OUT  a cached zstd cpio of SRC at GUEST to append to a VM initramfs

: "${DK_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

nv_debs() {
	[ -n "${NV_PROP_DEB:-}" ] && [ -n "${NV_OPEN_DEB:-}" ] && return 0
	local out fl deb sum ver
	out=$("$DK_SRCDIR/tests/build/nvidia-debs.sh") || return 1
	while read -r fl deb sum ver; do
		case $fl in
		proprietary) NV_PROP_DEB=$deb NV_PROP_SHA=$sum ;;
		open) NV_OPEN_DEB=$deb NV_OPEN_SHA=$sum ;;
		esac
		NV_DEB_VERSION=$ver
	done <<<"$out"
	NV_VERSION=${NV_DEB_VERSION%-*}
	NV_VERSION=${NV_VERSION#*:}
	# members are named ./usr/src/... in the .deb's data tarball
	NV_PROP_MEMBER=usr/src/nvidia-kernel.tar.xz
	NV_OPEN_MEMBER=usr/src/nvidia-open-kernel.tar.xz
	NV_PROP_SUBDIR=modules/nvidia-kernel
	NV_OPEN_SUBDIR=modules/nvidia-open-kernel
	[ -n "${NV_PROP_DEB:-}" ] && [ -n "${NV_OPEN_DEB:-}" ]
}

nv_serve() {
	local dir=${1:-} port_file
	if [ -z "$dir" ]; then
		nv_debs || return 1
		dir=$(dirname "$NV_PROP_DEB")
	fi
	port_file=$(mktemp -u "$TMP/nv-server.port.XXXXXX")
	NV_SERVER_LOG=$port_file.log
	: >"$NV_SERVER_LOG"
	python3 "$DK_SRCDIR/tests/fetch-server.py" --dir "$dir" --port-file "$port_file" \
		--log "$NV_SERVER_LOG" &
	NV_SERVER_PID=$!
	atexit "kill $NV_SERVER_PID 2>/dev/null; wait $NV_SERVER_PID 2>/dev/null"
	for _ in $(seq 200); do
		[ -s "$port_file" ] && break
		sleep 0.05
	done
	[ -s "$port_file" ] || {
		echo "nv_serve: fetch-server.py did not start" >&2
		return 1
	}
	NV_URL_BASE=http://127.0.0.1:$(cat "$port_file")/ok
	if [ -n "${NV_PROP_DEB:-}" ] && [ "$dir" -ef "$(dirname "$NV_PROP_DEB")" ]; then
		NV_PROP_URL=$NV_URL_BASE/${NV_PROP_DEB##*/}
		NV_OPEN_URL=$NV_URL_BASE/${NV_OPEN_DEB##*/}
	fi
}

nv_kver() {
	if [ -n "${DK_KVER:-}" ]; then
		echo "$DK_KVER"
		return
	fi
	local d r best=
	for d in /lib/modules/*/build; do
		[ -f "$d/Module.symvers" ] && [ -f "$d/include/generated/utsrelease.h" ] || continue
		r=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' "$d/include/generated/utsrelease.h")
		[ -n "$r" ] && best+="$r"$'\n'
	done
	[ -n "$best" ] || {
		echo "nv_kver: no kernel headers in /lib/modules/*/build (install linux-headers-amd64)" >&2
		return 1
	}
	printf '%s' "$best" | sort -V | tail -n1
}

nv_headers() {
	local m=/lib/modules/$1 out src inc
	if [ -d "$1" ]; then # a headers (kbuild output) dir itself
		m=
		out=$(readlink -f "$1")
	else
		out=$(readlink -f "$m/build") || return 1
	fi
	src=$out
	if [ -n "$m" ] && [ -d "$m/source" ]; then
		src=$(readlink -f "$m/source")
	elif [ -d "$out/source" ]; then
		src=$(readlink -f "$out/source")
	elif [ -f "$out/Makefile" ]; then
		# Debian's output dir has a one-line Makefile including the source tree's
		inc=$(sed -n 's|^include \(/.*\)/Makefile$|\1|p' "$out/Makefile" | head -n1)
		[ -n "$inc" ] && [ -d "$inc" ] && src=$inc
	fi
	echo "$src $out"
}

nv_tree() {
	local fl=$1 dir=$2 deb member subdir
	nv_debs || return 1
	case $fl in
	proprietary) deb=$NV_PROP_DEB member=$NV_PROP_MEMBER subdir=$NV_PROP_SUBDIR ;;
	open) deb=$NV_OPEN_DEB member=$NV_OPEN_MEMBER subdir=$NV_OPEN_SUBDIR ;;
	*)
		echo "nv_tree: flavor is proprietary or open, not '$fl'" >&2
		return 1
		;;
	esac
	mkdir -p "$dir" || return 1
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$member" | tar -xJ -C "$dir" || return 1
	echo "$(cd "$dir" && pwd)/$subdir"
}

nv_pin_env() {
	echo "KBUILD_BUILD_TIMESTAMP=Thu Jan  1 00:00:00 UTC 1970"
	echo "KBUILD_BUILD_USER=drvkit"
	echo "KBUILD_BUILD_HOST=drvkit"
	[ -z "${1:-}" ] || echo "KCFLAGS=-ffile-prefix-map=$1=/drvkit/src"
}

# nv_vm_cpio SRC_DIR GUEST_DIR OUT_DIR: packs the files of SRC_DIR as GUEST_DIR (absolute)
# into a zstd newc cpio to append to a VM initramfs (`cat base.cpio.gz nv.cpio.zst`; the
# kernel unpacks concatenated archives, each with its own compression). Cached by content in
# OUT_DIR, so 130 MB of NVIDIA modules are not packed again when only drvkit changed. Prints
# its path.
nv_vm_cpio() {
	local src=$1 dest=$2 out=$3 st hash img d
	mkdir -p "$out" || return 1
	hash=$( (echo "$dest" && cd "$src" && find . -type f -print0 | LC_ALL=C sort -z |
		xargs -0 sha256sum) | sha256sum | cut -c1-16)
	img=$out/nv-$hash.cpio.zst
	if [ ! -f "$img" ]; then
		st=$(mktemp -d "$out/stage.XXXXXX") || return 1
		mkdir -p "$st$dest" && cp -rL "$src"/. "$st$dest"/ &&
			(cd "$st" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
				cpio --null -o -H newc --reproducible --quiet) |
			zstd -q -3 -T0 -o "$img.tmp" && mv "$img.tmp" "$img"
		d=$?
		rm -rf "$st"
		[ "$d" -eq 0 ] || return 1
	fi
	echo "$img"
}
