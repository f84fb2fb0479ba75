#!/usr/bin/env bash
# Installs what mixprof needs on Debian/Ubuntu, each step only when missing:
# Debian packages, npm dependencies, the native addon, the TypeScript build.
# With --test, also the test interpreters (private roots, see test/fixtures/pythons.sh);
# with --bench, the peers the benchmark compares against (perf, austin).
# Idempotent; a second run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

with_tests=0
with_bench=0
[ "${1:-}" = "--test" ] && with_tests=1
[ "${1:-}" = "--bench" ] && with_bench=1

# Debian packages: bpftrace runs the sampler; libdw/libelf (and zlib, for
# the CRC of a debuglink) build the addon;
# g++/make/python3 build it with node-gyp; util-linux provides setpriv;
# clang, libbpf-dev and bpftool build the DWARF sampler's BPF program.
packages=(bpftrace libdw-dev libelf-dev zlib1g-dev g++ make python3 util-linux clang libbpf-dev bpftool)
# The tests also compare against gdb, binutils and libc6-dbg, and open the
# SVG flame graphs in chromium; mixprof top in tmux; dwz makes a debug file
# that links to a shared one.
[ "$with_tests" = 1 ] && packages+=(gdb binutils libc6-dbg chromium tmux dwz)
[ "$with_bench" = 1 ] && packages+=(linux-perf)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  fi
fi

# npm dependencies, when the lock file changed since the last install.
stamp=node_modules/.mixprof-lock
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$lock_sum" > "$stamp"
fi

# The addon, when a source is newer than the built module.
addon=native/build/Release/mixprof_native.node
if [ ! -f "$addon" ] || [ -n "$(find native/src native/binding.gyp bpf/dwarf-sampler.bpf.c bpf/dwarf-sampler.h bpf/python-walk.h bpf/cfi-unwind.h -newer "$addon" -print -quit)" ]; then
  say "building the native addon"
  npx --no-install node-gyp rebuild --directory native --loglevel=error >/dev/null 2>native/build.log \
    || { cat native/build.log >&2; die "the native addon did not build (see above)"; }
fi

# The TypeScript build and its one-file bundle, when a source is newer than the last build.
built=dist/.built
if [ ! -f "$built" ] || [ ! -f dist/mixprof.js ] || [ -n "$(find src test bench tsconfig.json scripts/bundle.js -newer "$built" -print -quit 2>/dev/null)" ]; then
  say "compiling TypeScript"
  npx --no-install tsc -p tsconfig.json
  node scripts/bundle.js
  touch "$built"
fi

if [ "$with_tests" = 1 ]; then
  say "checking test interpreters"
  bash test/fixtures/pythons.sh >/dev/null
fi
if [ "$with_bench" = 1 ]; then
  say "checking austin"
  bash test/fixtures/pythons.sh austin >/dev/null
fi
