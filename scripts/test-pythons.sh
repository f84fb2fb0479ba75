#!/usr/bin/env bash
# test-pythons.sh - private CPython interpreters (and the austin profiler)
# for testing mixprof.
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
# Roots are made only from Debian packages unpacked with `dpkg -x` (or, for
# the big -dbg packages, only the members needed, via dpkg-deb --fsys-tarfile);
# the system's installed packages are never changed.  Known names:
#
#   debian-3.11  Debian 12 (bookworm) python3.11 release build (static
#                libpython, non-PIE, stripped) plus the matching separate
#                debug file from python3.11-dbg, found by build-id.  Runs
#                directly on the system's libc.  Uses the system apt config.
#   sid-3.13     Debian sid python3.13 release build, no debug info.
#   sid-3.14     Debian sid python3.14 release build, no debug info.
#   sid-3.15     Debian sid python3.15 release build, no debug info (built
#                with frame pointers, unlike 3.13 and 3.14).
#                The sid roots carry sid's libc6 (and the few libraries the
#                interpreter needs); the executable is a patchelf'd copy whose
#                PT_INTERP and DT_RPATH point into the root, so it is started
#                directly and /proc/PID/exe is the python itself.  The pristine
#                Debian binary is kept in ROOT/orig/.  sid is reached through a
#                private apt configuration in ${MIXPROF_CACHE}/apt/sid.
#   sid-3.13-dbg
#   sid-3.14-dbg
#   sid-3.15-dbg The very executable of sid-3.X (the same file, printed with
#                the sid-3.X root's path; building it builds sid-3.X first)
#                plus its separate DWARF debug file, taken from sid's
#                python3.X-dbg of the same version (matched by build-id,
#                checked to describe struct _ts and _Py_DebugOffsets).  The
#                debug file is the only thing in this root
#                (ROOT/usr/lib/debug/.build-id/XX/....debug), so the sid-3.X
#                root itself stays free of debug info.  If sid-3.X is rebuilt
#                with another build-id this root is rebuilt to match on its
#                next use; if sid no longer has python3.X-dbg at sid-3.X's
#                version, use --rebuild sid-3.X sid-3.X-dbg.
#   sid-3.13d
#   sid-3.14d
#   sid-3.15d    Debian sid Py_DEBUG interpreter python3.Xd (from python3.X-dbg;
#                its extension modules from libpython3.X-dbg; stdlib, libc6
#                and libraries as in sid-3.X), patchelf'd the same way.  Built
#                with frame pointers (checked on _PyEval_EvalFrameDefault);
#                the DWARF is inside the executable, so the debug file column
#                is -.  pyexpat is built in and uses the root's libexpat.
#   trixie-3.13t A free-threaded CPython 3.13 (--disable-gil, shared libpython,
#                DWARF inside, no frame pointers) built from Debian trixie's
#                python3.13 source package (its upstream tarball only; trixie's
#                sources reached through a private apt configuration in
#                ${MIXPROF_CACHE}/apt/trixie).  No Debian package carries a
#                free-threaded interpreter.  Building takes 10-15 minutes on
#                two cores, once; it runs on the system's libc and needs gcc,
#                make and zlib1g-dev.  The debug file column is -.
#   austin       Not a python: the austin frame stack sampler (sid's package
#                austin, 3.7.x - see AUSTIN_SERIES; it samples CPython
#                3.8-3.13 and rejects 3.14 as "not a Python process"), for
#                comparing mixprof's samples with.  EXE is usr/bin/austin; the
#                root also has usr/bin/austinp (austin plus native frames via
#                ptrace and libunwind) and what both need: sid's libc6,
#                libunwind8, libsframe3, zlib1g, libzstd1, liblzma5.  Both
#                are patchelf'd like the sid pythons (pristine copies in
#                ROOT/orig/).  The debug file column is -.  The build checks
#                that both run (`--version` is 3.7.x) on the root's libraries
#                only, and that `-i 1000 -x 1 -o FILE -p PID` on a spinning
#                CPython gives a sample line in `spin`.  That target is the
#                first 3.8-3.13 of $MIXPROF_AUSTIN_TARGET,
#                /root/.pyenv/versions/3.11.7/bin/python3.11, /usr/bin/python3.
#                Austin needs to ptrace / process_vm_readv it (root, or the
#                same user with kernel.yama.ptrace_scope 0).
#   trixie-bpftrace
#   sid-bpftrace Not a python: bpftrace from Debian 13 (trixie, 0.23) and sid
#                (0.27), with every package it depends on (its libc6,
#                LLVM, clang, libbpf...: the closure computed against an
#                empty package status), unpacked into the root; usr/bin/bpftrace
#                is patchelf'd like the sid pythons, so that /proc/self/exe
#                is bpftrace itself.  The build checks that `--version` runs
#                on the root's libraries only.  trixie's binary packages come
#                through the same private apt configuration as its sources.
#   trixie-root  A Debian 13 machine as a user has it, to chroot into: trixie's
#                nodejs (20), npm, python3.13 and bpftrace (0.23), with every
#                package they depend on (the closure against an empty package
#                status), unpacked, merged-/usr links made, and a root user;
#                libdw1t64 (which mixprof's addon needs, and which none of
#                them pulls in) is only downloaded, into var/cache/apt/archives.
#                EXE is its usr/bin/python3.13, which runs only inside it
#                (`chroot ROOT`); the build checks that python3.13, node, npm
#                and bpftrace run there.  The debug file column is -.
#   greenlet     Not a python: Debian 12's python3-greenlet (greenlet 2, the
#                stack switching gevent and eventlet run on) and python3-gevent
#                with what it needs beyond the system (zope.event,
#                zope.interface, libev4, libc-ares2), for the system's
#                /usr/bin/python3.11.  EXE is its _greenlet extension module,
#                in ROOT/usr/lib/python3/dist-packages/greenlet/; gevent's
#                libraries are in ROOT/usr/lib/x86_64-linux-gnu (run it with
#                LD_LIBRARY_PATH).  The build checks that python3.11 switches
#                greenlets with it and runs gevent's hub.
#
# Downloaded sid packages are kept in ${MIXPROF_CACHE}/apt/sid/cache/archives
# (one version of each package, the last one used) and shared between the sid
# entries and austin; the big python3.X-dbg package is downloaded once for
# -dbg and d.  Deleting that directory is always safe.
#
# Options:
#   -v          progress messages on stderr while building
#   --rebuild   discard the cached roots of the requested names first
#   --list      print the known names and exit
#
# Adding an entry: write build_<name with [-.] turned into _> ROOT TMP, add
# the name to KNOWN and give it a RECIPE_<...> number (bump the number when
# the function changes so old roots get rebuilt); DEPS_<...> may name entries
# that must be ready first (their results are in RES_EXE/RES_ID[name], and a
# root is rebuilt when a dependency's build-id changes).  A build function
# unpacks into ROOT (the final location), downloads into TMP, and sets the
# globals B_EXE, B_DEBUG (path or -), B_PYVER (expected sys.version prefix),
# B_SYSLIBC (1 = must use the system's libc, 0 = must use ROOT's libc),
# B_PYDEBUG (1 = Py_DEBUG build), and optionally B_ROOT (the root the
# interpreter lives in, if not ROOT), B_DEPS and B_EXTRA (stamp lines).
# The driver then runs the interpreter to verify it (or, if the build sets
# B_VERIFY to a function name, calls that with the root instead) and writes
# the stamp.  B_PYVER may be empty for an entry that is not a python.

