#!/usr/bin/env bash
# Build the offline base image: a debootstrap'ed Debian (minbase) with python3 (3.11) and
# python3-venv, imported with `docker import`. Needs root, debootstrap and a reachable Debian
# mirror (or a local one via DEBIAN_MIRROR); no container registry.
#
# The image is tagged by a hash of its recipe (this script, the suite and the package list):
#   tinytorch-harness-base:<suite>-<12 hex>
# so any change to the recipe builds a new image, and a stale image can never stand in for a
# broken recipe. The moving alias tinytorch-harness-base:<suite> is re-pointed at the recipe's
# image on every run. Prints the recipe tag as its last line of stdout.
#   --print-tag   print the recipe tag and exit (no docker needed)
#   FORCE=1       rebuild even if the recipe's image exists
set -euo pipefail

SUITE="${DEBIAN_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="python3,python3-venv"
REPOSITORY="tinytorch-harness-base"
# A root filesystem made by debootstrap has the sbin directories, and the Dockerfile's
# `groupadd`/`useradd` live there: the PATH must name them (it once did not, and only a machine
# without an older image noticed).
IMAGE_PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RECIPE_LABEL="org.tinytorch-harness.base-recipe"

recipe_hash() {
  { cat "${BASH_SOURCE[0]}"; printf '\0%s\0%s\0%s' "$SUITE" "$PACKAGES" "$IMAGE_PATH"; } |
    sha256sum | cut -c1-12
}
RECIPE="$(recipe_hash)"
TAG="$REPOSITORY:$SUITE-$RECIPE"
ALIAS="$REPOSITORY:$SUITE"

if [[ "${1:-}" == --print-tag ]]; then
  echo "$TAG"
  exit 0
fi

if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "base image $TAG (recipe $RECIPE) exists: nothing to build (FORCE=1 rebuilds)" >&2
  docker tag "$TAG" "$ALIAS"
  echo "$TAG"
  exit 0
fi
if [[ $EUID -ne 0 ]]; then
  echo "error: debootstrap needs root; run: sudo $0" >&2
  exit 2
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "error: debootstrap is not installed; run: apt-get install -y debootstrap" >&2
  exit 3
fi

rootfs="$(mktemp -d /tmp/harness-rootfs.XXXXXX)"
log="${rootfs}.log"
trap 'rm -rf "$rootfs"' EXIT

echo "building $TAG: debootstrap $SUITE from $MIRROR into $rootfs (log: $log; takes a few minutes once)" >&2
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$log" 2>&1; then
  echo "error: debootstrap failed; last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi

# Leave out what an image does not need: package caches and lists, logs.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change "ENV PATH=$IMAGE_PATH LANG=C.UTF-8" \
  --change "LABEL $RECIPE_LABEL=$RECIPE" \
  --change 'CMD ["python3"]' \
  --message "debootstrap --variant=minbase --include=$PACKAGES $SUITE (recipe $RECIPE)" \
  - "$TAG" >&2
# The image must be able to run what the Dockerfile runs on it, not only python.
docker run --rm --network none "$TAG" sh -c \
  'command -v groupadd >/dev/null && command -v useradd >/dev/null &&
   python3 -c "import sys, venv; assert sys.version_info[:2] == (3, 11), sys.version"' >&2
docker tag "$TAG" "$ALIAS"
echo "built $TAG (alias $ALIAS)" >&2
echo "$TAG"
