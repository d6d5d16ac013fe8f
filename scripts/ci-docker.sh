#!/usr/bin/env bash
# Make the docker backend usable on this machine (called by .ci/run; also the offline instructor's
# recipe): install docker.io and debootstrap if absent, start dockerd if no engine answers, build
# the offline base image, then the grading image from it. Fails loudly, with the daemon log tail.
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKERD_LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
READY_TIMEOUT="${DOCKERD_READY_TIMEOUT:-60}"

say() { printf -- '--> %s\n' "$*"; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  # A daemon killed without cleanup (e.g. the previous session's processes were ended) leaves its
  # pid files behind, and dockerd then refuses to start: remove those whose process is gone.
  for pidfile in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
      say "removing stale $pidfile"
      rm -f "$pidfile"
    fi
  done
  say "starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 &
  dockerd_pid=$!
  waited=0
  until docker info >/dev/null 2>&1; do
    if ! kill -0 "$dockerd_pid" 2>/dev/null || ((waited >= READY_TIMEOUT)); then
      echo "error: dockerd exited or did not become ready within ${READY_TIMEOUT}s; last lines of $DOCKERD_LOG:" >&2
      tail -n 40 "$DOCKERD_LOG" >&2 || true
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
fi
say "engine: $(docker version --format 'server {{.Server.Version}}')"

say "offline base image (tagged by a hash of its recipe: a changed recipe always rebuilds)"
BASE="$(bash scripts/build-base-image.sh | tail -n 1)"
say "base: $BASE"

say "grading image"
if command -v harness >/dev/null 2>&1; then
  harness image build --base "$BASE"
else
  python -c 'import sys; from harness.cli import main; sys.exit(main())' image build --base "$BASE"
fi
