# drvkit precompiled image: the driver's modules built for ONE kernel at image build time,
# so a node running that kernel loads them without headers or a compiler (the image has
# neither). Tag convention: <branch>-<kernel release>-<os><os version>.
#
# Stage `build` runs on the driver's build image (dockerfiles/{debian,ubuntu,ubi9,openshift}
# .Dockerfile): it gets the kernel's headers, runs `drvkit build --package`, and stages the
# package. The final stage is the plain OS base plus drvkit's runtime libraries, drvkit,
# the package and its manifest, and the config. At start, `drvkit init` finds the modules
# through the config's precompiled source, which must name the package's place in the image:
#     source:
#       get: [ cache, precompiled, build ]
#       precompiled: { url: "file:///usr/share/drvkit/precompiled/{kernel}.tar.zst" }
# (the package's manifest holds every module's sha256; init refuses a package that does
# not match it, and imports it into the node's cache so the next start is a cache hit).
#
# Build args (scripts/build-images passes what `drvkit matrix --format tags` prints):
#   BUILD_IMAGE     the driver's build image for this OS version (holds drvkit, the
#                   compiler and /etc/drvkit/config.yaml)
#   BASE_IMAGE      the OS base of the final image (same OS version as BUILD_IMAGE: the
#                   glibc drvkit was linked against)
#   KERNEL          the kernel release to build for (uname -r of the nodes)
#   HEADERS_FROM    packages: HEADERS lists the header packages (URL#sha256=HEX, the
#                   syntax of `drvkit headers --package`), unpacked without dpkg/rpm;
#                   installed: the OS package manager installs the kernel's headers
#                   (linux-headers-KERNEL / kernel-devel-KERNEL) in the build stage;
#                   dtk: the Driver Toolkit build image already has them
#   DRVKIT_CONFIG   the driver's config path in the matrix (a label: the config used is
#                   the build image's /etc/drvkit/config.yaml, the same driver)
#   DRIVER_NAME, DRIVER_VERSION, DRIVER_BRANCH   labels
ARG BUILD_IMAGE=localhost/drvkit-build:unset
ARG BASE_IMAGE=debian:12.11

FROM ${BUILD_IMAGE} AS build
ARG KERNEL=
ARG HEADERS=
ARG HEADERS_FROM=packages
ARG DRVKIT_CONFIG=
# drvkit's download cache for the header packages (keyed by sha256): mount a volume here
# (`buildah bud -v DIR:/var/cache/drvkit-downloads`) to download them once per machine.
ARG DRVKIT_DOWNLOADS=/var/cache/drvkit-downloads
RUN set -eu; \
    test -n "$KERNEL" || { echo "precompiled.Dockerfile: --build-arg KERNEL=<kernel release> is required" >&2; exit 1; }; \
    test -f /etc/drvkit/config.yaml || { echo "precompiled.Dockerfile: the build image has no /etc/drvkit/config.yaml: build it with --build-arg DRVKIT_CONFIG=<the driver's config>" >&2; exit 1; }; \
    grep -q 'file:///usr/share/drvkit/precompiled/' /etc/drvkit/config.yaml || { \
        echo "precompiled.Dockerfile: /etc/drvkit/config.yaml (${DRVKIT_CONFIG:-the build image's config}) does not name the package in the image: add to each component's source:" >&2; \
        echo '  precompiled: { url: "file:///usr/share/drvkit/precompiled/{kernel}.tar.zst" }' >&2; \
        echo "(and cache, precompiled in its get: list), else drvkit init never uses the modules built here" >&2; exit 1; }; \
    hdr=; \
    case "$HEADERS_FROM" in \
    packages) \
        test -n "$HEADERS" || { echo "precompiled.Dockerfile: HEADERS_FROM=packages needs HEADERS='URL#sha256=HEX ...'" >&2; exit 1; }; \
        set --; for p in $HEADERS; do set -- "$@" --package "$p"; done; \
        drvkit headers --kernel "$KERNEL" -o /hdr --cache-dir "$DRVKIT_DOWNLOADS" "$@"; \
        for d in "/hdr/usr/src/linux-headers-$KERNEL" "/hdr/usr/src/kernels/$KERNEL"; do \
            if [ -d "$d" ]; then hdr=$d; fi; \
        done ;; \
    installed) \
        if [ ! -e "/lib/modules/$KERNEL/build" ] && [ ! -d "/usr/src/kernels/$KERNEL" ]; then \
            if command -v apt-get >/dev/null; then \
                apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "linux-headers-$KERNEL" >/dev/null; \
            elif command -v dnf >/dev/null; then dnf install -y -q "kernel-devel-$KERNEL"; \
            else microdnf install -y "kernel-devel-$KERNEL"; fi; \
        fi ;; \
    dtk) test -d "/usr/src/kernels/$KERNEL" || { echo "precompiled.Dockerfile: the Driver Toolkit build image has no /usr/src/kernels/$KERNEL: its /etc/driver-toolkit-release.json says $(cat /etc/driver-toolkit-release.json 2>/dev/null)" >&2; exit 1; } ;; \
    *) echo "precompiled.Dockerfile: HEADERS_FROM=$HEADERS_FROM: expected packages, installed or dtk" >&2; exit 1 ;; \
    esac; \
    mkdir -p /stage/usr/share/drvkit/precompiled /stage/usr/local/bin /stage/etc; \
    drvkit build --config /etc/drvkit/config.yaml --kernel "$KERNEL" ${hdr:+--headers "$hdr"} \
        -j "$(nproc)" -o /stage/usr/share/drvkit/precompiled \
        --package "/stage/usr/share/drvkit/precompiled/$KERNEL.tar.zst"; \
    rm -rf /hdr; \
    cp "$(command -v drvkit)" /stage/usr/local/bin/drvkit; \
    cp -r /etc/drvkit /stage/etc/drvkit

