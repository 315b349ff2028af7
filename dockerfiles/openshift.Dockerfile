# drvkit build image for OpenShift (RHCOS): builder and image are the Driver Toolkit (DTK)
# image of the cluster's RHCOS version. The DTK carries kernel-devel, kernel-headers and
# kernel-modules of exactly that RHCOS kernel, the gcc it was built with, kmod and openssl,
# so nothing is installed from RHEL repositories: no entitlement is needed. One image per
# RHCOS version (OSTREE_VERSION): a DTK whose KERNEL_VERSION differs from the node's kernel
# builds modules that node refuses (drvkit select picks the right one per node).
#
# Build args (scripts/build-images passes what `drvkit matrix --format tags` prints):
#   DTK_IMAGE       the Driver Toolkit image of the RHCOS version, by digest:
#                   oc adm release info --image-for=driver-toolkit <release image>
#                   (required: there is no sensible default)
#   BASE_IMAGE      the same as DTK_IMAGE in the matrix (a label here)
#   DRIVER_NAME, DRIVER_VERSION, DRIVER_BRANCH, DRVKIT_CONFIG   as debian.Dockerfile
#   MESON_VERSION   meson from PyPI (RHEL 9's is 0.63; drvkit needs >= 1.0)
ARG DTK_IMAGE=

# An empty DTK_IMAGE still needs an image with a shell to say so (first RUN below).
FROM ${DTK_IMAGE:-registry.access.redhat.com/ubi9/ubi-minimal:9.4} AS builder
ARG DTK_IMAGE=
ARG MESON_VERSION=1.4.1
# The DTK has the compiler; drvkit's -devel headers: kmod-devel, elfutils-libelf-devel and
# openssl-devel are in the DTK's repositories (it is built with them); libyaml-devel,
# libarchive-devel and libcurl-devel are header-only needs of drvkit's build and come with
# the DTK's enabled repos too. A missing one fails here with dnf's message.
RUN test -n "$DTK_IMAGE" || { echo "openshift.Dockerfile: --build-arg DTK_IMAGE is empty: set it to the Driver Toolkit image of the RHCOS version (oc adm release info --image-for=driver-toolkit <release>), or fill the RHCOS version's Driver Toolkit image in the kernel matrix" >&2; exit 1; }; \
    cat /etc/driver-toolkit-release.json && \
    dnf install -y -q python3 python3-pip ninja-build pkgconf-pkg-config \
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

# ---- the image: the DTK again (headers and gcc of the node's kernel) plus drvkit. Its
# runtime libraries are the DTK's (kmod, elfutils, openssl, libyaml, libcurl, libarchive
# are RHEL base packages the DTK holds).
FROM ${DTK_IMAGE:-registry.access.redhat.com/ubi9/ubi-minimal:9.4}
ARG DRIVER_NAME=
ARG DRIVER_VERSION=
ARG DRIVER_BRANCH=
ARG DTK_IMAGE=
COPY --from=builder /stage/ /
LABEL org.opencontainers.image.title="drvkit build image ${DRIVER_NAME} (Driver Toolkit)" \
      org.opencontainers.image.description="drvkit init for RHCOS: builds with the Driver Toolkit's headers and gcc, no entitlement" \
      org.opencontainers.image.version="${DRIVER_VERSION}" \
      io.drvkit.kind="build" \
      io.drvkit.dtk="${DTK_IMAGE}" \
      io.drvkit.driver.name="${DRIVER_NAME}" \
      io.drvkit.driver.version="${DRIVER_VERSION}" \
      io.drvkit.driver.branch="${DRIVER_BRANCH}"
ENTRYPOINT ["drvkit", "init"]
CMD ["--config", "/etc/drvkit/config.yaml"]
