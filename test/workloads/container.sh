#!/usr/bin/env bash
# Runs a Python workload in a makeshift container: new mount and PID
# namespaces, chrooted into a fresh root where the interpreter lives at a path
# that does not exist on the host (/opt/py). Usage: container.sh PYROOT SCRIPT [ARGS...]
# PYROOT is a private root with usr/bin/python3.X (test/fixtures/pythons.sh).
# With MIXPROF_CONTAINER_APP=DIR, DIR is copied to /app in the root as it is
# (symbolic links, FIFOs and all: what a container image can hold).
set -euo pipefail
pyroot=$1 script=$2
shift 2
exe=$(basename "$(ls "$pyroot"/usr/bin/python3.* | grep -E 'python3\.[0-9]+$' | head -1)")
root=$(mktemp -d /tmp/mixprof-container.XXXXXX)
trap 'rm -rf "$root"' EXIT
# --kill-child: when the test kills unshare, PID 1 of the container (and so all in it) dies too.
exec unshare --mount --pid --fork --kill-child --propagation private bash -c '
  set -e
  root=$1 pyroot=$2 script=$3 exe=$4
  shift 4
  mkdir -p "$root"/usr "$root"/proc "$root"/opt/py "$root"/work "$root"/dev "$root"/tmp
  mount --bind /usr "$root"/usr
  mount -o remount,bind,ro "$root"/usr
  ln -s usr/lib "$root"/lib
  ln -s usr/lib64 "$root"/lib64
  ln -s usr/bin "$root"/bin
  mount --bind "$pyroot" "$root"/opt/py
  touch "$root"/dev/zero "$root"/dev/null
  mount --bind /dev/zero "$root"/dev/zero
  mount --bind /dev/null "$root"/dev/null
  cp "$script" "$root"/work/
  if [ -n "${MIXPROF_CONTAINER_APP:-}" ]; then cp -a "$MIXPROF_CONTAINER_APP" "$root"/app; fi
  mount -t proc proc "$root"/proc
  exec chroot "$root" /opt/py/usr/bin/"$exe" -S /work/"$(basename "$script")" "$@"
' container "$root" "$pyroot" "$script" "$exe" "$@"
