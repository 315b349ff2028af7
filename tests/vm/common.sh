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
		--add "$keys/signing.key:/dk/keys/signing.key" \
		--add "$keys/signing.crt:/dk/keys/signing.crt")
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
	timeout -k 5 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -m 512 -smp 1 \
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
