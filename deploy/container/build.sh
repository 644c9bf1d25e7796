#!/usr/bin/env bash
# Build the Dockerfile with buildah on a machine without Docker or a registry, run the image and
# smoke-test it; writes benchmarks/results/container.{json,md}.
#   deploy/container/build.sh                # base image if missing, then build, run, check
#   EDGEKIT_REBUILD_BASE=1 deploy/container/build.sh   # debootstrap the base again first
# The context is `git archive HEAD` (what the results describe is a commit, not a dirty tree);
# EDGEKIT_CONTEXT=DIR builds DIR instead. With Docker: docker build -t edgekit-server .
# Needs root, buildah (and debootstrap for the base). Work files go to $EDGEKIT_CONTAINER_WORK.
set -euo pipefail

cd "$(dirname "$0")/../.."
COMMIT=$(git rev-parse HEAD)  # once: others may commit while this runs
BASE=${EDGEKIT_BASE:-localhost/edgekit-base:bookworm}
IMAGE=${EDGEKIT_IMAGE:-localhost/edgekit-server:${COMMIT:0:7}}
WORK=${EDGEKIT_CONTAINER_WORK:-/var/tmp/edgekit-container}
export EDGEKIT_CONTAINER_WORK=$WORK
# the machine's CA bundle, mounted over the image's for RUN steps only (a TLS-intercepting proxy's
# CA reaches pip without entering any layer); pip in the base image reads that file (base-image.sh)
CA=${EDGEKIT_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
mkdir -p "$WORK"

base_s=0
if [ -n "${EDGEKIT_REBUILD_BASE:-}" ] || ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
  start=$(date +%s.%N)
  deploy/container/base-image.sh "$BASE" >/dev/null
  base_s=$(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$start" "$(date +%s.%N)")
fi

context=${EDGEKIT_CONTEXT:-}
if [ -z "$context" ]; then
  context=$WORK/context
  rm -rf "$context" && mkdir -p "$context"
  git archive "$COMMIT" | tar -x -C "$context"
fi
mounts=()
[ -f "$CA" ] && mounts=(-v "$CA:/etc/ssl/certs/ca-certificates.crt:ro")
start=$(date +%s.%N)
nice -n 10 buildah bud --format docker --isolation chroot --network host ${mounts[@]+"${mounts[@]}"} \
  --build-arg "BASE=$BASE" -t "$IMAGE" "$context" > "$WORK/build.log" 2>&1 \
  || { tail -n 30 "$WORK/build.log" >&2; echo "build.sh: build failed, log in $WORK/build.log" >&2; exit 1; }
build_s=$(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$start" "$(date +%s.%N)")
echo "build.sh: built $IMAGE in ${build_s} s" >&2

command=deploy/container/build.sh
[ -n "${EDGEKIT_REBUILD_BASE:-}" ] && command="EDGEKIT_REBUILD_BASE=1 $command"
[ -n "${EDGEKIT_CONTEXT:-}" ] && command="EDGEKIT_CONTEXT=$EDGEKIT_CONTEXT $command"
python3 deploy/container/smoke.py --command "$command" --image "$IMAGE" --base "$BASE" --build-s "$build_s" --base-s "$base_s" \
  --commit "$COMMIT" --context "${EDGEKIT_CONTEXT:-git archive HEAD}"
