#!/usr/bin/env bash
# test-pythons.sh - private CPython interpreters for testing mixprof.
#
# Usage:
#   bash scripts/test-pythons.sh [-v] [--rebuild] [NAME...]
#   bash scripts/test-pythons.sh --list
#
# For each NAME (default: every known name) make sure a cached private root
# exists, then print one line per NAME:
#
#   NAME<TAB>PYTHON_EXECUTABLE<TAB>DEBUG_FILE_or_-
#
# Paths are absolute and fully resolved (no symlinks).  Nothing is printed
# unless every requested NAME succeeded; on failure one line goes to stderr
# and the exit status is non-zero.
#
# Roots live in ${MIXPROF_CACHE:-/var/cache/mixprof}/pythons/NAME; each holds
# a stamp file (.mixprof-stamp) with the package versions it was built from.
# A root with a valid stamp is reused without any network access.  A root
# whose build failed has no stamp and is rebuilt from scratch on the next run.
# Build logs (apt output) go to .../pythons/NAME.log.
#
# Roots are made only from Debian packages unpacked with `dpkg -x`; the
# system's installed packages are never changed.  Known names:
#
#   debian-3.11  Debian 12 (bookworm) python3.11 release build (static
#                libpython, non-PIE, stripped) plus the matching separate
#                debug file from python3.11-dbg, found by build-id.  Runs
#                directly on the system's libc.  Uses the system apt config.
#   sid-3.13     Debian sid python3.13 release build, no debug info.
#   sid-3.14     Debian sid python3.14 release build, no debug info.
#                The sid roots carry sid's libc6 (and the few libraries the
#                interpreter needs); the executable is a patchelf'd copy whose
#                PT_INTERP and DT_RPATH point into the root, so it is started
#                directly and /proc/PID/exe is the python itself.  The pristine
#                Debian binary is kept in ROOT/orig/.  sid is reached through a
#                private apt configuration in ${MIXPROF_CACHE}/apt/sid.
#
# Options:
#   -v          progress messages on stderr while building
#   --rebuild   discard the cached roots of the requested names first
#   --list      print the known names and exit
#
# Adding an entry: write build_<name with [-.] turned into _> ROOT TMP, add
# the name to KNOWN and give it a RECIPE_<...> number (bump the number when
# the function changes so old roots get rebuilt).  A build function unpacks
# into ROOT (the final location), downloads into TMP, and sets the globals
# B_EXE, B_DEBUG (path or -), B_PYVER (expected sys.version prefix) and
# B_SYSLIBC (1 = must use the system's libc, 0 = must use ROOT's libc).
# The driver then runs the interpreter to verify it and writes the stamp.

set -euo pipefail
shopt -s nullglob

PROG=test-pythons.sh
KNOWN=(debian-3.11 sid-3.13 sid-3.14)
RECIPE_debian_3_11=1
RECIPE_sid_3_13=1
RECIPE_sid_3_14=1

