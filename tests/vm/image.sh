# Host side of the `image` VM group (bash; sourced by tests/vm/run.sh after common.sh).
# The proof that the images work: a Debian 12 base made here with debootstrap (base images
# cannot be pulled here), the Debian build image and the precompiled image for the VM's
# kernel built by scripts/build-images (buildah, vfs, chroot), and the precompiled image's
# root filesystem booted as the VM's initramfs, where the guest runs the image's
# entrypoint + cmd (scenario image-run).
#   vm_prepare_image  -> VM_IMG_INITRD; VM_IMG_TIMES (what each step took), VM_IMG_SIZES
# Caches: the debootstrap tarball in ${DK_CACHE:-/var/cache/drvkit-test}; images in buildah's
# vfs storage (localhost/debian:12-base is kept; the localhost/drvkit-dktest:* images are
# removed first and built again on every run, since they hold this tree's drvkit:
# DK_IMAGE_REUSE=1 keeps them for a quicker edit loop); apt's archives and drvkit's
# downloads in volumes under the cache dir.
IMG_BASE=localhost/debian:12-base
IMG_BAH=(buildah --storage-driver vfs)

img_note() { echo "# vm: image: $*" >&2; }
img_time() { # img_time NAME CMD...: runs CMD, appends "NAME Ns" to VM_IMG_TIMES
	local name=$1 t0 rc
	shift
	t0=$(date +%s.%N)
	"$@"
	rc=$?
	VM_IMG_TIMES+="$name $(printf '%.0f' "$(echo "$(date +%s.%N) - $t0" | bc)")s; "
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

# The driver `dktest`: tests/modules/provider and consumer (uses: provider), its config
# naming the package's place in the precompiled image (get: cache, precompiled, build).
img_config() {
	cat <<'EOC'
# dktest: the image group's driver (tests/vm/image.sh). Built by `drvkit build` in the
# precompiled image's build stage, loaded from the package in the image by `drvkit init`.
state_dir: /run/drvkit
grace_period: 10
components:
  - name: provider
    version: "1.0"
    source:
      get: [ cache, precompiled, build ]
      precompiled: { url: "file:///usr/share/drvkit/precompiled/{kernel}.tar.zst" }
      build: { src: provider }
    modules: [ dkprov ]
  - name: consumer
    version: "1.0"
    source:
      get: [ cache, precompiled, build ]
      precompiled: { url: "file:///usr/share/drvkit/precompiled/{kernel}.tar.zst" }
      build: { src: consumer, uses: [ provider ] }
    modules: [ dkcons ]
EOC
}

# The build context: the repository's files (tracked and untracked, not ignored: no build
# dirs) plus the dktest config dir; prints its path.
img_context() {
	local ctx=$VM_DIR/image/context
	rm -rf "$ctx"
	mkdir -p "$ctx/test-matrix/configs/dktest"
	(cd "$DK_SRCDIR" && git ls-files -z -co --exclude-standard |
		tar --null -T - --ignore-failed-read -cf -) | tar -C "$ctx" -xf - || return 1
	cp -r "$DK_SRCDIR/tests/modules/provider" "$DK_SRCDIR/tests/modules/consumer" \
		"$ctx/test-matrix/configs/dktest/"
	img_config >"$ctx/test-matrix/configs/dktest/dktest.yaml"
	echo "$ctx"
}

# The fixture matrix for the VM's kernel, written into the context's test-matrix/ next to
# the dktest config: its header packages are what apt would download (URL + SHA256). The
# tags come from `drvkit matrix --format tags` (the contract scripts/build-images reads),
# run in the context so that DRVKIT_CONFIG is a path inside it.
img_tags() { # KVER CTX
	local kver=$1 ctx=$2 base common kbuild url sha pk=
	base=${kver%-amd64}
	kbuild=$(echo "$kver" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')
	common=linux-headers-$base-common
	while read -r url _ _ sha; do
		url=${url//\'/}
		pk+="              - { url: \"$url\", sha256: ${sha#SHA256:} }"$'\n'
	done < <(apt-get download --print-uris "linux-headers-$kver" "$common" "linux-kbuild-$kbuild" 2>/dev/null)
	[ "$(grep -c url: <<<"$pk")" -eq 3 ] || { echo "vm: image: apt-get download --print-uris found no header packages for $kver" >&2; return 1; }
	cat >"$ctx/test-matrix/drivers.yaml" <<EOD
version: 1
drivers:
  - name: dktest
    image: drvkit-dktest
    config: configs/dktest/dktest.yaml
    branches: [ { branch: "1", version: "1.0" } ]
EOD
	cat >"$ctx/test-matrix/debian-12.yaml" <<EOD
version: 1
os:
  id: debian
  versions:
    - version: "12"
      base_image: $IMG_BASE
      drivers: [ { name: dktest, branches: [ "1" ] } ]
      kernels:
        - release: $kver
          arch: amd64
          headers:
            packages:
$pk
EOD
	(cd "$ctx" && "$DRVKIT" matrix test-matrix --format tags --registry localhost)
}

# The precompiled image's root filesystem as an initramfs: `buildah from` + `buildah mount`,
# its tree as it is, plus what the harness needs and a DaemonSet would mount from the host:
#   /init           tests/vm/guest/init, PATH set to the harness's busybox first
#   /dk             tests/vm/guest + tap.sh, busybox-static in /dk/bin (usleep, reboot -f)
#   /dk/image/argv  the image's entrypoint + cmd (buildah inspect), one argument per line
#   /lib/modules/KVER  the host's modules.builtin*/order, depmod-indexed (the hostPath
#                   /lib/modules a DaemonSet mounts)
img_initramfs() { # REF KVER: sets VM_IMG_INITRD
	local ref=$1 kver=$2 ctr mnt st img rc=0
	# buildah 1.28's --format has no json function: the whole inspect JSON, read here.
	"${IMG_BAH[@]}" inspect --type image "$ref" >"$VM_DIR/image/inspect.json" || return 1
	st=$VM_DIR/image/rootfs
	rm -rf "$st"
	mkdir -p "$st"
	ctr=$("${IMG_BAH[@]}" from -q "$ref") || return 1
	mnt=$("${IMG_BAH[@]}" mount "$ctr") && cp -a "$mnt/." "$st/" || rc=1
	"${IMG_BAH[@]}" umount "$ctr" >/dev/null 2>&1
	"${IMG_BAH[@]}" rm "$ctr" >/dev/null 2>&1
	[ "$rc" -eq 0 ] || return 1
	mkdir -p "$st/dk/bin" "$st/dk/image" "$st/proc" "$st/sys" "$st/dev" "$st/run" "$st/tmp"
	cp -r "$DK_SRCDIR/tests/vm/guest/." "$st/dk/"
	cp "$DK_SRCDIR/tests/tap.sh" "$st/dk/tap.sh"
	cp /bin/busybox "$st/dk/bin/busybox"
	local a
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -sf busybox "$st/dk/bin/$a"
	done
	# guest/init runs the scenarios with PATH=/bin (busybox there in the other groups):
	# here /bin is Debian's, so the harness's busybox goes first, then the image's PATH.
	sed 's|^export PATH=/bin$|export PATH=/dk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|; 1s|^#!/bin/sh|#!/dk/bin/sh|' \
		"$st/dk/init" >"$st/init"
	grep -q '^export PATH=/dk/bin:' "$st/init" || { echo "vm: image: tests/vm/guest/init has no 'export PATH=/bin' line to adapt" >&2; return 1; }
	chmod +x "$st/init"
	python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["OCIv1"]["config"]; [print(a) for a in (c.get("Entrypoint") or []) + (c.get("Cmd") or [])]' \
		"$VM_DIR/image/inspect.json" >"$st/dk/image/argv" && [ -s "$st/dk/image/argv" ] || return 1
	mkdir -p "$st/lib/modules/$kver"
	cp /lib/modules/"$kver"/modules.{order,builtin,builtin.modinfo} "$st/lib/modules/$kver/"
	depmod -b "$st" "$kver" || return 1
	img=$VM_DIR/image/initramfs.cpio.gz
	(cd "$st" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) |
		gzip -1 >"$img.tmp" && mv "$img.tmp" "$img" || return 1
	VM_IMG_SIZES+="rootfs $(du -sm "$st" | cut -f1) MB, initramfs $(($(stat -c %s "$img") / 1048576)) MB; "
	rm -rf "$st"
	VM_IMG_INITRD=$img
}

img_size() { # REF: the image's size as buildah lists it
	"${IMG_BAH[@]}" images --format '{{.Size}}' "$1" 2>/dev/null | head -n1
}

# No compiler and no headers in the precompiled image (its tree, not its PATH).
img_no_compiler() { # REF
	local ref=$1 ctr mnt found
	ctr=$("${IMG_BAH[@]}" from -q "$ref") || return 1
	mnt=$("${IMG_BAH[@]}" mount "$ctr") || { "${IMG_BAH[@]}" rm "$ctr" >/dev/null; return 1; }
	found=$(cd "$mnt" && ls -d usr/bin/gcc* usr/bin/cc usr/bin/*-gcc* usr/bin/cc1 usr/lib/gcc/*/*/cc1 \
		usr/bin/make usr/src/linux-headers-* usr/src/kernels/* 2>/dev/null)
	"${IMG_BAH[@]}" umount "$ctr" >/dev/null 2>&1
	"${IMG_BAH[@]}" rm "$ctr" >/dev/null 2>&1
	[ -z "$found" ] || { echo "vm: image: $ref holds $found" >&2; return 1; }
}

# All of it; sets VM_IMG_INITRD, VM_IMG_KVER, VM_IMG_TIMES, VM_IMG_SIZES, VM_IMG_REF.
vm_prepare_image() {
	local kver cache ctx tags t0
	t0=$(date +%s)
	VM_IMG_TIMES= VM_IMG_SIZES=
	command -v buildah >/dev/null && command -v debootstrap >/dev/null ||
		{ echo "vm: image: buildah or debootstrap missing: scripts/install-deps" >&2; return 1; }
	kver=${VM_DEB_KVER:-$(vm_debian_kver)}
	VM_IMG_KVER=$kver
	mkdir -p "$VM_DIR/image"
	cache=$("$DK_SRCDIR/tests/vm/cache-dir.sh")
	mkdir -p "$cache/image-apt-archives" "$cache/image-downloads"
	img_time base img_base || { echo "vm: image: the Debian 12 base image failed" >&2; return 1; }
	ctx=$(img_context) || return 1
	tags=$VM_DIR/image/tags.tsv
	img_tags "$kver" "$ctx" >"$tags" || { echo "vm: image: drvkit matrix --format tags failed" >&2; return 1; }
	if [ "${DK_IMAGE_REUSE:-0}" != 1 ]; then
		local ref
		for ref in $(cut -f1 "$tags"); do
			"${IMG_BAH[@]}" rmi -f "$ref" >/dev/null 2>&1 || true
		done
	fi
	VM_IMG_REF=$(awk -F'\t' '$2 == "precompiled" {print $1}' "$tags")
	img_time build-image nice "$DK_SRCDIR/scripts/build-images" --tags-file "$tags" --context "$ctx" \
		--only build -v "$cache/image-apt-archives:/var/cache/apt/archives" \
		>"$VM_DIR/image/build-build.log" 2>&1 || { tail -n 30 "$VM_DIR/image/build-build.log" >&2; return 1; }
	img_time precompiled-image nice "$DK_SRCDIR/scripts/build-images" --tags-file "$tags" --context "$ctx" \
		--only precompiled -v "$cache/image-apt-archives:/var/cache/apt/archives" \
		-v "$cache/image-downloads:/var/cache/drvkit-downloads" \
		>"$VM_DIR/image/build-precompiled.log" 2>&1 || { tail -n 30 "$VM_DIR/image/build-precompiled.log" >&2; return 1; }
	VM_IMG_SIZES+="build image $(img_size "$(awk -F'\t' '$2 == "build" {print $1}' "$tags")"), precompiled image $(img_size "$VM_IMG_REF"); "
	img_time initramfs img_initramfs "$VM_IMG_REF" "$kver" || return 1
	VM_IMG_PREP_S=$(($(date +%s) - t0))
}