set -euo pipefail
shopt -s nullglob

PROG=test-pythons.sh
KNOWN=(debian-3.11 sid-3.13 sid-3.14 sid-3.15 sid-3.13-dbg sid-3.14-dbg sid-3.15-dbg sid-3.13d sid-3.14d sid-3.15d trixie-3.13t austin trixie-bpftrace sid-bpftrace trixie-root greenlet)
RECIPE_debian_3_11=1
RECIPE_sid_3_13=1
RECIPE_sid_3_14=1
RECIPE_sid_3_15=1
RECIPE_sid_3_13_dbg=1
RECIPE_sid_3_14_dbg=1
RECIPE_sid_3_15_dbg=1
RECIPE_sid_3_13d=1
RECIPE_sid_3_14d=1
RECIPE_sid_3_15d=1
RECIPE_trixie_3_13t=1
RECIPE_austin=1
RECIPE_trixie_bpftrace=1
RECIPE_sid_bpftrace=1
RECIPE_trixie_root=2
RECIPE_greenlet=2
DEPS_sid_3_13_dbg=sid-3.13
DEPS_sid_3_14_dbg=sid-3.14
DEPS_sid_3_15_dbg=sid-3.15

DEBIAN_MIRROR=${MIXPROF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

VERBOSE=0
CURRENT=""      # name being built, for messages
LOG=/dev/null   # apt output of the current build
TMPDIRS=()
KILLPIDS=()     # processes started by a build, killed on exit
declare -A RES_EXE=() RES_DEBUG=() RES_ID=()

die() { echo "$PROG: ${CURRENT:+$CURRENT: }$*" >&2; exit 1; }
note() { if [ "$VERBOSE" = 1 ]; then echo "$PROG: ${CURRENT:+$CURRENT: }$*" >&2; fi; }
cleanup() {
  local d p
  for p in "${KILLPIDS[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  for d in "${TMPDIRS[@]}"; do rm -rf -- "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fn_suffix() { local s=${1//-/_}; echo "${s//./_}"; }

# ---------------------------------------------------------------------------
# apt helpers.  KIND is "sys" (the system's apt configuration, bookworm),
# "sid" (private configuration under $APT_SID) or "trixie" (private, binary and source
# packages only, under $APT_TRIXIE).

apt_opts() {  # KIND -> fills array APT_OPTS
  APT_OPTS=(-q)
  case $1 in
    sys) ;;
    sid|trixie)
      local dir=$APT_SID
      [ "$1" = sid ] || dir=$APT_TRIXIE
      APT_OPTS+=(
        -o "Dir::Etc::SourceList=$dir/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::Etc::Preferences=/dev/null"
        -o "Dir::Etc::PreferencesParts=/dev/null"
        -o "Dir::State::Lists=$dir/lists"
        -o "Dir::State::status=/dev/null"
        -o "Dir::Cache=$dir/cache"
        -o "Acquire::Languages=none"
        -o "Acquire::GzipIndexes=true"
      ) ;;
    *) die "internal: bad apt kind $1" ;;
  esac
}

apt_setup() {  # KIND: create the private apt tree if needed
  local dir line
  case $1 in
    sid) dir=$APT_SID; line="deb [arch=amd64 signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR sid main" ;;
    trixie) dir=$APT_TRIXIE; line="deb [arch=amd64 signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR trixie main
deb-src [signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR trixie main" ;;
    *) return 0 ;;
  esac
  [ -r "$DEBIAN_KEYRING" ] || die "missing $DEBIAN_KEYRING (debian-archive-keyring) needed to verify $1"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" || die "cannot create $dir"
  if [ ! -f "$dir/sources.list" ] || [ "$(cat "$dir/sources.list")" != "$line" ]; then
    printf '%s\n' "$line" > "$dir/sources.list"
  fi
}

