#!/usr/bin/env bash
# A local stand-in for python:3.11-slim, for machines that can reach Debian and PyPI but no
# container registry: Debian bookworm (minbase, Python 3.11) with a venv at /opt/python first on
# PATH, so `python` and `pip` mean what they mean in the official image. Imported with buildah.
#   deploy/container/base-image.sh [IMAGE]        # default localhost/edgekit-base:bookworm
# Needs root, debootstrap and buildah. Work files go to $EDGEKIT_CONTAINER_WORK (default
# /var/tmp/edgekit-container), never into the repository. Prints the image's digest last.
set -euo pipefail

IMAGE=${1:-localhost/edgekit-base:bookworm}
WORK=${EDGEKIT_CONTAINER_WORK:-/var/tmp/edgekit-container}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS=$WORK/rootfs

for tool in debootstrap buildah; do
  command -v "$tool" >/dev/null || { echo "base-image.sh: $tool is not installed" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "base-image.sh: debootstrap needs root" >&2; exit 2; }

rm -rf "$ROOTFS" && mkdir -p "$ROOTFS"
nice -n 10 debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$ROOTFS" "$MIRROR"
# the venv the official image's /usr/local plays the part of; pip comes from Debian's ensurepip
chroot "$ROOTFS" /usr/bin/python3 -m venv /opt/python
chroot "$ROOTFS" /opt/python/bin/python -m pip --version
# pip trusts the system CA store (Debian's Mozilla bundle; the official image's pip uses certifi's
# copy of the same list), so a build can add a proxy's CA by mounting a bundle over that file
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$ROOTFS/etc/pip.conf"
# slim: no package lists, caches or docs (the runtime stage installs nothing with apt)
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/usr/share/doc/* \
  "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/var/log/*.log "$ROOTFS"/tmp/*
find "$ROOTFS"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'C.*' -exec rm -rf {} +
find "$ROOTFS" -name __pycache__ -type d -prune -exec rm -rf {} +

tar -C "$ROOTFS" --numeric-owner -cf "$WORK/rootfs.tar" .
cat > "$WORK/Containerfile.base" <<'CONTAINERFILE'
FROM scratch
ADD rootfs.tar /
ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8
CMD ["python"]
CONTAINERFILE
nice -n 10 buildah bud --isolation chroot -f "$WORK/Containerfile.base" -t "$IMAGE" "$WORK" >&2
rm -rf "$ROOTFS" "$WORK/rootfs.tar"
buildah inspect --type image --format '{{.FromImageDigest}}' "$IMAGE"
