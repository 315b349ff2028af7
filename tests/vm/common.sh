# Host-side helpers shared by tests/vm/run.sh, scripts/demo and scripts/bench init (bash).
# Source after setting DK_SRCDIR, DK_BUILDDIR and DRVKIT.
#   vm_prepare_debian       -> VM_DEB_KERNEL, VM_DEB_INITRD (Debian's kernel + initramfs)
#   vm_prepare_enforcing    -> VM_ENF_KERNEL, VM_ENF_INITRD (test kernel enforcing signatures)
#   vm_boot KERNEL INITRD SCENARIOS LOG [CMDLINE...]: boots, runs the scenarios, writes the
#                           serial console to LOG; returns 0 when the end marker was printed
VM_DIR=$DK_BUILDDIR/vm
VM_TIMEOUT=${DK_VM_TIMEOUT:-300}
vm_note() { echo "# vm: $*" >&2; }

vm_need() { # checks the prerequisites; installs what is missing through scripts/install-deps
	local missing=0
	command -v qemu-system-x86_64 >/dev/null || missing=1
	[ -x /bin/busybox ] && file -L /bin/busybox | grep -q static || missing=1
	[ -f /usr/src/linux-source-6.1.tar.xz ] || missing=1
	ls /boot/vmlinuz-*-amd64 >/dev/null 2>&1 || missing=1
	command -v bison >/dev/null && command -v flex >/dev/null && command -v bc >/dev/null || missing=1
	if [ "$missing" -eq 1 ]; then
		vm_note "prerequisites missing; running scripts/install-deps"
		"$DK_SRCDIR/scripts/install-deps" >&2
	fi
}

# The Debian kernel whose headers tests/modules/build.sh uses (newest installed amd64).
vm_debian_kver() {
	ls -d /usr/src/linux-headers-*-amd64 | sed 's|.*/linux-headers-||' | sort -V | tail -n1
}

vm_helper() { # static helpers for the guest
	mkdir -p "$VM_DIR"
	local src=$DK_SRCDIR/tests/vm/dkvm-bench.c bin=$VM_DIR/dkvm-bench
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
		gcc -O2 -static -Wall -o "$bin" "$src"
	fi
	echo "$bin"
}

vm_prepare_debian() {
	VM_DEB_KVER=$(vm_debian_kver)
	VM_DEB_KERNEL=/boot/vmlinuz-$VM_DEB_KVER
	[ -r "$VM_DEB_KERNEL" ] || { echo "vm: $VM_DEB_KERNEL missing (linux-image-amd64 for the headers' version)" >&2; return 1; }
	local mods keys
	mods=$("$DK_SRCDIR/tests/modules/build.sh" "$DK_BUILDDIR/test-modules" "$VM_DEB_KVER")
	keys=$("$DK_SRCDIR/tests/vm/keys.sh")
	VM_DEB_INITRD=$("$DK_SRCDIR/tests/vm/mkinitramfs.sh" "$VM_DIR" "$VM_DEB_KVER" \
		--drvkit "$DRVKIT" --host-modules "ib_core ib_uverbs" \
		--add "$(vm_helper):/bin/dkvm-bench" \
		--add "$mods/dktest_params.ko:/dk/mods/dktest_params.ko" \
		--add "$mods/dktest_export.ko:/dk/mods/dktest_export.ko" \
		--add "$mods/dktest_user.ko:/dk/mods/dktest_user.ko" \
		--add "$mods/dktest_fail.ko:/dk/fail/dktest_fail.ko" \
		--add "$mods/dktest_hold.ko:/dk/hold/dktest_hold.ko" \
		--add "$keys/signing.key:/dk/keys/signing.key" \
		--add "$keys/signing.crt:/dk/keys/signing.crt" \
		--add "$(vm_build_set "$VM_DEB_KVER"):/dk/build")
}

