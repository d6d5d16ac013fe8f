#!/usr/bin/env bash
# Build the offline base image tinytorch-harness-base:bookworm: a debootstrap'ed Debian bookworm
# (minbase) with python3 (3.11) and python3-venv, imported with `docker import`. Needs root,
# debootstrap and a reachable Debian mirror (or a local one via DEBIAN_MIRROR); no container registry.
# Idempotent: does nothing when the image already exists (FORCE=1 rebuilds).
set -euo pipefail

IMAGE="${BASE_IMAGE_TAG:-tinytorch-harness-base:bookworm}"
SUITE="${DEBIAN_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE exists: nothing to do (FORCE=1 to rebuild)"
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

echo "debootstrap $SUITE from $MIRROR into $rootfs (log: $log)"
if ! debootstrap --variant=minbase --include=python3,python3-venv "$SUITE" "$rootfs" "$MIRROR" >"$log" 2>&1; then
  echo "error: debootstrap failed; last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi

# Leave out what an image does not need: package caches and lists, logs.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "debootstrap --variant=minbase --include=python3,python3-venv $SUITE" \
  - "$IMAGE"
docker run --rm --network none "$IMAGE" python3 -c 'import sys, venv; assert sys.version_info[:2] == (3, 11), sys.version'
echo "built $IMAGE"
