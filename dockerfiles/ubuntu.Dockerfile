# drvkit build image for Ubuntu 22.04 and 24.04 (BASE_IMAGE picks): drvkit plus the gcc
# majors Ubuntu's kernels of that release are built with, so `drvkit init` can build a
# driver for a kernel no precompiled image exists for. See debian.Dockerfile for the idea.
#
# Build args (scripts/build-images passes what `drvkit matrix --format tags` prints):
#   BASE_IMAGE      ubuntu:22.04 or ubuntu:24.04 (default pinned to a dated release tag)
#   DRIVER_NAME, DRIVER_VERSION, DRIVER_BRANCH   labels only
#   DRVKIT_CONFIG   the driver's config, relative to the build context (to /etc/drvkit)
#   MESON_VERSION   meson from PyPI in the builder: drvkit needs meson >= 1.0 and 22.04
#                   ships 0.61
ARG BASE_IMAGE=ubuntu:24.04

FROM ${BASE_IMAGE} AS builder
ARG MESON_VERSION=1.4.1
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        ninja-build pkg-config gcc libc6-dev python3 python3-venv \
        libkmod-dev libelf-dev libarchive-dev libcurl4-openssl-dev libssl-dev libyaml-dev \
        >/dev/null && \
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

# ---- the image. The compilers: 22.04's GA kernel 5.15 is built with gcc 11 and its HWE
# kernels (6.2, 6.5, 6.8) with gcc 12; 24.04's 6.8 with gcc 13 and its HWE kernels
# (6.11 and later) with gcc 14. drvkit picks gcc-<major> of the kernel's
# CONFIG_CC_VERSION_TEXT and refuses another major, so both go in. libssl3 is libssl3t64
# on 24.04 (the 64-bit time_t transition).
FROM ${BASE_IMAGE}
ARG DRIVER_NAME=
ARG DRIVER_VERSION=
ARG DRIVER_BRANCH=
RUN . /etc/os-release && \
    case "$VERSION_ID" in \
    22.04) gccs="gcc-11 gcc-12" ssl=libssl3 ;; \
    24.04) gccs="gcc-13 gcc-14" ssl=libssl3t64 ;; \
    *) echo "ubuntu.Dockerfile: Ubuntu $VERSION_ID: which gcc its kernels need is not known here: add it to this case" >&2; exit 1 ;; \
    esac && \
    apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        libkmod2 libelf1 "$ssl" libyaml-0-2 libcurl4 libarchive13 ca-certificates \
        $gccs make libc6-dev kmod xz-utils zstd \
        >/dev/null && \
    rm -rf /var/lib/apt/lists/*
COPY --from=builder /stage/ /
LABEL org.opencontainers.image.title="drvkit build image ${DRIVER_NAME}" \
      org.opencontainers.image.description="drvkit init for Ubuntu kernels: cache, precompiled package, or a build with the kernel's gcc" \
      org.opencontainers.image.version="${DRIVER_VERSION}" \
      io.drvkit.kind="build" \
      io.drvkit.driver.name="${DRIVER_NAME}" \
      io.drvkit.driver.version="${DRIVER_VERSION}" \
      io.drvkit.driver.branch="${DRIVER_BRANCH}"
ENTRYPOINT ["drvkit", "init"]
CMD ["--config", "/etc/drvkit/config.yaml"]
