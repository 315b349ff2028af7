# Shared setup for the load/unload/init tests: the real test modules, a fixture
# host root, and the preload shim that fakes the module syscalls.
# Source after tests/lib.sh.
: "${DK_SHIM:=$DK_BUILDDIR/kmod-shim.so}"

need_modules
KVER=$(basename "$MODS" | sed 's/-[0-9a-f]*$//')

# The shim must come after the sanitizer runtime when drvkit is built with ASan.
SHIM_PRELOAD=$DK_SHIM
asan_rt=$(ldd "$DRVKIT" 2>/dev/null | awk '/libasan/ {print $3}')
if [ -n "$asan_rt" ]; then
	SHIM_PRELOAD="$asan_rt:$DK_SHIM"
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
fi
ASAN=${asan_rt:+1}

# new_host NAME: a fresh host root $HOST with an empty fake sysfs and the real
# 6.1 module tree (for lookups); resets the shim log.
new_host() {
	HOST=$TMP/$1
	rm -rf "$HOST"
	mkdir -p "$HOST/sys/module" "$HOST/lib/modules" "$HOST/boot"
	ln -s "/lib/modules/$KVER" "$HOST/lib/modules/$KVER" 2>/dev/null ||
		mkdir -p "$HOST/lib/modules/$KVER"
	echo "CONFIG_MODULE_UNLOAD=y" >"$HOST/boot/config-$KVER"
	SHIMLOG=$HOST/shim.log
	: >"$SHIMLOG"
}

# A host tree of our own with dktest_export and dktest_user as "in-tree".
new_host_tree() {
	new_host "$1"
	rm -f "$HOST/lib/modules/$KVER"
	mkdir -p "$HOST/lib/modules/$KVER/kernel/drivers/dktest"
	cp "$MODS/dktest_export.ko" "$MODS/dktest_user.ko" "$HOST/lib/modules/$KVER/kernel/drivers/dktest/"
	touch "$HOST/lib/modules/$KVER/modules.order" "$HOST/lib/modules/$KVER/modules.builtin"
	depmod -b "$HOST" "$KVER" 2>/dev/null
}

# dk ARGS...: drvkit under the shim on $HOST.
dk() {
	DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG LD_PRELOAD=$SHIM_PRELOAD \
		"$DRVKIT" "$@"
}

# Lines of the shim log matching a word, space separated.
shimlog() { grep -E "^($1) " "$SHIMLOG" | awk '{print $1 ":" $2}' | tr '\n' ' ' | sed 's/ $//'; }

wait_for() { # wait_for FILE SECONDS
	local i=0
	while [ ! -e "$1" ] && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$1" ]
}
