/**
 * Finds the file with DWARF for an ELF file: the file itself, a -d file with the
 * same build-id, the build-id tree under the debug directories (the target's
 * own root first), or the .gnu_debuglink name in the usual places.
 */
import path from 'node:path';
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
  const { elf, file, root, pathInTarget } = query;
  if (elf.hasDebugInfo) return file;
  const matches = (candidate: string): boolean => {
    // Looked up as the addon opens it: inside the target's root, regular files only.
    if (!addon.fileIdentity(candidate)?.regular) return false;
    try {
      const info = addon.elfInfo(candidate);
      return info.hasDebugInfo && (elf.buildId === null || info.buildId === elf.buildId);
    } catch {
      return false;
    }
  };
  for (const extra of query.extraFiles) if (matches(extra)) return extra;
  const dirs = query.debugDirs ?? DEFAULT_DEBUG_DIRS;
  const roots = root === '' ? [''] : [root, ''];
  const candidates: string[] = [];
  if (elf.buildId && elf.buildId.length > 2) {
    const rel = path.join('.build-id', elf.buildId.slice(0, 2), elf.buildId.slice(2) + '.debug');
    for (const r of roots) for (const dir of dirs) candidates.push(r + path.join(dir, rel));
  }
  if (elf.debuglink) {
    const dir = path.dirname(pathInTarget);
    for (const r of roots) {
      candidates.push(r + path.join(dir, elf.debuglink), r + path.join(dir, '.debug', elf.debuglink));
      for (const d of dirs) candidates.push(r + path.join(d, dir, elf.debuglink));
    }
  }
  return candidates.find(matches) ?? null;
}