# ---- the image: no compiler, no headers. drvkit's runtime libraries come from the OS
# package manager (libcurl and libarchive are dlopen()ed for the package: file:// and
# .tar.zst); the modules as the package init imports, and unpacked
# (/usr/share/drvkit/precompiled/KERNEL/COMPONENT/*.ko + manifest.json) for inspection.
FROM ${BASE_IMAGE}
ARG KERNEL=
ARG DRIVER_NAME=
ARG DRIVER_VERSION=
ARG DRIVER_BRANCH=
ARG DRVKIT_CONFIG=
RUN set -eu; \
    if command -v apt-get >/dev/null; then \
        apt-get update -qq && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            libkmod2 libelf1 libyaml-0-2 libcurl4 libarchive13 ca-certificates >/dev/null && \
        { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libssl3 >/dev/null 2>&1 || \
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libssl3t64 >/dev/null; } && \
        rm -rf /var/lib/apt/lists/*; \
    elif command -v dnf >/dev/null; then \
        dnf install -y -q kmod-libs elfutils-libelf openssl-libs libyaml libcurl-minimal libarchive && dnf clean all; \
    else \
        microdnf install -y kmod-libs elfutils-libelf openssl-libs libyaml libcurl-minimal libarchive && microdnf clean all; \
    fi
COPY --from=build /stage/ /
LABEL org.opencontainers.image.title="drvkit precompiled ${DRIVER_NAME} ${DRIVER_BRANCH} for ${KERNEL}" \
      org.opencontainers.image.description="drvkit init with ${DRIVER_NAME} modules prebuilt for kernel ${KERNEL}: no compiler, no headers" \
      org.opencontainers.image.version="${DRIVER_VERSION}" \
      io.drvkit.kind="precompiled" \
      io.drvkit.kernel="${KERNEL}" \
      io.drvkit.config="${DRVKIT_CONFIG}" \
      io.drvkit.driver.name="${DRIVER_NAME}" \
      io.drvkit.driver.version="${DRIVER_VERSION}" \
      io.drvkit.driver.branch="${DRIVER_BRANCH}"
ENTRYPOINT ["drvkit", "init"]
CMD ["--config", "/etc/drvkit/config.yaml"]
