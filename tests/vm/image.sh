# Host side of the `image` VM group (bash; sourced by tests/vm/run.sh after common.sh).
# The proof that the images work: a Debian 12 base made here with debootstrap (base images
# cannot be pulled here), the Debian build image and the precompiled image for the VM's
# kernel built by scripts/build-images (buildah, vfs, chroot), and the precompiled image's
# root filesystem booted as the VM's initramfs, where the guest runs the image's
# entrypoint + cmd (scenario image-run).
#   vm_prepare_image  -> VM_IMG_INITRD; VM_IMG_TIMES (what each step took), VM_IMG_SIZES
# Caches: the debootstrap tarball in ${DK_CACHE:-/var/cache/drvkit-test}; images in buildah's
# vfs storage (localhost/debian:12-base, localhost/drvkit-dktest:*: present ones are not
# built again; `buildah --storage-driver vfs rmi` them to rebuild); apt's archives and
# drvkit's downloads in volumes under the cache dir.
IMG_BASE=localhost/debian:12-base
IMG_BAH=(buildah --storage-driver vfs)

img_note() { echo "# vm: image: $*" >&2; }
img_time() { # img_time NAME CMD...: runs CMD, appends "NAME Ns" to VM_IMG_TIMES
	local t0 rc
	t0=$(date +%s.%N)
	"$@"
	rc=$?
	VM_IMG_TIMES+="$1 $(printf '%.0f' "$(echo "$(date +%s.%N) - $t0" | bc)")s; "
	return $rc
}

# The Debian 12 base image: debootstrap --variant=minbase (tarball cached by its inputs),
# imported with `buildah from scratch` + `buildah add` + `buildah commit`.
img_base() {
	"${IMG_BAH[@]}" inspect --type image "$IMG_BASE" >/dev/null 2>&1 && return 0
	local cache key tarball mirror=http://deb.debian.org/debian root ctr
	cache=$("$DK_SRCDIR/tests/vm/cache-dir.sh")
	key=$(echo "bookworm minbase $mirror $(debootstrap --version)" | sha256sum | cut -c1-12)
	tarball=$cache/debian-12-base-$key.tar
	if [ ! -f "$tarball" ]; then
		root=$(mktemp -d "$VM_DIR/debootstrap.XXXXXX")
		img_note "debootstrap --variant=minbase bookworm (about 30-100 s)"
		img_time debootstrap nice debootstrap --variant=minbase bookworm "$root" "$mirror" \
			>"$VM_DIR/debootstrap.log" 2>&1 || { tail -n 20 "$VM_DIR/debootstrap.log" >&2; rm -rf "$root"; return 1; }
		rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
		tar -C "$root" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
		rm -rf "$root"
	fi
	ctr=$("${IMG_BAH[@]}" from scratch) || return 1
	"${IMG_BAH[@]}" add "$ctr" "$tarball" / >/dev/null &&
		"${IMG_BAH[@]}" config --cmd /bin/bash --label io.drvkit.test=base "$ctr" &&
		"${IMG_BAH[@]}" commit -q "$ctr" "$IMG_BASE" >/dev/null
	local rc=$?
	"${IMG_BAH[@]}" rm "$ctr" >/dev/null 2>&1
	return $rc
}