apt_update() {  # KIND
  note "apt-get update ($1)"
  apt_opts "$1"
  echo "+ apt-get update ($1)" >> "$LOG"
  # apt does not wait for the lock on the lists; concurrent builds of
  # different names would make each other's update fail.
  mkdir -p "$CACHE_BASE/apt"
  flock -w 900 "$CACHE_BASE/apt/.update-$1.lock" \
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

candidates() {  # KIND PACKAGE... -> "package version" lines (one apt-cache run), fails if one has none
  local kind=$1 out; shift
  apt_opts "$kind"
  out=$(apt-cache "${APT_OPTS[@]}" policy "$@" 2>>"$LOG" \
    | awk '/^[^ ]/ { p = $1; sub(/:$/, "", p) } $1 == "Candidate:" && $2 != "(none)" { print p, $2 }')
  local p
  for p in "$@"; do
    if ! grep -q "^$p " <<< "$out"; then
      echo "no candidate version for $p ($kind)" >> "$LOG"
      return 1
    fi
  done
  echo "$out"
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

# sid_download TMP SPEC...: like apt_download sid, through the shared package
# cache $SID_DEBS.  Cached files of the wanted versions are linked into TMP
# first (apt-get download leaves complete files alone and fetches the rest);
# new files are linked back and older versions of those packages dropped.
# Adds the bytes really fetched to B_FETCHED.
sid_download() {
  local tmp=$1 spec pkg ver f base; shift
  local want=() specs=() lines
  declare -A seeded=()
  for spec in "$@"; do
    if [[ $spec == *=* ]]; then specs+=("$spec"); else want+=("$spec"); fi
  done
  if [ ${#want[@]} -gt 0 ]; then
    lines=$(candidates sid "${want[@]}") || return 1
    while read -r pkg ver; do specs+=("$pkg=$ver"); done <<< "$lines"
  fi
  for spec in "${specs[@]}"; do
    pkg=${spec%%=*}; ver=${spec#*=}
    for f in "$SID_DEBS/${pkg}_${ver//:/%3a}_"*.deb; do
      base=${f##*/}
      ln -f -- "$f" "$tmp/$base" 2>/dev/null || cp -p -- "$f" "$tmp/$base" || return 1
      seeded[$base]=1
    done
  done
  apt_download sid "$tmp" "${specs[@]}" || return 1
  for spec in "${specs[@]}"; do
    pkg=${spec%%=*}; ver=${spec#*=}
    local got=("$tmp/${pkg}_${ver//:/%3a}_"*.deb)
    if [ ${#got[@]} != 1 ]; then
      echo "apt-get download gave ${#got[@]} files for $spec" >> "$LOG"
      return 1
    fi
    base=${got[0]##*/}
    [ -n "${seeded[$base]:-}" ] || B_FETCHED=$((B_FETCHED + $(stat -c %s "${got[0]}")))
    if [ ! "${got[0]}" -ef "$SID_DEBS/$base" ]; then
      ln -f -- "${got[0]}" "$SID_DEBS/$base" 2>/dev/null || cp -p -- "${got[0]}" "$SID_DEBS/$base" || true
    fi
    for f in "$SID_DEBS/${pkg}_"*.deb; do
      [ "${f##*/}" = "$base" ] || rm -f -- "$f"
    done
  done
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

# deb_extract DEB DIR PATTERN...: unpack only the members matching the tar
# wildcards (like "./usr/bin/python3.13d") into DIR, as dpkg -x would.
deb_extract() {
  local deb=$1 dir=$2; shift 2
  echo "+ extract from ${deb##*/}: $*" >> "$LOG"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --wildcards -- "$@" 2>>"$LOG"
}

# (Tools' output is read into a variable first: with pipefail, `readelf | grep
# -q` can fail when grep exits before readelf has written everything.)
build_id() {  # ELF -> hex build-id or empty
  local out; out=$(LC_ALL=C readelf -n "$1" 2>/dev/null) || true
  awk '/Build ID:/ { print $3; exit }' <<< "$out"
}

has_dwarf() {  # ELF: true if it has a .debug_info section
  local out; out=$(LC_ALL=C readelf -S -W "$1" 2>/dev/null) || return 1
  grep -q ' \.debug_info ' <<< "$out"
}

needs_lib() {  # ELF REGEX: true if a DT_NEEDED entry matches
  local out; out=$(LC_ALL=C readelf -d "$1" 2>/dev/null) || return 1
  grep -Eq "\(NEEDED\).*\[$2" <<< "$out"
}

upstream_version() {  # Debian version -> upstream prefix as in sys.version
  local v=${1#*:}; v=${v%-*}; echo "${v%%[~+]*}"
}

stamp_pkg_version() {  # ROOT PACKAGE -> version recorded in ROOT's stamp
  awk -v p="$2" '$1 == "pkg" && $2 == p { print $3; found = 1; exit } END { exit !found }' "$1/.mixprof-stamp"
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

# Check that FILE has DWARF for struct _ts (and, with a third argument of 1,
# for struct _Py_DebugOffsets, which exists from 3.13 on).
verify_dwarf() {  # FILE [WITH_DEBUG_OFFSETS]
  local f=$1 offsets=${2:-0} out t types=(_ts)
  [ "$offsets" = 1 ] && types+=(_Py_DebugOffsets)
  if command -v gdb >/dev/null 2>&1; then
    local args=()
    for t in "${types[@]}"; do args+=(-ex "ptype/o struct $t"); done
    out=$(DEBUGINFOD_URLS="" gdb -nx -batch "${args[@]}" "$f" 2>>"$LOG") || true
    for t in "${types[@]}"; do
      grep -q "type = struct $t {" <<< "$out" || die "no DWARF for struct $t in $f"
    done
  else
    out=$(LC_ALL=C readelf --debug-dump=info "$f" 2>/dev/null | grep -E 'DW_AT_name +: ' || true)
    for t in "${types[@]}"; do
      grep -Eq "DW_AT_name +: (\(indirect[^)]*\): )?$t\$" <<< "$out" || die "no DWARF for struct $t in $f"
    done
  fi
}

# Check that DEBUGFILE belongs to EXE and has DWARF for struct _ts.
verify_debug_file() {  # EXE DEBUGFILE [WITH_DEBUG_OFFSETS]
  local exe=$1 dbg=$2 id did
  id=$(build_id "$exe"); did=$(build_id "$dbg")
  [ -n "$id" ] && [ "$id" = "$did" ] || die "build-id mismatch: $exe ($id) vs $dbg ($did)"
  verify_dwarf "$dbg" "${3:-0}"
}

# Print the first instructions of _PyEval_EvalFrameDefault in ELF as one line
# ("endbr64; push %rbp; mov %rsp,%rbp"); fail unless it sets up a frame
# pointer.
frame_pointer_prologue() {  # ELF
  command -v objdump >/dev/null 2>&1 || die "objdump (binutils) is needed to check frame pointers"
  local out
  out=$(LC_ALL=C objdump -d --no-show-raw-insn --disassemble=_PyEval_EvalFrameDefault "$1" 2>>"$LOG" | awk '
    /<_PyEval_EvalFrameDefault>:$/ { on = 1; next }
    on && /^ *[0-9a-f]+:/ {
      sub(/^ *[0-9a-f]+:[ \t]*/, ""); sub(/[ \t]*(#.*)?$/, ""); gsub(/[ \t]+/, " ")
      s = s (n ? "; " : "") $0
      if (++n == 3) exit
    }
    END { print s }') || true
  [ -n "$out" ] || die "no _PyEval_EvalFrameDefault in $1"
  case $out in
    "push %rbp; mov %rsp,%rbp"*|"endbr64; push %rbp; mov %rsp,%rbp"*) echo "$out" ;;
    *) die "_PyEval_EvalFrameDefault in $1 has no frame pointer prologue: $out" ;;
  esac
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
  B_PYDEBUG=0
  B_DEBS=("$tmp"/*.deb)
  local d; for d in "${B_DEBS[@]}"; do B_FETCHED=$((B_FETCHED + $(stat -c %s "$d"))); done
}

# Point EXE's PT_INTERP at ROOT's ld.so and its DT_RPATH at ROOT's library
# directories; the pristine binary is kept in ROOT/orig/.
sid_patch() {  # ROOT EXE
  local root=$1 exe=$2 ld libdirs="" d
  ensure_patchelf
  ld=$(realpath -e "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" 2>/dev/null) \
    || ld=$(realpath -e "$root/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" 2>/dev/null) \
    || die "sid libc6 did not provide ld-linux-x86-64.so.2"
  for d in "$root/usr/lib/x86_64-linux-gnu" "$root/lib/x86_64-linux-gnu"; do
    if [ -d "$d" ] && [ ! -L "$d" ]; then libdirs=${libdirs:+$libdirs:}$d; fi
  done
  mkdir -p "$root/orig"
  cp -p -- "$exe" "$root/orig/${exe##*/}"
  # DT_RPATH (not RUNPATH) so that it also applies to the dependencies of
  # dlopen()ed extension modules.
  "$PATCHELF" --set-interpreter "$ld" --force-rpath --set-rpath "$libdirs" "$exe" >> "$LOG" 2>&1 \
    || die "patchelf failed on $exe (see $LOG)"
  [[ $B_EXTRA == *"tool patchelf "* ]] \
    || B_EXTRA+="tool patchelf $("$PATCHELF" --version 2>/dev/null | awk '{print $2}')"$'\n'
}

# sid-3.X: python3.X from sid plus sid's libc6 and the libraries that the
# interpreter and common extension modules need (the system's bookworm
# versions are too old for some of them, e.g. libexpat1 >= 2.9, libssl >= 3.4).
get_sid_python() {  # TMP X.Y LIB...
  local tmp=$1 x=$2 v; shift 2
  v=$(candidate sid "python$x-minimal") || return 1
  echo "$v" > "$tmp/version"
  sid_download "$tmp" "python$x-minimal=$v" "libpython$x-minimal=$v" "libpython$x-stdlib=$v" "$@"
}

# The start every sid interpreter build shares: checks, patchelf, the
# download of its packages. Sets SID_V to the packages' version.
sid_fetch() {  # TMP X.Y WHAT GETTER LIB...
  local tmp=$1 x=$2 what=$3 getter=$4; shift 4
  [ "$(dpkg --print-architecture)" = amd64 ] || die "sid entries are only implemented for amd64"
  ensure_patchelf
  mkdir -p "$tmp"
  with_lists sid "$what" "$getter" "$tmp" "$x" "$@"
  SID_V=$(cat "$tmp/version")
}

build_sid_python() {  # ROOT TMP X.Y LIB...
  local root=$1 tmp=$2/debs x=$3 v f; shift 3
  sid_fetch "$tmp" "$x" "python$x packages from sid" get_sid_python "$@"
  v=$SID_V
  note "unpacking python$x $v"
  for f in "$tmp"/*.deb; do dpkg -x "$f" "$root" || die "dpkg -x $f failed"; done

  local exe=$root/usr/bin/python$x
  [ -f "$exe" ] || die "python$x-minimal did not provide usr/bin/python$x"
  if needs_lib "$exe" 'libpython'; then
    die "usr/bin/python$x links libpython dynamically; this recipe expects a static libpython"
  fi
  sid_patch "$root" "$exe"

  B_EXE=$exe
  B_DEBUG=-
  B_PYVER=$(upstream_version "$v")
  B_SYSLIBC=0
  B_PYDEBUG=0
  B_DEBS=("$tmp"/*.deb)
}

SID_LIBS=(libc6 libgcc-s1 zlib1g libexpat1 libssl3t64 libffi8 libbz2-1.0 liblzma5)
build_sid_3_13() { build_sid_python "$1" "$2" 3.13 "${SID_LIBS[@]}"; }
build_sid_3_14() { build_sid_python "$1" "$2" 3.14 "${SID_LIBS[@]}" libzstd1; }
build_sid_3_15() { build_sid_python "$1" "$2" 3.15 "${SID_LIBS[@]}" libzstd1; }

# sid-3.X-dbg: the sid-3.X executable itself plus its debug file, extracted
# alone from python3.X-dbg at the version sid-3.X was built from.
build_sid_release_dbg() {  # ROOT TMP X.Y DEP
  local root=$1 tmp=$2/debs x=$3 dep=$4 v
  local deproot=$PY_CACHE/$dep exe=${RES_EXE[$4]} id=${RES_ID[$4]}
  v=$(stamp_pkg_version "$deproot" "python$x-minimal") || die "no python$x-minimal version in $deproot/.mixprof-stamp"
  [ -n "$id" ] && [ "$(build_id "$exe")" = "$id" ] || die "$exe does not have the build-id its stamp records; use --rebuild $dep $CURRENT"
  [ ! -e "$deproot/usr/lib/debug" ] || die "$deproot/usr/lib/debug exists; $dep must carry no debug info"
  mkdir -p "$tmp"
  with_lists sid "python$x-dbg $v, the version of $dep (if sid has moved on: --rebuild $dep $CURRENT)" \
    sid_download "$tmp" "python$x-dbg=$v"
  local deb=("$tmp"/python"$x"-dbg_*.deb) rel=usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
  note "extracting $rel from ${deb[0]##*/}"
  deb_extract "${deb[0]}" "$root" "./$rel" || die "python$x-dbg $v has no debug file for build-id $id (see $LOG)"
  if [ -L "$root/$rel" ]; then  # a link inside the package: unpack it all aside, keep the target
    local all=$2/all
    mkdir -p "$all"
    dpkg -x "${deb[0]}" "$all" || die "dpkg -x ${deb[0]} failed"
    rm -f -- "$root/$rel"
    cp -L -- "$all/$rel" "$root/$rel" || die "cannot copy $rel out of python$x-dbg"
  fi
  local dfile
  dfile=$(realpath -e "$root/$rel") || die "debug file vanished"
  verify_debug_file "$exe" "$dfile" 1

  B_EXE=$exe
  B_ROOT=$deproot
  B_DEBUG=$dfile
  B_PYVER=$(upstream_version "$v")
  B_SYSLIBC=0
  B_PYDEBUG=0
  B_DEBS=("${deb[@]}")
  B_DEPS=("$dep")
}
build_sid_3_13_dbg() { build_sid_release_dbg "$1" "$2" 3.13 sid-3.13; }
build_sid_3_14_dbg() { build_sid_release_dbg "$1" "$2" 3.14 sid-3.14; }
build_sid_3_15_dbg() { build_sid_release_dbg "$1" "$2" 3.15 sid-3.15; }

# sid-3.Xd: the Py_DEBUG interpreter python3.Xd.  Only usr/bin/python3.Xd is
# taken from python3.X-dbg (the rest of it is the release build's debug
# files) and only the extension modules and sysconfig data from
# libpython3.X-dbg (not the static/shared libpython3.Xd nor the headers).
get_sid_debug_python() {  # TMP X.Y LIB...
  local tmp=$1 x=$2 v; shift 2
  v=$(candidate sid "python$x-dbg") || return 1
  echo "$v" > "$tmp/version"
  sid_download "$tmp" "python$x-dbg=$v" "libpython$x-dbg=$v" "libpython$x-minimal=$v" "libpython$x-stdlib=$v" "$@"
}

build_sid_debug_python() {  # ROOT TMP X.Y LIB...
  local root=$1 tmp=$2/debs x=$3 v f; shift 3
  sid_fetch "$tmp" "$x" "python$x debug build packages from sid" get_sid_debug_python "$@"
  v=$SID_V
  note "unpacking python${x}d $v"
  local dbgdeb=("$tmp/python$x-dbg_"*.deb) libdeb=("$tmp/libpython$x-dbg_"*.deb)
  for f in "$tmp"/*.deb; do
    case ${f##*/} in python"$x"-dbg_*|libpython"$x"-dbg_*) continue ;; esac
    dpkg -x "$f" "$root" || die "dpkg -x $f failed"
  done
  deb_extract "${dbgdeb[0]}" "$root" "./usr/bin/python${x}d" || die "python$x-dbg has no usr/bin/python${x}d (see $LOG)"
  deb_extract "${libdeb[0]}" "$root" "./usr/lib/python$x/lib-dynload/*" "./usr/lib/python$x/_sysconfigdata_d_*" \
    || die "cannot extract the extension modules from libpython$x-dbg (see $LOG)"

  local exe=$root/usr/bin/python${x}d code
  [ -f "$exe" ] && [ ! -L "$exe" ] || die "usr/bin/python${x}d is not a regular file"
  code=$exe
  if needs_lib "$exe" "libpython${x}d\\.so"; then
    deb_extract "${libdeb[0]}" "$root" "./usr/lib/x86_64-linux-gnu/libpython${x}d.so.*" \
      || die "cannot extract libpython${x}d.so from libpython$x-dbg (see $LOG)"
    code=$(realpath -e "$root/usr/lib/x86_64-linux-gnu/libpython${x}d.so.1.0") || die "no libpython${x}d.so.1.0"
  fi
  sid_patch "$root" "$exe"

  local fp; fp=$(frame_pointer_prologue "$code")
  note "frame pointers: ${code##*/}: $fp"
  if has_dwarf "$code"; then
    verify_dwarf "$code" 1
    B_DEBUG=-
  else
    # Not the case for Debian's packages so far: look for a separate debug
    # file by build-id in the -dbg packages.
    [ "$code" = "$exe" ] || die "${code##*/} has no DWARF; separate debug files for a shared libpython are not implemented"
    local id rel; id=$(build_id "$exe")
    [ -n "$id" ] || die "$exe has neither DWARF nor a build-id"
    rel=usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
    deb_extract "${dbgdeb[0]}" "$root" "./$rel" || deb_extract "${libdeb[0]}" "$root" "./$rel" \
      || die "$exe has no DWARF and python$x-dbg has no debug file for build-id $id"
    [ -f "$root/$rel" ] && [ ! -L "$root/$rel" ] || die "$rel in the -dbg package is not a regular file"
    B_DEBUG=$(realpath -e "$root/$rel")
    verify_debug_file "$exe" "$B_DEBUG" 1
  fi

  B_EXE=$exe
  B_PYVER=$(upstream_version "$v")
  B_SYSLIBC=0
  B_PYDEBUG=1
  B_DEBS=("$tmp"/*.deb)
  B_EXTRA+="frame_pointer ${code##*/}: $fp"$'\n'
  if [ "$B_DEBUG" = - ]; then B_EXTRA+="dwarf inside ${code##*/}"$'\n'; fi
}
build_sid_3_13d() { build_sid_debug_python "$1" "$2" 3.13 "${SID_LIBS[@]}"; }
build_sid_3_14d() { build_sid_debug_python "$1" "$2" 3.14 "${SID_LIBS[@]}" libzstd1; }
build_sid_3_15d() { build_sid_debug_python "$1" "$2" 3.15 "${SID_LIBS[@]}" libzstd1; }

# austin: the austin sampler from sid with what it and austinp need, run on
# sid's libc6 in the root (sid's austin needs glibc >= 2.38).  AUSTIN_SERIES
# is the upstream series expected: its sample format is what mixprof's
# comparisons parse, so another series fails the build until checked.
AUSTIN_SERIES=3.7
AUSTIN_LIBS=(libc6 libgcc-s1 libunwind8 libsframe3 zlib1g libzstd1 liblzma5)

# ---------------------------------------------------------------------------
# trixie-3.13t: free-threaded 3.13 built from trixie's python3.13 source.

# Downloads the source package into $APT_TRIXIE/src (kept: the build is the
# slow part, the download a few seconds) and prints the upstream tarball.
get_trixie_source() {  # X.Y
  local x=$1 src=$APT_TRIXIE/src dsc v orig=()
  apt_opts trixie
  mkdir -p "$src"
  if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$src" 2>/dev/null || true; fi
  v=$(apt-cache "${APT_OPTS[@]}" showsrc "python$x" 2>>"$LOG" | awk '$1 == "Version:" { print $2; exit }')
  [ -n "$v" ] || { echo "no source version for python$x (trixie)" >> "$LOG"; return 1; }
  dsc=$src/python${x}_${v#*:}.dsc
  if [ ! -f "$dsc" ]; then
    echo "+ apt-get source --download-only python$x=$v" >> "$LOG"
    (cd "$src" && apt-get "${APT_OPTS[@]}" source --download-only "python$x=$v") >> "$LOG" 2>&1 || return 1
  fi
  local base=$src/python${x}_${v#*:}; base=${base%-*}
  local f; for f in "$base".orig.tar.xz "$base".orig.tar.gz "$base".orig.tar.bz2; do [ -f "$f" ] && orig+=("$f"); done
  [ ${#orig[@]} = 1 ] || { echo "no upstream tarball for python$x $v in $src" >> "$LOG"; return 1; }
  echo "${v#*:} ${orig[0]}"
}

build_trixie_3_13t() {  # ROOT TMP
  local root=$1 tmp=$2 x=3.13 got v orig srcdir
  command -v gcc >/dev/null && command -v make >/dev/null || die "building needs gcc and make"
  apt_setup trixie
  got=$(get_trixie_source "$x") || {
    apt_update trixie || die "apt-get update (trixie sources) failed (see $LOG)"
    got=$(get_trixie_source "$x") || die "cannot download the python$x source package from trixie (see $LOG)"
  }
  v=${got%% *}; orig=${got#* }
  note "building free-threaded python$x from $orig (10-15 minutes)"
  tar -xf "$orig" -C "$tmp" || die "cannot unpack $orig"
  srcdir=("$tmp"/Python-*/); [ ${#srcdir[@]} = 1 ] || die "unexpected layout of $orig"
  # -g: mixprof reads the layouts from the DWARF inside, as for pyenv builds.
  (cd "${srcdir[0]}" &&
    ./configure --disable-gil --enable-shared --without-ensurepip --disable-test-modules \
      --prefix="$root/usr" LDFLAGS="-Wl,-rpath,$root/usr/lib" CFLAGS='-O2 -g' &&
    make -j"$(nproc)" &&
    make install) >> "$LOG" 2>&1 || die "build failed (see $LOG)"
  local exe=$root/usr/bin/python${x}t
  [ -x "$exe" ] || die "make install did not provide usr/bin/python${x}t"
  B_EXE=$exe
  B_DEBUG=-
  B_PYVER=$(upstream_version "$v")
  B_SYSLIBC=1
  B_PYDEBUG=0
  B_DEBS=()
  B_EXTRA="source python$x $v"
  B_VERIFY=verify_free_threaded
}

verify_free_threaded() {  # ROOT
  verify_interpreter "$1"
  local out
  out=$("$B_EXE" -I -c 'import sys, sysconfig, zlib, xml.parsers.expat; print(sysconfig.get_config_var("Py_GIL_DISABLED"), sys._is_gil_enabled())') \
    || die "interpreter does not run: $B_EXE"
  [ "$out" = "1 False" ] || die "not running free-threaded (Py_GIL_DISABLED, GIL enabled: $out)"
}

# ---------------------------------------------------------------------------
# trixie-bpftrace, sid-bpftrace: another Debian release's bpftrace.

# Downloads bpftrace and everything it depends on (what installing it on an
# empty system would install, recommends left out) into TMP.
get_bpftrace() {  # TMP KIND
  local tmp=$1 kind=$2 specs
  apt_opts "$kind"
  specs=$(apt-get "${APT_OPTS[@]}" -o Debug::NoLocking=1 -s install --no-install-recommends bpftrace 2>>"$LOG" \
    | awk '$1 == "Inst" { v = $3; gsub(/[()]/, "", v); print $2 "=" v }') || return 1
  grep -q '^bpftrace=' <<< "$specs" || { echo "no bpftrace in the $kind closure" >> "$LOG"; return 1; }
  grep '^bpftrace=' <<< "$specs" | cut -d= -f2 > "$tmp/version"
  # shellcheck disable=SC2086  # one spec per word
  apt_download "$kind" "$tmp" $specs
}

build_bpftrace() {  # ROOT TMP KIND
  local root=$1 tmp=$2/debs kind=$3 v f
  [ "$(dpkg --print-architecture)" = amd64 ] || die "bpftrace entries are only implemented for amd64"
  ensure_patchelf
  mkdir -p "$tmp"
  with_lists "$kind" "bpftrace from $kind" get_bpftrace "$tmp" "$kind"
  v=$(cat "$tmp/version")
  note "unpacking bpftrace $v and $(($(ls "$tmp" | wc -l) - 1)) packages"
  for f in "$tmp"/*.deb; do dpkg -x "$f" "$root" || die "dpkg -x $f failed"; done
  [ -f "$root/usr/bin/bpftrace" ] && [ ! -L "$root/usr/bin/bpftrace" ] || die "bpftrace $v did not provide usr/bin/bpftrace"
  sid_patch "$root" "$root/usr/bin/bpftrace"
  # LLVM's libraries carry a DT_RUNPATH, under which the executable's
  # DT_RPATH no longer applies to their own dependencies: point it at the root.
  local lib dyn
  for lib in "$root"/usr/lib/x86_64-linux-gnu/*.so*; do
    [ -L "$lib" ] && continue
    dyn=$(LC_ALL=C readelf -d "$lib" 2>/dev/null) || continue
    [[ $dyn == *"(RUNPATH)"* ]] || continue
    "$PATCHELF" --set-rpath "$root/usr/lib/x86_64-linux-gnu" "$lib" >> "$LOG" 2>&1 || die "patchelf failed on $lib (see $LOG)"
  done
  tool_built "$root/usr/bin/bpftrace" verify_bpftrace "bpftrace $(upstream_version "$v")" "$tmp"/*.deb
  local d; for d in "${B_DEBS[@]}"; do B_FETCHED=$((B_FETCHED + $(stat -c %s "$d"))); done
}
build_trixie_bpftrace() { build_bpftrace "$1" "$2" trixie; }
build_sid_bpftrace() { build_bpftrace "$1" "$2" sid; }

TRIXIE_ROOT_PACKAGES=(nodejs npm python3.13 bpftrace bash dash coreutils grep sed libc-bin)
# Downloaded into the root's apt archive, not unpacked: what mixprof's
# prebuilt addon needs beyond bpftrace's libraries, for a test to install
# when mixprof says so.
TRIXIE_ROOT_LATER=(libdw1t64)

get_trixie_root() {  # TMP
  local tmp=$1 specs
  apt_opts trixie
  specs=$(apt-get "${APT_OPTS[@]}" -o Debug::NoLocking=1 -s install --no-install-recommends "${TRIXIE_ROOT_PACKAGES[@]}" 2>>"$LOG" \
    | awk '$1 == "Inst" { v = $3; gsub(/[()]/, "", v); print $2 "=" v }') || return 1
  grep -q '^nodejs=' <<< "$specs" || { echo "no nodejs in the trixie closure" >> "$LOG"; return 1; }
  # shellcheck disable=SC2086  # one spec per word
  apt_download trixie "$tmp" $specs || return 1
  mkdir -p "$tmp/later" && apt_download trixie "$tmp/later" "${TRIXIE_ROOT_LATER[@]}"
}

build_trixie_root() {  # ROOT TMP
  local root=$1 tmp=$2/debs f d
  mkdir -p "$tmp"
  with_lists trixie "Debian 13's nodejs, npm, python3.13 and bpftrace" get_trixie_root "$tmp"
  note "unpacking $(ls "$tmp" | wc -l) packages"
  for f in "$tmp"/*.deb; do dpkg -x "$f" "$root" || die "dpkg -x $f failed"; done
  # Merged /usr, as debootstrap makes it: what a package still ships in /bin goes to /usr/bin.
  for d in bin sbin lib lib64; do
    mkdir -p "$root/usr/$d"
    if [ -d "$root/$d" ] && [ ! -L "$root/$d" ]; then
      cp -a "$root/$d/." "$root/usr/$d/" && rm -rf -- "${root:?}/$d" || die "cannot merge /$d into /usr/$d"
    fi
    [ -L "$root/$d" ] || ln -s "usr/$d" "$root/$d"
  done
  mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/root/.npm" "$root/etc" "$root/var/cache/apt/archives"
  # A test sees mixprof ask for it: it must not have come with the rest.
  [ ! -e "$root/usr/lib/x86_64-linux-gnu/libdw.so.1" ] || die "libdw.so.1 came with the root's packages"
  cp -- "$tmp"/later/libdw1t64_*.deb "$root/var/cache/apt/archives/" || die "libdw1t64 was not downloaded"
  chmod 1777 "$root/tmp"
  echo 'root:x:0:0:root:/root:/bin/bash' > "$root/etc/passwd"
  echo 'root:x:0:' > "$root/etc/group"
  tool_built "$root/usr/bin/python3.13" verify_trixie_root "trixie-root $(deb_versions "$tmp"/nodejs_*.deb "$tmp"/bpftrace_*.deb | tr '\n' ' ')" "$tmp"/*.deb
  local deb; for deb in "${B_DEBS[@]}"; do B_FETCHED=$((B_FETCHED + $(stat -c %s "$deb"))); done
}

# Each of them runs inside the root, on its own libraries.
verify_trixie_root() {  # ROOT
  local root=$1 out
  out=$(chroot "$root" /usr/bin/python3.13 -c 'import sys; print(sys.version.split()[0])' 2>&1) || die "python3.13 does not run in the root: $out"
  [[ $out == 3.13.* ]] || die "unexpected python3.13 version: $out"
  out=$(chroot "$root" /usr/bin/node --version 2>&1) || die "node does not run in the root: $out"
  [[ $out == v20.* ]] || die "unexpected node version: $out"
  out=$(chroot "$root" /usr/bin/env HOME=/root /usr/bin/npm --version 2>&1) || die "npm does not run in the root: $out"
  out=$(chroot "$root" /usr/bin/bpftrace --version 2>&1) || die "bpftrace does not run in the root: $out"
  [[ $out == "bpftrace v0.23"* ]] || die "unexpected bpftrace version: $out"
  note "ok: python3.13, node, npm and $out"
}

# It runs, from the root's libraries only, and is the version unpacked.
verify_bpftrace() {  # ROOT
  local root=$1 out libs outside
  out=$("$B_EXE" --version 2>&1) || die "bpftrace does not run: $out"
  [[ $out == "bpftrace v"* ]] || die "unexpected --version output: $out"
  libs=$(LD_TRACE_LOADED_OBJECTS=1 "$B_EXE" 2>&1) || die "cannot list the libraries of $B_EXE"
  outside=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<< "$libs" | while read -r l; do
    case $(realpath -e "$l") in "$root"/*) ;; *) echo "$l" ;; esac
  done)
  [ -z "$outside" ] || die "bpftrace loads libraries from outside $root: $outside"
  note "ok: $out"
}

# The results of an entry that is a tool, not a python: its executable, the
# function that checks it, its stamp line ("name version") and its packages.
tool_built() {  # EXE VERIFY STAMP_LINE DEB...
  B_EXE=$1
  B_DEBUG=-
  B_PYVER=""
  B_VERIFY=$2
  B_EXTRA+="$3"$'\n'
  shift 3
  B_DEBS=("$@")
}

get_austin() {  # TMP
  local v
  v=$(candidate sid austin) || return 1
  echo "$v" > "$1/version"
  sid_download "$1" "austin=$v" "${AUSTIN_LIBS[@]}"
}

build_austin() {  # ROOT TMP
  local root=$1 tmp=$2/debs v up f b
  [ "$(dpkg --print-architecture)" = amd64 ] || die "sid entries are only implemented for amd64"
  ensure_patchelf
  mkdir -p "$tmp"
  with_lists sid "austin from sid" get_austin "$tmp"
  v=$(cat "$tmp/version")
  up=$(upstream_version "$v")
  case $up in
    "$AUSTIN_SERIES".*) ;;
    *) die "sid has austin $v, expected $AUSTIN_SERIES.x (check its output format, then update AUSTIN_SERIES)" ;;
  esac
  note "unpacking austin $v"
  for f in "$tmp"/*.deb; do dpkg -x "$f" "$root" || die "dpkg -x $f failed"; done
  for b in austin austinp; do
    [ -f "$root/usr/bin/$b" ] && [ ! -L "$root/usr/bin/$b" ] || die "austin $v did not provide usr/bin/$b"
    sid_patch "$root" "$root/usr/bin/$b"
  done

  tool_built "$root/usr/bin/austin" verify_austin "austin $up" "$tmp"/*.deb
}

get_greenlet() {  # TMP
  local v g
  v=$(candidate sys python3-greenlet) || return 1
  g=$(candidate sys python3-gevent) || return 1
  echo "$v, python3-gevent $g" > "$1/version"
  apt_download sys "$1" python3-greenlet="$v" python3-gevent="$g" python3-zope.event python3-zope.interface libev4 libc-ares2
}

build_greenlet() {  # ROOT TMP
  local root=$1 tmp=$2/debs f exe
  mkdir -p "$tmp"
  with_lists sys "python3-greenlet" get_greenlet "$tmp"
  for f in "$tmp"/*.deb; do dpkg -x "$f" "$root" || die "dpkg -x $f failed"; done
  exe=$(find "$root/usr/lib/python3/dist-packages/greenlet" -maxdepth 1 -name '_greenlet.cpython-*.so' | head -n 1)
  [ -n "$exe" ] || die "python3-greenlet did not provide greenlet/_greenlet.cpython-*.so"
  tool_built "$exe" verify_greenlet "python3-greenlet $(cat "$tmp/version")" "$tmp"/*.deb
}

verify_greenlet() {  # ROOT
  local out
  out=$(PYTHONPATH="$1/usr/lib/python3/dist-packages" /usr/bin/python3.11 -I -c '
import sys; sys.path.insert(0, sys.argv[1])
import greenlet
print(greenlet.greenlet(lambda: "switched").switch(), greenlet.__file__)' "$1/usr/lib/python3/dist-packages" 2>&1) || die "python3.11 cannot switch greenlets: $out"
  [[ $out == "switched $1/"* ]] || die "greenlet came from elsewhere: $out"
  note "ok: $out"
  out=$(LD_LIBRARY_PATH="$1/usr/lib/x86_64-linux-gnu" /usr/bin/python3.11 -I -c '
import sys; sys.path.insert(0, sys.argv[1])
import gevent
gevent.spawn(lambda: None).join()
print("hub ran", gevent.get_hub().loop.__class__.__module__, gevent.__file__)' "$1/usr/lib/python3/dist-packages" 2>&1) || die "python3.11 cannot run gevent's hub: $out"
  [[ $out == "hub ran gevent.libev."*" $1/"* ]] || die "gevent's hub is not libev's, or gevent came from elsewhere: $out"
  note "ok: $out"
}

# A CPython 3.8-3.13 to sample in verify_austin.
austin_target() {
  local c out
  for c in ${MIXPROF_AUSTIN_TARGET:-} /root/.pyenv/versions/3.11.7/bin/python3.11 /usr/bin/python3; do
    [ -x "$c" ] || continue
    out=$("$c" -I -c 'import sys; print(int((3, 8) <= sys.version_info[:2] <= (3, 13)))' 2>/dev/null) || continue
    if [ "$out" = 1 ]; then echo "$c"; return 0; fi
  done
  return 1
}

# austin_sample TOOL TARGET TMP: sample a spinning TARGET process for one
# second; fail unless a sample line has the frame spin.  Sets AUSTIN_LINE to
# the first such line.  (Not to be run in a subshell: the target's pid must
# reach KILLPIDS.)
AUSTIN_LINE=""
austin_sample() {
  local tool=$1 py=$2 dir=$3 pid i line
  cat > "$dir/spin.py" <<'PY'
import signal, sys
def spin():
    x = 0
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        x += 1
signal.alarm(60)  # never outlive a killed build
spin()
PY
  : > "$dir/ready"
  "$py" -I "$dir/spin.py" > "$dir/ready" 2>>"$LOG" &
  pid=$!; KILLPIDS+=("$pid")
  for ((i = 0; i < 200; i++)); do
    [ -s "$dir/ready" ] && break
    kill -0 "$pid" 2>/dev/null || die "the target $py exited early (see $LOG)"
    sleep 0.05
  done
  [ -s "$dir/ready" ] || die "the target $py did not start"
  echo "+ ${tool##*/} -i 1000 -x 1 -p $pid  ($py)" >> "$LOG"
  "$tool" -i 1000 -x 1 -o "$dir/out.${tool##*/}" -p "$pid" 2>>"$LOG" < /dev/null \
    || { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; die "${tool##*/} -p failed on $py (see $LOG)"; }
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  line=$(grep -E -m 1 "^P$pid;T[0-9]+:[0-9]+;.*:spin:[0-9]+[; ]" "$dir/out.${tool##*/}") \
    || { head -n 20 "$dir/out.${tool##*/}" >> "$LOG"; die "${tool##*/} gave no sample in spin for $py (see $LOG)"; }
  AUSTIN_LINE=$line
}

verify_austin() {  # ROOT
  local root=$1 out b ld py dir
  ld=$(realpath -e "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2") || die "no ld.so in $root"
  for b in austin austinp; do
    out=$("$root/usr/bin/$b" --version 2>&1) || die "$b does not run: $(tail -n 1 <<< "$out")"
    case $out in "$b $AUSTIN_SERIES."*) ;; *) die "$b --version says '$out', expected $AUSTIN_SERIES.x" ;; esac
    # Every library it loads must come from the root.
    out=$("$ld" --list "$root/usr/bin/$b" 2>&1) || die "$ld --list $b failed: $out"
    out=$(awk '$2 == "=>" && index($3, "/") == 1 { print $3 }' <<< "$out" | while read -r f; do
      f=$(realpath -e "$f") || f=?; case $f in "$root"/*) ;; *) echo "$f" ;; esac; done)
    [ -z "$out" ] || die "$b loads libraries from outside $root: $out"
  done
  py=$(austin_target) || die "no CPython 3.8-3.13 found to sample (set MIXPROF_AUSTIN_TARGET)"
  dir=$(mktemp -d "$PY_CACHE/.tmp.austin-run.XXXXXX"); TMPDIRS+=("$dir")
  austin_sample "$root/usr/bin/austin" "$py" "$dir"
  note "austin: $AUSTIN_LINE"
  austin_sample "$root/usr/bin/austinp" "$py" "$dir"
  note "austinp: ${AUSTIN_LINE:0:160}..."
  B_EXTRA+="verified with $py"$'\n'
}

# ---------------------------------------------------------------------------
# Driver

# Reads ROOT/.mixprof-stamp; on success sets S_EXE, S_DEBUG, S_ID.  The
# dependencies (DEPS...) must be ensured already; a stamp recorded against
# another build of one of them is not valid.
read_stamp() {  # NAME ROOT RECIPE DEPS...
  local stamp=$2/.mixprof-stamp k v recipe="" name="" ndeps=0 want=$(($# - 3))
  S_EXE=""; S_DEBUG=""; S_ID=""
  [ -f "$stamp" ] || return 1
  while IFS='=' read -r k v; do
    case $k in
      name) name=$v ;;
      recipe) recipe=$v ;;
      exe) S_EXE=$v ;;
      debug) S_DEBUG=$v ;;
      build_id) S_ID=$v ;;
      dep) [ "${RES_ID[${v% *}]:-}" = "${v#* }" ] || return 1; ndeps=$((ndeps + 1)) ;;
    esac
  done < "$stamp"
  [ "$name" = "$1" ] && [ "$recipe" = "$3" ] && [ "$ndeps" = "$want" ] && [ -n "$S_EXE" ] && [ -x "$S_EXE" ] || return 1
  [ "$S_DEBUG" = - ] || [ -f "$S_DEBUG" ] || return 1
}

verify_interpreter() {  # ROOT
  local root=$1 out prefix ver exe libc refs outside err
  err=$(mktemp "$PY_CACHE/.tmp.verify.XXXXXX"); TMPDIRS+=("$err")
  # Also runs pyexpat with Python handlers (a test of mixprof does).
  out=$(cd / && "$B_EXE" -I -c '
import sys, os, zlib, threading, xml.parsers.expat
root = sys.argv[1]
libc = "?"
outside = []
with open("/proc/self/maps") as maps:
    lines = maps.read().splitlines()
for line in lines:
    f = line.split()
    if len(f) < 6 or ".so" not in os.path.basename(f[5]):
        continue
    p = os.path.realpath(f[5])
    if os.path.basename(p).startswith("libc.so"):
        libc = p
    if not p.startswith(root + "/") and p not in outside:
        outside.append(p)
seen = []
parser = xml.parsers.expat.ParserCreate()
parser.StartElementHandler = lambda name, attrs: seen.append(name)
parser.Parse("<a><b/></a>", True)
assert seen == ["a", "b"], seen
t = threading.Thread(target=zlib.compress, args=(b"x" * 1000,))
t.start(); t.join()
print(sys.prefix); print(sys.version.split()[0])
print(os.path.realpath("/proc/self/exe")); print(libc)
print(hasattr(sys, "gettotalrefcount")); print(" ".join(outside) or "-")
' "$root" 2>"$err") || die "interpreter does not run: $B_EXE: $(tail -n 1 "$err")"
  if [ -s "$err" ]; then { echo "+ stderr of the verification run:"; cat "$err"; } >> "$LOG"; fi
  local lines=()
  mapfile -t lines <<< "$out"
  prefix=${lines[0]:-}; ver=${lines[1]:-}; exe=${lines[2]:-}; libc=${lines[3]:-}
  refs=${lines[4]:-}; outside=${lines[5]:-}
  [ "$prefix" = "$root/usr" ] || die "sys.prefix is '$prefix', expected $root/usr"
  case $ver in "$B_PYVER"*) ;; *) die "sys.version is '$ver', expected $B_PYVER" ;; esac
  [ "$exe" = "$B_EXE" ] || die "/proc/self/exe is '$exe', expected $B_EXE"
  if [ "$B_SYSLIBC" = 1 ]; then
    case $libc in "$root"/*|"?") die "uses libc '$libc', expected the system's" ;; esac
  else
    case $libc in "$root"/*) ;; *) die "uses libc '$libc', expected the root's" ;; esac
    [ "$outside" = - ] || die "loads libraries from outside $root: $outside"
  fi
  if [ "$B_PYDEBUG" = 1 ]; then
    [ "$refs" = True ] || die "sys.gettotalrefcount missing: not a Py_DEBUG build"
  else
    [ "$refs" = False ] || die "sys.gettotalrefcount present: a Py_DEBUG build, expected a release build"
  fi
  note "ok: prefix $prefix, version $ver, libc $libc, Py_DEBUG $refs"
}

ensure() {  # NAME -> sets RES_EXE[NAME], RES_DEBUG[NAME], RES_ID[NAME]
  local name=$1 sfx recipe root dep
  [ -z "${RES_EXE[$name]:-}" ] || return 0
  sfx=$(fn_suffix "$name")
  local rv=RECIPE_$sfx dv=DEPS_$sfx; recipe=${!rv}
  local deps=(${!dv:-})
  for dep in "${deps[@]}"; do ensure "$dep"; done
  root=$PY_CACHE/$name
  CURRENT=$name
  if read_stamp "$name" "$root" "$recipe" "${deps[@]}"; then
    RES_EXE[$name]=$S_EXE; RES_DEBUG[$name]=$S_DEBUG; RES_ID[$name]=$S_ID
    CURRENT=""
    return 0
  fi

  mkdir -p "$PY_CACHE" || die "cannot create $PY_CACHE"
  local lockfd
  exec {lockfd}> "$PY_CACHE/.$name.lock" || die "cannot open lock file in $PY_CACHE"
  flock "$lockfd" || die "cannot lock $PY_CACHE/.$name.lock"
  if read_stamp "$name" "$root" "$recipe" "${deps[@]}"; then  # built by a concurrent run
    exec {lockfd}>&-
    RES_EXE[$name]=$S_EXE; RES_DEBUG[$name]=$S_DEBUG; RES_ID[$name]=$S_ID
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
  B_EXE=""; B_DEBUG=""; B_PYVER=""; B_SYSLIBC=""; B_PYDEBUG=""; B_DEBS=(); B_EXTRA=""
  B_ROOT=""; B_DEPS=(); B_FETCHED=0
  B_VERIFY=verify_interpreter
  "build_$sfx" "$root" "$tmp"
  B_EXE=$(realpath -e "$B_EXE") || die "executable missing"
  "$B_VERIFY" "$(realpath -e "${B_ROOT:-$root}")"

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
    if [ -n "$B_PYVER" ]; then echo "python=$B_PYVER"; fi
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "download_bytes=$size"
    echo "fetched_bytes=$B_FETCHED"
    for dep in "${B_DEPS[@]}"; do echo "dep=$dep ${RES_ID[$dep]}"; done
    deb_versions "${B_DEBS[@]}" | sed 's/^/pkg /'
    if [ -n "$B_EXTRA" ]; then printf '%s\n' "${B_EXTRA%$'\n'}"; fi
  } > "$root/.mixprof-stamp.new" || die "cannot write stamp"
  mv -f -- "$root/.mixprof-stamp.new" "$root/.mixprof-stamp"
  rm -rf -- "$tmp"
  exec {lockfd}>&-
  note "built $name ($((B_FETCHED / 1000000)) MB fetched, root $(du -sm "$root" | cut -f1) MB)"
  RES_EXE[$name]=$B_EXE; RES_DEBUG[$name]=$B_DEBUG; RES_ID[$name]=$id
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
  APT_TRIXIE=$CACHE_BASE/apt/trixie
  SID_DEBS=$APT_SID/cache/archives

  if [ $rebuild = 1 ]; then
    for n in "${names[@]}"; do rm -rf -- "${PY_CACHE:?}/$n"; done
  fi

  local out=""
  for n in "${names[@]}"; do ensure "$n"; done
  for n in "${names[@]}"; do out+="$n"$'\t'"${RES_EXE[$n]}"$'\t'"${RES_DEBUG[$n]}"$'\n'; done
  printf '%s' "$out"
}

main "$@"
