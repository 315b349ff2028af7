# drvkit build image for Debian 12: drvkit plus the compiler Debian's kernels were built
# with, so `drvkit init` can build a driver for a kernel no precompiled image exists for
# (get: [cache, precompiled, build]). Headers come at run time from the host (/usr/src and
# /lib/modules mounted) or from header packages (`drvkit headers --package`).
#
#   buildah bud -f dockerfiles/debian.Dockerfile --build-arg DRIVER_NAME=nvidia ... .
#
# Build args (scripts/build-images passes what `drvkit matrix --format tags` prints):
#   BASE_IMAGE      the Debian image (default pinned to a point release: reproducible)
#   DRIVER_NAME, DRIVER_VERSION, DRIVER_BRANCH   labels only
#   DRVKIT_CONFIG   the driver's drvkit config, relative to the build context; its
#                   directory (patches, sources it names relatively) goes to /etc/drvkit
ARG BASE_IMAGE=debian:12.11

# ---- builder: drvkit from this source tree, with the same packages scripts/install-deps
# names for a build (meson >= 1.0 is in bookworm).
FROM ${BASE_IMAGE} AS builder
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        meson ninja-build pkg-config gcc libc6-dev python3 \
        libkmod-dev libelf-dev libarchive-dev libcurl4-openssl-dev libssl-dev libyaml-dev \
        >/dev/null
COPY . /src
# Only the binary: the test suite's own dependencies (gtest, qemu) are not needed here.
RUN cd /src && rm -rf /build && \
    meson setup /build -Dvm_tests=false --buildtype=release >/dev/null && \
    ninja -C /build drvkit >/dev/null && \
    install -D -m 0755 /build/drvkit /stage/usr/local/bin/drvkit
ARG DRVKIT_CONFIG=
# The driver's config and its directory, so relative paths in it keep working.
RUN mkdir -p /stage/etc/drvkit && \
    if [ -n "$DRVKIT_CONFIG" ]; then \
        test -f "/src/$DRVKIT_CONFIG" || { echo "DRVKIT_CONFIG=$DRVKIT_CONFIG: no such file in the build context" >&2; exit 1; }; \
        cp -r "/src/$(dirname "$DRVKIT_CONFIG")/." /stage/etc/drvkit/ && \
        cp "/src/$DRVKIT_CONFIG" /stage/etc/drvkit/config.yaml; \
    fi

# ---- the image: drvkit's runtime libraries (libcurl and libarchive are dlopen()ed for
# downloads and packages), and gcc-12 + make: Debian 12's kernels (6.1, and the 6.12
# backports) are built with gcc 12, and drvkit refuses another major. binutils comes with
# gcc; kbuild's host tools (fixdep, modpost) are in the headers' linux-kbuild package.
FROM ${BASE_IMAGE}
ARG DRIVER_NAME=
ARG DRIVER_VERSION=
ARG DRIVER_BRANCH=
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        libkmod2 libelf1 libssl3 libyaml-0-2 libcurl4 libarchive13 ca-certificates \
        gcc-12 make libc6-dev kmod xz-utils zstd \
        >/dev/null && \
    rm -rf /var/lib/apt/lists/*
COPY --from=builder /stage/ /
LABEL org.opencontainers.image.title="drvkit build image ${DRIVER_NAME}" \
      org.opencontainers.image.description="drvkit init for Debian 12 kernels: cache, precompiled package, or a build with gcc-12" \
      org.opencontainers.image.version="${DRIVER_VERSION}" \
      io.drvkit.kind="build" \
      io.drvkit.driver.name="${DRIVER_NAME}" \
      io.drvkit.driver.version="${DRIVER_VERSION}" \
      io.drvkit.driver.branch="${DRIVER_BRANCH}"
ENTRYPOINT ["drvkit", "init"]
CMD ["--config", "/etc/drvkit/config.yaml"]