DEBIAN_MIRROR=${MIXPROF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

VERBOSE=0
CURRENT=""      # name being built, for messages
LOG=/dev/null   # apt output of the current build
TMPDIRS=()

die() { echo "$PROG: ${CURRENT:+$CURRENT: }$*" >&2; exit 1; }
note() { if [ "$VERBOSE" = 1 ]; then echo "$PROG: ${CURRENT:+$CURRENT: }$*" >&2; fi; }
cleanup() { local d; for d in "${TMPDIRS[@]}"; do rm -rf -- "$d"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

fn_suffix() { local s=${1//-/_}; echo "${s//./_}"; }

# ---------------------------------------------------------------------------
# apt helpers.  KIND is "sys" (the system's apt configuration, bookworm) or
# "sid" (private configuration under $APT_SID).

apt_opts() {  # KIND -> fills array APT_OPTS
  APT_OPTS=(-q)
  case $1 in
    sys) ;;
    sid)
      APT_OPTS+=(
        -o "Dir::Etc::SourceList=$APT_SID/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::Etc::Preferences=/dev/null"
        -o "Dir::Etc::PreferencesParts=/dev/null"
        -o "Dir::State::Lists=$APT_SID/lists"
        -o "Dir::State::status=/dev/null"
        -o "Dir::Cache=$APT_SID/cache"
        -o "Acquire::Languages=none"
        -o "Acquire::GzipIndexes=true"
      ) ;;
    *) die "internal: bad apt kind $1" ;;
  esac
}

apt_setup() {  # KIND: create the private apt tree if needed
  [ "$1" = sid ] || return 0
  [ -r "$DEBIAN_KEYRING" ] || die "missing $DEBIAN_KEYRING (debian-archive-keyring) needed to verify sid"
  mkdir -p "$APT_SID/lists/partial" "$APT_SID/cache/archives/partial" || die "cannot create $APT_SID"
  local line="deb [arch=amd64 signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR sid main"
  if [ ! -f "$APT_SID/sources.list" ] || [ "$(cat "$APT_SID/sources.list")" != "$line" ]; then
    printf '%s\n' "$line" > "$APT_SID/sources.list"
  fi
}

apt_update() {  # KIND
  note "apt-get update ($1)"
  apt_opts "$1"
  echo "+ apt-get update ($1)" >> "$LOG"
  apt-get "${APT_OPTS[@]}" --error-on=any update >> "$LOG" 2>&1
}

candidate() {  # KIND PACKAGE -> prints candidate version, fails if none
  apt_opts "$1"
  local v
  v=$(apt-cache "${APT_OPTS[@]}" policy "$2" 2>>"$LOG" | awk '$1 == "Candidate:" { print $2 }')
  if [ -z "$v" ] || [ "$v" = "(none)" ]; then
    echo "no candidate version for $2 ($1)" >> "$LOG"
    return 1
  fi
  echo "$v"
}

apt_download() {  # KIND DIR SPEC... (SPEC = pkg or pkg=version)
  local kind=$1 dir=$2; shift 2
  apt_opts "$kind"
  note "downloading $*"
  echo "+ apt-get download ($kind) $*" >> "$LOG"
  # Let apt's unprivileged download user write into the directory (avoids
  # the "couldn't be accessed by user '_apt'" warning when run as root).
  if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$dir" 2>/dev/null || true; fi
  (cd "$dir" && apt-get "${APT_OPTS[@]}" download "$@") >> "$LOG" 2>&1
}

# with_lists KIND WHAT CMD...: run CMD (which resolves versions and downloads);
# if it fails, refresh the package lists once and run it again.
with_lists() {
  local kind=$1 what=$2; shift 2
  apt_setup "$kind"
  "$@" && return 0
  apt_update "$kind" || die "apt-get update ($kind) failed (see $LOG)"
  "$@" || die "cannot download $what (see $LOG)"
}

# DEB... -> "package version" lines
deb_versions() {
  local f
  for f in "$@"; do dpkg-deb --showformat='${Package} ${Version}\n' -W "$f"; done
}

build_id() {  # ELF -> hex build-id or empty
  LC_ALL=C readelf -n "$1" 2>/dev/null | awk '/Build ID:/ { print $3; exit }'
}

upstream_version() {  # Debian version -> upstream prefix as in sys.version
  local v=${1#*:}; v=${v%-*}; echo "${v%%[~+]*}"
}

# Copy the separate debug file of every ELF object of ROOT that has one in
# DBGROOT (an unpacked -dbg package) into ROOT/usr/lib/debug/.build-id,
# dereferencing links.
copy_debug_files() {  # ROOT DBGROOT
  local root=$1 dbg=$2 f id src dst
  for f in "$root"/usr/bin/python3.* "$root"/usr/lib/python3*/lib-dynload/*.so; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    id=$(build_id "$f")
    [ -n "$id" ] || continue
    src=$dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
    [ -e "$src" ] || continue
    dst=$root/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
    mkdir -p "${dst%/*}"
    cp -L -- "$src" "$dst" || die "cannot copy $src"
  done
}

# Check that DEBUGFILE belongs to EXE and has DWARF for struct _ts.
verify_debug_file() {  # EXE DEBUGFILE
  local exe=$1 dbg=$2 id did
  id=$(build_id "$exe"); did=$(build_id "$dbg")
  [ -n "$id" ] && [ "$id" = "$did" ] || die "build-id mismatch: $exe ($id) vs $dbg ($did)"
  if command -v gdb >/dev/null 2>&1; then
    gdb -nx -batch -ex 'ptype/o struct _ts' "$dbg" 2>>"$LOG" | grep -q 'type = struct _ts {' \
      || die "no DWARF for struct _ts in $dbg"
  else
    LC_ALL=C readelf --debug-dump=info "$dbg" 2>/dev/null \
      | grep -Eq 'DW_AT_name +: (\(indirect[^)]*\): )?_ts$' \
      || die "no DWARF for struct _ts in $dbg"
  fi
}

# ---------------------------------------------------------------------------
# patchelf: use the system's if present, else a private copy of bookworm's
# patchelf unpacked into $CACHE_BASE/tools (no system package change).

PATCHELF=""
ensure_patchelf() {
  [ -n "$PATCHELF" ] && return 0
  if command -v patchelf >/dev/null 2>&1; then PATCHELF=$(command -v patchelf); return 0; fi
  local dir=$CACHE_BASE/tools/patchelf
  if [ -x "$dir/usr/bin/patchelf" ] && "$dir/usr/bin/patchelf" --version >/dev/null 2>&1; then
    PATCHELF=$dir/usr/bin/patchelf; return 0
  fi
  local tmp; tmp=$(mktemp -d "$PY_CACHE/.tmp.patchelf.XXXXXX"); TMPDIRS+=("$tmp")
  chmod 755 "$tmp"
  with_lists sys patchelf apt_download sys "$tmp" patchelf
  local debs=("$tmp"/patchelf_*.deb)
  [ ${#debs[@]} = 1 ] || die "patchelf download produced no .deb"
  rm -rf -- "$dir"; mkdir -p "$dir"
  dpkg -x "${debs[0]}" "$dir" || die "dpkg -x ${debs[0]} failed"
  "$dir/usr/bin/patchelf" --version >/dev/null 2>&1 || die "private patchelf in $dir does not run"
  PATCHELF=$dir/usr/bin/patchelf
}

# ---------------------------------------------------------------------------
# Entries

# debian-3.11: bookworm's python3.11 at the archive's current version (the
# version the -dbg package is at), so that the debug file matches.
get_debian_3_11() {  # TMP
  local v
  v=$(candidate sys python3.11-dbg) || return 1
  echo "$v" > "$1/version"
  apt_download sys "$1" python3.11-minimal="$v" libpython3.11-minimal="$v" \
    libpython3.11-stdlib="$v" python3.11-dbg="$v"
}
get_libpython_3_11_dbg() {  # TMP VERSION
  apt_download sys "$1" libpython3.11-dbg="$2"
}

build_debian_3_11() {  # ROOT TMP
  local root=$1 tmp=$2/debs v f
  mkdir -p "$tmp"
  with_lists sys "python3.11 packages" get_debian_3_11 "$tmp"
  v=$(cat "$tmp/version")
  note "unpacking python3.11 $v"
  for f in "$tmp"/python3.11-minimal_*.deb "$tmp"/libpython3.11-minimal_*.deb "$tmp"/libpython3.11-stdlib_*.deb; do
    dpkg -x "$f" "$root" || die "dpkg -x $f failed"
  done
  local exe=$root/usr/bin/python3.11
  [ -f "$exe" ] || die "python3.11-minimal did not provide usr/bin/python3.11"
  local id; id=$(build_id "$exe")
  [ -n "$id" ] || die "$exe has no build-id"

  # The -dbg package is big (mostly the python3.11d debug interpreter); unpack
  # it aside and keep only the debug files of the ELF objects in the root.
  local dbg=$2/dbg
  mkdir -p "$dbg"
  dpkg -x "$tmp"/python3.11-dbg_*.deb "$dbg" || die "dpkg -x python3.11-dbg failed"
  if [ ! -e "$dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" ]; then
    note "debug file not in python3.11-dbg, trying libpython3.11-dbg"
    with_lists sys libpython3.11-dbg get_libpython_3_11_dbg "$tmp" "$v"
    dpkg -x "$tmp"/libpython3.11-dbg_*.deb "$dbg" || die "dpkg -x libpython3.11-dbg failed"
  fi
  [ -e "$dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" ] \
    || die "no debug file with build-id $id in python3.11-dbg/libpython3.11-dbg $v"
  copy_debug_files "$root" "$dbg"
  local dfile
  dfile=$(realpath -e "$root/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug") || die "debug file vanished"
  verify_debug_file "$exe" "$dfile"

  B_EXE=$exe
  B_DEBUG=$dfile
  B_PYVER=$(upstream_version "$v")
  B_SYSLIBC=1
  B_DEBS=("$tmp"/*.deb)
}

# sid-3.X: python3.X from sid plus sid's libc6 and the libraries that the
# interpreter and common extension modules need (the system's bookworm
# versions are too old for some of them, e.g. libexpat1 >= 2.9, libssl >= 3.4).
get_sid_python() {  # TMP X.Y LIB...
  local tmp=$1 x=$2 v; shift 2
  v=$(candidate sid "python$x-minimal") || return 1
  echo "$v" > "$tmp/version"
  apt_download sid "$tmp" "python$x-minimal=$v" "libpython$x-minimal=$v" "libpython$x-stdlib=$v" "$@"
}

build_sid_python() {  # ROOT TMP X.Y LIB...
  local root=$1 tmp=$2/debs x=$3 v f; shift 3
  [ "$(dpkg --print-architecture)" = amd64 ] || die "sid entries are only implemented for amd64"
  ensure_patchelf
  mkdir -p "$tmp"
  with_lists sid "python$x packages from sid" get_sid_python "$tmp" "$x" "$@"
  v=$(cat "$tmp/version")
  note "unpacking python$x $v"
  for f in "$tmp"/*.deb; do dpkg -x "$f" "$root" || die "dpkg -x $f failed"; done

  local exe=$root/usr/bin/python$x
  [ -f "$exe" ] || die "python$x-minimal did not provide usr/bin/python$x"
  if LC_ALL=C readelf -d "$exe" | grep -q 'NEEDED.*libpython'; then
    die "usr/bin/python$x links libpython dynamically; this recipe expects a static libpython"
  fi
  local ld libdirs="" d
  ld=$(realpath -e "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" 2>/dev/null) \
    || ld=$(realpath -e "$root/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" 2>/dev/null) \
    || die "sid libc6 did not provide ld-linux-x86-64.so.2"
  for d in "$root/usr/lib/x86_64-linux-gnu" "$root/lib/x86_64-linux-gnu"; do
    if [ -d "$d" ] && [ ! -L "$d" ]; then libdirs=${libdirs:+$libdirs:}$d; fi
  done
  mkdir -p "$root/orig"
  cp -p -- "$exe" "$root/orig/python$x"
  # DT_RPATH (not RUNPATH) so that it also applies to the dependencies of
  # dlopen()ed extension modules.
  "$PATCHELF" --set-interpreter "$ld" --force-rpath --set-rpath "$libdirs" "$exe" >> "$LOG" 2>&1 \
    || die "patchelf failed on $exe (see $LOG)"

  B_EXE=$exe
  B_DEBUG=-
  B_PYVER=$(upstream_version "$v")
  B_SYSLIBC=0
  B_DEBS=("$tmp"/*.deb)
  B_EXTRA="tool patchelf $("$PATCHELF" --version 2>/dev/null | awk '{print $2}')"
}

SID_LIBS=(libc6 libgcc-s1 zlib1g libexpat1 libssl3t64 libffi8 libbz2-1.0 liblzma5)
build_sid_3_13() { build_sid_python "$1" "$2" 3.13 "${SID_LIBS[@]}"; }
build_sid_3_14() { build_sid_python "$1" "$2" 3.14 "${SID_LIBS[@]}" libzstd1; }

# ---------------------------------------------------------------------------
# Driver

# Reads ROOT/.mixprof-stamp; on success sets S_EXE, S_DEBUG.
read_stamp() {  # NAME ROOT RECIPE
  local stamp=$2/.mixprof-stamp k v recipe="" name=""
  S_EXE=""; S_DEBUG=""
  [ -f "$stamp" ] || return 1
  while IFS='=' read -r k v; do
    case $k in
      name) name=$v ;;
      recipe) recipe=$v ;;
      exe) S_EXE=$v ;;
      debug) S_DEBUG=$v ;;
    esac
  done < "$stamp"
  [ "$name" = "$1" ] && [ "$recipe" = "$3" ] && [ -n "$S_EXE" ] && [ -x "$S_EXE" ] || return 1
  [ "$S_DEBUG" = - ] || [ -f "$S_DEBUG" ] || return 1
}

verify_interpreter() {  # ROOT
  local root=$1 out prefix ver exe libc
  out=$(cd / && "$B_EXE" -I -c '
import sys, os, zlib, threading
libc = "?"
for line in open("/proc/self/maps"):
    p = line.split()[-1]
    if os.path.basename(p).startswith("libc.so"):
        libc = os.path.realpath(p); break
print(sys.prefix); print(sys.version.split()[0])
print(os.path.realpath("/proc/self/exe")); print(libc)
threading.Thread(target=zlib.compress, args=(b"x" * 1000,)).start()
' 2>&1) || die "interpreter does not run: $B_EXE: $(echo "$out" | tail -n 1)"
  local lines=()
  mapfile -t lines <<< "$out"
  prefix=${lines[0]:-}; ver=${lines[1]:-}; exe=${lines[2]:-}; libc=${lines[3]:-}
  [ "$prefix" = "$root/usr" ] || die "sys.prefix is '$prefix', expected $root/usr"
  case $ver in "$B_PYVER"*) ;; *) die "sys.version is '$ver', expected $B_PYVER" ;; esac
  [ "$exe" = "$B_EXE" ] || die "/proc/self/exe is '$exe', expected $B_EXE"
  if [ "$B_SYSLIBC" = 1 ]; then
    case $libc in "$root"/*|"?") die "uses libc '$libc', expected the system's" ;; esac
  else
    case $libc in "$root"/*) ;; *) die "uses libc '$libc', expected the root's" ;; esac
  fi
  note "ok: prefix $prefix, version $ver, libc $libc"
}

ensure() {  # NAME -> appends a line to OUTPUT
  local name=$1 sfx recipe root
  sfx=$(fn_suffix "$name")
  local rv=RECIPE_$sfx; recipe=${!rv}
  root=$PY_CACHE/$name
  CURRENT=$name
  if read_stamp "$name" "$root" "$recipe"; then
    OUTPUT+="$name"$'\t'"$S_EXE"$'\t'"$S_DEBUG"$'\n'
    CURRENT=""
    return 0
  fi

  mkdir -p "$PY_CACHE" || die "cannot create $PY_CACHE"
  local lockfd
  exec {lockfd}> "$PY_CACHE/.$name.lock" || die "cannot open lock file in $PY_CACHE"
  flock "$lockfd" || die "cannot lock $PY_CACHE/.$name.lock"
  if read_stamp "$name" "$root" "$recipe"; then  # built by a concurrent run
    exec {lockfd}>&-
    OUTPUT+="$name"$'\t'"$S_EXE"$'\t'"$S_DEBUG"$'\n'
    CURRENT=""
    return 0
  fi

  note "building $root"
  LOG=$PY_CACHE/$name.log
  : > "$LOG"
  rm -rf -- "$root"
  mkdir -p "$root"
  local tmp; tmp=$(mktemp -d "$PY_CACHE/.tmp.$name.XXXXXX"); TMPDIRS+=("$tmp")
  chmod 755 "$tmp"  # apt's _apt download user must reach the download dir
  B_EXE=""; B_DEBUG=""; B_PYVER=""; B_SYSLIBC=""; B_DEBS=(); B_EXTRA=""
  "build_$sfx" "$root" "$tmp"
  B_EXE=$(realpath -e "$B_EXE") || die "executable missing"
  verify_interpreter "$root"

  local id size=0 f
  id=$(build_id "$B_EXE")
  for f in "${B_DEBS[@]}"; do size=$((size + $(stat -c %s "$f"))); done
  {
    echo "# mixprof test python root; written by scripts/test-pythons.sh"
    echo "name=$name"
    echo "recipe=$recipe"
    echo "exe=$B_EXE"
    echo "debug=$B_DEBUG"
    echo "build_id=$id"
    echo "python=$B_PYVER"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "download_bytes=$size"
    deb_versions "${B_DEBS[@]}" | sed 's/^/pkg /'
    if [ -n "$B_EXTRA" ]; then echo "$B_EXTRA"; fi
  } > "$root/.mixprof-stamp.new" || die "cannot write stamp"
  mv -f -- "$root/.mixprof-stamp.new" "$root/.mixprof-stamp"
  rm -rf -- "$tmp"
  exec {lockfd}>&-
  note "built $name"
  OUTPUT+="$name"$'\t'"$B_EXE"$'\t'"$B_DEBUG"$'\n'
  CURRENT=""; LOG=/dev/null
}

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; }

main() {
  local rebuild=0 names=() n k ok
  while [ $# -gt 0 ]; do
    case $1 in
      -v) VERBOSE=1 ;;
      --rebuild) rebuild=1 ;;
      --list) printf '%s\n' "${KNOWN[@]}"; exit 0 ;;
      -h|--help) usage; exit 0 ;;
      --) shift; names+=("$@"); break ;;
      -*) die "unknown option $1 (try --help)" ;;
      *) names+=("$1") ;;
    esac
    shift
  done
  [ ${#names[@]} -gt 0 ] || names=("${KNOWN[@]}")
  for n in "${names[@]}"; do
    ok=0
    for k in "${KNOWN[@]}"; do [ "$n" = "$k" ] && ok=1; done
    [ $ok = 1 ] || die "unknown python '$n' (known: ${KNOWN[*]})"
  done

  CACHE_BASE=$(realpath -m -- "${MIXPROF_CACHE:-/var/cache/mixprof}")
  PY_CACHE=$CACHE_BASE/pythons
  APT_SID=$CACHE_BASE/apt/sid

  if [ $rebuild = 1 ]; then
    for n in "${names[@]}"; do rm -rf -- "${PY_CACHE:?}/$n"; done
  fi

  OUTPUT=""
  for n in "${names[@]}"; do ensure "$n"; done
  printf '%s' "$OUTPUT"
}

main "$@"
