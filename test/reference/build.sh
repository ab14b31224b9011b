#!/usr/bin/env bash
# Builds the reference program against the real Annoy 1.17 header (Debian's r-cran-rcppannoy ships
# it without needing R). Idempotent: the header is fetched once, the binaries are rebuilt only when
# annoy-ref.cpp or the header is newer than them.
#
#   test/reference/build.sh            # best effort: exits 0 with a notice if apt is unreachable
#   test/reference/build.sh --require  # exits 1 if the header cannot be fetched or g++ fails
#
# Outputs (gitignored): build/include/{annoylib.h,kissrandom.h}, build/annoy-ref (-O2, portable:
# fixtures and correctness), build/annoy-ref-native (-O3 -march=native: benchmarks only, its AVX
# kernels round differently).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/build"
include="$build/include"
require=0
[[ "${1:-}" == "--require" ]] && require=1

give_up() {
  echo "annoy-ref: $1" >&2
  if [[ $require == 1 ]]; then exit 1; fi
  echo "annoy-ref: skipped (reference tests will be skipped); rerun with --require to make this an error" >&2
  exit 0
}

fetch_header() {
  local tmp="$1"
  if ! (cd "$tmp" && apt-get download r-cran-rcppannoy >/dev/null 2>&1); then
    # A fresh container has no package lists yet; refresh them once and retry.
    apt-get update >/dev/null 2>&1 || true
    if ! (cd "$tmp" && apt-get download r-cran-rcppannoy >/dev/null 2>&1); then
      return 1
    fi
  fi
  dpkg -x "$tmp"/r-cran-rcppannoy_*.deb "$tmp/x"
  local src="$tmp/x/usr/lib/R/site-library/RcppAnnoy/include"
  [[ -f "$src/annoylib.h" && -f "$src/kissrandom.h" ]] || return 1
  mkdir -p "$include"
  # mman.h is the Windows mmap shim; Linux uses <sys/mman.h>.
  cp "$src/annoylib.h" "$src/kissrandom.h" "$include/"
  ls "$tmp"/r-cran-rcppannoy_*.deb | sed 's/.*r-cran-rcppannoy_\(.*\)_.*\.deb/\1/' >"$include/VERSION"
}

command -v g++ >/dev/null 2>&1 || give_up "g++ not found"

if [[ ! -f "$include/annoylib.h" ]]; then
  command -v apt-get >/dev/null 2>&1 || give_up "apt-get not found; cannot fetch annoylib.h"
  echo "annoy-ref: fetching annoylib.h from Debian package r-cran-rcppannoy" >&2
  tmp="$(mktemp -d)"
  if ! fetch_header "$tmp"; then
    rm -rf "$tmp"
    give_up "could not download r-cran-rcppannoy (apt unreachable?)"
  fi
  rm -rf "$tmp"
fi

compile() {
  local out="$1"
  shift
  if [[ -x "$out" && "$out" -nt "$here/annoy-ref.cpp" && "$out" -nt "$include/annoylib.h" ]]; then
    return 0
  fi
  echo "annoy-ref: compiling $(basename "$out") ($*)" >&2
  g++ -std=c++17 "$@" -I"$include" -o "$out.tmp" "$here/annoy-ref.cpp" || {
    rm -f "$out.tmp"
    give_up "g++ failed for $(basename "$out")"
  }
  mv "$out.tmp" "$out"
}

compile "$build/annoy-ref" -O2
compile "$build/annoy-ref-native" -O3 -march=native

echo "annoy-ref: ready ($build/annoy-ref, header from r-cran-rcppannoy $(cat "$include/VERSION" 2>/dev/null || echo '?'))" >&2
