#!/bin/bash
# Downloads Debian's NVIDIA kernel module sources (bookworm: nvidia-kernel-source in non-free,
# nvidia-open-kernel-source in contrib) into the machine-wide test cache
# $(tests/vm/cache-dir.sh)/nvidia/, without touching the system's apt configuration: a private
# sources list and private apt state and cache dirs under that folder.
#
# Prints one line per flavor: `<flavor> <path.deb> <sha256> <debian version>` (flavor: proprietary,
# open). Idempotent: when both .debs are there and match the sha256 recorded next to them
# (`<deb>.sha256`, taken from the signed Packages index at download time), nothing touches the
# network. Concurrent callers serialise on a lock.
#
# Environment: DK_NVIDIA_VERSION (upstream version, default 535.261.03), DK_DEBIAN_MIRROR (default:
# the first Debian archive URI of /etc/apt/sources.list{,.d}, else http://deb.debian.org/debian),
# DK_DEBIAN_SUITE (default bookworm).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ver=${DK_NVIDIA_VERSION:-535.261.03}
suite=${DK_DEBIAN_SUITE:-bookworm}
dir=$("$here/../vm/cache-dir.sh")/nvidia
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9

flavors=(proprietary open)
declare -A pkg=([proprietary]=nvidia-kernel-source [open]=nvidia-open-kernel-source)

die() {
	echo "nvidia-debs.sh: $*" >&2
	exit 1
}

# cached FLAVOR: prints the line for FLAVOR when its .deb is present and matches its recorded
# sha256; fails otherwise
cached() {
	local f sum dv
	for f in "$dir/${pkg[$1]}_$ver"-*.deb; do
		[ -f "$f" ] && [ -f "$f.sha256" ] || continue
		sum=$(cut -d' ' -f1 "$f.sha256")
		[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$sum" ] || continue
		dv=${f##*/}
		dv=${dv#"${pkg[$1]}"_}
		dv=${dv%_*.deb}
		echo "$1 $f $sum ${dv//%3a/:}"
		return 0
	done
	return 1
}

# mirrors: the Debian archives the machine already uses (one-line and deb822 sources, in apt's
# file order, comments skipped), then deb.debian.org; DK_DEBIAN_MIRROR alone when set
mirrors() {
	if [ -n "${DK_DEBIAN_MIRROR:-}" ]; then
		echo "$DK_DEBIAN_MIRROR"
		return
	fi
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
		case $f in *.list | *.sources) ;; *) continue ;; esac
		[ -r "$f" ] && sed -n -e 's/^[[:space:]]*URIs:[[:space:]]*//p' \
			-e 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$f"
	done | tr ' ' '\n' | sed 's|/*$||' | grep -E '^https?://.*/debian$' || true
	echo http://deb.debian.org/debian
}

lines=()
for fl in "${flavors[@]}"; do
	l=$(cached "$fl") || { lines=(); break; }
	lines+=("$l")
done
if [ ${#lines[@]} -eq ${#flavors[@]} ]; then
	printf '%s\n' "${lines[@]}"
	exit 0
fi

apt=$dir/apt
mkdir -p "$apt/state/lists/partial" "$apt/cache/archives/partial"
opts=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o Dir::State="$apt/state" -o Dir::Cache="$apt/cache"
	-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
	-o Acquire::Retries=2 -o Acquire::http::Timeout=30 -o Acquire::Languages=none)
# apt only drops to its _apt sandbox user when it runs as root; the private dirs are ours
[ "$(id -u)" -ne 0 ] || opts+=(-o APT::Sandbox::User=root)

# The first mirror whose index reads. apt-get update exits 0 when a mirror is unreachable (it
# only warns), so its W:/E: lines decide.
log=$apt/update.log
url='' tried=''
for m in $(mirrors | awk '!seen[$0]++'); do
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $m $suite contrib non-free" \
		>"$apt/sources.list"
	if apt-get "${opts[@]}" -q update >"$log" 2>&1 && ! grep -qE '^(W|E|Err):' "$log"; then
		url=$m
		break
	fi
	tried+="
  $m: $(grep -E '^(W|E):' "$log" | head -n1)"
done
[ -n "$url" ] || die "cannot read the Debian $suite contrib/non-free index from any mirror \
(set DK_DEBIAN_MIRROR to one that works):$tried"

tmp=$(mktemp -d "$dir/.dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for fl in "${flavors[@]}"; do
	cached "$fl" >/dev/null && continue
	p=${pkg[$fl]}
	dv=$(apt-cache "${opts[@]}" madison "$p" | awk -F' *[|] *' -v v="$ver" \
		'index($2, v "-") == 1 { print $2; exit }')
	[ -n "$dv" ] || die "$p $ver* is not in $url $suite (available: $(apt-cache "${opts[@]}" \
		madison "$p" | awk -F' *[|] *' '{ printf "%s ", $2 }'))"
	sum=$(apt-cache "${opts[@]}" show "$p=$dv" | sed -n 's/^SHA256: //p' | head -n1)
	(cd "$tmp" && apt-get "${opts[@]}" -q download "$p=$dv" >"$tmp/download.log" 2>&1) ||
		die "apt-get download $p=$dv from $url failed:
$(tail -n5 "$tmp/download.log")"
	f=$(ls "$tmp/${p}_"*.deb)
	[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$sum" ] || die "$f: sha256 is not the index's $sum"
	echo "$sum  ${f##*/}" >"$f.sha256"
	mv "$f" "$dir/"
	mv "$f.sha256" "$dir/"
done
for fl in "${flavors[@]}"; do
	cached "$fl" || die "${pkg[$fl]}: downloaded but does not verify"
done
