/**
 * How to open the files a target has mapped. Its paths are those of its own
 * mount namespace: read them through /proc/PID/root, and where that does not
 * reach the very file (a chroot inside a private mount namespace, a deleted or
 * replaced file), through /proc/PID/map_files, which always opens what is mapped.
 */
import { statSync } from 'node:fs';
import { isFileMapping, type Mapping } from './maps.js';
import { procPath, type TargetProcess } from './process.js';

const DELETED = / \(deleted\)$/;

/** Readable file for each mapped path (as the maps text spells it). */
export function readableFiles(target: TargetProcess, mappings: readonly Mapping[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const mapping of mappings) {
    if (!isFileMapping(mapping) || files.has(mapping.path)) continue;
    files.set(mapping.path, readableFile(target, mapping));
  }
  return files;
}

export function readableFile(target: TargetProcess, mapping: Mapping): string {
  const throughRoot = target.root + mapping.path.replace(DELETED, '');
  try {
    if (!DELETED.test(mapping.path) && statSync(throughRoot).ino === mapping.inode) return throughRoot;
  } catch {
    // not visible through the root: use the mapping itself
  }
  return procPath(target.pid, 'map_files', `${mapping.start.toString(16)}-${mapping.end.toString(16)}`);
}
