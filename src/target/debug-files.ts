/**
 * Finds the file with DWARF for an ELF file: the file itself, else the
 * addon's search (native/src/debug_search.h), the one search mixprof runs:
 * a -d file with the same build-id, the build-id tree under the debug
 * directories (the target's own root first), or the .gnu_debuglink name
 * (a file name only, checked by its CRC without a build-id) in the usual
 * places. Every candidate is opened inside the target's root, regular files
 * only, and must be the same build's.
 */
import type { ElfInfo, NativeAddon } from '../native.js';

export interface DebugFileQuery {
  /** The ELF as readable from here. */
  readonly file: string;
  /** The ELF's path inside the target's mount namespace. */
  readonly pathInTarget: string;
  readonly elf: ElfInfo;
  /** Root of the target's files, e.g. /proc/PID/root ('' for the host). */
  readonly root: string;
  readonly extraFiles: readonly string[];
  readonly debugDirs?: readonly string[];
}

export const DEFAULT_DEBUG_DIRS = ['/usr/lib/debug'];

export function findDebugFile(addon: NativeAddon, query: DebugFileQuery): string | null {
  if (query.elf.hasDebugInfo) return query.file;
  const found = addon.findDebugFile({ ...query, debugDirs: query.debugDirs ?? DEFAULT_DEBUG_DIRS });
  // The symbol table alone is not enough here: the struct layouts are in DWARF.
  return found !== null && addon.elfInfo(found).hasDebugInfo ? found : null;
}