# vm_sign_set SRC DEST KEY CRT TOOL: signs copies of the test modules; TOOL is drvkit|sign-file
vm_sign_set() {
	local src=$1 dest=$2 key=$3 crt=$4 tool=$5 m
	rm -rf "$dest"
	mkdir -p "$dest"
	for m in dktest_params dktest_export dktest_user; do
		cp "$src/$m.ko" "$dest/$m.ko"
		if [ "$tool" = drvkit ]; then
			"$DRVKIT" sign --key "$key" --cert "$crt" "$dest/$m.ko" >&2 || return 1
		else
			"$VM_ENF_TREE/scripts/sign-file" sha256 "$key" "$crt" "$dest/$m.ko" || return 1
		fi
	done
}

# Whether this drvkit has the `sign` command yet (else sign-file stands in, and run.sh says so).
vm_have_drvkit_sign() { "$DRVKIT" sign --help >/dev/null 2>&1; }

vm_prepare_enforcing() {
	local kdir mods keys signer=sign-file t0
	t0=$(date +%s)
	kdir=$("$DK_SRCDIR/tests/vm/build-kernel.sh")
	VM_ENF_KBUILD_S=$(($(date +%s) - t0))
	VM_ENF_TREE=$kdir/build
	VM_ENF_KVER=$(cat "$kdir/kver")
	VM_ENF_KERNEL=$kdir/bzImage
	mods=$("$DK_SRCDIR/tests/modules/build.sh" "$DK_BUILDDIR/test-modules" "$VM_ENF_TREE")
	keys=$("$DK_SRCDIR/tests/vm/keys.sh")
	vm_have_drvkit_sign && signer=drvkit
	VM_ENF_SIGNER=$signer
	vm_sign_set "$mods" "$VM_DIR/enf-signed" "$keys/signing.key" "$keys/signing.crt" "$signer"
	vm_sign_set "$mods" "$VM_DIR/enf-signfile" "$keys/signing.key" "$keys/signing.crt" sign-file
	vm_sign_set "$mods" "$VM_DIR/enf-wrong" "$keys/wrong.key" "$keys/wrong.crt" "$signer"
	VM_ENF_MODS=$mods
	VM_ENF_INITRD=$("$DK_SRCDIR/tests/vm/mkinitramfs.sh" "$VM_DIR" "$VM_ENF_KVER" \
		--drvkit "$DRVKIT" --tree "$VM_ENF_TREE" \
		--add "$(vm_helper):/bin/dkvm-bench" \
		--add "$mods/dktest_params.ko:/dk/mods/dktest_params.ko" \
		--add "$mods/dktest_export.ko:/dk/mods/dktest_export.ko" \
		--add "$mods/dktest_user.ko:/dk/mods/dktest_user.ko" \
		--add "$VM_DIR/enf-signed:/dk/signed" \
		--add "$VM_DIR/enf-signfile:/dk/signfile" \
		--add "$VM_DIR/enf-wrong:/dk/wrong" \
		--add "$keys/signing.key:/dk/keys/signing.key" \
		--add "$keys/signing.crt:/dk/keys/signing.crt")
}

vm_boot() { # vm_boot KERNEL INITRD SCENARIOS LOG [CMDLINE...]
	local kernel=$1 initrd=$2 scen=$3 log=$4
	shift 4
	mkdir -p "$(dirname "$log")"
	rm -f "$log"
	timeout -k 5 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -m "${VM_MEM:-512}" -smp 1 \
		-nodefaults -display none -no-reboot \
		-serial "file:$log" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=1 dk.scenario=$scen $*" \
		</dev/null >"$log.qemu" 2>&1
	local rc=$?
	[ "$rc" -eq 124 ] && vm_note "boot timed out after ${VM_TIMEOUT}s"
	tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"
	grep -q '^DKVM: end' "$log"
}

