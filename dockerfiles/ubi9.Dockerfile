# drvkit build image for RHEL 9 and its rebuilds (rhel, rocky, almalinux, ol, centos 9):
# UBI 9 plus drvkit and the kernel's compiler (RHEL 9 kernels are built with the system
# gcc 11), so `drvkit init` can build for a kernel no precompiled image exists for.
#
# Build args (scripts/build-images passes what `drvkit matrix --format tags` prints):
#   BASE_IMAGE      registry.access.redhat.com/ubi9/ubi:<9.x> (the full UBI: dnf; a
#                   ubi-minimal base works too: microdnf is used when dnf is missing)
#   BUILDER_IMAGE   where drvkit is compiled: its -devel packages (libyaml-devel,
#                   elfutils-libelf-devel, ...) are in CRB, which UBI lacks without an
#                   entitlement; Rocky Linux 9 has them and the same ABI as RHEL 9
#   KERNEL, HEADERS_FROM   with HEADERS_FROM=installed, kernel-devel-KERNEL is installed
#                   (needs the RHEL repositories: an entitled build host)
#   DRIVER_NAME, DRIVER_VERSION, DRIVER_BRANCH, DRVKIT_CONFIG   as debian.Dockerfile
ARG BASE_IMAGE=registry.access.redhat.com/ubi9/ubi:9.4
ARG BUILDER_IMAGE=quay.io/rockylinux/rockylinux:9.4

FROM ${BUILDER_IMAGE} AS builder
ARG MESON_VERSION=1.4.1
# RHEL 9's meson is 0.63: drvkit needs >= 1.0, so meson comes from PyPI.
RUN dnf install -y -q dnf-plugins-core && dnf config-manager --set-enabled crb && \
    dnf install -y -q gcc make pkgconf-pkg-config python3 python3-pip ninja-build \
        kmod-devel elfutils-libelf-devel libarchive-devel libcurl-devel openssl-devel \
        libyaml-devel && \
    python3 -m venv /opt/meson && /opt/meson/bin/pip install -q "meson==${MESON_VERSION}"
COPY . /src
RUN cd /src && rm -rf /build && \
    /opt/meson/bin/meson setup /build -Dvm_tests=false --buildtype=release >/dev/null && \
    ninja -C /build drvkit >/dev/null && \
    install -D -m 0755 /build/drvkit /stage/usr/local/bin/drvkit
ARG DRVKIT_CONFIG=
RUN mkdir -p /stage/etc/drvkit && \
    if [ -n "$DRVKIT_CONFIG" ]; then \
        test -f "/src/$DRVKIT_CONFIG" || { echo "DRVKIT_CONFIG=$DRVKIT_CONFIG: no such file in the build context" >&2; exit 1; }; \
        cp -r "/src/$(dirname "$DRVKIT_CONFIG")/." /stage/etc/drvkit/ && \
        cp "/src/$DRVKIT_CONFIG" /stage/etc/drvkit/config.yaml; \
    fi

# ---- the image: runtime libraries (libcurl-minimal and libarchive are dlopen()ed), gcc
# (RHEL 9: gcc 11, the kernel's), make, elfutils-libelf-devel (objtool in kernel-devel's
# build needs libelf at run time only; the -devel is what kbuild checks for on RHEL).
FROM ${BASE_IMAGE}
ARG KERNEL=
ARG HEADERS_FROM=
ARG DRIVER_NAME=
ARG DRIVER_VERSION=
ARG DRIVER_BRANCH=
RUN set -eu; pm=dnf; command -v dnf >/dev/null || pm=microdnf; \
    $pm install -y kmod-libs elfutils-libelf openssl-libs libyaml libcurl-minimal libarchive \
        gcc make kmod xz zstd elfutils-libelf-devel; \
    if [ "$HEADERS_FROM" = installed ]; then \
        test -n "$KERNEL" || { echo "ubi9.Dockerfile: HEADERS_FROM=installed needs --build-arg KERNEL=<kernel release>" >&2; exit 1; }; \
        $pm install -y "kernel-devel-$KERNEL" || { echo "ubi9.Dockerfile: kernel-devel-$KERNEL is not in the repositories this build sees (UBI has no kernel-devel: build on an entitled RHEL host, or use HEADERS_FROM=packages)" >&2; exit 1; }; \
    fi; \
    $pm clean all
COPY --from=builder /stage/ /
LABEL org.opencontainers.image.title="drvkit build image ${DRIVER_NAME}" \
      org.opencontainers.image.description="drvkit init for RHEL 9 kernels: cache, precompiled package, or a build with gcc 11" \
      org.opencontainers.image.version="${DRIVER_VERSION}" \
      io.drvkit.kind="build" \
      io.drvkit.driver.name="${DRIVER_NAME}" \
      io.drvkit.driver.version="${DRIVER_VERSION}" \
      io.drvkit.driver.branch="${DRIVER_BRANCH}"
ENTRYPOINT ["drvkit", "init"]
CMD ["--config", "/etc/drvkit/config.yaml"]
