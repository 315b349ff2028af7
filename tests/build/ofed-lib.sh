# Helpers for tests that build the mission's three components from their real sources:
# Mellanox OFED (mlnx-ofa_kernel), Debian's NVIDIA kernel source and nv_peer_mem (bash;
# source it after tests/lib.sh or tests/vm/common.sh).
#
#   ofed_sources   finds the pinned tarballs (../shared/sources of the checkout, or
#                  DK_SOURCES), checks their sha256, keeps a copy in the machine-wide test
#                  cache (so a clone anywhere finds them later); sets OFED_TAR OFED_SHA
#                  NVPM_TAR NVPM_SHA OFED_VERSION NVPM_VERSION
#   ofed_spec CACHE [OFED-EXTRA-YAML] [OFED-CONFIGURE-EXTRA]
#                  prints the three-component spec (tests/build/ofed/spec.yaml with the
#                  paths filled in) using build cache CACHE; OFED-EXTRA-YAML is added to
#                  ofed's build: (e.g. "patches: [ FILE ]"), OFED-CONFIGURE-EXTRA to its
#                  configure argv
#   ofed_cache     the machine-wide build cache these builds share
#                  ($(tests/vm/cache-dir.sh)/ofed-cache): OFED's cold build takes about
#                  12 minutes (configure's probes + make), every later run is a hit
: "${DK_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

OFED_VERSION=25.10.1.7.1.1
OFED_SHA=3f858caca217638c66ca785ed17e711938c593b60466917077ea25fb5dc19bee
NVPM_VERSION=1.3
NVPM_SHA=426e137b446645d28158fc2d163a10d84e60781c45adac464ac7b67359a9ec0f

ofed_cache() { echo "$("$DK_SRCDIR/tests/vm/cache-dir.sh")/ofed-cache"; }

# _ofed_find NAME SHA: a verified copy of NAME in the machine cache
_ofed_find() {
	local name=$1 sha=$2 keep d f
	keep=$("$DK_SRCDIR/tests/vm/cache-dir.sh")/sources
	mkdir -p "$keep"
	if [ -f "$keep/$name" ] && [ "$(sha256sum "$keep/$name" | cut -d' ' -f1)" = "$sha" ]; then
		echo "$keep/$name"
		return 0
	fi
	for d in ${DK_SOURCES:-} "$DK_SRCDIR/../shared/sources" /work/shared/sources; do
		f=$d/$name
		[ -f "$f" ] || continue
		if [ "$(sha256sum "$f" | cut -d' ' -f1)" != "$sha" ]; then
			echo "ofed-lib: $f: sha256 is not the pinned $sha" >&2
			return 1
		fi
		cp "$f" "$keep/$name.tmp.$$" && mv "$keep/$name.tmp.$$" "$keep/$name"
		echo "$keep/$name"
		return 0
	done
	echo "ofed-lib: $name not found (looked in \$DK_SOURCES, $DK_SRCDIR/../shared/sources, /work/shared/sources, $keep)" >&2
	return 1
}

ofed_sources() {
	[ -n "${OFED_TAR:-}" ] && [ -n "${NVPM_TAR:-}" ] && return 0
	OFED_TAR=$(_ofed_find "mlnx-ofa_kernel-$OFED_VERSION.tar.xz" "$OFED_SHA") || return 1
	NVPM_TAR=$(_ofed_find "nv_peer_memory-$NVPM_VERSION.tar.gz" "$NVPM_SHA") || return 1
}

ofed_spec() {
	local cache=$1 extra=${2:-} conf=${3:-}
	ofed_sources || return 1
	. "$DK_SRCDIR/tests/build/nvidia-lib.sh"
	nv_debs || return 1
	sed -e "s|@CACHE@|$cache|" -e "s|@OFED_TAR@|$OFED_TAR|" -e "s|@OFED_SHA@|$OFED_SHA|" \
		-e "s|@NVPM_TAR@|$NVPM_TAR|" -e "s|@NVPM_SHA@|$NVPM_SHA|" \
		-e "s|@NV_DEB@|$NV_PROP_DEB|" -e "s|@NV_SHA@|$NV_PROP_SHA|" \
		-e "s|@NV_VERSION@|$NV_VERSION|" -e "s|@OFED_EXTRA@|$extra|" \
		-e "s|@OFED_CONFIGURE_EXTRA@|$conf|" \
		"$DK_SRCDIR/tests/build/ofed/spec.yaml"
}