# The cross-component set for init's get phase in the guest: an OFED-like provider and a
# peer-memory-like consumer that uses it, built on the host by `drvkit build` into a cache
# that goes into the guest. The guest has neither headers nor a compiler, so init there can
# only find them by alias (the same spec and the same source trees: a copy of each tree goes
# in too, for its digest). Prints the directory to --add as /dk/build.
vm_build_set() {
	local kver=$1 d=$VM_DIR/build-set
	rm -rf "$d"
	mkdir -p "$d/src" "$d/configs"
	cp -r "$DK_SRCDIR/tests/modules/provider" "$d/src/provider"
	cp -r "$DK_SRCDIR/tests/modules/consumer" "$d/src/consumer"
	vm_build_set_config "$d/src" "$d/cache" >"$d/host.yaml"
	vm_build_set_config /dk/build/src /dk/build/cache >"$d/configs/build.yaml"
	"$DRVKIT" build --config "$d/host.yaml" --kernel "$kver" --host-root / >"$d/build.log" 2>&1 ||
		{ cat "$d/build.log" >&2; return 1; }
	# Only the entries and aliases: no build logs, work trees or downloads.
	rm -rf "$d/cache/logs" "$d/cache/work" "$d/cache/sha256"
	echo "$d"
}
vm_build_set_config() { # SRC CACHE
	cat <<EOC
cache_dir: $2
state_dir: /run/drvkit-build
grace_period: 10
components:
  - name: provider
    version: "1.0"
    source: { build: { src: $1/provider } }
    modules: [ dkprov ]
  - name: consumer
    version: "1.0"
    source: { build: { src: $1/consumer, uses: [ provider ] } }
    modules: [ dkcons ]
EOC
}

# The NVIDIA set: Debian's nvidia-kernel-source (proprietary, 535) built by `drvkit build`
# against the installed headers into a machine-wide cache (a cold build takes minutes; the
# cache key keeps it right), then an initramfs of its own: the base one plus the cache
# entries and a config (url + sha256 as the spec: the alias needs no download). The
# in-tree drm and video go in for the depends= of nvidia and nvidia-modeset. Sets VM_NV_INITRD.
vm_prepare_nvidia() {
	local kver=$VM_DEB_KVER d=$VM_DIR/nvidia-set cache
	. "$DK_SRCDIR/tests/build/nvidia-lib.sh"
	nv_debs || return 1
	cache=$("$DK_SRCDIR/tests/vm/cache-dir.sh")/vm-nvidia-cache
	rm -rf "$d"
	mkdir -p "$d/configs"
	vm_nvidia_config "file://$NV_PROP_DEB" "$cache" >"$d/host.yaml"
	vm_nvidia_config "http://deb.debian.org/not-downloaded.deb" /dk/nvidia/cache \
		>"$d/configs/nvidia.yaml"
	vm_note "nvidia: drvkit build of nvidia $NV_VERSION (proprietary) for $kver (cache $cache)"
	"$DRVKIT" build --config "$d/host.yaml" --kernel "$kver" --host-root / --json \
		>"$d/build.json" 2>"$d/build.log" || { tail -n 30 "$d/build.log" >&2; return 1; }
	# The one entry this build uses, and the alias that finds it (older entries stay out).
	local ent alias
	ent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["components"][0]["dir"])' "$d/build.json")
	alias=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]+"/manifest.json"))["alias"])' "$ent")
	mkdir -p "$d/cache/builds" "$d/cache/aliases"
	cp -r "$ent" "$d/cache/builds/"
	cp "$cache/aliases/$alias" "$d/cache/aliases/"
	"$DRVKIT" cache prune --max-size 1G --cache-dir "$cache" >/dev/null 2>&1 || true
	VM_NV_INITRD=$("$DK_SRCDIR/tests/vm/mkinitramfs.sh" "$VM_DIR" "$kver" \
		--drvkit "$DRVKIT" --host-modules "drm video" \
		--add "$d/configs:/dk/nvidia/configs" --add "$d/cache:/dk/nvidia/cache")
}
vm_nvidia_config() { # URL CACHE
	cat <<EOC
cache_dir: $2
state_dir: /run/drvkit-nvidia
termination_log: /run/drvkit-nvidia.termination-log
grace_period: 20
components:
  - name: nvidia
    version: "$NV_VERSION"
    source:
      get: [ cache, build ]
      build:
        flavor: proprietary
        url: "$1"
        sha256: $NV_PROP_SHA
        member: $NV_PROP_MEMBER
        subdir: $NV_PROP_SUBDIR
        make: [ make, "-j{jobs}", "KERNEL_UNAME={kernel}", modules ]
    modules: [ nvidia, nvidia-modeset, nvidia-uvm ]
EOC
}
