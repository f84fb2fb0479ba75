/**
 * How to open the files a target has mapped. Its paths are those of its own
 * mount namespace: read them through /proc/PID/root, and where that does not
 * reach the very file (a chroot inside a private mount namespace, a deleted or
 * replaced file), through /proc/PID/map_files, which always opens what is mapped.
 * Paths under the root are looked up the way the addon opens them, inside that
 * root: a container's symbolic link cannot make a host file look like its own.
 */
import type { NativeAddon } from '../native.js';
import { isFileMapping, type Mapping } from './maps.js';
import { procPath, type TargetProcess } from './process.js';

const DELETED = / \(deleted\)$/;

/** Readable file for each mapped path (as the maps text spells it). */
export function readableFiles(addon: NativeAddon, target: TargetProcess, mappings: readonly Mapping[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const mapping of mappings) {
    if (!isFileMapping(mapping) || files.has(mapping.path)) continue;
    files.set(mapping.path, readableFile(addon, target, mapping));
  }
  return files;
}

export function readableFile(addon: NativeAddon, target: TargetProcess, mapping: Mapping): string {
  const throughRoot = target.root + mapping.path.replace(DELETED, '');
  if (!DELETED.test(mapping.path) && addon.fileIdentity(throughRoot)?.ino === BigInt(mapping.inode)) return throughRoot;
  // not the mapped file through the root: use the mapping itself
  return procPath(target.pid, 'map_files', `${mapping.start.toString(16)}-${mapping.end.toString(16)}`);
}
