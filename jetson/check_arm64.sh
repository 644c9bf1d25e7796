#!/usr/bin/env bash
# Prove the edgekit wheel installs and runs on Linux aarch64 (Jetson, Raspberry Pi, ARM servers)
# from an x86_64 machine: an arm64 Debian 12 root under qemu-user-static, a fresh venv, the wheel
# from `pip wheel .`, then `edgekit models`, `edgekit analyze` and `edgekit meme` (Chinese, default)
# on the bundled photo, and jetson/setup.sh in the same root. Slow (emulation): not part of
# `make test`. Output: benchmarks/results/arm64_check.log and arm64_meme.png.
#
#   sudo jetson/check_arm64.sh [ROOT]        (ROOT default /work/arm64root; made when missing)
#
# The root is made with (about 5-7 minutes):
#   apt-get install qemu-user-static debootstrap binfmt-support
#   mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-aarch64
#   debootstrap --arch=arm64 --variant=minbase \
#     --include=python3,python3-venv,python3-pip,ca-certificates,libgl1,libglib2.0-0 bookworm ROOT
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
ROOT=${1:-/work/arm64root}
OUT=benchmarks/results
LOG=$OUT/arm64_check.log
PY=${PYTHON:-python3}
mkdir -p "$OUT"
: > "$LOG"
say() { echo "$*" | tee -a "$LOG"; }

if [ ! -x "$ROOT/usr/bin/python3" ]; then
  say "## making the arm64 root in $ROOT"
  apt-get install -y -q qemu-user-static debootstrap binfmt-support >/dev/null
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64 || true
  debootstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates,libgl1,libglib2.0-0 bookworm "$ROOT" >/dev/null
fi
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 2>/dev/null || true
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
for fs in proc sys dev; do mountpoint -q "$ROOT/$fs" || mount --bind "/$fs" "$ROOT/$fs"; done
trap 'for fs in dev sys proc; do umount "$ROOT/$fs" 2>/dev/null || true; done' EXIT

say "## build the wheel (host $(uname -m))"
rm -rf dist && "$PY" -m pip wheel -q --no-deps -w dist . 2>&1 | tail -3 | tee -a "$LOG"
WHEEL=$(ls dist/edgekit-*.whl)
say "wheel: $WHEEL ($(stat -c %s "$WHEEL") bytes, sha256 $(sha256sum "$WHEEL" | cut -c1-16)…)"

rm -rf "$ROOT/tmp/ek" && mkdir -p "$ROOT/tmp/ek"
cp "$WHEEL" "$ROOT/tmp/ek/"
cp edgekit/assets/astronaut.png "$ROOT/tmp/ek/astronaut.png"
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
  PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 /bin/bash -c "$1"; }

say "## inside the root: $(in_root 'uname -m; python3 --version' | tr '\n' ' ')"
say "## fonts installed in the root: $(in_root 'ls /usr/share/fonts 2>/dev/null | wc -l') folders (none: memes must use edgekit's own fonts)"
say "## pip install the wheel into an empty venv"
start=$(date +%s)
in_root 'rm -rf /opt/ek && python3 -m venv /opt/ek && /opt/ek/bin/pip install -q /tmp/ek/edgekit-*.whl' 2>&1 | tail -5 | tee -a "$LOG"
say "install: $(( $(date +%s) - start )) s"
say "## installed packages"
in_root '/opt/ek/bin/pip list --format=freeze' | tee -a "$LOG"
say "## installed size: $(in_root 'du -sm /opt/ek | cut -f1') MB"
say "## edgekit models"
in_root 'cd /tmp/ek && /opt/ek/bin/edgekit models' 2>&1 | tee -a "$LOG"
say "## edgekit analyze astronaut.png"
in_root 'cd /tmp/ek && /opt/ek/bin/edgekit analyze astronaut.png' 2>&1 | tee -a "$LOG"
say "## edgekit meme astronaut.png -o meme.png   (default --lang zh)"
in_root 'cd /tmp/ek && rm -f meme.png && /opt/ek/bin/edgekit meme astronaut.png -o meme.png && ls -l meme.png' 2>&1 | tee -a "$LOG"
cp "$ROOT/tmp/ek/meme.png" "$OUT/arm64_meme.png"

say "## jetson/setup.sh in the same root (a copy of the repo, VENV=/opt/ekj)"
rm -rf "$ROOT/tmp/repo" && mkdir -p "$ROOT/tmp/repo"
git ls-files -z | xargs -0 -I{} cp --parents {} "$ROOT/tmp/repo/"
cp -r --parents edgekit/models/third_party edgekit/assets/fonts "$ROOT/tmp/repo/"
in_root 'cd /tmp/repo && VENV=/opt/ekj jetson/setup.sh' 2>&1 | tail -8 | tee -a "$LOG"
in_root 'cd /tmp/ek && /opt/ekj/bin/edgekit analyze astronaut.png' 2>&1 | tee -a "$LOG"
say "## done $(date -u +%Y-%m-%dT%H:%M:%SZ)"
